using Coffer.Common;
using Coffer.Invoices;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Payments;

public sealed record CreatePaymentRequest
{
    public decimal? Amount { get; init; }
    public string? Currency { get; init; }
    public string? DestinationType { get; init; }
    public string? DestinationId { get; init; }
    public string? PaymentMethodType { get; init; }
    public string? PaymentMethodId { get; init; }
    public string? PaymentGateway { get; init; }
    public bool? ProcessPayment { get; init; }
    public string? SuccessUrl { get; init; }
    public string? CancelUrl { get; init; }
    public string? IdempotencyKey { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>
/// Payments against invoices. OFFLINE records money received elsewhere; CREDITS pays from the customer's
/// wallet of the invoice's currency; CARD charges a saved card (payment_method_id) through the tenant's
/// gateway now; PAYMENT_LINK returns a hosted checkout URL and settles when it is paid. ACH is refused.
/// </summary>
public static class PaymentApi
{
    public static void MapPayments(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/payments").WithTags("Payments");
        g.MapPost("/", Create).WithName("createPayment");
        g.MapGet("/", List).WithName("listPayments");
        g.MapGet("/{id}", Get).WithName("getPayment");
        g.MapPost("/{id}/process", Process).WithName("processPayment");
    }

    internal static async Task<Results<Created<PaymentDto>, JsonReplay, ApiError>> Create(
        Tenant tenant, CreatePaymentRequest body, InvoiceService invoices, PaymentService payments, PaymentMethodStore methods, TimeProvider clock,
        HttpRequest http)
    {
        var v = new Validator();
        var amount = v.Amount("amount", body.Amount, required: true);
        var currency = v.Currency("currency", body.Currency);
        if (body.DestinationType != "INVOICE") v.Fail("destination_type must be INVOICE");
        var destination = v.Text("destination_id", body.DestinationId, required: true);
        var method = v.Text("payment_method_type", body.PaymentMethodType, required: true);
        if (method is not null && !PaymentMethodTypes.Known.Contains(method))
            v.Fail($"payment_method_type must be one of {string.Join(", ", PaymentMethodTypes.Known.Order())}");
        else if (method is not null && !PaymentMethodTypes.Supported.Contains(method))
            v.Fail($"payment_method_type {method} is not supported; use OFFLINE, CREDITS, CARD or PAYMENT_LINK");
        if (method == PaymentMethodTypes.Card && body.PaymentMethodId is null) v.Fail("payment_method_id (a saved card) is required for CARD");
        if (body.ProcessPayment == false) v.Fail("process_payment=false is not supported: payments are processed when created");
        var key = v.Text("idempotency_key", body.IdempotencyKey, max: Wallets.Idempotency.MaxKeyLength);
        v.Metadata("metadata", body.Metadata);
        v.HttpUrl("success_url", body.SuccessUrl);
        v.HttpUrl("cancel_url", body.CancelUrl);
        if (!v.Ok) return v.Error();

        // Only what never changes is checked here; whether the invoice can take this amount now is decided
        // under its lock, counting what is already on its way through a gateway.
        var invoice = await invoices.GetAsync(tenant.Id, destination!);
        if (invoice is null) return ApiError.NotFound("invoice");
        if (invoice.Currency != currency) return ApiError.Validation($"the payment is in {currency} but the invoice is in {invoice.Currency}");
        var claim = IdempotencyClaim.For(key, "payment", new
        {
            destination, amount, currency, method, method_id = body.PaymentMethodId, metadata = body.Metadata ?? [],
            success_url = body.SuccessUrl, cancel_url = body.CancelUrl,
        });
        if (method == PaymentMethodTypes.PaymentLink)
        {
            var (link, error, used) = await payments.CreatePaymentLinkAsync(invoice, amount!.Value, body.SuccessUrl, body.CancelUrl, claim, http);
            if (used is not null) return await KeyUsedAsync(tenant, used, key!, invoices, payments, clock);
            return link is null ? error! : TypedResults.Created($"/v1/payments/{link.Id}", PaymentDto.From(link, invoice.InvoiceNumber));
        }
        InvoiceOutcome outcome;
        if (method == PaymentMethodTypes.Card)
        {
            var card = await methods.GetAsync(tenant.Id, body.PaymentMethodId!);
            if (card is null || card.CustomerId != invoice.CustomerId || card.Type != PaymentMethodKinds.Card)
                return ApiError.NotFound("saved card of the invoice's customer");
            outcome = await payments.ChargeSavedMethodAsync(invoice, card, amount!.Value, claim, http);
        }
        else
        {
            outcome = await invoices.RecordPaymentAsync(tenant.Id, invoice.Id,
                new PaymentInput(amount, method!, body.PaymentMethodId, key, Json.Serialize(body.Metadata ?? [])),
                claim is null ? null : new Keyed<InvoiceOutcome.Done>(claim, d => Task.FromResult(StoredAnswer.Of(201, PaymentDto.From(d.Payment!, d.Invoice.InvoiceNumber)))));
        }
        return outcome switch
        {
            InvoiceOutcome.Done { Payment: { } p } d => TypedResults.Created($"/v1/payments/{p.Id}", PaymentDto.From(p, d.Invoice.InvoiceNumber)),
            InvoiceOutcome.KeyUsed k => await KeyUsedAsync(tenant, k.Check, key!, invoices, payments, clock),
            InvoiceOutcome.Refused r => r.Error,
            _ => ApiError.NotFound("invoice"),
        };
    }

    /// <summary>
    /// A retry of a payment request: the stored answer when the first one settled, a refusal for a key used for
    /// another request. While the first is still in flight (its gateway's answer was lost) the retry reconciles it,
    /// asking the gateway with the payment's own key, and answers the payment as it then stands.
    /// </summary>
    static async Task<Results<Created<PaymentDto>, JsonReplay, ApiError>> KeyUsedAsync(Tenant tenant, IdempotencyCheck check, string key,
        InvoiceService invoices, PaymentService payments, TimeProvider clock)
    {
        if (check is not IdempotencyCheck.InProgress) return Answer(check);
        var first = await payments.ByKeyAsync(tenant.Id, key);
        if (first is null) return Answer(check);
        var now = await payments.ReconcileAsync(tenant.Id, first.Id, clock.GetUtcNow()) ?? first;
        return TypedResults.Created($"/v1/payments/{now.Id}", PaymentDto.From(now, (await invoices.GetAsync(tenant.Id, now.DestinationId))?.InvoiceNumber));
    }

    static Results<Created<PaymentDto>, JsonReplay, ApiError> Answer(IdempotencyCheck check) => check switch
    {
        IdempotencyCheck.Replay r => new JsonReplay(r.Answer),
        _ => Idempotency.Refusal(check)!,
    };

    static async Task<Results<Ok<PaymentDto>, ApiError>> Get(Tenant tenant, string id, InvoiceService invoices, Database db)
    {
        await using var c = await db.OpenAsync();
        var p = await c.QuerySingleAsync(null, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
            PaymentRow.Read, ("t", tenant.Id), ("id", id));
        if (p is null) return ApiError.NotFound("payment");
        return TypedResults.Ok(PaymentDto.From(p, (await invoices.GetAsync(tenant.Id, p.DestinationId))?.InvoiceNumber));
    }

    /// <summary>
    /// Coffer processes a payment when it is created; processing it again reconciles it: a payment still in flight
    /// (its gateway's answer was lost) is asked of the gateway again with the same key and settled exactly once. The
    /// answer is the payment as it stands afterwards (a settled one stays settled; an open link stays pending).
    /// </summary>
    static async Task<Results<Ok<PaymentDto>, ApiError>> Process(Tenant tenant, string id, InvoiceService invoices, PaymentService payments, TimeProvider clock)
    {
        var p = await payments.ReconcileAsync(tenant.Id, id, clock.GetUtcNow());
        if (p is null) return ApiError.NotFound("payment");
        return TypedResults.Ok(PaymentDto.From(p, (await invoices.GetAsync(tenant.Id, p.DestinationId))?.InvoiceNumber));
    }

    internal static async Task<Results<Ok<ListResponse<PaymentDto>>, ApiError>> List(
        Tenant tenant, Database db, int? limit, int? offset, string? order, [FromQuery(Name = "destination_id")] string? destinationId,
        [FromQuery(Name = "payment_status")] string? paymentStatus, [FromQuery(Name = "payment_method_type")] string? methodType)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        var where = Where.Tenant(tenant.Id)
            .Eq("destination_id", "d", destinationId)
            .Eq("payment_status", "s", paymentStatus)
            .Eq("payment_method_type", "m", methodType);
        await using var c = await db.OpenAsync();
        var page = await c.PageAsync(PaymentRow.Columns, "payments", where, Sql.OrderBy("created_at", order == "asc"), l, o, PaymentRow.Read);
        var numbers = new Dictionary<string, string?>();
        if (page.Items.Count > 0)
        {
            var invoices = Where.Tenant(tenant.Id).In("id", "inv", page.Items.Select(p => p.DestinationId).Distinct().ToList());
            foreach (var (invoiceId, number) in await c.QueryAsync(null, $"SELECT id, invoice_number FROM invoices WHERE {invoices.Sql}",
                         r => (r.Str("id"), r.NStr("invoice_number")), invoices.Args))
                numbers[invoiceId] = number;
        }
        return TypedResults.Ok(page.Response(p => PaymentDto.From(p, numbers.GetValueOrDefault(p.DestinationId))));
    }
}
