using Coffer.Common;
using Coffer.Secrets;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Webhooks;

public sealed record EndpointRequest(string? Url, string? Description, List<string>? EventTypes, bool? Enabled);

public sealed record ResendRequest(string? EndpointId);

/// <summary>Webhook endpoints, their deliveries and attempts, and re-sending an event by hand.</summary>
public static class WebhookApi
{
    public const int MaxEndpointsPerTenant = 20;
    public const int MaxEventTypes = 50;
    public static readonly TimeSpan RotationOverlap = TimeSpan.FromHours(24);

    public static void MapWebhooks(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/webhooks").WithTags("Webhooks");
        g.MapPost("/endpoints", Create).WithName("createWebhookEndpoint");
        g.MapGet("/endpoints", List).WithName("listWebhookEndpoints");
        g.MapGet("/endpoints/{id}", Get).WithName("getWebhookEndpoint");
        g.MapPut("/endpoints/{id}", Update).WithName("updateWebhookEndpoint");
        g.MapDelete("/endpoints/{id}", Delete).WithName("deleteWebhookEndpoint");
        g.MapPost("/endpoints/{id}/rotate-secret", Rotate).WithName("rotateWebhookSecret");
        g.MapGet("/deliveries", Deliveries).WithName("listWebhookDeliveries");
        g.MapGet("/deliveries/{id}/attempts", Attempts).WithName("listWebhookAttempts");
        g.MapPost("/events/{event_id}/resend", Resend).WithName("resendWebhookEvent");
    }

    static void Check(Validator v, EndpointRequest body, bool create)
    {
        v.HttpUrl("url", body.Url, required: create);
        v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        if (body.EventTypes?.Count > MaxEventTypes) v.Fail($"at most {MaxEventTypes} event_types");
        if (body.EventTypes?.Any(t => string.IsNullOrWhiteSpace(t) || !Outbox.EventTypes.IsSubscribable(t)) == true)
            v.Fail("event_types must be event names such as wallet.topped_up or wallet.*");
    }

    static async Task<EndpointRow?> Find(Database db, string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t AND id = @id",
            EndpointRow.Read, ("t", tenantId), ("id", id));
    }

    internal static async Task<Results<Created<EndpointDto>, ApiError>> Create(Tenant tenant, EndpointRequest body, Database db, Ids ids, TimeProvider clock,
        SecretBox box)
    {
        var v = new Validator();
        Check(v, body, create: true);
        if (!v.Ok) return v.Error();
        var now = clock.GetUtcNow();
        var row = new EndpointRow(tenant.Id, ids.New("whe"), body.Url!.Trim(), body.Description, body.EventTypes is null ? null : Json.Serialize(body.EventTypes),
            body.Enabled ?? true, StandardWebhooks.NewSecret(), null, null, null, null, now, now);
        await using var scope = await db.BeginWriteAsync();
        var count = await scope.Connection.ScalarLongAsync(scope.Transaction, "SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = @t", ("t", tenant.Id));
        if (count >= MaxEndpointsPerTenant) return ApiError.Validation($"a tenant has at most {MaxEndpointsPerTenant} webhook endpoints");
        await scope.Connection.ExecAsync(scope.Transaction,
            $"INSERT INTO webhook_endpoints ({EndpointRow.Columns}) VALUES (@t, @id, @url, @desc, @types, @on, @secret, NULL, NULL, NULL, NULL, @now, @now)",
            ("t", tenant.Id), ("id", row.Id), ("url", row.Url), ("desc", row.Description), ("types", row.EventTypes), ("on", row.Enabled),
            ("secret", box.Seal(row.Secret)), ("now", now));
        await scope.CommitAsync();
        // The secret is shown this once; afterwards only rotation reveals a new one.
        return TypedResults.Created($"/v1/webhooks/endpoints/{row.Id}", EndpointDto.From(row, row.Secret));
    }

    internal static async Task<Ok<List<EndpointDto>>> List(Tenant tenant, Database db)
    {
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync(null, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t ORDER BY created_at, id",
            EndpointRow.Read, ("t", tenant.Id));
        return TypedResults.Ok(rows.Select(r => EndpointDto.From(r)).ToList());
    }

    static async Task<Results<Ok<EndpointDto>, ApiError>> Get(Tenant tenant, string id, Database db) =>
        await Find(db, tenant.Id, id) is { } e ? TypedResults.Ok(EndpointDto.From(e)) : ApiError.NotFound("webhook endpoint");

    internal static async Task<Results<Ok<EndpointDto>, ApiError>> Update(Tenant tenant, string id, EndpointRequest body, Database db, TimeProvider clock)
    {
        var v = new Validator();
        Check(v, body, create: false);
        if (!v.Ok) return v.Error();
        var e = await Find(db, tenant.Id, id);
        if (e is null) return ApiError.NotFound("webhook endpoint");
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
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            """
            UPDATE webhook_endpoints SET url = @url, description = @desc, event_types = @types, enabled = @on, disabled_reason = @reason,
                failing_since = @failing, updated_at = @now WHERE tenant_id = @t AND id = @id
            """,
            ("url", after.Url), ("desc", after.Description), ("types", after.EventTypes), ("on", after.Enabled), ("reason", after.DisabledReason),
            ("failing", after.FailingSince), ("now", after.UpdatedAt), ("t", tenant.Id), ("id", id));
        await scope.CommitAsync();
        return TypedResults.Ok(EndpointDto.From(after));
    }

    static async Task<Results<NoContent, ApiError>> Delete(Tenant tenant, string id, Database db)
    {
        await using var scope = await db.BeginWriteAsync();
        var n = await scope.Connection.ExecAsync(scope.Transaction, "DELETE FROM webhook_endpoints WHERE tenant_id = @t AND id = @id", ("t", tenant.Id), ("id", id));
        await scope.CommitAsync();
        return n == 1 ? TypedResults.NoContent() : ApiError.NotFound("webhook endpoint");
    }

    /// <summary>A new secret; the old one keeps signing (alongside) for 24 hours so receivers can switch without a gap.</summary>
    internal static async Task<Results<Ok<EndpointDto>, ApiError>> Rotate(Tenant tenant, string id, Database db, TimeProvider clock, SecretBox box)
    {
        var e = await Find(db, tenant.Id, id);
        if (e is null) return ApiError.NotFound("webhook endpoint");
        var now = clock.GetUtcNow();
        var secret = StandardWebhooks.NewSecret();
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE webhook_endpoints SET secret = @s, previous_secret = @old, previous_secret_expires_at = @exp, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("s", box.Seal(secret)), ("old", e.Secret), ("exp", now + RotationOverlap), ("now", now), ("t", tenant.Id), ("id", id));
        await scope.CommitAsync();
        return TypedResults.Ok(EndpointDto.From(e with { Secret = secret, UpdatedAt = now }, secret));
    }

    internal static async Task<Results<Ok<ListResponse<DeliveryDto>>, ApiError>> Deliveries(
        Tenant tenant, Database db, int? limit, int? offset, [FromQuery(Name = "endpoint_id")] string? endpointId,
        [FromQuery(Name = "event_type")] string? eventType, [FromQuery(Name = "event_id")] string? eventId, string? status)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        var where = new List<string> { "tenant_id = @t" };
        var args = new List<(string, object?)> { ("t", tenant.Id) };
        if (endpointId is not null) { where.Add("endpoint_id = @e"); args.Add(("e", endpointId)); }
        if (eventType is not null) { where.Add("event_type = @type"); args.Add(("type", eventType)); }
        if (eventId is not null) { where.Add("event_id = @evt"); args.Add(("evt", eventId)); }
        if (status is not null) { where.Add("status = @s"); args.Add(("s", status)); }
        var sql = string.Join(" AND ", where);
        await using var c = await db.OpenAsync();
        var total = await c.ScalarLongAsync(null, $"SELECT COUNT(*) FROM webhook_deliveries WHERE {sql}", args.ToArray());
        var rows = await c.QueryAsync(null, $"SELECT {DeliveryRow.Columns} FROM webhook_deliveries WHERE {sql} ORDER BY created_at DESC, id DESC LIMIT @l OFFSET @o",
            DeliveryRow.Read, [.. args, ("l", l), ("o", o)]);
        return TypedResults.Ok(new ListResponse<DeliveryDto>(rows.Select(DeliveryDto.From).ToList(), new Pagination(total, l, o)));
    }

    internal static async Task<Results<Ok<List<AttemptDto>>, ApiError>> Attempts(Tenant tenant, string id, Database db)
    {
        await using var c = await db.OpenAsync();
        if (await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM webhook_deliveries WHERE tenant_id = @t AND id = @id", ("t", tenant.Id), ("id", id)) == 0)
            return ApiError.NotFound("webhook delivery");
        return TypedResults.Ok(await c.QueryAsync(null,
            "SELECT attempt_number, started_at, duration_ms, status_code, response_excerpt, error FROM webhook_attempts WHERE tenant_id = @t AND delivery_id = @d ORDER BY attempt_number",
            r => new AttemptDto(r.NInt("attempt_number") ?? 0, r.Time("started_at"), r.NInt("duration_ms") ?? 0, r.NInt("status_code"),
                r.NStr("response_excerpt"), r.NStr("error")),
            ("t", tenant.Id), ("d", id)));
    }

    /// <summary>Queues the event again, with its original payload, to one endpoint or to every enabled endpoint that wants it.</summary>
    internal static async Task<Results<Ok<List<DeliveryDto>>, ApiError>> Resend(
        Tenant tenant, [FromRoute(Name = "event_id")] string eventId, ResendRequest? body, Database db, WebhookWorker worker, TimeProvider clock)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        var found = await c.QueryAsync(scope.Transaction, "SELECT event_type, payload FROM outbox_events WHERE tenant_id = @t AND id = @id",
            r => (Type: r.Str("event_type"), Payload: r.Str("payload")), ("t", tenant.Id), ("id", eventId));
        if (found.Count == 0) return ApiError.NotFound("event");
        var evt = found[0];
        var endpoints = (await c.QueryAsync(scope.Transaction, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t AND enabled = 1",
            EndpointRow.Read, ("t", tenant.Id))).Where(e => body?.EndpointId is null ? e.Wants(evt.Type) : e.Id == body.EndpointId).ToList();
        if (body?.EndpointId is not null && endpoints.Count == 0) return ApiError.NotFound("enabled webhook endpoint");
        var writes = new SqlBatch();
        var now = clock.GetUtcNow();
        foreach (var e in endpoints) worker.AddDelivery(writes, tenant.Id, e.Id, eventId, evt.Type, evt.Payload, now);
        await writes.ExecuteAsync(c, scope.Transaction);
        await scope.CommitAsync();
        await using var read = await db.OpenAsync();
        var queued = await read.QueryAsync(null,
            $"SELECT {DeliveryRow.Columns} FROM webhook_deliveries WHERE tenant_id = @t AND event_id = @e AND status = 'pending' AND attempt_count = 0",
            DeliveryRow.Read, ("t", tenant.Id), ("e", eventId));
        return TypedResults.Ok(queued.Select(DeliveryDto.From).ToList());
    }
}
