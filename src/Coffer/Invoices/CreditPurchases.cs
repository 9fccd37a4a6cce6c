using Coffer.Common;
using Coffer.Customers;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Packages;
using Coffer.Payments;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Invoices;

/// <summary>What a purchase buys.</summary>
public abstract record Purchased
{
    private Purchased() { }

    /// <summary>
    /// Credits, or an amount converted at the wallet's top-up rate as read under its lock (explicit credits win),
    /// priced at credits × top-up rate rounded to the currency's minor unit.
    /// </summary>
    public sealed record Credits(decimal? Count, decimal? Amount, DateTimeOffset? Expiry, int? Priority) : Purchased;

    /// <summary>A credit package at its own price, with its bonus credits (free, with their own expiry) pending beside them.</summary>
    public sealed record Package(PackageDto Offer, DateTimeOffset? BonusExpiry) : Purchased
    {
        /// <summary>The package bought now: its bonus credits expire the package's bonus_expiry_days from now.</summary>
        public static Package Of(PackageDto offer, DateTimeOffset now) =>
            new(offer, offer.BonusExpiryDays is { } days ? now.AddDays(days) : null);
    }
}

/// <summary>
/// A validated purchase. <paramref name="PaymentFirst"/>: the money is asked for right after (a card, a checkout), so
/// the credits wait for it whatever the tenant's auto-complete setting says. <paramref name="ChargeFollows"/> (packages
/// only): the key stays claimed in progress until the caller completes it with the answer after the charge.
/// </summary>
public sealed record PurchaseRequest(
    string TenantId, string WalletId, Purchased What, EntryDetails Details, IdempotencyClaim? Claim, bool PaymentFirst = false,
    bool ChargeFollows = false);

/// <summary>A purchase made: its invoice, the wallet after it, and the answer stored with its key.</summary>
public sealed record CreditPurchase(string InvoiceId, WalletRow Wallet, object Answer);

public abstract record BuyOutcome
{
    private BuyOutcome() { }
    /// <summary>The tenant's auto-complete setting granted the credits now; the invoice is paid.</summary>
    public sealed record Granted(CreditPurchase Purchase) : BuyOutcome;
    /// <summary>The credits are pending until the invoice is paid.</summary>
    public sealed record PendingInvoice(CreditPurchase Purchase) : BuyOutcome;
    /// <summary>The wallet refused the purchase: not active, over its balance limit, or the amount buys no credits or is worth less than a minor unit.</summary>
    public sealed record Refused(WalletRefusal Why) : BuyOutcome;
    /// <summary>The same request was made before: its stored answer; nothing was bought again.</summary>
    public sealed record KeyReplayed(StoredAnswer Answer) : BuyOutcome;
    /// <summary>The key belongs to another request, or to one still in progress (<see cref="IdempotencyCheck"/> says which).</summary>
    public sealed record KeyReused(IdempotencyCheck Check) : BuyOutcome;
    public sealed record WalletNotFound : BuyOutcome;
    /// <summary>The commit failed: the purchase may or may not have been made; a retry with the key learns which.</summary>
    public sealed record OutcomeUnknown(string? IdempotencyKey) : BuyOutcome;
}

/// <summary>
/// A purchase of credits against an invoice, as one operation for the top-up API, the customer portal, automatic
/// top-up and credit packages: the pending credit (or, with the tenant's auto-complete setting, the credit itself)
/// and its finalized CREDIT invoice, written in the wallet's transaction, which also takes the invoice's number (the
/// last lock, after the wallet's). The lot is worth what its invoice charges.
/// </summary>
public sealed class CreditPurchases(Database db, WalletWriter writer, TenantSettings settings, CustomerStore customers, OutboxWriter outbox, Ids ids, TimeProvider clock)
{
    public async Task<BuyOutcome> BuyAsync(PurchaseRequest request, CancellationToken ct = default)
    {
        var config = await settings.InvoiceConfigAsync(request.TenantId);
        var invoiceId = ids.New("inv");
        var details = request.Details with { ReferenceType = "INVOICE", ReferenceId = invoiceId };
        switch (request.What)
        {
            case Purchased.Credits credits:
                var grantNow = config.AutoCompletePurchasedCreditTransaction && !request.PaymentFirst;
                credits = credits with { Priority = await settings.GrantPriorityAsync(request.TenantId, GrantSources.Purchased, credits.Priority) };
                return await CreditsAsync(request, credits,
                    new Decided(invoiceId, ids.New("wtx"), ids.New("li"), grantNow ? ids.New("pay") : null, null, config.DueDateDays), details, ct);
            case Purchased.Package package:
                // A package's invoice is due at once and is never granted before it is paid.
                return await PackageAsync(request, package,
                    new Decided(invoiceId, ids.New("wtx"), ids.New("li"), null, package.Offer.BonusCredits > 0 ? ids.New("wtx") : null, 0), details);
            default:
                throw new InvalidOperationException($"unknown purchase {request.What}");
        }
    }

    /// <summary>The invoice of a purchase from its stored answer (earlier answers held only <c>invoice_id</c>).</summary>
    public static string InvoiceOf(StoredAnswer answer) => Json.Deserialize<PurchasedInvoice>(answer.Body)!.InvoiceId;

    sealed record PurchasedInvoice(string InvoiceId);

    /// <summary>
    /// What is settled before the wallet is locked: the ids of the rows, and whether the credits are granted (and the
    /// invoice paid, by <see cref="PaymentId"/>) now.
    /// </summary>
    sealed record Decided(string InvoiceId, string EntryId, string LineId, string? PaymentId, string? BonusId, int DueDateDays)
    {
        public bool GrantNow => PaymentId is not null;
    }

    /// <summary>How the invoice describes what was bought.</summary>
    sealed record InvoiceText(string Description, string Line, Dictionary<string, string> Metadata, string? IdempotencyKey = null);

    /// <summary>Credits: one wallet operation through the writer, its key stored with its effect.</summary>
    async Task<BuyOutcome> CreditsAsync(PurchaseRequest request, Purchased.Credits what, Decided d, EntryDetails details, CancellationToken ct)
    {
        var op = new WalletOperation(w => Command(what, d, w), details, request.Claim,
            x => new WalletChangeResponse(d.InvoiceId, WalletDtos.Wallet(x.Wallet),
                x.Entries.Count == 0 ? null : WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet)))
        {
            TakesInvoiceNumber = true,
            AlsoWrite = (x, writes) => Write(writes, Rows(d, x, new InvoiceText($"Purchase of {x.Entries[0].CreditAmount} credits",
                $"{x.Entries[0].CreditAmount} credits", new Dictionary<string, string> { ["wallet_transaction_id"] = x.Entries[0].Id }))),
        };
        return await writer.ExecuteAsync(request.TenantId, request.WalletId, op, ct) switch
        {
            WriteResult.Applied a when d.GrantNow => new BuyOutcome.Granted(new CreditPurchase(d.InvoiceId, a.Wallet, a.Response)),
            WriteResult.Applied a => new BuyOutcome.PendingInvoice(new CreditPurchase(d.InvoiceId, a.Wallet, a.Response)),
            var other => NotBought(other),
        };
    }

    /// <summary>The credit as decided from the wallet read under its lock; its amount is the price its invoice charges.</summary>
    static CommandOrRefusal Command(Purchased.Credits what, Decided d, WalletRow w)
    {
        if (WalletOrders.ToCredits(what.Count, what.Amount, w.TopupConversionRate) is not { } credits) return new CommandOrRefusal(null, WalletOrders.ConversionRefusal);
        var price = Money.RoundToMinorUnit(credits * w.TopupConversionRate, w.Currency.ToUpperInvariant());
        if (price <= 0) return new CommandOrRefusal(null, $"the purchase is worth less than one minor unit of {w.Currency}");
        return d.GrantNow
            ? new WalletCommand.Credit(d.EntryId, credits, price, Reasons.PurchasedCreditInvoiced, what.Expiry, what.Priority)
            : new WalletCommand.PendingCredit(d.EntryId, credits, price, Reasons.PurchasedCreditInvoiced, what.Expiry, what.Priority);
    }

    /// <summary>
    /// A package: its credits and its bonus are two entries of one transaction, with the key claimed first and
    /// completed in it with the answer, or (a charge follows) left in progress for the caller to complete after the charge.
    /// </summary>
    async Task<BuyOutcome> PackageAsync(PurchaseRequest request, Purchased.Package what, Decided d, EntryDetails details)
    {
        var package = what.Offer;
        var text = new InvoiceText($"Credit package {package.Name}",
            package.BonusCredits > 0 ? $"{package.Name}: {package.Credits} credits + {package.BonusCredits} bonus" : $"{package.Name}: {package.Credits} credits",
            new Dictionary<string, string> { ["credit_package_id"] = package.Id }, request.Claim?.Key);
        var ops = new List<WalletWriter.Pending>
        {
            // Its response is the invoice's rows, for the answer below: the key is the purchase's, not this entry's.
            new(request.TenantId, request.WalletId, new WalletOperation(
                _ => new WalletCommand.PendingCredit(d.EntryId, package.Credits, package.Price, Reasons.PurchasedCreditInvoiced, null, package.Priority),
                details, null, x => Rows(d, x, text))
            {
                TakesInvoiceNumber = true,
                AlsoWrite = (x, writes) => Write(writes, Rows(d, x, text)),
            }),
        };
        if (d.BonusId is not null)
            ops.Add(new(request.TenantId, request.WalletId, new WalletOperation(
                // The package price pays for its credits; the bonus is free.
                _ => new WalletCommand.PendingCredit(d.BonusId, package.BonusCredits, 0m, Reasons.FreeCreditGrant, what.BonusExpiry, package.Priority),
                details with { Description = $"Bonus of credit package {package.Name}" }, null, _ => new { })));

        await using var scope = await db.BeginWriteAsync();
        if (request.Claim is { } claim &&
            await Idempotency.ClaimAsync(scope.Connection, scope.Transaction, request.TenantId, claim, clock.GetUtcNow()) is not IdempotencyCheck.Claimed and var used)
            return used is IdempotencyCheck.Replay replay ? new BuyOutcome.KeyReplayed(replay.Answer) : new BuyOutcome.KeyReused(used);
        var (results, _) = await writer.ExecuteInAsync(scope.Connection, scope.Transaction, ops, CancellationToken.None);
        if (results.FirstOrDefault(r => r is not WriteResult.Applied) is { } refused) return NotBought(refused);
        var rows = (PurchaseRows)((WriteResult.Applied)results[0]).Response;
        var wallet = ((WriteResult.Applied)results[^1]).Wallet;
        var answer = new PackagePurchaseResponse(
            InvoiceDtos.Invoice(rows.Invoice, [rows.Line], await customers.GetAsync(request.TenantId, wallet.CustomerId)), WalletDtos.Wallet(wallet));
        if (request.Claim is { } completed && !request.ChargeFollows)
        {
            var writes = new SqlBatch();
            Idempotency.Complete(writes, request.TenantId, completed, StoredAnswer.Of(200, answer));
            await writes.ExecuteAsync(scope.Connection, scope.Transaction);
        }
        await scope.CommitAsync();
        return new BuyOutcome.PendingInvoice(new CreditPurchase(d.InvoiceId, wallet, answer));
    }

    sealed record PurchaseRows(InvoiceRow Invoice, LineItemRow Line, PaymentRow? Payment);

    /// <summary>
    /// The invoice of a purchase as the wallet's change decided it: priced at the credit entry's amount, numbered in
    /// the same transaction, and paid on the spot when the credits were granted now.
    /// </summary>
    static PurchaseRows Rows(Decided d, WriteContext x, InvoiceText text)
    {
        var w = x.Wallet;
        var entry = x.Entries[0];
        var now = entry.CreatedAt;
        var price = entry.Amount;
        var paid = d.GrantNow;
        var invoice = new InvoiceRow(w.TenantId, d.InvoiceId, w.CustomerId, InvoiceTypes.Credit, InvoiceStatuses.Finalized,
            paid ? PaymentStatuses.Succeeded : PaymentStatuses.Pending, w.Currency, price, paid ? price : 0m, price, price,
            text.Description, now.AddDays(d.DueDateDays), paid ? now : null, null, now, null, null, null,
            BillingReasons.Manual, x.InvoiceNumber, text.IdempotencyKey, Json.Serialize(text.Metadata), w.Id, entry.Id, 1, now, now, BonusTransactionId: d.BonusId);
        var line = new LineItemRow(w.TenantId, d.LineId, d.InvoiceId, text.Line, "FIXED", price, 1m, null, null, "{}", now);
        // The setting declares the purchase paid on the spot. What an invoice says was paid is always a payment, so
        // it is recorded as one, offline, as a merchant's report of SUCCEEDED is.
        var payment = d.PaymentId is null ? null : new PaymentRow(w.TenantId, d.PaymentId, null, "INVOICE", d.InvoiceId,
            PaymentMethodTypes.Offline, null, null, null, price, w.Currency, PaymentStatuses.Succeeded,
            Json.Serialize(new Dictionary<string, string> { ["source"] = "auto_complete" }), now, null, null, null, null, now, now);
        return new PurchaseRows(invoice, line, payment);
    }

    void Write(SqlBatch writes, PurchaseRows rows)
    {
        InvoiceRow.Insert(writes, rows.Invoice);
        LineItemRow.Insert(writes, rows.Line);
        outbox.Created(writes, rows.Invoice, [rows.Line]);
        if (rows.Payment is { } payment) PaymentRow.Insert(writes, payment);
    }

    static BuyOutcome NotBought(WriteResult result) => result switch
    {
        WriteResult.Replayed r => new BuyOutcome.KeyReplayed(r.Answer),
        WriteResult.Refused { Why: WalletRefusal.KeyReused k } => new BuyOutcome.KeyReused(new IdempotencyCheck.Reused(k.Key)),
        WriteResult.Refused { Why: WalletRefusal.KeyInUse k } => new BuyOutcome.KeyReused(new IdempotencyCheck.InProgress(k.Key)),
        WriteResult.Refused { Why: WalletRefusal.NotFound } => new BuyOutcome.WalletNotFound(),
        WriteResult.Refused { Why: WalletRefusal.OutcomeUnknown u } => new BuyOutcome.OutcomeUnknown(u.IdempotencyKey),
        WriteResult.Refused f => new BuyOutcome.Refused(f.Why),
        _ => throw new InvalidOperationException($"unexpected write result {result}"),
    };
}
