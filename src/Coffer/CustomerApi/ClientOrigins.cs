using Coffer.Common;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.CustomerApi;

public sealed record ClientConfigValue(List<string>? AllowedOrigins);

public sealed record ClientConfigRequest(ClientConfigValue? Value);

public sealed record ClientConfigResponse(string Key, ClientConfigValue Value);

/// <summary>
/// Which web origins may call the customer API with a tenant's customer tokens (CORS): <c>client_config</c>'s
/// <c>allowed_origins</c>, kept in <c>client_origins</c>. A request from any other origin is refused before it
/// runs; a preflight is answered only for an origin some tenant allows (a preflight carries no token, so its tenant
/// is not known yet). The secret-key API never answers a browser from another origin.
/// </summary>
public static class ClientOrigins
{
    public const int MaxOrigins = 20;
    const string AllowedHeaders = "Authorization, Content-Type, Idempotency-Key";
    const string AllowedMethods = "GET, POST, PUT, DELETE";

    public static void MapClientConfigSettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/settings/client_config").WithTags("Settings");
        g.MapGet("/", Get).WithName("getClientConfig");
        g.MapPut("/", Put).WithName("putClientConfig").WithSummary("The web origins (scheme://host[:port]) whose pages may call the customer API");
    }

    static async Task<Ok<ClientConfigResponse>> Get(Tenant tenant, Database db) =>
        TypedResults.Ok(new ClientConfigResponse("client_config", new ClientConfigValue(await OfTenantAsync(db, tenant.Id))));

    static async Task<Results<Ok<ClientConfigResponse>, ApiError>> Put(Tenant tenant, ClientConfigRequest body, Database db)
    {
        var given = body.Value?.AllowedOrigins;
        if (given is null) return ApiError.Validation("value.allowed_origins is required (an empty list allows none)");
        if (given.Count > MaxOrigins) return ApiError.Validation($"at most {MaxOrigins} allowed_origins");
        var origins = new List<string>();
        foreach (var text in given)
        {
            if (Normalize(text) is not { } origin)
                return ApiError.Validation($"allowed_origins: '{Truncate(text)}' is not an origin such as https://app.example.com (a scheme, a host and an optional port; no path)");
            if (!origins.Contains(origin)) origins.Add(origin);
        }
        await using var scope = await db.BeginWriteAsync();
        // Two saves at once take turns on the tenant's row, so the second replaces the first instead of colliding with it.
        LockOrder.Take(scope.Transaction, LockOrder.Level.Tenant, tenant.Id);
        await scope.Connection.QuerySingleAsync(scope.Transaction, $"SELECT id FROM tenants WHERE id = @t{db.ForUpdate}", r => r.Str("id"), ("t", tenant.Id));
        await scope.Connection.ExecAsync(scope.Transaction, "DELETE FROM client_origins WHERE tenant_id = @t", ("t", tenant.Id));
        foreach (var origin in origins)
            await scope.Connection.ExecAsync(scope.Transaction, "INSERT INTO client_origins (tenant_id, origin) VALUES (@t, @o)", ("t", tenant.Id), ("o", origin));
        await scope.CommitAsync();
        return TypedResults.Ok(new ClientConfigResponse("client_config", new ClientConfigValue(origins)));
    }

    static string Truncate(string? s) => s is null ? "" : s.Length <= 60 ? s : s[..60] + "…";

    /// <summary>An origin as browsers send it (lower-case scheme and host, no default port, no path), or null when it is none.</summary>
    public static string? Normalize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 200) return null;
        var trimmed = text.Trim();
        if (trimmed.EndsWith('/')) trimmed = trimmed[..^1];
        if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri)) return null;
        if (uri.Scheme is not ("https" or "http") || uri.UserInfo.Length > 0 || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            return null;
        return uri.IsDefaultPort ? $"{uri.Scheme}://{uri.IdnHost}" : $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}";
    }

    static async Task<List<string>> OfTenantAsync(Database db, string tenantId)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null, "SELECT origin FROM client_origins WHERE tenant_id = @t ORDER BY origin", r => r.Str("origin"), ("t", tenantId));
    }

    static async Task<bool> AllowsAsync(Database db, string? tenantId, string origin)
    {
        await using var c = await db.OpenAsync();
        var sql = tenantId is null
            ? "SELECT COUNT(*) FROM client_origins WHERE origin = @o"
            : "SELECT COUNT(*) FROM client_origins WHERE origin = @o AND tenant_id = @t";
        return await c.ScalarLongAsync(null, sql, ("o", origin), ("t", tenantId)) > 0;
    }

    static void Allow(HttpResponse response, string origin)
    {
        response.Headers.AccessControlAllowOrigin = origin;
        response.Headers.Vary = "Origin";
    }

    /// <summary>
    /// Answers preflights: for the customer API, when some tenant allows the origin; for everything else under /v1,
    /// never. Runs before authentication, since a preflight carries no credentials.
    /// </summary>
    public static void UseClientCors(this WebApplication app) =>
        app.UseWhen(c => HttpMethods.IsOptions(c.Request.Method) && c.Request.Path.StartsWithSegments("/v1"), branch => branch.Run(async http =>
        {
            var origin = http.Request.Headers.Origin.ToString();
            var customerApi = http.Request.Path.StartsWithSegments(CustomerTokens.PathPrefix);
            if (customerApi && Normalize(origin) == origin && await AllowsAsync(http.RequestServices.GetRequiredService<Database>(), null, origin))
            {
                Allow(http.Response, origin);
                http.Response.Headers.AccessControlAllowMethods = AllowedMethods;
                http.Response.Headers.AccessControlAllowHeaders = AllowedHeaders;
                http.Response.Headers.AccessControlMaxAge = "600";
                http.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }
            await new ApiError(403, ErrorCodes.OriginNotAllowed, customerApi
                ? "this origin may not call the customer API: add it to client_config's allowed_origins"
                : "the secret-key API is not for browsers: call it from your server, and give browsers a customer token").ExecuteAsync(http);
        }));

    /// <summary>
    /// A customer API request from a web page: admitted, with its CORS answer, when the token's tenant allows the page's
    /// origin; refused otherwise, before it runs. A request with no <c>Origin</c> (a server, a script) is admitted.
    /// </summary>
    public static async Task<bool> AdmitAsync(HttpContext http, string tenantId)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        if (await AllowsAsync(http.RequestServices.GetRequiredService<Database>(), tenantId, origin))
        {
            Allow(http.Response, origin);
            return true;
        }
        await new ApiError(403, ErrorCodes.OriginNotAllowed, "this origin may not call the customer API with this tenant's tokens").ExecuteAsync(http);
        return false;
    }

    /// <summary>Lets a page of an allowed origin read a refusal given before the tenant was known (a bad token).</summary>
    public static async Task ExposeAsync(HttpContext http)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && await AllowsAsync(http.RequestServices.GetRequiredService<Database>(), null, origin)) Allow(http.Response, origin);
    }
}
