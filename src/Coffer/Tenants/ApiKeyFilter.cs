using Coffer.Common;

namespace Coffer.Tenants;

/// <summary>
/// Every /v1 call names its tenant through the <c>x-api-key</c> header; nothing under /v1 runs without one.
/// A middleware rather than an endpoint filter: parameter binding (which reads the tenant) runs before filters.
/// </summary>
public static class ApiKeyAuth
{
    public const string Header = "x-api-key";

    public static void UseApiKeys(this WebApplication app) =>
        // Stripe's webhooks carry Stripe's signature instead, and the customer API a customer token (CustomerApi/CustomerTokens).
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/v1") && !c.Request.Path.StartsWithSegments("/v1/webhooks/stripe")
                         && !c.Request.Path.StartsWithSegments(CustomerApi.CustomerTokens.PathPrefix), branch => branch.Use(async (http, next) =>
        {
            var key = http.Request.Headers[Header].ToString();
            if (string.IsNullOrEmpty(key) && http.Request.Headers.Authorization.ToString() is { } auth &&
                auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                key = auth["Bearer ".Length..].Trim();
            if (string.IsNullOrEmpty(key) || key.Length > 200)
            {
                await new ApiError(401, ErrorCodes.Unauthorized, $"missing or malformed {Header} header").ExecuteAsync(http);
                return;
            }
            var tenants = http.RequestServices.GetRequiredService<TenantStore>();
            var resolved = await tenants.ResolveKeyAsync(key, http.RequestAborted);
            if (resolved is not { } found)
            {
                await new ApiError(401, ErrorCodes.Unauthorized, "invalid API key").ExecuteAsync(http);
                return;
            }
            var (tenant, caller) = found;
            // A client that names an environment means that one: acting on another (test data as live, or the reverse) is refused.
            if (http.Request.Headers[Modes.EnvironmentHeader].ToString() is { Length: > 0 } environment && environment != tenant.Id)
            {
                await new ApiError(403, ErrorCodes.EnvironmentMismatch,
                    $"this API key belongs to environment {tenant.Id} ({tenant.Mode} mode), not to the {Modes.EnvironmentHeader} given").ExecuteAsync(http);
                return;
            }
            http.Items[Tenant.ItemKey] = tenant;
            http.Items[ApiKeyCaller.ItemKey] = caller;
            await next(http);
        }));
}
