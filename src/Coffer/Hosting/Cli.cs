using Coffer.Dashboard;
using Coffer.Secrets;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Verify;

namespace Coffer.Hosting;

/// <summary>
/// The command line: with no command Coffer serves; <c>tenants create</c>, <c>verify</c>, <c>secrets rotate</c> and <c>backup</c> run
/// against the same services (after migrating) and exit. The settings listed here are read by <see cref="CofferOptions"/>.
/// </summary>
public static class Cli
{
    public const string Help = """
        Coffer: prepaid wallets and credits ledger.

        Usage:
          coffer [--urls URL]             serve the API (default http://localhost:8080)
          coffer tenants create <name> [--live] [--admin-email <email>]
                                          create a tenant (in test mode unless --live) and print its first API key
                                          (and a dashboard operator's password)
          coffer tenants go-live <tenant-id | default>
                                          put a tenant in live mode for good: the sandbox stops, Stripe takes only live
                                          keys; refused once money has moved in test mode
          coffer verify                   recompute every wallet, check the ledger invariants; exit 1 on any violation
          coffer secrets rotate           re-seal every stored secret with the first key of COFFER_MASTER_KEY
          coffer backup <file>            copy the SQLite database while it serves (a consistent snapshot, and its key
                                          file when the master key lives in one); PostgreSQL: use pg_dump or pg_basebackup
          coffer --help                   this text

        Settings (environment variables; a value a setting does not take stops the start, naming the setting):
          COFFER_DATABASE   postgres://user:pass@host:port/db or Host=...;Database=... for PostgreSQL;
                            anything else is a SQLite file path (default: coffer.db in the working directory)
          COFFER_MASTER_KEY base64 32-byte keys sealing stored secrets, current first then older ones, comma-separated
                            (default: a key file created next to the SQLite file, or coffer.key in the working directory)
          COFFER_API_KEY    API key of the default tenant; when unset on a fresh database one is created and printed
          COFFER_ADMIN_EMAIL, COFFER_ADMIN_PASSWORD  the default tenant's first dashboard operator (else one is created and printed)
          COFFER_WORKERS    "off" disables the background workers (expiry sweep, webhooks, auto top-up, schedules, alert email, payment reconciliation) on this node
          COFFER_WEBHOOK_POLL_MS  how often webhook delivery looks for work (default 1000)
          COFFER_WEBHOOK_TIMEOUT_MS  how long one delivery attempt may take (default 10000)
          COFFER_AUTO_TOPUP_POLL_MS  how often automatic top-up looks for work (default 1000)
          COFFER_SCHEDULE_POLL_MS  how often wallet schedules (recurring grants and charges) look for due periods (default 5000)
          COFFER_ALERT_EMAIL_POLL_MS  how often alert emails are sent (default 5000)
          COFFER_ALERT_EMAIL_TIMEOUT_MS  how long one tenant's SMTP session of a round may take (default 20000)
          COFFER_GROUP_COMMIT  "off" commits every wallet write in its own transaction (default: group commit)
          COFFER_PUBLIC_URL the address portal and payment links point at (default: the address the request reached, never its Host header)
          COFFER_TRUSTED_PROXIES  proxies (IPs or CIDR networks, comma-separated) whose X-Forwarded-Host/-Proto build links when COFFER_PUBLIC_URL is unset
          COFFER_RECONCILE_GRACE_SECONDS  how long a payment may stay in flight before it is asked of the gateway again (default 60)
          COFFER_RECONCILE_POLL_MS  how often payment reconciliation looks for work (default 5000)
          COFFER_SANDBOX_SLOW_CARD_MS  how long the sandbox's slow test card 4000000000007726 takes to answer (default 3000)
          COFFER_ALLOW_STRIPE_API_BASE  "true" lets tenants point Stripe at another address (tests' stand-in)
          COFFER_WEBHOOKS_ALLOW_PRIVATE "true" lets webhooks reach private and loopback addresses (local receivers)
          COFFER_SMTP_ALLOW_PRIVATE  "true" lets alert email reach private and loopback SMTP servers, on any port (a local relay)
          COFFER_SMTP_ALLOW_PLAINTEXT  "true" lets tenants choose SMTP security "none" (no TLS)
          COFFER_LOG_FORMAT "json" writes each log line as one JSON object (default "text")
          COFFER_METRICS_TOKEN  serves Prometheus metrics at /metrics to a scraper sending it as a bearer token (default: off)
          OTEL_EXPORTER_OTLP_ENDPOINT  exports metrics and traces to this OpenTelemetry collector (default: off), over
                            gRPC, or HTTP with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
          ASPNETCORE_URLS   listen addresses, like --urls
        """;

    /// <summary>The command the arguments name, or null to serve.</summary>
    public static string? Command(string[] args) => Positional(args).FirstOrDefault();

    /// <summary>The exit code when the arguments are answered before anything starts (help, an unknown command); else null.</summary>
    public static int? Answer(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Help);
            return 0;
        }
        if (Command(args) is { } command and not ("tenants" or "verify" or "secrets" or "backup"))
        {
            Console.Error.WriteLine($"unknown command '{command}'\n\n{Help}");
            return 2;
        }
        return null;
    }

    public static async Task<int> RunAsync(IServiceProvider services, string command, string[] args)
    {
        await Migrator.MigrateAsync(services.GetRequiredService<Database>(), services.GetRequiredService<TimeProvider>());
        var rest = Positional(args).Skip(1).ToArray();
        switch (command)
        {
            case "verify":
                var report = await services.GetRequiredService<Verifier>().RunAsync();
                Verifier.Print(report, Console.Out);
                return report.Ok ? 0 : 1;
            case "secrets":
                return await SealedColumns.RunCommandAsync(services, rest);
            case "backup" when rest is [var file]:
                return await Backup.RunAsync(services.GetRequiredService<Database>(), services.GetRequiredService<CofferOptions>(), file, Console.Out, Console.Error);
            case "backup":
                Console.Error.WriteLine("usage: coffer backup <file>");
                return 2;
            case "tenants" when rest is ["go-live", var id]:
                return await GoLiveAsync(services, id);
            default:
                return await CreateTenantAsync(services, rest, args.SkipWhile(a => a != "--admin-email").Skip(1).FirstOrDefault(), args.Contains("--live"));
        }
    }

    static async Task<int> GoLiveAsync(IServiceProvider services, string id)
    {
        var tenants = services.GetRequiredService<TenantStore>();
        if (id == "default") id = (await tenants.DefaultTenantAsync())?.Id ?? id;
        switch (await tenants.GoLiveAsync(id))
        {
            case GoLiveOutcome.WentLive:
                Console.WriteLine($"tenant {id} is in live mode: configure a gateway with live credentials (PUT /v1/settings/payment_gateway) to take payments");
                return 0;
            case GoLiveOutcome.AlreadyLive:
                Console.WriteLine($"tenant {id} was already in live mode");
                return 0;
            case GoLiveOutcome.NotFound:
                Console.Error.WriteLine($"no tenant {id}");
                return 1;
            default:
                Console.Error.WriteLine($"tenant {id} has moved money in test mode (ledger entries or payments), which would count as real in live mode; " +
                                        "create a tenant for live use with: coffer tenants create <name> --live");
                return 1;
        }
    }

    static async Task<int> CreateTenantAsync(IServiceProvider services, string[] rest, string? adminEmail, bool live)
    {
        if (rest.Length != 2 || rest[0] != "create" || string.IsNullOrWhiteSpace(rest[1]) || (adminEmail is not null && !adminEmail.Contains('@')))
        {
            Console.Error.WriteLine("usage: coffer tenants create <name> [--live] [--admin-email <email>]\n       coffer tenants go-live <tenant-id | default>");
            return 2;
        }
        var tenants = services.GetRequiredService<TenantStore>();
        var tenant = await tenants.CreateTenantAsync(rest[1], isDefault: false, live ? Modes.Live : Modes.Test);
        var key = await tenants.CreateKeyAsync(tenant.Id, "initial");
        Console.WriteLine($"tenant {tenant.Id} ({tenant.Name}, {tenant.Mode} mode)");
        Console.WriteLine($"api key (shown once): {key.Secret}");
        if (adminEmail is null) return 0;
        var operators = services.GetRequiredService<OperatorStore>();
        if (await operators.FindAsync(adminEmail) is not null)
        {
            Console.Error.WriteLine($"an operator {adminEmail} already exists; no dashboard operator was created");
            return 1;
        }
        var password = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)).Replace('/', '_').Replace('+', '-');
        await operators.CreateAsync(tenant.Id, adminEmail, password);
        Console.WriteLine($"dashboard operator {adminEmail.Trim().ToLowerInvariant()}, password (shown once): {password}");
        return 0;
    }

    /// <summary>Options such as --urls take a value; what is left are the command and its arguments.</summary>
    static List<string> Positional(string[] args)
    {
        var words = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            // Flags without a value.
            if (args[i] is "--help" or "-h" or "--live") continue;
            if (args[i].StartsWith('-'))
            {
                if (!args[i].Contains('=')) i++;
                continue;
            }
            words.Add(args[i]);
        }
        return words;
    }
}
