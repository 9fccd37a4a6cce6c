using System.Data.Common;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Webhooks;

public sealed record EndpointRow(
    string TenantId, string Id, string Url, string? Description, string? EventTypes, bool Enabled, string Secret, string? PreviousSecret,
    DateTimeOffset? PreviousSecretExpiresAt, string? DisabledReason, DateTimeOffset? FailingSince, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns =
        "tenant_id, id, url, description, event_types, enabled, secret, previous_secret, previous_secret_expires_at, disabled_reason, " +
        "failing_since, created_at, updated_at";

    public static EndpointRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("url"), r.NStr("description"), r.NStr("event_types"), r.Long("enabled") == 1, r.Str("secret"),
        r.NStr("previous_secret"), r.NTime("previous_secret_expires_at"), r.NStr("disabled_reason"), r.NTime("failing_since"),
        r.Time("created_at"), r.Time("updated_at"));

    public IReadOnlyList<string>? Types => EventTypes is null ? null : Json.Deserialize<List<string>>(EventTypes);

    /// <summary>An endpoint with no list receives everything; a list entry ending in <c>.*</c> covers a family.</summary>
    public bool Wants(string eventType) => Types is not { } types || types.Any(t =>
        t == eventType || (t.EndsWith(".*", StringComparison.Ordinal) && eventType.StartsWith(t[..^1], StringComparison.Ordinal)));

    public IEnumerable<string> SigningSecrets(DateTimeOffset now) =>
        PreviousSecret is not null && PreviousSecretExpiresAt > now ? [Secret, PreviousSecret] : [Secret];
}

public sealed record EndpointDto(
    string Id, string Url, string? Description, IReadOnlyList<string>? EventTypes, bool Enabled, string? DisabledReason,
    DateTimeOffset? FailingSince, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Secret = null)
{
    public static EndpointDto From(EndpointRow e, string? secret = null) =>
        new(e.Id, e.Url, e.Description, e.Types, e.Enabled, e.DisabledReason, e.FailingSince, e.CreatedAt, e.UpdatedAt, secret);
}

public sealed record DeliveryRow(
    string TenantId, string Id, string EndpointId, string EventId, string EventType, string Payload, string Status, int AttemptCount,
    DateTimeOffset NextAttemptAt, DateTimeOffset? LeasedUntil, int? LastStatusCode, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns =
        "tenant_id, id, endpoint_id, event_id, event_type, payload, status, attempt_count, next_attempt_at, leased_until, last_status_code, " +
        "created_at, updated_at";

    public static DeliveryRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("endpoint_id"), r.Str("event_id"), r.Str("event_type"), r.Str("payload"), r.Str("status"),
        r.NInt("attempt_count") ?? 0, r.Time("next_attempt_at"), r.NTime("leased_until"), r.NInt("last_status_code"), r.Time("created_at"),
        r.Time("updated_at"));
}

public sealed record DeliveryDto(
    string Id, string EndpointId, string EventId, string EventType, string Status, int AttemptCount, DateTimeOffset? NextAttemptAt,
    int? LastStatusCode, DateTimeOffset CreatedAt)
{
    public static DeliveryDto From(DeliveryRow d) => new(d.Id, d.EndpointId, d.EventId, d.EventType, d.Status, d.AttemptCount,
        d.Status == DeliveryStatuses.Pending ? d.NextAttemptAt : null, d.LastStatusCode, d.CreatedAt);
}

public sealed record AttemptDto(int AttemptNumber, DateTimeOffset StartedAt, int DurationMs, int? StatusCode, string? ResponseExcerpt, string? Error);

public static class DeliveryStatuses
{
    public const string Pending = "pending";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
}
