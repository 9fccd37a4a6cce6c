using System.Data.Common;
using Coffer.Outbox;
using Coffer.Storage;

namespace Coffer.Wallets;

/// <summary>
/// The one place a wallet event gets its sequence number: each event about a wallet takes the next number
/// after the wallet's <c>event_seq</c>, and the wallet row stores the last number used, in the same transaction
/// as the events. Under the wallet's lock the numbers are counted here and the caller writes <see cref="Last"/>
/// with the wallet row; an event raised without the lock takes its number with <see cref="AppendAsync"/>.
/// </summary>
public sealed class WalletEvents(OutboxWriter outbox, SqlBatch writes, string tenantId, string walletId, long lastSequence)
{
    /// <summary>The last sequence number used: what the wallet row's <c>event_seq</c> must say.</summary>
    public long Last { get; private set; } = lastSequence;

    public void Add(string type, object payload) => outbox.Add(writes, tenantId, type, walletId, ++Last, payload);

    /// <summary>
    /// One event for a wallet whose row this transaction has not locked: the UPDATE takes the row lock and the
    /// number together, so two such events (or one and the write path) never share a number.
    /// </summary>
    public static async Task AppendAsync(
        DbConnection c, DbTransaction tx, OutboxWriter outbox, SqlBatch writes, string tenantId, string walletId, string type, object payload)
    {
        var sequence = await c.ScalarLongAsync(tx,
            "UPDATE wallets SET event_seq = event_seq + 1 WHERE tenant_id = @t AND id = @w RETURNING event_seq", ("t", tenantId), ("w", walletId));
        outbox.Add(writes, tenantId, type, walletId, sequence, payload);
    }
}
