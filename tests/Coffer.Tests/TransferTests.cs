using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class TransferTestsOnSqlite() : TransferTests(Store.Sqlite);
public sealed class TransferTestsOnPostgres() : TransferTests(Store.Postgres);

/// <summary>
/// <c>POST /v1/wallets/{id}/transfer</c>: credits move between two wallets of a tenant atomically and once per key; the
/// moved credits keep their expiry, priority and price; what is refused changes neither wallet.
/// </summary>
public abstract class TransferTests(Store store) : ApiTest(store)
{
    Task<(int Status, JsonNode? Body)> Transfer(string from, string to, string credits, string? key = null) =>
        Api.Post($"/v1/wallets/{from}/transfer", new { to_wallet_id = to, credits, idempotency_key = key ?? Guid.NewGuid().ToString("N"), description = "team pool" });

    [Fact]
    public async Task MovedCreditsKeepTheirExpiryPriorityAndPriceAndBothSidesAreLinked()
    {
        var pool = (await CreateWallet()).S("id");
        var member = (await CreateWallet()).S("id");
        var expiry = App.Clock.GetUtcNow().AddDays(5);
        await TopUp(pool, "10", priority: 1, expiry: expiry);
        await TopUp(pool, "20", reason: "PURCHASED_CREDIT_DIRECT");

        var moved = (await Transfer(pool, member, "15", key: "t-1")).Ok();

        // The priority-1 lot goes first (10), then 5 of the purchased one, which cost 1 per credit.
        var transferId = moved.S("transfer_id");
        Assert.Equal("15", moved["wallet"].S("credit_balance"));
        Assert.Equal("TRANSFER_OUT", moved["wallet_transaction"].S("transaction_reason"));
        Assert.Equal("transfer", moved["wallet_transaction"].S("kind"));
        var arrived = moved["to_transactions"]!.AsArray();
        Assert.Equal(2, arrived.Count);
        Assert.Equal(("10", "0", 1), (arrived[0].S("credits"), arrived[0].S("amount"), arrived[0]!["priority"]!.GetValue<int>()));
        Assert.Equal(expiry, DateTimeOffset.Parse(arrived[0].S("expiry_date"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(("5", "5"), (arrived[1].S("credits"), arrived[1].S("amount")));
        Assert.Null(arrived[1]!["expiry_date"]);

        var received = await Balance(member);
        Assert.Equal("15", received.S("credit_balance"));
        var lots = received["lots"]!.AsArray();
        Assert.Equal(new[] { arrived[0].S("transaction_id"), arrived[1].S("transaction_id") }, lots.Select(l => l.S("id")));
        Assert.All(lots, l => Assert.Equal("TRANSFER_IN", l.S("transaction_reason")));

        // Both sides name the transfer.
        foreach (var (wallet, count) in new[] { (pool, 1), (member, 2) })
        {
            var entries = (await Transactions(wallet)).Where(t => t!["reference_id"]?.GetValue<string>() == transferId).ToList();
            Assert.Equal(count, entries.Count);
            Assert.All(entries, t => Assert.Equal(("wallet_transfer", "team pool"), (t.S("reference_type"), t.S("description"))));
        }

        // The lots are spent at the receiving wallet in the order they had (the priority-1 credits first), and expire when
        // they would have.
        var spent = (await Debit(member, "3")).Ok()["wallet_transaction"]!["allocations"]!.AsArray();
        Assert.Equal((arrived[0].S("transaction_id"), "3"), (spent.Single().S("lot_id"), spent.Single().S("credits")));
        App.Clock.Advance(TimeSpan.FromDays(6));
        var later = await Balance(member);
        Assert.Equal(("7", "5"), (later.S("expired_unswept_credits"), later.S("real_time_credit_balance")));
    }

    [Fact]
    public async Task TheSameKeyMovesOnceAndAnotherRequestWithItIsRefused()
    {
        var from = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var to = (await CreateWallet()).S("id");

        var first = await Api.PostAsync($"/v1/wallets/{from}/transfer", Body(to, "4", "t-once"));
        var again = await Api.PostAsync($"/v1/wallets/{from}/transfer", Body(to, "4", "t-once"));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.Equal("idempotency_key_reused", (await Transfer(from, to, "5", key: "t-once")).Error(409));

        Assert.Equal("6", (await Wallet(from)).S("credit_balance"));
        Assert.Equal("4", (await Wallet(to)).S("credit_balance"));
    }

    static StringContent Body(string to, string credits, string key) =>
        new($$"""{"to_wallet_id": "{{to}}", "credits": "{{credits}}", "idempotency_key": "{{key}}"}""", System.Text.Encoding.UTF8, "application/json");

    [Fact]
    public async Task WhatIsRefusedChangesNeitherWallet()
    {
        var from = (await CreateWallet(new { initial_credits_to_load = "10", overdraft_limit = "50" })).S("id");
        var to = (await CreateWallet()).S("id");
        var euro = (await CreateWallet(new { currency = "eur" })).S("id");
        (await Api.Post($"/v1/wallets/{from}/holds", new { credits = "3" })).Ok();

        // The overdraft and the held credits are not the wallet's to give.
        Assert.Equal("insufficient_balance", (await Transfer(from, to, "8")).Error(422));
        Assert.Equal("currency_mismatch", (await Transfer(from, euro, "1")).Error(422));
        Assert.Equal("not_found", (await Transfer(from, "wallet_none", "1")).Error(404));
        Assert.Equal("validation_failed", (await Transfer(from, from, "1")).Error(400));
        Assert.Equal("validation_failed", (await Transfer(from, to, "-1")).Error(400));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{from}/transfer", new { to_wallet_id = to, credits = "1" })).Error(400));
        // A receiving wallet that takes nothing undoes the sending side too.
        (await Api.Post($"/v1/wallets/{to}/freeze")).Ok();
        Assert.Equal("wallet_not_active", (await Transfer(from, to, "2", key: "t-frozen")).Error(422));
        (await Api.Post($"/v1/wallets/{to}/unfreeze")).Ok();

        Assert.Equal("10", (await Wallet(from)).S("credit_balance"));
        Assert.Equal("0", (await Wallet(to)).S("credit_balance"));
        Assert.Single(await Transactions(from));
        Assert.Empty(await Transactions(to));
        // The refused key was not used up: once the wallet takes credits again, it moves them.
        (await Transfer(from, to, "2", key: "t-frozen")).Ok();
        Assert.Equal("2", (await Wallet(to)).S("credit_balance"));
    }

    [Fact]
    public async Task TransfersBothWaysAtOnceNeitherDeadlockNorLoseACredit()
    {
        var a = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");
        var b = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? Transfer(a, b, "1") : Transfer(b, a, "2")));

        Assert.All(answers, r => r.Ok());
        Assert.Equal("120", (await Wallet(a)).S("credit_balance"));
        Assert.Equal("80", (await Wallet(b)).S("credit_balance"));
    }
}
