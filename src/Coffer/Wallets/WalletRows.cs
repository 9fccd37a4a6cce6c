using System.Data.Common;
using Coffer.Storage;

namespace Coffer.Wallets;

public sealed record WalletRow(
    string TenantId,
    string Id,
    string CustomerId,
    string Name,
    string? Description,
    string Currency,
    string WalletType,
    string Status,
    decimal ConversionRate,
    decimal TopupConversionRate,
    decimal CreditBalance,
    decimal OverdraftCredits,
    decimal OverdraftLimit,
    string Metadata,
    string? AlertSettings,
    string? AutoTopup,
    string? Config,
    long EventSeq,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string AlertState = "ok",
    string? CreditCurrencyId = null,
    string? SpendCaps = null)
{
    public const string Columns =
        "tenant_id, id, customer_id, name, description, currency, wallet_type, wallet_status, conversion_rate, " +
        "topup_conversion_rate, credit_balance, overdraft_credits, overdraft_limit, metadata, alert_settings, auto_topup, " +
        "config, event_seq, created_at, updated_at, alert_state, credit_currency_id, spend_caps";

    public static WalletRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("customer_id"), r.Str("name"), r.NStr("description"), r.Str("currency"),
        r.Str("wallet_type"), r.Str("wallet_status"), r.Dec("conversion_rate"), r.Dec("topup_conversion_rate"),
        r.Dec("credit_balance"), r.Dec("overdraft_credits"), r.Dec("overdraft_limit"), r.Str("metadata"),
        r.NStr("alert_settings"), r.NStr("auto_topup"), r.NStr("config"), r.Long("event_seq"), r.Time("created_at"),
        r.Time("updated_at"), r.Str("alert_state"), r.NStr("credit_currency_id"), r.NStr("spend_caps"));
}

public sealed record TransactionRow(
    string TenantId,
    string Id,
    string WalletId,
    string CustomerId,
    string Type,
    string Reason,
    string Status,
    decimal Amount,
    decimal CreditAmount,
    decimal CreditBalanceBefore,
    decimal CreditBalanceAfter,
    decimal CreditsAvailable,
    decimal CreditsUnsettled,
    DateTimeOffset? ExpiryDate,
    int? Priority,
    string? ExpiredLotId,
    string? ReferenceType,
    string? ReferenceId,
    string? IdempotencyKey,
    string? Description,
    string Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    EntryAdjustment? Adjustment = null,
    string? Dimensions = null)
{
    public const string Columns =
        "tenant_id, id, wallet_id, customer_id, type, transaction_reason, transaction_status, amount, credit_amount, " +
        "credit_balance_before, credit_balance_after, credits_available, credits_unsettled, expiry_date, priority, " +
        "expired_lot_id, reference_type, reference_id, idempotency_key, description, metadata, created_at, updated_at, " +
        "adjustment_reason, actor_type, actor_id, actor_name, dimensions";

    public static TransactionRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("wallet_id"), r.Str("customer_id"), r.Str("type"), r.Str("transaction_reason"),
        r.Str("transaction_status"), r.Dec("amount"), r.Dec("credit_amount"), r.Dec("credit_balance_before"),
        r.Dec("credit_balance_after"), r.Dec("credits_available"), r.Dec("credits_unsettled"), r.NTime("expiry_date"),
        r.NInt("priority"), r.NStr("expired_lot_id"), r.NStr("reference_type"), r.NStr("reference_id"),
        r.NStr("idempotency_key"), r.NStr("description"), r.Str("metadata"), r.Time("created_at"), r.Time("updated_at"),
        r.NStr("adjustment_reason") is { } reason ? new EntryAdjustment(reason, new Actor(r.Str("actor_type"), r.Str("actor_id"), r.NStr("actor_name"))) : null,
        r.NStr("dimensions"));
}

public sealed record AllocationView(string DebitId, string LotId, decimal Credits);

public sealed record HoldRow(
    string TenantId,
    string Id,
    string WalletId,
    decimal Credits,
    decimal CapturedCredits,
    string Status,
    DateTimeOffset? ExpiresAt,
    string? DebitId,
    string? Description,
    string? ReferenceType,
    string? ReferenceId,
    string Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public const string Columns =
        "tenant_id, id, wallet_id, credits, captured_credits, status, expires_at, debit_id, description, reference_type, " +
        "reference_id, metadata, created_at, updated_at";

    public static HoldRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("wallet_id"), r.Dec("credits"), r.Dec("captured_credits"), r.Str("status"),
        r.NTime("expires_at"), r.NStr("debit_id"), r.NStr("description"), r.NStr("reference_type"), r.NStr("reference_id"),
        r.Str("metadata"), r.Time("created_at"), r.Time("updated_at"));
}
