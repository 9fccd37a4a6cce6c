using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;
using Coffer.Common;
using Coffer.Ledger;

namespace Coffer.Wallets;

/// <summary>
/// Flexprice's <c>auto_topup</c> (enabled, threshold, amount, invoicing), extended by Coffer with a target balance,
/// a payment method and limits. Every amount is in credits; the threshold is compared with the credits available
/// now (less holds) plus purchases still pending.
/// </summary>
public sealed record AutoTopupSettings(
    bool? Enabled,
    [property: JsonConverter(typeof(Json.DecimalAsNumber))] decimal? Threshold,
    [property: JsonConverter(typeof(Json.DecimalAsNumber))] decimal? Amount,
    bool? Invoicing,
    [property: JsonConverter(typeof(Json.DecimalAsNumber))] decimal? TargetBalance = null,
    string? PaymentMethodId = null,
    int? MaxTopupsPerDay = null,
    [property: JsonConverter(typeof(Json.DecimalAsNumber))] decimal? MaxAmountPerDay = null,
    [property: JsonConverter(typeof(Json.DecimalAsNumber))] decimal? MaxAmountPerMonth = null,
    int? CooldownSeconds = null,
    int? MaxConsecutiveFailures = null,
    string? PackageId = null);

public sealed record AlertThreshold([property: JsonConverter(typeof(Json.DecimalAsNumber))] decimal? Threshold, string? Condition);

/// <param name="NotificationChannels">Coffer's addition: where alerts go (<see cref="Alerts.NotificationChannels"/>); none named, the tenant's default.</param>
/// <param name="MerchantEmails">Coffer's addition: the merchant addresses this wallet's alerts are mailed to instead of the tenant's list.</param>
public sealed record AlertSettings(bool? AlertEnabled, AlertThreshold? Critical, AlertThreshold? Warning, AlertThreshold? Info,
    List<string>? NotificationChannels = null, List<string>? MerchantEmails = null);

public sealed record WalletConfig(List<string>? AllowedPriceTypes);

public sealed record CreditBreakdown(decimal Free, decimal Purchased);

/// <summary>
/// Flexprice's DtoWalletResponse (every key always present), plus Coffer's <c>overdraft_limit</c>. A record, so
/// that the real-time balance copies every field of it rather than a hand-kept list of them.
/// </summary>
public record WalletDto
{
    public required string Id { get; init; }
    public required string CustomerId { get; init; }
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required string Currency { get; init; }
    public decimal Balance { get; init; }
    public decimal CreditBalance { get; init; }
    public decimal ConversionRate { get; init; }
    public decimal TopupConversionRate { get; init; }
    public required string WalletStatus { get; init; }
    public required string WalletType { get; init; }
    public string Status { get; init; } = "published";
    public required Dictionary<string, string> Metadata { get; init; }
    public WalletConfig? Config { get; init; }
    public AutoTopupSettings? AutoTopup { get; init; }
    public AlertSettings? AlertSettings { get; init; }
    public string AlertState { get; init; } = "ok";
    public CreditBreakdown? CreditsAvailableBreakdown { get; init; }
    public required string TenantId { get; init; }
    public string? EnvironmentId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public string? CreatedBy { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public string? UpdatedBy { get; init; }
    public decimal OverdraftLimit { get; init; }

    /// <summary>The tenant's credit currency this wallet holds; null for a wallet of a plain ISO currency.</summary>
    public string? CreditCurrencyId { get; init; }

    /// <summary>Caps on what each dimension value of its debits may spend a UTC day or month; null: none.</summary>
    public List<Spend.SpendCapDto>? SpendCaps { get; init; }
}

/// <summary>
/// The real-time balance: the wallet flattened with Flexprice's five real-time keys and Coffer's
/// <c>pending_charges</c> and <c>available_balance</c> (currency) / <c>pending_charge_credits</c> and
/// <c>available_credit_balance</c> (credits). Pending charges are the credits active holds reserve.
/// </summary>
public sealed record WalletBalanceDto : WalletDto
{
    /// <summary>Every field of the wallet, as <c>GET /v1/wallets/{id}</c> gives it, alert state included.</summary>
    [SetsRequiredMembers]
    public WalletBalanceDto(WalletDto wallet) : base(wallet) { }

    public decimal RealTimeBalance { get; init; }
    public decimal RealTimeCreditBalance { get; init; }
    public DateTimeOffset BalanceUpdatedAt { get; init; }
    public decimal CurrentPeriodUsage { get; init; }
    public decimal UnpaidInvoicesAmount { get; init; }
    public decimal PendingCharges { get; init; }
    public decimal PendingChargeCredits { get; init; }
    public decimal AvailableBalance { get; init; }
    public decimal AvailableCreditBalance { get; init; }
    public decimal ExpiredUnsweptCredits { get; init; }
    public decimal OverdraftCredits { get; init; }
    /// <summary>The instant these figures describe: now, or the <c>at</c> asked for.</summary>
    public DateTimeOffset AsOf { get; init; }
    /// <summary>The lots with credits left at that instant, in spend order (expired ones included until the sweep posts them).</summary>
    public List<BalanceLotDto> Lots { get; init; } = [];
    /// <summary>The holds active at that instant.</summary>
    public List<BalanceHoldDto> Holds { get; init; } = [];
}

/// <summary>A lot of the real-time balance: the credits it granted and what was left of them at <c>as_of</c>.</summary>
public sealed record BalanceLotDto(
    string Id, string TransactionReason, decimal Credits, decimal CreditsAvailable, DateTimeOffset? ExpiryDate, int? Priority, DateTimeOffset CreatedAt,
    bool Expired);

/// <summary>A hold of the real-time balance, active at <c>as_of</c>.</summary>
public sealed record BalanceHoldDto(string Id, decimal Credits, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt);

public sealed record AllocationDto(string LotId, decimal Credits);

/// <summary>
/// Flexprice's DtoWalletTransactionResponse plus Coffer's <c>allocations</c>, <c>credits_unsettled</c>, <c>kind</c> (credit, debit,
/// refund, adjustment: <see cref="TransactionKinds"/>) and <c>adjustment</c> (a manual adjustment's reason and actor, whose id is also
/// <c>created_by</c>). A credit's <c>amount</c> is the money paid for it (its lot's price; 0 for free credits); a debit's is credits × conversion_rate.
/// </summary>
public sealed record TransactionDto(
    string Id,
    string WalletId,
    string CustomerId,
    string Type,
    decimal Amount,
    decimal CreditAmount,
    decimal CreditBalanceBefore,
    decimal CreditBalanceAfter,
    decimal CreditsAvailable,
    string? Currency,
    decimal? ConversionRate,
    decimal? TopupConversionRate,
    string TransactionStatus,
    string TransactionReason,
    string? ReferenceType,
    string? ReferenceId,
    string? IdempotencyKey,
    DateTimeOffset? ExpiryDate,
    int? Priority,
    string? Description,
    Dictionary<string, string> Metadata,
    string Status,
    object? Customer,
    object? Wallet,
    object? CreatedByUser,
    string TenantId,
    string? EnvironmentId,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset UpdatedAt,
    string? UpdatedBy,
    decimal CreditsUnsettled,
    IReadOnlyList<AllocationDto>? Allocations,
    string Kind,
    TransactionAdjustmentDto? Adjustment,
    Dictionary<string, string>? Dimensions);

/// <summary>Coffer's record of a manual adjustment: its reason and who made it (an API key or a dashboard operator).</summary>
public sealed record TransactionAdjustmentDto(string Reason, string ActorType, string ActorId, string? ActorName);

/// <summary>Coffer's holds: credits reserved for a later capture (pending charges).</summary>
public sealed record HoldDto(
    string Id,
    string WalletId,
    decimal Credits,
    decimal Amount,
    decimal CapturedCredits,
    string Status,
    DateTimeOffset? ExpiresAt,
    string? WalletTransactionId,
    string? Description,
    string? ReferenceType,
    string? ReferenceId,
    Dictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record HoldResponse(HoldDto Hold, WalletDto Wallet, TransactionDto? WalletTransaction);

/// <summary>Flexprice's DtoTopUpWalletResponse; Coffer's debit answers in the same shape.</summary>
public sealed record WalletChangeResponse(string? InvoiceId, WalletDto Wallet, TransactionDto? WalletTransaction);

public static class WalletDtos
{
    public static WalletDto Wallet(WalletRow w, CreditBreakdown? breakdown = null) => new()
    {
        Id = w.Id,
        CustomerId = w.CustomerId,
        Name = w.Name,
        Description = w.Description,
        Currency = w.Currency,
        Balance = Money.AmountForCredits(w.CreditBalance, w.ConversionRate),
        CreditBalance = w.CreditBalance,
        ConversionRate = w.ConversionRate,
        TopupConversionRate = w.TopupConversionRate,
        WalletStatus = w.Status,
        WalletType = w.WalletType,
        Metadata = Json.Deserialize<Dictionary<string, string>>(w.Metadata) ?? [],
        Config = w.Config is null ? null : Json.Deserialize<WalletConfig>(w.Config),
        AutoTopup = w.AutoTopup is null ? null : Json.Deserialize<AutoTopupSettings>(w.AutoTopup),
        AlertSettings = w.AlertSettings is null ? null : Json.Deserialize<AlertSettings>(w.AlertSettings),
        CreditsAvailableBreakdown = breakdown,
        AlertState = w.AlertState,
        TenantId = w.TenantId,
        CreatedAt = w.CreatedAt,
        UpdatedAt = w.UpdatedAt,
        OverdraftLimit = w.OverdraftLimit,
        CreditCurrencyId = w.CreditCurrencyId,
        SpendCaps = Spend.SpendAttribution.ReadCaps(w.SpendCaps),
    };

    public static HoldDto Hold(HoldRow h, WalletRow w) => new(
        h.Id, h.WalletId, h.Credits, Money.AmountForCredits(h.Credits, w.ConversionRate), h.CapturedCredits, h.Status, h.ExpiresAt,
        h.DebitId, h.Description, h.ReferenceType, h.ReferenceId, Json.Deserialize<Dictionary<string, string>>(h.Metadata) ?? [],
        h.CreatedAt, h.UpdatedAt);

    public static TransactionDto Transaction(TransactionRow t, IEnumerable<AllocationRow>? allocations, WalletRow? wallet = null) => new(
        t.Id, t.WalletId, t.CustomerId, t.Type, t.Amount, t.CreditAmount, t.CreditBalanceBefore, t.CreditBalanceAfter,
        t.CreditsAvailable, wallet?.Currency, wallet?.ConversionRate, wallet?.TopupConversionRate, t.Status, t.Reason,
        t.ReferenceType, t.ReferenceId, t.IdempotencyKey, t.ExpiryDate, t.Priority, t.Description,
        Json.Deserialize<Dictionary<string, string>>(t.Metadata) ?? [], "published", null, null, null, t.TenantId, null,
        t.CreatedAt, t.Adjustment?.Actor.Id, t.UpdatedAt, null, t.CreditsUnsettled,
        t.Type == TransactionTypes.Debit ? (allocations ?? []).Where(a => a.DebitId == t.Id).Select(a => new AllocationDto(a.LotId, a.Credits)).ToList() : null,
        TransactionKinds.Of(t.Type, t.Reason),
        t.Adjustment is { } adj ? new TransactionAdjustmentDto(adj.Reason, adj.Actor.Type, adj.Actor.Id, adj.Actor.Name) : null,
        Spend.SpendAttribution.ReadDimensions(t.Dimensions));
}
