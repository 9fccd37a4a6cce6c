using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Coffer.Hosting;

/// <summary>
/// Every <c>COFFER_*</c> setting, read once from configuration at start-up and checked there: a value that is not
/// what the setting takes stops the start with a message naming the setting, instead of being clamped or ignored.
/// Nothing else reads these settings; the rest of the app takes this object from the container.
/// </summary>
public sealed class CofferOptions
{
    public string? Database { get; init; }
    public string? MasterKey { get; init; }
    public string? ApiKey { get; init; }
    public string? AdminEmail { get; init; }
    public string? AdminPassword { get; init; }
    public bool Workers { get; init; } = true;
    public bool GroupCommit { get; init; } = true;
    public TimeSpan WebhookPoll { get; init; } = TimeSpan.FromMilliseconds(1000);
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromMilliseconds(10_000);
    public TimeSpan AutoTopUpPoll { get; init; } = TimeSpan.FromMilliseconds(1000);
    public TimeSpan SchedulePoll { get; init; } = TimeSpan.FromMilliseconds(5000);
    public TimeSpan AlertEmailPoll { get; init; } = TimeSpan.FromMilliseconds(5000);
    public TimeSpan AlertEmailTimeout { get; init; } = TimeSpan.FromMilliseconds(20_000);
    public TimeSpan ReconcileGrace { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ReconcilePoll { get; init; } = TimeSpan.FromMilliseconds(5000);
    public TimeSpan SandboxSlowCard { get; init; } = TimeSpan.FromMilliseconds(3000);
    /// <summary>Without a trailing slash; null: links are built from the request (see <see cref="Common.PublicUrl"/>).</summary>
    public string? PublicUrl { get; init; }
    public IReadOnlyList<IPNetwork> TrustedProxies { get; init; } = [];
    public bool AllowStripeApiBase { get; init; }
    public bool WebhooksAllowPrivate { get; init; }
    public bool SmtpAllowPrivate { get; init; }
    public bool SmtpAllowPlaintext { get; init; }
    /// <summary>Set: metrics are served at /metrics to a scraper that presents it as a bearer token (<see cref="Telemetry"/>).</summary>
    public string? MetricsToken { get; init; }
    /// <summary>Set: metrics and traces are exported to this OpenTelemetry collector (OTLP).</summary>
    public Uri? OtlpEndpoint { get; init; }
    /// <summary>Log lines as JSON objects, one per line, for a log shipper; else the console's text.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>Reads and checks every setting; throws naming each setting whose value is refused.</summary>
    public static CofferOptions From(IConfiguration config)
    {
        var read = new Reader(config);
        var defaults = new CofferOptions();
        var options = new CofferOptions
        {
            Database = read.Text("COFFER_DATABASE"),
            MasterKey = read.Text("COFFER_MASTER_KEY"),
            ApiKey = read.Text("COFFER_API_KEY"),
            AdminEmail = read.Text("COFFER_ADMIN_EMAIL"),
            AdminPassword = read.Text("COFFER_ADMIN_PASSWORD"),
            Workers = read.OnOff("COFFER_WORKERS", defaults.Workers),
            GroupCommit = read.OnOff("COFFER_GROUP_COMMIT", defaults.GroupCommit),
            WebhookPoll = read.Milliseconds("COFFER_WEBHOOK_POLL_MS", defaults.WebhookPoll, 50, 60_000),
            WebhookTimeout = read.Milliseconds("COFFER_WEBHOOK_TIMEOUT_MS", defaults.WebhookTimeout, 100, 30_000),
            AutoTopUpPoll = read.Milliseconds("COFFER_AUTO_TOPUP_POLL_MS", defaults.AutoTopUpPoll, 50, 60_000),
            SchedulePoll = read.Milliseconds("COFFER_SCHEDULE_POLL_MS", defaults.SchedulePoll, 50, 600_000),
            AlertEmailPoll = read.Milliseconds("COFFER_ALERT_EMAIL_POLL_MS", defaults.AlertEmailPoll, 50, 60_000),
            AlertEmailTimeout = read.Milliseconds("COFFER_ALERT_EMAIL_TIMEOUT_MS", defaults.AlertEmailTimeout, 100, 60_000),
            ReconcileGrace = TimeSpan.FromSeconds(read.Whole("COFFER_RECONCILE_GRACE_SECONDS", (int)defaults.ReconcileGrace.TotalSeconds, 0, 86_400, "seconds")),
            ReconcilePoll = read.Milliseconds("COFFER_RECONCILE_POLL_MS", defaults.ReconcilePoll, 1, 3_600_000),
            SandboxSlowCard = read.Milliseconds("COFFER_SANDBOX_SLOW_CARD_MS", defaults.SandboxSlowCard, 0, 600_000),
            PublicUrl = read.AbsoluteUrl("COFFER_PUBLIC_URL"),
            TrustedProxies = read.Networks("COFFER_TRUSTED_PROXIES"),
            AllowStripeApiBase = read.TrueFalse("COFFER_ALLOW_STRIPE_API_BASE"),
            WebhooksAllowPrivate = read.TrueFalse("COFFER_WEBHOOKS_ALLOW_PRIVATE"),
            SmtpAllowPrivate = read.TrueFalse("COFFER_SMTP_ALLOW_PRIVATE"),
            SmtpAllowPlaintext = read.TrueFalse("COFFER_SMTP_ALLOW_PLAINTEXT"),
            MetricsToken = read.Token("COFFER_METRICS_TOKEN"),
            OtlpEndpoint = read.AbsoluteUrl("OTEL_EXPORTER_OTLP_ENDPOINT") is { } otlp ? new Uri(otlp) : null,
            JsonLogs = read.OneOf("COFFER_LOG_FORMAT", ["text", "json"], "text") == "json",
        };
        if (read.Problems.Count > 0) throw new InvalidOperationException("Coffer cannot start: " + string.Join("; ", read.Problems));
        return options;
    }

    /// <summary>An unset or empty setting takes its default; anything else must be a value the setting takes.</summary>
    sealed class Reader(IConfiguration config)
    {
        public List<string> Problems { get; } = [];

        /// <summary>As given: a password may hold spaces.</summary>
        public string? Text(string name) => config[name] is { Length: > 0 } value ? value : null;

        string? Value(string name) => string.IsNullOrWhiteSpace(config[name]) ? null : config[name]!.Trim();

        public bool OnOff(string name, bool fallback) => Value(name)?.ToLowerInvariant() switch
        {
            null => fallback,
            "on" => true,
            "off" => false,
            _ => Refuse(name, "\"on\" or \"off\"", fallback),
        };

        public bool TrueFalse(string name) => Value(name)?.ToLowerInvariant() switch
        {
            null or "false" => false,
            "true" => true,
            _ => Refuse(name, "\"true\" or \"false\"", false),
        };

        public string OneOf(string name, string[] choices, string fallback) => Value(name)?.ToLowerInvariant() switch
        {
            null => fallback,
            var v when choices.Contains(v) => v,
            _ => Refuse(name, string.Join(" or ", choices.Select(c => $"\"{c}\"")), fallback),
        };

        public TimeSpan Milliseconds(string name, TimeSpan fallback, int min, int max) =>
            TimeSpan.FromMilliseconds(Whole(name, (int)fallback.TotalMilliseconds, min, max, "milliseconds"));

        public int Whole(string name, int fallback, int min, int max, string unit)
        {
            if (Value(name) is not { } value) return fallback;
            return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                ? n
                : Refuse(name, $"a whole number of {unit} from {min} to {max}", fallback);
        }

        public string? AbsoluteUrl(string name)
        {
            if (Value(name) is not { } value) return null;
            return Uri.TryCreate(value, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
                ? value.TrimEnd('/')
                : Refuse<string?>(name, "an absolute http or https URL", null);
        }

        /// <summary>A secret a client presents: 32 to 200 letters, digits, '_' or '-'. A refusal does not repeat it.</summary>
        public string? Token(string name)
        {
            if (Value(name) is not { } value) return null;
            if (value.Length is >= 32 and <= 200 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')) return value;
            Problems.Add($"{name} must be 32 to 200 letters, digits, '_' or '-' (openssl rand -hex 24)");
            return null;
        }

        /// <summary>Addresses or networks (CIDR), comma-separated.</summary>
        public List<IPNetwork> Networks(string name)
        {
            var networks = new List<IPNetwork>();
            foreach (var entry in (Value(name) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (IPNetwork.TryParse(entry, out var network)) networks.Add(network);
                else if (IPAddress.TryParse(entry, out var address))
                    networks.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
                else Problems.Add($"{name}: '{entry}' is neither an IP address nor a network such as 10.0.0.0/8");
            }
            return networks;
        }

        T Refuse<T>(string name, string expected, T fallback)
        {
            Problems.Add($"{name} must be {expected}, not '{config[name]}'");
            return fallback;
        }
    }
}
