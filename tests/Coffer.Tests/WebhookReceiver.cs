using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
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
/// one repeats), can stall to force a time-out, can answer with a content type of its choosing or break off
/// mid-body, and records every request.
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
    /// <summary>The Content-Type of every answer, as sent (a bogus charset included).</summary>
    public string ContentType { get; set; } = "text/plain; charset=utf-8";
    /// <summary>When set, every answer promises a body and breaks the connection partway through it.</summary>
    public bool BreakMidBody { get; set; }

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
            http.Response.StatusCode = status;
            // Written by hand: the framework's own text results would refuse to encode for a bogus charset.
            http.Response.Headers.ContentType = receiver.ContentType;
            if (receiver.BreakMidBody)
            {
                http.Response.ContentLength = 1000;
                await http.Response.WriteAsync("the first few bytes");
                await http.Response.Body.FlushAsync();
                // Long enough for the headers to be read, so the break falls in the body.
                await Task.Delay(300);
                http.Abort();
                return;
            }
            await http.Response.WriteAsync("ok " + status);
        });
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>
/// An HTTP receiver on 127.0.0.1 written on a bare socket, that answers 200 with a body of <see cref="BodyLength"/>
/// bytes. Its count of bytes sent is what the kernel accepted, so it shows how much of the body the caller read
/// before it hung up.
/// </summary>
public sealed class HugeBodyReceiver : IAsyncDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource _stop = new();
    readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    long _sent;

    public long BodyLength { get; }
    public string Url { get; }
    public long BytesSent => Interlocked.Read(ref _sent);
    /// <summary>Completes when the receiver finished its body or the caller hung up on it.</summary>
    public Task Ended => _ended.Task;

    public HugeBodyReceiver(long bodyLength)
    {
        BodyLength = bodyLength;
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/hook";
        _ = ServeAsync();
    }

    async Task ServeAsync()
    {
        try
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            var stream = client.GetStream();
            var seen = new StringBuilder();
            var buffer = new byte[4096];
            while (!seen.ToString().Contains("\r\n\r\n"))
            {
                var n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0) return;
                seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {BodyLength}\r\n\r\n"), _stop.Token);
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'x');
            for (var left = BodyLength; left > 0; left -= chunk.Length)
            {
                var n = (int)Math.Min(chunk.Length, left);
                await stream.WriteAsync(chunk.AsMemory(0, n), _stop.Token);
                Interlocked.Add(ref _sent, n);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally { _ended.TrySetResult(); }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
    }
}
