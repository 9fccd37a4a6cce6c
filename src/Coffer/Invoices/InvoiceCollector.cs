using Coffer.Payments;
using Coffer.Storage;

namespace Coffer.Invoices;

/// <summary>
/// Pays the invoices that wait on a wallet once funds came in (<see cref="InvoiceReserve.Collect"/>): oldest due date
/// first, each through the invoice's own locked payment from the wallet, until the wallet has nothing left to give.
/// The funds are reserved for these invoices from the moment they arrive, so no charge can spend them in between;
/// paying twice is impossible because every payment is decided under the invoice's lock against what it still owes.
/// Requests are leased (<see cref="Leases"/>), so a node that dies mid-round strands nothing.
/// </summary>
public sealed class InvoiceCollector(Database db, InvoiceService invoices, TimeProvider clock, Hosting.CofferOptions options, Leases leases,
    ILogger<InvoiceCollector> log)
    : Hosting.PollingWorker
{
    public const int Batch = 50;
    public const int MaxPerTenantPerRound = 10;
    /// <summary>Bounds one wallet's round; what is left waits for the wallet's next funds or the next round.</summary>
    public const int MaxInvoicesPerWallet = 100;
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.AutoTopUpPoll;
    protected override bool MoreDue(int taken) => taken >= Batch;

    sealed record Request(string Tenant, string Wallet, DateTimeOffset RequestedAt);

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        LeaseToken lease;
        List<Request> due;
        await using (var scope = await db.BeginWriteAsync(ct))
        {
            (lease, due) = await leases.TakeAsync(scope, db.Kind, "invoice_collections", "1 = 1", "requested_at", MaxPerTenantPerRound, Batch,
                clock.GetUtcNow(), Lease, null, "tenant_id, id, requested_at", r => new Request(r.Str("tenant_id"), r.Str("id"), r.Time("requested_at")));
            await scope.CommitAsync(ct);
        }
        foreach (var request in due)
        {
            try { await CollectAsync(request); }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Its lease runs out and it is taken again; the other wallets go on.
                log.LogWarning(e, "invoices waiting on wallet {Wallet} of tenant {Tenant} could not be paid", request.Wallet, request.Tenant);
                continue;
            }
            await using var done = await db.BeginWriteAsync(ct);
            // Funds that came in while this round worked moved requested_at: the row stays for the next round.
            await done.Connection.ExecAsync(done.Transaction,
                $"DELETE FROM invoice_collections WHERE tenant_id = @t AND id = @w AND requested_at = @at AND {LeaseToken.Held}",
                [("t", request.Tenant), ("w", request.Wallet), ("at", request.RequestedAt), .. lease.Args]);
            await done.CommitAsync(ct);
        }
        return due.Count;
    }

    async Task CollectAsync(Request request)
    {
        List<string> waiting;
        await using (var c = await db.OpenAsync())
            waiting = await c.QueryAsync(null,
                $"""
                SELECT id FROM invoices WHERE tenant_id = @t AND pay_from_wallet_id = @w AND {InvoiceReserve.Unpaid}
                ORDER BY CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, created_at, id LIMIT {MaxInvoicesPerWallet}
                """,
                r => r.Str("id"), ("t", request.Tenant), ("w", request.Wallet));
        foreach (var id in waiting)
        {
            var outcome = await invoices.RecordPaymentAsync(request.Tenant, id,
                new PaymentInput(null, PaymentMethodTypes.Credits, request.Wallet, null, "{}", Source: "invoice_collector"));
            // The wallet ran dry (or closed): the rest waits for its next funds, in the same order.
            if (outcome is InvoiceOutcome.Refused { Reason.Code: Common.ErrorCodes.InsufficientBalance or Common.ErrorCodes.WalletNotActive }) break;
        }
    }
}
