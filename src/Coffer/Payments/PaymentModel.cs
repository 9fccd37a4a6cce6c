using System.Data.Common;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Payments;

public static class PaymentMethodTypes
{
    public const string Card = "CARD";
    public const string Ach = "ACH";
    public const string Offline = "OFFLINE";
    public const string Credits = "CREDITS";
    public const string PaymentLink = "PAYMENT_LINK";

    /// <summary>What Coffer can settle: ACH needs a gateway integration it does not have.</summary>
    public static readonly IReadOnlySet<string> Supported = new HashSet<string> { Offline, Credits, Card, PaymentLink };
    public static readonly IReadOnlySet<string> Known = new HashSet<string> { Card, Ach, Offline, Credits, PaymentLink };
}

public sealed record PaymentRow(
    string TenantId, string Id, string? IdempotencyKey, string DestinationType, string DestinationId, string PaymentMethodType,
    string? PaymentMethodId, string? PaymentGateway, string? GatewayPaymentId, decimal Amount, string Currency, string PaymentStatus,
    string Metadata, DateTimeOffset? SucceededAt, DateTimeOffset? FailedAt, DateTimeOffset? RefundedAt, string? ErrorMessage,
    string? WalletTransactionId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? PaymentUrl = null, decimal RefundedAmount = 0m,
    bool SaveCardAndMakeDefault = false)
{
    public const string Columns =
        "tenant_id, id, idempotency_key, destination_type, destination_id, payment_method_type, payment_method_id, payment_gateway, " +
        "gateway_payment_id, amount, currency, payment_status, metadata, succeeded_at, failed_at, refunded_at, error_message, " +
        "wallet_transaction_id, created_at, updated_at, payment_url, refunded_amount, save_card_and_make_default";

    public static PaymentRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.NStr("idempotency_key"), r.Str("destination_type"), r.Str("destination_id"),
        r.Str("payment_method_type"), r.NStr("payment_method_id"), r.NStr("payment_gateway"), r.NStr("gateway_payment_id"),
        r.Dec("amount"), r.Str("currency"), r.Str("payment_status"), r.Str("metadata"), r.NTime("succeeded_at"), r.NTime("failed_at"),
        r.NTime("refunded_at"), r.NStr("error_message"), r.NStr("wallet_transaction_id"), r.Time("created_at"), r.Time("updated_at"),
        r.NStr("payment_url"), r.Dec("refunded_amount"), r.NInt("save_card_and_make_default") == 1);

    public static void Insert(SqlBatch writes, PaymentRow p) => writes.Add(
        $"""
        INSERT INTO payments ({Columns})
        VALUES (@t, @id, @ikey, @dtype, @did, @mtype, @mid, @gw, @gwid, @amount, @cur, @status, @meta, @ok_at, @fail_at, @ref_at,
                @err, @wtx, @created, @updated, @url, @refunded, @save)
        """,
        ("t", p.TenantId), ("id", p.Id), ("ikey", p.IdempotencyKey), ("dtype", p.DestinationType), ("did", p.DestinationId),
        ("mtype", p.PaymentMethodType), ("mid", p.PaymentMethodId), ("gw", p.PaymentGateway), ("gwid", p.GatewayPaymentId),
        ("amount", p.Amount), ("cur", p.Currency), ("status", p.PaymentStatus), ("meta", p.Metadata), ("ok_at", p.SucceededAt),
        ("fail_at", p.FailedAt), ("ref_at", p.RefundedAt), ("err", p.ErrorMessage), ("wtx", p.WalletTransactionId),
        ("created", p.CreatedAt), ("updated", p.UpdatedAt), ("url", p.PaymentUrl), ("refunded", p.RefundedAmount),
        ("save", p.SaveCardAndMakeDefault ? 1 : 0));

    /// <summary>Writes what a gateway's answer or a refund changes.</summary>
    public static void UpdateState(SqlBatch writes, PaymentRow p) => writes.Add(
        """
        UPDATE payments SET payment_status = @status, gateway_payment_id = @gwid, succeeded_at = @ok_at, failed_at = @fail_at,
            refunded_at = @ref_at, error_message = @err, payment_url = @url, refunded_amount = @refunded, updated_at = @updated
        WHERE tenant_id = @t AND id = @id
        """,
        ("status", p.PaymentStatus), ("gwid", p.GatewayPaymentId), ("ok_at", p.SucceededAt), ("fail_at", p.FailedAt),
        ("ref_at", p.RefundedAt), ("err", p.ErrorMessage), ("url", p.PaymentUrl), ("refunded", p.RefundedAmount),
        ("updated", p.UpdatedAt), ("t", p.TenantId), ("id", p.Id));
}

/// <summary>Flexprice's DtoPaymentResponse (28 keys, all present); <c>destination_type</c> is always INVOICE.</summary>
public sealed record PaymentDto(
    string Id, string? IdempotencyKey, string DestinationType, string DestinationId, string? InvoiceNumber, string PaymentMethodType,
    string? PaymentMethodId, string? PaymentGateway, string? GatewayPaymentId, string? GatewayTrackingId,
    Dictionary<string, string>? GatewayMetadata, string? PaymentUrl, bool SaveCardAndMakeDefault, decimal Amount, string Currency,
    string PaymentStatus, bool TrackAttempts, IReadOnlyList<object>? Attempts, Dictionary<string, string> Metadata,
    DateTimeOffset? SucceededAt, DateTimeOffset? FailedAt, DateTimeOffset? RefundedAt, string? ErrorMessage, string TenantId,
    DateTimeOffset CreatedAt, string? CreatedBy, DateTimeOffset UpdatedAt, string? UpdatedBy, string? WalletTransactionId)
{
    public static PaymentDto From(PaymentRow p, string? invoiceNumber) => new(
        p.Id, p.IdempotencyKey, p.DestinationType, p.DestinationId, invoiceNumber, p.PaymentMethodType, p.PaymentMethodId,
        p.PaymentGateway, p.GatewayPaymentId, null, null, p.PaymentUrl, p.SaveCardAndMakeDefault, p.Amount, p.Currency, p.PaymentStatus, false, [],
        Json.Deserialize<Dictionary<string, string>>(p.Metadata) ?? [], p.SucceededAt, p.FailedAt, p.RefundedAt, p.ErrorMessage,
        p.TenantId, p.CreatedAt, null, p.UpdatedAt, null, p.WalletTransactionId);
}
