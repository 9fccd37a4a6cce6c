using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Payments;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Packages;

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
    PaymentMethodStore methods, CustomerStore customers, TenantSettings settings, Ids ids, TimeProvider clock)
{
    public async Task<PackageDto?> FindAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {PackageApi.Columns} FROM credit_packages WHERE tenant_id = @t AND id = @id", PackageApi.Read,
            ("t", tenantId), ("id", id));
    }

    /// <summary>
    /// A new active package. Its grant priority is settled now: a package shows, and its purchases grant, the one
    /// priority it was created with, whatever the tenant's default becomes later.
    /// </summary>
    public async Task<PackageDto> CreateAsync(string tenantId, NewPackage order)
    {
        var priority = await settings.GrantPriorityAsync(tenantId, GrantSources.Package, order.Priority) ?? PackageApi.DefaultPriority;
        var p = new PackageDto(ids.New("pkg"), order.Name, order.Credits, order.Price, order.Currency, order.BonusCredits, order.BonusExpiryDays, priority,
            "active", clock.GetUtcNow());
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            $"INSERT INTO credit_packages ({PackageApi.Columns}, updated_at) VALUES (@t, @id, @name, @credits, @price, @cur, @bonus, @days, @prio, 'active', @now, @now)",
            ("t", tenantId), ("id", p.Id), ("name", p.Name), ("credits", p.Credits), ("price", p.Price), ("cur", p.Currency),
            ("bonus", p.BonusCredits), ("days", p.BonusExpiryDays), ("prio", p.Priority), ("now", p.CreatedAt));
        await scope.CommitAsync();
        return p;
    }

    /// <summary>Stops selling an active package; false when there is no active package of that id.</summary>
    public async Task<bool> ArchiveAsync(string tenantId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var n = await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE credit_packages SET status = 'archived', updated_at = @now WHERE tenant_id = @t AND id = @id AND status = 'active'",
            ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return n == 1;
    }

    /// <summary>Active packages, cheapest first; only those sold in <paramref name="currency"/> when it is given.</summary>
    public async Task<List<PackageDto>> ActiveAsync(string tenantId, string? currency)
    {
        await using var c = await db.OpenAsync();
        var all = await c.QueryAsync(null, $"SELECT {PackageApi.Columns} FROM credit_packages WHERE tenant_id = @t AND status = 'active' ORDER BY price, id",
            PackageApi.Read, ("t", tenantId));
        return currency is null ? all : all.Where(p => p.Currency == currency.ToLowerInvariant()).ToList();
    }

    /// <summary>One page of <see cref="ActiveAsync"/>'s list, in the same order.</summary>
    public async Task<Page<PackageDto>> ActivePageAsync(string tenantId, string? currency, int limit, int offset)
    {
        await using var c = await db.OpenAsync();
        return await c.PageAsync(PackageApi.Columns, "credit_packages",
            Where.Tenant(tenantId).Add("status = 'active'").Eq("currency", "cur", currency?.ToLowerInvariant()), "price, id", limit, offset, PackageApi.Read);
    }

    /// <summary>
    /// Buys <paramref name="packageId"/> for the wallet. Without a <paramref name="collection"/> method the customer's own
    /// applies, and without that a customer with a saved card is charged now and one without is invoiced. With a
    /// <paramref name="key"/>, the same request replays the first answer and charges nothing again, and another request
    /// with it is refused.
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

        // The fingerprint is of the request as sent: a retry replays even if the customer's own method changed meanwhile.
        var claim = IdempotencyClaim.For(key, "purchase-package", new { wallet = walletId, package = packageId, collection });
        var cards = (await methods.ForCustomerAsync(tenantId, wallet.CustomerId)).Where(m => m.Type == PaymentMethodKinds.Card).ToList();
        collection = CollectionMethods.Choose(collection, (await customers.GetAsync(tenantId, wallet.CustomerId))?.CollectionMethod, cards.Count > 0);
        if (collection == CollectionMethods.ChargeAutomatically && cards.Count == 0)
            return new PurchaseOutcome.Refused(Refusal.Invalid("charge_automatically needs a saved card; save one or use send_invoice"));
        var charge = collection == CollectionMethods.ChargeAutomatically;
        // Refused before anything is bought, rather than an invoice left open by a charge that could not be tried.
        if (charge && await payments.CannotChargeAsync(tenantId, http) is { } cannot) return new PurchaseOutcome.Refused(cannot);
        // The key is claimed with the purchase and completed with its answer, or, when a charge follows, after it.
        var created = await purchases.BuyAsync(new PurchaseRequest(tenantId, wallet.Id,
            Purchased.Package.Of(package, clock.GetUtcNow()),
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
