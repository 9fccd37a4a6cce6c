using Coffer.Storage;

namespace Coffer.Webhooks;

/// <summary>Webhook endpoints, deliveries and attempts as the database holds them.</summary>
public sealed class WebhookStore(Database db)
{
    public async Task<EndpointRow?> EndpointAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t AND id = @id",
            EndpointRow.Read, ("t", tenantId), ("id", id));
    }

    public async Task<List<EndpointRow>> EndpointsAsync(string tenantId)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t ORDER BY created_at, id",
            EndpointRow.Read, ("t", tenantId));
    }

    /// <summary>Adds the endpoint unless the tenant already has <paramref name="maxPerTenant"/>; counted in the inserting transaction.</summary>
    public async Task<bool> AddEndpointAsync(EndpointRow row, string sealedSecret, int maxPerTenant)
    {
        await using var scope = await db.BeginWriteAsync();
        var count = await scope.Connection.ScalarLongAsync(scope.Transaction, "SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = @t", ("t", row.TenantId));
        if (count >= maxPerTenant) return false;
        await scope.Connection.ExecAsync(scope.Transaction,
            $"INSERT INTO webhook_endpoints ({EndpointRow.Columns}) VALUES (@t, @id, @url, @desc, @types, @on, @secret, NULL, NULL, NULL, NULL, @now, @now)",
            ("t", row.TenantId), ("id", row.Id), ("url", row.Url), ("desc", row.Description), ("types", row.EventTypes), ("on", row.Enabled),
            ("secret", sealedSecret), ("now", row.CreatedAt));
        await scope.CommitAsync();
        return true;
    }

    public async Task UpdateEndpointAsync(EndpointRow after)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            """
            UPDATE webhook_endpoints SET url = @url, description = @desc, event_types = @types, enabled = @on, disabled_reason = @reason,
                failing_since = @failing, updated_at = @now WHERE tenant_id = @t AND id = @id
            """,
            ("url", after.Url), ("desc", after.Description), ("types", after.EventTypes), ("on", after.Enabled), ("reason", after.DisabledReason),
            ("failing", after.FailingSince), ("now", after.UpdatedAt), ("t", after.TenantId), ("id", after.Id));
        await scope.CommitAsync();
    }

    /// <summary>The new (sealed) secret signs from now on; the previous one, still sealed, keeps signing until <paramref name="previousExpiresAt"/>.</summary>
    public async Task RotateSecretAsync(EndpointRow current, string sealedSecret, DateTimeOffset previousExpiresAt, DateTimeOffset now)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE webhook_endpoints SET secret = @s, previous_secret = @old, previous_secret_expires_at = @exp, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("s", sealedSecret), ("old", current.Secret), ("exp", previousExpiresAt), ("now", now), ("t", current.TenantId), ("id", current.Id));
        await scope.CommitAsync();
    }

    public async Task<bool> DeleteEndpointAsync(string tenantId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var n = await scope.Connection.ExecAsync(scope.Transaction, "DELETE FROM webhook_endpoints WHERE tenant_id = @t AND id = @id", ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return n == 1;
    }

    public async Task<Page<DeliveryRow>> DeliveriesAsync(string tenantId, DeliveryQuery q, int limit, int offset)
    {
        var where = Where.Tenant(tenantId).Eq("endpoint_id", "e", q.EndpointId).Eq("event_type", "type", q.EventType)
            .Eq("event_id", "evt", q.EventId).Eq("status", "s", q.Status);
        await using var c = await db.OpenAsync();
        return await c.PageAsync(DeliveryRow.Columns, "webhook_deliveries", where, Sql.OrderBy("created_at", ascending: false), limit, offset, DeliveryRow.Read);
    }

    /// <summary>The delivery's attempts in order, or none when there is no such delivery.</summary>
    public async Task<List<AttemptDto>?> AttemptsAsync(string tenantId, string deliveryId)
    {
        await using var c = await db.OpenAsync();
        if (await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM webhook_deliveries WHERE tenant_id = @t AND id = @id", ("t", tenantId), ("id", deliveryId)) == 0)
            return null;
        return await c.QueryAsync(null,
            "SELECT attempt_number, started_at, duration_ms, status_code, response_excerpt, error FROM webhook_attempts WHERE tenant_id = @t AND delivery_id = @d ORDER BY attempt_number",
            r => new AttemptDto(r.NInt("attempt_number") ?? 0, r.Time("started_at"), r.NInt("duration_ms") ?? 0, r.NInt("status_code"),
                r.NStr("response_excerpt"), r.NStr("error")),
            ("t", tenantId), ("d", deliveryId));
    }

    /// <summary>
    /// Queues the stored event again, with its original payload, in one transaction, to the endpoint named or to every
    /// enabled endpoint that wants it.
    /// </summary>
    public async Task<ResendOutcome> ResendAsync(string tenantId, string eventId, string? endpointId, WebhookWorker worker, DateTimeOffset now)
    {
        await using (var scope = await db.BeginWriteAsync())
        {
            var c = scope.Connection;
            var found = await c.QueryAsync(scope.Transaction, "SELECT event_type, payload, payload_packed FROM outbox_events WHERE tenant_id = @t AND id = @id",
                r => (Type: r.Str("event_type"), Payload: PackedJson.Read(r, "payload")!), ("t", tenantId), ("id", eventId));
            if (found.Count == 0) return new ResendOutcome.EventNotFound();
            var evt = found[0];
            var endpoints = (await c.QueryAsync(scope.Transaction, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t AND enabled = 1",
                EndpointRow.Read, ("t", tenantId))).Where(e => endpointId is null ? e.Wants(evt.Type) : e.Id == endpointId).ToList();
            if (endpointId is not null && endpoints.Count == 0) return new ResendOutcome.EndpointNotFound();
            var writes = new SqlBatch();
            foreach (var e in endpoints) worker.AddDelivery(writes, tenantId, e.Id, eventId, evt.Type, evt.Payload, now);
            await writes.ExecuteAsync(c, scope.Transaction);
            await scope.CommitAsync();
        }
        await using var read = await db.OpenAsync();
        var queued = await read.QueryAsync(null,
            $"SELECT {DeliveryRow.Columns} FROM webhook_deliveries WHERE tenant_id = @t AND event_id = @e AND status = 'pending' AND attempt_count = 0",
            DeliveryRow.Read, ("t", tenantId), ("e", eventId));
        return new ResendOutcome.Queued(queued.Select(DeliveryDto.From).ToList());
    }
}
