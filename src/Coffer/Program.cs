using Coffer.Alerts;
using Coffer.ApiKeys;
using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Dashboard;
using Coffer.Pages;
using Coffer.Portal;
using Coffer.Secrets;
using Coffer.Expiry;
using Coffer.Holds;
using Coffer.Invoices;
using Coffer.Packages;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Settings;
using Coffer.Outbox;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Verify;
using Coffer.Wallets;
using Coffer.Webhooks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Scalar.AspNetCore;

const string Help = """
    Coffer: prepaid wallets and credits ledger.

    Usage:
      coffer [--urls URL]             serve the API (default http://localhost:8080)
      coffer tenants create <name> [--admin-email <email>]
                                      create a tenant and print its first API key (and a dashboard operator's password)
      coffer verify                   recompute every wallet, check the ledger invariants; exit 1 on any violation
      coffer secrets rotate           re-seal every stored secret with the first key of COFFER_MASTER_KEY
      coffer --help                   this text

    Settings (environment variables):
      COFFER_DATABASE   postgres://user:pass@host:port/db or Host=...;Database=... for PostgreSQL;
                        anything else is a SQLite file path (default: coffer.db in the working directory)
      COFFER_MASTER_KEY base64 32-byte keys sealing stored secrets, current first then older ones, comma-separated
                        (default: a key file created next to the SQLite file, or coffer.key in the working directory)
      COFFER_API_KEY    API key of the default tenant; when unset on a fresh database one is created and printed
      COFFER_ADMIN_EMAIL, COFFER_ADMIN_PASSWORD  the default tenant's first dashboard operator (else one is created and printed)
      COFFER_WORKERS    "off" disables the background workers (expiry sweep, webhooks, auto top-up, alert email, payment reconciliation) on this node
      COFFER_WEBHOOK_POLL_MS  how often webhook delivery looks for work (default 1000)
      COFFER_WEBHOOK_TIMEOUT_MS  how long one delivery attempt may take (default 10000)
      COFFER_AUTO_TOPUP_POLL_MS  how often automatic top-up looks for work (default 1000)
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
      ASPNETCORE_URLS   listen addresses, like --urls
    """;

var positional = Positional(args);
var command = positional.FirstOrDefault();
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Help);
    return 0;
}
if (command is not null and not ("tenants" or "verify" or "secrets"))
{
    Console.Error.WriteLine($"unknown command '{command}'\n\n{Help}");
    return 2;
}

var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"])) builder.WebHost.UseUrls("http://localhost:8080");
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxRequestBodySize = Limits.MaxRequestBodyBytes;
    // Kestrel answers a request line over its limit itself, without the error envelope: its limit sits well above
    // Coffer's own (Limits.MaxRequestLineLength), so a long URL meets Coffer's 414 in the envelope first.
    k.Limits.MaxRequestLineSize = 8 * Limits.MaxRequestLineLength;
});
// In code rather than appsettings.json, which is read from the working directory and so missed by a binary
// started elsewhere: per-request information logs would cost more than the requests themselves.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", LogLevel.None);

PublicUrl.Validate(builder.Configuration);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton(sp => Database.Open(sp.GetRequiredService<IConfiguration>()["COFFER_DATABASE"], sp.GetService<CommitFaults>()));
builder.Services.AddSingleton<Ids>();
builder.Services.AddSingleton<TenantStore>();
builder.Services.AddSingleton<OutboxWriter>();
builder.Services.AddSingleton<GroupCommit>();
builder.Services.AddSingleton<WalletWriter>();
builder.Services.AddSingleton<WalletMoves>();
builder.Services.AddSingleton<WalletReads>();
builder.Services.AddSingleton<WalletStore>();
builder.Services.AddSingleton<CustomerStore>();
builder.Services.AddSingleton<Verifier>();
builder.Services.AddSingleton<InvoiceService>();
builder.Services.AddSingleton<TenantSettings>();
builder.Services.AddSingleton<PaymentMethodStore>();
builder.Services.AddSingleton<PaymentService>();
builder.Services.AddSingleton<CreditPackages>();
builder.Services.AddSingleton<RefundService>();
builder.Services.AddSingleton<WebhookWorker>();
builder.Services.AddSingleton<WebhookStore>();
builder.Services.AddSingleton<WebhookEndpoints>();
builder.Services.AddSingleton<AutoTopUpWorker>();
builder.Services.AddSingleton<AlertMailer>();
builder.Services.AddSingleton<AlertStore>();
builder.Services.AddSingleton<SmtpPolicy>();
builder.Services.AddHttpClient(WebhookWorker.HttpClientName, c => c.Timeout = TimeSpan.FromMinutes(1))
    .ConfigurePrimaryHttpMessageHandler(sp => new PublicAddressGuard(
        string.Equals(sp.GetRequiredService<IConfiguration>()["COFFER_WEBHOOKS_ALLOW_PRIVATE"], "true", StringComparison.OrdinalIgnoreCase)).Handler());
builder.Services.AddSingleton<GatewayRegistry>();
builder.Services.AddSingleton<IGatewayFactory, StripeGatewayFactory>();
builder.Services.AddSingleton<ExpirySweeper>();
builder.Services.AddSingleton<PaymentReconciler>();
builder.Services.AddHostedService<StartupTasks>();
if (!string.Equals(builder.Configuration["COFFER_WORKERS"], "off", StringComparison.OrdinalIgnoreCase))
{
    builder.Services.AddHostedService(sp => sp.GetRequiredService<ExpirySweeper>());
    builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookWorker>());
    builder.Services.AddHostedService(sp => sp.GetRequiredService<AutoTopUpWorker>());
    builder.Services.AddHostedService(sp => sp.GetRequiredService<AlertMailer>());
    builder.Services.AddHostedService(sp => sp.GetRequiredService<PaymentReconciler>());
}
builder.Services.AddSingleton(sp => SecretBox.FromSettings(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<Database>()));
builder.Services.AddSingleton<SealedColumns>();
builder.Services.AddSingleton<ServerKeys>();
builder.Services.AddSingleton<OperatorStore>();
Microsoft.AspNetCore.DataProtection.DataProtectionBuilderExtensions.SetApplicationName(builder.Services.AddDataProtection(), "coffer");
builder.Services.AddSingleton<Microsoft.Extensions.Options.IConfigureOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>>(sp =>
    new Microsoft.Extensions.Options.ConfigureOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>(
        o =>
        {
            o.XmlRepository = new DatabaseKeyRepository(sp.GetRequiredService<Database>());
            o.XmlEncryptor = new SealedXmlEncryptor(sp.GetRequiredService<SecretBox>());
        }));
builder.Services.AddAuthentication()
    .AddCookie(OperatorStore.Scheme, OperatorStore.ConfigureCookie)
    .AddCookie(PortalSessions.Scheme, PortalSessions.ConfigureCookie);
builder.Services.AddAuthorizationBuilder()
    .AddPolicy(DashboardPages.Policy, p => p.AddAuthenticationSchemes(OperatorStore.Scheme).RequireAuthenticatedUser())
    .AddPolicy(PortalPages.Policy, p => p.AddAuthenticationSchemes(PortalSessions.Scheme).RequireAuthenticatedUser());
builder.Services.AddAntiforgery(o => o.Cookie.Name = "coffer_csrf");
SecurityHeaders.AddTo(builder.Services);
SignInLimits.AddTo(builder.Services);
builder.Services.ConfigureHttpJsonOptions(o => Json.Configure(o.SerializerOptions));
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddOpenApi(OpenApiSetup.Configure);

var app = builder.Build();

if (command is not null)
    await Migrator.MigrateAsync(app.Services.GetRequiredService<Database>(), app.Services.GetRequiredService<TimeProvider>());
if (command == "verify")
{
    var report = await app.Services.GetRequiredService<Verifier>().RunAsync();
    Verifier.Print(report, Console.Out);
    return report.Ok ? 0 : 1;
}
if (command == "secrets") return await SealedColumns.RunCommandAsync(app.Services, positional.Skip(1).ToArray());
if (command == "tenants")
{
    var rest = positional.Skip(1).ToArray();
    var adminEmail = args.SkipWhile(a => a != "--admin-email").Skip(1).FirstOrDefault();
    if (rest.Length != 2 || rest[0] != "create" || string.IsNullOrWhiteSpace(rest[1]) || (adminEmail is not null && !adminEmail.Contains('@')))
    {
        Console.Error.WriteLine("usage: coffer tenants create <name> [--admin-email <email>]");
        return 2;
    }
    var tenants = app.Services.GetRequiredService<TenantStore>();
    var tenant = await tenants.CreateTenantAsync(rest[1], isDefault: false);
    var key = await tenants.CreateKeyAsync(tenant.Id, "initial");
    Console.WriteLine($"tenant {tenant.Id} ({tenant.Name})");
    Console.WriteLine($"api key (shown once): {key.Secret}");
    if (adminEmail is not null)
    {
        var operators = app.Services.GetRequiredService<OperatorStore>();
        if (await operators.FindAsync(adminEmail) is not null)
        {
            Console.Error.WriteLine($"an operator {adminEmail} already exists; no dashboard operator was created");
            return 1;
        }
        var password = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)).Replace('/', '_').Replace('+', '-');
        await operators.CreateAsync(tenant.Id, adminEmail, password);
        Console.WriteLine($"dashboard operator {adminEmail.Trim().ToLowerInvariant()}, password (shown once): {password}");
    }
    return 0;
}

app.UseSecurityHeaders();
app.UseCofferErrors();
app.UseApiKeys();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.UseRateLimiter();

app.MapGet("/health", async (Database database) =>
{
    try
    {
        await using var c = await database.OpenAsync();
        await c.ScalarLongAsync(null, "SELECT 1");
        return Results.Json(new { status = "ok" }, Json.Options);
    }
    catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or System.Net.Sockets.SocketException)
    {
        return Results.Json(new { status = "unavailable" }, Json.Options, statusCode: 503);
    }
}).ExcludeFromDescription();
app.MapOpenApi("/openapi/{documentName}.json");
app.MapScalarApiReference("/docs", o => o.WithTitle("Coffer API").WithOpenApiRoutePattern("/openapi/{documentName}.json"));

var v1 = app.MapGroup("/v1");
v1.MapCustomers();
v1.MapWallets();
v1.MapWalletClose();
v1.MapApiKeys();
v1.MapHolds();
v1.MapInvoices();
v1.MapPayments();
v1.MapSettings();
v1.MapGatewaySettings();
v1.MapAlertEmailSettings();
v1.MapPortalConfigSettings();
v1.MapPaymentMethods();
v1.MapRefunds();
v1.MapPackages();
v1.MapWebhooks();
v1.MapAlerts();
v1.MapAutoTopUp();
v1.MapPortalSessions();
app.MapSandboxCheckout();
app.MapStripeWebhooks();
app.MapDashboard();
app.MapPortal();

await app.RunAsync();
return 0;

// Options such as --urls take a value; what is left are the command and its arguments.
static List<string> Positional(string[] args)
{
    var words = new List<string>();
    for (var i = 0; i < args.Length; i++)
    {
        if (args[i] is "--help" or "-h") continue;
        if (args[i].StartsWith('-'))
        {
            if (!args[i].Contains('=')) i++;
            continue;
        }
        words.Add(args[i]);
    }
    return words;
}

public partial class Program;
