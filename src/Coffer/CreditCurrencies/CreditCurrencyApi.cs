using Coffer.Common;
using Coffer.Ledger;
using Coffer.Customers;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.CreditCurrencies;

public sealed record CreateCreditCurrencyRequest(string? Name, string? Denomination, string? Currency, decimal? PricePerCredit, int? Precision);

public sealed record UpdateCreditCurrencyRequest(string? Name, decimal? PricePerCredit, int? Precision);

/// <summary>A top-up addressed by customer and credit currency: the wallet top-up's fields and the credit currency.</summary>
public sealed record CreditTopUpRequest : TopUpRequest
{
    public string? CreditCurrencyId { get; init; }
}

/// <summary>
/// An automatic top-up rule of a customer for a credit currency: when the wallet's balance falls to <c>threshold</c>,
/// buy <c>quantity</c> credits (or up to <c>target_balance</c>). The same rule, limits and engine as a wallet's
/// <c>auto_topup</c>; this is its address by customer and credit currency.
/// </summary>
public sealed record AutoTopUpRuleRequest(
    bool? Enabled, decimal? Threshold, decimal? Quantity, string? PackageId, decimal? TargetBalance, string? PaymentMethodId, bool? Invoicing,
    int? MaxTopupsPerDay, decimal? MaxAmountPerDay, decimal? MaxAmountPerMonth, int? CooldownSeconds, int? MaxConsecutiveFailures)
{
    public AutoTopupSettings Settings() => new(Enabled ?? true, Threshold, Quantity, Invoicing, TargetBalance, PaymentMethodId, MaxTopupsPerDay,
        MaxAmountPerDay, MaxAmountPerMonth, CooldownSeconds, MaxConsecutiveFailures, PackageId);
}

public sealed record AutoTopUpRuleDto(
    string CustomerId, string CreditCurrencyId, string WalletId, bool Enabled, decimal? Threshold, decimal? Quantity, string? PackageId,
    decimal? TargetBalance, string? PaymentMethodId, bool Invoicing, int? MaxTopupsPerDay, decimal? MaxAmountPerDay, decimal? MaxAmountPerMonth,
    int? CooldownSeconds, int? MaxConsecutiveFailures)
{
    public static AutoTopUpRuleDto? Of(WalletRow w)
    {
        if (w.CreditCurrencyId is null || w.AutoTopup is null || Json.Deserialize<AutoTopupSettings>(w.AutoTopup) is not { Enabled: true } r) return null;
        return new(w.CustomerId, w.CreditCurrencyId, w.Id, true, r.Threshold, r.Amount, r.PackageId, r.TargetBalance, r.PaymentMethodId,
            r.Invoicing == true, r.MaxTopupsPerDay, r.MaxAmountPerDay, r.MaxAmountPerMonth, r.CooldownSeconds, r.MaxConsecutiveFailures);
    }
}

/// <summary>
/// Credit currencies (<c>/v1/credit-currencies</c>), and what a customer holds of them: a top-up by credit currency
/// (<c>POST /v1/customers/{id}/top-up</c>) and automatic top-up rules (<c>/v1/customers/{id}/auto-topup-rules/{credit_currency_id}</c>).
/// The first top-up or rule of a customer in a credit currency makes its wallet.
/// </summary>
public static class CreditCurrencyApi
{
    public static void MapCreditCurrencies(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/credit-currencies").WithTags("Credit currencies");
        g.MapPost("/", Create).WithName("createCreditCurrency");
        g.MapGet("/", List).WithName("listCreditCurrencies");
        g.MapGet("/{id}", Get).WithName("getCreditCurrency");
        g.MapPut("/{id}", Update).WithName("updateCreditCurrency");
        g.MapDelete("/{id}", Archive).WithName("archiveCreditCurrency");

        var customers = v1.MapGroup("/customers/{id}").WithTags("Credit currencies");
        customers.MapPost("/top-up", TopUp).WithName("topUpCustomerCreditCurrency");
        customers.MapGet("/auto-topup-rules", Rules).WithName("listAutoTopUpRules");
        customers.MapGet("/auto-topup-rules/{credit_currency_id}", GetRule).WithName("getAutoTopUpRule");
        customers.MapPut("/auto-topup-rules/{credit_currency_id}", PutRule).WithName("putAutoTopUpRule");
        customers.MapDelete("/auto-topup-rules/{credit_currency_id}", DeleteRule).WithName("deleteAutoTopUpRule");
    }

    public static ApiError ArchivedError(CreditCurrencyRow currency) => ApiError.Conflict(ErrorCodes.Conflict,
        $"credit currency {currency.Id} is archived: it takes no new wallets, top-ups by credit currency or rules");

    static void CheckPrecision(Validator v, int? precision)
    {
        if (precision is < 0 or > CreditCurrencyStore.MaxPrecision) v.Fail($"precision must be between 0 and {CreditCurrencyStore.MaxPrecision}");
    }

    static async Task<Results<Created<CreditCurrencyDto>, ApiError>> Create(Tenant tenant, CreateCreditCurrencyRequest body, CreditCurrencyStore store)
    {
        var v = new Validator();
        var name = v.Text("name", body.Name, required: true);
        var denomination = v.OneOf("denomination", body.Denomination, Denominations.All);
        if (body.Denomination is null) v.Fail("denomination is required (unit or fiat)");
        var currency = v.Currency("currency", body.Currency);
        if (denomination == Denominations.Unit && body.PricePerCredit is null) v.Fail("price_per_credit is required for a unit credit currency");
        else if (denomination == Denominations.Unit) v.Rate("price_per_credit", body.PricePerCredit);
        if (denomination == Denominations.Fiat && body.PricePerCredit is not null)
            v.Fail("a fiat credit currency is priced at one minor unit of its currency; leave price_per_credit out");
        CheckPrecision(v, body.Precision);
        if (!v.Ok) return v.Error();
        var row = await store.CreateAsync(tenant.Id, name!, denomination!, currency!, body.PricePerCredit, body.Precision ?? 0);
        return row is null
            ? ApiError.Unprocessable(ErrorCodes.LimitExceeded, $"a tenant has at most {CreditCurrencyStore.MaxPerTenant} credit currencies")
            : TypedResults.Created($"/v1/credit-currencies/{row.Id}", CreditCurrencyDto.From(row));
    }

    static async Task<Results<Ok<ListResponse<CreditCurrencyDto>>, ApiError>> List(Tenant tenant, CreditCurrencyStore store, int? limit, int? offset)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        return v.Ok ? TypedResults.Ok(await store.ListAsync(tenant.Id, l, o)) : v.Error();
    }

    static async Task<Results<Ok<CreditCurrencyDto>, ApiError>> Get(Tenant tenant, string id, CreditCurrencyStore store) =>
        await store.GetAsync(tenant.Id, id) is { } row ? TypedResults.Ok(CreditCurrencyDto.From(row)) : ApiError.NotFound("credit currency");

    static async Task<Results<Ok<CreditCurrencyDto>, ApiError>> Update(Tenant tenant, string id, UpdateCreditCurrencyRequest body, CreditCurrencyStore store)
    {
        var v = new Validator();
        var name = v.Text("name", body.Name);
        if (body.PricePerCredit is not null) v.Rate("price_per_credit", body.PricePerCredit);
        CheckPrecision(v, body.Precision);
        if (!v.Ok) return v.Error();
        if (body.PricePerCredit is not null && (await store.GetAsync(tenant.Id, id))?.Denomination == Denominations.Fiat)
            return ApiError.Validation("a fiat credit currency is priced at one minor unit of its currency; its price cannot be set");
        var (change, row) = await store.UpdateAsync(tenant.Id, id, name, body.PricePerCredit, body.Precision);
        return change switch
        {
            CreditCurrencyChange.Changed => TypedResults.Ok(CreditCurrencyDto.From(row!)),
            CreditCurrencyChange.PriceInUse => ApiError.Conflict(ErrorCodes.Conflict,
                "wallets hold this credit currency at its price, and their lots were bought at it; make a new credit currency for a new price"),
            _ => ApiError.NotFound("credit currency"),
        };
    }

    static async Task<Results<NoContent, ApiError>> Archive(Tenant tenant, string id, CreditCurrencyStore store) =>
        await store.ArchiveAsync(tenant.Id, id) ? TypedResults.NoContent() : ApiError.NotFound("credit currency");

    /// <summary>The customer and the credit currency a request names, or the error for either.</summary>
    static async Task<(CustomerDto? Customer, CreditCurrencyRow? Currency, ApiError? Error)> FindAsync(Tenant tenant, string customerId, string? currencyId,
        CustomerStore customers, CreditCurrencyStore store)
    {
        if (await customers.GetAsync(tenant.Id, customerId) is not { } customer) return (null, null, ApiError.NotFound("customer"));
        if (currencyId is null || await store.GetAsync(tenant.Id, currencyId) is not { } currency) return (null, null, ApiError.NotFound("credit currency"));
        return (customer, currency, null);
    }

    static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> TopUp(Tenant tenant, string id, CreditTopUpRequest body,
        CustomerStore customers, CreditCurrencyStore store, WalletMoves moves, TimeProvider clock, HttpRequest http)
    {
        var v = new Validator();
        v.Text("credit_currency_id", body.CreditCurrencyId, required: true);
        // Checked in full before the wallet is made, so a bad request makes nothing.
        if (WalletOrders.TopUp(v, "", body, WalletApi.HeaderKey(http), clock.GetUtcNow()) is null || !v.Ok) return v.Error();
        var (customer, currency, error) = await FindAsync(tenant, id, body.CreditCurrencyId, customers, store);
        if (error is not null) return error;
        if (CreditCurrencyStore.TooFine("credits_to_add", body.CreditsToAdd, currency!) is { } tooFine) return ApiError.Validation(tooFine);
        var existing = await store.WalletOfAsync(tenant.Id, customer!.Id, currency!.Id);
        if (existing is null && !currency.Active) return ArchivedError(currency);
        var (wallet, refused) = existing is not null ? (existing, null) : await store.OpenWalletAsync(tenant.Id, customer.Id, currency);
        if (wallet is null) return WalletApi.Refusal(refused!);
        var order = WalletOrders.TopUp(v, wallet.Id, body, WalletApi.HeaderKey(http), clock.GetUtcNow())!;
        return WalletApi.Respond(await moves.TopUpAsync(tenant.Id, wallet.Id, order));
    }

    static async Task<Results<Ok<ListResponse<AutoTopUpRuleDto>>, ApiError>> Rules(Tenant tenant, string id, CustomerStore customers, WalletStore wallets)
    {
        if (await customers.GetAsync(tenant.Id, id) is null) return ApiError.NotFound("customer");
        // A customer holds one open wallet per credit currency, so these are few.
        var rules = (await wallets.ByCustomerAsync(tenant.Id, id)).Where(w => w.Status != WalletStatuses.Closed).Select(AutoTopUpRuleDto.Of)
            .OfType<AutoTopUpRuleDto>().ToList();
        return TypedResults.Ok(new ListResponse<AutoTopUpRuleDto>(rules, new Pagination(rules.Count, rules.Count, 0)));
    }

    static async Task<Results<Ok<AutoTopUpRuleDto>, ApiError>> GetRule(Tenant tenant, string id, [FromRoute(Name = "credit_currency_id")] string currencyId,
        CustomerStore customers, CreditCurrencyStore store)
    {
        var (customer, currency, error) = await FindAsync(tenant, id, currencyId, customers, store);
        if (error is not null) return error;
        var wallet = await store.WalletOfAsync(tenant.Id, customer!.Id, currency!.Id);
        return wallet is not null && AutoTopUpRuleDto.Of(wallet) is { } rule ? TypedResults.Ok(rule) : ApiError.NotFound("automatic top-up rule");
    }

    static async Task<Results<Ok<AutoTopUpRuleDto>, ApiError>> PutRule(Tenant tenant, string id,
        [FromRoute(Name = "credit_currency_id")] string currencyId, AutoTopUpRuleRequest body, CustomerStore customers, CreditCurrencyStore store,
        Packages.CreditPackages packages, WalletMoves moves, HttpRequest http)
    {
        var v = new Validator();
        var settings = body.Settings();
        if (settings.Enabled != true) v.Fail("enabled must be true; DELETE the rule to turn it off");
        if (body.Threshold is null) v.Fail("threshold is required");
        if (body.Quantity is null && body.TargetBalance is null && body.PackageId is null) v.Fail("quantity, package_id or target_balance is required");
        WalletOrders.CheckSettings(v, settings, null);
        var key = WalletOrders.Key(v, null, WalletApi.HeaderKey(http), required: false);
        if (!v.Ok) return v.Error();
        var (customer, currency, error) = await FindAsync(tenant, id, currencyId, customers, store);
        if (error is not null) return error;
        if (!currency!.Active) return ArchivedError(currency);
        if (CreditCurrencyStore.TooFine("quantity", body.Quantity, currency) is { } tooFine) return ApiError.Validation(tooFine);
        if (body.PackageId is not null)
        {
            var package = await packages.FindAsync(tenant.Id, body.PackageId);
            if (package is not { Status: "active" }) return ApiError.NotFound("credit package on sale");
            if (!string.Equals(package.Currency, currency.Currency, StringComparison.OrdinalIgnoreCase))
                return ApiError.Validation($"credit package {package.Id} is sold in {package.Currency}, not in the credit currency's {currency.Currency}");
        }
        var (wallet, refused) = await store.OpenWalletAsync(tenant.Id, customer!.Id, currency);
        if (wallet is null) return WalletApi.Refusal(refused!);
        var changes = new WalletChanges(null, null, null, null, settings, null, null,
            IdempotencyClaim.For(key, "auto-topup-rule", new { customer = customer.Id, credit_currency = currency.Id, body }));
        return await moves.UpdateAsync(tenant.Id, wallet.Id, changes) switch
        {
            // A replay answers the rule as it stands, as a second PUT of the same rule would.
            Moved<WalletDto>.Done or Moved<WalletDto>.Replayed => TypedResults.Ok(AutoTopUpRuleDto.Of((await store.WalletOfAsync(tenant.Id, customer.Id, currency.Id))!)!),
            Moved<WalletDto>.Refused r => WalletApi.Refusal(r.Why),
            var other => throw new InvalidOperationException($"unexpected outcome {other}"),
        };
    }

    static async Task<Results<NoContent, ApiError>> DeleteRule(Tenant tenant, string id, [FromRoute(Name = "credit_currency_id")] string currencyId,
        CustomerStore customers, CreditCurrencyStore store, WalletMoves moves)
    {
        var (customer, currency, error) = await FindAsync(tenant, id, currencyId, customers, store);
        if (error is not null) return error;
        var wallet = await store.WalletOfAsync(tenant.Id, customer!.Id, currency!.Id);
        if (wallet is null || AutoTopUpRuleDto.Of(wallet) is null) return ApiError.NotFound("automatic top-up rule");
        var off = new WalletChanges(null, null, null, null, new AutoTopupSettings(false, null, null, null), null, null, null);
        return await moves.UpdateAsync(tenant.Id, wallet.Id, off) is Moved<WalletDto>.Refused r ? WalletApi.Refusal(r.Why) : TypedResults.NoContent();
    }
}
