namespace Coffer.Tests;

public sealed class HoldTestsOnSqlite() : HoldTests(Store.Sqlite);
public sealed class HoldTestsOnPostgres() : HoldTests(Store.Postgres);

public abstract class HoldTests(Store store) : ApiTest(store)
{
    Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> Hold(string wallet, string credits, DateTimeOffset? expires = null) =>
        Api.Post($"/v1/wallets/{wallet}/holds", new { credits, expires_at = expires?.ToString("O") });

    [Fact]
    public async Task AHoldReservesCreditsSoDebitsAndOtherHoldsSeeOnlyTheRest()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10", conversion_rate = "2" })).S("id");

        var hold = (await Hold(id, "6")).Ok()["hold"]!;
        Assert.Equal("active", hold.S("status"));
        var balance = await Balance(id);
        Assert.Equal("10", balance.S("credit_balance"));
        Assert.Equal("6", balance.S("pending_charge_credits"));
        Assert.Equal("12", balance.S("pending_charges"));
        Assert.Equal("4", balance.S("available_credit_balance"));
        Assert.Equal("8", balance.S("available_balance"));

        Assert.Equal("insufficient_balance", (await Debit(id, "5")).Error(422));
        Assert.Equal("insufficient_balance", (await Hold(id, "5")).Error(422));
        (await Debit(id, "4")).Ok();
    }

    [Fact]
    public async Task CapturingPartOfAHoldDebitsThatPartAndReleasesTheRest()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var holdId = (await Hold(id, "6")).Ok()["hold"]!.S("id");

        var captured = (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { credits = "2.5" })).Ok();

        Assert.Equal("captured", captured["hold"]!.S("status"));
        Assert.Equal("2.5", captured["hold"]!.S("captured_credits"));
        Assert.Equal("2.5", captured["wallet_transaction"]!.S("credit_amount"));
        Assert.Equal("USAGE_CHARGE", captured["wallet_transaction"]!.S("transaction_reason"));
        Assert.Equal(holdId, captured["wallet_transaction"]!.S("reference_id"));
        Assert.Equal("7.5", captured["wallet"]!.S("credit_balance"));
        Assert.Equal("7.5", (await Balance(id)).S("available_credit_balance"));
        Assert.Equal("not_found", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { })).Error(404));
    }

    [Fact]
    public async Task ACaptureLargerThanTheHoldIsRefused()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var holdId = (await Hold(id, "3")).Ok()["hold"]!.S("id");
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { credits = "4" })).Error(400));
        Assert.Equal("3", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { })).Ok()["wallet_transaction"]!.S("credit_amount"));
    }

    [Fact]
    public async Task AReleasedHoldFreesItsCredits()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var holdId = (await Hold(id, "10")).Ok()["hold"]!.S("id");

        Assert.Equal("released", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/release")).Ok()["hold"]!.S("status"));

        (await Debit(id, "10")).Ok();
        Assert.Equal("not_found", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/release")).Error(404));
    }

    [Fact]
    public async Task AnExpiredHoldStopsReservingAtItsExpiryAndTheSweepMarksItExpired()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var expiry = CofferApp.Start.AddMinutes(10);
        var holdId = (await Hold(id, "8", expiry)).Ok()["hold"]!.S("id");
        Assert.Equal("insufficient_balance", (await Debit(id, "5")).Error(422));

        App.Clock.SetUtcNow(expiry);
        Assert.Equal("10", (await Balance(id)).S("available_credit_balance"));
        Assert.Equal("not_found", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { })).Error(404));
        Assert.Equal(1, await App.Service<Expiry.ExpirySweeper>().SweepOnceAsync());

        var holds = (await Api.Get($"/v1/wallets/{id}/holds?status=expired")).Ok();
        Assert.Equal(holdId, holds["items"]!.AsArray().Single()!.S("id"));
        (await Debit(id, "10")).Ok();
    }

    [Fact]
    public async Task TerminatingAWalletReleasesItsHolds()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        await Hold(id, "4");
        Assert.Equal("closed", (await Api.Post($"/v1/wallets/{id}/terminate")).Ok().S("wallet_status"));
        var holds = (await Api.Get($"/v1/wallets/{id}/holds")).Ok()["items"]!.AsArray();
        Assert.Equal("released", holds.Single()!.S("status"));
        Assert.Equal("10", (await Transactions(id, "&transaction_reason=WALLET_TERMINATION")).Single()!.S("credit_amount"));
    }

    [Fact]
    public async Task ParallelHoldsNeverReserveMoreThanTheBalance()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "20" })).S("id");
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Hold(id, "1")));
        Assert.Equal(20, results.Count(r => r.Status == 200));
        Assert.Equal("0", (await Balance(id)).S("available_credit_balance"));
    }
}
