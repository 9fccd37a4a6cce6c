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

        string[] known = ["url", "key", "clients", "seconds", "warmup", "wallets", "initial", "max-requests", "timeout", "label", "summary", "server-pid"];
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

        var options = new Options
        {
            Url = new Uri(url.GetLeftPart(UriPartial.Authority) + "/"),
            Key = key.Trim(),
            Clients = Int("clients", 64, 1, 1024),
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
