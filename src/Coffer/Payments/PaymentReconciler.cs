using Coffer.Invoices;
using Coffer.Storage;

namespace Coffer.Payments;

/// <summary>
/// Settles money left in flight: payments still PROCESSING, INITIATED or PENDING past a short grace period (a
/// crash or a time-out between the gateway call and its record, a checkout whose report never came), refunds
/// to a card left pending (including refunds due for money an invoice could not keep), and credit purchases
/// cancelled by a wallet's close whose invoice is still open. Each is asked of the gateway again with its own
/// id as the key, so asking twice never moves money twice, and settled under the invoice's lock, so settling
/// twice changes nothing. A row is leased through <c>reconcile_after</c> (one conditional update decides
/// which node takes it), which is also its back-off; several nodes can run this at once.
/// </summary>
public sealed class PaymentReconciler(
    Database db, PaymentService payments, RefundService refunds, InvoiceService invoices, TimeProvider clock, IConfiguration config,
    ILogger<PaymentReconciler> log) : BackgroundService
{
    public const int BatchSize = 50;

    /// <summary>How long a payment may stay in flight before it is asked about (COFFER_RECONCILE_GRACE_SECONDS, default 60).</summary>
    TimeSpan Grace => TimeSpan.FromSeconds(int.TryParse(config["COFFER_RECONCILE_GRACE_SECONDS"], out var s) && s >= 0 ? s : 60);

    TimeSpan Interval => TimeSpan.FromMilliseconds(int.TryParse(config["COFFER_RECONCILE_POLL_MS"], out var ms) && ms > 0 ? ms : 5000);

    /// <summary>The lease after n tries: 1, 2, 4 … minutes, at most an hour, so a gateway that stays silent is asked less and less often.</summary>
    static TimeSpan Backoff(int attempts) => TimeSpan.FromMinutes(Math.Min(60, 1 << Math.Min(attempts, 6)));

    /// <summary>One round: returns how many rows it took.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        var cutoff = now - Grace;
        var taken = 0;
        foreach (var (tenant, id) in await LeaseAsync("payments",
                     "payment_status IN ('PROCESSING', 'INITIATED', 'PENDING') AND updated_at <= @cutoff", now, cutoff, ct))
        {
            taken++;
            try { await payments.ReconcileAsync(tenant, id, now); }
            catch (Exception e) { log.LogWarning(e, "reconciling payment {Payment} failed; it is tried again later", id); }
        }
        foreach (var (tenant, id) in await LeaseAsync("refunds", "status = 'pending' AND destination = 'original' AND created_at <= @cutoff", now, cutoff, ct))
        {
            taken++;
            try { await refunds.ReconcileAsync(tenant, id); }
            catch (Exception e) { log.LogWarning(e, "reconciling refund {Refund} failed; it is tried again later", id); }
        }
        foreach (var (tenant, id) in await CancelledPurchasesAsync(ct))
        {
            taken++;
            await invoices.CancelPurchaseAsync(tenant, id);
        }
        return taken;
    }

    /// <summary>
    /// Takes up to a batch of due rows: each is claimed by moving its <c>reconcile_after</c> past now only if it is
    /// still due, so of several nodes reading the same candidates exactly one takes each.
    /// </summary>
    async Task<List<(string Tenant, string Id)>> LeaseAsync(string table, string due, DateTimeOffset now, DateTimeOffset cutoff, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var candidates = await c.QueryAsync(null,
            $"""
            SELECT tenant_id, id, reconcile_attempts FROM {table}
            WHERE {due} AND (reconcile_after IS NULL OR reconcile_after <= @now)
            ORDER BY created_at LIMIT @n
            """,
            r => (Tenant: r.Str("tenant_id"), Id: r.Str("id"), Attempts: (int)r.Long("reconcile_attempts")), ("now", now), ("cutoff", cutoff), ("n", BatchSize));
        var leased = new List<(string, string)>();
        foreach (var (tenant, id, attempts) in candidates)
        {
            var took = await c.ExecAsync(null,
                $"""
                UPDATE {table} SET reconcile_after = @until, reconcile_attempts = reconcile_attempts + 1
                WHERE tenant_id = @t AND id = @id AND reconcile_attempts = @attempts AND (reconcile_after IS NULL OR reconcile_after <= @now)
                """,
                ("until", now + Backoff(attempts)), ("t", tenant), ("id", id), ("attempts", attempts), ("now", now));
            if (took == 1) leased.Add((tenant, id));
        }
        return leased;
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await RunOnceAsync(stoppingToken) >= BatchSize) continue;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                log.LogWarning(e, "payment reconciliation failed; retrying in {Interval}", Interval);
            }
            try { await Task.Delay(Interval, clock, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }
}
