using Coffer.Ledger;
using Coffer.Wallets;

namespace Coffer.Tests;

public sealed class GroupCommitTestsOnSqlite() : GroupCommitTests(Store.Sqlite);
public sealed class GroupCommitTestsOnPostgres() : GroupCommitTests(Store.Postgres);

/// <summary>
/// Drives the writer's batch path directly, so that what a batch contains is decided by the test rather
/// than by timing: every operation must see the state its predecessors in the batch left.
/// </summary>
public abstract class GroupCommitTests(Store store) : ApiTest(store)
{
    /// <summary>The refusal a write result carries, of the kind expected.</summary>
    static T Refusal<T>(WriteResult result) where T : WalletRefusal => Assert.IsType<T>(Assert.IsType<WriteResult.Refused>(result).Why);

    static WalletOperation Op(Func<WalletRow, CommandOrRefusal> build, string? key = null, string hash = "h") =>
        new(build, new EntryDetails(), key is null ? null : new IdempotencyClaim(key, hash), x => new { balance = x.Wallet.CreditBalance, entries = x.Entries.Count });

    static string NewId() => "wtx_" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task EachOperationInABatchSeesTheStateItsPredecessorsLeft()
    {
        var a = (await CreateWallet(new { initial_credits_to_load = "1" })).S("id");
        var b = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var tenant = (await Wallet(a)).S("tenant_id");
        var writer = App.Service<WalletWriter>();
        WalletWriter.Pending P(string wallet, WalletOperation op) => new(tenant, wallet, op);

        var results = await Task.WhenAll(await writer.ExecuteBatchAsync(
        [
            P(a, Op(_ => new WalletCommand.Debit(NewId(), 3m, Reasons.ManualBalanceDebit))),
            P(a, Op(_ => new WalletCommand.Credit(NewId(), 5m, 0m, Reasons.FreeCreditGrant, null, null), key: "grant")),
            P(b, Op(_ => new WalletCommand.Debit(NewId(), 4m, Reasons.ManualBalanceDebit))),
            P(a, Op(_ => new WalletCommand.Debit(NewId(), 3m, Reasons.ManualBalanceDebit))),
            P(a, Op(_ => new WalletCommand.Credit(NewId(), 5m, 0m, Reasons.FreeCreditGrant, null, null), key: "grant")),
            P(a, Op(_ => new WalletCommand.Credit(NewId(), 9m, 0m, Reasons.FreeCreditGrant, null, null), key: "grant", hash: "other")),
            P(a, Op(_ => new WalletCommand.Debit(NewId(), 4m, Reasons.ManualBalanceDebit))),
            P("wallet_missing", Op(_ => new WalletCommand.Debit(NewId(), 1m, Reasons.ManualBalanceDebit))),
        ], CancellationToken.None));

        Assert.IsType<CommandOutcome.InsufficientBalance>(Refusal<WalletRefusal.Rejected>(results[0]).Outcome);
        Assert.IsType<WriteResult.Applied>(results[1]);
        Assert.IsType<WriteResult.Applied>(results[2]);
        Assert.IsType<WriteResult.Applied>(results[3]);
        Assert.IsType<WriteResult.Replayed>(results[4]);
        Refusal<WalletRefusal.KeyReused>(results[5]);
        Assert.IsType<CommandOutcome.InsufficientBalance>(Refusal<WalletRefusal.Rejected>(results[6]).Outcome);
        Refusal<WalletRefusal.NotFound>(results[7]);
        Assert.Equal("3", (await Wallet(a)).S("credit_balance"));
        Assert.Equal("6", (await Wallet(b)).S("credit_balance"));
    }

    [Fact]
    public async Task AFailingOperationDoesNotFailTheRestOfItsBatch()
    {
        var a = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var tenant = (await Wallet(a)).S("tenant_id");
        var writer = App.Service<WalletWriter>();

        var tasks = await writer.ExecuteBatchAsync(
        [
            new(tenant, a, Op(_ => new WalletCommand.Debit(NewId(), 1m, Reasons.ManualBalanceDebit))),
            new(tenant, a, Op(_ => throw new InvalidOperationException("a bug in one request"))),
            new(tenant, a, Op(_ => new WalletCommand.Debit(NewId(), 2m, Reasons.ManualBalanceDebit))),
        ], CancellationToken.None);

        Assert.IsType<WriteResult.Applied>(await tasks[0]);
        await Assert.ThrowsAsync<InvalidOperationException>(() => tasks[1]);
        Assert.IsType<WriteResult.Applied>(await tasks[2]);
        Assert.Equal("7", (await Wallet(a)).S("credit_balance"));
    }

    [Theory]
    [InlineData(Storage.CommitFault.LostAfterCommit, "16")]
    [InlineData(Storage.CommitFault.LostBeforeCommit, "10")]
    public async Task ABatchWhoseCommitWasLostIsNeverRunAgain(Storage.CommitFault fault, string balance)
    {
        // Root cause: a failed batch was retried operation by operation, even when the failure was the commit
        // itself, so a batch that had committed was applied a second time.
        var a = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var tenant = (await Wallet(a)).S("tenant_id");
        var writer = App.Service<WalletWriter>();

        App.LoseNextCommit(fault);
        var tasks = await writer.ExecuteBatchAsync(
        [
            new(tenant, a, Op(_ => new WalletCommand.Credit(NewId(), 5m, 0m, Reasons.FreeCreditGrant, null, null))),
            new(tenant, a, Op(_ => new WalletCommand.Debit(NewId(), 2m, Reasons.ManualBalanceDebit), key: "debit-1")),
            new(tenant, a, Op(_ => new WalletCommand.Credit(NewId(), 3m, 0m, Reasons.FreeCreditGrant, null, null))),
        ], CancellationToken.None);

        var results = await Task.WhenAll(tasks);
        Assert.Equal([null, "debit-1", null], results.Select(r => Refusal<WalletRefusal.OutcomeUnknown>(r).IdempotencyKey));
        Assert.Equal(balance, (await Wallet(a)).S("credit_balance"));
    }
}
