using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Coffer.Tests;

public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body);

/// <summary>
/// A real HTTP receiver on 127.0.0.1 for outgoing webhooks. It answers from a script of statuses (the last
/// one repeats), can stall to force a time-out, and records every request.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    readonly ConcurrentQueue<int> _script = new();
    int _last = 200;

    public string Url { get; private set; } = "";
    public TimeSpan Stall { get; set; } = TimeSpan.Zero;
    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    WebhookReceiver(WebApplication app) => _app = app;

    public void Answer(params int[] statuses)
    {
        foreach (var s in statuses) _script.Enqueue(s);
    }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            receiver._received.Enqueue(new ReceivedWebhook(http.Request.Headers["webhook-id"].ToString(),
                http.Request.Headers["webhook-timestamp"].ToString(), http.Request.Headers["webhook-signature"].ToString(), body));
            if (receiver.Stall > TimeSpan.Zero) await Task.Delay(receiver.Stall);
            var status = receiver._script.TryDequeue(out var next) ? receiver._last = next : receiver._last;
            return Results.Text("ok " + status, statusCode: status);
        });
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
