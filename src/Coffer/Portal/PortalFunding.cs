using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Packages;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.SelfService;
using Coffer.Settings;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Portal.PortalPages;
using Html = Coffer.Pages.Html;

namespace Coffer.Portal;

public sealed record AddFundsForm
{
    public string? Amount { get; init; }
    public string? Method { get; init; }
    public string? Nonce { get; init; }
    public bool? SaveCard { get; init; }

    /// <summary>Set by the confirmation step's button: only then is anything charged.</summary>
    public bool? Confirmed { get; init; }
}

public sealed record BuyPackageForm
{
    public string? PackageId { get; init; }
    public string? Collection { get; init; }
    public string? Nonce { get; init; }
}

/// <summary>
/// Money in: an amount paid with a saved card or a new card at the gateway's checkout, bought as an invoiced
/// credit purchase (the same operation as the top-up API's PURCHASED_CREDIT_INVOICED), or a credit package
/// bought through the package purchase rule. Credits arrive only once the money has.
/// </summary>
static class PortalFunding
{
    const string NewCard = "new";

    /// <summary>What a customer is told when the tenant cannot take card payments (live mode without a live gateway).</summary>
    internal const string NoCardPayments = "Card payments are not available here yet. Nothing was charged; ask the company that runs this account.";

    internal static async Task<IResult> AddFundsPage(string id, HttpContext http, WalletStore wallets, PaymentMethodStore methods, Ids ids)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        return AddFundsView(http, wallet, await CardsAsync(http, methods), ids.New("pf"), null, null);
    }

    internal static async Task<IResult> AddFunds(string id, [FromForm] AddFundsForm form, HttpContext http, WalletStore wallets, PaymentMethodStore methods,
        SelfServiceFunding funding, GatewayRegistry gateways, PaymentService payments, Ids ids)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        var cards = await CardsAsync(http, methods);
        IResult Refuse(string message, int status = 400) => AddFundsView(http, wallet, cards, ids.New("pf"), form, message, status);

        var amount = ParseAmount(form.Amount, wallet.Currency, out var problem);
        if (amount is null) return Refuse(problem!);
        var card = cards.FirstOrDefault(c => c.Id == form.Method);
        if (card is null && form.Method != NewCard) return Refuse("Choose how to pay: one of your saved cards or a new card.");
        // The payment is shown once more before anything is charged, as the add-funds flow of the wallet docs has it.
        if (form.Confirmed != true)
            return await payments.CannotChargeAsync(wallet.TenantId, http.Request) is null ? ConfirmView(http, wallet, amount.Value, card, form) : Refuse(NoCardPayments, 422);

        var key = FormKey(http, form.Nonce);
        var save = card is null && form.SaveCard == true;
        var claim = key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("portal-add-funds",
            Idempotency.WithSavedCard(new { wallet = wallet.Id, amount, method = form.Method }, save)));
        var outcome = await funding.AddFundsAsync(wallet, amount.Value, card, card is null ? "Funds added with a card" : $"Funds added with {Card(card)}", claim,
            invoiceId => PortalWallet.ReturnUrls(gateways, http.Request, wallet.Id, invoiceId), http.Request, save);
        return outcome switch
        {
            FundingOutcome.PaymentAction action => Results.Redirect(action.Url),
            // A charge still being confirmed with the gateway shows as the pending purchase it is; a second submission of
            // the same form finds the first one's purchase, and the wallet says how it went.
            FundingOutcome.Charged or FundingOutcome.Replayed => Results.Redirect(PortalWallet.WalletUrl(wallet.Id, ("done", InvoiceOf(outcome)))),
            FundingOutcome.Refused { Why.Code: ErrorCodes.GatewayNotConfigured } => Refuse(NoCardPayments, 422),
            FundingOutcome.Refused { Why.Code: ErrorCodes.IdempotencyKeyReused } => Refuse("This form was already used for another payment. Enter the payment again.", 409),
            FundingOutcome.Refused { Why.Code: ErrorCodes.PaymentFailed } r =>
                Refuse($"Your {Card(card!)} was not charged: {Decline(r.Why.Message)}. Nothing was added and your balance is unchanged.", 402),
            FundingOutcome.Refused { Why.Code: ErrorCodes.GatewayError } r => Refuse($"The payment could not be started: {r.Why.Message}. Nothing was charged.", 502),
            FundingOutcome.Refused r => Refuse(Sentence(r.Why.Message), r.Status),
            _ => throw new InvalidOperationException($"unexpected funding outcome {outcome}"),
        };
    }

    /// <summary>The confirmation step: the amount, the credits it buys, how it is paid and the total, and the same form to confirm.</summary>
    static IResult ConfirmView(HttpContext http, WalletRow w, decimal amount, PaymentMethodRow? card, AddFundsForm form)
    {
        var paidWith = card is null
            ? "A new card, entered on the payment page" + (form.SaveCard == true ? " and kept for future payments" : "")
            : Card(card);
        string Hidden(string name, string? value) => $"""<input type="hidden" name="{name}" value="{Html.E(value)}">""";
        return Html.Page("Confirm your payment", $"""
            {BackTo(w)}
            <dl class="portal-summary" aria-label="Payment summary">
              <dt>Amount</dt><dd>{Html.Money(amount, w.Currency)}</dd>
              <dt>Credits</dt><dd>{Html.Credits(Ledger.Money.CreditsForAmount(amount, w.TopupConversionRate))} credits</dd>
              <dt>Payment method</dt><dd>{Html.E(paidWith)}</dd>
              <dt>Total</dt><dd><strong>{Html.Money(amount, w.Currency)}</strong></dd>
            </dl>
            <form method="post" action="{Html.E(PortalWallet.WalletUrl(w.Id))}/add-funds">{Html.Antiforgery(http)}
              {Hidden("Nonce", form.Nonce)}{Hidden("Amount", form.Amount)}{Hidden("Method", form.Method)}{Hidden("SaveCard", form.SaveCard == true ? "true" : "false")}
              {Hidden("Confirmed", "true")}
              <p><button type="submit">Confirm and pay {Html.Money(amount, w.Currency)}</button>
                 <a class="portal-change" href="{Html.E(PortalWallet.WalletUrl(w.Id))}/add-funds">Change</a></p>
            </form>
            """, Nav(http));
    }

    static string InvoiceOf(FundingOutcome outcome) => outcome switch
    {
        FundingOutcome.Charged c => c.InvoiceId,
        FundingOutcome.Replayed r => r.InvoiceId,
        _ => throw new InvalidOperationException($"no invoice in {outcome}"),
    };

    static IResult AddFundsView(HttpContext http, WalletRow w, List<PaymentMethodRow> cards, string nonce, AddFundsForm? form, string? error, int status = 200)
    {
        var chosen = form?.Method ?? cards.FirstOrDefault()?.Id ?? NewCard;
        var choices = cards.Select(c => Choice("Method", c.Id, Card(c), chosen == c.Id))
            .Append(Choice("Method", NewCard, "A new card (you enter it on the payment page)", chosen == NewCard));
        var currency = w.Currency.ToUpperInvariant();
        return Html.Page("Add funds", $"""
            {BackTo(w)}
            {Alert(error)}
            <form method="post" action="{Html.E(PortalWallet.WalletUrl(w.Id))}/add-funds">{Html.Antiforgery(http)}
              <input type="hidden" name="Nonce" value="{Html.E(nonce)}">
              <label for="amount">Amount ({Html.E(currency)})</label>
              <input id="amount" name="Amount" inputmode="decimal" autocomplete="off" required value="{Html.E(form?.Amount)}" aria-describedby="amount-hint">
              <p id="amount-hint" class="portal-hint">A credit costs {PortalWallet.Rate(w.TopupConversionRate, w.Currency)}, so {Html.Money(10m, w.Currency)} buys {Html.Credits(Ledger.Money.CreditsForAmount(10m, w.TopupConversionRate))} credits.</p>
              <fieldset class="portal-choices"><legend>Pay with</legend>{string.Join("", choices)}</fieldset>
              <label class="portal-choice"><input type="checkbox" name="SaveCard" value="true"{(form?.SaveCard == true ? " checked" : "")}> <span>Keep the card I enter for future payments (used first from then on, also for automatic top-ups)</span></label>
              <p><button type="submit">Add funds</button></p>
            </form>
            """, Nav(http), status);
    }

    internal static async Task<IResult> PackagesPage(string id, HttpContext http, WalletStore wallets, PaymentMethodStore methods, CreditPackages packages,
        CustomerStore customers, Ids ids)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        return await PackagesView(http, wallet, await CardsAsync(http, methods), packages, customers, ids.New("pf"), null, null);
    }

    internal static async Task<IResult> BuyPackage(string id, [FromForm] BuyPackageForm form, HttpContext http, WalletStore wallets,
        PaymentMethodStore methods, CreditPackages packages, CustomerStore customers, Ids ids)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        var cards = await CardsAsync(http, methods);
        async Task<IResult> Refuse(string message, int status = 400) =>
            await PackagesView(http, wallet, cards, packages, customers, ids.New("pf"), form, message, status);

        if (string.IsNullOrEmpty(form.PackageId)) return await Refuse("Choose a package.");
        if (form.Collection is not (CollectionMethods.ChargeAutomatically or CollectionMethods.SendInvoice))
            return await Refuse("Choose how to pay: your saved card now, or an invoice.");
        if (form.Collection == CollectionMethods.ChargeAutomatically && cards.Count == 0)
            return await Refuse("You have no saved card; choose an invoice instead.");

        var (tenant, _) = Who(http.User);
        var outcome = await packages.PurchaseAsync(tenant, wallet.Id, form.PackageId, form.Collection, FormKey(http, form.Nonce), http.Request);
        switch (outcome)
        {
            case PurchaseOutcome.KeyUsed { Check: IdempotencyCheck.Replay replay }:
                // A second submission of the same form: the first one's purchase stands.
                var first = System.Text.Json.Nodes.JsonNode.Parse(replay.Answer.Body)!["invoice"]!["id"]!.GetValue<string>();
                return Results.Redirect(PortalWallet.WalletUrl(wallet.Id, ("done", first)));
            case PurchaseOutcome.KeyUsed used:
                return await Refuse(used.Check is IdempotencyCheck.InProgress
                    ? "Your first submission of this form is still being processed. Look at the wallet's history in a moment."
                    : "This form was already used for another purchase. Choose the package again.", 409);
            case PurchaseOutcome.Refused { Reason: var reason }:
                return await Refuse(reason.Code switch
                {
                    ErrorCodes.NotFound => "That package is not available any more.",
                    ErrorCodes.GatewayNotConfigured => NoCardPayments,
                    _ => Sentence(reason.Message),
                }, reason.ToHttp().StatusCode);
        }
        var purchase = ((PurchaseOutcome.Bought)outcome).Purchase;
        var invoice = purchase.Invoice;
        if (purchase.ChargeError is { } declined)
            return await Refuse($"Your card was not charged: {Decline(declined)}. Invoice {invoice.InvoiceNumber} stays open; " +
                "the credits arrive once it is paid, and you can pay it from the wallet's history.", 402);
        return Results.Redirect(PortalWallet.WalletUrl(wallet.Id, ("done", invoice.Id)));
    }

    static async Task<IResult> PackagesView(HttpContext http, WalletRow w, List<PaymentMethodRow> cards, CreditPackages packages, CustomerStore customers,
        string nonce, BuyPackageForm? form, string? error, int status = 200)
    {
        var (tenant, customer) = Who(http.User);
        var offered = await packages.ActiveAsync(tenant, w.Currency);
        if (offered.Count == 0)
            return Html.Page("Buy a credit package", $"{BackTo(w)}{Alert(error)}<p>No credit packages are on offer in {Html.E(w.Currency.ToUpperInvariant())}.</p>", Nav(http), status);
        var chosenPackage = form?.PackageId ?? offered[0].Id;
        var packageChoices = offered.Select(p => Choice("PackageId", p.Id,
            $"{p.Name}: {Html.Credits(p.Credits)} credits{(p.BonusCredits > 0 ? $" + {Html.Credits(p.BonusCredits)} bonus credits" : "")} for {Html.Money(p.Price, p.Currency)}",
            chosenPackage == p.Id));
        // The choice offered first is the one a purchase would make without it; with no saved card only an invoice is offered.
        var collection = form?.Collection ?? (cards.Count == 0
            ? CollectionMethods.SendInvoice
            : CollectionMethods.Choose(null, (await customers.GetAsync(tenant, customer))?.CollectionMethod, hasCard: true));
        var payChoices = new List<string>();
        if (cards.Count > 0)
            payChoices.Add(Choice("Collection", CollectionMethods.ChargeAutomatically,
                $"Charge my saved card now ({string.Join(", then ", cards.Select(Card))})", collection == CollectionMethods.ChargeAutomatically));
        payChoices.Add(Choice("Collection", CollectionMethods.SendInvoice, "Send me an invoice; the credits arrive once it is paid",
            collection == CollectionMethods.SendInvoice));
        return Html.Page("Buy a credit package", $"""
            {BackTo(w)}
            {Alert(error)}
            <form method="post" action="{Html.E(PortalWallet.WalletUrl(w.Id))}/packages">{Html.Antiforgery(http)}
              <input type="hidden" name="Nonce" value="{Html.E(nonce)}">
              <fieldset class="portal-choices"><legend>Package</legend>{string.Join("", packageChoices)}</fieldset>
              <fieldset class="portal-choices"><legend>Pay with</legend>{string.Join("", payChoices)}</fieldset>
              <p><button type="submit">Buy package</button></p>
            </form>
            """, Nav(http), status);
    }

    internal static string Choice(string name, string value, string label, bool chosen) =>
        $"""<label class="portal-choice"><input type="radio" name="{name}" value="{Html.E(value)}"{(chosen ? " checked" : "")}> <span>{Html.E(label)}</span></label>""";

    internal static async Task<List<PaymentMethodRow>> CardsAsync(HttpContext http, PaymentMethodStore methods)
    {
        var (tenant, customer) = Who(http.User);
        return (await methods.ForCustomerAsync(tenant, customer)).Where(m => m.Type == PaymentMethodKinds.Card).ToList();
    }

    /// <summary>An amount the customer pays: positive, within the ledger's bounds, and no finer than the currency's minor unit.</summary>
    static decimal? ParseAmount(string? text, string currency, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(text)) { problem = "Enter the amount to add."; return null; }
        if (ParseNumber(text) is not { } value) { problem = "Enter the amount as a number, like 25 or 25.50."; return null; }
        var v = new Validator();
        var amount = v.Amount("the amount", value, required: true);
        var units = Ledger.Currencies.MinorUnits(currency.ToUpperInvariant());
        if (v.Ok && Ledger.Money.Scale(amount!.Value) > units) v.Fail($"the amount has more decimal places than {currency.ToUpperInvariant()} allows ({units})");
        if (v.Ok) return amount;
        problem = Sentence(v.Error().Message);
        return null;
    }

    /// <summary>The gateway's reason, as "card_declined: the card was declined" becomes "the card was declined (card_declined)".</summary>
    static string Decline(string message) =>
        message.Split(": ", 2) is [var code, var text] && code.All(c => char.IsAsciiLetterLower(c) || c == '_') ? $"{text} ({code})" : message;
}
