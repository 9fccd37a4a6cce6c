using Coffer.Common;
using Coffer.Invoices;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Wallets;

namespace Coffer.SelfService;

/// <summary>What a customer's own top-up did.</summary>
public abstract record FundingOutcome
{
    private FundingOutcome() { }
    /// <summary>The saved card was charged (or is being confirmed with the gateway): money in, then credits out.</summary>
    public sealed record Charged(string InvoiceId, string PaymentStatus) : FundingOutcome;
    /// <summary>No saved card was chosen: the customer pays at the gateway's hosted checkout; the credits wait for it.</summary>
    public sealed record PaymentAction(string InvoiceId, string Url) : FundingOutcome;
    /// <summary>The same request was made before: the invoice it made; nothing was charged again.</summary>
    public sealed record Replayed(string InvoiceId) : FundingOutcome;
    /// <summary>Nothing was bought or charged. <paramref name="Status"/> is what the refusal answers over HTTP.</summary>
    public sealed record Refused(Refusal Why, int Status) : FundingOutcome;
}

/// <summary>
/// A customer adding funds to their own wallet, as the portal's "Add funds" form and the customer API both do: the
/// credits are bought against an invoice paid first (whatever the tenant's auto-complete setting says), then the
/// saved card is charged, or the gateway's hosted checkout is opened for a new one. A charge that fails leaves
/// nothing pending: its purchase is cancelled, as automatic top-up does.
/// </summary>
public sealed class SelfServiceFunding(CreditPurchases purchases, InvoiceService invoices, PaymentService payments)
{
    /// <param name="card">The saved card to charge; null for the hosted checkout.</param>
    /// <param name="returnUrls">Where the checkout returns to, for the invoice it pays (success, cancel).</param>
    /// <param name="saveCard">At the checkout: keep the card typed there as the customer's first choice for later charges.</param>
    public async Task<FundingOutcome> AddFundsAsync(WalletRow wallet, decimal amount, PaymentMethodRow? card, string description, IdempotencyClaim? claim,
        Func<string, (string? Success, string? Cancel)> returnUrls, HttpRequest? request, bool saveCard = false)
    {
        var tenant = wallet.TenantId;
        if (await payments.CannotChargeAsync(tenant, request) is { } cannot) return new FundingOutcome.Refused(cannot, 422);
        var bought = await purchases.BuyAsync(new PurchaseRequest(tenant, wallet.Id, new Purchased.Credits(null, amount, null, null),
            new EntryDetails(description), claim, PaymentFirst: true));
        string invoiceId;
        switch (bought)
        {
            case BuyOutcome.PendingInvoice pending:
                invoiceId = pending.Purchase.InvoiceId;
                break;
            case BuyOutcome.KeyReplayed replayed:
                return new FundingOutcome.Replayed(CreditPurchases.InvoiceOf(replayed.Answer));
            default:
                var refusal = bought.Refusal();
                return new FundingOutcome.Refused(new Refusal(refusal.Code, refusal.Message), refusal.StatusCode);
        }
        var invoice = (await invoices.GetAsync(tenant, invoiceId))!;

        if (card is null)
        {
            var (success, cancel) = returnUrls(invoice.Id);
            var (payment, error, _) = await payments.CreatePaymentLinkAsync(invoice, invoice.AmountDue, success, cancel, null, request, saveCard);
            if (error is null) return new FundingOutcome.PaymentAction(invoice.Id, payment!.PaymentUrl!);
            await invoices.VoidAsync(tenant, invoice.Id);
            return new FundingOutcome.Refused(error, error.ToHttp().StatusCode);
        }

        var outcome = await payments.ChargeSavedMethodAsync(invoice, card, invoice.AmountDue, null, request);
        if (outcome is InvoiceOutcome.Done { Payment.PaymentStatus: PaymentStatuses.Succeeded or PaymentStatuses.Processing } done)
            // A charge still being confirmed with the gateway shows as the pending purchase it is.
            return new FundingOutcome.Charged(invoice.Id, done.Payment!.PaymentStatus);
        await invoices.VoidAsync(tenant, invoice.Id);
        var why = outcome switch
        {
            InvoiceOutcome.Done { Payment.ErrorMessage: { } message } => message,
            InvoiceOutcome.Refused r => r.Reason.Message,
            _ => "the charge failed",
        };
        return new FundingOutcome.Refused(new Refusal(ErrorCodes.PaymentFailed, why), 402);
    }
}
