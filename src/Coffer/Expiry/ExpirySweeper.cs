using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Expiry;

/// <summary>
/// Ends what the clock ends: expired holds are released (status expired), and one CREDIT_EXPIRED debit is
/// posted per lot whose expiry has passed. Lots stop being spendable at their expiry
/// instant regardless; this makes the history and the cached balance say so. Safe on several nodes: the
/// wallet lock serializes each expiry and a unique index allows one expiry entry per lot.
/// </summary>
public sealed class ExpirySweeper(
    Database db, WalletWriter writer, Common.Ids ids, TimeProvider clock, Invoices.InvoiceService invoices, Settings.TenantSettings settings,
    ILogger<ExpirySweeper> log)
    : Hosting.PollingWorker
{
    public const int BatchSize = 200;
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(15);

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => SweepInterval;

    public override Task<int> RunOnceAsync(CancellationToken ct = default) => SweepOnceAsync(ct);

    /// <summary>A full batch means more are waiting.</summary>
    protected override bool MoreDue(int taken) => taken >= BatchSize;

    public async Task<int> SweepOnceAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        List<(string Tenant, string Wallet, string Lot)> due;
        List<(string Tenant, string Wallet, string Hold)> holds;
        await using (var c = await db.OpenAsync(ct))
        {
            due = await c.QueryAsync(null,
                """
                SELECT tenant_id, wallet_id, id FROM wallet_transactions
                WHERE lot_open = 1 AND expiry_date IS NOT NULL AND expiry_date <= @now
                ORDER BY expiry_date LIMIT @n
                """,
                r => (r.Str("tenant_id"), r.Str("wallet_id"), r.Str("id")), ("now", now), ("n", BatchSize));
            holds = await c.QueryAsync(null,
                """
                SELECT tenant_id, wallet_id, id FROM holds
                WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= @now
                ORDER BY expires_at LIMIT @n
                """,
                r => (r.Str("tenant_id"), r.Str("wallet_id"), r.Str("id")), ("now", now), ("n", BatchSize));
            await c.ExecAsync(null, "DELETE FROM idempotency_keys WHERE created_at < @cutoff", ("cutoff", now - Idempotency.Retention));
            await c.ExecAsync(null, "DELETE FROM outbox_events WHERE delivered_at IS NOT NULL AND delivered_at < @cutoff",
                ("cutoff", now - Outbox.OutboxWriter.Retention));
        }
        var expired = await FailUnpaidPurchasesAsync(now, ct);
        // Holds first: a hold that has expired no longer reserves credits the lots' expiry would take.
        foreach (var (tenant, wallet, hold) in holds)
        {
            var op = new WalletOperation(_ => new WalletCommand.ReleaseHold(hold, Expired: true), new EntryDetails(), null, _ => new { }) { Name = "expire_hold" };
            if (await writer.ExecuteAsync(tenant, wallet, op, ct) is WriteResult.Applied) expired++;
        }
        foreach (var (tenant, wallet, lot) in due)
        {
            var op = new WalletOperation(_ => new WalletCommand.ExpireLot(ids.New("wtx"), lot), new EntryDetails(), null,
                _ => new { }) { Name = "expire_lot" };
            if (await writer.ExecuteAsync(tenant, wallet, op, ct) is WriteResult.Applied) expired++;
        }
        return expired;
    }

    /// <summary>
    /// A credit purchase never stays pending forever: once its invoice has been unpaid for the tenant's
    /// <c>pending_purchase_timeout_days</c>, the invoice's payment fails and so does the pending credit.
    /// </summary>
    async Task<int> FailUnpaidPurchasesAsync(DateTimeOffset now, CancellationToken ct)
    {
        List<(string Tenant, string Invoice, DateTimeOffset Created)> candidates;
        await using (var c = await db.OpenAsync(ct))
            candidates = await c.QueryAsync(null,
                """
                SELECT tenant_id, id, created_at FROM invoices
                WHERE wallet_transaction_id IS NOT NULL AND invoice_status = 'FINALIZED'
                  AND payment_status IN ('INITIATED', 'PENDING', 'PROCESSING') AND created_at <= @cutoff
                ORDER BY created_at LIMIT @n
                """,
                r => (r.Str("tenant_id"), r.Str("id"), r.Time("created_at")), ("cutoff", now.AddDays(-1)), ("n", BatchSize));
        var failed = 0;
        foreach (var tenant in candidates.GroupBy(x => x.Tenant))
        {
            var timeout = TimeSpan.FromDays((await settings.InvoiceConfigAsync(tenant.Key)).PendingPurchaseTimeoutDays);
            foreach (var (_, invoice, created) in tenant.Where(x => x.Created + timeout <= now))
                if (await invoices.SetPaymentStatusAsync(tenant.Key, invoice, Invoices.PaymentStatuses.Failed, null) is Invoices.InvoiceOutcome.Done)
                    failed++;
        }
        return failed;
    }
}
