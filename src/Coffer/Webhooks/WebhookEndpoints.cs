using Coffer.Common;
using Coffer.Secrets;

namespace Coffer.Webhooks;

public sealed record DeliveryQuery(string? EndpointId, string? EventType, string? EventId, string? Status);

public abstract record EndpointOutcome
{
    private EndpointOutcome() { }

    /// <summary>The endpoint as it now stands; its secret is set only when this change revealed one.</summary>
    public sealed record Done(EndpointDto Endpoint) : EndpointOutcome;

    public sealed record NotFound : EndpointOutcome;

    public sealed record LimitReached : EndpointOutcome;
}

public abstract record ResendOutcome
{
    private ResendOutcome() { }

    public sealed record Queued(List<DeliveryDto> Deliveries) : ResendOutcome;

    public sealed record EventNotFound : ResendOutcome;

    /// <summary>The endpoint named does not exist or is disabled.</summary>
    public sealed record EndpointNotFound : ResendOutcome;
}

/// <summary>
/// Changes to webhook endpoints and re-sending an event by hand, for the API and the dashboard alike. Requests arrive
/// checked by <see cref="Check"/>.
/// </summary>
public sealed class WebhookEndpoints(WebhookStore store, WebhookWorker worker, Ids ids, TimeProvider clock, SecretBox box)
{
    public const int MaxEndpointsPerTenant = 20;
    public const int MaxEventTypes = 50;
    public static readonly TimeSpan RotationOverlap = TimeSpan.FromHours(24);

    public static void Check(Validator v, EndpointRequest body, bool create)
    {
        v.HttpUrl("url", body.Url, required: create);
        v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        if (body.EventTypes?.Count > MaxEventTypes) v.Fail($"at most {MaxEventTypes} event_types");
        if (body.EventTypes?.Any(t => string.IsNullOrWhiteSpace(t) || !Outbox.EventTypes.IsSubscribable(t)) == true)
            v.Fail("event_types must be event names such as wallet.topped_up or wallet.*");
    }

    public async Task<EndpointOutcome> CreateAsync(string tenantId, EndpointRequest body)
    {
        var now = clock.GetUtcNow();
        var row = new EndpointRow(tenantId, ids.New("whe"), body.Url!.Trim(), body.Description, body.EventTypes is null ? null : Json.Serialize(body.EventTypes),
            body.Enabled ?? true, StandardWebhooks.NewSecret(), null, null, null, null, now, now);
        if (!await store.AddEndpointAsync(row, box.Seal(row.Secret), MaxEndpointsPerTenant)) return new EndpointOutcome.LimitReached();
        // The secret is shown this once; afterwards only rotation reveals a new one.
        return new EndpointOutcome.Done(EndpointDto.From(row, row.Secret));
    }

    public async Task<EndpointOutcome> UpdateAsync(string tenantId, string id, EndpointRequest body)
    {
        var e = await store.EndpointAsync(tenantId, id);
        if (e is null) return new EndpointOutcome.NotFound();
        var enabling = body.Enabled == true && !e.Enabled;
        var after = e with
        {
            Url = body.Url?.Trim() ?? e.Url,
            Description = body.Description ?? e.Description,
            EventTypes = body.EventTypes is null ? e.EventTypes : Json.Serialize(body.EventTypes),
            Enabled = body.Enabled ?? e.Enabled,
            // Re-enabling starts with a clean record.
            DisabledReason = enabling ? null : e.DisabledReason,
            FailingSince = enabling ? null : e.FailingSince,
            UpdatedAt = clock.GetUtcNow(),
        };
        await store.UpdateEndpointAsync(after);
        return new EndpointOutcome.Done(EndpointDto.From(after));
    }

    /// <summary>A new secret; the old one keeps signing (alongside) for 24 hours so receivers can switch without a gap.</summary>
    public async Task<EndpointOutcome> RotateAsync(string tenantId, string id)
    {
        var e = await store.EndpointAsync(tenantId, id);
        if (e is null) return new EndpointOutcome.NotFound();
        var now = clock.GetUtcNow();
        var secret = StandardWebhooks.NewSecret();
        await store.RotateSecretAsync(e, box.Seal(secret), now + RotationOverlap, now);
        return new EndpointOutcome.Done(EndpointDto.From(e with { Secret = secret, UpdatedAt = now }, secret));
    }

    /// <summary>Queues the event again to one endpoint, or with none named to every enabled endpoint that wants it.</summary>
    public Task<ResendOutcome> ResendAsync(string tenantId, string eventId, string? endpointId) =>
        store.ResendAsync(tenantId, eventId, endpointId, worker, clock.GetUtcNow());
}
