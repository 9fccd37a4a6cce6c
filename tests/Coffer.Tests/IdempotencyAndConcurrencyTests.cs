namespace Coffer.Tests;

public sealed class IdempotencyAndConcurrencyTestsOnSqlite() : IdempotencyAndConcurrencyTests(Store.Sqlite);
public sealed class IdempotencyAndConcurrencyTestsOnPostgres() : IdempotencyAndConcurrencyTests(Store.Postgres);

public abstract class IdempotencyAndConcurrencyTests(Store store) : ApiTest(store)
{
    [Fact]
    public async Task RepeatedTopUpWithTheSameKeyReplaysTheFirstResponse()
    {
        var id = (await CreateWallet()).S("id");
        var body = new { credits_to_add = "7", transaction_reason = "FREE_CREDIT_GRANT", idempotency_key = "grant-1" };

        var first = (await Api.Post($"/v1/wallets/{id}/top-up", body)).Ok();
        App.Clock.Advance(TimeSpan.FromMinutes(5));
        var second = (await Api.Post($"/v1/wallets/{id}/top-up", body)).Ok();

        Assert.Equal(first.ToJsonString(), second.ToJsonString());
        Assert.Equal("7", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task TheSameKeyWithADifferentRequestIsRefused()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        (await Debit(id, "1", "charge-1")).Ok();

        Assert.Equal("idempotency_key_reused", (await Debit(id, "2", "charge-1")).Error(409));
        Assert.Equal("9", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task AKeyFromAnotherWalletIsRefusedNotApplied()
    {
        var a = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var b = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        (await Debit(a, "1", "k")).Ok();
        Assert.Equal("idempotency_key_reused", (await Debit(b, "1", "k")).Error(409));
        Assert.Equal("10", (await Wallet(b)).S("credit_balance"));
    }

    [Fact]
    public async Task IdempotencyKeyHeaderWorksWhereTheBodyHasNone()
    {
        var id = (await CreateWallet()).S("id");
        async Task<int> Send()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/wallets/{id}/top-up")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { credits_to_add = "2", transaction_reason = "FREE_CREDIT_GRANT" }),
            };
            request.Headers.Add("Idempotency-Key", "hdr-1");
            return (int)(await Api.SendAsync(request)).StatusCode;
        }
        Assert.Equal(200, await Send());
        Assert.Equal(200, await Send());
        Assert.Equal("2", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task ADebitWithoutAnIdempotencyKeyIsRefused()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{id}/debit", new { credits = "1" })).Error(400));
    }

    [Fact]
    public async Task SixtyFourParallelDebitsNeverOverdrawOrLoseAnUpdate()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "50" })).S("id");

        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Debit(id, "1")));

        Assert.Equal(50, results.Count(r => r.Status == 200));
        Assert.Equal(14, results.Count(r => r.Status == 422));
        Assert.Equal("0", (await Wallet(id)).S("credit_balance"));
        Assert.Equal(50, (await Transactions(id, "&type=debit")).Count);
        var after = results.Where(r => r.Status == 200).Select(r => r.Body!["wallet_transaction"]!.D("credit_balance_after")).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (decimal)i), after);
    }

    [Fact]
    public async Task ConcurrentRequestsWithOneKeyHaveOneEffect()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "50" })).S("id");

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Debit(id, "3", "same-key")));

        Assert.All(results, r => Assert.Equal(200, r.Status));
        Assert.Single(results.Select(r => r.Body!["wallet_transaction"]!.S("id")).Distinct());
        Assert.Equal("47", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task ParallelTopUpsAndDebitsAcrossWalletsKeepEveryBalanceExact()
    {
        var ids = new List<string>();
        for (var i = 0; i < 4; i++) ids.Add((await CreateWallet(new { initial_credits_to_load = "20" })).S("id"));

        var work = Enumerable.Range(0, 80).Select(i => i % 3 == 0
            ? Api.Post($"/v1/wallets/{ids[i % 4]}/top-up", new { credits_to_add = "0.5", transaction_reason = "PURCHASED_CREDIT_DIRECT" })
            : Debit(ids[i % 4], "0.25"));
        var results = await Task.WhenAll(work);

        Assert.All(results, r => Assert.Equal(200, r.Status));
        foreach (var (id, n) in ids.Select((id, n) => (id, n)))
        {
            var ops = Enumerable.Range(0, 80).Where(i => i % 4 == n).ToList();
            var expected = 20m + ops.Count(i => i % 3 == 0) * 0.5m - ops.Count(i => i % 3 != 0) * 0.25m;
            Assert.Equal(expected, (await Wallet(id)).D("credit_balance"));
        }
    }
}
