using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Settings;

/// <summary>
/// <c>invoice_config</c>, as Flexprice names it. <see cref="AutoCompletePurchasedCreditTransaction"/> grants purchased
/// credits at once with the invoice marked paid; an unpaid credit purchase fails after
/// <see cref="PendingPurchaseTimeoutDays"/>.
/// </summary>
public sealed record InvoiceConfig(bool AutoCompletePurchasedCreditTransaction = false, int PendingPurchaseTimeoutDays = 30, int DueDateDays = 0)
{
    public const int MaxTimeoutDays = 365;
}

public sealed record TenantSettingsDocument(InvoiceConfig? InvoiceConfig);

public sealed class TenantSettings(Database db)
{
    public async Task<InvoiceConfig> InvoiceConfigAsync(string tenantId)
    {
        await using var c = await db.OpenAsync();
        var json = await c.QuerySingleAsync(null, "SELECT settings FROM tenants WHERE id = @t", r => r.Str("settings"), ("t", tenantId));
        return (json is null ? null : Json.Deserialize<TenantSettingsDocument>(json))?.InvoiceConfig ?? new InvoiceConfig();
    }

    public async Task SaveInvoiceConfigAsync(string tenantId, InvoiceConfig config)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction, "UPDATE tenants SET settings = @s WHERE id = @t",
            ("s", Json.Serialize(new TenantSettingsDocument(config))), ("t", tenantId));
        await scope.CommitAsync();
    }
}
