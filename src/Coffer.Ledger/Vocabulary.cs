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

    public static readonly IReadOnlySet<string> TopUp = new HashSet<string> { FreeCreditGrant, PurchasedCreditDirect, PurchasedCreditInvoiced };
    public static readonly IReadOnlySet<string> ApiDebit = new HashSet<string> { ManualBalanceDebit, UsageCharge };

    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        FreeCreditGrant, PurchasedCreditDirect, PurchasedCreditInvoiced, InvoicePayment, CreditExpired,
        WalletTermination, ManualBalanceDebit, CreditNote, UsageCharge,
    };

    public static bool IsPurchased(string reason) => reason is PurchasedCreditDirect or PurchasedCreditInvoiced;
}

public static class HoldStatuses
{
    public const string Active = "active";
    public const string Captured = "captured";
    public const string Released = "released";
    public const string Expired = "expired";
}
