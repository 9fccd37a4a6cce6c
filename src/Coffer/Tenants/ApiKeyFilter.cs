using System.Security.Claims;
using Coffer.Common;
using Coffer.Dashboard;
using Microsoft.AspNetCore.Authentication;

namespace Coffer.Tenants;

/// <summary>
/// Marks the few /v1 endpoints that also answer a signed-in dashboard operator's session cookie (who am I, my tenant):
/// read-only, and only what the dashboard itself shows. Every other /v1 endpoint takes an API key only, so a browser
/// session can never move money through the API.
/// </summary>
public sealed class OperatorSessionAccepted
{
    public static readonly OperatorSessionAccepted Instance = new();
}

/// <summary>
/// Every /v1 call names its tenant through the <c>x-api-key</c> header; nothing under /v1 runs without one, except the
/// endpoints marked <see cref="OperatorSessionAccepted"/>, which take the operator's session cookie instead.
/// A middleware rather than an endpoint filter: parameter binding (which reads the tenant) runs before filters.
/// </summary>
public static class ApiKeyAuth
{
    public const string Header = "x-api-key";
    const string OperatorItem = "coffer.operator";

    public static TBuilder AcceptsOperatorSession<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(OperatorSessionAccepted.Instance);

    /// <summary>The signed-in operator the request came from, on an endpoint that accepts their session; null for an API key.</summary>
    public static ClaimsPrincipal? Operator(HttpContext http) => http.Items.TryGetValue(OperatorItem, out var p) ? p as ClaimsPrincipal : null;

    public static void UseApiKeys(this WebApplication app) =>
        // Stripe's webhooks carry Stripe's signature instead, and the customer API a customer token (CustomerApi/CustomerTokens).
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/v1") && !c.Request.Path.StartsWithSegments("/v1/webhooks/stripe")
                         && !c.Request.Path.StartsWithSegments(CustomerApi.CustomerTokens.PathPrefix), branch => branch.Use(async (http, next) =>
        {
            var key = http.Request.Headers[Header].ToString();
            if (string.IsNullOrEmpty(key) && http.Request.Headers.Authorization.ToString() is { } auth &&
                auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                key = auth["Bearer ".Length..].Trim();
            var tenants = http.RequestServices.GetRequiredService<TenantStore>();
            Tenant? tenant;
            ApiKeyCaller? caller = null;
            if (string.IsNullOrEmpty(key) && http.GetEndpoint()?.Metadata.GetMetadata<OperatorSessionAccepted>() is not null
                && await OperatorTenantAsync(http, tenants) is { } signedIn)
                tenant = signedIn;
            else
            {
                if (string.IsNullOrEmpty(key) || key.Length > 200)
                {
                    await new ApiError(401, ErrorCodes.Unauthorized, $"missing or malformed {Header} header").ExecuteAsync(http);
                    return;
                }
                if (await tenants.ResolveKeyAsync(key, http.RequestAborted) is not { } found)
                {
                    await new ApiError(401, ErrorCodes.Unauthorized, "invalid API key").ExecuteAsync(http);
                    return;
                }
                (tenant, caller) = found;
            }
            // A client that names an environment means that one: acting on another (test data as live, or the reverse) is refused.
            if (http.Request.Headers[Modes.EnvironmentHeader].ToString() is { Length: > 0 } environment && environment != tenant.Id)
            {
                await new ApiError(403, ErrorCodes.EnvironmentMismatch,
                    $"this API key belongs to environment {tenant.Id} ({tenant.Mode} mode), not to the {Modes.EnvironmentHeader} given").ExecuteAsync(http);
                return;
            }
            http.Items[Tenant.ItemKey] = tenant;
            if (caller is not null) http.Items[ApiKeyCaller.ItemKey] = caller;
            await next(http);
        }));

    /// <summary>
    /// The tenant of a current operator session cookie (its stamp and lifetime checked, as the dashboard checks them),
    /// or null. The cookie is SameSite=Strict and /v1 sends no CORS grant, so another site can neither send nor read it.
    /// </summary>
    static async Task<Tenant?> OperatorTenantAsync(HttpContext http, TenantStore tenants)
    {
        var result = await http.AuthenticateAsync(OperatorStore.Scheme);
        if (!result.Succeeded || result.Principal.FindFirstValue(OperatorStore.TenantClaim) is not { } tenantId) return null;
        var tenant = await tenants.GetAsync(tenantId, http.RequestAborted);
        if (tenant is not null) http.Items[OperatorItem] = result.Principal;
        return tenant;
    }
}
