using System.Text.Json.Nodes;
using Coffer.Wallets;

namespace Coffer.Tests;

public sealed class ManyLotsTestsOnSqlite() : ManyLotsTests(Store.Sqlite);
public sealed class ManyLotsTestsOnPostgres() : ManyLotsTests(Store.Postgres);

/// <summary>
/// A write reads only the first <see cref="LedgerRows.LotsRead"/> unexpired lots of a wallet in the spend order (and every
/// expired one); a debit reaching past them, in a request or in a batch, runs again with every lot. Either way the lots
/// are spent in the spend order and the balances are exact.
/// </summary>
public abstract class ManyLotsTests(Store store) : ApiTest(store)
{
    static JsonObject Op(string type, string wallet, string credits, object? extra = null)
    {
        var op = new JsonObject { ["type"] = type, ["wallet_id"] = wallet, ["credits"] = credits, ["idempotency_key"] = Guid.NewGuid().ToString("N") };
        if (extra is not null)
            foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject()) op[k] = v?.DeepClone();
        return op;
    }

    async Task<List<JsonNode>> Batch(IEnumerable<JsonObject> operations)
    {
        var results = (await Api.Post("/v1/wallets/transactions/batch", new { operations })).Ok()["results"]!.AsArray().Select(x => x!).ToList();
        Assert.All(results, r => Assert.Equal("applied", r.S("status")));
        return results;
    }

    /// <summary>Lots of one credit each, expiring a day apart from <paramref name="firstDay"/> days ahead: their spend order.</summary>
    async Task<List<string>> GrantLots(string wallet, int count, int firstDay = 1, string credits = "1") =>
        (await Batch(Enumerable.Range(0, count).Select(i => Op("top_up", wallet, credits, new
        {
            transaction_reason = "FREE_CREDIT_GRANT", expiry_date_utc = App.Clock.GetUtcNow().AddDays(firstDay + i).ToString("O"),
        })))).Select(r => r.S("transaction_id")).ToList();

    /// <summary>Each debit's lots, in the order the allocations list them, with the credits taken from each.</summary>
    async Task<Dictionary<string, List<(string Lot, decimal Credits)>>> Allocations(string wallet) =>
        (await Transactions(wallet, "&type=debit")).ToDictionary(t => t!.S("id"),
            t => t!["allocations"]!.AsArray().Select(a => (a!.S("lot_id"), a.D("credits"))).ToList());

    [Fact]
    public async Task DebitsReachingPastTheLotsReadSpendEveryLotInTheSpendOrder()
    {
        Assert.Equal(64, LedgerRows.LotsRead);
        var wallet = (await CreateWallet()).S("id");
        var lots = await GrantLots(wallet, 300);

        // Within the lots read.
        var first = (await Debit(wallet, "1")).Ok()["wallet_transaction"]!.S("id");
        // 80 lots: past the 64 read, so the request runs again with every lot.
        var across = (await Debit(wallet, "80")).Ok()["wallet_transaction"]!.S("id");
        // A batch of 100 one-credit debits: the 65th reaches past the lots its batch read.
        var batch = (await Batch(Enumerable.Range(0, 100).Select(_ => Op("debit", wallet, "1")))).Select(r => r.S("transaction_id")).ToList();
        // A lot granted in a batch that sorts after every other, then a debit of all that is left: the new lot comes last.
        var latest = await Batch([
            Op("top_up", wallet, "1", new { transaction_reason = "FREE_CREDIT_GRANT", expiry_date_utc = App.Clock.GetUtcNow().AddDays(1000).ToString("O") }),
            Op("debit", wallet, "120"),
        ]);

        var allocations = await Allocations(wallet);
        Assert.Equal([(lots[0], 1m)], allocations[first]);
        Assert.Equal(lots[1..81].Select(l => (l, 1m)), allocations[across]);
        Assert.Equal(lots[81..181], batch.Select(d => allocations[d].Single().Lot));
        Assert.Equal([.. lots[181..300].Select(l => (l, 1m)), (latest[0].S("transaction_id"), 1m)], allocations[latest[1].S("transaction_id")]);
        Assert.Equal(0m, (await Wallet(wallet)).D("credit_balance"));
        Assert.Equal("insufficient_balance", (await Debit(wallet, "0.000000000001")).Error(422));
    }

    [Fact]
    public async Task ABatchOverHundredsOfWalletsReadsTheirFirstLotsInOnePassAndSpendsThemInOrder()
    {
        // More wallets than one statement may name a term each for (SQLite takes 500): the lots are ranked in one pass.
        var wallets = new List<string>();
        for (var i = 0; i < 520; i++) wallets.Add((await CreateWallet(new { initial_credits_to_load = "3" })).S("id"));
        var many = wallets[7];
        var lots = await GrantLots(many, 100);

        var debits = await Batch([.. wallets.Select(w => Op("debit", w, "1")), Op("debit", many, "70")]);

        var allocations = await Allocations(many);
        Assert.Equal([(lots[0], 1m)], allocations[debits[7].S("transaction_id")]);
        Assert.Equal(lots[1..71].Select(l => (l, 1m)), allocations[debits[^1].S("transaction_id")]);
        Assert.Equal(32m, (await Wallet(many)).D("credit_balance"));
        Assert.Equal(2m, (await Wallet(wallets[300])).D("credit_balance"));
    }

    [Fact]
    public async Task ExpiredLotsNotYetSweptAreLeftOutExactlyWhenMostLotsAreUnread()
    {
        var wallet = (await CreateWallet()).S("id");
        var expiring = await GrantLots(wallet, 100, credits: "2");
        var lasting = (await Batch(Enumerable.Range(0, 100).Select(_ => Op("top_up", wallet, "0.5", new { transaction_reason = "FREE_CREDIT_GRANT" }))))
            .Select(r => r.S("transaction_id")).ToList();
        App.Clock.Advance(TimeSpan.FromDays(50.5));

        // 50 lots of 2 have expired (not swept: the balance still counts them); 50 of 2 and 100 of 0.5 are spendable.
        Assert.Equal(250m, (await Wallet(wallet)).D("credit_balance"));
        Assert.Equal("insufficient_balance", (await Debit(wallet, "150.000000000001")).Error(422));
        var debit = (await Debit(wallet, "101")).Ok()["wallet_transaction"]!.S("id");
        var taken = (await Allocations(wallet))[debit];
        Assert.Equal([.. expiring[50..100].Select(l => (l, 2m)), (lasting[0], 0.5m), (lasting[1], 0.5m)], taken);
        Assert.Equal(49m, (await Balance(wallet)).D("real_time_credit_balance"));
    }
}
