using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.AutoTopUp;

/// <summary>
/// A change that leaves the wallet at or below its auto top-up threshold queues one purchase request, in the
/// change's own transaction; while one is in flight, further triggers only count as suppressed (the partial unique
/// index decides, so a thousand debits in one second start exactly one purchase). The purchase itself runs outside
/// this transaction, in <see cref="AutoTopUpWorker"/>.
/// </summary>
public static class AutoTopUpQueue
{
    /// <summary>
    /// Whether the wallet's rule asks for a top-up at <paramref name="creditsCounted"/> (available now plus purchases
    /// on their way): the one test, for a change that moves money, a change of the rule, and a preview of one.
    /// </summary>
    public static bool WouldTrigger(WalletRow wallet, decimal creditsCounted)
    {
        if (wallet.AutoTopup is null || wallet.Status != WalletStatuses.Active) return false;
        var rule = Json.Deserialize<AutoTopupSettings>(wallet.AutoTopup);
        return rule?.Enabled == true && rule.Threshold is { } threshold && creditsCounted <= threshold;
    }

    public static void Trigger(SqlBatch writes, Ids ids, WalletRow wallet, decimal creditsCounted, DateTimeOffset now)
    {
        if (!WouldTrigger(wallet, creditsCounted)) return;
        writes.Add(
            """
            INSERT INTO auto_topup_attempts (tenant_id, id, wallet_id, status, reason, suppressed, created_at, updated_at)
            VALUES (@t, @id, @w, 'pending', 'balance at or below threshold', 0, @now, @now)
            ON CONFLICT (tenant_id, wallet_id) WHERE status IN ('pending', 'processing')
            DO UPDATE SET suppressed = auto_topup_attempts.suppressed + 1, updated_at = @now
            """,
            ("t", wallet.TenantId), ("id", ids.New("atu")), ("w", wallet.Id), ("now", now));
    }
}
