using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Coffer.Tests;

/// <summary>
/// An OpenTelemetry collector's receiving end on 127.0.0.1, for both OTLP transports: HTTP/1.1 with protobuf bodies
/// at <c>/v1/traces</c> and <c>/v1/metrics</c>, and gRPC over cleartext HTTP/2 (TraceService and MetricsService
/// Export). It records each export's path and protobuf body and answers success with an empty response.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ConcurrentQueue<(string Path, byte[] Body)> _exports = new();

    public int HttpPort { get; }
    public int GrpcPort { get; }
    public IReadOnlyList<(string Path, byte[] Body)> Exports => [.. _exports];

    OtlpCollector(WebApplication app, int httpPort, int grpcPort) => (_app, HttpPort, GrpcPort) = (app, httpPort, grpcPort);

    public static async Task<OtlpCollector> StartAsync()
    {
        var (httpPort, grpcPort) = (CofferProcess.FreePort(), CofferProcess.FreePort());
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, httpPort, l => l.Protocols = HttpProtocols.Http1);
            // gRPC without TLS: HTTP/2 only, which clients speak with prior knowledge.
            k.Listen(IPAddress.Loopback, grpcPort, l => l.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        var collector = new OtlpCollector(app, httpPort, grpcPort);
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            collector._exports.Enqueue((http.Request.Path.Value ?? "", body.ToArray()));
            if (http.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
            {
                http.Response.ContentType = "application/grpc";
                // One length-prefixed message of zero bytes: an empty Export response, then the status as a trailer.
                await http.Response.Body.WriteAsync(new byte[5]);
                http.Response.AppendTrailer("grpc-status", "0");
            }
            else
            {
                http.Response.ContentType = "application/x-protobuf";
            }
        });
        await app.StartAsync();
        return collector;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
