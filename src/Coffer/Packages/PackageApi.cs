using System.Data.Common;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Packages;

public sealed record CreatePackageRequest(string? Name, decimal? Credits, decimal? Price, string? Currency, decimal? BonusCredits,
    int? BonusExpiryDays, int? Priority);

/// <summary>A package as validated; without a <see cref="Priority"/> it takes the tenant's default for packages.</summary>
public sealed record NewPackage(string Name, decimal Credits, decimal Price, string Currency, decimal BonusCredits, int? BonusExpiryDays, int? Priority);

public sealed record PackageDto(string Id, string Name, decimal Credits, decimal Price, string Currency, decimal BonusCredits,
    int? BonusExpiryDays, int Priority, string Status, DateTimeOffset CreatedAt);

public sealed record PurchasePackageRequest(string? PackageId, string? CollectionMethod, string? IdempotencyKey);

public sealed record PackagePurchaseResponse(InvoiceDto Invoice, WalletDto Wallet);

/// <summary>
/// Credit packages: a named bundle (credits, price, currency, optional bonus credits with their own expiry, and the
/// grant priority of both: its own, else the tenant's <c>grant_priorities.package</c> when it is created, else 50).
/// Buying one creates a paid-on-completion CREDIT invoice with the credits and bonus pending; the collection method
/// (the call's, else the customer's, else a saved card when there is one) then charges their saved card now
/// (credits granted when the charge succeeds) or leaves the invoice to be paid.
/// </summary>
public static class PackageApi
{
    public const int DefaultPriority = 50;

    public static void MapPackages(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/credit-packages").WithTags("Credit packages");
        g.MapPost("/", Create).WithName("createCreditPackage");
        g.MapGet("/", List).WithName("listCreditPackages").WithSummary("One page of the credit packages on sale, cheapest first, optionally in one currency");
        g.MapGet("/{id}", Get).WithName("getCreditPackage");
        g.MapDelete("/{id}", Archive).WithName("archiveCreditPackage");
        v1.MapPost("/wallets/{id}/purchase-package", Purchase).WithTags("Credit packages").WithName("purchaseCreditPackage");
    }

    internal const string Columns = "tenant_id, id, name, credits, price, currency, bonus_credits, bonus_expiry_days, priority, status, created_at";

    internal static PackageDto Read(DbDataReader r) => new(r.Str("id"), r.Str("name"), r.Dec("credits"), r.Dec("price"), r.Str("currency"),
        r.Dec("bonus_credits"), r.NInt("bonus_expiry_days"), r.NInt("priority") ?? DefaultPriority, r.Str("status"), r.Time("created_at"));

    static async Task<Results<Created<PackageDto>, ApiError>> Create(Tenant tenant, CreatePackageRequest body, CreditPackages packages)
    {
        var v = new Validator();
        var name = v.Text("name", body.Name, required: true);
        var credits = v.Amount("credits", body.Credits, required: true);
        var currency = v.Currency("currency", body.Currency);
        var price = v.Amount("price", body.Price, required: true);
        if (price is not null && currency is not null && Money.Scale(price.Value) > Currencies.MinorUnits(currency.ToUpperInvariant()))
            v.Fail($"price has more decimal places than {currency} allows");
        var bonus = v.Amount("bonus_credits", body.BonusCredits, allowZero: true) ?? 0m;
        if (body.BonusExpiryDays is < 1 or > 3650) v.Fail("bonus_expiry_days must be between 1 and 3650");
        var priority = v.Priority("priority", body.Priority);
        if (!v.Ok) return v.Error();
        var dto = await packages.CreateAsync(tenant.Id, new NewPackage(name!, credits!.Value, price!.Value, currency!, bonus, body.BonusExpiryDays, priority));
        return TypedResults.Created($"/v1/credit-packages/{dto.Id}", dto);
    }

    static async Task<Results<Ok<ListResponse<PackageDto>>, ApiError>> List(Tenant tenant, CreditPackages packages, string? currency, int? limit, int? offset)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        return TypedResults.Ok((await packages.ActivePageAsync(tenant.Id, currency, l, o)).Response());
    }

    static async Task<Results<Ok<PackageDto>, ApiError>> Get(Tenant tenant, string id, CreditPackages packages) =>
        await packages.FindAsync(tenant.Id, id) is { } p ? TypedResults.Ok(p) : ApiError.NotFound("credit package");

    static async Task<Results<NoContent, ApiError>> Archive(Tenant tenant, string id, CreditPackages packages) =>
        await packages.ArchiveAsync(tenant.Id, id) ? TypedResults.NoContent() : ApiError.NotFound("credit package");

    static async Task<Results<Ok<PackagePurchaseResponse>, JsonReplay, ApiError>> Purchase(
        Tenant tenant, string id, PurchasePackageRequest body, CreditPackages packages, HttpRequest http)
    {
        var v = new Validator();
        var packageId = v.Text("package_id", body.PackageId, required: true);
        var collection = v.OneOf("collection_method", body.CollectionMethod, CollectionMethods.All);
        var key = WalletApi.IdempotencyKey(v, body.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();
        return ToHttp(await packages.PurchaseAsync(tenant.Id, id, packageId!, collection, key, http));
    }

    static Results<Ok<PackagePurchaseResponse>, JsonReplay, ApiError> ToHttp(PurchaseOutcome outcome) => outcome switch
    {
        PurchaseOutcome.Bought b => TypedResults.Ok(b.Purchase.Response),
        PurchaseOutcome.KeyUsed { Check: IdempotencyCheck.Replay r } => new JsonReplay(r.Answer),
        PurchaseOutcome.KeyUsed k => Idempotency.Refusal(k.Check)!,
        PurchaseOutcome.Refused r => r.Reason.ToHttp(),
        _ => throw new InvalidOperationException("unknown purchase outcome"),
    };
}
