using Coffer.Hosting;
using Coffer.Invoices;
using Coffer.Storage;

namespace Coffer.Payments;

/// <summary>
/// Settles money left in flight: payments still PROCESSING, INITIATED or PENDING past a short grace period (a
/// crash or a time-out between the gateway call and its record, a checkout whose report never came), refunds
/// to a card left pending (including refunds due for money an invoice could not keep), and credit purchases
/// cancelled by a wallet's close whose invoice is still open. Each is asked of the gateway again with its own
/// id as the key, so asking twice never moves money twice, and settled under the invoice's lock, so settling
/// twice changes nothing. A row is leased (<see cref="Leases"/>), and its lease is also its back-off: it is not
/// released after a try, so nobody asks about it again before the lease runs out; several nodes can run this at once.
/// </summary>
public sealed class PaymentReconciler(
    Database db, PaymentService payments, RefundService refunds, InvoiceService invoices, TimeProvider clock, Hosting.CofferOptions options,
    Leases leases, ILogger<PaymentReconciler> log) : Hosting.PollingWorker
{
    public const int BatchSize = 50;

    /// <summary>How long a payment may stay in flight before it is asked about (COFFER_RECONCILE_GRACE_SECONDS, default 60).</summary>
    TimeSpan Grace => options.ReconcileGrace;

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.ReconcilePoll;

    protected override bool MoreDue(int taken) => taken >= BatchSize;

    /// <summary>The lease after n tries: 1, 2, 4 … minutes, at most an hour, so a gateway that stays silent is asked less and less often.</summary>
    static TimeSpan Backoff(int attempts) => TimeSpan.FromMinutes(Math.Min(60, 1 << Math.Min(attempts, 6)));

    /// <summary>In flight past the grace period (parameter <c>@cutoff</c>): asked of the gateway again.</summary>
    const string PaymentsDue = "payment_status IN ('PROCESSING', 'INITIATED', 'PENDING') AND updated_at <= @cutoff";
    const string RefundsDue = "status = 'pending' AND destination = 'original' AND created_at <= @cutoff";

    /// <summary>One round: returns how many rows it took.</summary>
    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        var cutoff = now - Grace;
        var taken = 0;
        if (Telemetry.WatchesReconcilerBacklog)
            await using (var c = await db.OpenAsync(ct))
                Telemetry.ReconcilerBacklog(await c.ScalarLongAsync(null,
                    $"SELECT (SELECT COUNT(*) FROM payments WHERE {PaymentsDue}) + (SELECT COUNT(*) FROM refunds WHERE {RefundsDue})", ("cutoff", cutoff)));
        foreach (var (tenant, id) in await LeaseAsync("payments", PaymentsDue, now, cutoff, ct))
        {
            taken++;
            try { await payments.ReconcileAsync(tenant, id, now); }
            catch (Exception e) { log.LogWarning(e, "reconciling payment {Payment} of tenant {Tenant} failed; it is tried again later", id, tenant); }
        }
        foreach (var (tenant, id) in await LeaseAsync("refunds", RefundsDue, now, cutoff, ct))
        {
            taken++;
            try { await refunds.ReconcileAsync(tenant, id); }
            catch (Exception e) { log.LogWarning(e, "reconciling refund {Refund} of tenant {Tenant} failed; it is tried again later", id, tenant); }
        }
        foreach (var (tenant, id) in await CancelledPurchasesAsync(ct))
        {
            taken++;
            await invoices.CancelPurchaseAsync(tenant, id);
        }
        return taken;
    }

    /// <summary>
    /// Takes up to a batch of due rows. The lease is the row's back-off after its tries so far: taken with the first
    /// step, then lengthened, in the same transaction, for rows tried before.
    /// </summary>
    async Task<List<(string Tenant, string Id)>> LeaseAsync(string table, string due, DateTimeOffset now, DateTimeOffset cutoff, CancellationToken ct)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var (lease, rows) = await leases.TakeAsync(scope, db.Kind, table, due, "created_at", BatchSize, BatchSize, now, Backoff(0),
            "reconcile_attempts = reconcile_attempts + 1", "tenant_id, id, reconcile_attempts",
            r => (Tenant: r.Str("tenant_id"), Id: r.Str("id"), Tries: (int)r.Long("reconcile_attempts")), ("cutoff", cutoff));
        foreach (var (tenant, id, tries) in rows.Where(r => r.Tries > 1))
            await scope.Connection.ExecAsync(scope.Transaction,
                $"UPDATE {table} SET leased_until = @until WHERE tenant_id = @t AND id = @id AND {LeaseToken.Held}",
                [("until", now + Backoff(tries - 1)), ("t", tenant), ("id", id), .. lease.Args]);
        await scope.CommitAsync(ct);
        return [.. rows.Select(r => (r.Tenant, r.Id))];
    }

    /// <summary>Open invoices of purchases whose pending credit failed (the wallet was closed): they end with it.</summary>
    async Task<List<(string Tenant, string Id)>> CancelledPurchasesAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QueryAsync(null,
            """
            SELECT i.tenant_id, i.id FROM invoices i
            JOIN wallet_transactions t ON t.tenant_id = i.tenant_id AND t.id = i.wallet_transaction_id
            WHERE i.invoice_status = 'FINALIZED' AND t.transaction_status = 'failed'
            ORDER BY i.created_at LIMIT @n
            """,
            r => (r.Str("tenant_id"), r.Str("id")), ("n", BatchSize));
    }
}
