using System.Data.Common;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Payments;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Packages;

public sealed record CreatePackageRequest(string? Name, decimal? Credits, decimal? Price, string? Currency, decimal? BonusCredits,
    int? BonusExpiryDays, int? Priority);

public sealed record PackageDto(string Id, string Name, decimal Credits, decimal Price, string Currency, decimal BonusCredits,
    int? BonusExpiryDays, int Priority, string Status, DateTimeOffset CreatedAt);

public sealed record PurchasePackageRequest(string? PackageId, string? CollectionMethod, string? IdempotencyKey);

public sealed record PackagePurchaseResponse(InvoiceDto Invoice, WalletDto Wallet);

public static class CollectionMethods
{
    public const string ChargeAutomatically = "charge_automatically";
    public const string SendInvoice = "send_invoice";
}

/// <summary>
/// Credit packages: a named bundle (credits, price, currency, optional bonus credits with their own expiry,
/// grant priority 50 unless set). Buying one creates a paid-on-completion CREDIT invoice with the credits and
/// bonus pending; the customer's collection method then charges their saved card now (credits granted when
/// the charge succeeds) or leaves the invoice to be paid.
/// </summary>
public static class PackageApi
{
    public const int DefaultPriority = 50;

    public static void MapPackages(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/credit-packages").WithTags("Credit packages");
        g.MapPost("/", Create).WithName("createCreditPackage");
        g.MapGet("/", List).WithName("listCreditPackages");
        g.MapGet("/{id}", Get).WithName("getCreditPackage");
        g.MapDelete("/{id}", Archive).WithName("archiveCreditPackage");
        v1.MapPost("/wallets/{id}/purchase-package", Purchase).WithTags("Credit packages").WithName("purchaseCreditPackage");
    }

    internal const string Columns = "tenant_id, id, name, credits, price, currency, bonus_credits, bonus_expiry_days, priority, status, created_at";

    internal static PackageDto Read(DbDataReader r) => new(r.Str("id"), r.Str("name"), r.Dec("credits"), r.Dec("price"), r.Str("currency"),
        r.Dec("bonus_credits"), r.NInt("bonus_expiry_days"), r.NInt("priority") ?? DefaultPriority, r.Str("status"), r.Time("created_at"));

    internal static async Task<PackageDto?> Find(Database db, string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {Columns} FROM credit_packages WHERE tenant_id = @t AND id = @id", Read, ("t", tenantId), ("id", id));
    }

    static async Task<Results<Created<PackageDto>, ApiError>> Create(Tenant tenant, CreatePackageRequest body, Database db, Ids ids, TimeProvider clock)
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
        var priority = v.Priority("priority", body.Priority) ?? DefaultPriority;
        if (!v.Ok) return v.Error();
        var now = clock.GetUtcNow();
        var dto = new PackageDto(ids.New("pkg"), name!, credits!.Value, price!.Value, currency!, bonus, body.BonusExpiryDays, priority, "active", now);
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            $"INSERT INTO credit_packages ({Columns}, updated_at) VALUES (@t, @id, @name, @credits, @price, @cur, @bonus, @days, @prio, 'active', @now, @now)",
            ("t", tenant.Id), ("id", dto.Id), ("name", dto.Name), ("credits", dto.Credits), ("price", dto.Price), ("cur", dto.Currency),
            ("bonus", dto.BonusCredits), ("days", dto.BonusExpiryDays), ("prio", dto.Priority), ("now", now));
        await scope.CommitAsync();
        return TypedResults.Created($"/v1/credit-packages/{dto.Id}", dto);
    }

    static async Task<Ok<List<PackageDto>>> List(Tenant tenant, CreditPackages packages, string? currency) =>
        TypedResults.Ok(await packages.ActiveAsync(tenant.Id, currency));

    static async Task<Results<Ok<PackageDto>, ApiError>> Get(Tenant tenant, string id, Database db) =>
        await Find(db, tenant.Id, id) is { } p ? TypedResults.Ok(p) : ApiError.NotFound("credit package");

    static async Task<Results<NoContent, ApiError>> Archive(Tenant tenant, string id, Database db, TimeProvider clock)
    {
        await using var scope = await db.BeginWriteAsync();
        var n = await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE credit_packages SET status = 'archived', updated_at = @now WHERE tenant_id = @t AND id = @id AND status = 'active'",
            ("now", clock.GetUtcNow()), ("t", tenant.Id), ("id", id));
        await scope.CommitAsync();
        return n == 1 ? TypedResults.NoContent() : ApiError.NotFound("credit package");
    }

    static async Task<Results<Ok<PackagePurchaseResponse>, JsonReplay, ApiError>> Purchase(
        Tenant tenant, string id, PurchasePackageRequest body, CreditPackages packages, HttpRequest http)
    {
        var v = new Validator();
        var packageId = v.Text("package_id", body.PackageId, required: true);
        var collection = v.OneOf("collection_method", body.CollectionMethod,
            new HashSet<string> { CollectionMethods.ChargeAutomatically, CollectionMethods.SendInvoice });
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

/// <summary>A package bought: its CREDIT invoice as it stands after the charge, the answer, and why the charge failed when it did.</summary>
public sealed record PackagePurchase(InvoiceRow Invoice, PackagePurchaseResponse Response, string? ChargeError);

public abstract record PurchaseOutcome
{
    private PurchaseOutcome() { }
    public sealed record Bought(PackagePurchase Purchase) : PurchaseOutcome;
    public sealed record Refused(Refusal Reason) : PurchaseOutcome;
    /// <summary>The key was used before: replay (the stored <see cref="PackagePurchaseResponse"/>) or refuse; nothing was bought.</summary>
    public sealed record KeyUsed(IdempotencyCheck Check) : PurchaseOutcome;
}

/// <summary>
/// The tenant's active packages, and buying one for a wallet: the one purchase rule behind both
/// <c>POST /v1/wallets/{id}/purchase-package</c> and the customer portal.
/// </summary>
public sealed class CreditPackages(Database db, WalletStore wallets, CreditPurchases purchases, InvoiceService invoices, PaymentService payments,
    PaymentMethodStore methods, CustomerStore customers, TimeProvider clock)
{
    public Task<PackageDto?> FindAsync(string tenantId, string id) => PackageApi.Find(db, tenantId, id);

    /// <summary>Active packages, cheapest first; only those sold in <paramref name="currency"/> when it is given.</summary>
    public async Task<List<PackageDto>> ActiveAsync(string tenantId, string? currency)
    {
        await using var c = await db.OpenAsync();
        var all = await c.QueryAsync(null, $"SELECT {PackageApi.Columns} FROM credit_packages WHERE tenant_id = @t AND status = 'active' ORDER BY price, id",
            PackageApi.Read, ("t", tenantId));
        return currency is null ? all : all.Where(p => p.Currency == currency.ToLowerInvariant()).ToList();
    }

    /// <summary>
    /// Buys <paramref name="packageId"/> for the wallet. Without a <paramref name="collection"/> method, a customer with a
    /// saved card is charged now and one without is invoiced. With a <paramref name="key"/>, the same request replays
    /// the first answer and charges nothing again, and another request with it is refused.
    /// </summary>
    public async Task<PurchaseOutcome> PurchaseAsync(
        string tenantId, string walletId, string packageId, string? collection, string? key, HttpRequest? http)
    {
        var package = await FindAsync(tenantId, packageId);
        if (package is null || package.Status != "active") return new PurchaseOutcome.Refused(Refusal.NotFound("credit package"));
        var wallet = await wallets.GetAsync(tenantId, walletId);
        if (wallet is null) return new PurchaseOutcome.Refused(Refusal.NotFound("wallet"));
        if (wallet.Currency != package.Currency)
            return new PurchaseOutcome.Refused(Refusal.Invalid($"the package is sold in {package.Currency}; the wallet holds {wallet.Currency}"));

        var claim = IdempotencyClaim.For(key, "purchase-package", new { wallet = walletId, package = packageId, collection });
        var cards = (await methods.ForCustomerAsync(tenantId, wallet.CustomerId)).Where(m => m.Type == PaymentMethodKinds.Card).ToList();
        collection ??= cards.Count > 0 ? CollectionMethods.ChargeAutomatically : CollectionMethods.SendInvoice;
        if (collection == CollectionMethods.ChargeAutomatically && cards.Count == 0)
            return new PurchaseOutcome.Refused(Refusal.Invalid("charge_automatically needs a saved card; save one or use send_invoice"));
        var charge = collection == CollectionMethods.ChargeAutomatically;
        // The key is claimed with the purchase and completed with its answer, or, when a charge follows, after it.
        var created = await purchases.BuyAsync(new PurchaseRequest(tenantId, wallet.Id,
            new Purchased.Package(package, package.BonusExpiryDays is { } days ? clock.GetUtcNow().AddDays(days) : null),
            new EntryDetails($"Credit package {package.Name}"), claim, PaymentFirst: true, ChargeFollows: charge));
        if (created is not BuyOutcome.PendingInvoice { Purchase: var bought }) return NotBought(created);
        var invoice = (await invoices.GetAsync(tenantId, bought.InvoiceId))!;
        if (!charge) return new PurchaseOutcome.Bought(new PackagePurchase(invoice, (PackagePurchaseResponse)bought.Answer, null));
        string? chargeError = null;
        foreach (var card in cards)
        {
            var outcome = await payments.ChargeSavedMethodAsync(invoice, card, invoice.AmountDue, null, http);
            invoice = (await invoices.GetAsync(tenantId, invoice.Id))!;
            if (invoice.AmountRemaining <= 0) { chargeError = null; break; }
            // No answer from the gateway yet: another card now could pay twice; the reconciler settles this one.
            if (outcome is InvoiceOutcome.Done { Payment.PaymentStatus: PaymentStatuses.Processing }) { chargeError = "the charge is being confirmed with the gateway"; break; }
            chargeError = outcome switch
            {
                InvoiceOutcome.Done { Payment.ErrorMessage: { } message } => message,
                InvoiceOutcome.Refused r => r.Reason.Message,
                _ => "the charge failed",
            };
        }
        var response = await RenderAsync(invoice, (await wallets.GetAsync(tenantId, walletId))!);
        if (claim is not null)
        {
            // The claim was committed in progress with the purchase; the answer after the charge completes it.
            // Until then a retry is told the first request is still being processed.
            await using var scope = await db.BeginWriteAsync();
            var writes = new SqlBatch();
            Idempotency.Complete(writes, tenantId, claim, StoredAnswer.Of(200, response));
            await writes.ExecuteAsync(scope.Connection, scope.Transaction);
            await scope.CommitAsync();
        }
        return new PurchaseOutcome.Bought(new PackagePurchase(invoice, response, chargeError));
    }

    async Task<PackagePurchaseResponse> RenderAsync(InvoiceRow invoice, WalletRow wallet) =>
        new(InvoiceDtos.Invoice(invoice, await invoices.LinesAsync(invoice.TenantId, [invoice.Id]), await customers.GetAsync(invoice.TenantId, invoice.CustomerId)),
            WalletDtos.Wallet(wallet));

    static PurchaseOutcome NotBought(BuyOutcome outcome) => outcome switch
    {
        BuyOutcome.KeyReplayed r => new PurchaseOutcome.KeyUsed(new IdempotencyCheck.Replay(r.Answer)),
        BuyOutcome.KeyReused k => new PurchaseOutcome.KeyUsed(k.Check),
        BuyOutcome.Refused r => new PurchaseOutcome.Refused(Refusal.OfWallet(r.Why)),
        BuyOutcome.WalletNotFound => new PurchaseOutcome.Refused(Refusal.NotFound("wallet")),
        _ => throw new InvalidOperationException($"unexpected package purchase outcome {outcome}"),
    };
}
