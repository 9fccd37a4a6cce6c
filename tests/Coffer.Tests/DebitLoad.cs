using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Coffer.Tests;

/// <summary>
/// Debits over real HTTP from many clients, each debit with its own idempotency key. A debit refused with 503 or left
/// unanswered (the node died, the connection broke) is sent again with the same key, to the next node when there are
/// several, until it is answered: what a client following the API's advice does. It notes every acknowledgement, what
/// was in flight, and every refusal, so a test can hold the ledger to exactly what was acknowledged.
/// </summary>
public sealed class DebitLoad(IReadOnlyList<HttpClient> nodes)
{
    public sealed record Ack(string Wallet, string Key, string EntryId, decimal Credits, long At);

    readonly ConcurrentQueue<Ack> _acked = new();
    readonly ConcurrentQueue<string> _refusals = new();
    int _inFlight;

    public IReadOnlyList<Ack> Acked => [.. _acked];
    /// <summary>Every answer that was not a 200: <c>"503 service_unavailable"</c>, <c>"no answer"</c>, ... (never anything else, the tests assert).</summary>
    public IReadOnlyList<string> Refusals => [.. _refusals];
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Acknowledgements that came after <paramref name="since"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public int AckedSince(long since) => _acked.Count(a => a.At > since);

    /// <summary>Seconds from <paramref name="since"/> to the first acknowledgement after it; null while there is none.</summary>
    public double? SecondsToFirstAckAfter(long since)
    {
        var first = _acked.Where(a => a.At > since).Select(a => a.At).DefaultIfEmpty(0).Min();
        return first == 0 ? null : Stopwatch.GetElapsedTime(since, first).TotalSeconds;
    }

    /// <summary>
    /// <paramref name="clients"/> clients, each sending up to <paramref name="perClient"/> debits one after another (or
    /// until <paramref name="stop"/>); <paramref name="pick"/> gives client and sequence number's wallet and amount.
    /// </summary>
    public Task RunAsync(int clients, int perClient, string keyPrefix, Func<int, int, (string Wallet, decimal Credits)> pick,
        CancellationToken stop = default) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (var n = 0; n < perClient && !stop.IsCancellationRequested; n++)
            {
                var (wallet, credits) = pick(client, n);
                await DebitUntilAnsweredAsync(client, wallet, credits, $"{keyPrefix}-{client}-{n}");
            }
        })));

    async Task DebitUntilAnsweredAsync(int client, string wallet, decimal credits, string key)
    {
        var deadline = Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(90)) throw new TimeoutException($"debit {key} was not answered within 90 s");
            var node = nodes[(client + attempt) % nodes.Count];
            Interlocked.Increment(ref _inFlight);
            try
            {
                var (status, body) = await node.Post($"/v1/wallets/{wallet}/debit",
                    new { credits = credits.ToString(CultureInfo.InvariantCulture), idempotency_key = key });
                if (status == 200)
                {
                    _acked.Enqueue(new Ack(wallet, key, body!["wallet_transaction"].S("id"), credits, Stopwatch.GetTimestamp()));
                    return;
                }
                _refusals.Enqueue(Describe(status, body));
                if (status != 503) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                _refusals.Enqueue("no answer");
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
            await Task.Delay(50);
        }
    }

    /// <summary>A refusal as <c>"status code"</c>; a 503 that is not the error envelope says so.</summary>
    static string Describe(int status, JsonNode? body)
    {
        var code = body?["error"]?["code"]?.GetValue<string>();
        var envelope = body?["success"]?.GetValue<bool>() == false && !string.IsNullOrEmpty(body["error"]?["message"]?.GetValue<string>());
        return envelope ? $"{status} {code}" : $"{status} without the error envelope";
    }
}
