using System.Data.Common;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Payments;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Invoices;

public abstract record InvoiceOutcome
{
    private InvoiceOutcome() { }
    public sealed record Done(InvoiceRow Invoice, PaymentRow? Payment = null) : InvoiceOutcome;
    public sealed record NotFound : InvoiceOutcome;
    public sealed record Refused(ApiError Error) : InvoiceOutcome;
}

/// <summary>What a decision under the invoice's lock produced: the invoice after it, a payment, or a refusal.</summary>
sealed record InvoiceDecision(InvoiceRow? After, PaymentRow? Payment = null, ApiError? Refusal = null);

public sealed record PaymentInput(
    decimal? Amount, string MethodType, string? MethodId, string? IdempotencyKey, string Metadata, string? Source = null);

/// <summary>
/// Every change to an invoice happens under its row lock, in one transaction with whatever it does to a
/// wallet: a payment that completes a credit purchase grants the credits exactly once, because the second
/// report of the same payment finds the invoice already paid. Invoice locks are always taken before wallet
/// locks, never after.
/// </summary>
public sealed class InvoiceService(Database db, WalletWriter writer, Ids ids, TimeProvider clock, OutboxWriter outbox)
{
    public async Task<string> NextNumberAsync(string tenantId)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        await c.ExecAsync(scope.Transaction, "UPDATE tenants SET invoice_seq = invoice_seq + 1 WHERE id = @t", ("t", tenantId));
        var seq = await c.ScalarLongAsync(scope.Transaction, "SELECT invoice_seq FROM tenants WHERE id = @t", ("t", tenantId));
        await scope.CommitAsync();
        return $"INV-{seq:D6}";
    }

    public async Task<InvoiceRow?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {InvoiceRow.Columns} FROM invoices WHERE tenant_id = @t AND id = @id",
            InvoiceRow.Read, ("t", tenantId), ("id", id));
    }

    public async Task<List<LineItemRow>> LinesAsync(string tenantId, IReadOnlyList<string> invoiceIds)
    {
        if (invoiceIds.Count == 0) return [];
        var where = new List<string>();
        var args = new List<(string, object?)> { ("t", tenantId) };
        Customers.CustomerStore.AddIn(where, args, "invoice_id", "i", invoiceIds);
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null, $"SELECT {LineItemRow.Columns} FROM invoice_line_items WHERE tenant_id = @t AND {where[0]} ORDER BY created_at, id",
            LineItemRow.Read, args.ToArray());
    }

    /// <summary>Inserts an invoice with its lines; a repeated idempotency key returns the first invoice.</summary>
    public async Task<(InvoiceRow Invoice, bool Created)> CreateAsync(InvoiceRow invoice, IReadOnlyList<LineItemRow> lines)
    {
        await using (var scope = await db.BeginWriteAsync())
        {
            var writes = new SqlBatch();
            InvoiceRow.Insert(writes, invoice);
            foreach (var line in lines) LineItemRow.Insert(writes, line);
            outbox.Add(writes, invoice.TenantId, EventTypes.InvoiceCreated, null, invoice.Version, InvoiceDtos.Invoice(invoice, lines));
            try
            {
                await writes.ExecuteAsync(scope.Connection, scope.Transaction);
                await scope.CommitAsync();
                return (invoice, true);
            }
            catch (Exception e) when (invoice.IdempotencyKey is not null && db.IsUniqueViolation(e))
            {
            }
        }
        await using var c = await db.OpenAsync();
        var existing = await c.QuerySingleAsync(null,
            $"SELECT {InvoiceRow.Columns} FROM invoices WHERE tenant_id = @t AND idempotency_key = @k",
            InvoiceRow.Read, ("t", invoice.TenantId), ("k", invoice.IdempotencyKey));
        return (existing!, false);
    }

    public Task<InvoiceOutcome> FinalizeAsync(string tenantId, string id, string number) =>
        WithInvoiceAsync(tenantId, id, (i, _, _, _, now) => Task.FromResult(i.InvoiceStatus switch
        {
            InvoiceStatuses.Draft => new InvoiceDecision(i with { InvoiceStatus = InvoiceStatuses.Finalized, FinalizedAt = now, InvoiceNumber = i.InvoiceNumber ?? number }),
            _ => new InvoiceDecision(null, Refusal: ApiError.Validation($"only a DRAFT invoice can be finalized; this one is {i.InvoiceStatus}")),
        }), EventTypes.InvoiceFinalized);

    public Task<InvoiceOutcome> VoidAsync(string tenantId, string id) =>
        WithInvoiceAsync(tenantId, id, async (i, c, tx, writes, now) =>
        {
            if (i.InvoiceStatus == InvoiceStatuses.Voided) return new InvoiceDecision(i);
            if (i.AmountPaid > 0)
                return new InvoiceDecision(null, Refusal: ApiError.Validation("an invoice with payments cannot be voided; refund the payments first"));
            await FailPurchaseAsync(i, c, tx);
            return new InvoiceDecision(i with { InvoiceStatus = InvoiceStatuses.Voided, VoidedAt = now });
        }, EventTypes.InvoiceVoided);

    /// <summary>A payment status reported by the merchant (<c>PUT /invoices/{id}/payment</c>).</summary>
    public Task<InvoiceOutcome> SetPaymentStatusAsync(string tenantId, string id, string status, decimal? amount) =>
        WithInvoiceAsync(tenantId, id, async (i, c, tx, writes, now) =>
        {
            switch (status)
            {
                case PaymentStatuses.Succeeded:
                    return await PayAsync(i, new PaymentInput(amount ?? i.AmountRemaining, PaymentMethodTypes.Offline, null, null, "{}",
                        "payment_status_update"), c, tx, writes, now);
                case PaymentStatuses.Failed:
                    if (PaymentStatuses.IsPaid(i.PaymentStatus) || i.AmountPaid > 0)
                        return new InvoiceDecision(null, Refusal: ApiError.Validation("a paid invoice cannot be marked FAILED; refund it instead"));
                    await FailPurchaseAsync(i, c, tx);
                    return new InvoiceDecision(i with { PaymentStatus = PaymentStatuses.Failed });
                case PaymentStatuses.Pending or PaymentStatuses.Processing or PaymentStatuses.Initiated:
                    if (PaymentStatuses.IsPaid(i.PaymentStatus))
                        return new InvoiceDecision(null, Refusal: ApiError.Validation($"a paid invoice cannot go back to {status}"));
                    return new InvoiceDecision(i with { PaymentStatus = status });
                default:
                    return new InvoiceDecision(null, Refusal: ApiError.Validation(
                        $"payment_status {status} cannot be set here; use SUCCEEDED, FAILED, PENDING, PROCESSING or INITIATED"));
            }
        }, EventTypes.InvoicePaymentUpdated);

    /// <summary>A payment recorded against the invoice (offline, or from a wallet with method CREDITS).</summary>
    public Task<InvoiceOutcome> RecordPaymentAsync(string tenantId, string id, PaymentInput payment) =>
        WithInvoiceAsync(tenantId, id, (i, c, tx, writes, now) => payment.MethodType == PaymentMethodTypes.Credits
            ? PayFromWalletAsync(i, payment, c, tx, writes, now)
            : PayAsync(i, payment, c, tx, writes, now), EventTypes.InvoicePaymentUpdated);

    /// <summary>
    /// Pays what the customer's wallet in the invoice's currency can cover, up to what is due: never from a
    /// wallet of another currency. What it cannot cover stays due.
    /// </summary>
    async Task<InvoiceDecision> PayFromWalletAsync(InvoiceRow i, PaymentInput payment, DbConnection c, DbTransaction tx, SqlBatch writes, DateTimeOffset now)
    {
        if (Unpayable(i) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);
        var due = Math.Min(payment.Amount ?? i.AmountRemaining, i.AmountRemaining);
        var wallet = payment.MethodId is not null
            ? await c.QuerySingleAsync(tx, $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w",
                WalletRow.Read, ("t", i.TenantId), ("w", payment.MethodId))
            : await c.QuerySingleAsync(tx,
                $"""
                SELECT {WalletRow.Columns} FROM wallets
                WHERE tenant_id = @t AND customer_id = @c AND currency = @cur AND wallet_status = 'active'
                ORDER BY CASE wallet_type WHEN 'PRE_PAID' THEN 0 ELSE 1 END, created_at LIMIT 1
                """,
                WalletRow.Read, ("t", i.TenantId), ("c", i.CustomerId), ("cur", i.Currency));
        if (wallet is null || wallet.CustomerId != i.CustomerId)
            return new InvoiceDecision(null, Refusal: ApiError.NotFound($"active {i.Currency} wallet of the invoice's customer"));
        if (wallet.Currency != i.Currency)
            return new InvoiceDecision(null, Refusal: ApiError.Validation($"a {wallet.Currency} wallet cannot pay a {i.Currency} invoice"));

        var minor = Currencies.MinorUnits(i.Currency.ToUpperInvariant());
        var rate = wallet.ConversionRate;
        var op = new WalletOperation(
            _ => new WalletCommand.DebitUpTo(ids.New("wtx"), Money.CreditsToCover(due, rate), Reasons.InvoicePayment, rate, minor),
            new EntryDetails($"Payment of invoice {i.InvoiceNumber ?? i.Id}", ReferenceType: "INVOICE", ReferenceId: i.Id), null, _ => new { });
        var (results, _) = await writer.ExecuteInAsync(c, tx, [new WalletWriter.Pending(i.TenantId, wallet.Id, op)], CancellationToken.None);
        if (results[0] is not WriteResult.Applied applied)
            return new InvoiceDecision(null, Refusal: results[0] is WriteResult.WalletNotActive n
                ? WalletApi.NotActive(n.Status)
                : ApiError.Unprocessable(ErrorCodes.InsufficientBalance, "the wallet has nothing spendable to pay this invoice with"));
        var debit = applied.Entries[0];
        var paid = Money.AmountCovered(debit.CreditAmount, rate, minor);
        // Sequence 0: the wallet's own numbering belongs to its ledger events, which this transaction also wrote.
        outbox.Add(writes, i.TenantId, EventTypes.WalletPaymentMade, wallet.Id, 0, new
        {
            wallet_id = wallet.Id, invoice_id = i.Id, invoice_number = i.InvoiceNumber, amount = paid, currency = i.Currency,
            credits = debit.CreditAmount, wallet_transaction_id = debit.Id,
        });
        return await PayAsync(i, payment with { Amount = paid, MethodId = wallet.Id }, c, tx, writes, now, debit.Id);
    }

    /// <summary>
    /// Settles a gateway payment recorded earlier (PROCESSING or PENDING) once the gateway has answered. Safe
    /// to call twice (a webhook and a redirect for the same checkout): a settled payment is left alone. A
    /// charge that succeeded is applied even if the invoice was paid meanwhile (the invoice is then OVERPAID,
    /// to be refunded), because the money has moved.
    /// </summary>
    public Task<InvoiceOutcome> SettleAsync(string tenantId, string invoiceId, string paymentId, bool succeeded, string? gatewayPaymentId, string? error) =>
        WithInvoiceAsync(tenantId, invoiceId, async (i, c, tx, writes, now) =>
        {
            var payment = await c.QuerySingleAsync(tx, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
                PaymentRow.Read, ("t", tenantId), ("id", paymentId));
            if (payment is null || payment.DestinationId != i.Id) return new InvoiceDecision(null, Refusal: ApiError.NotFound("payment"));
            if (payment.PaymentStatus is not (PaymentStatuses.Processing or PaymentStatuses.Pending or PaymentStatuses.Initiated))
                return new InvoiceDecision(i, payment);
            if (!succeeded)
            {
                var failed = payment with { PaymentStatus = PaymentStatuses.Failed, FailedAt = now, ErrorMessage = error, GatewayPaymentId = gatewayPaymentId, UpdatedAt = now };
                PaymentRow.UpdateState(writes, failed);
                outbox.Add(writes, tenantId, EventTypes.PaymentFailed, null, 1, PaymentDto.From(failed, i.InvoiceNumber));
                return new InvoiceDecision(i, failed);
            }
            var settled = payment with { PaymentStatus = PaymentStatuses.Succeeded, SucceededAt = now, GatewayPaymentId = gatewayPaymentId, UpdatedAt = now };
            PaymentRow.UpdateState(writes, settled);
            outbox.Add(writes, tenantId, EventTypes.PaymentSucceeded, null, 1, PaymentDto.From(settled, i.InvoiceNumber));
            var paidNow = i.AmountPaid + settled.Amount;
            var after = i with
            {
                AmountPaid = paidNow,
                PaymentStatus = paidNow > i.AmountDue ? PaymentStatuses.Overpaid : paidNow == i.AmountDue ? PaymentStatuses.Succeeded : i.PaymentStatus,
                PaidAt = paidNow >= i.AmountDue ? i.PaidAt ?? now : i.PaidAt,
            };
            if (i.AmountPaid < i.AmountDue && paidNow >= i.AmountDue && !await CompletePurchaseAsync(i, c, tx))
                // The money moved but the purchase was cancelled: keep the payment, leave it to be refunded.
                after = after with { Metadata = Json.Serialize(new Dictionary<string, string> { ["purchase"] = "cancelled; refund due" }) };
            return new InvoiceDecision(after, settled);
        }, EventTypes.InvoicePaymentUpdated);

    /// <summary>Records a gateway payment before the gateway is asked, so that a crash mid-call leaves a trace to reconcile.</summary>
    public async Task<PaymentRow> BeginGatewayPaymentAsync(InvoiceRow i, string methodType, string? methodId, string gateway, decimal amount,
        string status, string? idempotencyKey)
    {
        var now = clock.GetUtcNow();
        var row = new PaymentRow(i.TenantId, ids.New("pay"), idempotencyKey, "INVOICE", i.Id, methodType, methodId, gateway, null, amount,
            i.Currency, status, "{}", null, null, null, null, null, now, now);
        await using var scope = await db.BeginWriteAsync();
        var writes = new SqlBatch();
        PaymentRow.Insert(writes, row);
        await writes.ExecuteAsync(scope.Connection, scope.Transaction);
        await scope.CommitAsync();
        return row;
    }

    public async Task SetPaymentLinkAsync(PaymentRow payment, string url, string gatewaySessionId, string? successUrl, string? cancelUrl, string description)
    {
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync();
        var writes = new SqlBatch();
        PaymentRow.UpdateState(writes, payment with { PaymentStatus = PaymentStatuses.Pending, PaymentUrl = url, UpdatedAt = now });
        writes.Add(
            """
            INSERT INTO checkout_sessions (tenant_id, id, payment_id, gateway, gateway_session_id, url, status, amount, currency, description,
                success_url, cancel_url, created_at, expires_at)
            VALUES (@t, @id, @p, @gw, @gs, @url, 'open', @amount, @cur, @desc, @ok, @cancel, @now, @exp)
            """,
            ("t", payment.TenantId), ("id", ids.New("cs")), ("p", payment.Id), ("gw", payment.PaymentGateway), ("gs", gatewaySessionId),
            ("url", url), ("amount", payment.Amount), ("cur", payment.Currency), ("desc", description), ("ok", successUrl), ("cancel", cancelUrl),
            ("now", now), ("exp", now.AddDays(1)));
        await writes.ExecuteAsync(scope.Connection, scope.Transaction);
        await scope.CommitAsync();
    }

    static ApiError? Unpayable(InvoiceRow i) =>
        i.InvoiceStatus != InvoiceStatuses.Finalized ? ApiError.Validation($"only a FINALIZED invoice can be paid; this one is {i.InvoiceStatus}")
        : i.AmountRemaining <= 0 ? ApiError.Validation("the invoice is already paid")
        : null;

    async Task<InvoiceDecision> PayAsync(
        InvoiceRow i, PaymentInput payment, DbConnection c, DbTransaction tx, SqlBatch writes, DateTimeOffset now, string? walletTransactionId = null)
    {
        if (Unpayable(i) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);
        var amount = payment.Amount ?? i.AmountRemaining;
        if (amount <= 0) return new InvoiceDecision(null, Refusal: ApiError.Validation("amount must be greater than zero"));
        if (amount > i.AmountRemaining)
            return new InvoiceDecision(null, Refusal: ApiError.Validation($"amount {amount} is more than the {i.AmountRemaining} {i.Currency} remaining"));
        if (Money.Scale(amount) > Currencies.MinorUnits(i.Currency.ToUpperInvariant()))
            return new InvoiceDecision(null, Refusal: ApiError.Validation($"amount has more decimal places than {i.Currency} allows"));

        var metadata = payment.Source is null ? payment.Metadata : Json.Serialize(new Dictionary<string, string> { ["source"] = payment.Source });
        var row = new PaymentRow(i.TenantId, ids.New("pay"), payment.IdempotencyKey, "INVOICE", i.Id, payment.MethodType, payment.MethodId,
            null, null, amount, i.Currency, PaymentStatuses.Succeeded, metadata, now, null, null, null, walletTransactionId, now, now);
        PaymentRow.Insert(writes, row);
        var paidNow = i.AmountPaid + amount;
        var after = i with { AmountPaid = paidNow };
        if (paidNow >= i.AmountDue)
        {
            after = after with { PaymentStatus = PaymentStatuses.Succeeded, PaidAt = now };
            if (!await CompletePurchaseAsync(i, c, tx))
                return new InvoiceDecision(null, Refusal: ApiError.Unprocessable(ErrorCodes.WalletNotActive,
                    "the credit purchase of this invoice was cancelled (its wallet was closed); nothing was charged"));
        }
        else after = after with { PaymentStatus = PaymentStatuses.Pending };
        outbox.Add(writes, i.TenantId, EventTypes.PaymentSucceeded, null, 1, PaymentDto.From(row, i.InvoiceNumber));
        return new InvoiceDecision(after, row);
    }

    /// <summary>
    /// The paid invoice of a credit purchase grants its credits, in this same transaction. False when the
    /// purchase is no longer pending: under the invoice's lock that means its wallet was closed, never that
    /// it was already granted (that would need the invoice already paid).
    /// </summary>
    async Task<bool> CompletePurchaseAsync(InvoiceRow i, DbConnection c, DbTransaction tx)
    {
        if (i.WalletId is null || i.WalletTransactionId is null) return true;
        var results = await OnPurchaseAsync(i, c, tx, id => new WalletCommand.CompletePending(id));
        return results[0] is WriteResult.Applied;
    }

    /// <summary>The purchase's pending credits (the credits, and a package's bonus) move together.</summary>
    async Task<WriteResult[]> OnPurchaseAsync(InvoiceRow i, DbConnection c, DbTransaction tx, Func<string, WalletCommand> command)
    {
        var pending = new[] { i.WalletTransactionId, i.BonusTransactionId }.OfType<string>()
            .Select(id => new WalletWriter.Pending(i.TenantId, i.WalletId!, new WalletOperation(_ => command(id), new EntryDetails(), null, _ => new { })))
            .ToList();
        var (results, _) = await writer.ExecuteInAsync(c, tx, pending, CancellationToken.None);
        return results;
    }

    async Task FailPurchaseAsync(InvoiceRow i, DbConnection c, DbTransaction tx)
    {
        if (i.WalletId is null || i.WalletTransactionId is null) return;
        await OnPurchaseAsync(i, c, tx, id => new WalletCommand.FailPending(id));
    }

    internal async Task<InvoiceOutcome> WithInvoiceAsync(
        string tenantId, string id, Func<InvoiceRow, DbConnection, DbTransaction, SqlBatch, DateTimeOffset, Task<InvoiceDecision>> decide,
        string eventType)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        var tx = scope.Transaction;
        var invoice = await c.QuerySingleAsync(tx,
            $"SELECT {InvoiceRow.Columns} FROM invoices WHERE tenant_id = @t AND id = @id{db.ForUpdate}",
            InvoiceRow.Read, ("t", tenantId), ("id", id));
        if (invoice is null) return new InvoiceOutcome.NotFound();
        var now = clock.GetUtcNow();
        var writes = new SqlBatch();
        var decision = await decide(invoice, c, tx, writes, now);
        if (decision.Refusal is { } refusal) return new InvoiceOutcome.Refused(refusal);
        var after = decision.After!;
        if (after != invoice)
        {
            after = after with { Version = invoice.Version + 1, UpdatedAt = now };
            InvoiceRow.UpdateState(writes, after);
            outbox.Add(writes, tenantId, eventType, null, after.Version, InvoiceDtos.Invoice(after, null));
        }
        await writes.ExecuteAsync(c, tx);
        await scope.CommitAsync();
        return new InvoiceOutcome.Done(after, decision.Payment);
    }
}
