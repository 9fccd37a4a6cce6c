using Coffer.Alerts;
using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Dashboard;
using Coffer.Expiry;
using Coffer.Invoices;
using Coffer.Outbox;
using Coffer.Packages;
using Coffer.Pages;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Portal;
using Coffer.Secrets;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Verify;
using Coffer.Wallets;
using Coffer.Webhooks;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Coffer.Hosting;

/// <summary>What the app is made of: the host's limits, every service, and the background workers.</summary>
public static class CofferServices
{
    /// <summary>Listen address, request limits and log levels: in code rather than appsettings.json, which is read from the
    /// working directory and so missed by a binary started elsewhere.</summary>
    public static void ConfigureCofferHost(this WebApplicationBuilder builder, CofferOptions options)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"])) builder.WebHost.UseUrls("http://localhost:8080");
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = Limits.MaxRequestBodyBytes;
            // Kestrel answers a request line over its limit itself, without the error envelope: its limit sits well above
            // Coffer's own (Limits.MaxRequestLineLength), so a long URL meets Coffer's 414 in the envelope first.
            k.Limits.MaxRequestLineSize = 8 * Limits.MaxRequestLineLength;
        });
        // Per-request information logs would cost more than the requests themselves.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", LogLevel.None);
        if (options.JsonLogs)
            // One JSON object per line: the message, and each of its named values (Tenant, Wallet, Entry…) as a field of State.
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.IncludeScopes = false;
            });
    }

    public static IServiceCollection AddCoffer(this IServiceCollection services, CofferOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => Database.Open(options.Database, sp.GetService<CommitFaults>()));
        services.AddSingleton<Leases>();
        services.AddSingleton<Ids>();
        services.AddSingleton<TenantStore>();
        services.AddSingleton<ApiKeys.ApiKeyStore>();
        services.AddSingleton<OutboxWriter>();
        services.AddSingleton<GroupCommit>();
        services.AddSingleton<WalletWriter>();
        services.AddSingleton<WalletMoves>();
        services.AddSingleton<WalletAdjustments>();
        services.AddSingleton<WalletReads>();
        services.AddSingleton<WalletStore>();
        services.AddSingleton<CustomerStore>();
        services.AddSingleton<Verifier>();
        services.AddSingleton<InvoiceService>();
        services.AddSingleton<TenantSettings>();
        services.AddSingleton<PaymentMethodStore>();
        services.AddSingleton<PaymentService>();
        services.AddSingleton<CreditPurchases>();
        services.AddSingleton<CreditPackages>();
        services.AddSingleton<Schedules.WalletSchedules>();
        services.AddSingleton<CreditCurrencies.CreditCurrencyStore>();
        services.AddSingleton<SelfService.SelfServiceFunding>();
        services.AddSingleton<SelfService.SelfServiceAutoTopUp>();
        services.AddSingleton<CustomerApi.CustomerTokenStore>();
        services.AddSingleton<RefundService>();
        services.AddSingleton<WebhookStore>();
        services.AddSingleton<WebhookEndpoints>();
        services.AddSingleton<AlertStore>();
        services.AddSingleton<SmtpPolicy>();
        services.AddHttpClient(WebhookWorker.HttpClientName, c => c.Timeout = TimeSpan.FromMinutes(1))
            .ConfigurePrimaryHttpMessageHandler(() => new PublicAddressGuard(options.WebhooksAllowPrivate).Handler());
        services.AddSingleton<GatewayRegistry>();
        services.AddSingleton<IGatewayFactory, StripeGatewayFactory>();
        services.AddSingleton(sp => SecretBox.FromSettings(options, sp.GetRequiredService<Database>()));
        services.AddSingleton<SealedColumns>();
        services.AddSingleton<ServerKeys>();
        services.AddSingleton(new PasswordHashing());
        services.AddSingleton<OperatorStore>();
        services.AddSingleton<Analytics.WalletAnalytics>();
        services.AddHostedService<StartupTasks>();
        AddWebParts(services);
        return services;
    }

    /// <summary>
    /// The workers, after <see cref="AddCoffer"/> (hosted services start in order: start-up tasks first). Every node can
    /// run them, leases keep them apart; COFFER_WORKERS=off keeps them off this one.
    /// </summary>
    public static IServiceCollection AddCofferWorkers(this IServiceCollection services, CofferOptions options)
    {
        services.AddSingleton<ExpirySweeper>();
        services.AddSingleton<ExpiryWarnings>();
        services.AddSingleton<WebhookWorker>();
        services.AddSingleton<AutoTopUpWorker>();
        services.AddSingleton<Schedules.ScheduleWorker>();
        services.AddSingleton<AlertMailer>();
        services.AddSingleton<Portal.PortalSignInMailer>();
        services.AddSingleton<PaymentReconciler>();
        services.AddSingleton<Invoices.InvoiceCollector>();
        if (!options.Workers) return services;
        services.AddHostedService(sp => sp.GetRequiredService<ExpirySweeper>());
        services.AddHostedService(sp => sp.GetRequiredService<ExpiryWarnings>());
        services.AddHostedService(sp => sp.GetRequiredService<WebhookWorker>());
        services.AddHostedService(sp => sp.GetRequiredService<AutoTopUpWorker>());
        services.AddHostedService(sp => sp.GetRequiredService<Schedules.ScheduleWorker>());
        services.AddHostedService(sp => sp.GetRequiredService<AlertMailer>());
        services.AddHostedService(sp => sp.GetRequiredService<Portal.PortalSignInMailer>());
        services.AddHostedService(sp => sp.GetRequiredService<PaymentReconciler>());
        services.AddHostedService(sp => sp.GetRequiredService<Invoices.InvoiceCollector>());
        return services;
    }

    /// <summary>Data protection keys in the database sealed with the master key, sign-in cookies, antiforgery, JSON and OpenAPI.</summary>
    static void AddWebParts(IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName("coffer");
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
        {
            o.XmlRepository = new DatabaseKeyRepository(sp.GetRequiredService<Database>());
            o.XmlEncryptor = new SealedXmlEncryptor(sp.GetRequiredService<SecretBox>());
        }));
        services.AddAuthentication()
            .AddCookie(OperatorStore.Scheme, OperatorStore.ConfigureCookie)
            .AddCookie(PortalSessions.Scheme, PortalSessions.ConfigureCookie);
        services.AddAuthorizationBuilder()
            .AddPolicy(DashboardPages.Policy, p => p.AddAuthenticationSchemes(OperatorStore.Scheme).RequireAuthenticatedUser())
            .AddPolicy(PortalPages.Policy, p => p.AddAuthenticationSchemes(PortalSessions.Scheme).RequireAuthenticatedUser());
        services.AddAntiforgery(o => o.Cookie.Name = "coffer_csrf");
        SecurityHeaders.AddTo(services);
        SignInLimits.AddTo(services);
        services.ConfigureHttpJsonOptions(o => Json.Configure(o.SerializerOptions));
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOpenApi(OpenApiSetup.Configure);
    }

    /// <summary>
    /// Probes for load balancers and orchestrators. <c>/health/live</c>: the process serves HTTP (it touches nothing
    /// else, so a database outage never gets a node restarted). <c>/health/ready</c>: the database answers and has every
    /// migration this build knows; 503 with <c>unavailable</c> or <c>migrations_pending</c> otherwise. <c>/health</c>
    /// is the readiness probe under its older name.
    /// </summary>
    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health/live", () => Results.Json(new { status = "ok" }, Json.Options)).ExcludeFromDescription();
        app.MapGet("/health/ready", Ready).ExcludeFromDescription();
        app.MapGet("/health", Ready).ExcludeFromDescription();
    }

    static async Task<IResult> Ready(Database database)
    {
        try
        {
            await using var c = await database.OpenAsync();
            var applied = await c.ScalarLongAsync(null, $"SELECT COUNT(*) FROM schema_migrations WHERE version = {Migrator.LatestVersion}");
            return applied == 1
                ? Results.Json(new { status = "ok" }, Json.Options)
                : Results.Json(new { status = "migrations_pending" }, Json.Options, statusCode: 503);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return Results.Json(new { status = "unavailable" }, Json.Options, statusCode: 503);
        }
    }
}
