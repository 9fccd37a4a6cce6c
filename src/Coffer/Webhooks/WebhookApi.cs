using Coffer.Common;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Webhooks;

public sealed record EndpointRequest(string? Url, string? Description, List<string>? EventTypes, bool? Enabled);

public sealed record ResendRequest(string? EndpointId);

/// <summary>Webhook endpoints, their deliveries and attempts, and re-sending an event by hand.</summary>
public static class WebhookApi
{
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

    /// <summary>Why an endpoint change was refused, as the API and the dashboard both say it.</summary>
    public static ApiError Refusal(EndpointOutcome outcome) => outcome switch
    {
        EndpointOutcome.LimitReached => ApiError.Validation($"a tenant has at most {WebhookEndpoints.MaxEndpointsPerTenant} webhook endpoints"),
        EndpointOutcome.NotFound => ApiError.NotFound("webhook endpoint"),
        _ => throw new InvalidOperationException($"{outcome.GetType().Name} is no refusal"),
    };

    /// <summary>Why a re-send was refused, as the API and the dashboard both say it.</summary>
    public static ApiError Refusal(ResendOutcome outcome) => outcome switch
    {
        ResendOutcome.EventNotFound => ApiError.NotFound("event"),
        ResendOutcome.EndpointNotFound => ApiError.NotFound("enabled webhook endpoint"),
        _ => throw new InvalidOperationException($"{outcome.GetType().Name} is no refusal"),
    };

    static async Task<Results<Created<EndpointDto>, ApiError>> Create(Tenant tenant, EndpointRequest body, WebhookEndpoints endpoints)
    {
        var v = new Validator();
        WebhookEndpoints.Check(v, body, create: true);
        if (!v.Ok) return v.Error();
        return await endpoints.CreateAsync(tenant.Id, body) switch
        {
            EndpointOutcome.Done d => TypedResults.Created($"/v1/webhooks/endpoints/{d.Endpoint.Id}", d.Endpoint),
            var refused => Refusal(refused),
        };
    }

    static async Task<Ok<List<EndpointDto>>> List(Tenant tenant, WebhookStore store) =>
        TypedResults.Ok((await store.EndpointsAsync(tenant.Id)).Select(r => EndpointDto.From(r)).ToList());

    static async Task<Results<Ok<EndpointDto>, ApiError>> Get(Tenant tenant, string id, WebhookStore store) =>
        await store.EndpointAsync(tenant.Id, id) is { } e ? TypedResults.Ok(EndpointDto.From(e)) : ApiError.NotFound("webhook endpoint");

    static async Task<Results<Ok<EndpointDto>, ApiError>> Update(Tenant tenant, string id, EndpointRequest body, WebhookEndpoints endpoints)
    {
        var v = new Validator();
        WebhookEndpoints.Check(v, body, create: false);
        if (!v.Ok) return v.Error();
        return await endpoints.UpdateAsync(tenant.Id, id, body) switch
        {
            EndpointOutcome.Done d => TypedResults.Ok(d.Endpoint),
            var refused => Refusal(refused),
        };
    }

    static async Task<Results<NoContent, ApiError>> Delete(Tenant tenant, string id, WebhookStore store) =>
        await store.DeleteEndpointAsync(tenant.Id, id) ? TypedResults.NoContent() : ApiError.NotFound("webhook endpoint");

    /// <summary>A new secret; the old one keeps signing (alongside) for 24 hours so receivers can switch without a gap.</summary>
    static async Task<Results<Ok<EndpointDto>, ApiError>> Rotate(Tenant tenant, string id, WebhookEndpoints endpoints) =>
        await endpoints.RotateAsync(tenant.Id, id) switch
        {
            EndpointOutcome.Done d => TypedResults.Ok(d.Endpoint),
            var refused => Refusal(refused),
        };

    static async Task<Results<Ok<ListResponse<DeliveryDto>>, ApiError>> Deliveries(
        Tenant tenant, WebhookStore store, int? limit, int? offset, [FromQuery(Name = "endpoint_id")] string? endpointId,
        [FromQuery(Name = "event_type")] string? eventType, [FromQuery(Name = "event_id")] string? eventId, string? status)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        var page = await store.DeliveriesAsync(tenant.Id, new DeliveryQuery(endpointId, eventType, eventId, status), l, o);
        return TypedResults.Ok(page.Response(DeliveryDto.From));
    }

    static async Task<Results<Ok<List<AttemptDto>>, ApiError>> Attempts(Tenant tenant, string id, WebhookStore store) =>
        await store.AttemptsAsync(tenant.Id, id) is { } attempts ? TypedResults.Ok(attempts) : ApiError.NotFound("webhook delivery");

    /// <summary>Queues the event again, with its original payload, to one endpoint or to every enabled endpoint that wants it.</summary>
    static async Task<Results<Ok<List<DeliveryDto>>, ApiError>> Resend(
        Tenant tenant, [FromRoute(Name = "event_id")] string eventId, ResendRequest? body, WebhookEndpoints endpoints) =>
        await endpoints.ResendAsync(tenant.Id, eventId, body?.EndpointId) switch
        {
            ResendOutcome.Queued q => TypedResults.Ok(q.Deliveries),
            var refused => Refusal(refused),
        };
}
