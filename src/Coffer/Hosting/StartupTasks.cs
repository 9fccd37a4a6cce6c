using Coffer.Dashboard;
using Coffer.Payments.Gateways;
using Coffer.Secrets;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Tenants;

namespace Coffer.Hosting;

/// <summary>
/// Runs before the server accepts requests: migrations, then the default tenant and its key. A hosted service
/// rather than code in Program so that test hosts run it too.
/// </summary>
public sealed class StartupTasks(Database db, TimeProvider clock, TenantStore tenants, OperatorStore operators, CofferOptions options,
    ILogger<StartupTasks> log, SealedColumns secrets, TenantSettings settings, GatewayRegistry gateways)
    : IHostedService
{
    IDisposable? _serving;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // First: a second process on a SQLite file stops here with a clear message instead of queueing on its lock.
        if (db.FilePath is { } file) _serving = SqliteServeLock.Acquire(file);
        await Migrator.MigrateAsync(db, clock, cancellationToken);
        // Before anything reads a secret: a wrong COFFER_MASTER_KEY stops the start here, with its name in the message.
        await secrets.SealPlainTextAsync(cancellationToken);
        await tenants.SettleModesAsync(async id => gateways.TakesRealMoney(await settings.GatewayConfigAsync(id)), cancellationToken);
        await tenants.BootstrapAsync(options.ApiKey, Console.Out, cancellationToken);
        var tenant = await tenants.DefaultTenantAsync(cancellationToken);
        await operators.BootstrapAsync(tenant!.Id, options.AdminEmail, options.AdminPassword, Console.Out);
        log.LogInformation("Coffer storage: {Database}", db.Description);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _serving?.Dispose();
        return Task.CompletedTask;
    }
}
