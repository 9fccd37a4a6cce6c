using Coffer.Common;
using Coffer.Invoices;
using Coffer.Payments.Gateways;
using Coffer.Storage;

namespace Coffer.Payments;

public sealed record CheckoutView(string TenantId, string PaymentId, string InvoiceId, string Gateway, string GatewaySessionId, string Status,
    decimal Amount, string Currency, string? Description, string? SuccessUrl, string? CancelUrl, DateTimeOffset ExpiresAt);

/// <summary>
/// Payments that go through a gateway. A payment is recorded (PROCESSING) before the gateway is called and
/// settled under the invoice's lock after it answers, so the gateway call never holds a database lock and a
/// crash in between leaves a payment to reconcile rather than money unaccounted for.
/// </summary>
public sealed class PaymentService(Database db, InvoiceService invoices, GatewayRegistry gateways, PaymentMethodStore methods)
{
    public async Task<InvoiceOutcome> ChargeSavedMethodAsync(InvoiceRow invoice, PaymentMethodRow method, decimal amount, string? idempotencyKey,
        HttpRequest? request, CancellationToken ct = default)
    {
        var gateway = await gateways.ForTenantAsync(invoice.TenantId, request);
        if (method.Gateway != gateway.Name)
            return new InvoiceOutcome.Refused(ApiError.Validation($"payment method {method.Id} belongs to {method.Gateway}, but the tenant's gateway is {gateway.Name}"));
        var payment = await invoices.BeginGatewayPaymentAsync(invoice, PaymentMethodTypes.Card, method.Id, gateway.Name, amount,
            PaymentStatuses.Processing, idempotencyKey);
        var result = await gateway.ChargeAsync(new ChargeRequest(payment.Id, invoice.CustomerId, null, method.Token!, amount, invoice.Currency,
            $"Invoice {invoice.InvoiceNumber ?? invoice.Id}"), ct);
        return result switch
        {
            ChargeResult.Succeeded s => await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, true, s.GatewayPaymentId, null),
            ChargeResult.Declined d => await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, false, d.GatewayPaymentId, $"{d.Code}: {d.Message}"),
            ChargeResult.RequiresAction r => await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, false, r.GatewayPaymentId, $"requires_action: {r.Message}"),
            _ => throw new InvalidOperationException($"unknown charge result {result}"),
        };
    }

    public async Task<(PaymentRow? Payment, ApiError? Error)> CreatePaymentLinkAsync(InvoiceRow invoice, decimal amount, string? successUrl, string? cancelUrl,
        string? idempotencyKey, HttpRequest? request, CancellationToken ct = default)
    {
        var gateway = await gateways.ForTenantAsync(invoice.TenantId, request);
        var payment = await invoices.BeginGatewayPaymentAsync(invoice, PaymentMethodTypes.PaymentLink, null, gateway.Name, amount,
            PaymentStatuses.Initiated, idempotencyKey);
        var baseUrl = gateways.PublicBaseUrl(request);
        var description = $"Invoice {invoice.InvoiceNumber ?? invoice.Id}";
        var created = await gateway.CreateCheckoutAsync(new CheckoutRequest(payment.Id, amount, invoice.Currency, description,
            successUrl ?? $"{baseUrl}/checkout/done", cancelUrl ?? $"{baseUrl}/checkout/cancelled", null), ct);
        if (created is not CheckoutResult.Created session)
        {
            await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, false, null, ((CheckoutResult.Failed)created).Message);
            return (null, new ApiError(502, "gateway_error", $"the gateway could not create a checkout: {((CheckoutResult.Failed)created).Message}"));
        }
        await invoices.SetPaymentLinkAsync(payment, session.Url, session.SessionId, successUrl, cancelUrl, description);
        return (payment with { PaymentStatus = PaymentStatuses.Pending, PaymentUrl = session.Url }, null);
    }

    public async Task<CheckoutView?> FindCheckoutAsync(string gateway, string gatewaySessionId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null,
            """
            SELECT s.tenant_id, s.payment_id, p.destination_id, s.gateway, s.gateway_session_id, s.status, s.amount, s.currency, s.description,
                   s.success_url, s.cancel_url, s.expires_at
            FROM checkout_sessions s JOIN payments p ON p.tenant_id = s.tenant_id AND p.id = s.payment_id
            WHERE s.gateway = @g AND s.gateway_session_id = @s
            """,
            r => new CheckoutView(r.Str("tenant_id"), r.Str("payment_id"), r.Str("destination_id"), r.Str("gateway"), r.Str("gateway_session_id"),
                r.Str("status"), r.Dec("amount"), r.Str("currency"), r.NStr("description"), r.NStr("success_url"), r.NStr("cancel_url"),
                r.Time("expires_at")),
            ("g", gateway), ("s", gatewaySessionId));
    }

    /// <summary>A checkout was paid (or failed) at the gateway: settle its payment, once, however often this is reported.</summary>
    public async Task<InvoiceOutcome> CompleteCheckoutAsync(CheckoutView session, bool succeeded, string? gatewayPaymentId, string? error)
    {
        var outcome = await invoices.SettleAsync(session.TenantId, session.InvoiceId, session.PaymentId, succeeded, gatewayPaymentId, error);
        if (succeeded)
        {
            await using var scope = await db.BeginWriteAsync();
            await scope.Connection.ExecAsync(scope.Transaction,
                "UPDATE checkout_sessions SET status = 'complete' WHERE gateway = @g AND gateway_session_id = @s",
                ("g", session.Gateway), ("s", session.GatewaySessionId));
            await scope.CommitAsync();
        }
        return outcome;
    }

    /// <summary>
    /// Pays an invoice the way the customer prefers: the wallet of the invoice's currency first (what it can),
    /// then each saved card by priority for what remains, stopping at the first that succeeds.
    /// </summary>
    public async Task<InvoiceOutcome> AttemptAsync(string tenantId, string invoiceId, HttpRequest? request, CancellationToken ct = default)
    {
        var before = await invoices.GetAsync(tenantId, invoiceId);
        if (before is null) return new InvoiceOutcome.NotFound();
        var fromWallet = await invoices.RecordPaymentAsync(tenantId, invoiceId, new PaymentInput(null, PaymentMethodTypes.Credits, null, null, "{}"));
        var invoice = (await invoices.GetAsync(tenantId, invoiceId))!;
        InvoiceOutcome last = fromWallet;
        foreach (var card in (await methods.ForCustomerAsync(tenantId, invoice.CustomerId)).Where(m => m.Type == PaymentMethodKinds.Card))
        {
            if (invoice.InvoiceStatus != InvoiceStatuses.Finalized || invoice.AmountRemaining <= 0) break;
            last = await ChargeSavedMethodAsync(invoice, card, invoice.AmountRemaining, null, request, ct);
            invoice = (await invoices.GetAsync(tenantId, invoiceId))!;
        }
        // Success means this attempt paid something; otherwise the last refusal says why nothing was paid.
        if (invoice.AmountPaid > before.AmountPaid) return new InvoiceOutcome.Done(invoice);
        return last is InvoiceOutcome.Done ? new InvoiceOutcome.Refused(ApiError.Unprocessable(ErrorCodes.PaymentFailed, "no payment method could pay the invoice")) : last;
    }

    /// <summary>Auto-pay: a finalized invoice is paid at once when the customer's first payment method is a wallet.</summary>
    public async Task AutoPayAsync(string tenantId, string invoiceId, string customerId, HttpRequest? request)
    {
        var first = (await methods.ForCustomerAsync(tenantId, customerId)).FirstOrDefault();
        if (first?.Type == PaymentMethodKinds.Wallet) await AttemptAsync(tenantId, invoiceId, request);
    }
}
