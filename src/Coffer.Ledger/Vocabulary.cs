namespace Coffer.Ledger;

/// <summary>Wire values shared with Flexprice; enums are open, so new values may be added, never renamed.</summary>
public static class TransactionTypes
{
    public const string Credit = "credit";
    public const string Debit = "debit";
}

public static class TransactionStatuses
{
    public const string Pending = "pending";
    public const string Completed = "completed";
    public const string Failed = "failed";
}

public static class WalletStatuses
{
    public const string Active = "active";
    public const string Frozen = "frozen";
    public const string Closed = "closed";
}

public static class Reasons
{
    public const string FreeCreditGrant = "FREE_CREDIT_GRANT";
    public const string PurchasedCreditDirect = "PURCHASED_CREDIT_DIRECT";
    public const string PurchasedCreditInvoiced = "PURCHASED_CREDIT_INVOICED";
    public const string InvoicePayment = "INVOICE_PAYMENT";
    public const string CreditExpired = "CREDIT_EXPIRED";
    public const string WalletTermination = "WALLET_TERMINATION";
    public const string ManualBalanceDebit = "MANUAL_BALANCE_DEBIT";
    public const string CreditNote = "CREDIT_NOTE";

    /// <summary>Coffer's own reason for metered charges posted by a merchant's usage pipeline.</summary>
    public const string UsageCharge = "USAGE_CHARGE";

    /// <summary>Coffer's own reason for a correction an operator or an API key made by hand, in either direction, with its reason.</summary>
    public const string ManualAdjustment = "MANUAL_ADJUSTMENT";

    /// <summary>Coffer's own reasons for a transfer between two wallets of a tenant: the debit on the wallet it leaves, and
    /// the credits (one lot per lot it spent, with that lot's expiry, priority and price) on the wallet it reaches.</summary>
    public const string TransferOut = "TRANSFER_OUT";
    public const string TransferIn = "TRANSFER_IN";

    public static readonly IReadOnlySet<string> TopUp = new HashSet<string> { FreeCreditGrant, PurchasedCreditDirect, PurchasedCreditInvoiced };
    public static readonly IReadOnlySet<string> ApiDebit = new HashSet<string> { ManualBalanceDebit, UsageCharge };

    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        FreeCreditGrant, PurchasedCreditDirect, PurchasedCreditInvoiced, InvoicePayment, CreditExpired,
        WalletTermination, ManualBalanceDebit, CreditNote, UsageCharge, ManualAdjustment, TransferOut, TransferIn,
    };

    public static bool IsPurchased(string reason) => reason is PurchasedCreditDirect or PurchasedCreditInvoiced;
}

/// <summary>
/// What a ledger entry is to a reader — credit, debit, refund or adjustment — next to Flexprice's <c>type</c>, which stays
/// credit or debit. It is decided from the entry's type and reason alone, both fixed when the entry is written, so it is
/// never stored: a filter by kind is the equivalent condition on those two columns (<see cref="Filter"/>).
/// </summary>
public static class TransactionKinds
{
    public const string Credit = "credit";
    public const string Debit = "debit";
    public const string Refund = "refund";
    public const string Adjustment = "adjustment";
    public const string Transfer = "transfer";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Credit, Debit, Refund, Adjustment, Transfer };

    // Refunds return credits to the wallet as CREDIT_NOTE lots (Payments/Refunds.cs); adjustments go either way.
    static readonly Dictionary<string, string> ByReason = new()
    {
        [Reasons.CreditNote] = Refund,
        [Reasons.ManualAdjustment] = Adjustment,
        [Reasons.TransferOut] = Transfer,
        [Reasons.TransferIn] = Transfer,
    };

    /// <summary>The reasons that make a kind of their own; every other entry's kind is its type.</summary>
    public static readonly IReadOnlySet<string> OwnReasons = new HashSet<string>(ByReason.Keys);

    public static string Of(string type, string reason) => ByReason.GetValueOrDefault(reason, type);

    /// <summary>
    /// The entries of a kind as a condition on type and reason: the reasons that make it (refund, adjustment), or the
    /// type without any of those reasons (credit, debit). <see cref="Of"/> holds for every entry the condition selects.
    /// </summary>
    public static (string? Type, IReadOnlyList<string> Reasons, bool Exclude) Filter(string kind) =>
        kind is Credit or Debit
            ? (kind, [.. OwnReasons.Order(StringComparer.Ordinal)], true)
            : (null, [.. ByReason.Where(r => r.Value == kind).Select(r => r.Key).Order(StringComparer.Ordinal)], false);
}

public static class HoldStatuses
{
    public const string Active = "active";
    public const string Captured = "captured";
    public const string Released = "released";
    public const string Expired = "expired";
}
