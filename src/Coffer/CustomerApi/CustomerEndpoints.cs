using System.Globalization;
using System.Text;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Packages;
using Coffer.Payments;
using Coffer.SelfService;
using Coffer.Settings;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.CustomerApi;

public sealed record CustomerLotDto(string Id, string Kind, string CreditsAvailable, DateTimeOffset? ExpiryDate, int? Priority, DateTimeOffset CreatedAt);

public sealed record CustomerWalletDto(WalletDto Wallet, IReadOnlyList<CustomerLotDto> Lots, IReadOnlyList<HoldDto> Holds);

public sealed record CustomerList<T>(IReadOnlyList<T> Items);

/// <summary>A page of history, newest first; <see cref="NextCursor"/> asks for the page after it (null on the last).</summary>
public sealed record CustomerTransactionPage(IReadOnlyList<TransactionDto> Items, string? NextCursor);

/// <param name="SaveCardAndMakeDefault">When the answer is the hosted checkout: keep the card typed there as the first choice for later charges.</param>
public sealed record CustomerTopUpRequest(decimal? Amount, string? PaymentMethodId, string? SuccessUrl, string? CancelUrl, bool? SaveCardAndMakeDefault = null);

/// <param name="SaveCardAndMakeDefault">When the answer is the hosted checkout: keep the card typed there as the first choice for later charges.</param>
public sealed record CustomerPackagePurchaseRequest(string? PackageId, string? CollectionMethod, string? SuccessUrl, string? CancelUrl,
    bool? SaveCardAndMakeDefault = null);

public sealed record PaymentActionDto(string Url);

public sealed record CustomerAutoTopUpRequest(bool? Enabled, decimal? Threshold, decimal? Amount, int? MaxTopupsPerDay, string? PaymentMethodId);

/// <summary>The wallet's automatic top-up as its customer sees it, and what the merchant offers (<c>portal_config</c>).</summary>
public sealed record CustomerAutoTopUpDto(bool Enabled, string? Threshold, string? Amount, int? MaxTopupsPerDay, string? PaymentMethodId, bool Invoicing,
    bool Offered, string? MaxAmountAllowed, int? MaxTopupsPerDayAllowed);

public sealed record CustomerAutoTopUpResponse(CustomerAutoTopUpDto AutoTopup, bool ToppingUpNow);

public sealed record AutoTopUpPreview(bool WouldTopUpNow);

/// <summary>
/// What a customer's purchase did: <c>credits_granted</c> (a saved card paid), <c>payment_processing</c> (the
/// card's answer is not in yet), <c>invoice_raised</c> (the credits arrive when the invoice is paid), or
/// <c>payment_action</c> (pay at <see cref="PaymentAction"/>'s hosted checkout).
/// </summary>
public sealed record CustomerPurchaseResponse(string Outcome, InvoiceDto Invoice, WalletDto Wallet, PaymentActionDto? PaymentAction);

/// <summary>
/// The customer API: what a customer's browser may do with a customer token, the same operations the portal uses,
/// within the same <c>portal_config</c>. Another customer's wallet, card or invoice answers 404, as a missing one.
/// It never debits and never touches settings. Every purchase takes an <c>Idempotency-Key</c> header.
/// </summary>
public static class CustomerEndpoints
{
    public const int MaxPage = 100;

    public static void MapCustomerApi(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/customer").WithTags("Customer API");
        g.MapGet("/wallets", Wallets).WithName("customerListWallets");
        g.MapGet("/wallets/{id}", Wallet).WithName("customerGetWallet");
        g.MapGet("/wallets/{id}/transactions", Transactions).WithName("customerListTransactions");
        g.MapPost("/wallets/{id}/top-up", TopUp).WithName("customerTopUp");
        g.MapPost("/wallets/{id}/purchase-package", PurchasePackage).WithName("customerPurchasePackage");
        g.MapGet("/wallets/{id}/auto-topup", GetAutoTopUp).WithName("customerGetAutoTopUp");
        g.MapPut("/wallets/{id}/auto-topup", PutAutoTopUp).WithName("customerPutAutoTopUp");
        g.MapPost("/wallets/{id}/auto-topup/preview", PreviewAutoTopUp).WithName("customerPreviewAutoTopUp")
            .WithSummary("Whether saving these settings would start a top-up now (the balance is already at or below the threshold)");
        g.MapGet("/packages", Packages).WithName("customerListPackages");
        g.MapGet("/payment-methods", PaymentMethods).WithName("customerListPaymentMethods");
        g.MapDelete("/payment-methods/{id}", DetachPaymentMethod).WithName("customerDetachPaymentMethod");
        g.MapGet("/invoices", Invoices).WithName("customerListInvoices");
        g.MapPost("/invoices/{id}/pay", PayInvoice).WithName("customerPayInvoice");
    }

    static async Task<WalletRow?> OwnWalletAsync(CustomerCaller who, WalletStore wallets, string id) =>
        await wallets.GetAsync(who.TenantId, id) is { } w && w.CustomerId == who.CustomerId ? w : null;

    static async Task<WalletDto> DtoAsync(WalletStore wallets, WalletRow w)
    {
        var lots = await wallets.LotsAsync(w.TenantId, w.Id);
        return WalletDtos.Wallet(w, new CreditBreakdown(lots.SpendableFree, lots.SpendablePurchased));
    }

    static async Task<Ok<CustomerList<WalletDto>>> Wallets(CustomerCaller who, WalletStore wallets)
    {
        var items = new List<WalletDto>();
        foreach (var w in await wallets.ByCustomerAsync(who.TenantId, who.CustomerId)) items.Add(await DtoAsync(wallets, w));
        return TypedResults.Ok(new CustomerList<WalletDto>(items));
    }

    static async Task<Results<Ok<CustomerWalletDto>, ApiError>> Wallet(CustomerCaller who, string id, WalletStore wallets)
    {
        if (await OwnWalletAsync(who, wallets, id) is not { } w) return ApiError.NotFound("wallet");
        var lots = (await wallets.OpenLotsAsync(w.TenantId, w.Id))
            .Select(l => new CustomerLotDto(l.Lot.Id, l.Purchased ? "purchased" : "free", Ledger.Money.Normalize(l.Lot.CreditsAvailable).ToString(CultureInfo.InvariantCulture),
                l.Lot.ExpiryDate, l.Lot.Priority, l.Lot.CreatedAt)).ToList();
        var (holds, _) = await wallets.HoldsAsync(w.TenantId, w.Id, Ledger.HoldStatuses.Active, MaxPage, 0);
        return TypedResults.Ok(new CustomerWalletDto(await DtoAsync(wallets, w), lots, holds.Select(h => WalletDtos.Hold(h, w)).ToList()));
    }

    static async Task<Results<Ok<CustomerTransactionPage>, ApiError>> Transactions(CustomerCaller who, string id, WalletStore wallets, int? limit, string? cursor)
    {
        if (limit is < 1 or > MaxPage) return ApiError.Validation($"limit must be between 1 and {MaxPage}");
        var before = cursor is null ? null : Cursor.Read(cursor);
        if (cursor is not null && before is null) return ApiError.Validation("cursor is not one this API gave");
        if (await OwnWalletAsync(who, wallets, id) is not { } w) return ApiError.NotFound("wallet");
        var size = limit ?? 20;
        var query = new TransactionQuery(w.Id, null, null, null, null, null, null, null, null, null, null, null, null, Ascending: false) { Before = before };
        var (items, _) = await wallets.TransactionsAsync(w.TenantId, query, size + 1, 0, new Dictionary<string, WalletRow> { [w.Id] = w });
        var page = items.Take(size).ToList();
        return TypedResults.Ok(new CustomerTransactionPage(page, items.Count > size ? Cursor.Of(page[^1].CreatedAt, page[^1].Id) : null));
    }

    static async Task<Results<Ok<CustomerPurchaseResponse>, ApiError>> TopUp(CustomerCaller who, string id, CustomerTopUpRequest body, HttpRequest http,
        WalletStore wallets, PaymentMethodStore methods, SelfServiceFunding funding, InvoiceService invoices, PaymentService payments)
    {
        var v = new Validator();
        var amount = v.Amount("amount", body.Amount, required: true);
        v.HttpUrl("success_url", body.SuccessUrl);
        v.HttpUrl("cancel_url", body.CancelUrl);
        var key = WalletApi.IdempotencyKey(v, null, http, required: true);
        if (!v.Ok) return v.Error();
        if (await OwnWalletAsync(who, wallets, id) is not { } w) return ApiError.NotFound("wallet");
        var units = Ledger.Currencies.MinorUnits(w.Currency.ToUpperInvariant());
        if (Ledger.Money.Scale(amount!.Value) > units) return ApiError.Validation($"amount has more decimal places than {w.Currency.ToUpperInvariant()} allows ({units})");
        var card = body.PaymentMethodId is null ? null : await OwnCardAsync(who, methods, body.PaymentMethodId);
        if (body.PaymentMethodId is not null && card is null) return ApiError.NotFound("payment method");
        var save = body.SaveCardAndMakeDefault == true && card is null;
        var claim = new IdempotencyClaim(key!, Idempotency.Fingerprint("customer-top-up",
            Idempotency.WithSavedCard(new { wallet = w.Id, amount, method = body.PaymentMethodId }, save)));
        var outcome = await funding.AddFundsAsync(w, amount.Value, card, card is null ? "Funds added with a card" : "Funds added with a saved card", claim,
            _ => (body.SuccessUrl, body.CancelUrl), http, save);
        return outcome switch
        {
            FundingOutcome.Refused r => new ApiError(r.Status, r.Why.Code, r.Why.Message, r.Why.Details),
            FundingOutcome.PaymentAction a => TypedResults.Ok(await ResponseAsync(invoices, wallets, w, a.InvoiceId, "payment_action", a.Url)),
            FundingOutcome.Charged c => TypedResults.Ok(await ResponseAsync(invoices, wallets, w, c.InvoiceId,
                c.PaymentStatus == PaymentStatuses.Succeeded ? "credits_granted" : "payment_processing", null)),
            FundingOutcome.Replayed r => await ReplayAsync(invoices, payments, wallets, w, r.InvoiceId, card is null, body.SuccessUrl, body.CancelUrl, save, http) is { } replay
                ? TypedResults.Ok(replay)
                // The first request's charge failed and its purchase was cancelled: asked again, it answers the same.
                : new ApiError(402, ErrorCodes.PaymentFailed, "the charge failed; nothing was added and the balance is unchanged"),
            _ => throw new InvalidOperationException($"unexpected funding outcome {outcome}"),
        };
    }

    static async Task<PaymentMethodRow?> OwnCardAsync(CustomerCaller who, PaymentMethodStore methods, string id) =>
        await methods.GetAsync(who.TenantId, id) is { } m && m.CustomerId == who.CustomerId && m.Type == PaymentMethodKinds.Card ? m : null;

    /// <summary>The answer to a purchase asked again with its key: what its invoice says now (a checkout still open is the same checkout).</summary>
    /// <returns>Null when the first request's purchase was cancelled (its charge failed).</returns>
    static async Task<CustomerPurchaseResponse?> ReplayAsync(InvoiceService invoices, PaymentService payments, WalletStore wallets, WalletRow w, string invoiceId,
        bool checkout, string? success, string? cancel, bool saveCard, HttpRequest http)
    {
        var invoice = (await invoices.GetAsync(w.TenantId, invoiceId))!;
        if (invoice.InvoiceStatus == InvoiceStatuses.Voided) return null;
        if (invoice.AmountRemaining <= 0) return await ResponseAsync(invoices, wallets, w, invoiceId, "credits_granted", null);
        if (!checkout) return await ResponseAsync(invoices, wallets, w, invoiceId, "payment_processing", null);
        var (payment, _, _) = await payments.CreatePaymentLinkAsync(invoice, invoice.AmountRemaining, success, cancel, null, http, saveCard);
        return await ResponseAsync(invoices, wallets, w, invoiceId, payment?.PaymentUrl is null ? "invoice_raised" : "payment_action", payment?.PaymentUrl);
    }

    static async Task<CustomerPurchaseResponse> ResponseAsync(InvoiceService invoices, WalletStore wallets, WalletRow w, string invoiceId, string outcome, string? url) =>
        new(outcome, (await invoices.DtoAsync(w.TenantId, invoiceId))!, await DtoAsync(wallets, (await wallets.GetAsync(w.TenantId, w.Id))!),
            url is null ? null : new PaymentActionDto(url));

    static async Task<Results<Ok<CustomerPurchaseResponse>, ApiError>> PurchasePackage(CustomerCaller who, string id, CustomerPackagePurchaseRequest body,
        HttpRequest http, WalletStore wallets, PaymentMethodStore methods, CreditPackages packages, InvoiceService invoices, PaymentService payments,
        CustomerStore customers)
    {
        var v = new Validator();
        if (string.IsNullOrEmpty(body.PackageId)) v.Fail("package_id is required");
        v.OneOf("collection_method", body.CollectionMethod, CollectionMethods.All);
        v.HttpUrl("success_url", body.SuccessUrl);
        v.HttpUrl("cancel_url", body.CancelUrl);
        var key = WalletApi.IdempotencyKey(v, null, http, required: true);
        if (!v.Ok) return v.Error();
        if (await OwnWalletAsync(who, wallets, id) is not { } w) return ApiError.NotFound("wallet");
        var hasCard = (await methods.ForCustomerAsync(who.TenantId, who.CustomerId)).Any(m => m.Type == PaymentMethodKinds.Card);
        var own = (await customers.GetAsync(who.TenantId, who.CustomerId))?.CollectionMethod;
        // Without a saved card and without a choice (the call's or the customer's), the customer pays the package's invoice
        // at the hosted checkout. A customer whose method is send_invoice is invoiced, as when the call names it.
        var checkout = body.CollectionMethod is null && own is null && !hasCard;
        var outcome = await packages.PurchaseAsync(who.TenantId, w.Id, body.PackageId!, checkout ? CollectionMethods.SendInvoice : body.CollectionMethod,
            key, http);
        string invoiceId;
        switch (outcome)
        {
            case PurchaseOutcome.Refused r: return r.Reason.ToHttp();
            case PurchaseOutcome.KeyUsed { Check: IdempotencyCheck.Replay replay }:
                invoiceId = Json.Deserialize<PackagePurchaseResponse>(replay.Answer.Body)!.Invoice.Id;
                break;
            case PurchaseOutcome.KeyUsed used: return Idempotency.Refusal(used.Check)!;
            case PurchaseOutcome.Bought b:
                invoiceId = b.Purchase.Invoice.Id;
                if (b.Purchase.ChargeError is { } declined) return new ApiError(402, ErrorCodes.PaymentFailed,
                    $"the card was not charged: {declined}; invoice {b.Purchase.Invoice.InvoiceNumber} stays open and the credits arrive once it is paid");
                break;
            default: throw new InvalidOperationException($"unexpected purchase outcome {outcome}");
        }
        var invoice = (await invoices.GetAsync(w.TenantId, invoiceId))!;
        if (invoice.AmountRemaining <= 0) return TypedResults.Ok(await ResponseAsync(invoices, wallets, w, invoiceId, "credits_granted", null));
        if (!checkout)
            return TypedResults.Ok(await ResponseAsync(invoices, wallets, w, invoiceId,
                invoice.PaymentStatus == PaymentStatuses.Processing ? "payment_processing" : "invoice_raised", null));
        var (payment, error, _) = await payments.CreatePaymentLinkAsync(invoice, invoice.AmountRemaining, body.SuccessUrl, body.CancelUrl, null, http,
            body.SaveCardAndMakeDefault == true);
        // The invoice stands either way: a link that could not be made now can be asked for again (POST /v1/customer/invoices/{id}/pay).
        return TypedResults.Ok(await ResponseAsync(invoices, wallets, w, invoiceId, error is null ? "payment_action" : "invoice_raised", payment?.PaymentUrl));
    }

    static string? Text(decimal? d) => d is { } v ? Ledger.Money.Normalize(v).ToString(CultureInfo.InvariantCulture) : null;

    static async Task<CustomerAutoTopUpDto> AutoTopUpDtoAsync(WalletRow w, TenantSettings settings)
    {
        var config = await settings.PortalConfigAsync(w.TenantId);
        var rule = SelfServiceAutoTopUp.Rule(w);
        return new CustomerAutoTopUpDto(rule?.Enabled == true, Text(rule?.Threshold), Text(rule?.Amount), rule?.MaxTopupsPerDay, rule?.PaymentMethodId,
            rule?.Invoicing == true, config.AllowAutoTopup, Text(config.MaxAutoTopupAmount), config.MaxTopupsPerDay);
    }

    static async Task<Results<Ok<CustomerAutoTopUpDto>, ApiError>> GetAutoTopUp(CustomerCaller who, string id, WalletStore wallets, TenantSettings settings) =>
        await OwnWalletAsync(who, wallets, id) is { } w ? TypedResults.Ok(await AutoTopUpDtoAsync(w, settings)) : ApiError.NotFound("wallet");

    /// <summary>The request as a choice (null: turn it off), or the error that refuses it.</summary>
    static async Task<(WalletRow? Wallet, AutoTopUpChoice? Choice, ApiError? Error)> ChoiceAsync(CustomerCaller who, string id, CustomerAutoTopUpRequest body,
        WalletStore wallets, PaymentMethodStore methods)
    {
        var v = new Validator();
        if (body.Enabled is null) v.Fail("enabled is required");
        if (body.Enabled == true)
        {
            v.Amount("threshold", body.Threshold, required: true, allowZero: true);
            v.Amount("amount", body.Amount, required: true);
            if (body.MaxTopupsPerDay is < 1) v.Fail("max_topups_per_day must be 1 or more");
        }
        if (!v.Ok) return (null, null, v.Error());
        if (await OwnWalletAsync(who, wallets, id) is not { } w) return (null, null, ApiError.NotFound("wallet"));
        if (body.Enabled != true) return (w, null, null);
        var card = body.PaymentMethodId is null ? null : await OwnCardAsync(who, methods, body.PaymentMethodId);
        if (body.PaymentMethodId is not null && card is null) return (null, null, ApiError.NotFound("payment method"));
        return (w, new AutoTopUpChoice(body.Threshold!.Value, body.Amount!.Value, body.MaxTopupsPerDay, card), null);
    }

    static async Task<Results<Ok<CustomerAutoTopUpResponse>, ApiError>> PutAutoTopUp(CustomerCaller who, string id, CustomerAutoTopUpRequest body, HttpRequest http,
        WalletStore wallets, PaymentMethodStore methods, SelfServiceAutoTopUp autoTopUp, TenantSettings settings)
    {
        var v = new Validator();
        var key = WalletApi.IdempotencyKey(v, null, http, required: true);
        if (!v.Ok) return v.Error();
        var (w, choice, error) = await ChoiceAsync(who, id, body, wallets, methods);
        if (error is not null) return error;
        var claim = new IdempotencyClaim(key!, Idempotency.Fingerprint("customer-auto-top-up", new { wallet = id, body }));
        return await autoTopUp.SaveAsync(w!, choice, claim) switch
        {
            AutoTopUpOutcome.Saved s => TypedResults.Ok(new CustomerAutoTopUpResponse(await AutoTopUpDtoAsync(s.Wallet, settings), s.ToppingUpNow)),
            AutoTopUpOutcome.Replayed => TypedResults.Ok(new CustomerAutoTopUpResponse(await AutoTopUpDtoAsync((await wallets.GetAsync(w!.TenantId, w.Id))!, settings), false)),
            AutoTopUpOutcome.Refused r => new ApiError(r.Status, r.Why.Code, r.Why.Message),
            var other => throw new InvalidOperationException($"unexpected outcome {other}"),
        };
    }

    static async Task<Results<Ok<AutoTopUpPreview>, ApiError>> PreviewAutoTopUp(CustomerCaller who, string id, CustomerAutoTopUpRequest body,
        WalletStore wallets, PaymentMethodStore methods, SelfServiceAutoTopUp autoTopUp)
    {
        var (w, choice, error) = await ChoiceAsync(who, id, body, wallets, methods);
        if (error is not null) return error;
        if (choice is null) return TypedResults.Ok(new AutoTopUpPreview(false));
        var (now, refused) = await autoTopUp.PreviewAsync(w!, choice);
        return refused is null ? TypedResults.Ok(new AutoTopUpPreview(now)) : new ApiError(refused.Status, refused.Why.Code, refused.Why.Message);
    }

    static async Task<Ok<CustomerList<PackageDto>>> Packages(CustomerCaller who, CreditPackages packages, string? currency) =>
        TypedResults.Ok(new CustomerList<PackageDto>(await packages.ActiveAsync(who.TenantId, currency)));

    static async Task<Ok<CustomerList<PaymentMethodDto>>> PaymentMethods(CustomerCaller who, PaymentMethodStore methods) =>
        TypedResults.Ok(new CustomerList<PaymentMethodDto>((await methods.ForCustomerAsync(who.TenantId, who.CustomerId)).Select(PaymentMethodDto.From).ToList()));

    static async Task<Results<NoContent, ApiError>> DetachPaymentMethod(CustomerCaller who, string id, PaymentMethodStore methods) =>
        await methods.RemoveAsync(who.TenantId, who.CustomerId, id) ? TypedResults.NoContent() : ApiError.NotFound("payment method");

    static async Task<Results<Ok<ListResponse<InvoiceDto>>, ApiError>> Invoices(CustomerCaller who, InvoiceService invoices, int? limit, int? offset)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await invoices.SearchAsync(who.TenantId, new InvoiceQuery(l, o, false, who.CustomerId, null, null, null, null, null, SkipLineItems: false)));
    }

    static async Task<Results<Ok<PaymentActionDto>, ApiError>> PayInvoice(CustomerCaller who, string id, InvoiceService invoices, PaymentService payments,
        HttpRequest http)
    {
        if (await invoices.GetAsync(who.TenantId, id) is not { } invoice || invoice.CustomerId != who.CustomerId) return ApiError.NotFound("invoice");
        if (invoice.InvoiceStatus != InvoiceStatuses.Finalized || invoice.AmountRemaining <= 0)
            return ApiError.Unprocessable(ErrorCodes.InvoiceNotPayable, "the invoice has nothing left to pay");
        var (payment, error, _) = await payments.CreatePaymentLinkAsync(invoice, invoice.AmountRemaining, null, null, null, http);
        return error is null ? TypedResults.Ok(new PaymentActionDto(payment!.PaymentUrl!)) : error.ToHttp();
    }

    /// <summary>An opaque place in a wallet's history: the creation instant and id of the last entry shown.</summary>
    static class Cursor
    {
        public static string Of(DateTimeOffset at, string id) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{(at - DateTimeOffset.UnixEpoch).Ticks / 10}|{id}"))
                .TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public static (DateTimeOffset At, string Id)? Read(string cursor)
        {
            try
            {
                var padded = cursor.Replace('-', '+').Replace('_', '/');
                padded += new string('=', (4 - padded.Length % 4) % 4);
                var parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split('|', 2);
                if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var micros) || parts[1].Length == 0) return null;
                return (DateTimeOffset.UnixEpoch.AddTicks(micros * 10), parts[1]);
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }
}
