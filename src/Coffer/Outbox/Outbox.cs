using System.Text.Json;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Outbox;

public static class EventTypes
{
    public const string WalletCreated = "wallet.created";
    public const string WalletUpdated = "wallet.updated";
    public const string WalletToppedUp = "wallet.topped_up";
    public const string WalletTerminated = "wallet.terminated";
    public const string TransactionCreated = "wallet.transaction.created";
    public const string TransactionUpdated = "wallet.transaction.updated";
    public const string HoldCreated = "wallet.hold.created";
    public const string InvoiceCreated = "invoice.created";
    public const string InvoiceFinalized = "invoice.finalized";
    public const string InvoiceVoided = "invoice.voided";
    public const string InvoicePaymentUpdated = "invoice.payment.updated";
    public const string PaymentSucceeded = "payment.succeeded";
    public const string PaymentFailed = "payment.failed";
    public const string PaymentRefunded = "payment.refunded";
    public const string PaymentRefundDue = "payment.refund_due";
    public const string RefundCreated = "wallet.refund.created";
    public const string EndpointDisabled = "webhook.endpoint_disabled";
    public const string WalletBalanceLow = "wallet.balance_low";
    public const string WalletPaymentMade = "wallet.payment_made";
    public const string AutoTopUpFailed = "wallet.auto_top_up_failed";
    /// <summary>Automatic top-ups this calendar month (UTC) reached 80, 90 or 100 % of the rule's <c>max_amount_per_month</c>.</summary>
    public const string AutoTopUpLimitWarning = "wallet.auto_top_up_limit_warning";
    /// <summary>A lot's credits expire within the tenant's <c>credit_expiry_warning.days_before</c>: told once per lot (Expiry/ExpiryWarnings.cs).</summary>
    public const string CreditsExpiring = "wallet.credits_expiring";
    public const string WalletBalanceRecovered = "wallet.balance_recovered";
    /// <summary>A scheduled charge the wallet could not pay (Schedules/): the period is recorded failed and the schedule goes on.</summary>
    public const string ScheduleChargeFailed = "wallet.schedule_charge_failed";

    /// <summary>wallet.hold.captured, wallet.hold.released or wallet.hold.expired.</summary>
    public static string HoldEnded(string status) => $"wallet.hold.{status}";

    /// <summary>Every event type Coffer emits.</summary>
    public static readonly IReadOnlySet<string> All = typeof(EventTypes)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!)
        .Concat(new[] { Ledger.HoldStatuses.Captured, Ledger.HoldStatuses.Released, Ledger.HoldStatuses.Expired }.Select(HoldEnded))
        .ToHashSet();

    /// <summary>A subscription names an event type or a family (<c>wallet.*</c>) that has one: a typo would silently never deliver.</summary>
    public static bool IsSubscribable(string pattern) =>
        All.Contains(pattern) || (pattern.EndsWith(".*", StringComparison.Ordinal) && All.Any(t => t.StartsWith(pattern[..^1], StringComparison.Ordinal)));
}

/// <summary>
/// Events are rows written in the same database transaction as the change they describe (DESIGN.md 4.6),
/// with the payload as it was at that moment and a per-wallet sequence number for ordering at the receiver.
/// </summary>
public sealed class OutboxWriter(Ids ids, TimeProvider clock)
{
    /// <summary>
    /// How long an event stays once fanned out to its deliveries (each delivery keeps its own copy of the payload):
    /// it can be resent for this long; the expiry sweeper deletes it after.
    /// </summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(30);

    public void Add(SqlBatch batch, string tenantId, string eventType, string? walletId, long sequence, object payload)
    {
        var id = ids.New("evt");
        // One instant for the envelope and the row, so the event a receiver gets says when the row says it was made.
        var at = clock.GetUtcNow();
        var envelope = new { id, event_type = eventType, tenant_id = tenantId, wallet_id = walletId, sequence, created_at = at, data = payload };
        batch.Add(
            """
            INSERT INTO outbox_events (tenant_id, id, event_type, wallet_id, sequence, payload_packed, created_at)
            VALUES (@t, @id, @type, @w, @seq, @p, @at)
            """,
            ("t", tenantId), ("id", id), ("type", eventType), ("w", walletId), ("seq", sequence),
            ("p", PackedJson.PackJson(envelope)), ("at", at));
    }
}
