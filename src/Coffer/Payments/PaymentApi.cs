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

    /// <summary>PAYMENT_LINK only: keep the card the link is paid with as the customer's first choice for later charges.</summary>
    public bool? SaveCardAndMakeDefault { get; init; }
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

    static async Task<Results<Created<PaymentDto>, JsonReplay, ApiError>> Create(
        Tenant tenant, CreatePaymentRequest body, PaymentService payments, HttpRequest http)
    {
        var (order, error) = Order(body);
        return order is null ? error! : ToHttp(await payments.PayAsync(tenant.Id, order, http));
    }

    /// <summary>The request checked into a payment order, or why it cannot be one (the dashboard checks its form with this too).</summary>
    public static (PaymentOrder? Order, ApiError? Error) Order(CreatePaymentRequest body)
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
        if (body.SaveCardAndMakeDefault == true && method != PaymentMethodTypes.PaymentLink)
            v.Fail("save_card_and_make_default applies to PAYMENT_LINK, where the customer types a card");
        var key = v.Text("idempotency_key", body.IdempotencyKey, max: Wallets.Idempotency.MaxKeyLength);
        v.Metadata("metadata", body.Metadata);
        v.HttpUrl("success_url", body.SuccessUrl);
        v.HttpUrl("cancel_url", body.CancelUrl);
        if (!v.Ok) return (null, v.Error());
        return (new PaymentOrder(destination!, amount!.Value, currency!, method!, body.PaymentMethodId, key, body.Metadata, body.SuccessUrl,
            body.CancelUrl, body.SaveCardAndMakeDefault == true), null);
    }

    public static Results<Created<PaymentDto>, JsonReplay, ApiError> ToHttp(PaymentOutcome outcome) => outcome switch
    {
        PaymentOutcome.Made m => TypedResults.Created($"/v1/payments/{m.Payment.Id}", PaymentDto.From(m.Payment, m.InvoiceNumber)),
        PaymentOutcome.Replayed r => new JsonReplay(r.Answer),
        PaymentOutcome.KeyRefused k => Idempotency.Refusal(k.Check)!,
        PaymentOutcome.Refused r => r.Reason.ToHttp(),
        _ => throw new InvalidOperationException($"unexpected payment outcome {outcome}"),
    };

    static async Task<Results<Ok<PaymentDto>, ApiError>> Get(Tenant tenant, string id, InvoiceService invoices, PaymentService payments)
    {
        var p = await payments.GetAsync(tenant.Id, id);
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
        Tenant tenant, PaymentService payments, int? limit, int? offset, string? order, [FromQuery(Name = "destination_id")] string? destinationId,
        [FromQuery(Name = "payment_status")] string? paymentStatus, [FromQuery(Name = "payment_method_type")] string? methodType)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await payments.ListAsync(tenant.Id, l, o, order == "asc", destinationId, paymentStatus, methodType));
    }
}
