using System.Text;

namespace Coffer.Tests;

/// <summary>
/// A Coffer process set up the way an operator would (the standard OTEL_* variables only) exports its traces and
/// metrics to a collector, over gRPC (the default) and over HTTP with protobuf.
/// </summary>
public sealed class OtlpExportTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("coffer-otlp-").FullName;
    readonly List<System.Diagnostics.Process> _processes = [];

    [Theory]
    [InlineData("grpc")]
    [InlineData("http/protobuf")]
    public async Task TracesAndMetricsReachTheCollector(string protocol)
    {
        await using var collector = await OtlpCollector.StartAsync();
        var key = "sk_otlp_" + Guid.NewGuid().ToString("N");
        var port = CofferProcess.FreePort();
        var endpoint = $"http://127.0.0.1:{(protocol == "grpc" ? collector.GrpcPort : collector.HttpPort)}";
        var server = CofferProcess.Start($"--urls http://127.0.0.1:{port}", new Dictionary<string, string>
        {
            ["COFFER_DATABASE"] = Path.Combine(_dir, $"{protocol.Replace('/', '-')}.db"), ["COFFER_API_KEY"] = key, ["COFFER_WORKERS"] = "off",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "300", ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        _processes.Add(server);
        using var api = await CofferProcess.ApiWhenReadyAsync(server, port, key);
        var customer = (await api.Post("/v1/customers", new { external_id = "otlp-1", name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", initial_credits_to_load = "10" })).Ok().S("id");
        (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "2", idempotency_key = "otlp-debit" })).Ok();

        // Protobuf keeps names as UTF-8, so the span and instrument names can be read out of the exported bytes.
        var (traces, metrics) = protocol == "grpc"
            ? ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
            : ("/v1/traces", "/v1/metrics");
        bool Exported(string path, string name) =>
            collector.Exports.Any(e => e.Path == path && Encoding.UTF8.GetString(e.Body).Contains(name, StringComparison.Ordinal));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        // The request's span ends after the group commit's, so it may come in a later export: wait for all three.
        while (!(Exported(traces, "wallet.group_commit") && Exported(traces, "/v1/wallets/{id}/debit") && Exported(metrics, "coffer.wallet.writes"))
               && waited.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(100);
        Assert.True(Exported(traces, "wallet.group_commit"), $"no trace with the group commit at {traces}: {string.Join(", ", collector.Exports.Select(e => e.Path).Distinct())}");
        Assert.True(Exported(traces, "/v1/wallets/{id}/debit"), "no span of the debit request's route");
        Assert.True(Exported(metrics, "coffer.wallet.writes"), $"no wallet-writes metric at {metrics}: {string.Join(", ", collector.Exports.Select(e => e.Path).Distinct())}");
    }

    // IDisposable: this xUnit never calls a test class's IAsyncDisposable, and the servers outlived the run.
    public void Dispose()
    {
        CofferProcess.Stop(_processes);
        Directory.Delete(_dir, recursive: true);
    }
}
