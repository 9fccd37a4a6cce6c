using Coffer.Common;
using Coffer.Customers;
using Coffer.Ledger;
using Coffer.Payments;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Invoices;

public sealed record CreateLineItem(string? DisplayName, decimal? Amount, decimal? Quantity, string? PriceType, string? PeriodStart,
    string? PeriodEnd, Dictionary<string, string>? Metadata);

public sealed record CreateInvoiceRequest
{
    public string? CustomerId { get; init; }
    public string? Currency { get; init; }
    public decimal? AmountDue { get; init; }
    public decimal? Subtotal { get; init; }
    public decimal? Total { get; init; }
    public string? InvoiceType { get; init; }
    public string? InvoiceStatus { get; init; }
    public string? BillingReason { get; init; }
    public string? BillingPeriod { get; init; }
    public string? Description { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? DueDate { get; init; }
    public string? PeriodStart { get; init; }
    public string? PeriodEnd { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public List<CreateLineItem>? LineItems { get; init; }
}

public sealed record InvoiceFilter
{
    public int? Limit { get; init; }
    public int? Offset { get; init; }
    public string? Order { get; init; }
    public string? CustomerId { get; init; }
    public string? ExternalCustomerId { get; init; }
    public List<string>? InvoiceIds { get; init; }
    public List<string>? InvoiceStatus { get; init; }
    public List<string>? PaymentStatus { get; init; }
    public string? InvoiceType { get; init; }
    public bool? SkipLineItems { get; init; }
}

public sealed record UpdateInvoiceRequest(string? DueDate, Dictionary<string, string>? Metadata);

public sealed record PaymentStatusRequest(string? PaymentStatus, decimal? Amount);

/// <summary>Invoices as Flexprice's API has them, enough for the wallet's flows; see InvoiceService for the rules.</summary>
public static class InvoiceApi
{
    public const int MaxLineItems = 500;

    public static void MapInvoices(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/invoices").WithTags("Invoices");
        g.MapPost("/", Create).WithName("createInvoice");
        g.MapPost("/search", Search).WithName("queryInvoice");
        g.MapGet("/{id}", Get).WithName("getInvoice");
        g.MapPut("/{id}", Update).WithName("updateInvoice");
        g.MapPost("/{id}/finalize", FinalizeInvoice).WithName("finalizeInvoice");
        g.MapPost("/{id}/void", VoidInvoice).WithName("voidInvoice");
        g.MapPut("/{id}/payment", PaymentStatus).WithName("updateInvoicePaymentStatus");
        g.MapPost("/{id}/payment/attempt", Attempt).WithName("attemptInvoicePayment");
        g.MapGet("/{id}/pdf", Pdf).WithName("getInvoicePdf");
    }

    /// <summary>
    /// The answer is the invoice as created, stored with its key in the creating transaction; an automatic payment
    /// it starts (the customer's wallet comes first) follows, and shows on the invoice and in its events.
    /// </summary>
    static async Task<Results<Created<InvoiceDto>, JsonReplay, ApiError>> Create(
        Tenant tenant, CreateInvoiceRequest body, InvoiceService invoices, CustomerStore customers, Ids ids, TimeProvider clock,
        PaymentService payments, HttpRequest http)
    {
        var v = new Validator();
        var currency = v.Currency("currency", body.Currency);
        var minor = currency is null ? 2 : Currencies.MinorUnits(currency.ToUpperInvariant());
        decimal? Money(string field, decimal? value, bool required)
        {
            var d = v.Amount(field, value, required, allowZero: true);
            if (d is not null && Ledger.Money.Scale(d.Value) > minor) v.Fail($"{field} has more decimal places than {currency} allows");
            return d;
        }
        var amountDue = Money("amount_due", body.AmountDue, required: true);
        var subtotal = Money("subtotal", body.Subtotal, required: true);
        var total = Money("total", body.Total, required: true);
        if (amountDue > total) v.Fail("amount_due cannot exceed total");
        var type = v.OneOf("invoice_type", body.InvoiceType, new HashSet<string> { InvoiceTypes.OneOff }) ?? InvoiceTypes.OneOff;
        var status = v.OneOf("invoice_status", body.InvoiceStatus, new HashSet<string> { InvoiceStatuses.Draft, InvoiceStatuses.Finalized })
                     ?? InvoiceStatuses.Draft;
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var key = WalletApi.IdempotencyKey(v, body.IdempotencyKey, http, required: false);
        v.Metadata("metadata", body.Metadata);
        if (body.LineItems?.Count > MaxLineItems) v.Fail($"at most {MaxLineItems} line items");
        var now = clock.GetUtcNow();
        var invoiceId = ids.New("inv");
        (DateTimeOffset? Start, DateTimeOffset? End) Period(string prefix, string? start, string? end)
        {
            var (from, to) = (v.Time(prefix + "period_start", start), v.Time(prefix + "period_end", end));
            if (from > to) v.Fail($"{prefix}period_end must not be before {prefix}period_start");
            return (from, to);
        }
        var lines = (body.LineItems ?? []).Select((l, n) =>
        {
            v.Metadata($"line_items[{n}].metadata", l.Metadata);
            var (from, to) = Period($"line_items[{n}].", l.PeriodStart, l.PeriodEnd);
            return new LineItemRow(tenant.Id, ids.New("li"), invoiceId, v.Text($"line_items[{n}].display_name", l.DisplayName),
                v.Text($"line_items[{n}].price_type", l.PriceType), Money($"line_items[{n}].amount", l.Amount, required: true) ?? 0m,
                v.Amount($"line_items[{n}].quantity", l.Quantity, required: true, allowZero: true) ?? 0m,
                from, to, Json.Serialize(l.Metadata ?? []), now);
        }).ToList();
        var dueDate = v.Time("due_date", body.DueDate);
        var (periodStart, periodEnd) = Period("", body.PeriodStart, body.PeriodEnd);
        var billingPeriod = v.OneOf("billing_period", body.BillingPeriod, BillingPeriods.All);
        var billingReason = v.OneOf("billing_reason", body.BillingReason, BillingReasons.All) ?? BillingReasons.Manual;
        if (body.CustomerId is null) v.Fail("customer_id is required");
        if (!v.Ok) return v.Error();
        var customer = await customers.GetAsync(tenant.Id, body.CustomerId!);
        if (customer is null) return ApiError.NotFound("customer");

        var finalized = status == InvoiceStatuses.Finalized;
        var paid = amountDue == 0m;
        var invoice = new InvoiceRow(tenant.Id, invoiceId, customer.Id, type, status, paid ? PaymentStatuses.Succeeded : PaymentStatuses.Pending,
            currency!, amountDue!.Value, 0m, subtotal!.Value, total!.Value, description, dueDate, paid ? now : null, null,
            finalized ? now : null, periodStart, periodEnd, billingPeriod, billingReason,
            null, key, Json.Serialize(body.Metadata ?? []), null, null, 1, now, now);
        var claim = IdempotencyClaim.For(key, "create-invoice", body with { IdempotencyKey = null });
        // The answer is rendered from the invoice as inserted (numbered in the creating transaction), the same way
        // for the stored copy and for this response, so both are the same bytes.
        InvoiceDto Answer(InvoiceRow created) => InvoiceDtos.Invoice(created, lines, customer);
        return await payments.CreateInvoiceAsync(invoice, lines, claim, created => StoredAnswer.Of(201, Answer(created)), http) switch
        {
            InvoiceOutcome.KeyUsed k => KeyUsed(k.Check),
            InvoiceOutcome.Done d => TypedResults.Created($"/v1/invoices/{d.Invoice.Id}", Answer(d.Invoice)),
            var other => throw new InvalidOperationException($"unexpected invoice outcome {other}"),
        };
    }

    static ApiError KeyUsedError(IdempotencyCheck check) => Wallets.Idempotency.Refusal(check)!;

    /// <summary>A key used before: the stored answer, or why the key cannot be used for this request.</summary>
    static Results<Created<InvoiceDto>, JsonReplay, ApiError> KeyUsed(IdempotencyCheck check) =>
        check is IdempotencyCheck.Replay r ? new JsonReplay(r.Answer) : KeyUsedError(check);

    /// <summary>The key of an invoice action (its <c>Idempotency-Key</c> header) and the message it answers with.</summary>
    static Keyed<InvoiceOutcome.Done>? MessageKey(string? key, string operation, string invoiceId, string message) =>
        IdempotencyClaim.For(key, operation, new { invoice = invoiceId }) is { } claim
            ? new Keyed<InvoiceOutcome.Done>(claim, _ => Task.FromResult(StoredAnswer.Of(200, new MessageResponse(message))))
            : null;

    internal static async Task<Results<Ok<InvoiceDto>, ApiError>> Get(Tenant tenant, string id, InvoiceService invoices) =>
        await invoices.DtoAsync(tenant.Id, id) is { } i ? TypedResults.Ok(i) : ApiError.NotFound("invoice");

    internal static async Task<Results<Ok<ListResponse<InvoiceDto>>, ApiError>> Search(Tenant tenant, InvoiceFilter filter, InvoiceService invoices)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(filter.Limit, filter.Offset);
        if (filter.InvoiceIds?.Count > Limits.MaxIdsPerFilter) v.Fail($"at most {Limits.MaxIdsPerFilter} invoice_ids");
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await invoices.SearchAsync(tenant.Id, new InvoiceQuery(limit, offset, filter.Order == "asc", filter.CustomerId,
            filter.ExternalCustomerId, filter.InvoiceType, filter.InvoiceIds, filter.InvoiceStatus, filter.PaymentStatus, filter.SkipLineItems == true)));
    }

    static async Task<Results<Ok<InvoiceDto>, ApiError>> Update(
        Tenant tenant, string id, UpdateInvoiceRequest body, InvoiceService invoices)
    {
        var v = new Validator();
        var due = v.Time("due_date", body.DueDate);
        v.Metadata("metadata", body.Metadata);
        if (!v.Ok) return v.Error();
        return await invoices.UpdateAsync(tenant.Id, id, due, body.Metadata) && await invoices.DtoAsync(tenant.Id, id) is { } updated
            ? TypedResults.Ok(updated)
            : ApiError.NotFound("invoice");
    }

    static Results<Ok<MessageResponse>, JsonReplay, ApiError> Message(InvoiceOutcome outcome, string message) => outcome switch
    {
        InvoiceOutcome.Done => TypedResults.Ok(new MessageResponse(message)),
        InvoiceOutcome.Refused r => r.Reason.ToHttp(),
        InvoiceOutcome.KeyUsed { Check: IdempotencyCheck.Replay r } => new JsonReplay(r.Answer),
        InvoiceOutcome.KeyUsed k => KeyUsedError(k.Check),
        _ => ApiError.NotFound("invoice"),
    };

    const string Finalized = "invoice finalized successfully";
    const string Voided = "invoice voided successfully";

    static async Task<Results<Ok<MessageResponse>, JsonReplay, ApiError>> FinalizeInvoice(
        Tenant tenant, string id, InvoiceService invoices, PaymentService payments, HttpRequest http)
    {
        var v = new Validator();
        var key = WalletApi.IdempotencyKey(v, null, http, required: false);
        if (!v.Ok) return v.Error();
        return Message(await payments.FinalizeAsync(tenant.Id, id, MessageKey(key, "finalize-invoice", id, Finalized), http), Finalized);
    }

    static async Task<Results<Ok<MessageResponse>, JsonReplay, ApiError>> VoidInvoice(Tenant tenant, string id, InvoiceService invoices, HttpRequest http)
    {
        var v = new Validator();
        var key = WalletApi.IdempotencyKey(v, null, http, required: false);
        if (!v.Ok) return v.Error();
        return Message(await invoices.VoidAsync(tenant.Id, id, MessageKey(key, "void-invoice", id, Voided)), Voided);
    }

    internal static async Task<Results<Ok<InvoiceDto>, JsonReplay, ApiError>> PaymentStatus(
        Tenant tenant, string id, PaymentStatusRequest body, InvoiceService invoices,
        [FromHeader(Name = WalletApi.IdempotencyHeader)] string? idempotencyKey = null)
    {
        var v = new Validator();
        var status = v.Text("payment_status", body.PaymentStatus, required: true);
        var amount = v.Amount("amount", body.Amount);
        var key = v.Text("idempotency_key", string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey, max: Wallets.Idempotency.MaxKeyLength);
        if (!v.Ok) return v.Error();
        var (outcome, answer) = await invoices.ReportPaymentStatusAsync(tenant.Id, id, status!, amount, key);
        return outcome switch
        {
            InvoiceOutcome.Done => TypedResults.Ok(answer!),
            InvoiceOutcome.Refused r => r.Reason.ToHttp(),
            InvoiceOutcome.KeyUsed { Check: IdempotencyCheck.Replay r } => new JsonReplay(r.Answer),
            InvoiceOutcome.KeyUsed k => KeyUsedError(k.Check),
            _ => ApiError.NotFound("invoice"),
        };
    }

    static async Task<Results<Ok<MessageResponse>, JsonReplay, ApiError>> Attempt(Tenant tenant, string id, PaymentService payments, HttpRequest http) =>
        Message(await payments.AttemptAsync(tenant.Id, id, http), "payment processed successfully");

    internal static async Task<Results<FileContentHttpResult, ApiError>> Pdf(Tenant tenant, string id, InvoiceService invoices) =>
        await invoices.PdfAsync(tenant, id) is { } file ? TypedResults.File(file.Pdf, "application/pdf", file.FileName) : ApiError.NotFound("invoice");
}

/// <summary>A money-in refusal as the API answers it, its status following from its stable code: the one mapping to HTTP.</summary>
public static class RefusalHttp
{
    public static ApiError ToHttp(this Refusal refusal) => new(refusal.Code switch
    {
        ErrorCodes.ValidationFailed => 400,
        ErrorCodes.NotFound => 404,
        ErrorCodes.PaymentInProgress or ErrorCodes.Conflict or ErrorCodes.AlreadyExists or ErrorCodes.IdempotencyKeyReused
            or ErrorCodes.IdempotencyKeyInUse => 409,
        ErrorCodes.GatewayError => 502,
        ErrorCodes.OutcomeUnknown => 503,
        _ => 422,
    }, refusal.Code, refusal.Message, refusal.Details);
}

/// <summary>A credit purchase's refusal as the API would answer it (the top-up API answers through <see cref="WalletMoves"/>).</summary>
public static class PurchaseHttp
{
    /// <summary>Why nothing was bought, for an outcome that is neither a purchase nor a replay.</summary>
    public static ApiError Refusal(this BuyOutcome outcome) => outcome switch
    {
        BuyOutcome.Refused r => WalletApi.Refusal(r.Why),
        BuyOutcome.KeyReused k => Wallets.Idempotency.Refusal(k.Check)!,
        BuyOutcome.WalletNotFound => ApiError.NotFound("wallet"),
        BuyOutcome.OutcomeUnknown u => ApiError.OutcomeUnknown(u.IdempotencyKey),
        _ => throw new InvalidOperationException($"a purchase made or replayed is not a refusal: {outcome}"),
    };
}
