using Coffer.Storage;

namespace Coffer.Tests;

/// <summary>
/// Every write rewrites its wallet's row. On PostgreSQL the wallets table keeps room on each page (migration 079), so a
/// row's new version stays on its page without a new entry in any index (a HOT update) instead of moving to another page.
/// </summary>
public sealed class WalletRowPageTestsOnPostgres() : ApiTest(Store.Postgres)
{
    async Task<Dictionary<string, long>> PagesAsync()
    {
        await using var c = await App.Service<Database>().OpenAsync();
        return (await c.QueryAsync(null, "SELECT id, (ctid::text::point)[0]::bigint AS page FROM wallets",
            r => (Id: r.GetString(0), Page: r.GetInt64(1)))).ToDictionary(x => x.Id, x => x.Page);
    }

    [Fact]
    public async Task DebitsLeaveTheWalletsRowsOnTheirPagesWhileAReaderHoldsItsSnapshot()
    {
        // Enough wallets to fill several pages: with full pages, most rewritten rows would move.
        var wallets = new List<string>();
        for (var i = 0; i < 60; i++) wallets.Add((await CreateWallet(new { initial_credits_to_load = "10" })).S("id"));
        var before = await PagesAsync();
        Assert.True(before.Values.Distinct().Count() > 1, "the wallets fill more than one page");

        // A reader's snapshot keeps the rows' old versions, as concurrent reads and writes do under load: the new versions
        // need room of their own.
        await using var reader = await App.Service<Database>().OpenAsync();
        await using var snapshot = await reader.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        Assert.Equal(wallets.Count, (await reader.QueryAsync(snapshot, "SELECT count(*) FROM wallets", r => r.GetInt64(0))).Single());
        foreach (var wallet in wallets)
            for (var i = 0; i < 2; i++)
                (await Api.Post($"/v1/wallets/{wallet}/debit", new { credits = "1", idempotency_key = $"page-{wallet}-{i}" })).Ok();

        var after = await PagesAsync();
        var moved = wallets.Where(w => after[w] != before[w]).ToList();
        Assert.True(moved.Count <= wallets.Count / 10, $"{moved.Count} of {wallets.Count} wallet rows moved to another page");
    }
}
