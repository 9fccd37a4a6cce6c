using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Coffer.Storage;

/// <summary>
/// The order in which a transaction takes row locks, so that two transactions never wait on each other: an
/// invoice first, then a wallet schedule (its period runs before it moves the wallet's money), then wallets in (tenant, id) order, then tenants' rows (the invoice counter, the settings, the mode)
/// in tenant order. Every place that locks one
/// of these rows says so here, and a lock taken out of order throws before it is taken — in every build, since a
/// deadlock shows only under load, where a test would rarely catch it. SQLite serialises writers and cannot
/// deadlock, but the rule is checked there too, so the suite on either database enforces it.
/// </summary>
public static class LockOrder
{
    public enum Level { Invoice = 1, Schedule = 2, Wallet = 3, Tenant = 4 }

    sealed class Held
    {
        public Level Level;
        public string Key = "";
    }

    static readonly ConditionalWeakTable<DbTransaction, Held> Taken = new();

    /// <summary>Starts <paramref name="tx"/> with no lock held.</summary>
    public static DbTransaction Begin(DbTransaction tx)
    {
        Taken.AddOrUpdate(tx, new Held());
        return tx;
    }

    /// <summary>Records that <paramref name="tx"/> is about to lock the row <paramref name="key"/> of <paramref name="level"/>.</summary>
    /// <exception cref="InvalidOperationException">The lock would break the order.</exception>
    public static void Take(DbTransaction tx, Level level, string key)
    {
        var held = Taken.GetOrCreateValue(tx);
        if (held.Level > level)
            throw new InvalidOperationException($"lock order: {level} {key} locked after {held.Level} {held.Key}");
        // Wallets (and invoice counters) are locked in key order among themselves; re-locking one already held is free.
        if (held.Level == level && level != Level.Invoice && string.CompareOrdinal(key, held.Key) < 0)
            throw new InvalidOperationException($"lock order: {level} {key} locked after {level} {held.Key}");
        held.Level = level;
        held.Key = key;
    }

    public static string WalletKey(string tenantId, string walletId) => tenantId + "/" + walletId;
}
