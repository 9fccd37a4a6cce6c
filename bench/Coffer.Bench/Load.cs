using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Coffer.Bench;

public sealed class SetupException(string message) : Exception(message);

/// <summary>What one phase did. <c>Requests</c> counts operations: debits (a batch of 1,000 counts 1,000), or reads in get mode;
/// <c>LatenciesMs</c> has one figure per HTTP request. In balance mode <c>Reads</c> holds the readers' figures.</summary>
public sealed record PhaseResult(long Requests, long Succeeded, TimeSpan Elapsed, double[] LatenciesMs, Dictionary<string, long> Errors,
    PhaseResult? Reads = null);

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
public sealed class Load(HttpClient http, Options options, string[] wallets, string runId, decimal prefilled = 0m)
{
    const int SetupParallelism = 16;
    const int CheckParallelism = 16;
    const int MaxSampleLength = 300;

    readonly long[] _debited = new long[wallets.Length];
    readonly List<(int Wallet, string Key)[]> _uncertain = [];
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

    public const decimal PrefillLotCredits = 1_000_000m;

    /// <summary>
    /// Gives the one wallet a long past through the batch API, 8,000 operations at a time: debits (spent from its initial
    /// credits), then lots expiring one a day. Debits come first because each one is planned against every open lot:
    /// with the lots first the prefill itself would cost what the big-wallet run measures, a million times over.
    /// Returns the credits this added to the wallet (lots granted less credits debited).
    /// </summary>
    public static async Task<decimal> PrefillAsync(HttpClient http, Options options, string wallet, string runId)
    {
        var tomorrow = DateTimeOffset.UtcNow.Date.AddDays(1);
        var lots = Enumerable.Range(0, options.PrefillLots).Select(i =>
            $$"""{"type":"top_up","wallet_id":"{{wallet}}","credits":"{{PrefillLotCredits}}","transaction_reason":"FREE_CREDIT_GRANT","expiry_date_utc":"{{tomorrow.AddDays(i + 1):yyyy-MM-ddTHH:mm:ssZ}}","idempotency_key":"prefill-{{runId}}-lot-{{i}}"}""");
        var debits = Enumerable.Range(0, options.PrefillEntries).Select(i =>
            $$"""{"type":"debit","wallet_id":"{{wallet}}","credits":"1","idempotency_key":"prefill-{{runId}}-debit-{{i}}"}""");
        // A few requests at a time: each is one transaction on the one wallet, so more would only queue.
        await Parallel.ForEachAsync(debits.Chunk(8000), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, _) => await PostBatchAsync(http, chunk));
        foreach (var chunk in lots.Chunk(8000)) await PostBatchAsync(http, chunk);
        return options.PrefillLots * PrefillLotCredits - options.PrefillEntries;
    }

    static async Task PostBatchAsync(HttpClient http, string[] operations)
    {
        using var response = await http.PostAsync("v1/wallets/transactions/batch",
            new StringContent($$"""{"operations":[{{string.Join(',', operations)}}],"atomic":true}""", Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode || body.Contains("\"refused\"", StringComparison.Ordinal))
            throw new SetupException($"prefill batch: HTTP {(int)response.StatusCode} {Truncate(body)}");
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
        var readers = results.Where(r => r.Reader).ToList();
        return Sum(results.Where(r => !r.Reader).ToList(), elapsed) with { Reads = readers.Count == 0 ? null : Sum(readers, elapsed) };
    }

    static PhaseResult Sum(List<ClientStats> results, TimeSpan elapsed)
    {
        var errors = new Dictionary<string, long>();
        foreach (var r in results)
            foreach (var (kind, count) in r.Errors)
                errors[kind] = errors.GetValueOrDefault(kind) + count;
        var latencies = results.SelectMany(r => r.Latencies).Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();
        return new PhaseResult(results.Sum(r => r.Requests), results.Sum(r => r.Succeeded), elapsed, latencies, errors);
    }

    sealed class ClientStats(bool reader)
    {
        public readonly bool Reader = reader;
        public long Requests;
        public long Succeeded;
        public readonly List<long> Latencies = [];
        public readonly Dictionary<string, long> Errors = [];
    }

    async Task<ClientStats> ClientAsync(int phase, int client, Stopwatch clock, TimeSpan duration, bool measured)
    {
        var reader = options.Mode == "get" || (options.Mode == "balance" && client < options.Readers);
        var stats = new ClientStats(reader);
        var random = new Random(HashCode.Combine(runId, phase, client));
        for (long seq = 0; clock.Elapsed < duration; seq++)
        {
            var size = options.Mode == "batch" && !reader ? options.BatchSize : 1;
            if (Interlocked.Add(ref _sent, size) > options.MaxRequests) break;
            var started = Stopwatch.GetTimestamp();
            Outcome outcome;
            if (reader)
                outcome = await ReadAsync(random.Next(wallets.Length), options.Mode == "get" ? "" : "/balance/real-time");
            else if (options.Mode == "batch")
                outcome = await BatchAsync(Enumerable.Range(0, size)
                    .Select(j => (wallets.Length == 1 ? 0 : random.Next(wallets.Length), $"bench-{runId}-{phase}-{client}-{seq}-{j}")).ToArray());
            else
            {
                var wallet = wallets.Length == 1 ? 0 : random.Next(wallets.Length);
                var key = $"bench-{runId}-{phase}-{client}-{seq}";
                outcome = await DebitAsync(wallet, key);
                if (outcome.Uncertain)
                    lock (_uncertain) _uncertain.Add([(wallet, key)]);
            }
            var took = Stopwatch.GetTimestamp() - started;

            stats.Requests += size;
            stats.Succeeded += outcome.Applied;
            if (measured) stats.Latencies.Add(took);
            if (outcome.Kind != "200") stats.Errors[outcome.Kind] = stats.Errors.GetValueOrDefault(outcome.Kind) + 1;
        }
        return stats;
    }

    /// <summary>How one HTTP request ended: operations applied, whether some may have been applied without an answer, and its kind.</summary>
    readonly record struct Outcome(long Applied, bool Uncertain, string Kind);

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
                return new Outcome(1, false, "200");
            }
            var kind = $"HTTP {status}";
            Remember(kind, body);
            // A 4xx is a refusal: nothing was written. A 5xx may have failed after the commit.
            return new Outcome(0, status >= 500, kind);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            var kind = e is TaskCanceledException ? "timeout" : e.GetType().Name;
            Remember(kind, e.Message);
            return new Outcome(0, true, kind);
        }
    }

    async Task<Outcome> ReadAsync(int wallet, string suffix)
    {
        try
        {
            using var response = await http.GetAsync($"v1/wallets/{wallets[wallet]}{suffix}");
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK) return new Outcome(1, false, "200");
            var kind = $"HTTP {(int)response.StatusCode}";
            Remember(kind, body);
            return new Outcome(0, false, kind);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            var kind = e is TaskCanceledException ? "timeout" : e.GetType().Name;
            Remember(kind, e.Message);
            return new Outcome(0, false, kind);
        }
    }

    /// <summary>
    /// One batch of one-credit debits. Each operation answers for itself: applied and replayed (a retried batch) both mean
    /// the debit is in; any other refusal means it is not. A batch without a definite answer is retried whole, with its keys.
    /// </summary>
    async Task<Outcome> BatchAsync((int Wallet, string Key)[] ops, bool retry = false)
    {
        var json = new StringBuilder("""{"operations":[""");
        for (var i = 0; i < ops.Length; i++)
        {
            if (i > 0) json.Append(',');
            json.Append($$"""{"type":"debit","wallet_id":"{{wallets[ops[i].Wallet]}}","credits":"1","idempotency_key":"{{ops[i].Key}}"}""");
        }
        json.Append("]}");
        try
        {
            using var content = new StringContent(json.ToString(), Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("v1/wallets/transactions/batch", content);
            var body = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            if (status != 200)
            {
                var kind = $"HTTP {status}";
                Remember(kind, body);
                if (status >= 500 && !retry) lock (_uncertain) _uncertain.Add(ops);
                return new Outcome(0, status >= 500, kind);
            }
            using var doc = JsonDocument.Parse(body);
            long applied = 0;
            string? refused = null;
            var results = doc.RootElement.GetProperty("results");
            for (var i = 0; i < ops.Length; i++)
            {
                var status_ = results[i].GetProperty("status").GetString();
                if (status_ == "replayed" && !retry) Interlocked.Increment(ref _replays);
                if (status_ is "applied" or "replayed")
                {
                    applied++;
                    Interlocked.Increment(ref _debited[ops[i].Wallet]);
                }
                else refused ??= results[i].GetProperty("error").GetProperty("code").GetString();
            }
            if (refused is null) return new Outcome(applied, false, "200");
            Remember($"refused: {refused}", body);
            return new Outcome(applied, false, $"refused: {refused}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            var kind = e is TaskCanceledException ? "timeout" : e.GetType().Name;
            Remember(kind, e.Message);
            if (!retry) lock (_uncertain) _uncertain.Add(ops);
            return new Outcome(0, true, kind);
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
        (int Wallet, string Key)[][] pending;
        lock (_uncertain) pending = [.. _uncertain];
        int applied = 0, unresolved = 0;
        await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = CheckParallelism }, async (p, _) =>
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var outcome = options.Mode == "batch" ? await BatchAsync(p, retry: true) : await DebitAsync(p[0].Wallet, p[0].Key);
                if (!outcome.Uncertain)
                {
                    Interlocked.Add(ref applied, (int)outcome.Applied);
                    return;
                }
                await Task.Delay(200 * (attempt + 1));
            }
            Interlocked.Add(ref unresolved, p.Length);
        });
        return new Reconciliation(pending.Sum(p => p.Length), applied, unresolved);
    }

    /// <summary>Every wallet must hold its initial credits less the debits acknowledged with a 200.</summary>
    public async Task<Check> CheckAsync()
    {
        var mismatches = new List<string>();
        await Parallel.ForAsync(0, wallets.Length, new ParallelOptions { MaxDegreeOfParallelism = CheckParallelism }, async (i, ct) =>
        {
            var expected = options.Initial + (i == 0 ? prefilled : 0m) - Interlocked.Read(ref _debited[i]);
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
