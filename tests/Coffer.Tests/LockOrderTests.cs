using Coffer.Storage;
using Microsoft.Data.Sqlite;

namespace Coffer.Tests;

/// <summary>
/// The lock-order rule (invoice, then wallets in id order, then invoice counters) is checked where each lock is
/// taken; the whole suite runs with the check on. These tests show the check itself refuses what breaks the order.
/// </summary>
public class LockOrderTests
{
    static async Task<T> InTransaction<T>(Func<System.Data.Common.DbTransaction, T> body)
    {
        await using var c = new SqliteConnection("Data Source=:memory:");
        await c.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        return body(tx);
    }

    [Fact]
    public async Task AnInvoiceThenWalletsInIdOrderThenTheCounterIsAllowed() =>
        Assert.True(await InTransaction(tx =>
        {
            LockOrder.Take(tx, LockOrder.Level.Invoice, "inv_1");
            LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_a"));
            LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_a"));
            LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_b"));
            LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t2", "wallet_a"));
            LockOrder.Take(tx, LockOrder.Level.Tenant, "t1");
            LockOrder.Take(tx, LockOrder.Level.Tenant, "t2");
            return true;
        }));

    [Fact]
    public async Task AnInvoiceLockedAfterAWalletIsRefused()
    {
        var e = await InTransaction(tx =>
        {
            LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_a"));
            return Assert.Throws<InvalidOperationException>(() => LockOrder.Take(tx, LockOrder.Level.Invoice, "inv_1"));
        });
        Assert.Contains("Invoice inv_1 locked after Wallet t1/wallet_a", e.Message);
    }

    [Fact]
    public async Task WalletsOutOfIdOrderAreRefused()
    {
        var e = await InTransaction(tx =>
        {
            LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_b"));
            return Assert.Throws<InvalidOperationException>(() => LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_a")));
        });
        Assert.Contains("wallet_a locked after Wallet t1/wallet_b", e.Message);
    }

    [Fact]
    public async Task AWalletLockedAfterAnInvoiceCounterIsRefused() =>
        await InTransaction(tx =>
        {
            LockOrder.Take(tx, LockOrder.Level.Tenant, "t1");
            return Assert.Throws<InvalidOperationException>(() => LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey("t1", "wallet_a")));
        });

    [Fact]
    public async Task EachTransactionHasItsOwnOrder()
    {
        await using var c = new SqliteConnection("Data Source=:memory:");
        await c.OpenAsync();
        await using (var first = await c.BeginTransactionAsync())
            LockOrder.Take(first, LockOrder.Level.Tenant, "t1");
        await using var second = await c.BeginTransactionAsync();
        LockOrder.Take(second, LockOrder.Level.Invoice, "inv_1");
    }

    [Fact]
    public async Task ATransactionObjectReusedForANewScopeStartsAfresh() =>
        await InTransaction(tx =>
        {
            LockOrder.Take(tx, LockOrder.Level.Tenant, "t1");
            LockOrder.Begin(tx);
            LockOrder.Take(tx, LockOrder.Level.Invoice, "inv_1");
            return true;
        });
}
