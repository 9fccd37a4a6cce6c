using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Payments.Gateways;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Payments;

public static class RefundDestinations
{
    public const string Wallet = "wallet";
    public const string Original = "original";
    public const string Offline = "offline";
}

public sealed record RefundPaymentRequest(decimal? Amount, string? Destination, string? Reason, string? IdempotencyKey = null);

/// <summary>
/// Where the credits of a wallet refund went: a new lot per consumed lot, keeping its expiry (when still ahead) and
/// priority. Store credit for a card payment consumed no lot, so its <c>LotId</c> is null.
/// </summary>
public sealed record RefundedLot(string? LotId, string NewLotId, decimal Credits, DateTimeOffset? ExpiryDate, int? Priority);

public sealed record PaymentRefundDto(
    string Id, string PaymentId, decimal Amount, string Currency, string Destination, string Status, string? Reason,
    IReadOnlyList<RefundedLot> Lots, DateTimeOffset CreatedAt);

public sealed record RefundPaymentResponse(PaymentRefundDto Refund, PaymentDto Payment);

/// <summary>A card or payment-link payment that bought a lot, with what it has left to refund.</summary>
public sealed record PurchasePayment(string PaymentId, string InvoiceId, decimal Left, decimal RefundedBefore);

public abstract record RefundOutcome
{
    private RefundOutcome() { }
    public sealed record Refunded(RefundPaymentResponse Response) : RefundOutcome;
    public sealed record Refused(Refusal Reason) : RefundOutcome;
    /// <summary>The request's key was used before: replay or refuse; nothing was refunded.</summary>
    public sealed record KeyUsed(IdempotencyCheck Check) : RefundOutcome;
}

/// <summary>
/// Refunds of payments: never more than was paid and not yet refunded, decided under the invoice's lock. A
/// wallet payment's credits go back to its wallet by default, as new lots that keep the consumed lots' expiry
/// (where still in the future) and priority; a card payment goes back to the card through the gateway; any
/// payment can be refunded offline (recorded, paid out elsewhere).
/// </summary>
public sealed class RefundService(Database db, InvoiceService invoices, WalletWriter writer, GatewayRegistry gateways, OutboxWriter outbox, Ids ids,
    TimeProvider clock)
{
    /// <summary>
    /// Refunds a payment. With a key, a wallet or offline refund stores its answer in the refunding transaction; a
    /// card refund claims the key when it reserves the amount and stores the answer with the gateway's (or gives
    /// the key up when nothing was refunded).
    /// </summary>
    public async Task<RefundOutcome> RefundAsync(
        string tenantId, string paymentId, decimal? amount, string? destination, string? reason, IdempotencyClaim? claim, HttpRequest? request)
    {
        PaymentRow? payment;
        await using (var c = await db.OpenAsync())
            payment = await c.QuerySingleAsync(null, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
                PaymentRow.Read, ("t", tenantId), ("id", paymentId));
        if (payment is null) return new RefundOutcome.Refused(Refusal.NotFound("payment"));
        var to = destination ?? payment.PaymentMethodType switch
        {
            PaymentMethodTypes.Credits => RefundDestinations.Wallet,
            PaymentMethodTypes.Card or PaymentMethodTypes.PaymentLink => RefundDestinations.Original,
            _ => RefundDestinations.Offline,
        };
        if (to == RefundDestinations.Wallet && payment.PaymentMethodType is not (PaymentMethodTypes.Credits or PaymentMethodTypes.Card or PaymentMethodTypes.PaymentLink))
            return new RefundOutcome.Refused(Refusal.Invalid("only a wallet, card or payment-link payment can be refunded to a wallet"));
        if (to == RefundDestinations.Original && payment.PaymentMethodType is not (PaymentMethodTypes.Card or PaymentMethodTypes.PaymentLink))
            return new RefundOutcome.Refused(Refusal.Invalid("only a card or payment-link payment can be refunded to its original method"));
        return to == RefundDestinations.Original
            ? await RefundToCardAsync(payment, amount, reason, claim, request)
            : await RefundHereAsync(payment, amount, to, reason, claim);
    }

    static Refusal? Check(PaymentRow p, InvoiceRow i, decimal amount)
    {
        if (p.PaymentStatus is not (PaymentStatuses.Succeeded or PaymentStatuses.PartiallyRefunded))
            return Refusal.Invalid($"a {p.PaymentStatus} payment cannot be refunded");
        if (i.WalletTransactionId is not null)
            return Refusal.Invalid("a credit purchase is refunded by closing its wallet with a refund of purchased credits");
        if (amount <= 0) return Refusal.Invalid("amount must be greater than zero");
        if (amount > p.Amount - p.RefundedAmount)
            return Refusal.Invalid($"amount {amount} is more than the {p.Amount - p.RefundedAmount} {p.Currency} not yet refunded");
        if (Money.Scale(amount) > Currencies.MinorUnits(p.Currency.ToUpperInvariant()))
            return Refusal.Invalid($"amount has more decimal places than {p.Currency} allows");
        return null;
    }

    /// <summary>Wallet and offline refunds: everything in one transaction under the invoice's lock.</summary>
    async Task<RefundOutcome> RefundHereAsync(PaymentRow original, decimal? amount, string destination, string? reason, IdempotencyClaim? claim)
    {
        RefundPaymentResponse? response = null;
        var outcome = await invoices.WithInvoiceAsync(original.TenantId, original.DestinationId, async (i, c, tx, writes, now) =>
        {
            // The payment read under the lock is the one decided on; the first read only chose the invoice.
            var p = await Load(c, tx, original);
            var value = amount ?? p.Amount - p.RefundedAmount;
            if (Check(p, i, value) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);
            var refundId = ids.New("refund");
            List<RefundedLot> lots = [];
            string? walletId = null;
            if (destination == RefundDestinations.Wallet)
            {
                Refusal? error;
                (lots, walletId, error) = p.PaymentMethodType == PaymentMethodTypes.Credits
                    ? await ReturnCreditsAsync(p, value, refundId, c, tx, now)
                    : await GrantStoreCreditAsync(p, i, value, refundId, c, tx);
                if (error is not null) return new InvoiceDecision(null, Refusal: error);
            }
            var refund = Record(writes, p, refundId, value, destination, "succeeded", reason, lots, now, walletId: walletId);
            var after = Refunded(p, value, now);
            PaymentRow.UpdateState(writes, after);
            response = new RefundPaymentResponse(refund, PaymentDto.From(after, i.InvoiceNumber));
            return new InvoiceDecision(WithRefund(i, value));
        }, EventTypes.InvoicePaymentUpdated, claim is null ? null : new Keyed<InvoiceOutcome.Done>(claim, _ => Task.FromResult(StoredAnswer.Of(201, response!))));
        return Outcome(outcome, response);
    }

    static RefundOutcome Outcome(InvoiceOutcome outcome, RefundPaymentResponse? response) => outcome switch
    {
        InvoiceOutcome.Done => new RefundOutcome.Refunded(response!),
        InvoiceOutcome.Refused r => new RefundOutcome.Refused(r.Reason),
        InvoiceOutcome.KeyUsed k => new RefundOutcome.KeyUsed(k.Check),
        _ => new RefundOutcome.Refused(Refusal.NotFound("invoice")),
    };

    /// <summary>
    /// Card refunds: the amount is reserved under the lock, the gateway is asked with no lock held, and the
    /// answer is recorded under the lock again; a failure releases the reservation.
    /// </summary>
    async Task<RefundOutcome> RefundToCardAsync(PaymentRow original, decimal? amount, string? reason, IdempotencyClaim? claim, HttpRequest? request)
    {
        var refundId = ids.New("refund");
        decimal value = 0m;
        PaymentRow? reserved = null;
        var reserve = await invoices.WithInvoiceAsync(original.TenantId, original.DestinationId, async (i, c, tx, writes, now) =>
        {
            var p = await Load(c, tx, original);
            value = amount ?? p.Amount - p.RefundedAmount;
            if (Check(p, i, value) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);
            if (p.GatewayPaymentId is null) return new InvoiceDecision(null, Refusal: Refusal.Invalid("the payment has no gateway charge to refund"));
            Record(writes, p, refundId, value, RefundDestinations.Original, "pending", reason, [], now, claim?.Key);
            reserved = p with { RefundedAmount = p.RefundedAmount + value, UpdatedAt = now };
            PaymentRow.UpdateState(writes, reserved);
            return new InvoiceDecision(i);
            // The key is claimed with the reservation, in progress, and completed (or given up) with the gateway's answer.
        }, EventTypes.InvoicePaymentUpdated, claim is null ? null : new Keyed<InvoiceOutcome.Done>(claim, null));
        if (reserve is not InvoiceOutcome.Done) return Outcome(reserve, null);

        var gateway = await gateways.ForTenantAsync(original.TenantId, request);
        if (gateway is null || gateway.Name != original.PaymentGateway)
        {
            // The money went through another gateway than the tenant can use now: refunding here would move nothing.
            await ReleaseAsync(original, refundId, value, claim);
            return new RefundOutcome.Refused(Refusal.Invalid(
                $"the payment was made through {original.PaymentGateway}, but the tenant now uses {gateway?.Name ?? "no gateway"}; refund it offline"));
        }
        var request_ = new RefundRequest(original.Id, reserved!.GatewayPaymentId!, value, original.Currency, refundId);
        RefundResult result;
        try
        {
            result = await gateway.RefundAsync(request_, CancellationToken.None);
        }
        catch (Exception)
        {
            // The gateway may have made the refund: it stays pending (and reserved) until the reconciler asks again.
            var pending = new PaymentRefundDto(refundId, original.Id, value, original.Currency, RefundDestinations.Original, "pending", reason, [], clock.GetUtcNow());
            var answer = new RefundPaymentResponse(pending, PaymentDto.From((await LoadAsync(original.TenantId, original.Id))!, reserve is InvoiceOutcome.Done d ? d.Invoice.InvoiceNumber : null));
            // The pending answer is this request's answer, so a retry replays it; the refund settles on its own.
            if (claim is not null) await CompleteAsync(original.TenantId, claim, StoredAnswer.Of(201, answer));
            return new RefundOutcome.Refunded(answer);
        }
        var (refund, after) = await SettleCardRefundAsync(original.TenantId, original.DestinationId, original.Id, refundId, value, reason, result, claim);
        return result is RefundResult.Succeeded
            ? new RefundOutcome.Refunded(new RefundPaymentResponse(refund!, PaymentDto.From(after!, reserve is InvoiceOutcome.Done d2 ? d2.Invoice.InvoiceNumber : null)))
            : new RefundOutcome.Refused(new Refusal(ErrorCodes.GatewayError, $"the gateway refused the refund: {((RefundResult.Failed)result).Message}; nothing was refunded"));
    }

    async Task CompleteAsync(string tenantId, IdempotencyClaim claim, StoredAnswer answer)
    {
        await using var scope = await db.BeginWriteAsync();
        var writes = new SqlBatch();
        Idempotency.Complete(writes, tenantId, claim, answer);
        await writes.ExecuteAsync(scope.Connection, scope.Transaction);
        await scope.CommitAsync();
    }

    /// <summary>
    /// Records the gateway's answer to a card refund under the invoice's lock, exactly once: a refund no longer
    /// pending is left alone, so the first answer (the request's own, a webhook's, or the reconciler's) wins.
    /// With the request's <paramref name="claim"/>, its answer is stored (or the key given up) in the same transaction.
    /// </summary>
    async Task<(PaymentRefundDto? Refund, PaymentRow? Payment)> SettleCardRefundAsync(string tenantId, string invoiceId, string paymentId, string refundId,
        decimal value, string? reason, RefundResult result, IdempotencyClaim? claim = null)
    {
        var succeeded = result is RefundResult.Succeeded;
        PaymentRefundDto? refund = null;
        PaymentRow? after = null;
        await invoices.WithInvoiceAsync(tenantId, invoiceId, async (i, c, tx, writes, now) =>
        {
            var p = await Load(c, tx, tenantId, paymentId);
            var row = await c.QuerySingleAsync(tx, "SELECT status, idempotency_key FROM refunds WHERE tenant_id = @t AND id = @id",
                r => new { Status = r.Str("status"), Key = r.NStr("idempotency_key") }, ("t", tenantId), ("id", refundId));
            after = p;
            if (row?.Status != "pending") return new InvoiceDecision(i);
            // Settled by the reconciler or a webhook, the request that reserved it is answered too (its key is on the refund).
            var key = claim?.Key ?? row.Key;
            writes.Add("UPDATE refunds SET status = @s, gateway_refund_id = @g WHERE tenant_id = @t AND id = @id",
                ("s", succeeded ? "succeeded" : "failed"), ("g", (result as RefundResult.Succeeded)?.GatewayRefundId), ("t", tenantId), ("id", refundId));
            refund = new PaymentRefundDto(refundId, p.Id, value, p.Currency, RefundDestinations.Original, succeeded ? "succeeded" : "failed", reason, [], now);
            if (!succeeded)
            {
                after = p with { RefundedAmount = p.RefundedAmount - value, UpdatedAt = now };
                PaymentRow.UpdateState(writes, after);
                if (key is not null) Idempotency.ReleaseInProgress(writes, tenantId, key);
                return new InvoiceDecision(i);
            }
            // The reservation already counted the amount; now the statuses say so.
            after = Refunded(p with { RefundedAmount = p.RefundedAmount - value }, value, now);
            PaymentRow.UpdateState(writes, after);
            outbox.Add(writes, tenantId, EventTypes.PaymentRefunded, null, 1, refund);
            if (key is not null)
                Idempotency.CompleteInProgress(writes, tenantId, key, StoredAnswer.Of(201, new RefundPaymentResponse(refund, PaymentDto.From(after, i.InvoiceNumber))));
            return new InvoiceDecision(WithRefund(i, value));
        }, EventTypes.InvoicePaymentUpdated);
        return (refund, after);
    }

    /// <summary>
    /// Finishes a refund to the card whose answer never came (a crash or a time-out mid-call), or a refund due
    /// recorded for money an invoice could not keep: the gateway is asked with the refund's own id as its
    /// idempotency key, so asking again never refunds twice. Safe from any node at any time.
    /// </summary>
    public async Task ReconcileAsync(string tenantId, string refundId)
    {
        await using var c = await db.OpenAsync();
        var row = await c.QuerySingleAsync(null,
            """
            SELECT r.payment_id, r.amount, r.reason, p.destination_id, p.payment_gateway, p.gateway_payment_id, p.currency
            FROM refunds r JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id
            WHERE r.tenant_id = @t AND r.id = @id AND r.status = 'pending' AND r.destination = 'original'
            """,
            r => new { Payment = r.Str("payment_id"), Amount = r.Dec("amount"), Reason = r.NStr("reason"), Invoice = r.Str("destination_id"),
                Gateway = r.NStr("payment_gateway"), GatewayPayment = r.NStr("gateway_payment_id"), Currency = r.Str("currency") },
            ("t", tenantId), ("id", refundId));
        if (row is null) return;
        var gateway = await gateways.ForPaymentAsync(tenantId, row.Gateway);
        if (gateway is null || row.GatewayPayment is null) return;
        var result = await gateway.RefundAsync(new RefundRequest(row.Payment, row.GatewayPayment, row.Amount, row.Currency, refundId), CancellationToken.None);
        await SettleCardRefundAsync(tenantId, row.Invoice, row.Payment, refundId, row.Amount, row.Reason, result);
    }

    /// <summary>
    /// For a wallet's close with refunds to the original payment method, inside the close's transaction and before the
    /// wallet's lock: locks the invoices of the wallet's credit purchases (in id order) and answers, per purchased lot,
    /// the card and payment-link payments that bought it through <paramref name="gateway"/>, with what each has left
    /// to refund. Payments are decided under their invoice's lock, so what is read here holds until the commit. A lot
    /// whose purchase is not here (paid offline, a credit note, another gateway) is refunded offline by the close.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<PurchasePayment>>> LockPurchasePaymentsAsync(
        System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string tenantId, string walletId, string? gateway)
    {
        var byLot = new Dictionary<string, IReadOnlyList<PurchasePayment>>();
        if (gateway is null) return byLot;
        var purchases = await c.QueryAsync(tx,
            "SELECT id, wallet_transaction_id FROM invoices WHERE tenant_id = @t AND wallet_id = @w AND wallet_transaction_id IS NOT NULL ORDER BY id",
            r => (Invoice: r.Str("id"), Lot: r.Str("wallet_transaction_id")), ("t", tenantId), ("w", walletId));
        foreach (var (invoice, lot) in purchases)
        {
            LockOrder.Take(tx, LockOrder.Level.Invoice, invoice);
            await c.QuerySingleAsync(tx, $"SELECT id FROM invoices WHERE tenant_id = @t AND id = @id{db.ForUpdate}", r => r.Str("id"), ("t", tenantId), ("id", invoice));
            var paid = await c.QueryAsync(tx,
                """
                SELECT id, amount, refunded_amount FROM payments
                WHERE tenant_id = @t AND destination_id = @i AND payment_method_type IN ('CARD', 'PAYMENT_LINK')
                  AND payment_status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED') AND gateway_payment_id IS NOT NULL AND payment_gateway = @g
                ORDER BY created_at, id
                """,
                r => new PurchasePayment(r.Str("id"), invoice, r.Dec("amount") - r.Dec("refunded_amount"), r.Dec("refunded_amount")),
                ("t", tenantId), ("i", invoice), ("g", gateway));
            if (paid.Count > 0) byLot[lot] = paid;
        }
        return byLot;
    }

    /// <summary>
    /// Reserves a refund to the card inside a wallet's close (under the invoice locks taken by
    /// <see cref="LockPurchasePaymentsAsync"/>): the pending refund and the payment's reserved amount, as
    /// a card refund of a payment reserves one; <see cref="SendAsync"/> asks the gateway after the commit.
    /// </summary>
    public static void ReserveForClose(SqlBatch writes, string tenantId, string walletId, PurchasePayment payment, string refundId, decimal value,
        string currency, IReadOnlyList<string> lotIds, DateTimeOffset now)
    {
        writes.Add(
            """
            INSERT INTO refunds (tenant_id, id, wallet_id, payment_id, amount, currency, destination, status, details, created_at, reason)
            VALUES (@t, @id, @w, @p, @amount, @cur, 'original', 'pending', @details, @now, @reason)
            """,
            ("t", tenantId), ("id", refundId), ("w", walletId), ("p", payment.PaymentId), ("amount", value), ("cur", currency),
            ("details", Json.Serialize(lotIds)), ("now", now), ("reason", "wallet closed"));
        // Read under the invoice's lock, so the amount written is computed from a value no one else can change before the commit.
        writes.Add("UPDATE payments SET refunded_amount = @v, updated_at = @now WHERE tenant_id = @t AND id = @p",
            ("v", payment.RefundedBefore + value), ("now", now), ("t", tenantId), ("p", payment.PaymentId));
    }

    /// <summary>
    /// Asks the gateway for a reserved refund now (after the commit that reserved it, with no lock held) and answers its
    /// status: succeeded, failed, or pending when the gateway did not answer (the reconciler asks again with the same key).
    /// </summary>
    public async Task<string> SendAsync(string tenantId, string refundId)
    {
        try
        {
            await ReconcileAsync(tenantId, refundId);
        }
        catch (Exception)
        {
            // The gateway may have made the refund: it stays pending (and reserved) until the reconciler asks again.
        }
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, "SELECT status FROM refunds WHERE tenant_id = @t AND id = @id", r => r.Str("status"), ("t", tenantId), ("id", refundId))
            ?? "pending";
    }

    /// <summary>The gateway reported a refund's outcome on its own (a webhook): record it if it is still pending.</summary>
    public async Task ReportAsync(string tenantId, string refundId, RefundResult result)
    {
        await using var c = await db.OpenAsync();
        var row = await c.QuerySingleAsync(null,
            """
            SELECT r.payment_id, r.amount, r.reason, p.destination_id FROM refunds r JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id
            WHERE r.tenant_id = @t AND r.id = @id AND r.status = 'pending'
            """,
            r => new { Payment = r.Str("payment_id"), Amount = r.Dec("amount"), Reason = r.NStr("reason"), Invoice = r.Str("destination_id") },
            ("t", tenantId), ("id", refundId));
        if (row is not null) await SettleCardRefundAsync(tenantId, row.Invoice, row.Payment, refundId, row.Amount, row.Reason, result);
    }

    async Task<PaymentRow?> LoadAsync(string tenantId, string paymentId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
            PaymentRow.Read, ("t", tenantId), ("id", paymentId));
    }

    static Task<PaymentRow> Load(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, PaymentRow p) => Load(c, tx, p.TenantId, p.Id);

    static async Task<PaymentRow> Load(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string tenantId, string id) =>
        await c.QuerySingleAsync(tx, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
            PaymentRow.Read, ("t", tenantId), ("id", id)) ?? throw new InvalidOperationException($"payment {id} vanished");

    /// <summary>Gives back a reservation made for a refund that will not be asked of the gateway.</summary>
    async Task ReleaseAsync(PaymentRow original, string refundId, decimal value, IdempotencyClaim? claim) =>
        await invoices.WithInvoiceAsync(original.TenantId, original.DestinationId, async (i, c, tx, writes, now) =>
        {
            var p = await Load(c, tx, original);
            writes.Add("UPDATE refunds SET status = 'failed' WHERE tenant_id = @t AND id = @id", ("t", original.TenantId), ("id", refundId));
            PaymentRow.UpdateState(writes, p with { RefundedAmount = p.RefundedAmount - value, UpdatedAt = now });
            if (claim is not null) Idempotency.Release(writes, original.TenantId, claim);
            return new InvoiceDecision(i);
        }, EventTypes.InvoicePaymentUpdated);

    static PaymentRow Refunded(PaymentRow p, decimal value, DateTimeOffset now)
    {
        var refunded = p.RefundedAmount + value;
        return p with
        {
            RefundedAmount = refunded,
            PaymentStatus = refunded >= p.Amount ? PaymentStatuses.Refunded : PaymentStatuses.PartiallyRefunded,
            RefundedAt = now,
            UpdatedAt = now,
        };
    }

    static InvoiceRow WithRefund(InvoiceRow i, decimal value)
    {
        var refunded = i.RefundedAmount + value;
        return i with { RefundedAmount = refunded, PaymentStatus = refunded >= i.AmountPaid ? PaymentStatuses.Refunded : PaymentStatuses.PartiallyRefunded };
    }

    PaymentRefundDto Record(SqlBatch writes, PaymentRow p, string refundId, decimal value, string destination, string status, string? reason,
        List<RefundedLot> lots, DateTimeOffset now, string? idempotencyKey = null, string? walletId = null)
    {
        writes.Add(
            """
            INSERT INTO refunds (tenant_id, id, wallet_id, payment_id, amount, currency, destination, status, details, created_at, reason, idempotency_key)
            VALUES (@t, @id, @w, @p, @amount, @cur, @dest, @status, @details, @now, @reason, @key)
            """,
            ("t", p.TenantId), ("id", refundId), ("w", walletId), ("p", p.Id),
            ("amount", value), ("cur", p.Currency), ("dest", destination), ("status", status), ("details", Json.Serialize(lots)), ("now", now),
            ("reason", reason), ("key", idempotencyKey));
        var dto = new PaymentRefundDto(refundId, p.Id, value, p.Currency, destination, status, reason, lots, now);
        outbox.Add(writes, p.TenantId, EventTypes.PaymentRefunded, null, 1, dto);
        return dto;
    }

    /// <summary>
    /// Gives a wallet payment's credits back: the share of its debit that the refunded amount is, spread over
    /// the lots the debit consumed (less what earlier refunds returned), each as a new CREDIT_NOTE lot priced like
    /// the lot it replaces.
    /// </summary>
    async Task<(List<RefundedLot> Lots, string? WalletId, Refusal? Error)> ReturnCreditsAsync(
        PaymentRow p, decimal value, string refundId, System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, DateTimeOffset now)
    {
        var debit = await c.QuerySingleAsync(tx, $"SELECT {TransactionRow.Columns} FROM wallet_transactions WHERE tenant_id = @t AND id = @id",
            TransactionRow.Read, ("t", p.TenantId), ("id", p.WalletTransactionId));
        if (debit is null) return ([], null, Refusal.Invalid("the wallet debit of this payment is missing"));
        var consumed = await c.QueryAsync(tx,
            """
            SELECT a.lot_id, a.credits, l.expiry_date, l.priority, l.amount, l.credit_amount FROM allocations a
            JOIN wallet_transactions l ON l.tenant_id = a.tenant_id AND l.id = a.lot_id
            WHERE a.tenant_id = @t AND a.debit_id = @d ORDER BY a.created_at, a.lot_id
            """,
            r => (Lot: r.Str("lot_id"), Credits: r.Dec("credits"), Expiry: r.NTime("expiry_date"), Priority: r.NInt("priority"),
                Paid: r.Dec("amount"), LotCredits: r.Dec("credit_amount")),
            ("t", p.TenantId), ("d", debit.Id));
        var earlier = (await c.QueryAsync(tx, "SELECT details FROM refunds WHERE tenant_id = @t AND payment_id = @p AND destination = 'wallet'",
                r => Json.Deserialize<List<RefundedLot>>(r.Str("details")) ?? [], ("t", p.TenantId), ("p", p.Id)))
            .SelectMany(l => l).Where(l => l.LotId is not null).GroupBy(l => l.LotId!).ToDictionary(g => g.Key, g => g.Sum(l => l.Credits));

        var owed = value + p.RefundedAmount >= p.Amount
            ? debit.CreditAmount - earlier.Values.Sum()
            : Math.Min(Math.Round(debit.CreditAmount * value / p.Amount, Money.CreditScale, MidpointRounding.ToZero), debit.CreditAmount - earlier.Values.Sum());
        var lots = new List<RefundedLot>();
        var ops = new List<WalletWriter.Pending>();
        foreach (var (lotId, credits, expiry, priority, paid, lotCredits) in consumed)
        {
            if (owed <= 0) break;
            var give = Math.Min(credits - earlier.GetValueOrDefault(lotId), owed);
            if (give <= 0) continue;
            owed -= give;
            var newId = ids.New("wtx");
            var keep = expiry > now ? expiry : null;
            lots.Add(new RefundedLot(lotId, newId, give, keep, priority));
            ops.Add(new WalletWriter.Pending(p.TenantId, debit.WalletId, new WalletOperation(
                // The returned credits keep the price per credit of the lot they came from.
                _ => new WalletCommand.Credit(newId, give, Money.ShareOf(paid, give, lotCredits, Money.CreditScale), Reasons.CreditNote, keep, priority),
                new EntryDetails($"Refund {refundId} of payment {p.Id}", ReferenceType: "PAYMENT", ReferenceId: p.Id), null, _ => new { })));
        }
        if (ops.Count == 0) return ([], null, Refusal.Invalid("the payment's credits have all been returned already"));
        if (await ApplyAsync(c, tx, ops) is { } refusal) return ([], null, refusal);
        return (lots, debit.WalletId, null);
    }

    /// <summary>
    /// Store credit for a card or payment-link payment: no money goes back to the card; the amount becomes credits in
    /// the customer's active wallet of the payment's currency, bought at that wallet's top-up price, so the new lot
    /// is worth exactly the amount refunded when the wallet is closed or refunded later. A customer without such a
    /// wallet is refused, as Stripe refuses a balance in a currency the customer has no balance in: a wallet is
    /// never created on the side of a refund.
    /// </summary>
    async Task<(List<RefundedLot> Lots, string? WalletId, Refusal? Error)> GrantStoreCreditAsync(
        PaymentRow p, InvoiceRow i, decimal value, string refundId, System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx)
    {
        var wallet = await c.QuerySingleAsync(tx,
            """
            SELECT id, topup_conversion_rate FROM wallets
            WHERE tenant_id = @t AND customer_id = @c AND currency = @cur AND wallet_status = 'active' ORDER BY created_at, id LIMIT 1
            """,
            r => new { Id = r.Str("id"), Price = r.Dec("topup_conversion_rate") }, ("t", p.TenantId), ("c", i.CustomerId), ("cur", p.Currency));
        if (wallet is null)
            return ([], null, new Refusal(ErrorCodes.NoActiveWallet,
                $"the customer has no active {p.Currency} wallet to take store credit; create one, or refund to the card or offline"));
        // Credits are rounded down so the lot is never worth more than the money refunded into it.
        var credits = Math.Round(value / wallet.Price, Money.CreditScale, MidpointRounding.ToZero);
        if (credits <= 0) return ([], null, Refusal.Invalid($"amount {value} buys no credit at the wallet's price of {wallet.Price} per credit"));
        var newId = ids.New("wtx");
        List<WalletWriter.Pending> ops = [new(p.TenantId, wallet.Id, new WalletOperation(
            _ => new WalletCommand.Credit(newId, credits, value, Reasons.CreditNote, null, null),
            new EntryDetails($"Store credit {refundId} for payment {p.Id}", ReferenceType: "PAYMENT", ReferenceId: p.Id), null, _ => new { }))];
        if (await ApplyAsync(c, tx, ops) is { } refusal) return ([], null, refusal);
        return ([new RefundedLot(null, newId, credits, null, null)], wallet.Id, null);
    }

    async Task<Refusal?> ApplyAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, List<WalletWriter.Pending> ops)
    {
        var (results, _) = await writer.ExecuteInAsync(c, tx, ops, CancellationToken.None);
        if (results.FirstOrDefault(r => r is not WriteResult.Applied) is { } refused)
            return refused is WriteResult.Refused { Why: WalletRefusal.Rejected { Outcome: CommandOutcome.WalletNotActive n } }
                ? new Refusal(ErrorCodes.WalletNotActive, $"the wallet is {n.Status}; refund to the original method or offline instead")
                : Refusal.OfWallet(((WriteResult.Refused)refused).Why);
        return null;
    }
}

public static class RefundApi
{
    public static void MapRefunds(this RouteGroupBuilder v1) =>
        v1.MapPost("/payments/{id}/refund", Refund).WithTags("Payments").WithName("refundPayment")
            .WithSummary("Refund a payment to its wallet, its card, as store credit, or offline")
            .WithDescription("destination: wallet (default for CREDITS payments; for CARD and PAYMENT_LINK payments, store credit as a CREDIT_NOTE lot " +
                "in the customer's active wallet of the payment's currency at its top-up rate, else 422 no_active_wallet), original (default for " +
                "CARD and PAYMENT_LINK: through the gateway) or offline. Never more than was paid and not yet refunded.");

    static async Task<Results<Created<RefundPaymentResponse>, JsonReplay, ApiError>> Refund(
        Tenant tenant, string id, RefundPaymentRequest? body, RefundService refunds, HttpRequest http)
    {
        var v = new Validator();
        var amount = v.Amount("amount", body?.Amount);
        var destination = v.OneOf("destination", body?.Destination,
            new HashSet<string> { RefundDestinations.Wallet, RefundDestinations.Original, RefundDestinations.Offline });
        var reason = v.Text("reason", body?.Reason, max: Limits.MaxDescriptionLength);
        var key = WalletApi.IdempotencyKey(v, body?.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();
        var claim = IdempotencyClaim.For(key, "refund", new { payment = id, amount, destination, reason });
        return await refunds.RefundAsync(tenant.Id, id, amount, destination, reason, claim, http) switch
        {
            RefundOutcome.Refunded r => TypedResults.Created($"/v1/payments/{id}", r.Response),
            RefundOutcome.KeyUsed { Check: IdempotencyCheck.Replay r } => new JsonReplay(r.Answer),
            RefundOutcome.KeyUsed k => Idempotency.Refusal(k.Check)!,
            RefundOutcome.Refused r => r.Reason.ToHttp(),
            _ => throw new InvalidOperationException("unknown refund outcome"),
        };
    }
}
