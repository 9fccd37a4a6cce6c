using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Wallets;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Coffer.Hosting;

/// <summary>
/// Coffer's own metrics and traces (OpenTelemetry), in one place: the instruments, the trace source of the write path,
/// and how they leave the process. Metrics are scraped at <c>/metrics</c> (Prometheus text) when
/// <c>COFFER_METRICS_TOKEN</c> is set, and only with that token; metrics and traces go to an OpenTelemetry collector
/// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. With neither, nothing is collected.
/// </summary>
public static class Telemetry
{
    public const string Name = "Coffer";
    public const string MetricsPath = "/metrics";

    public static readonly ActivitySource Source = new(Name);
    static readonly Meter Meter = new(Name);

    static readonly Counter<long> WalletWrites = Meter.CreateCounter<long>("coffer.wallet.writes", "{write}",
        "wallet writes (top-ups, debits, holds, …) by operation and outcome, counted once answered");
    static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("coffer.group_commit.batch_size", "{write}",
        "wallet writes that shared one transaction and one durable commit");
    // Durations in whole milliseconds: the source keeps binary floating point out altogether (TidyTests), and the
    // default buckets (5, 10, 25 … 10,000) suit milliseconds.
    static readonly Histogram<long> BatchDuration = Meter.CreateHistogram<long>("coffer.group_commit.duration", "ms",
        "time from a group commit's start to its durable commit");
    static readonly Histogram<long> OutboxLag = Meter.CreateHistogram<long>("coffer.outbox.lag", "ms",
        "how long an event waited in the outbox before it was fanned out to its webhook deliveries");
    static readonly Counter<long> WebhookAttempts = Meter.CreateCounter<long>("coffer.webhook.attempts", "{attempt}",
        "webhook delivery attempts by result");
    static readonly Counter<long> AutoTopUps = Meter.CreateCounter<long>("coffer.auto_topup.attempts", "{attempt}",
        "automatic top-up attempts by the status they ended in");
    static readonly Counter<long> LeaseTakeovers = Meter.CreateCounter<long>("coffer.lease.takeovers", "{row}",
        "queued rows taken over after another holder's lease ran out, by queue");
    static long _reconcilerBacklog;
    static readonly ObservableGauge<long> Backlog = Meter.CreateObservableGauge("coffer.reconciler.backlog",
        () => Interlocked.Read(ref _reconcilerBacklog), "{row}", "payments and refunds in flight past the grace period, as the reconciler last counted them");

    /// <summary>Whether anything collects these: the queries that only feed them are skipped when nothing does.</summary>
    public static bool CountsTakeovers => LeaseTakeovers.Enabled;
    public static bool WatchesReconcilerBacklog => Backlog.Enabled;

    /// <summary>An answered wallet write; <paramref name="committed"/> false: its batch was rolled back as a whole (atomic).</summary>
    public static void WalletWrite(string operation, WriteResult result, bool committed = true) =>
        WalletWrites.Add(1, new("operation", operation), new("outcome", result switch
        {
            WriteResult.Applied when !committed => "rolled_back",
            WriteResult.Applied => "applied",
            WriteResult.Replayed => "replayed",
            WriteResult.NoChange => "no_change",
            WriteResult.Refused { Why: WalletRefusal.OutcomeUnknown } => "outcome_unknown",
            _ => "refused",
        }));

    public static void GroupCommitted(int writes, TimeSpan took)
    {
        BatchSize.Record(writes);
        BatchDuration.Record((long)took.TotalMilliseconds);
    }

    public static void FannedOut(TimeSpan waited) => OutboxLag.Record(Math.Max(0L, (long)waited.TotalMilliseconds));

    public static void WebhookAttempt(string result) => WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", result));

    public static void AutoTopUp(string status) => AutoTopUps.Add(1, new KeyValuePair<string, object?>("status", status));

    public static void TakenOver(string queue, long rows)
    {
        if (rows > 0) LeaseTakeovers.Add(rows, new KeyValuePair<string, object?>("queue", queue));
    }

    public static void ReconcilerBacklog(long rows) => Interlocked.Exchange(ref _reconcilerBacklog, rows);

    public static void AddCofferTelemetry(this IServiceCollection services, CofferOptions options)
    {
        if (options.MetricsToken is null && options.OtlpEndpoint is null) return;
        var otel = services.AddOpenTelemetry();
        otel.WithMetrics(m =>
        {
            m.AddMeter(Name).AddAspNetCoreInstrumentation();
            // Each scrape collects afresh: only the holder of the token scrapes, so there is no storm to cache against.
            if (options.MetricsToken is not null) m.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _PROTOCOL, _HEADERS…) itself: set in code, the endpoint
            // would be taken as the whole URL, and over http/protobuf both signals would go to "/" instead of /v1/….
            if (options.OtlpEndpoint is not null) m.AddOtlpExporter();
        });
        if (options.OtlpEndpoint is not null)
            otel.WithTracing(t => t.AddSource(Name).AddAspNetCoreInstrumentation().AddOtlpExporter());
    }

    /// <summary>The scrape endpoint, when a token is set: anything without <c>Authorization: Bearer &lt;token&gt;</c> gets 401.</summary>
    public static void MapMetrics(this WebApplication app, CofferOptions options)
    {
        if (options.MetricsToken is not { } token) return;
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        app.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (http, next) =>
        {
            var given = http.Request.Headers.Authorization.ToString();
            var presented = given.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? given["Bearer ".Length..].Trim() : "";
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), expected))
            {
                await new ApiError(401, ErrorCodes.Unauthorized, "metrics need Authorization: Bearer <COFFER_METRICS_TOKEN>").ExecuteAsync(http);
                return;
            }
            await next(http);
        }), optionsName: null);
    }
}
