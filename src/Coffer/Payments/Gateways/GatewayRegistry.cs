using Coffer.Common;
using Coffer.Invoices;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Tenants;

namespace Coffer.Payments.Gateways;

/// <summary>The gateway a tenant takes money through now, or why it has none (<see cref="Refusal"/> is then set).</summary>
public sealed record GatewayChoice(IPaymentGateway? Gateway, Refusal? Refusal);

/// <summary>
/// Picks each tenant's gateway from its settings and its mode (<see cref="Modes"/>): the sandbox by default, and only
/// in test mode; a configured gateway only with credentials of the tenant's mode. The one home of that rule: the
/// settings API checks a new configuration with <see cref="Judge"/>, and every charge, payment link and saved card
/// goes through <see cref="ChooseAsync"/>.
/// </summary>
public sealed class GatewayRegistry(TenantSettings settings, TenantStore tenants, Hosting.CofferOptions options, IEnumerable<IGatewayFactory> factories,
    Database db, TimeProvider clock)
{
    /// <summary>Where Coffer's own pages (the sandbox checkout) are reached: see <see cref="Common.PublicUrl"/>.</summary>
    public string PublicBaseUrl(HttpRequest? request) => Common.PublicUrl.Of(options, request);

    /// <summary>The gateway to take money through, read afresh (never cached: going live must stop the sandbox at once).</summary>
    public async Task<GatewayChoice> ChooseAsync(string tenantId, HttpRequest? request = null)
    {
        var mode = (await tenants.GetAsync(tenantId))?.Mode ?? Modes.Test;
        var config = await settings.GatewayConfigAsync(tenantId);
        if (Judge(mode, config) is { } why) return new GatewayChoice(null, new Refusal(ErrorCodes.GatewayNotConfigured, why));
        return new GatewayChoice(config.Provider == SandboxGateway.GatewayName ? Sandbox(tenantId, request) : Factory(config.Provider).Create(config), null);
    }

    /// <summary>The tenant's gateway for settling, refunding and closing what went through it; null when it has none now.</summary>
    public async Task<IPaymentGateway?> ForTenantAsync(string tenantId, HttpRequest? request = null) => (await ChooseAsync(tenantId, request)).Gateway;

    public const string SandboxInLiveMode =
        "the tenant is in live mode, where the sandbox takes no money: configure a payment gateway (PUT /v1/settings/payment_gateway) with live credentials";

    /// <summary>Why <paramref name="config"/> cannot take money for a tenant in <paramref name="mode"/>; null when it can.</summary>
    public string? Judge(string mode, GatewayConfig config)
    {
        if (config.Provider == SandboxGateway.GatewayName)
            return mode == Modes.Live ? SandboxInLiveMode : null;
        var live = Factory(config.Provider).IsLive(config);
        if (live && mode != Modes.Live)
            return $"the {config.Provider} credentials are live ones, but the tenant is in test mode: use test credentials, or put the tenant in live mode";
        if (!live && mode == Modes.Live)
            return $"the {config.Provider} credentials are test ones, but the tenant is in live mode: use live credentials";
        return null;
    }

    /// <summary>
    /// Stores <paramref name="config"/> (checked by <see cref="Settings.GatewaySettingsApi.Parse"/>) as the tenant's gateway,
    /// unless it does not fit the tenant's mode: then nothing changes and the answer says why.
    /// </summary>
    public async Task<string?> ConfigureAsync(string tenantId, GatewayConfig config)
    {
        // The mode as stored now, not as an API key's cached lookup saw it.
        var mode = (await tenants.GetAsync(tenantId))?.Mode ?? Modes.Test;
        if (Judge(mode, config) is { } why) return why;
        await settings.SaveGatewayConfigAsync(tenantId, config);
        return null;
    }

    /// <summary>Whether a stored configuration takes real money: how a tenant stored before modes existed gets its mode.</summary>
    public bool TakesRealMoney(GatewayConfig config) =>
        config.Provider != SandboxGateway.GatewayName && factories.FirstOrDefault(f => f.Provider == config.Provider)?.IsLive(config) == true;

    IGatewayFactory Factory(string provider) =>
        factories.FirstOrDefault(f => f.Provider == provider) ?? throw new InvalidOperationException($"no gateway '{provider}' is available");

    /// <summary>The tenant's sandbox, whichever gateway it uses now: its hosted page serves links made while it was the sandbox.</summary>
    public SandboxGateway Sandbox(string tenantId, HttpRequest? request = null) =>
        new(db, tenantId, PublicBaseUrl(request), clock, SlowCardDelay);

    /// <summary>
    /// The gateway a payment went through, to ask it again: the tenant's own, when it is still the same one.
    /// Null when the tenant has since moved to another gateway (the payment is then settled by hand).
    /// </summary>
    public async Task<IPaymentGateway?> ForPaymentAsync(string tenantId, string? gatewayName)
    {
        var gateway = await ForTenantAsync(tenantId);
        return gateway?.Name == gatewayName ? gateway : null;
    }

    /// <summary>How long the sandbox's slow test card takes to answer (COFFER_SANDBOX_SLOW_CARD_MS, default 3 s).</summary>
    TimeSpan SlowCardDelay => options.SandboxSlowCard;

    public IReadOnlyCollection<string> Providers => [SandboxGateway.GatewayName, .. factories.Select(f => f.Provider)];
}

/// <summary>Makes a configured gateway other than the sandbox (Stripe).</summary>
public interface IGatewayFactory
{
    string Provider { get; }
    IPaymentGateway Create(GatewayConfig config);

    /// <summary>Whether the credentials move real money (Stripe: a live key), which only a live tenant may use.</summary>
    bool IsLive(GatewayConfig config);
}
