using Coffer.Common;
using Coffer.Invoices;
using Coffer.Payments.Gateways;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Payments;

public sealed record CheckoutView(string TenantId, string PaymentId, string InvoiceId, string Gateway, string GatewaySessionId, string Status,
    decimal Amount, string Currency, string? Description, string? SuccessUrl, string? CancelUrl, DateTimeOffset ExpiresAt, string CustomerId,
    bool SaveCardAndMakeDefault);

/// <summary>
/// Payments that go through a gateway. A payment is recorded (PROCESSING) under the invoice's lock before the
/// gateway is called, with its own id as the gateway's idempotency key, and settled under the lock after the
/// gateway answers; the gateway call holds no lock and never observes a shutdown token, since stopping halfway
/// through moving money helps nobody. A crash or a time-out in between leaves a payment that
/// <see cref="ReconcileAsync"/> settles by asking the gateway again with the same key.
/// </summary>
/// <summary>A validated payment request against an invoice (<c>POST /v1/payments</c>, the dashboard's Record Payment).</summary>
public sealed record PaymentOrder(string InvoiceId, decimal Amount, string Currency, string Method, string? MethodId, string? IdempotencyKey,
    Dictionary<string, string>? Metadata, string? SuccessUrl = null, string? CancelUrl = null, bool SaveCardAndMakeDefault = false);

public abstract record PaymentOutcome
{
    private PaymentOutcome() { }
    /// <summary>The payment as recorded (or, for a retry of one still in flight, as it stands once reconciled).</summary>
    public sealed record Made(PaymentRow Payment, string? InvoiceNumber) : PaymentOutcome;
    public sealed record Replayed(StoredAnswer Answer) : PaymentOutcome;
    /// <summary>The key belongs to another request, or to one still in progress.</summary>
    public sealed record KeyRefused(IdempotencyCheck Check) : PaymentOutcome;
    public sealed record Refused(Refusal Reason) : PaymentOutcome;
}

public sealed class PaymentService(Database db, InvoiceService invoices, GatewayRegistry gateways, PaymentMethodStore methods,
    Customers.CustomerStore customers, TimeProvider clock,
    ILogger<PaymentService> log)
{
    /// <summary>
    /// A payment against an invoice: OFFLINE and CREDITS recorded under the invoice's lock, CARD charged through the
    /// gateway, PAYMENT_LINK a hosted checkout. Only what never changes is checked before; whether the invoice can take
    /// this amount now is decided under its lock, counting what is already on its way through a gateway.
    /// </summary>
    public async Task<PaymentOutcome> PayAsync(string tenantId, PaymentOrder order, HttpRequest? request)
    {
        var invoice = await invoices.GetAsync(tenantId, order.InvoiceId);
        if (invoice is null) return new PaymentOutcome.Refused(Refusal.NotFound("invoice"));
        if (invoice.Currency != order.Currency)
            return new PaymentOutcome.Refused(Refusal.Invalid($"the payment is in {order.Currency} but the invoice is in {invoice.Currency}"));
        object asked = new
        {
            destination = order.InvoiceId, amount = order.Amount, currency = order.Currency, method = order.Method, method_id = order.MethodId,
            metadata = order.Metadata ?? [], success_url = order.SuccessUrl, cancel_url = order.CancelUrl,
        };
        var claim = IdempotencyClaim.For(order.IdempotencyKey, "payment", Idempotency.WithSavedCard(asked, order.SaveCardAndMakeDefault));
        if (order.Method == PaymentMethodTypes.PaymentLink)
        {
            var (link, error, used) = await CreatePaymentLinkAsync(invoice, order.Amount, order.SuccessUrl, order.CancelUrl, claim, request,
                order.SaveCardAndMakeDefault);
            if (used is not null) return await KeyUsedAsync(tenantId, used, order.IdempotencyKey!);
            return link is null ? new PaymentOutcome.Refused(error!) : new PaymentOutcome.Made(link, invoice.InvoiceNumber);
        }
        InvoiceOutcome outcome;
        if (order.Method == PaymentMethodTypes.Card)
        {
            var card = await methods.GetAsync(tenantId, order.MethodId!);
            if (card is null || card.CustomerId != invoice.CustomerId || card.Type != PaymentMethodKinds.Card)
                return new PaymentOutcome.Refused(Refusal.NotFound("saved card of the invoice's customer"));
            outcome = await ChargeSavedMethodAsync(invoice, card, order.Amount, claim, request);
        }
        else
        {
            outcome = await invoices.RecordPaymentAsync(tenantId, invoice.Id,
                new PaymentInput(order.Amount, order.Method, order.MethodId, order.IdempotencyKey, Json.Serialize(order.Metadata ?? [])),
                claim is null ? null : new Keyed<InvoiceOutcome.Done>(claim, d => Task.FromResult(StoredAnswer.Of(201, PaymentDto.From(d.Payment!, d.Invoice.InvoiceNumber)))));
        }
        return outcome switch
        {
            InvoiceOutcome.Done { Payment: { } p } d => new PaymentOutcome.Made(p, d.Invoice.InvoiceNumber),
            InvoiceOutcome.KeyUsed k => await KeyUsedAsync(tenantId, k.Check, order.IdempotencyKey!),
            InvoiceOutcome.Refused r => new PaymentOutcome.Refused(r.Reason),
            _ => new PaymentOutcome.Refused(Refusal.NotFound("invoice")),
        };
    }

    /// <summary>
    /// A retry of a payment request: the stored answer when the first one settled, a refusal for a key used for
    /// another request. While the first is still in flight (its gateway's answer was lost) the retry reconciles it,
    /// asking the gateway with the payment's own key, and answers the payment as it then stands.
    /// </summary>
    async Task<PaymentOutcome> KeyUsedAsync(string tenantId, IdempotencyCheck check, string key)
    {
        if (check is IdempotencyCheck.Replay r) return new PaymentOutcome.Replayed(r.Answer);
        if (check is not IdempotencyCheck.InProgress) return new PaymentOutcome.KeyRefused(check);
        var first = await ByKeyAsync(tenantId, key);
        if (first is null) return new PaymentOutcome.KeyRefused(check);
        var now = await ReconcileAsync(tenantId, first.Id, clock.GetUtcNow()) ?? first;
        return new PaymentOutcome.Made(now, (await invoices.GetAsync(tenantId, now.DestinationId))?.InvoiceNumber);
    }

    /// <summary>A page of the tenant's payments, newest first unless asked otherwise, each with its invoice's number.</summary>
    public async Task<ListResponse<PaymentDto>> ListAsync(string tenantId, int limit, int offset, bool ascending, string? destinationId,
        string? paymentStatus, string? methodType)
    {
        var where = Where.Tenant(tenantId)
            .Eq("destination_id", "d", destinationId)
            .Eq("payment_status", "s", paymentStatus)
            .Eq("payment_method_type", "m", methodType);
        await using var c = await db.OpenAsync();
        var page = await c.PageAsync(PaymentRow.Columns, "payments", where, Sql.OrderBy("created_at", ascending), limit, offset, PaymentRow.Read);
        var numbers = new Dictionary<string, string?>();
        if (page.Items.Count > 0)
        {
            var invoiceIds = Where.Tenant(tenantId).In("id", "inv", page.Items.Select(p => p.DestinationId).Distinct().ToList());
            foreach (var (invoiceId, number) in await c.QueryAsync(null, $"SELECT id, invoice_number FROM invoices WHERE {invoiceIds.Sql}",
                         r => (r.Str("id"), r.NStr("invoice_number")), invoiceIds.Args))
                numbers[invoiceId] = number;
        }
        return page.Response(p => PaymentDto.From(p, numbers.GetValueOrDefault(p.DestinationId)));
    }

    /// <summary>Why the tenant cannot take a card payment now (live mode without a live gateway); null when it can.</summary>
    public async Task<Refusal?> CannotChargeAsync(string tenantId, HttpRequest? request = null) => (await gateways.ChooseAsync(tenantId, request)).Refusal;

    public async Task<InvoiceOutcome> ChargeSavedMethodAsync(InvoiceRow invoice, PaymentMethodRow method, decimal amount, IdempotencyClaim? claim,
        HttpRequest? request)
    {
        var choice = await gateways.ChooseAsync(invoice.TenantId, request);
        if (choice.Gateway is not { } gateway) return new InvoiceOutcome.Refused(choice.Refusal!);
        if (method.Gateway != gateway.Name)
            return new InvoiceOutcome.Refused(Refusal.Invalid($"payment method {method.Id} belongs to {method.Gateway}, but the tenant's gateway is {gateway.Name}"));
        switch (await invoices.BeginGatewayPaymentAsync(invoice.TenantId, invoice.Id, PaymentMethodTypes.Card, method.Id, gateway.Name, amount, claim))
        {
            case PaymentStart.Refused r: return new InvoiceOutcome.Refused(r.Reason);
            case PaymentStart.KeyUsed k: return new InvoiceOutcome.KeyUsed(k.Check);
            case PaymentStart.NotFound: return new InvoiceOutcome.NotFound();
            case PaymentStart.Existing e: return new InvoiceOutcome.Done(e.Invoice, e.Payment);
            case PaymentStart.Started s: return await ChargeAsync(gateway, s.Invoice, s.Payment, method.Token!);
            default: throw new InvalidOperationException("unknown payment start");
        }
    }

    /// <summary>Asks the gateway to charge a recorded payment (again: the key is the payment's own) and settles what it answers.</summary>
    async Task<InvoiceOutcome> ChargeAsync(IPaymentGateway gateway, InvoiceRow invoice, PaymentRow payment, string token)
    {
        ChargeResult result;
        try
        {
            // A card saved at a checkout belongs to the gateway's customer, and is charged together with it.
            var gatewayCustomer = await methods.GatewayCustomerAsync(invoice.TenantId, invoice.CustomerId, gateway.Name);
            result = await gateway.ChargeAsync(new ChargeRequest(payment.Id, invoice.CustomerId, gatewayCustomer, token, payment.Amount, invoice.Currency,
                $"Invoice {invoice.InvoiceNumber ?? invoice.Id}"), CancellationToken.None);
        }
        catch (Exception e)
        {
            // The gateway may or may not have charged: the payment stays PROCESSING until it is asked again.
            log.LogWarning(e, "gateway {Gateway} gave no answer for payment {Payment} of invoice {Invoice} of tenant {Tenant}; it stays PROCESSING until reconciled",
                gateway.Name, payment.Id, invoice.Id, invoice.TenantId);
            return new InvoiceOutcome.Done((await invoices.GetAsync(invoice.TenantId, invoice.Id))!, payment);
        }
        return result switch
        {
            ChargeResult.Succeeded s => await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, true, s.GatewayPaymentId, null),
            ChargeResult.Declined d => await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, false, d.GatewayPaymentId, $"{d.Code}: {d.Message}"),
            ChargeResult.RequiresAction r => await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, false, r.GatewayPaymentId, $"requires_action: {r.Message}"),
            _ => throw new InvalidOperationException($"unknown charge result {result}"),
        };
    }

    /// <param name="saveCard">Keep the card it is paid with as the customer's first choice for later charges.</param>
    public async Task<(PaymentRow? Payment, Refusal? Error, IdempotencyCheck? KeyUsed)> CreatePaymentLinkAsync(InvoiceRow invoice, decimal amount,
        string? successUrl, string? cancelUrl, IdempotencyClaim? claim, HttpRequest? request, bool saveCard = false)
    {
        var choice = await gateways.ChooseAsync(invoice.TenantId, request);
        if (choice.Gateway is not { } gateway) return (null, choice.Refusal, null);
        string? gatewayCustomer = null;
        if (saveCard)
        {
            // Made before the payment is recorded, so a gateway that cannot make it leaves nothing behind.
            try { gatewayCustomer = await GatewayCustomerAsync(gateway, invoice.TenantId, invoice.CustomerId); }
            catch (Exception e)
            {
                log.LogWarning(e, "gateway {Gateway} could not make a customer for {Customer} of tenant {Tenant}", gateway.Name, invoice.CustomerId, invoice.TenantId);
                return (null, new Refusal(ErrorCodes.GatewayError, $"the gateway could not set up the customer to save the card: {e.Message}"), null);
            }
        }
        PaymentRow payment;
        switch (await invoices.BeginGatewayPaymentAsync(invoice.TenantId, invoice.Id, PaymentMethodTypes.PaymentLink, null, gateway.Name, amount, claim,
                    saveCard))
        {
            case PaymentStart.Refused r: return (null, r.Reason, null);
            case PaymentStart.KeyUsed k: return (null, null, k.Check);
            case PaymentStart.NotFound: return (null, Refusal.NotFound("invoice"), null);
            case PaymentStart.Existing e: return (e.Payment, null, null);
            case PaymentStart.Started s: payment = s.Payment; break;
            default: throw new InvalidOperationException("unknown payment start");
        }
        var baseUrl = gateways.PublicBaseUrl(request);
        var description = $"Invoice {invoice.InvoiceNumber ?? invoice.Id}";
        CheckoutResult created;
        try
        {
            created = await gateway.CreateCheckoutAsync(new CheckoutRequest(payment.Id, amount, invoice.Currency, description,
                successUrl ?? $"{baseUrl}/checkout/done", cancelUrl ?? $"{baseUrl}/checkout/cancelled", null, gatewayCustomer, saveCard),
                CancellationToken.None);
        }
        catch (Exception e)
        {
            created = new CheckoutResult.Failed(e.Message);
        }
        if (created is not CheckoutResult.Created session)
        {
            // Nothing can be paid through a link that was never made: the key is given up, so a retry tries afresh.
            await invoices.SettleAsync(invoice.TenantId, invoice.Id, payment.Id, false, null, ((CheckoutResult.Failed)created).Message, answersKey: false);
            return (null, new Refusal(ErrorCodes.GatewayError, $"the gateway could not create a checkout: {((CheckoutResult.Failed)created).Message}"), null);
        }
        return await invoices.OpenPaymentLinkAsync(payment, session.Url, session.SessionId, successUrl, cancelUrl, description) switch
        {
            InvoiceOutcome.Done { Payment: { } linked } => (linked, null, null),
            InvoiceOutcome.Refused r => (null, r.Reason, null),
            _ => (null, Refusal.NotFound("invoice"), null),
        };
    }

    public async Task<CheckoutView?> FindCheckoutAsync(string gateway, string gatewaySessionId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null,
            """
            SELECT s.tenant_id, s.payment_id, p.destination_id, s.gateway, s.gateway_session_id, s.status, s.amount, s.currency, s.description,
                   s.success_url, s.cancel_url, s.expires_at, i.customer_id, p.save_card_and_make_default
            FROM checkout_sessions s JOIN payments p ON p.tenant_id = s.tenant_id AND p.id = s.payment_id
                JOIN invoices i ON i.tenant_id = p.tenant_id AND i.id = p.destination_id
            WHERE s.gateway = @g AND s.gateway_session_id = @s
            """,
            r => new CheckoutView(r.Str("tenant_id"), r.Str("payment_id"), r.Str("destination_id"), r.Str("gateway"), r.Str("gateway_session_id"),
                r.Str("status"), r.Dec("amount"), r.Str("currency"), r.NStr("description"), r.NStr("success_url"), r.NStr("cancel_url"),
                r.Time("expires_at"), r.Str("customer_id"), r.NInt("save_card_and_make_default") == 1),
            ("g", gateway), ("s", gatewaySessionId));
    }

    /// <summary>
    /// A checkout was paid (or failed) at the gateway: settle its payment, once, however often this is reported; and
    /// when it asked to, keep the card it was paid with (<paramref name="card"/>, as the gateway reported it).
    /// </summary>
    public async Task<InvoiceOutcome> CompleteCheckoutAsync(CheckoutView session, bool succeeded, string? gatewayPaymentId, string? error,
        SavedCard? card = null)
    {
        var outcome = await invoices.SettleAsync(session.TenantId, session.InvoiceId, session.PaymentId, succeeded, gatewayPaymentId, error);
        if (succeeded)
        {
            await using var scope = await db.BeginWriteAsync();
            await scope.Connection.ExecAsync(scope.Transaction,
                "UPDATE checkout_sessions SET status = 'complete' WHERE gateway = @g AND gateway_session_id = @s",
                ("g", session.Gateway), ("s", session.GatewaySessionId));
            if (session.SaveCardAndMakeDefault && card is not null &&
                await methods.SaveFromCheckoutAsync(scope.Connection, scope.Transaction, session.TenantId, session.CustomerId, session.Gateway,
                    session.GatewaySessionId, card) == PaymentMethodStore.CardSaved.TooMany)
                log.LogWarning("customer {Customer} already has {Max} payment methods; the card paid at checkout {Session} was not saved",
                    session.CustomerId, PaymentMethodApi.MaxMethodsPerCustomer, session.GatewaySessionId);
            await scope.CommitAsync();
        }
        return outcome;
    }

    /// <summary>The gateway's customer for a Coffer customer: the one kept, or a new one made at the gateway and kept.</summary>
    async Task<string?> GatewayCustomerAsync(IPaymentGateway gateway, string tenantId, string customerId)
    {
        if (await methods.GatewayCustomerAsync(tenantId, customerId, gateway.Name) is { } known) return known;
        var customer = await customers.GetAsync(tenantId, customerId);
        var made = await gateway.CreateCustomerAsync(new GatewayCustomerRequest(customerId, customer?.Email, customer?.Name), CancellationToken.None);
        return made is null ? null : await methods.RememberGatewayCustomerAsync(tenantId, customerId, gateway.Name, made);
    }

    /// <summary>The gateway reported a payment's outcome on its own (a webhook): settle it, and close its checkout if it was a link.</summary>
    public async Task SettleFromGatewayAsync(PaymentRow payment, bool succeeded, string gatewayPaymentId, string? error)
    {
        var session = payment.PaymentMethodType == PaymentMethodTypes.PaymentLink ? await SessionAsync(payment.TenantId, payment.Id) : null;
        if (session is not null) await CompleteCheckoutAsync(session, succeeded, gatewayPaymentId, error);
        else await invoices.SettleAsync(payment.TenantId, payment.DestinationId, payment.Id, succeeded, gatewayPaymentId, error);
    }

    /// <summary>
    /// Settles a payment whose answer never came, by asking its gateway again with the same key: a card charge is
    /// repeated under the payment's own idempotency key (the gateway answers what the first call did), a payment
    /// link's checkout is looked up. Safe at any time and from any node: settling is idempotent under the
    /// invoice's lock. Returns the payment as it stands afterwards.
    /// </summary>
    public async Task<PaymentRow?> ReconcileAsync(string tenantId, string paymentId, DateTimeOffset now)
    {
        var payment = await GetAsync(tenantId, paymentId);
        if (payment is null || payment.PaymentStatus is not (PaymentStatuses.Processing or PaymentStatuses.Pending or PaymentStatuses.Initiated))
            return payment;
        var invoice = await invoices.GetAsync(tenantId, payment.DestinationId);
        var gateway = await gateways.ForPaymentAsync(tenantId, payment.PaymentGateway);
        if (invoice is null || gateway is null)
        {
            log.LogWarning("payment {Payment} went through {Gateway}, which tenant {Tenant} no longer uses; it must be settled by hand",
                paymentId, payment.PaymentGateway, tenantId);
            return payment;
        }
        switch (payment.PaymentMethodType, payment.PaymentStatus)
        {
            case (PaymentMethodTypes.Card, PaymentStatuses.Processing):
                var token = await TokenAsync(tenantId, payment.PaymentMethodId);
                if (token is null) return payment;
                await ChargeAsync(gateway, invoice, payment, token);
                break;
            case (PaymentMethodTypes.PaymentLink, PaymentStatuses.Pending):
                var session = await SessionAsync(tenantId, payment.Id);
                if (session is null) break;
                var status = await gateway.CheckoutStatusAsync(session.GatewaySessionId, payment.Id, CancellationToken.None);
                if (status is CheckoutStatus.Paid paid) await CompleteCheckoutAsync(session, true, paid.GatewayPaymentId, null, paid.Card);
                else if (status is CheckoutStatus.Expired || session.ExpiresAt <= now)
                    await invoices.SettleAsync(tenantId, invoice.Id, payment.Id, false, null, "the payment link expired unpaid");
                break;
            case (PaymentMethodTypes.PaymentLink, PaymentStatuses.Initiated):
                // The checkout was asked for but never recorded (a crash in between): nobody has its address, so
                // nothing can be paid through it.
                await invoices.SettleAsync(tenantId, invoice.Id, payment.Id, false, null, "the checkout was never opened");
                break;
        }
        return await GetAsync(tenantId, paymentId);
    }

    public async Task<PaymentRow?> ByKeyAsync(string tenantId, string key)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND idempotency_key = @k",
            PaymentRow.Read, ("t", tenantId), ("k", key));
    }

    public async Task<PaymentRow?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
            PaymentRow.Read, ("t", tenantId), ("id", id));
    }

    /// <summary>The card a payment charged, even if it has since been removed from the customer's methods: the charge is still its.</summary>
    async Task<string?> TokenAsync(string tenantId, string? methodId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, "SELECT token FROM payment_methods WHERE tenant_id = @t AND id = @id AND token IS NOT NULL",
            r => r.Str("token"), ("t", tenantId), ("id", methodId));
    }

    async Task<CheckoutView?> SessionAsync(string tenantId, string paymentId)
    {
        await using var c = await db.OpenAsync();
        var id = await c.QuerySingleAsync(null, "SELECT gateway, gateway_session_id FROM checkout_sessions WHERE tenant_id = @t AND payment_id = @p",
            r => new[] { r.Str("gateway"), r.Str("gateway_session_id") }, ("t", tenantId), ("p", paymentId));
        return id is null ? null : await FindCheckoutAsync(id[0], id[1]);
    }

    /// <summary>
    /// Pays an invoice the way the customer prefers: the wallet of the invoice's currency first (what it can),
    /// then each saved card by priority for what remains, stopping at the first that succeeds.
    /// </summary>
    public async Task<InvoiceOutcome> AttemptAsync(string tenantId, string invoiceId, HttpRequest? request)
    {
        var before = await invoices.GetAsync(tenantId, invoiceId);
        if (before is null) return new InvoiceOutcome.NotFound();
        var fromWallet = await invoices.RecordPaymentAsync(tenantId, invoiceId, new PaymentInput(null, PaymentMethodTypes.Credits, null, null, "{}"));
        var invoice = (await invoices.GetAsync(tenantId, invoiceId))!;
        InvoiceOutcome last = fromWallet;
        foreach (var card in (await methods.ForCustomerAsync(tenantId, invoice.CustomerId)).Where(m => m.Type == PaymentMethodKinds.Card))
        {
            if (invoice.InvoiceStatus != InvoiceStatuses.Finalized || invoice.AmountRemaining <= 0) break;
            last = await ChargeSavedMethodAsync(invoice, card, invoice.AmountRemaining, null, request);
            invoice = (await invoices.GetAsync(tenantId, invoiceId))!;
            // A charge with no answer yet may still pay the invoice: another card now could pay it twice.
            if (last is InvoiceOutcome.Done { Payment.PaymentStatus: PaymentStatuses.Processing }) break;
        }
        // Success means this attempt paid something; otherwise the last refusal says why nothing was paid.
        if (invoice.AmountPaid > before.AmountPaid) return new InvoiceOutcome.Done(invoice);
        return last is InvoiceOutcome.Done ? new InvoiceOutcome.Refused(new Refusal(ErrorCodes.PaymentFailed, "no payment method could pay the invoice")) : last;
    }

    /// <summary>Creates an invoice; one created finalized with something due is auto-paid, as at finalizing.</summary>
    public async Task<InvoiceOutcome> CreateInvoiceAsync(InvoiceRow invoice, IReadOnlyList<LineItemRow> lines, IdempotencyClaim? claim,
        Func<InvoiceRow, StoredAnswer> answer, HttpRequest? request)
    {
        var outcome = await invoices.CreateAsync(invoice, lines, claim, answer);
        if (outcome is InvoiceOutcome.Done { Invoice: { InvoiceStatus: InvoiceStatuses.Finalized, AmountDue: > 0m } created })
            await AutoPayAsync(created.TenantId, created.Id, created.CustomerId, request);
        return outcome;
    }

    /// <summary>Finalizes a draft invoice (numbering it) and auto-pays it.</summary>
    public async Task<InvoiceOutcome> FinalizeAsync(string tenantId, string id, Keyed<InvoiceOutcome.Done>? keyed, HttpRequest? request)
    {
        var outcome = await invoices.FinalizeAsync(tenantId, id, keyed);
        if (outcome is InvoiceOutcome.Done d) await AutoPayAsync(tenantId, id, d.Invoice.CustomerId, request);
        return outcome;
    }

    /// <summary>Auto-pay: a finalized invoice is paid at once when the customer's first payment method is a wallet.</summary>
    async Task AutoPayAsync(string tenantId, string invoiceId, string customerId, HttpRequest? request)
    {
        var first = (await methods.ForCustomerAsync(tenantId, customerId)).FirstOrDefault();
        if (first?.Type == PaymentMethodKinds.Wallet) await AttemptAsync(tenantId, invoiceId, request);
    }
}
