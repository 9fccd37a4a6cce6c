using System.Globalization;
using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Ledger;
using Coffer.Payments;
using Coffer.SelfService;
using Coffer.Settings;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Portal.PortalPages;
using Html = Coffer.Pages.Html;

namespace Coffer.Portal;

/// <summary>The auto top-up form. Settable properties, not constructor parameters: a field the browser leaves out (an unticked box) must bind as null.</summary>
public sealed record AutoTopUpForm
{
    public string? Enabled { get; init; }
    public string? Threshold { get; init; }
    public string? Amount { get; init; }
    public string? PerDay { get; init; }
    public string? PayWith { get; init; }
    public string? Nonce { get; init; }
}

/// <summary>
/// The customer's own automatic top-up, within what the merchant's <c>portal_config</c> allows: on or off, the
/// threshold, the credits bought each time and how often a day. Saved through the wallet's one update path,
/// keeping whatever else the merchant set on the rule (monthly limits, cooldown, failure limit).
/// </summary>
static class PortalAutoTopUp
{
    const string Invoice = "invoice";

    internal static async Task<IResult> Show(string id, HttpContext http, WalletStore wallets, PaymentMethodStore methods, TenantSettings settings,
        CustomerStore customers, Ids ids, string? saved)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        var config = await settings.PortalConfigAsync(Who(http.User).TenantId);
        var notice = saved is null ? null : Rule(wallet)?.Enabled == true ? "Saved: automatic top-up is on." : "Saved: automatic top-up is off.";
        return View(http, wallet, await PortalFunding.CardsAsync(http, methods), await CollectionMethodAsync(http, customers), config, ids.New("pf"), null,
            notice, null);
    }

    internal static async Task<IResult> Save(string id, [FromForm] AutoTopUpForm form, HttpContext http, WalletStore wallets, PaymentMethodStore methods,
        TenantSettings settings, SelfServiceAutoTopUp autoTopUp, CustomerStore customers, Ids ids)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        var (tenant, _) = Who(http.User);
        var config = await settings.PortalConfigAsync(tenant);
        var cards = await PortalFunding.CardsAsync(http, methods);
        var method = await CollectionMethodAsync(http, customers);
        IResult Refuse(string message, int status = 400) => View(http, wallet, cards, method, config, ids.New("pf"), form, null, message, status);

        AutoTopUpChoice? choice = null;
        if (form.Enabled is "on" or "true")
        {
            if (!config.AllowAutoTopup) return Refuse("Automatic top-up is not offered for this account.", 403);
            if (ParseNumber(form.Threshold) is not { } threshold || threshold < 0)
                return Refuse("Enter the balance, in credits (zero or more), at which to top up.");
            if (ParseNumber(form.Amount) is not { } amount || amount <= 0) return Refuse("Enter how many credits to buy each time (more than zero).");
            int? perDay = null;
            if (!string.IsNullOrWhiteSpace(form.PerDay))
            {
                if (!int.TryParse(form.PerDay.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
                    return Refuse("Enter how many top-ups a day at most, as a whole number of 1 or more.");
                perDay = n;
            }
            var card = cards.FirstOrDefault(c => c.Id == form.PayWith);
            if (card is null && form.PayWith != Invoice) return Refuse("Choose how to pay: one of your saved cards or an invoice.");
            choice = new AutoTopUpChoice(threshold, amount, perDay, card);
        }

        var saved = await autoTopUp.SaveAsync(wallet, choice, IdempotencyClaim.For(FormKey(http, form.Nonce), "portal-auto-top-up",
            new { wallet = wallet.Id, choice?.Threshold, choice?.Amount, choice?.PerDay, card = choice?.Card?.Id }));
        return saved switch
        {
            // A second submission of the same form finds the first one saved.
            AutoTopUpOutcome.Saved or AutoTopUpOutcome.Replayed => Results.Redirect(PortalWallet.WalletUrl(wallet.Id) + "/auto-top-up?saved=1"),
            AutoTopUpOutcome.Refused { Why.Code: ErrorCodes.NotFound } => WalletNotFound(http),
            AutoTopUpOutcome.Refused { Why.Code: ErrorCodes.IdempotencyKeyReused or ErrorCodes.IdempotencyKeyInUse } =>
                Refuse("This form was already used for other settings. Enter them again.", 409),
            AutoTopUpOutcome.Refused r => Refuse(Sentence(r.Why.Message), r.Status),
            _ => throw new InvalidOperationException($"unexpected outcome {saved}"),
        };
    }

    static AutoTopupSettings? Rule(WalletRow w) => SelfServiceAutoTopUp.Rule(w);

    static async Task<string?> CollectionMethodAsync(HttpContext http, CustomerStore customers)
    {
        var (tenant, customer) = Who(http.User);
        return (await customers.GetAsync(tenant, customer))?.CollectionMethod;
    }

    /// <param name="collectionMethod">The customer's own: it decides what the form offers first, as it decides what the rule does.</param>
    static IResult View(HttpContext http, WalletRow w, List<PaymentMethodRow> cards, string? collectionMethod, PortalConfig config, string nonce,
        AutoTopUpForm? form, string? notice, string? error, int status = 200)
    {
        var once = $"""<input type="hidden" name="Nonce" value="{Html.E(nonce)}">""";
        var rule = Rule(w);
        var on = rule?.Enabled == true;
        var action = $"{Html.E(PortalWallet.WalletUrl(w.Id))}/auto-top-up";
        string body;
        if (!config.AllowAutoTopup)
        {
            body = "<p>Automatic top-up is not offered for this account.</p>" + (on ? $"""
                <p>It is on for this wallet. You can turn it off.</p>
                <form method="post" action="{action}">{Html.Antiforgery(http)}{once}<button type="submit" class="secondary">Turn off automatic top-up</button></form>
                """ : "");
        }
        else
        {
            var enabled = form is null ? on : form.Enabled is "on" or "true";
            var threshold = form?.Threshold ?? (rule?.Threshold is { } t ? Html.Credits(t) : "");
            var amount = form?.Amount ?? (rule?.Amount is { } a ? Html.Credits(a) : "");
            var perDay = form?.PerDay ?? (rule?.MaxTopupsPerDay ?? config.MaxTopupsPerDay)?.ToString(CultureInfo.InvariantCulture) ?? "";
            var payWith = form?.PayWith ?? (AutoTopUpWorker.ChargesCard(rule, collectionMethod)
                ? rule?.PaymentMethodId ?? cards.FirstOrDefault()?.Id ?? Invoice
                : Invoice);
            var choices = cards.Select(c => PortalFunding.Choice("PayWith", c.Id, $"Charge my {Card(c)}", payWith == c.Id))
                .Append(PortalFunding.Choice("PayWith", Invoice, "Send me an invoice; the credits arrive once it is paid", payWith == Invoice));
            var amountHint = (config.MaxAutoTopupAmount is { } max ? $"At most {Html.Credits(max)} credits at a time. " : "") +
                $"A credit costs {PortalWallet.Rate(w.TopupConversionRate, w.Currency)}.";
            var perDayHint = config.MaxTopupsPerDay is { } maxDay ? $"At most {maxDay}." : "Leave empty for no daily limit.";
            body = $"""
                <p>{(on ? "Automatic top-up is on." : "Automatic top-up is off.")}</p>
                <form method="post" action="{action}">{Html.Antiforgery(http)}{once}
                  <label class="portal-choice"><input type="checkbox" id="enabled" name="Enabled" value="on"{(enabled ? " checked" : "")}>
                    <span>Top up automatically when my balance runs low</span></label>
                  <label for="threshold">Top up when the balance falls to (credits)</label>
                  <input id="threshold" name="Threshold" inputmode="decimal" autocomplete="off" value="{Html.E(threshold)}">
                  <label for="amount">Credits to buy each time</label>
                  <input id="amount" name="Amount" inputmode="decimal" autocomplete="off" value="{Html.E(amount)}" aria-describedby="amount-hint">
                  <p id="amount-hint" class="portal-hint">{Html.E(amountHint)}</p>
                  <label for="per-day">Top-ups a day, at most</label>
                  <input id="per-day" name="PerDay" inputmode="numeric" autocomplete="off" value="{Html.E(perDay)}" aria-describedby="per-day-hint">
                  <p id="per-day-hint" class="portal-hint">{Html.E(perDayHint)}</p>
                  <fieldset class="portal-choices"><legend>Pay with</legend>{string.Join("", choices)}</fieldset>
                  <p><button type="submit">Save</button></p>
                </form>
                """;
        }
        return Html.Page("Automatic top-up", $"{BackTo(w)}{Notice(notice)}{Alert(error)}{body}", Nav(http), status);
    }
}
