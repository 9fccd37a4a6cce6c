using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Coffer.Bench;

public sealed class SetupException(string message) : Exception(message);

public sealed record PhaseResult(long Requests, long Succeeded, TimeSpan Elapsed, double[] LatenciesMs, Dictionary<string, long> Errors);

public sealed record Reconciliation(int Uncertain, int Applied, int Unresolved);

public sealed record Check(int Wallets, decimal Debited, List<string> Mismatches)
{
    public bool Ok => Mismatches.Count == 0;
}

/// <summary>
/// The clients. Each keeps one debit in flight; every debit carries a fresh idempotency key, so a request
/// that fails without a definite answer (transport error, timeout, 5xx) can be retried afterwards with the
/// same key to learn whether it was applied, which makes the balance check exact.
/// </summary>
public sealed class Load(HttpClient http, Options options, string[] wallets, string runId)
{
    const int SetupParallelism = 16;
    const int CheckParallelism = 16;
    const int MaxSampleLength = 300;

    readonly long[] _debited = new long[wallets.Length];
    readonly List<(int Wallet, string Key)> _uncertain = [];
    readonly Dictionary<string, string> _samples = [];
    long _sent;
    long _replays;
    int _phase;

    public long Replays => Interlocked.Read(ref _replays);

    public static HttpClient CreateClient(Options options)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Clients + SetupParallelism,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        var client = new HttpClient(handler) { BaseAddress = options.Url, Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds) };
        client.DefaultRequestHeaders.Add("x-api-key", options.Key);
        return client;
    }

    /// <summary>One customer and one wallet per slot, created a few at a time.</summary>
    public static async Task<string[]> SetupAsync(HttpClient http, Options options, string runId)
    {
        var ids = new string[options.Wallets];
        var initial = options.Initial.ToString(CultureInfo.InvariantCulture);
        await Parallel.ForAsync(0, options.Wallets, new ParallelOptions { MaxDegreeOfParallelism = SetupParallelism }, async (i, ct) =>
        {
            var customer = await PostForIdAsync(http, "v1/customers",
                JsonSerializer.Serialize(new Dictionary<string, string> { ["external_id"] = $"bench-{runId}-{i}", ["name"] = $"Bench customer {i}" }), ct);
            ids[i] = await PostForIdAsync(http, "v1/wallets",
                JsonSerializer.Serialize(new Dictionary<string, string>
                {
                    ["customer_id"] = customer, ["currency"] = "usd", ["initial_credits_to_load"] = initial,
                }), ct);
        });
        return ids;
    }

    static async Task<string> PostForIdAsync(HttpClient http, string path, string json, CancellationToken ct)
    {
        HttpResponseMessage response;
        string body;
        try
        {
            response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), ct);
            body = await response.Content.ReadAsStringAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new SetupException($"POST /{path}: {e.Message}");
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode) throw new SetupException($"POST /{path}: HTTP {(int)response.StatusCode} {Truncate(body)}");
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("id").GetString() ?? throw new SetupException($"POST /{path}: no id in {Truncate(body)}");
        }
    }

    public async Task<PhaseResult> RunAsync(TimeSpan duration, bool measured)
    {
        var phase = Interlocked.Increment(ref _phase);
        var clock = Stopwatch.StartNew();
        var clients = Enumerable.Range(0, options.Clients)
            .Select(c => Task.Run(() => ClientAsync(phase, c, clock, duration, measured)))
            .ToArray();
        var results = await Task.WhenAll(clients);
        var elapsed = clock.Elapsed;

        var errors = new Dictionary<string, long>();
        foreach (var r in results)
            foreach (var (kind, count) in r.Errors)
                errors[kind] = errors.GetValueOrDefault(kind) + count;
        var latencies = results.SelectMany(r => r.Latencies).Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();
        return new PhaseResult(results.Sum(r => r.Requests), results.Sum(r => r.Succeeded), elapsed, latencies, errors);
    }

    sealed class ClientStats
    {
        public long Requests;
        public long Succeeded;
        public readonly List<long> Latencies = [];
        public readonly Dictionary<string, long> Errors = [];
    }

    async Task<ClientStats> ClientAsync(int phase, int client, Stopwatch clock, TimeSpan duration, bool measured)
    {
        var stats = new ClientStats();
        var random = new Random(HashCode.Combine(runId, phase, client));
        for (long seq = 0; clock.Elapsed < duration; seq++)
        {
            if (Interlocked.Increment(ref _sent) > options.MaxRequests) break;
            var wallet = wallets.Length == 1 ? 0 : random.Next(wallets.Length);
            var key = $"bench-{runId}-{phase}-{client}-{seq}";
            var started = Stopwatch.GetTimestamp();
            var outcome = await DebitAsync(wallet, key);
            var took = Stopwatch.GetTimestamp() - started;

            stats.Requests++;
            if (measured) stats.Latencies.Add(took);
            if (outcome.Applied)
            {
                stats.Succeeded++;
                continue;
            }
            stats.Errors[outcome.Kind] = stats.Errors.GetValueOrDefault(outcome.Kind) + 1;
            if (outcome.Uncertain)
                lock (_uncertain) _uncertain.Add((wallet, key));
        }
        return stats;
    }

    readonly record struct Outcome(bool Applied, bool Uncertain, string Kind);

    async Task<Outcome> DebitAsync(int wallet, string key)
    {
        var json = $$"""{"credits":"1","idempotency_key":"{{key}}"}""";
        try
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync($"v1/wallets/{wallets[wallet]}/debit", content);
            var body = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            if (status == 200)
            {
                if (response.Headers.Contains("Idempotent-Replayed")) Interlocked.Increment(ref _replays);
                Interlocked.Increment(ref _debited[wallet]);
                return new Outcome(true, false, "200");
            }
            var kind = $"HTTP {status}";
            Remember(kind, body);
            // A 4xx is a refusal: nothing was written. A 5xx may have failed after the commit.
            return new Outcome(false, status >= 500, kind);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            var kind = e is TaskCanceledException ? "timeout" : e.GetType().Name;
            Remember(kind, e.Message);
            return new Outcome(false, true, kind);
        }
    }

    void Remember(string kind, string text)
    {
        lock (_samples) _samples.TryAdd(kind, Truncate(text.ReplaceLineEndings(" ")));
    }

    public string Sample(string kind)
    {
        lock (_samples) return _samples.GetValueOrDefault(kind, "");
    }

    /// <summary>
    /// Retries each request that ended without a definite answer, with its own key: a replay or a fresh
    /// success both mean the debit is applied exactly once; a refusal means it never was.
    /// </summary>
    public async Task<Reconciliation> ReconcileAsync()
    {
        (int Wallet, string Key)[] pending;
        lock (_uncertain) pending = [.. _uncertain];
        int applied = 0, unresolved = 0;
        await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = CheckParallelism }, async (p, _) =>
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var outcome = await DebitAsync(p.Wallet, p.Key);
                if (outcome.Applied)
                {
                    Interlocked.Increment(ref applied);
                    return;
                }
                if (!outcome.Uncertain) return;
                await Task.Delay(200 * (attempt + 1));
            }
            Interlocked.Increment(ref unresolved);
        });
        return new Reconciliation(pending.Length, applied, unresolved);
    }

    /// <summary>Every wallet must hold its initial credits less the debits acknowledged with a 200.</summary>
    public async Task<Check> CheckAsync()
    {
        var mismatches = new List<string>();
        await Parallel.ForAsync(0, wallets.Length, new ParallelOptions { MaxDegreeOfParallelism = CheckParallelism }, async (i, ct) =>
        {
            var expected = options.Initial - Interlocked.Read(ref _debited[i]);
            string problem;
            try
            {
                using var response = await http.GetAsync($"v1/wallets/{wallets[i]}", ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if (response.StatusCode != HttpStatusCode.OK)
                    problem = $"GET wallet: HTTP {(int)response.StatusCode} {Truncate(body)}";
                else
                {
                    using var doc = JsonDocument.Parse(body);
                    var text = doc.RootElement.GetProperty("credit_balance").GetString();
                    if (decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var actual) &&
                        actual == expected)
                        return;
                    problem = $"credit_balance {text}, expected {expected}";
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
            {
                problem = $"GET wallet: {e.Message}";
            }
            lock (mismatches) mismatches.Add($"{wallets[i]}: {problem}");
        });
        return new Check(wallets.Length, _debited.Sum(), mismatches);
    }

    static string Truncate(string s) => s.Length <= MaxSampleLength ? s : s[..MaxSampleLength] + "…";
}
