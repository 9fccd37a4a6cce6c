using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Payments;
using Coffer.Settings;
using Coffer.Wallets;

namespace Coffer.SelfService;

/// <summary>A customer's own automatic top-up: buy <see cref="Amount"/> credits when the balance falls to <see cref="Threshold"/>,
/// at most <see cref="PerDay"/> times a day, charging <see cref="Card"/> (or by invoice when null).</summary>
public sealed record AutoTopUpChoice(decimal Threshold, decimal Amount, int? PerDay, PaymentMethodRow? Card);

public abstract record AutoTopUpOutcome
{
    private AutoTopUpOutcome() { }
    /// <summary>Saved; <paramref name="ToppingUpNow"/> when the balance is already at or below the threshold, so a top-up started.</summary>
    public sealed record Saved(WalletRow Wallet, bool ToppingUpNow) : AutoTopUpOutcome;
    public sealed record Replayed : AutoTopUpOutcome;
    public sealed record Refused(Refusal Why, int Status) : AutoTopUpOutcome;
}

/// <summary>
/// The customer's automatic top-up, within what the merchant's <c>portal_config</c> allows: on or off, the threshold,
/// the credits bought each time and how often a day, as the portal's form and the customer API both set it. Saved
/// through the wallet's one update path, keeping whatever else the merchant set on the rule (monthly limits,
/// cooldown, failure limit). The preview tells, before saving, whether saving would start a top-up at once.
/// </summary>
public sealed class SelfServiceAutoTopUp(TenantSettings settings, WalletWriter writer, WalletStore wallets)
{
    public static AutoTopupSettings? Rule(WalletRow w) => w.AutoTopup is null ? null : Json.Deserialize<AutoTopupSettings>(w.AutoTopup);

    /// <summary>The rule <paramref name="choice"/> makes of the wallet's current one, or why the merchant's limits refuse it.</summary>
    async Task<(AutoTopupSettings? Rule, AutoTopUpOutcome.Refused? Refused)> DecideAsync(WalletRow wallet, AutoTopUpChoice choice)
    {
        var config = await settings.PortalConfigAsync(wallet.TenantId);
        AutoTopUpOutcome.Refused No(string code, string message, int status) => new(new Refusal(code, message), status);
        if (!config.AllowAutoTopup) return (null, No(ErrorCodes.NotAllowed, "Automatic top-up is not offered for this account.", 403));
        if (choice.Threshold < 0) return (null, No(ErrorCodes.ValidationFailed, "The threshold is a number of credits, zero or more.", 400));
        if (choice.Amount <= 0) return (null, No(ErrorCodes.ValidationFailed, "The credits to buy each time must be more than zero.", 400));
        if (config.MaxAutoTopupAmount is { } maxAmount && choice.Amount > maxAmount)
            return (null, No(ErrorCodes.LimitExceeded,
                $"An automatic top-up can buy at most {Pages.Html.Credits(maxAmount)} credits at a time; {Pages.Html.Credits(choice.Amount)} is more than that.", 422));
        var perDay = choice.PerDay ?? config.MaxTopupsPerDay;
        if (perDay is < 1) return (null, No(ErrorCodes.ValidationFailed, "Top-ups a day is a whole number of 1 or more.", 400));
        if (config.MaxTopupsPerDay is { } maxPerDay && perDay > maxPerDay)
            return (null, No(ErrorCodes.LimitExceeded, $"At most {maxPerDay} automatic top-ups a day are allowed.", 422));
        var wanted = new AutoTopupSettings(true, choice.Threshold, choice.Amount, choice.Card is null, PaymentMethodId: choice.Card?.Id, MaxTopupsPerDay: perDay);
        var v = new Validator();
        WalletOrders.CheckSettings(v, wanted, null);
        if (!v.Ok) return (null, No(ErrorCodes.ValidationFailed, v.Error().Message, 400));
        // The customer's amount replaces any target balance: what is bought each time must stay within the merchant's limit.
        return ((Rule(wallet) ?? wanted) with
        {
            Enabled = true, Threshold = wanted.Threshold, Amount = wanted.Amount, TargetBalance = null, Invoicing = wanted.Invoicing,
            PaymentMethodId = wanted.PaymentMethodId, MaxTopupsPerDay = wanted.MaxTopupsPerDay,
        }, null);
    }

    /// <summary>Turns the rule on with <paramref name="choice"/>, or off when it is null.</summary>
    public async Task<AutoTopUpOutcome> SaveAsync(WalletRow wallet, AutoTopUpChoice? choice, IdempotencyClaim? claim)
    {
        AutoTopupSettings? next = null;
        if (choice is not null)
        {
            var (rule, refused) = await DecideAsync(wallet, choice);
            if (refused is not null) return refused;
            next = rule;
        }
        var result = await writer.UpdateAsync(wallet.TenantId, wallet.Id, w =>
        {
            if (w.Status == WalletStatuses.Closed) return new UpdateDecision(null, WalletRefusal.NotActive(w.Status));
            var current = Rule(w);
            if (next is null)
                return current?.Enabled == true ? new UpdateDecision(w with { AutoTopup = Json.Serialize(current with { Enabled = false }) }) : new UpdateDecision(w);
            return new UpdateDecision(w with { AutoTopup = Json.Serialize(next) });
        }, claim);
        switch (result)
        {
            case UpdateResult.Replayed:
                return new AutoTopUpOutcome.Replayed();
            case UpdateResult.Updated u:
                return new AutoTopUpOutcome.Saved(u.Wallet, next is not null && AutoTopUpQueue.WouldTrigger(u.Wallet, (await wallets.CountedForTopUpAsync(u.Wallet)).Counted));
            case UpdateResult.Refused r:
                var e = WalletApi.Refusal(r.Why);
                return new AutoTopUpOutcome.Refused(new Refusal(e.Code, e.Message), e.StatusCode);
            default:
                throw new InvalidOperationException($"unexpected update result {result}");
        }
    }

    /// <summary>Whether saving <paramref name="choice"/> would start a top-up at once (the balance is already at or below its threshold), or why it would be refused.</summary>
    public async Task<(bool WouldTopUpNow, AutoTopUpOutcome.Refused? Refused)> PreviewAsync(WalletRow wallet, AutoTopUpChoice choice)
    {
        var (rule, refused) = await DecideAsync(wallet, choice);
        if (refused is not null) return (false, refused);
        var after = wallet with { AutoTopup = Json.Serialize(rule) };
        return (AutoTopUpQueue.WouldTrigger(after, (await wallets.CountedForTopUpAsync(wallet)).Counted), null);
    }
}
