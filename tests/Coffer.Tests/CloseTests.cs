namespace Coffer.Tests;

public sealed class CloseTestsOnSqlite() : CloseTests(Store.Sqlite);
public sealed class CloseTestsOnPostgres() : CloseTests(Store.Postgres);

public abstract class CloseTests(Store store) : ApiTest(store)
{
    [Fact]
    public async Task ClosingWithARefundReturnsPurchasedCreditsAtTheirPriceAndForfeitsFreeOnes()
    {
        var expiry = CofferApp.Start.AddHours(1);
        var id = (await CreateWallet(new { topup_conversion_rate = "0.5", initial_credits_to_load = "10" })).S("id");
        var purchased = (await TopUp(id, "20", "PURCHASED_CREDIT_DIRECT"))["wallet_transaction"]!.S("id");
        var expiring = (await TopUp(id, "3", priority: 1, expiry: expiry))["wallet_transaction"]!.S("id");
        var pending = (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = "8", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        (await Debit(id, "8")).Ok(); // 3 from the priority lot, then 5 of the 10 free credits
        await TopUp(id, "4", priority: 2, expiry: expiry);
        App.Clock.SetUtcNow(expiry);

        var closed = (await Api.Post($"/v1/wallets/{id}/close", new { refund = "purchased" })).Ok();

        Assert.Equal("closed", closed["wallet"]!.S("wallet_status"));
        Assert.Equal("0", closed["wallet"]!.S("credit_balance"));
        var lots = closed["lots"]!.AsArray().ToDictionary(l => l!.S("lot_id"), l => (l!.S("outcome"), l.S("credits"), l.S("refund_amount")));
        Assert.Equal(("refunded", "20", "10"), lots[purchased]);
        Assert.DoesNotContain(expiring, lots.Keys);
        Assert.Equal(["expired", "forfeited", "refunded"], lots.Values.Select(l => l.Item1).Order());
        Assert.Equal(("10", "usd", "offline"), (closed["refund"]!.S("amount"), closed["refund"]!.S("currency"), closed["refund"]!.S("destination")));
        var purchase = (await Transactions(id)).Single(t => t!.S("id") == pending["wallet_transaction"]!.S("id"))!;
        Assert.Equal("failed", purchase.S("transaction_status"));
        Assert.Equal("wallet_not_active", (await Api.Post($"/v1/wallets/{id}/close", new { refund = "purchased" })).Error(422));
    }

    [Fact]
    public async Task ClosingWithoutARefundForfeitsEverything()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        await TopUp(id, "20", "PURCHASED_CREDIT_DIRECT");

        var closed = (await Api.Post($"/v1/wallets/{id}/close", new { })).Ok();

        Assert.Null(closed["refund"]);
        Assert.All(closed["lots"]!.AsArray(), l => Assert.Equal("forfeited", l!.S("outcome")));
        Assert.Equal("30", (await Transactions(id, "&transaction_reason=WALLET_TERMINATION")).Single()!.S("credit_amount"));
    }

    [Fact]
    public async Task AnUnknownRefundChoiceIsRefusedAndTheWalletStaysOpen()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{id}/close", new { refund = "everything" })).Error(400));
        Assert.Equal("active", (await Wallet(id)).S("wallet_status"));
    }
}
