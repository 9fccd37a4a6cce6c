using System.Data.Common;
using System.Text.Json.Serialization;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Storage;

namespace Coffer.Invoices;

/// <summary>Wire values shared with Flexprice.</summary>
public static class InvoiceTypes
{
    public const string OneOff = "ONE_OFF";
    public const string Credit = "CREDIT";
    public const string Subscription = "SUBSCRIPTION";
    public static readonly IReadOnlySet<string> All = new HashSet<string> { OneOff, Credit, Subscription };
}

/// <summary>Flexprice's billing reasons, the reason an invoice was raised; one created through the API is MANUAL unless it says.</summary>
public static class BillingReasons
{
    public const string Manual = "MANUAL";
    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        "SUBSCRIPTION_CREATE", "SUBSCRIPTION_CYCLE", "SUBSCRIPTION_UPDATE", "SUBSCRIPTION_TRIAL_END", "SUBSCRIPTION_TRIAL_START", "PRORATION", Manual,
        "AUTO_INVOICE_THRESHOLD", "WALLET_AUTO_TOPUP",
    };
}

/// <summary>Flexprice's billing periods.</summary>
public static class BillingPeriods
{
    public static readonly IReadOnlySet<string> All = new HashSet<string> { "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUAL" };
}

public static class InvoiceStatuses
{
    public const string Draft = "DRAFT";
    public const string Finalized = "FINALIZED";
    public const string Voided = "VOIDED";
}

public static class PaymentStatuses
{
    public const string Initiated = "INITIATED";
    public const string Pending = "PENDING";
    public const string Processing = "PROCESSING";
    public const string Succeeded = "SUCCEEDED";
    public const string Overpaid = "OVERPAID";
    public const string Failed = "FAILED";
    public const string Refunded = "REFUNDED";
    public const string PartiallyRefunded = "PARTIALLY_REFUNDED";

    public static bool IsPaid(string status) => status is Succeeded or Overpaid;
}

public sealed record InvoiceRow(
    string TenantId, string Id, string CustomerId, string InvoiceType, string InvoiceStatus, string PaymentStatus, string Currency,
    decimal AmountDue, decimal AmountPaid, decimal Subtotal, decimal Total, string? Description, DateTimeOffset? DueDate,
    DateTimeOffset? PaidAt, DateTimeOffset? VoidedAt, DateTimeOffset? FinalizedAt, DateTimeOffset? PeriodStart, DateTimeOffset? PeriodEnd,
    string? BillingPeriod, string? BillingReason, string? InvoiceNumber, string? IdempotencyKey, string Metadata, string? WalletId,
    string? WalletTransactionId, long Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, decimal RefundedAmount = 0m,
    string? BonusTransactionId = null)
{
    public decimal AmountRemaining => Math.Max(0m, AmountDue - AmountPaid);

    public const string Columns =
        "tenant_id, id, customer_id, invoice_type, invoice_status, payment_status, currency, amount_due, amount_paid, subtotal, total, " +
        "description, due_date, paid_at, voided_at, finalized_at, period_start, period_end, billing_period, billing_reason, " +
        "invoice_number, idempotency_key, metadata, wallet_id, wallet_transaction_id, version, created_at, updated_at, refunded_amount, " +
        "bonus_transaction_id";

    public static InvoiceRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("customer_id"), r.Str("invoice_type"), r.Str("invoice_status"), r.Str("payment_status"),
        r.Str("currency"), r.Dec("amount_due"), r.Dec("amount_paid"), r.Dec("subtotal"), r.Dec("total"), r.NStr("description"),
        r.NTime("due_date"), r.NTime("paid_at"), r.NTime("voided_at"), r.NTime("finalized_at"), r.NTime("period_start"),
        r.NTime("period_end"), r.NStr("billing_period"), r.NStr("billing_reason"), r.NStr("invoice_number"), r.NStr("idempotency_key"),
        r.Str("metadata"), r.NStr("wallet_id"), r.NStr("wallet_transaction_id"), r.Long("version"), r.Time("created_at"), r.Time("updated_at"),
        r.Dec("refunded_amount"), r.NStr("bonus_transaction_id"));

    public static void Insert(SqlBatch writes, InvoiceRow i) => writes.Add(
        $"""
        INSERT INTO invoices ({Columns})
        VALUES (@t, @id, @cust, @type, @istatus, @pstatus, @cur, @due, @paid, @sub, @total, @desc, @dd, @paid_at, @voided_at,
                @final_at, @ps, @pe, @bp, @br, @num, @ikey, @meta, @w, @wtx, @v, @created, @updated, @refunded, @bonus)
        """,
        ("t", i.TenantId), ("id", i.Id), ("cust", i.CustomerId), ("type", i.InvoiceType), ("istatus", i.InvoiceStatus),
        ("pstatus", i.PaymentStatus), ("cur", i.Currency), ("due", i.AmountDue), ("paid", i.AmountPaid), ("sub", i.Subtotal),
        ("total", i.Total), ("desc", i.Description), ("dd", i.DueDate), ("paid_at", i.PaidAt), ("voided_at", i.VoidedAt),
        ("final_at", i.FinalizedAt), ("ps", i.PeriodStart), ("pe", i.PeriodEnd), ("bp", i.BillingPeriod), ("br", i.BillingReason),
        ("num", i.InvoiceNumber), ("ikey", i.IdempotencyKey), ("meta", i.Metadata), ("w", i.WalletId), ("wtx", i.WalletTransactionId),
        ("v", i.Version), ("created", i.CreatedAt), ("updated", i.UpdatedAt), ("refunded", i.RefundedAmount), ("bonus", i.BonusTransactionId));

    /// <summary>Writes the fields a payment, finalization or void changes; the version counts the changes.</summary>
    public static void UpdateState(SqlBatch writes, InvoiceRow i) => writes.Add(
        """
        UPDATE invoices SET invoice_status = @istatus, payment_status = @pstatus, amount_paid = @paid, paid_at = @paid_at,
            voided_at = @voided_at, finalized_at = @final_at, due_date = @dd, metadata = @meta, invoice_number = @num,
            refunded_amount = @refunded, version = @v, updated_at = @updated
        WHERE tenant_id = @t AND id = @id
        """,
        ("istatus", i.InvoiceStatus), ("pstatus", i.PaymentStatus), ("paid", i.AmountPaid), ("paid_at", i.PaidAt),
        ("voided_at", i.VoidedAt), ("final_at", i.FinalizedAt), ("dd", i.DueDate), ("meta", i.Metadata), ("num", i.InvoiceNumber),
        ("refunded", i.RefundedAmount), ("v", i.Version), ("updated", i.UpdatedAt), ("t", i.TenantId), ("id", i.Id));
}

public sealed record LineItemRow(
    string TenantId, string Id, string InvoiceId, string? DisplayName, string? PriceType, decimal Amount, decimal Quantity,
    DateTimeOffset? PeriodStart, DateTimeOffset? PeriodEnd, string Metadata, DateTimeOffset CreatedAt)
{
    public const string Columns = "tenant_id, id, invoice_id, display_name, price_type, amount, quantity, period_start, period_end, metadata, created_at";

    public static LineItemRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("invoice_id"), r.NStr("display_name"), r.NStr("price_type"), r.Dec("amount"),
        r.Dec("quantity"), r.NTime("period_start"), r.NTime("period_end"), r.Str("metadata"), r.Time("created_at"));

    public static void Insert(SqlBatch writes, LineItemRow l) => writes.Add(
        $"INSERT INTO invoice_line_items ({Columns}) VALUES (@t, @id, @inv, @name, @ptype, @amount, @qty, @ps, @pe, @meta, @created)",
        ("t", l.TenantId), ("id", l.Id), ("inv", l.InvoiceId), ("name", l.DisplayName), ("ptype", l.PriceType), ("amount", l.Amount),
        ("qty", l.Quantity), ("ps", l.PeriodStart), ("pe", l.PeriodEnd), ("meta", l.Metadata), ("created", l.CreatedAt));
}

/// <summary>Flexprice's DtoInvoiceLineItemResponse (34 keys, all present).</summary>
public sealed record LineItemDto(
    string Id, string InvoiceId, string CustomerId, string? SubscriptionId, string? EntityId, string? EntityType,
    string? PlanDisplayName, string? PriceId, string? PriceType, string? PriceUnitId, string? PriceUnit, decimal? PriceUnitAmount,
    string? DisplayName, string? MeterId, string? MeterDisplayName, decimal Amount, decimal Quantity, string Currency,
    DateTimeOffset? PeriodStart, DateTimeOffset? PeriodEnd, decimal LineItemDiscount, decimal InvoiceLevelDiscount,
    decimal PrepaidCreditsApplied, object? CommitmentInfo, object? UsageAnalytics, object? UsageBreakdown,
    Dictionary<string, string> Metadata, string Status, string TenantId, string? EnvironmentId, DateTimeOffset CreatedAt,
    string? CreatedBy, DateTimeOffset UpdatedAt, string? UpdatedBy);

/// <summary>Flexprice's DtoInvoiceResponse (45 keys, all present), plus Coffer's wallet link.</summary>
public sealed record InvoiceDto(
    string Id, string TenantId, string? EnvironmentId, string CustomerId, string? SubscriptionId, string InvoiceType,
    string InvoiceStatus, string PaymentStatus, string Currency, decimal AmountDue, decimal AmountPaid, decimal AmountRemaining,
    decimal Subtotal, decimal Total, decimal TotalDiscount, decimal TotalTax, decimal TotalPrepaidCreditsApplied,
    decimal AdjustmentAmount, decimal RefundedAmount, decimal OverpaidAmount, string? Description, DateTimeOffset? DueDate,
    DateTimeOffset? PaidAt, DateTimeOffset? VoidedAt, DateTimeOffset? FinalizedAt, DateTimeOffset? PeriodStart,
    DateTimeOffset? PeriodEnd, string? BillingPeriod, string? BillingReason, int? BillingSequence, string? InvoiceNumber,
    string? InvoicePdfUrl, string? IdempotencyKey, long Version, Dictionary<string, string> Metadata, string Status,
    IReadOnlyList<LineItemDto>? LineItems, IReadOnlyList<object> CouponApplications, IReadOnlyList<object> Taxes,
    CustomerDto? Customer, object? Subscription, DateTimeOffset CreatedAt, string? CreatedBy, DateTimeOffset UpdatedAt,
    string? UpdatedBy, string? WalletId, string? WalletTransactionId);

public sealed record MessageResponse(string Message);

public static class InvoiceDtos
{
    public static InvoiceDto Invoice(InvoiceRow i, IEnumerable<LineItemRow>? lines, CustomerDto? customer = null) => new(
        i.Id, i.TenantId, null, i.CustomerId, null, i.InvoiceType, i.InvoiceStatus, i.PaymentStatus, i.Currency, i.AmountDue,
        i.AmountPaid, i.AmountRemaining, i.Subtotal, i.Total, 0m, 0m, 0m, 0m, i.RefundedAmount, Math.Max(0m, i.AmountPaid - i.Total), i.Description,
        i.DueDate, i.PaidAt, i.VoidedAt, i.FinalizedAt, i.PeriodStart, i.PeriodEnd, i.BillingPeriod, i.BillingReason, null,
        i.InvoiceNumber, $"/v1/invoices/{i.Id}/pdf", i.IdempotencyKey, i.Version,
        Json.Deserialize<Dictionary<string, string>>(i.Metadata) ?? [], "published",
        lines?.Select(l => Line(l, i)).ToList(), [], [], customer, null, i.CreatedAt, null, i.UpdatedAt, null, i.WalletId,
        i.WalletTransactionId);

    static LineItemDto Line(LineItemRow l, InvoiceRow i) => new(
        l.Id, l.InvoiceId, i.CustomerId, null, null, null, null, null, l.PriceType, null, null, null, l.DisplayName, null, null,
        l.Amount, l.Quantity, i.Currency, l.PeriodStart, l.PeriodEnd, 0m, 0m, 0m, null, null, null,
        Json.Deserialize<Dictionary<string, string>>(l.Metadata) ?? [], "published", l.TenantId, null, l.CreatedAt, null, l.CreatedAt, null);
}
