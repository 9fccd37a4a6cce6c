namespace Coffer.Wallets;

public sealed record CreateWalletRequest
{
    public string? CustomerId { get; init; }
    public string? ExternalCustomerId { get; init; }
    public string? Name { get; init; }
    public string? Currency { get; init; }
    public string? Description { get; init; }
    public decimal? ConversionRate { get; init; }
    public decimal? TopupConversionRate { get; init; }
    public decimal? InitialCreditsToLoad { get; init; }
    public string? InitialCreditsExpiryDateUtc { get; init; }
    public int? InitialCreditsToLoadExpiryDate { get; init; }
    public string? WalletType { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public AutoTopupSettings? AutoTopup { get; init; }
    public AlertSettings? AlertSettings { get; init; }
    public WalletConfig? Config { get; init; }
    public decimal? OverdraftLimit { get; init; }

    /// <summary>Coffer's caps on what each dimension value may spend a UTC day or month.</summary>
    public List<Spend.SpendCapRequest?>? SpendCaps { get; init; }

    /// <summary>The tenant's credit currency the wallet holds: its ISO currency and price then set the wallet's currency and rates.</summary>
    public string? CreditCurrencyId { get; init; }
}

public sealed record UpdateWalletRequest
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public AutoTopupSettings? AutoTopup { get; init; }
    public AlertSettings? AlertSettings { get; init; }
    public WalletConfig? Config { get; init; }
    public decimal? OverdraftLimit { get; init; }

    /// <summary>Coffer's caps on what each dimension value may spend a UTC day or month; an empty list removes them, none keeps them.</summary>
    public List<Spend.SpendCapRequest?>? SpendCaps { get; init; }
}

/// <summary>A top-up of a wallet (open for the top-up by customer and credit currency, which adds the credit currency).</summary>
public record TopUpRequest
{
    public decimal? CreditsToAdd { get; init; }
    public decimal? Amount { get; init; }
    public string? TransactionReason { get; init; }
    public string? ExpiryDateUtc { get; init; }
    public int? Priority { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? Description { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
}

public sealed record DebitRequest
{
    public decimal? Credits { get; init; }
    public decimal? Amount { get; init; }
    public string? TransactionReason { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? Description { get; init; }
    public string? ReferenceType { get; init; }
    public string? ReferenceId { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }

    /// <summary>Coffer's spend attribution: up to five dimensions (<c>member</c>, <c>project</c>…) the wallet's caps and usage report go by.</summary>
    public Dictionary<string, string>? Dimensions { get; init; }
}

public sealed record WalletFilter
{
    public int? Limit { get; init; }
    public int? Offset { get; init; }
    public string? Order { get; init; }
    public string? Sort { get; init; }
    public string? Status { get; init; }
    public string? CustomerId { get; init; }
    public List<string>? WalletIds { get; init; }
    public string? Expand { get; init; }
}

public sealed record TransactionFilter
{
    public int? Limit { get; init; }
    public int? Offset { get; init; }
    public string? Order { get; init; }
    public List<Common.SortCondition>? Sort { get; init; }
    public List<Common.FilterCondition>? Filters { get; init; }
    public string? WalletId { get; init; }
    public string? Id { get; init; }
    public string? Type { get; init; }
    public string? Kind { get; init; }
    public string? TransactionStatus { get; init; }
    public string? TransactionReason { get; init; }
    public string? ReferenceType { get; init; }
    public string? ReferenceId { get; init; }
    public int? Priority { get; init; }
    public decimal? CreditsAvailableGt { get; init; }
    public string? StartTime { get; init; }
    public string? EndTime { get; init; }
    public string? ExpiryDateBefore { get; init; }
    public string? ExpiryDateAfter { get; init; }
    public string? Expand { get; init; }
}
