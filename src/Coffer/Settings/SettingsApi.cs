using Coffer.Common;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Settings;

public sealed record InvoiceConfigRequest(InvoiceConfigValue? Value);

public sealed record InvoiceConfigValue(bool? AutoCompletePurchasedCreditTransaction, int? PendingPurchaseTimeoutDays, int? DueDateDays);

public sealed record SettingResponse(string Key, InvoiceConfig Value, string TenantId);

/// <summary>Coffer's settings API, shaped like Flexprice's <c>/v1/settings/{key}</c>; only <c>invoice_config</c> for now.</summary>
public static class SettingsApi
{
    public static void MapSettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/settings/invoice_config").WithTags("Settings");
        g.MapGet("/", Get).WithName("getInvoiceConfig");
        g.MapPut("/", Put).WithName("updateInvoiceConfig");
    }

    static async Task<Ok<SettingResponse>> Get(Tenant tenant, TenantSettings settings) =>
        TypedResults.Ok(new SettingResponse("invoice_config", await settings.InvoiceConfigAsync(tenant.Id), tenant.Id));

    static async Task<Results<Ok<SettingResponse>, ApiError>> Put(Tenant tenant, InvoiceConfigRequest body, TenantSettings settings)
    {
        if (body.Value is null) return ApiError.Validation("value is required");
        var v = new Validator();
        if (body.Value.PendingPurchaseTimeoutDays is < 1 or > InvoiceConfig.MaxTimeoutDays)
            v.Fail($"pending_purchase_timeout_days must be between 1 and {InvoiceConfig.MaxTimeoutDays}");
        if (body.Value.DueDateDays is < 0 or > InvoiceConfig.MaxTimeoutDays) v.Fail($"due_date_days must be between 0 and {InvoiceConfig.MaxTimeoutDays}");
        if (!v.Ok) return v.Error();
        var current = await settings.InvoiceConfigAsync(tenant.Id);
        var next = new InvoiceConfig(
            body.Value.AutoCompletePurchasedCreditTransaction ?? current.AutoCompletePurchasedCreditTransaction,
            body.Value.PendingPurchaseTimeoutDays ?? current.PendingPurchaseTimeoutDays,
            body.Value.DueDateDays ?? current.DueDateDays);
        await settings.SaveInvoiceConfigAsync(tenant.Id, next);
        return TypedResults.Ok(new SettingResponse("invoice_config", next, tenant.Id));
    }
}
