using Coffer.Settings;
using Coffer.Storage;

namespace Coffer.Payments.Gateways;

/// <summary>Picks each tenant's gateway from its settings; the sandbox unless the tenant configured Stripe.</summary>
public sealed class GatewayRegistry(TenantSettings settings, Hosting.CofferOptions options, IEnumerable<IGatewayFactory> factories, Database db, TimeProvider clock)
{
    /// <summary>Where Coffer's own pages (the sandbox checkout) are reached: see <see cref="Common.PublicUrl"/>.</summary>
    public string PublicBaseUrl(HttpRequest? request) => Common.PublicUrl.Of(options, request);

    public async Task<IPaymentGateway> ForTenantAsync(string tenantId, HttpRequest? request = null)
    {
        var gateway = await settings.GatewayConfigAsync(tenantId);
        if (gateway.Provider == SandboxGateway.GatewayName) return Sandbox(tenantId, request);
        var factory = factories.FirstOrDefault(f => f.Provider == gateway.Provider)
            ?? throw new InvalidOperationException($"no gateway '{gateway.Provider}' is available");
        return factory.Create(gateway);
    }

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
        return gateway.Name == gatewayName ? gateway : null;
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
}
