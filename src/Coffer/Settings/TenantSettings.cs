using Coffer.Common;
using Coffer.Secrets;
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

/// <summary>
/// Which gateway charges this tenant's cards: the built-in sandbox (default) or Stripe. <see cref="StripeApiBase"/>
/// points Stripe.net elsewhere, for a local stand-in in tests. The secrets are stored sealed (<see cref="Secrets.SecretBox"/>).
/// </summary>
public sealed record GatewayConfig(string Provider = "sandbox", string? StripeSecretKey = null, string? StripeWebhookSecret = null,
    string? StripeApiBase = null);

/// <summary>Where alert emails go: the tenant's own SMTP server. The password is stored sealed.</summary>
public sealed record AlertEmailConfig(bool Enabled = false, string? SmtpHost = null, int SmtpPort = AlertEmailConfig.DefaultPort, string Security = "starttls",
    string? Username = null, string? Password = null, string? From = null, List<string>? To = null)
{
    public const int DefaultPort = 587;
}

/// <summary>
/// <c>portal_config</c>: what a customer may change themselves in the portal. Automatic top-up only when
/// <see cref="AllowAutoTopup"/>, buying at most <see cref="MaxAutoTopupAmount"/> credits a time and at most
/// <see cref="MaxTopupsPerDay"/> times a day; an unset limit is no limit of the portal's own.
/// </summary>
/// <param name="EmailSignIn">Customers may ask for a sign-in link by e-mail on the tenant's portal page (sent through the tenant's SMTP settings).</param>
public sealed record PortalConfig(bool AllowAutoTopup = false, decimal? MaxAutoTopupAmount = null, int? MaxTopupsPerDay = null, bool EmailSignIn = false)
{
    public const int MaxTopupsPerDayCeiling = 1000;
}

/// <summary>
/// <c>credit_expiry_warning</c>: every open lot is warned of once, <see cref="DaysBefore"/> days before it expires
/// (<c>wallet.credits_expiring</c> and an alert, through the wallet's notification channels). Null is off, the
/// default, so a tenant that never sets it gets no new events or mail.
/// </summary>
public sealed record CreditExpiryWarning(int? DaysBefore = null)
{
    public const int MaxDaysBefore = 365;
}

public sealed record TenantSettingsDocument(InvoiceConfig? InvoiceConfig, GatewayConfig? PaymentGateway = null, AlertEmailConfig? AlertEmail = null,
    PortalConfig? PortalConfig = null, GrantPriorities? GrantPriorities = null, CreditExpiryWarning? CreditExpiryWarning = null);

public sealed class TenantSettings(Database db, SecretBox box)
{
    /// <summary>Every secret of the document through <paramref name="f"/>: the one list of which settings are secret.</summary>
    public static TenantSettingsDocument MapSecrets(TenantSettingsDocument d, Func<string, string> f)
    {
        string? Map(string? value) => value is null ? null : f(value);
        return d with
        {
            PaymentGateway = d.PaymentGateway is { } g ? g with { StripeSecretKey = Map(g.StripeSecretKey), StripeWebhookSecret = Map(g.StripeWebhookSecret) } : null,
            AlertEmail = d.AlertEmail is { } a ? a with { Password = Map(a.Password) } : null,
        };
    }

    /// <summary><see cref="MapSecrets(TenantSettingsDocument, Func{string, string})"/> on the stored JSON.</summary>
    public static string MapSecrets(string json, Func<string, string> f) => Json.Serialize(MapSecrets(Parse(json), f));

    static TenantSettingsDocument Parse(string? json) => (json is null ? null : Json.Deserialize<TenantSettingsDocument>(json)) ?? new TenantSettingsDocument(null);

    async Task<TenantSettingsDocument> DocumentAsync(string tenantId)
    {
        await using var c = await db.OpenAsync();
        var json = await c.QuerySingleAsync(null, "SELECT settings FROM tenants WHERE id = @t", r => r.Str("settings"), ("t", tenantId));
        return MapSecrets(Parse(json), box.Open);
    }

    public async Task<InvoiceConfig> InvoiceConfigAsync(string tenantId) => (await DocumentAsync(tenantId)).InvoiceConfig ?? new InvoiceConfig();

    public async Task<GatewayConfig> GatewayConfigAsync(string tenantId) => (await DocumentAsync(tenantId)).PaymentGateway ?? new GatewayConfig();

    public async Task<AlertEmailConfig> AlertEmailAsync(string tenantId) => (await DocumentAsync(tenantId)).AlertEmail ?? new AlertEmailConfig();

    public async Task<PortalConfig> PortalConfigAsync(string tenantId) => (await DocumentAsync(tenantId)).PortalConfig ?? new PortalConfig();

    public async Task<GrantPriorities> GrantPrioritiesAsync(string tenantId) => (await DocumentAsync(tenantId)).GrantPriorities ?? GrantPriorities.Unset;

    public async Task<CreditExpiryWarning> CreditExpiryWarningAsync(string tenantId) =>
        (await DocumentAsync(tenantId)).CreditExpiryWarning ?? new CreditExpiryWarning();

    /// <summary>Every tenant whose <c>credit_expiry_warning</c> is on, with its days: the tenants the expiry warnings look at.</summary>
    public async Task<List<(string TenantId, int DaysBefore)>> CreditExpiryWarningsOnAsync(CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        // The text match only narrows the tenants down (a setting that is off may still name days_before); the parsed setting decides.
        var tenants = await c.QueryAsync(null, "SELECT id, settings FROM tenants WHERE settings LIKE '%days_before%' ORDER BY id",
            r => (Id: r.Str("id"), Warning: Parse(r.Str("settings")).CreditExpiryWarning));
        return [.. tenants.Where(t => t.Warning?.DaysBefore is > 0).Select(t => (t.Id, t.Warning!.DaysBefore!.Value))];
    }

    /// <summary>
    /// The one rule for a grant's priority: the one it was given, else the tenant's <c>grant_priorities</c> default for
    /// its <paramref name="source"/> (read only then), else none. Operations call it once per grant they make, after the
    /// request's idempotency fingerprint is taken: a retry with the request's key replays its first answer, whatever the
    /// setting says by then.
    /// </summary>
    public async Task<int?> GrantPriorityAsync(string tenantId, string source, int? given) =>
        given ?? (await GrantPrioritiesAsync(tenantId)).Of(source);

    public Task SaveGrantPrioritiesAsync(string tenantId, GrantPriorities priorities) => UpdateAsync(tenantId, d => d with { GrantPriorities = priorities });

    public Task SaveCreditExpiryWarningAsync(string tenantId, CreditExpiryWarning warning) => UpdateAsync(tenantId, d => d with { CreditExpiryWarning = warning });

    public Task SavePortalConfigAsync(string tenantId, PortalConfig config) => UpdateAsync(tenantId, d => d with { PortalConfig = config });

    public Task SaveAlertEmailAsync(string tenantId, AlertEmailConfig config) => UpdateAsync(tenantId, d => d with { AlertEmail = config });

    public Task SaveInvoiceConfigAsync(string tenantId, InvoiceConfig config) => UpdateAsync(tenantId, d => d with { InvoiceConfig = config });

    public Task SaveGatewayConfigAsync(string tenantId, GatewayConfig config) => UpdateAsync(tenantId, d => d with { PaymentGateway = config });

    async Task UpdateAsync(string tenantId, Func<TenantSettingsDocument, TenantSettingsDocument> change)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        LockOrder.Take(scope.Transaction, LockOrder.Level.Tenant, tenantId);
        var json = await c.QuerySingleAsync(scope.Transaction, $"SELECT settings FROM tenants WHERE id = @t{db.ForUpdate}", r => r.Str("settings"), ("t", tenantId));
        var current = MapSecrets(Parse(json), box.Open);
        await c.ExecAsync(scope.Transaction, "UPDATE tenants SET settings = @s WHERE id = @t",
            ("s", Json.Serialize(MapSecrets(change(current), box.Seal))), ("t", tenantId));
        await scope.CommitAsync();
    }
}
