using System.Globalization;
using System.Net;

namespace Coffer.Bench;

/// <summary>Command-line settings, each checked against a bound so a typo cannot start an unbounded run.</summary>
public sealed record Options
{
    public const string Usage = """
        Coffer.Bench: a debit load generator for a running Coffer.

        Usage:
          Coffer.Bench --url http://127.0.0.1:PORT --key API_KEY [options]

        Options:
          --url URL            Coffer's base address; loopback only (127.0.0.0/8, ::1, localhost)
          --key KEY            API key (sent as x-api-key)
          --clients N          concurrent clients, each with one request in flight      (default 64, 1..1024)
          --seconds N          measured duration                                         (default 20, 1..3600)
          --warmup N           unmeasured warm-up before it, same load                   (default 5, 0..600)
          --wallets N          1 = one hot wallet; more = each debit picks one at random (default 1, 1..100000)
          --mode MODE          debit: POST /v1/wallets/{id}/debit, one debit per request (default)
                               get: GET /v1/wallets/{id}, the read ceiling of the same server
                               balance: --readers clients read GET /v1/wallets/{id}/balance/real-time while
                                 the other clients debit
                               batch: POST /v1/wallets/transactions/batch, --batch-size debits per request
          --batch-size N       debits per batch request                                  (default 1000, 1..8000)
          --prefill-lots N     big wallet: before the load, grant the one wallet N lots of 1,000,000 credits expiring
                               one a day from tomorrow, through the batch API              (default 0, 0..100000)
          --prefill-entries N  big wallet: and debit it N times (1 credit each)            (default 0, 0..10000000)
          --readers N          balance mode: clients reading (the rest debit)            (default half, 1..1024)
          --initial CREDITS    credits loaded into each wallet at creation               (default 1000000000)
          --max-requests N     hard cap on debits sent, warm-up included                 (default 50000000)
          --timeout N          per-request timeout in seconds                            (default 30, 1..600)
          --label TEXT         name of this run in the output                            (default "bench")
          --summary FILE       append one tab-separated result line to FILE
          --server-pid PID     the server's process id: report its CPU per request, and the machine's,
                               over the measured phase (Linux /proc)                     (1..4194304)
          --help               this text

        Exit code: 0 when every wallet's balance matches, 1 on a MISMATCH, 2 on bad arguments, 3 when setup failed.
        """;

    public required Uri Url { get; init; }
    public required string Key { get; init; }
    public int Clients { get; init; } = 64;
    public int Seconds { get; init; } = 20;
    public int Warmup { get; init; } = 5;
    public int Wallets { get; init; } = 1;
    public decimal Initial { get; init; } = 1_000_000_000m;
    public long MaxRequests { get; init; } = 50_000_000;
    public int TimeoutSeconds { get; init; } = 30;
    public string Label { get; init; } = "bench";
    public string? SummaryFile { get; init; }
    public int? ServerPid { get; init; }
    public string Mode { get; init; } = "debit";
    public int BatchSize { get; init; } = 1000;
    public int Readers { get; init; }
    public int PrefillLots { get; init; }
    public int PrefillEntries { get; init; }

    public static readonly string[] Modes = ["debit", "get", "balance", "batch"];

    /// <summary>Parses the arguments; returns null and writes why to <paramref name="error"/> when they are unusable.</summary>
    public static Options? Parse(string[] args, out string? error)
    {
        error = null;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                error = $"unexpected argument '{a}'";
                return null;
            }
            var eq = a.IndexOf('=');
            if (eq > 0)
            {
                values[a[2..eq]] = a[(eq + 1)..];
                continue;
            }
            if (i + 1 >= args.Length)
            {
                error = $"{a} needs a value";
                return null;
            }
            values[a[2..]] = args[++i];
        }

        string[] known = ["url", "key", "clients", "seconds", "warmup", "wallets", "initial", "max-requests", "timeout", "label", "summary", "server-pid", "mode", "batch-size", "readers", "prefill-lots", "prefill-entries"];
        foreach (var name in values.Keys)
            if (!known.Contains(name))
            {
                error = $"unknown option --{name}";
                return null;
            }

        if (!values.TryGetValue("url", out var urlText) || !Uri.TryCreate(urlText, UriKind.Absolute, out var url) ||
            url.Scheme is not ("http" or "https"))
        {
            error = "--url must be an absolute http(s) address";
            return null;
        }
        if (!IsLoopback(url))
        {
            error = $"--url must point at a loopback address, not {url.Host}";
            return null;
        }
        if (!values.TryGetValue("key", out var key) || string.IsNullOrWhiteSpace(key))
        {
            error = "--key is required";
            return null;
        }

        var problems = new List<string>();
        int Int(string name, int fallback, int min, int max)
        {
            if (!values.TryGetValue(name, out var text)) return fallback;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
            problems.Add($"--{name} must be a whole number from {min} to {max}");
            return fallback;
        }

        var initial = 1_000_000_000m;
        if (values.TryGetValue("initial", out var initialText) &&
            (!decimal.TryParse(initialText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out initial) ||
             initial < 1 || initial > 1_000_000_000_000_000m))
            problems.Add("--initial must be a number of credits from 1 to 10^15");

        long maxRequests = 50_000_000;
        if (values.TryGetValue("max-requests", out var maxText) &&
            (!long.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out maxRequests) || maxRequests < 1 || maxRequests > 1_000_000_000))
            problems.Add("--max-requests must be a whole number from 1 to 10^9");

        var mode = values.GetValueOrDefault("mode", "debit");
        if (!Modes.Contains(mode)) problems.Add($"--mode must be one of {string.Join(", ", Modes)}");
        var clients = Int("clients", 64, 1, 1024);
        var options = new Options
        {
            Mode = mode,
            BatchSize = Int("batch-size", 1000, 1, 8000),
            PrefillLots = Int("prefill-lots", 0, 0, 100_000),
            PrefillEntries = Int("prefill-entries", 0, 0, 10_000_000),
            Readers = mode == "balance" ? Int("readers", Math.Max(1, clients / 2), 1, 1024) : 0,
            Url = new Uri(url.GetLeftPart(UriPartial.Authority) + "/"),
            Key = key.Trim(),
            Clients = clients,
            Seconds = Int("seconds", 20, 1, 3600),
            Warmup = Int("warmup", 5, 0, 600),
            Wallets = Int("wallets", 1, 1, 100_000),
            TimeoutSeconds = Int("timeout", 30, 1, 600),
            Initial = initial,
            MaxRequests = maxRequests,
            Label = values.GetValueOrDefault("label", "bench"),
            SummaryFile = values.GetValueOrDefault("summary"),
            // 4194304 is the kernel's largest possible pid_max (PID_MAX_LIMIT on 64-bit).
            ServerPid = values.ContainsKey("server-pid") ? Int("server-pid", 0, 1, 4_194_304) : null,
        };
        if ((options.PrefillLots > 0 || options.PrefillEntries > 0) && options.Wallets != 1)
            problems.Add("--prefill-lots and --prefill-entries fill the one wallet of --wallets 1");
        if (options.Mode == "balance" && options.Readers >= options.Clients)
            problems.Add("--readers must be fewer than --clients: the other clients debit");
        if (problems.Count > 0)
        {
            error = string.Join("; ", problems);
            return null;
        }
        return options;
    }

    static bool IsLoopback(Uri url)
    {
        if (url.IsLoopback) return true;
        var host = url.Host.Trim('[', ']');
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }
}
