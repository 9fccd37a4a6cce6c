using Coffer.Storage;

namespace Coffer.Tests;

public sealed class CommitOutcomeTestsOnSqlite() : CommitOutcomeTests(Store.Sqlite);
public sealed class CommitOutcomeTestsOnPostgres() : CommitOutcomeTests(Store.Postgres);

/// <summary>
/// A connection lost while a wallet write commits: the write may or may not have taken effect, so it is never
/// run again by Coffer; the client hears "outcome unknown" and its retry with the same key tells which.
/// </summary>
public abstract class CommitOutcomeTests(Store store) : ApiTest(store)
{
    Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> Grant(string wallet, string credits, string? key) =>
        Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = credits, transaction_reason = "FREE_CREDIT_GRANT", idempotency_key = key });

    [Fact]
    public async Task ATopUpCommittedBeforeTheConnectionWasLostIsUnknownToTheClientAndItsKeyReplaysIt()
    {
        var id = (await CreateWallet()).S("id");

        App.LoseNextCommit(CommitFault.LostAfterCommit);
        var lost = await Grant(id, "10", "grant-1");

        Assert.Equal("outcome_unknown", lost.Error(503));
        Assert.Contains("grant-1", lost.Body!["error"]!.S("message"));
        Assert.Equal("10", (await Wallet(id)).S("credit_balance"));
        var retried = (await Grant(id, "10", "grant-1")).Ok();
        Assert.Equal("10", retried["wallet"]!.S("credit_balance"));
        Assert.Single(await Transactions(id));
    }

    [Fact]
    public async Task ATopUpLostBeforeItsCommitIsUnknownToTheClientAndItsKeyAppliesItOnce()
    {
        var id = (await CreateWallet()).S("id");

        App.LoseNextCommit(CommitFault.LostBeforeCommit);
        Assert.Equal("outcome_unknown", (await Grant(id, "10", "grant-1")).Error(503));

        Assert.Equal("0", (await Wallet(id)).S("credit_balance"));
        Assert.Equal("10", (await Grant(id, "10", "grant-1")).Ok()["wallet"]!.S("credit_balance"));
        Assert.Equal("10", (await Grant(id, "10", "grant-1")).Ok()["wallet"]!.S("credit_balance"));
        Assert.Single(await Transactions(id));
    }

    [Fact]
    public async Task AKeylessTopUpWhoseCommitWasLostIsAppliedAtMostOnce()
    {
        var id = (await CreateWallet()).S("id");

        App.LoseNextCommit(CommitFault.LostAfterCommit);
        var lost = await Grant(id, "10", null);

        Assert.Equal("outcome_unknown", lost.Error(503));
        Assert.Equal("10", (await Wallet(id)).S("credit_balance"));
        Assert.Single(await Transactions(id));
    }

    [Fact]
    public async Task AHoldWhoseCommitWasLostIsCreatedAtMostOnce()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "50" })).S("id");

        App.LoseNextCommit(CommitFault.LostAfterCommit);
        Assert.Equal("outcome_unknown", (await Api.Post($"/v1/wallets/{id}/holds", new { credits = "20" })).Error(503));

        var balance = await Balance(id);
        Assert.Equal(("20", "30"), (balance.S("pending_charge_credits"), balance.S("available_credit_balance")));
    }
}
