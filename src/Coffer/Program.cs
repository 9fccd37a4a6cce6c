using Coffer.Alerts;
using Coffer.Analytics;
using Coffer.ApiKeys;
using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.CreditCurrencies;
using Coffer.CustomerApi;
using Coffer.Customers;
using Coffer.Dashboard;
using Coffer.Holds;
using Coffer.Hosting;
using Coffer.Invoices;
using Coffer.Packages;
using Coffer.Pages;
using Coffer.Payments;
using Coffer.Portal;
using Coffer.Schedules;
using Coffer.Settings;
using Coffer.Tenants;
using Coffer.Wallets;
using Coffer.Webhooks;
using Scalar.AspNetCore;

if (Cli.Answer(args) is { } answered) return answered;

var builder = WebApplication.CreateBuilder(args);
var options = CofferOptions.From(builder.Configuration);
builder.ConfigureCofferHost(options);
builder.Services.AddCoffer(options);
builder.Services.AddCofferWorkers(options);
builder.Services.AddCofferTelemetry(options);

var app = builder.Build();
if (Cli.Command(args) is { } command) return await Cli.RunAsync(app.Services, command, args);

app.UseSecurityHeaders();
app.UseCofferErrors();
app.UseClientCors();
app.UseApiKeys();
app.UseCustomerTokens();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.UseRateLimiter();

app.MapHealth();
app.MapMetrics(options);
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
v1.MapGrantPrioritiesSettings();
v1.MapCreditExpiryWarningSettings();
v1.MapPaymentMethods();
v1.MapRefunds();
v1.MapPackages();
v1.MapCreditCurrencies();
v1.MapWebhooks();
v1.MapAlerts();
v1.MapAutoTopUp();
v1.MapSchedules();
v1.MapPortalSessions();
v1.MapEnvironments();
v1.MapUsers();
v1.MapTenants();
v1.MapCustomerSessions();
v1.MapClientConfigSettings();
v1.MapCustomerApi();
v1.MapAnalytics();
app.MapSandboxCheckout();
app.MapStripeWebhooks();

// Pages.
app.MapDashboard();
app.MapPortal();
app.MapPortalSignIn();

try
{
    await app.RunAsync();
}
catch (Coffer.Storage.SqliteServeLock.HeldElsewhereException e)
{
    Console.Error.WriteLine($"coffer: {e.Message}");
    return 2;
}
return 0;

public partial class Program;
