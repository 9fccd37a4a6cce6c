using Coffer.Common;
using Coffer.Outbox;
using Coffer.Webhooks;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

public sealed record EndpointFields
{
    public string? Url { get; init; }
    public string? Description { get; init; }
}

public sealed record EnableFields
{
    public string? Enabled { get; init; }
}

public sealed record ResendFields
{
    public string? EndpointId { get; init; }
}

/// <summary>
/// Webhook endpoints (added, enabled or disabled, their secret rotated and shown once) and the event log:
/// every delivery with its attempts, and a re-send of its event.
/// </summary>
public static class WebhookPages
{
    public const int LogRows = 25;

    /// <summary>The events an endpoint can choose from; none chosen means every event.</summary>
    static readonly string[] Catalogue =
    [
        EventTypes.WalletCreated, EventTypes.WalletUpdated, EventTypes.WalletToppedUp, EventTypes.WalletTerminated, EventTypes.TransactionCreated,
        EventTypes.TransactionUpdated, EventTypes.WalletBalanceLow, EventTypes.WalletBalanceRecovered, EventTypes.AutoTopUpFailed,
        EventTypes.ScheduleChargeFailed, EventTypes.CreditsExpiring,
        EventTypes.InvoiceCreated, EventTypes.InvoiceFinalized, EventTypes.InvoiceVoided, EventTypes.InvoicePaymentUpdated,
        EventTypes.PaymentSucceeded, EventTypes.PaymentFailed, EventTypes.PaymentRefunded, EventTypes.RefundCreated, EventTypes.EndpointDisabled,
    ];

    public static void MapWebhookPages(this RouteGroupBuilder g)
    {
        g.MapGet("/webhooks", Show);
        g.MapPost("/webhooks/endpoints", Add);
        g.MapPost("/webhooks/endpoints/{id}/enabled", SetEnabled);
        g.MapPost("/webhooks/endpoints/{id}/rotate-secret", Rotate);
        g.MapPost("/webhooks/events/{eventId}/resend", Resend);
    }

    static Task<IResult> Show(HttpContext http, string? done, string? page) =>
        RenderAsync(http, done switch
        {
            "enabled" => "Endpoint enabled.",
            "disabled" => "Endpoint disabled: it receives nothing until it is enabled again.",
            "resent" => "The event was queued for delivery again.",
            _ => null,
        }, "", null, 200, int.TryParse(page, out var p) && p >= 1 ? Math.Min(p, 100_000) : 1);

    static async Task<IResult> RenderAsync(HttpContext http, string? notice, string secretHtml, string? error, int status, int page = 1,
        EndpointFields? typed = null)
    {
        var tenant = await TenantAsync(http);
        var store = http.RequestServices.GetRequiredService<WebhookStore>();
        var endpoints = (await store.EndpointsAsync(tenant.Id)).Select(e => EndpointDto.From(e)).ToList();
        var deliveries = await store.DeliveriesAsync(tenant.Id, new DeliveryQuery(null, null, null, null), LogRows, (page - 1) * LogRows);
        var urls = endpoints.ToDictionary(e => e.Id, e => e.Url);

        var endpointRows = string.Join("", endpoints.Select(e => $"""
            <tr><td><code class="url">{E(e.Url)}</code>{(e.Description is null ? "" : $"<div class=\"muted\">{E(e.Description)}</div>")}</td>
            <td>{(e.EventTypes is { Count: > 0 } t ? E(string.Join(", ", t)) : "All events")}</td>
            <td>{(e.Enabled ? Status("enabled") : Status("disabled") + (e.DisabledReason is null ? "" : $"<div class=\"muted\">{E(e.DisabledReason)}</div>"))}</td>
            <td><div class="actions">
              <form class="inline" method="post" action="/dashboard/webhooks/endpoints/{U(e.Id)}/enabled">{Antiforgery(http)}
                <input type="hidden" name="Enabled" value="{(e.Enabled ? "false" : "true")}">
                <button type="submit" class="secondary" aria-label="{(e.Enabled ? "Disable" : "Enable")} {E(e.Url)}">{(e.Enabled ? "Disable" : "Enable")}</button></form>
              <form class="inline" method="post" action="/dashboard/webhooks/endpoints/{U(e.Id)}/rotate-secret">{Antiforgery(http)}
                <button type="submit" class="secondary" aria-label="Rotate secret of {E(e.Url)}">Rotate secret</button></form>
            </div></td></tr>
            """));

        var attempts = new Dictionary<string, List<AttemptDto>>();
        foreach (var delivery in deliveries.Items.Where(x => x.AttemptCount > 0))
            attempts[delivery.Id] = await store.AttemptsAsync(tenant.Id, delivery.Id) ?? [];
        var log = string.Join("", deliveries.Items.Select(DeliveryDto.From).Select(x => $"""
            <tr><td><strong>{E(x.EventType)}</strong><div class="muted"><code>{E(x.EventId)}</code></div>{AttemptList(attempts.GetValueOrDefault(x.Id))}</td>
            <td><code class="url">{E(urls.GetValueOrDefault(x.EndpointId, x.EndpointId))}</code></td>
            <td>{Status(x.Status)}{(x.NextAttemptAt is { } next ? $"<div class=\"muted\">next try {Date(next)}</div>" : "")}</td>
            <td class="num">{x.AttemptCount}</td><td>{Date(x.CreatedAt)}</td>
            <td><form class="inline" method="post" action="/dashboard/webhooks/events/{U(x.EventId)}/resend">{Antiforgery(http)}
              <input type="hidden" name="EndpointId" value="{E(x.EndpointId)}">
              <button type="submit" class="secondary nowrap" aria-label="Re-send {E(x.EventType)} {E(x.EventId)}">Re-send</button></form></td></tr>
            """));
        var total = deliveries.Total;
        var pager = (page > 1 ? $"<a rel=\"prev\" href=\"/dashboard/webhooks?page={page - 1}#log\">Newer</a>" : "") +
                    ((long)page * LogRows < total ? $"<a rel=\"next\" href=\"/dashboard/webhooks?page={page + 1}#log\">Older</a>" : "");
        var checkboxes = string.Join("", Catalogue.Select((t, n) =>
            $"<label class=\"choice\"><input type=\"checkbox\" name=\"EventTypes\" value=\"{E(t)}\"> <code>{E(t)}</code></label>"));

        return Page("Webhooks", $"""
            {Notice(notice)}{secretHtml}{Alert(error)}
            <section aria-labelledby="endpoints-h"><h2 id="endpoints-h">Endpoints</h2>
            <div class="table-wrap"><table><thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
            <tbody>{(endpointRows.Length == 0 ? "<tr><td colspan=\"4\" class=\"muted\">No endpoints yet.</td></tr>" : endpointRows)}</tbody></table></div>
            </section>
            <section class="panel" aria-labelledby="add-h"><h2 id="add-h">Add an endpoint</h2>
            <form method="post" action="/dashboard/webhooks/endpoints">{Antiforgery(http)}
              <label for="wh-url">URL</label>
              <input id="wh-url" name="Url" type="url" required maxlength="2000" placeholder="https://example.com/webhooks" value="{E(typed?.Url)}">
              <label for="wh-description">Description (optional)</label>
              <input id="wh-description" name="Description" maxlength="1000" value="{E(typed?.Description)}">
              <fieldset class="group events"><legend>Event types</legend>
                <p class="hint">None ticked: the endpoint receives every event.</p>
                {checkboxes}
              </fieldset>
              <div class="actions"><button type="submit">Add endpoint</button></div>
            </form>
            </section>
            <section id="log" aria-labelledby="log-h"><h2 id="log-h">Event log</h2>
            <div class="table-wrap"><table><thead><tr><th scope="col">Event</th><th scope="col">Endpoint</th><th scope="col">Status</th>
              <th scope="col" class="num">Attempts</th><th scope="col">Created</th><th scope="col">Re-send</th></tr></thead>
            <tbody>{(log.Length == 0 ? "<tr><td colspan=\"6\" class=\"muted\">No deliveries yet.</td></tr>" : log)}</tbody></table></div>
            <nav class="actions" aria-label="Event log pages"><span class="muted">{total} {(total == 1 ? "delivery" : "deliveries")}</span>{pager}</nav>
            </section>
            """, DashboardPages.Nav(http.User, http), status);
    }

    static string AttemptList(List<AttemptDto>? attempts)
    {
        if (attempts is not { Count: > 0 }) return "";
        var rows = string.Join("", attempts.Select(a => $"""
            <tr><td class="num">{a.AttemptNumber}</td><td>{Date(a.StartedAt)}</td><td class="num">{(a.StatusCode is { } s ? s.ToString(System.Globalization.CultureInfo.InvariantCulture) : "--")}</td>
            <td class="num">{a.DurationMs} ms</td><td><code class="excerpt">{E(a.ResponseExcerpt ?? a.Error)}</code></td></tr>
            """));
        return $"""
            <details class="attempts"><summary>{attempts.Count} {(attempts.Count == 1 ? "attempt" : "attempts")}</summary>
            <div class="table-wrap"><table><thead><tr><th scope="col" class="num">#</th><th scope="col">Started</th><th scope="col" class="num">Status code</th>
              <th scope="col" class="num">Latency</th><th scope="col">Response</th></tr></thead><tbody>{rows}</tbody></table></div></details>
            """;
    }

    static string SecretOnce(HttpContext http, EndpointDto e, string what)
    {
        // A page that carries a secret is kept out of every cache.
        http.Response.Headers.CacheControl = "no-store";
        return $"""
            <div class="flash-ok" role="status"><p>{E(what)} for <code class="url">{E(e.Url)}</code>. Copy the signing secret now: it is not shown again.</p>
            <p><label for="new-secret">Signing secret</label><input id="new-secret" class="secret" readonly value="{E(e.Secret)}"></p></div>
            """;
    }

    /// <summary>The new secret of a rotated endpoint, shown this once (here and on the settings screen).</summary>
    internal static string RotatedOnce(HttpContext http, EndpointDto e) => SecretOnce(http, e, "Secret rotated (the old one keeps signing for 24 hours)");

    static async Task<IResult> Add([FromForm] EndpointFields form, HttpContext http, WebhookEndpoints endpoints)
    {
        var tenant = await TenantAsync(http);
        var types = http.Request.Form["EventTypes"].OfType<string>().Where(t => t.Length > 0).Distinct().ToList();
        var request = new EndpointRequest(form.Url?.Trim(), string.IsNullOrWhiteSpace(form.Description) ? null : form.Description.Trim(),
            types.Count == 0 ? null : types, true);
        var v = new Validator();
        WebhookEndpoints.Check(v, request, create: true);
        var refusal = v.Ok ? null : v.Error();
        if (refusal is null)
        {
            var outcome = await endpoints.CreateAsync(tenant.Id, request);
            if (outcome is EndpointOutcome.Done d) return await RenderAsync(http, null, SecretOnce(http, d.Endpoint, "Endpoint added"), null, 200);
            refusal = WebhookApi.Refusal(outcome);
        }
        return await RenderAsync(http, null, "", $"The endpoint was not added: {refusal.Message}", refusal.StatusCode, typed: form);
    }

    static async Task<IResult> SetEnabled(string id, [FromForm] EnableFields form, HttpContext http, WebhookEndpoints endpoints)
    {
        var enable = Checked(form.Enabled);
        return await endpoints.UpdateAsync((await TenantAsync(http)).Id, id, new EndpointRequest(null, null, null, enable)) switch
        {
            EndpointOutcome.Done => Results.Redirect($"/dashboard/webhooks?done={(enable ? "enabled" : "disabled")}"),
            _ => NotFoundPage(http, "webhook endpoint"),
        };
    }

    static async Task<IResult> Rotate(string id, [FromForm] ActionFields form, HttpContext http, WebhookEndpoints endpoints) =>
        await endpoints.RotateAsync((await TenantAsync(http)).Id, id) switch
        {
            // Rendered, not redirected: the new secret exists in this response only.
            EndpointOutcome.Done d => await RenderAsync(http, null, RotatedOnce(http, d.Endpoint), null, 200),
            _ => NotFoundPage(http, "webhook endpoint"),
        };

    static async Task<IResult> Resend(string eventId, [FromForm] ResendFields form, HttpContext http, WebhookEndpoints endpoints)
    {
        var outcome = await endpoints.ResendAsync((await TenantAsync(http)).Id, eventId, string.IsNullOrEmpty(form.EndpointId) ? null : form.EndpointId);
        if (outcome is ResendOutcome.Queued) return Results.Redirect("/dashboard/webhooks?done=resent");
        var refusal = WebhookApi.Refusal(outcome);
        return await RenderAsync(http, null, "", $"The event was not re-sent: {refusal.Message}", refusal.StatusCode);
    }
}
