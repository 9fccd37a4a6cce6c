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
        var next = Parse(v, body.Value, await settings.InvoiceConfigAsync(tenant.Id));
        if (!v.Ok) return v.Error();
        await settings.SaveInvoiceConfigAsync(tenant.Id, next);
        return TypedResults.Ok(new SettingResponse("invoice_config", next, tenant.Id));
    }

    /// <summary>The checks of a new <c>invoice_config</c> (the API's and the dashboard's); what <paramref name="value"/> leaves out stays as <paramref name="current"/>.</summary>
    public static InvoiceConfig Parse(Validator v, InvoiceConfigValue value, InvoiceConfig current)
    {
        if (value.PendingPurchaseTimeoutDays is < 1 or > InvoiceConfig.MaxTimeoutDays)
            v.Fail($"pending_purchase_timeout_days must be between 1 and {InvoiceConfig.MaxTimeoutDays}");
        if (value.DueDateDays is < 0 or > InvoiceConfig.MaxTimeoutDays) v.Fail($"due_date_days must be between 0 and {InvoiceConfig.MaxTimeoutDays}");
        return new InvoiceConfig(
            value.AutoCompletePurchasedCreditTransaction ?? current.AutoCompletePurchasedCreditTransaction,
            value.PendingPurchaseTimeoutDays ?? current.PendingPurchaseTimeoutDays,
            value.DueDateDays ?? current.DueDateDays);
    }
}

public sealed record GatewayConfigRequest(GatewayConfigValue? Value);

public sealed record GatewayConfigValue(string? Provider, string? StripeSecretKey, string? StripeWebhookSecret, string? StripeApiBase);

/// <summary>The gateway setting as shown back: secrets are never returned, only whether they are set.</summary>
public sealed record GatewaySettingResponse(string Key, string Provider, bool StripeSecretKeySet, bool StripeWebhookSecretSet, string? StripeApiBase);

public static class GatewaySettingsApi
{
    public static void MapGatewaySettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/settings/payment_gateway").WithTags("Settings");
        g.MapGet("/", Get).WithName("getPaymentGatewaySetting");
        g.MapPut("/", Put).WithName("updatePaymentGatewaySetting");
    }

    static GatewaySettingResponse Show(GatewayConfig c) =>
        new("payment_gateway", c.Provider, c.StripeSecretKey is not null, c.StripeWebhookSecret is not null, c.StripeApiBase);

    static async Task<Ok<GatewaySettingResponse>> Get(Tenant tenant, TenantSettings settings) =>
        TypedResults.Ok(Show(await settings.GatewayConfigAsync(tenant.Id)));

    static async Task<Results<Ok<GatewaySettingResponse>, ApiError>> Put(
        Tenant tenant, GatewayConfigRequest body, Payments.Gateways.GatewayRegistry gateways, Hosting.CofferOptions options)
    {
        if (body.Value is null) return ApiError.Validation("value is required");
        var v = new Validator();
        var config = Parse(v, body.Value, gateways, options);
        if (!v.Ok) return v.Error();
        if (await gateways.ConfigureAsync(tenant.Id, config!) is { } why) return ApiError.Unprocessable(ErrorCodes.WrongMode, why);
        return TypedResults.Ok(Show(config!));
    }

    /// <summary>The checks of a new <c>payment_gateway</c> (the API's and the dashboard's); null when <paramref name="v"/> failed.</summary>
    public static GatewayConfig? Parse(Validator v, GatewayConfigValue value, Payments.Gateways.GatewayRegistry gateways, Hosting.CofferOptions options)
    {
        var provider = v.OneOf("provider", value.Provider ?? "sandbox", gateways.Providers.ToHashSet());
        var secret = v.Text("stripe_secret_key", value.StripeSecretKey);
        var webhook = v.Text("stripe_webhook_secret", value.StripeWebhookSecret);
        var apiBase = v.Text("stripe_api_base", value.StripeApiBase);
        if (apiBase is not null && !Uri.TryCreate(apiBase, UriKind.Absolute, out _)) v.Fail("stripe_api_base must be an absolute URL");
        // Pointing Coffer's server-side requests at any address is for the operator to allow (a test stand-in), not a tenant.
        if (apiBase is not null && !options.AllowStripeApiBase)
            v.Fail("stripe_api_base is accepted only when the operator sets COFFER_ALLOW_STRIPE_API_BASE=true");
        if (provider == "stripe" && (secret is null || webhook is null)) v.Fail("stripe needs stripe_secret_key and stripe_webhook_secret");
        return v.Ok ? new GatewayConfig(provider!, secret, webhook, apiBase) : null;
    }
}

public sealed record AlertEmailRequest(AlertEmailValue? Value);

public sealed record AlertEmailValue(bool? Enabled, string? SmtpHost, int? SmtpPort, string? Security, string? Username, string? Password, string? From,
    List<string>? To);

public sealed record AlertEmailResponse(string Key, bool Enabled, string? SmtpHost, int SmtpPort, string Security, string? Username, bool PasswordSet,
    string? From, IReadOnlyList<string> To);

public static class AlertEmailSettingsApi
{
    public const int MaxRecipients = 20;

    public static void MapAlertEmailSettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/settings/alert_email").WithTags("Settings");
        g.MapGet("/", Get).WithName("getAlertEmailSetting");
        g.MapPut("/", Put).WithName("updateAlertEmailSetting");
    }

    static AlertEmailResponse Show(AlertEmailConfig c) =>
        new("alert_email", c.Enabled, c.SmtpHost, c.SmtpPort, c.Security, c.Username, c.Password is not null, c.From, c.To ?? []);

    static async Task<Ok<AlertEmailResponse>> Get(Tenant tenant, TenantSettings settings) => TypedResults.Ok(Show(await settings.AlertEmailAsync(tenant.Id)));

    static async Task<Results<Ok<AlertEmailResponse>, ApiError>> Put(Tenant tenant, AlertEmailRequest body, TenantSettings settings, Alerts.SmtpPolicy smtp)
    {
        if (body.Value is not { } value) return ApiError.Validation("value is required");
        var v = new Validator();
        var config = Parse(v, value, smtp);
        if (!v.Ok) return v.Error();
        await settings.SaveAlertEmailAsync(tenant.Id, config);
        return TypedResults.Ok(Show(config));
    }

    /// <summary>The checks of a new <c>alert_email</c> (the API's and the dashboard's): the whole value, as it replaces the stored one.</summary>
    public static AlertEmailConfig Parse(Validator v, AlertEmailValue value, Alerts.SmtpPolicy smtp)
    {
        var host = v.Text("smtp_host", value.SmtpHost, required: value.Enabled == true, max: Alerts.SmtpPolicy.MaxHostLength);
        if (value.SmtpPort is < 1 or > 65535) v.Fail("smtp_port must be between 1 and 65535");
        var security = v.OneOf("security", value.Security, Securities) ?? "starttls";
        if (host is not null && v.Ok && smtp.Problem(host, value.SmtpPort ?? AlertEmailConfig.DefaultPort, security) is { } problem) v.Fail(problem);
        var from = v.Text("from", value.From, required: value.Enabled == true);
        var to = value.To ?? [];
        if (to.Count > MaxRecipients) v.Fail($"at most {MaxRecipients} recipients");
        if (value.Enabled == true && to.Count == 0) v.Fail("to needs at least one address");
        foreach (var address in to.Append(from ?? "x@x"))
            if (!Alerts.SmtpPolicy.IsAddress(address))
                v.Fail($"'{address}' is not an email address");
        return new AlertEmailConfig(value.Enabled ?? false, host, value.SmtpPort ?? AlertEmailConfig.DefaultPort, security, value.Username, value.Password, from, to);
    }

    public static readonly IReadOnlySet<string> Securities = new HashSet<string> { "starttls", "ssl", "none" };
}

public sealed record PortalConfigRequest(PortalConfigValue? Value);

public sealed record PortalConfigValue(bool? AllowAutoTopup, decimal? MaxAutoTopupAmount, int? MaxTopupsPerDay, bool? EmailSignIn = null);

public sealed record PortalConfigResponse(string Key, PortalConfig Value, string TenantId);

/// <summary><c>portal_config</c>: what customers may set themselves in the portal. A PUT replaces the whole value.</summary>
public static class PortalConfigSettingsApi
{
    public static void MapPortalConfigSettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/settings/portal_config").WithTags("Settings");
        g.MapGet("/", Get).WithName("getPortalConfig");
        g.MapPut("/", Put).WithName("updatePortalConfig");
    }

    static async Task<Ok<PortalConfigResponse>> Get(Tenant tenant, TenantSettings settings) =>
        TypedResults.Ok(new PortalConfigResponse("portal_config", await settings.PortalConfigAsync(tenant.Id), tenant.Id));

    static async Task<Results<Ok<PortalConfigResponse>, ApiError>> Put(Tenant tenant, PortalConfigRequest body, TenantSettings settings)
    {
        if (body.Value is not { } value) return ApiError.Validation("value is required");
        var v = new Validator();
        var config = Parse(v, value);
        if (!v.Ok) return v.Error();
        await settings.SavePortalConfigAsync(tenant.Id, config);
        return TypedResults.Ok(new PortalConfigResponse("portal_config", config, tenant.Id));
    }

    /// <summary>The checks of a new <c>portal_config</c> (the API's and the dashboard's): the whole value, as it replaces the stored one.</summary>
    public static PortalConfig Parse(Validator v, PortalConfigValue value)
    {
        var maxAmount = v.Amount("max_auto_topup_amount", value.MaxAutoTopupAmount);
        if (value.MaxTopupsPerDay is < 1 or > PortalConfig.MaxTopupsPerDayCeiling)
            v.Fail($"max_topups_per_day must be between 1 and {PortalConfig.MaxTopupsPerDayCeiling}");
        return new PortalConfig(value.AllowAutoTopup ?? false, maxAmount, value.MaxTopupsPerDay, value.EmailSignIn ?? false);
    }
}

public sealed record CreditExpiryWarningRequest(CreditExpiryWarning? Value);

public sealed record CreditExpiryWarningResponse(string Key, CreditExpiryWarning Value, string TenantId);

/// <summary><c>credit_expiry_warning</c>: how many days before a lot expires it is warned of (Expiry/ExpiryWarnings.cs). A PUT replaces the whole value.</summary>
public static class CreditExpiryWarningSettingsApi
{
    public const string Key = "credit_expiry_warning";

    public static void MapCreditExpiryWarningSettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup($"/settings/{Key}").WithTags("Settings");
        g.MapGet("/", Get).WithName("getCreditExpiryWarning").WithSummary("Days before expiry that each lot is warned of (wallet.credits_expiring); null is off");
        g.MapPut("/", Put).WithName("updateCreditExpiryWarning")
            .WithSummary($"days_before 1 to {CreditExpiryWarning.MaxDaysBefore} warns of every open lot once, that many days before it expires; 0 or null turns it off");
    }

    static async Task<Ok<CreditExpiryWarningResponse>> Get(Tenant tenant, TenantSettings settings) =>
        TypedResults.Ok(new CreditExpiryWarningResponse(Key, await settings.CreditExpiryWarningAsync(tenant.Id), tenant.Id));

    static async Task<Results<Ok<CreditExpiryWarningResponse>, ApiError>> Put(Tenant tenant, CreditExpiryWarningRequest body, TenantSettings settings)
    {
        if (body.Value is not { } value) return ApiError.Validation("value is required");
        var v = new Validator();
        var warning = Parse(v, value);
        if (!v.Ok) return v.Error();
        await settings.SaveCreditExpiryWarningAsync(tenant.Id, warning);
        return TypedResults.Ok(new CreditExpiryWarningResponse(Key, warning, tenant.Id));
    }

    /// <summary>The checks of a new <c>credit_expiry_warning</c> (the API's and the dashboard's); 0 is stored as null, off.</summary>
    public static CreditExpiryWarning Parse(Validator v, CreditExpiryWarning value)
    {
        if (value.DaysBefore is < 0 or > CreditExpiryWarning.MaxDaysBefore)
            v.Fail($"days_before must be between 1 and {CreditExpiryWarning.MaxDaysBefore}, or 0 or null to turn the warning off");
        return new CreditExpiryWarning(value.DaysBefore is 0 ? null : value.DaysBefore);
    }
}
