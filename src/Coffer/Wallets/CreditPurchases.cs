using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Settings;

namespace Coffer.Wallets;

/// <summary>
/// A purchase of credits against an invoice, as one wallet operation: the pending credit (or, with the
/// tenant's auto-complete setting, the credit itself) and its finalized CREDIT invoice, priced at credits ×
/// top-up rate rounded to the currency's minor unit, written in the same transaction, which also numbers the invoice. Used by the top-up API
/// and by automatic top-up.
/// </summary>
public static class CreditPurchases
{
    public static WalletOperation Operation(
        string invoiceId, string entryId, decimal? credits, decimal? amount, DateTimeOffset? expiry, int? priority,
        InvoiceConfig config, EntryDetails details, IdempotencyClaim? claim, Ids ids, Func<WriteContext, object> render)
    {
        decimal price = 0m;
        return new WalletOperation(
            w =>
            {
                if (WalletOrders.ToCredits(credits, amount, w.TopupConversionRate) is not { } c) return new CommandOrRefusal(null, WalletOrders.ConversionRefusal);
                price = Money.RoundToMinorUnit(c * w.TopupConversionRate, w.Currency.ToUpperInvariant());
                if (price <= 0) return new CommandOrRefusal(null, $"the purchase is worth less than one minor unit of {w.Currency}");
                // The lot is worth what its invoice charges.
                return config.AutoCompletePurchasedCreditTransaction
                    ? new WalletCommand.Credit(entryId, c, price, Reasons.PurchasedCreditInvoiced, expiry, priority)
                    : new WalletCommand.PendingCredit(entryId, c, price, Reasons.PurchasedCreditInvoiced, expiry, priority);
            },
            details with { ReferenceType = "INVOICE", ReferenceId = invoiceId }, claim, render)
        {
            TakesInvoiceNumber = true,
            AlsoWrite = (x, writes) =>
            {
                var w = x.Wallet;
                var entry = x.Entries[0];
                var now = entry.CreatedAt;
                var paid = config.AutoCompletePurchasedCreditTransaction;
                var invoice = new InvoiceRow(w.TenantId, invoiceId, w.CustomerId, InvoiceTypes.Credit, InvoiceStatuses.Finalized,
                    paid ? PaymentStatuses.Succeeded : PaymentStatuses.Pending, w.Currency, price, paid ? price : 0m, price, price,
                    $"Purchase of {entry.CreditAmount} credits", now.AddDays(config.DueDateDays), paid ? now : null, null, now, null, null, null,
                    "MANUAL", x.InvoiceNumber, null, Json.Serialize(new Dictionary<string, string> { ["wallet_transaction_id"] = entry.Id }),
                    w.Id, entry.Id, 1, now, now);
                InvoiceRow.Insert(writes, invoice);
                LineItemRow.Insert(writes, new LineItemRow(w.TenantId, ids.New("li"), invoiceId, $"{entry.CreditAmount} credits", "FIXED",
                    price, 1m, null, null, "{}", now));
                // The setting declares the purchase paid on the spot. What an invoice says was paid is always a
                // payment, so it is recorded as one, offline, as a merchant's report of SUCCEEDED is.
                if (paid)
                    Payments.PaymentRow.Insert(writes, new Payments.PaymentRow(w.TenantId, ids.New("pay"), null, "INVOICE", invoiceId,
                        Payments.PaymentMethodTypes.Offline, null, null, null, price, w.Currency, PaymentStatuses.Succeeded,
                        Json.Serialize(new Dictionary<string, string> { ["source"] = "auto_complete" }), now, null, null, null, null, now, now));
            },
        };
    }
}
