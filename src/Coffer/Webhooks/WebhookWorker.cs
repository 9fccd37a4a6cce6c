using System.Diagnostics;
using Coffer.Common;
using Coffer.Hosting;
using Coffer.Outbox;
using Coffer.Storage;

namespace Coffer.Webhooks;

/// <summary>
/// Delivers the outbox. First it fans each new outbox event out into one delivery per endpoint that wants it;
/// then it leases due deliveries (<see cref="Leases"/>, so several nodes never take the same attempt and a
/// node that dies mid-attempt leaves the delivery to be taken again when its lease runs out) and posts them, signed, recording every attempt. Failures retry on a schedule of
/// about three days with jitter; a 410 disables the endpoint; an endpoint failing for five days straight is
/// disabled with a <c>webhook.endpoint_disabled</c> event.
/// </summary>
public sealed class WebhookWorker(Database db, Ids ids, TimeProvider clock, IHttpClientFactory http, OutboxWriter outbox, Hosting.CofferOptions options,
    Leases leases, ILogger<WebhookWorker> log, Secrets.SecretBox box) : Hosting.PollingWorker
{
    public const string HttpClientName = "webhooks";
    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromSeconds(10);
    readonly TimeSpan _attemptTimeout = options.WebhookTimeout;
    /// <summary>
    /// How long a round holds its deliveries: its batch goes out <see cref="MaxParallel"/> at a time, each attempt
    /// bounded by the time-out, plus room to record them. A node that dies mid-round hands its deliveries to another
    /// node once this has passed (80 s at the default time-out).
    /// </summary>
    public TimeSpan Lease => LeaseFor(_attemptTimeout);

    public static TimeSpan LeaseFor(TimeSpan attemptTimeout) =>
        attemptTimeout * ((DeliveryBatch + MaxParallel - 1) / MaxParallel) + TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DisableAfter = TimeSpan.FromDays(5);
    public const int FanOutBatch = 500;
    public const int DeliveryBatch = 50;
    public const int MaxParallel = 8;
    /// <summary>
    /// A tenant's share of one round: half the workers, so a tenant whose receiver stalls every attempt up to
    /// the time-out (or who has a backlog of thousands) delays another tenant's deliveries by one attempt at most.
    /// </summary>
    public const int MaxPerTenantPerRound = MaxParallel / 2;
    public const int ResponseExcerptLength = 500;
    /// <summary>How much of a response body is read at all; the rest is never downloaded.</summary>
    public const int ResponseReadLimitBytes = 2048;

    /// <summary>Delay before each retry (the first attempt is immediate): about 3.2 days in all.</summary>
    public static readonly TimeSpan[] Schedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5),
        TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
    ];

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.WebhookPoll;

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        await FanOutAsync(ct);
        var leased = await LeaseAsync(ct);
        // Tenants take turns in the queue of the round, so the first deliveries of every tenant start together.
        var fair = leased.GroupBy(d => d.TenantId).SelectMany(g => g.Select((d, i) => (d, i))).OrderBy(x => x.i).Select(x => x.d);
        await Parallel.ForEachAsync(fair, new ParallelOptions { MaxDegreeOfParallelism = MaxParallel, CancellationToken = ct },
            async (d, token) =>
            {
                // One delivery's trouble is its own: even a failure to record its attempt (the lease then expires
                // and the attempt is made again) never stops the other deliveries of the round.
                try { await DeliverAsync(d, token); }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    log.LogWarning(e, "webhook delivery {Delivery} of tenant {Tenant} could not be recorded", d.Id, d.TenantId);
                }
            });
        // A full batch, or a tenant that used its whole share, means more is probably due: the next round starts at once.
        _moreDue = leased.Count >= DeliveryBatch || leased.GroupBy(d => d.TenantId).Any(g => g.Count() >= MaxPerTenantPerRound);
        return leased.Count;
    }

    bool _moreDue;

    protected override bool MoreDue(int taken) => _moreDue;

    async Task FanOutAsync(CancellationToken ct)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        var tx = scope.Transaction;
        var events = await c.QueryAsync(tx,
            $"SELECT tenant_id, id, event_type, payload, payload_packed, created_at FROM outbox_events WHERE delivered_at IS NULL ORDER BY created_at, id LIMIT @n{SkipLocked.Clause(db.Kind)}",
            r => (Tenant: r.Str("tenant_id"), Id: r.Str("id"), Type: r.Str("event_type"), Payload: PackedJson.Read(r, "payload")!, Created: r.Time("created_at")),
            ("n", FanOutBatch));
        if (events.Count == 0) return;
        var now = clock.GetUtcNow();
        var writes = new SqlBatch();
        foreach (var tenant in events.GroupBy(e => e.Tenant))
        {
            var endpoints = await c.QueryAsync(tx, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t AND enabled = 1",
                EndpointRow.Read, ("t", tenant.Key));
            foreach (var e in tenant)
            {
                foreach (var endpoint in endpoints.Where(x => x.Wants(e.Type)))
                    AddDelivery(writes, tenant.Key, endpoint.Id, e.Id, e.Type, e.Payload, now);
                writes.Add("UPDATE outbox_events SET delivered_at = @now WHERE tenant_id = @t AND id = @id", ("now", now), ("t", tenant.Key), ("id", e.Id));
            }
        }
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        foreach (var e in events) Telemetry.FannedOut(now - e.Created);
    }

    public void AddDelivery(SqlBatch writes, string tenantId, string endpointId, string eventId, string type, string payload, DateTimeOffset now) =>
        writes.Add(
            $"""
            INSERT INTO webhook_deliveries ({DeliveryRow.Columns})
            VALUES (@t, @id, @e, @evt, @type, @p, 'pending', 0, @now, NULL, NULL, @now, @now)
            """,
            ("t", tenantId), ("id", ids.New("whd")), ("e", endpointId), ("evt", eventId), ("type", type), ("p", payload), ("now", now));

    const string Due = "status = 'pending' AND next_attempt_at <= @now";

    async Task<List<DeliveryRow>> LeaseAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync(ct);
        var (_, leased) = await leases.TakeAsync(scope, db.Kind, "webhook_deliveries", Due, "next_attempt_at", MaxPerTenantPerRound, DeliveryBatch,
            now, Lease, "updated_at = @now", DeliveryRow.Columns, DeliveryRow.Read);
        await scope.CommitAsync(ct);
        return leased;
    }

    async Task DeliverAsync(DeliveryRow d, CancellationToken ct)
    {
        EndpointRow? endpoint;
        await using (var c = await db.OpenAsync(ct))
            endpoint = await c.QuerySingleAsync(null, $"SELECT {EndpointRow.Columns} FROM webhook_endpoints WHERE tenant_id = @t AND id = @id",
                EndpointRow.Read, ("t", d.TenantId), ("id", d.EndpointId));
        var started = clock.GetUtcNow();
        if (endpoint is null || !endpoint.Enabled)
        {
            await FinishAsync(d, endpoint, DeliveryStatuses.Cancelled, null, started, 0, null, "endpoint disabled or removed", ct);
            return;
        }

        var watch = Stopwatch.StartNew();
        int? status = null;
        string? excerpt = null, error = null;
        // One time-out covers the whole attempt: resolving, connecting, the headers and the part of the body read.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_attemptTimeout);
        try
        {
            // The webhook id is the event's, so a receiver de-duplicates redeliveries and re-sends of one event.
            var timestamp = started.ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
            {
                Content = new StringContent(d.Payload, System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("webhook-id", d.EventId);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", StandardWebhooks.Signatures(endpoint.SigningSecrets(started).Select(box.Open), d.EventId, timestamp, d.Payload));
            request.Headers.Add("user-agent", "Coffer-Webhooks/1");
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            excerpt = await ExcerptAsync(response, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            error = $"timed out after {(int)_attemptTimeout.TotalMilliseconds} ms";
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Whatever the receiver does (a bogus charset, a broken connection, an odd URL), it is this delivery's
            // failed attempt, recorded and counted like any other.
            error = Describe(e);
        }
        var ms = (int)watch.ElapsedMilliseconds;
        var outcome = error is null && status is >= 200 and < 300 ? DeliveryStatuses.Succeeded
            : status == 410 ? DeliveryStatuses.Cancelled
            : d.AttemptCount + 1 > Schedule.Length ? DeliveryStatuses.Failed
            : DeliveryStatuses.Pending;
        await FinishAsync(d, endpoint, outcome, status, started, ms, excerpt, error, ct);
    }

    /// <summary>
    /// The start of the body, as text: at most <see cref="ResponseReadLimitBytes"/> are read, whatever the size of
    /// the answer, and decoded as UTF-8 whatever charset the receiver claims (an excerpt is for a person to read).
    /// </summary>
    static async Task<string> ExcerptAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[ResponseReadLimitBytes];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await body.ReadAsync(buffer.AsMemory(read), ct);
            if (n == 0) break;
            read += n;
        }
        var text = System.Text.Encoding.UTF8.GetString(buffer, 0, read);
        return text.Length <= ResponseExcerptLength ? text : text[..ResponseExcerptLength];
    }

    /// <summary>
    /// An attempt's error as the tenant sees it: Coffer's own refusals say why; everything else is named by its
    /// kind, never by the underlying text, which can carry internal host names or resolver details.
    /// </summary>
    static string Describe(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is OutboundRefusedException refused) return refused.Message;
        return e switch
        {
            HttpRequestException h => h.HttpRequestError switch
            {
                HttpRequestError.NameResolutionError => PublicAddressGuard.UnresolvedMessage,
                HttpRequestError.ConnectionError => "could not connect to the endpoint",
                HttpRequestError.SecureConnectionError => "the TLS connection to the endpoint failed",
                HttpRequestError.ResponseEnded => "the endpoint closed the connection before answering",
                HttpRequestError.InvalidResponse => "the endpoint's answer is not valid HTTP",
                HttpRequestError.ConfigurationLimitExceeded => "the endpoint's response headers are too large",
                _ => "the request to the endpoint failed",
            },
            InvalidOperationException or UriFormatException or FormatException => "the request could not be made to this URL",
            IOException => "the connection to the endpoint broke",
            _ => "the attempt failed",
        };
    }

    async Task FinishAsync(DeliveryRow d, EndpointRow? endpoint, string outcome, int? status, DateTimeOffset started, int ms, string? excerpt,
        string? error, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var attempt = d.AttemptCount + 1;
        var next = outcome == DeliveryStatuses.Pending ? now + Jitter(Schedule[attempt - 1]) : now;
        var writes = new SqlBatch();
        writes.Add(
            $"""
            UPDATE webhook_deliveries SET status = @s, attempt_count = @n, next_attempt_at = @next, last_status_code = @code, updated_at = @now,
                {Leases.Release}
            WHERE tenant_id = @t AND id = @id
            """,
            ("s", outcome), ("n", attempt), ("next", next), ("code", status), ("now", now), ("t", d.TenantId), ("id", d.Id));
        writes.Add(
            """
            INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt_number, started_at, duration_ms, status_code, response_excerpt, error)
            VALUES (@t, @id, @d, @n, @start, @ms, @code, @excerpt, @error)
            """,
            ("t", d.TenantId), ("id", ids.New("wha")), ("d", d.Id), ("n", attempt), ("start", started), ("ms", ms), ("code", status),
            ("excerpt", excerpt), ("error", error));
        await using var scope = await db.BeginWriteAsync(ct);
        await writes.ExecuteAsync(scope.Connection, scope.Transaction, ct);
        if (endpoint is not null && endpoint.Enabled) await EndpointHealthAsync(scope, endpoint, outcome, status, now, ct);
        await scope.CommitAsync(ct);
        Telemetry.WebhookAttempt(outcome);
        if (outcome != DeliveryStatuses.Succeeded)
            log.LogInformation("webhook {Delivery} of tenant {Tenant} to {Endpoint}: attempt {Attempt} {Outcome} ({Status} {Error})",
                d.Id, d.TenantId, d.EndpointId, attempt, outcome, status, error);
    }

    async Task EndpointHealthAsync(WriteScope scope, EndpointRow e, string outcome, int? status, DateTimeOffset now, CancellationToken ct)
    {
        var c = scope.Connection;
        var tx = scope.Transaction;
        if (outcome == DeliveryStatuses.Succeeded)
        {
            await c.ExecAsync(tx, "UPDATE webhook_endpoints SET failing_since = NULL WHERE tenant_id = @t AND id = @id AND failing_since IS NOT NULL",
                ("t", e.TenantId), ("id", e.Id));
            return;
        }
        // Attempts run in parallel: the first failure sets failing_since, and only the attempt that actually
        // flips the endpoint to disabled writes the note.
        await c.ExecAsync(tx, "UPDATE webhook_endpoints SET failing_since = @now WHERE tenant_id = @t AND id = @id AND failing_since IS NULL",
            ("now", now), ("t", e.TenantId), ("id", e.Id));
        var since = e.FailingSince ?? now;
        var reason = status == 410 ? "the endpoint answered 410 Gone"
            : now - since >= DisableAfter ? $"every delivery failed for {DisableAfter.TotalDays:0} days"
            : null;
        if (reason is null) return;
        var flipped = await c.ExecAsync(tx,
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = @r, updated_at = @now WHERE tenant_id = @t AND id = @id AND enabled = 1",
            ("r", reason), ("now", now), ("t", e.TenantId), ("id", e.Id));
        if (flipped != 1) return;
        var note = new SqlBatch();
        outbox.Add(note, e.TenantId, EventTypes.EndpointDisabled, null, 1, EndpointDto.From(e with { Enabled = false, DisabledReason = reason }));
        await note.ExecuteAsync(c, tx, ct);
    }

    /// <summary>±10 % so that many deliveries failing together do not retry together.</summary>
    static TimeSpan Jitter(TimeSpan delay) =>
        TimeSpan.FromTicks((long)(delay.Ticks * (0.9m + Random.Shared.Next(0, 2001) / 10000m)));
}
