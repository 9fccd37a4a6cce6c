using Coffer.Settings;

namespace Coffer.Payments.Gateways;

/// <summary>Picks each tenant's gateway from its settings; the sandbox unless the tenant configured Stripe.</summary>
public sealed class GatewayRegistry(TenantSettings settings, IConfiguration config, IEnumerable<IGatewayFactory> factories)
{
    /// <summary>Where Coffer's own pages (the sandbox checkout) are reached; COFFER_PUBLIC_URL or the request's address.</summary>
    public string PublicBaseUrl(HttpRequest? request) =>
        config["COFFER_PUBLIC_URL"] is { Length: > 0 } configured ? configured
        : request is not null ? $"{request.Scheme}://{request.Host}"
        : "http://localhost:8080";

    public async Task<IPaymentGateway> ForTenantAsync(string tenantId, HttpRequest? request = null)
    {
        var gateway = await settings.GatewayConfigAsync(tenantId);
        if (gateway.Provider == SandboxGateway.GatewayName) return new SandboxGateway(PublicBaseUrl(request));
        var factory = factories.FirstOrDefault(f => f.Provider == gateway.Provider)
            ?? throw new InvalidOperationException($"no gateway '{gateway.Provider}' is available");
        return factory.Create(gateway);
    }

    public IReadOnlyCollection<string> Providers => [SandboxGateway.GatewayName, .. factories.Select(f => f.Provider)];
}

/// <summary>Makes a configured gateway other than the sandbox (Stripe).</summary>
public interface IGatewayFactory
{
    string Provider { get; }
    IPaymentGateway Create(GatewayConfig config);
}
