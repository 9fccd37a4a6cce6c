using System.Globalization;
using Coffer.Common;
using Coffer.Ledger;

namespace Coffer.Wallets;

/// <summary>A top-up as validated: credits or an amount (converted under the wallet's lock), and the key's claim.</summary>
public sealed record TopUpOrder(string Reason, decimal? Credits, decimal? Amount, DateTimeOffset? Expiry, int? Priority, EntryDetails Details,
    IdempotencyClaim? Claim);

public sealed record DebitOrder(string Reason, decimal? Credits, decimal? Amount, EntryDetails Details, IdempotencyClaim Claim);

/// <summary>A wallet's settings as a request changes them; <c>null</c> keeps what the wallet has.</summary>
public sealed record WalletChanges(
    string? Name, string? Description, decimal? OverdraftLimit, Dictionary<string, string>? Metadata, AutoTopupSettings? AutoTopup,
    AlertSettings? AlertSettings, WalletConfig? Config, IdempotencyClaim? Claim, List<Spend.SpendCapDto>? SpendCaps = null);

/// <summary>A new wallet as validated; the customer is looked up by <see cref="WalletMoves.CreateAsync"/>.</summary>
public sealed record NewWalletOrder(
    string? CustomerId, string? ExternalCustomerId, string? Name, string? Description, string Currency, string WalletType, decimal Rate,
    decimal TopupRate, decimal InitialCredits, DateTimeOffset? InitialExpiry, decimal OverdraftLimit, Dictionary<string, string>? Metadata,
    AutoTopupSettings? AutoTopup, AlertSettings? AlertSettings, WalletConfig? Config, IdempotencyClaim? Claim, string? CreditCurrencyId = null,
    List<Spend.SpendCapDto>? SpendCaps = null);

public sealed record HoldOrder(decimal? Credits, decimal? Amount, DateTimeOffset? ExpiresAt, EntryDetails Details, IdempotencyClaim? Claim);

/// <summary>A capture of all of a hold (no credits or amount) or part of it.</summary>
public sealed record CaptureOrder(string HoldId, decimal? Credits, decimal? Amount, string Reason, string? Description, IdempotencyClaim? Claim);

/// <summary>
/// The requests that move a wallet's money, checked field by field into orders for <see cref="WalletMoves"/>. The API
/// and the dashboard check what they are sent here, so a form refuses exactly what the API refuses.
/// </summary>
public static class WalletOrders
{
    /// <summary>The key of a request: the body's, else the <c>Idempotency-Key</c> header's.</summary>
    public static string? Key(Validator v, string? bodyKey, string? headerKey, bool required) =>
        v.Text("idempotency_key", !string.IsNullOrEmpty(bodyKey) ? bodyKey : string.IsNullOrEmpty(headerKey) ? null : headerKey,
            required, Idempotency.MaxKeyLength);

    static readonly HashSet<string> WalletTypes = ["PRE_PAID", "POST_PAID"];

    public static NewWalletOrder? Create(Validator v, CreateWalletRequest body, string? headerKey, DateTimeOffset now)
    {
        var key = Key(v, null, headerKey, required: false);
        var currency = v.Currency("currency", body.Currency);
        var rate = v.Rate("conversion_rate", body.ConversionRate) ?? 1m;
        var topupRate = v.Rate("topup_conversion_rate", body.TopupConversionRate) ?? rate;
        var initial = v.Amount("initial_credits_to_load", body.InitialCreditsToLoad, allowZero: true) ?? 0m;
        var overdraft = v.Amount("overdraft_limit", body.OverdraftLimit, allowZero: true) ?? 0m;
        var name = v.Text("name", body.Name);
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var walletType = v.OneOf("wallet_type", body.WalletType?.ToUpperInvariant(), WalletTypes) ?? "PRE_PAID";
        v.Metadata("metadata", body.Metadata);
        CheckSettings(v, body.AutoTopup, body.AlertSettings);
        var caps = Spend.SpendAttribution.Caps(v, body.SpendCaps);
        var expiry = InitialExpiry(v, body, now);
        if (body.CustomerId is null && body.ExternalCustomerId is null) v.Fail("customer_id or external_customer_id is required");
        if (!v.Ok) return null;
        return new NewWalletOrder(body.CustomerId, body.ExternalCustomerId, name, description, currency!, walletType, rate, topupRate, initial, expiry,
            overdraft, body.Metadata, body.AutoTopup, body.AlertSettings, body.Config, IdempotencyClaim.For(key, "create-wallet", body), SpendCaps: caps);
    }

    static DateTimeOffset? InitialExpiry(Validator v, CreateWalletRequest body, DateTimeOffset now)
    {
        var expiry = v.Time("initial_credits_expiry_date_utc", body.InitialCreditsExpiryDateUtc);
        if (expiry is null && body.InitialCreditsToLoadExpiryDate is { } yyyymmdd)
        {
            if (DateTime.TryParseExact(yyyymmdd.ToString(CultureInfo.InvariantCulture), "yyyyMMdd", CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var day))
                // A date means "through the end of that day" in UTC.
                expiry = new DateTimeOffset(day.Date.AddDays(1), TimeSpan.Zero);
            else v.Fail("initial_credits_to_load_expiry_date must be a date written YYYYMMDD");
        }
        if (expiry is not null && expiry <= now) v.Fail("the initial credits' expiry must be in the future");
        return expiry;
    }

    public static TopUpOrder? TopUp(Validator v, string walletId, TopUpRequest body, string? headerKey, DateTimeOffset now)
    {
        var reason = body.TransactionReason;
        if (reason is null) v.Fail("transaction_reason is required");
        else v.OneOf("transaction_reason", reason, Reasons.TopUp);
        var credits = v.Amount("credits_to_add", body.CreditsToAdd);
        var amount = v.Amount("amount", body.Amount);
        if (credits is null && amount is null) v.Fail("credits_to_add or amount is required");
        var expiry = v.Time("expiry_date_utc", body.ExpiryDateUtc);
        if (expiry is not null && expiry <= now) v.Fail("expiry_date_utc must be in the future");
        var priority = v.Priority("priority", body.Priority);
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        v.Metadata("metadata", body.Metadata);
        var key = Key(v, body.IdempotencyKey, headerKey, required: false);
        if (!v.Ok) return null;
        var request = new { wallet = walletId, credits, amount, reason, expiry, priority, description, metadata = body.Metadata };
        return new TopUpOrder(reason!, credits, amount, expiry, priority, new EntryDetails(description, Json.Serialize(body.Metadata ?? [])),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("top-up", request)));
    }

    public static DebitOrder? Debit(Validator v, string walletId, DebitRequest body, string? headerKey)
    {
        var reason = v.OneOf("transaction_reason", body.TransactionReason, Reasons.ApiDebit) ?? Reasons.ManualBalanceDebit;
        var credits = v.Amount("credits", body.Credits);
        var amount = v.Amount("amount", body.Amount);
        if (credits is null && amount is null) v.Fail("credits or amount is required");
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var referenceType = v.Text("reference_type", body.ReferenceType);
        var referenceId = v.Text("reference_id", body.ReferenceId);
        v.Metadata("metadata", body.Metadata);
        var dimensions = Spend.SpendAttribution.Dimensions(v, body.Dimensions);
        var key = Key(v, body.IdempotencyKey, headerKey, required: true);
        if (!v.Ok) return null;
        // Dimensions join the fingerprint only when sent, so keys stored before they existed still replay.
        object request = dimensions is null
            ? new { wallet = walletId, credits, amount, reason, description, referenceType, referenceId, metadata = body.Metadata }
            : new { wallet = walletId, credits, amount, reason, description, referenceType, referenceId, metadata = body.Metadata, dimensions };
        return new DebitOrder(reason, credits, amount,
            new EntryDetails(description, Json.Serialize(body.Metadata ?? []), referenceType, referenceId, Dimensions: dimensions),
            new IdempotencyClaim(key!, Idempotency.Fingerprint("debit", request)));
    }

    public static WalletChanges? Update(Validator v, string walletId, UpdateWalletRequest body, string? headerKey)
    {
        var key = Key(v, null, headerKey, required: false);
        var name = v.Text("name", body.Name);
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var overdraft = v.Amount("overdraft_limit", body.OverdraftLimit, allowZero: true);
        v.Metadata("metadata", body.Metadata);
        CheckSettings(v, body.AutoTopup, body.AlertSettings);
        var caps = Spend.SpendAttribution.Caps(v, body.SpendCaps);
        return v.Ok
            ? new WalletChanges(name, description, overdraft, body.Metadata, body.AutoTopup, body.AlertSettings, body.Config,
                IdempotencyClaim.For(key, "update-wallet", new { wallet = walletId, body }), caps)
            : null;
    }

    /// <summary>Holds last at most this long; an expired hold releases itself.</summary>
    public static readonly TimeSpan MaxHoldLifetime = TimeSpan.FromDays(31);

    public static HoldOrder? Hold(Validator v, string walletId, Holds.CreateHoldRequest body, string? headerKey, DateTimeOffset now)
    {
        var credits = v.Amount("credits", body.Credits);
        var amount = v.Amount("amount", body.Amount);
        if (credits is null && amount is null) v.Fail("credits or amount is required");
        var expires = v.Time("expires_at", body.ExpiresAt);
        if (expires is not null && (expires <= now || expires > now + MaxHoldLifetime)) v.Fail($"expires_at must be in the next {MaxHoldLifetime.TotalDays} days");
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var referenceType = v.Text("reference_type", body.ReferenceType);
        var referenceId = v.Text("reference_id", body.ReferenceId);
        v.Metadata("metadata", body.Metadata);
        var key = Key(v, body.IdempotencyKey, headerKey, required: false);
        if (!v.Ok) return null;
        var request = new { wallet = walletId, credits, amount, expires, description, referenceType, referenceId, metadata = body.Metadata };
        return new HoldOrder(credits, amount, expires, new EntryDetails(description, Json.Serialize(body.Metadata ?? []), referenceType, referenceId),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("hold", request)));
    }

    public static CaptureOrder? Capture(Validator v, string walletId, string holdId, Holds.CaptureHoldRequest? body, string? headerKey)
    {
        var credits = v.Amount("credits", body?.Credits);
        var amount = v.Amount("amount", body?.Amount);
        var reason = v.OneOf("transaction_reason", body?.TransactionReason, Reasons.ApiDebit) ?? Reasons.UsageCharge;
        var description = v.Text("description", body?.Description, max: Limits.MaxDescriptionLength);
        var key = Key(v, body?.IdempotencyKey, headerKey, required: false);
        if (!v.Ok) return null;
        var request = new { wallet = walletId, hold = holdId, credits, amount, reason, description };
        return new CaptureOrder(holdId, credits, amount, reason, description,
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("capture", request)));
    }

    /// <summary>The bounds on auto top-up and alert settings, for the update API, the dashboard and the customer portal alike.</summary>
    public static void CheckSettings(Validator v, AutoTopupSettings? auto, AlertSettings? alerts)
    {
        if (auto is not null)
        {
            if (auto.Threshold is < 0 || auto.Threshold > Money.MaxAmount) v.Fail("auto_topup.threshold must be between 0 and 10^15");
            if (auto.PackageId is not null)
            {
                v.Text("auto_topup.package_id", auto.PackageId);
                // A package is bought whole, at its own price: how much to buy is its to say.
                if (auto.Amount is not null || auto.TargetBalance is not null) v.Fail("auto_topup.package_id buys the package; leave amount and target_balance out");
            }
            else if (auto.Enabled == true && auto.TargetBalance is null) v.Amount("auto_topup.amount", auto.Amount, required: true);
            else if (auto.Amount is not null) v.Amount("auto_topup.amount", auto.Amount);
            if (auto.TargetBalance is { } target && (v.Amount("auto_topup.target_balance", target) is null || target <= (auto.Threshold ?? 0m)))
                v.Fail("auto_topup.target_balance must be above the threshold");
            if (auto.MaxTopupsPerDay is < 1 or > 1000) v.Fail("auto_topup.max_topups_per_day must be between 1 and 1000");
            v.Amount("auto_topup.max_amount_per_day", auto.MaxAmountPerDay);
            v.Amount("auto_topup.max_amount_per_month", auto.MaxAmountPerMonth);
            if (auto.CooldownSeconds is < 0 or > 2_678_400) v.Fail("auto_topup.cooldown_seconds must be between 0 and 31 days");
            if (auto.MaxConsecutiveFailures is < 1 or > 100) v.Fail("auto_topup.max_consecutive_failures must be between 1 and 100");
            v.Text("auto_topup.payment_method_id", auto.PaymentMethodId);
        }
        foreach (var (name, t) in new[] { ("critical", alerts?.Critical), ("warning", alerts?.Warning), ("info", alerts?.Info) })
        {
            if (t is null) continue;
            if (t.Condition is not (null or "above" or "below")) v.Fail($"alert_settings.{name}.condition must be above or below");
            if (t.Threshold is { } x && (x < -Money.MaxAmount || x > Money.MaxAmount)) v.Fail($"alert_settings.{name}.threshold is out of range");
        }
        Alerts.NotificationChannels.Check(v, alerts);
    }

    public const string ConversionRefusal = "amount converts to zero credits or to more than 10^15 credits at the wallet's rate";

    /// <summary>Explicit credits win over an amount, as in Flexprice; an amount converts at the given rate.</summary>
    public static decimal? ToCredits(decimal? credits, decimal? amount, decimal rate)
    {
        var c = credits ?? Money.CreditsForAmount(amount!.Value, rate);
        return c > 0 && c <= Money.MaxAmount ? c : null;
    }
}
