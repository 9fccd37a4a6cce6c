using System.Security.Cryptography;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.CustomerApi;

public sealed record CustomerSessionRequest(string? CustomerId, string? ExternalCustomerId, int? ExpiresInSeconds);

public sealed record CustomerSessionResponse(string Id, string Token, DateTimeOffset ExpiresAt, string CustomerId);

/// <summary>Who a customer token speaks for: one customer of one tenant. Customer API handlers take it as a parameter.</summary>
public sealed record CustomerCaller(string TenantId, string CustomerId, string TokenId)
{
    public const string ItemKey = "coffer.customer";

    public static ValueTask<CustomerCaller?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Items.TryGetValue(ItemKey, out var c) ? c as CustomerCaller : null);
}

/// <summary>
/// Customer tokens, stored as their SHA-256 only. Never cached: a revoked token stops at once on every node, and
/// the lookup is one indexed row.
/// </summary>
public sealed class CustomerTokenStore(Database db, Ids ids, TimeProvider clock)
{
    public const string Prefix = "ctok_";

    public async Task<CustomerSessionResponse> CreateAsync(string tenantId, string customerId, TimeSpan lifetime)
    {
        var token = Prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var id = ids.New("cses");
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            """
            INSERT INTO customer_tokens (tenant_id, id, customer_id, token_hash, expires_at, revoked_at, created_at)
            VALUES (@t, @id, @c, @h, @exp, NULL, @now)
            """,
            ("t", tenantId), ("id", id), ("c", customerId), ("h", TenantStore.Hash(token)), ("exp", now + lifetime), ("now", now));
        // Tokens past their expiry are refused before anything else; their rows are pruned as new ones are made.
        await scope.Connection.ExecAsync(scope.Transaction, "DELETE FROM customer_tokens WHERE expires_at < @old", ("old", now - TimeSpan.FromDays(1)));
        await scope.CommitAsync();
        return new CustomerSessionResponse(id, token, now + lifetime, customerId);
    }

    /// <summary>The caller a token names, or null when it is unknown, expired or revoked.</summary>
    public async Task<CustomerCaller?> ResolveAsync(string token, CancellationToken ct)
    {
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length > 200) return null;
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleAsync(null,
            "SELECT tenant_id, customer_id, id FROM customer_tokens WHERE token_hash = @h AND revoked_at IS NULL AND expires_at > @now",
            r => new CustomerCaller(r.Str("tenant_id"), r.Str("customer_id"), r.Str("id")), ("h", TenantStore.Hash(token)), ("now", clock.GetUtcNow()));
    }

    public async Task<bool> RevokeAsync(string tenantId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var revoked = await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE customer_tokens SET revoked_at = @now WHERE tenant_id = @t AND id = @id AND revoked_at IS NULL",
            ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return revoked > 0;
    }
}

/// <summary>
/// The customer API's way in. The merchant's backend mints a token for one customer with its secret key
/// (<c>POST /v1/customer-sessions</c>) and hands it to its own front end, which calls <c>/v1/customer/…</c> with
/// <c>Authorization: Bearer &lt;token&gt;</c>. A token sees that customer's wallets and nothing else.
/// </summary>
public static class CustomerTokens
{
    public const string PathPrefix = "/v1/customer";
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);

    public static void MapCustomerSessions(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/customer-sessions").WithTags("Customer API");
        g.MapPost("/", Create).WithName("createCustomerSession")
            .WithSummary("Mints a customer token (60 s to 24 h) for the browser to call /v1/customer/… as this customer");
        g.MapDelete("/{id}", Revoke).WithName("revokeCustomerSession");
    }

    static async Task<Results<Created<CustomerSessionResponse>, ApiError>> Create(Tenant tenant, CustomerSessionRequest body, CustomerStore customers,
        CustomerTokenStore tokens)
    {
        if (body.ExpiresInSeconds is < 60 or > 86_400) return ApiError.Validation("expires_in_seconds must be between 60 and 86400");
        if (body.CustomerId is null && body.ExternalCustomerId is null) return ApiError.Validation("customer_id or external_customer_id is required");
        var customer = body.CustomerId is not null ? await customers.GetAsync(tenant.Id, body.CustomerId)
            : await customers.GetByExternalIdAsync(tenant.Id, body.ExternalCustomerId!);
        if (customer is null) return ApiError.NotFound("customer");
        var created = await tokens.CreateAsync(tenant.Id, customer.Id, body.ExpiresInSeconds is { } s ? TimeSpan.FromSeconds(s) : DefaultLifetime);
        return TypedResults.Created($"/v1/customer-sessions/{created.Id}", created);
    }

    static async Task<Results<NoContent, ApiError>> Revoke(Tenant tenant, string id, CustomerTokenStore tokens) =>
        await tokens.RevokeAsync(tenant.Id, id) ? TypedResults.NoContent() : ApiError.NotFound("customer session");

    /// <summary>
    /// Resolves the bearer token of every <c>/v1/customer/…</c> request (the secret-key check skips these paths), and
    /// refuses one sent from a web origin the token's tenant has not allowed (<see cref="ClientOrigins"/>).
    /// </summary>
    public static void UseCustomerTokens(this WebApplication app) =>
        app.UseWhen(c => c.Request.Path.StartsWithSegments(PathPrefix), branch => branch.Use(async (http, next) =>
        {
            var auth = http.Request.Headers.Authorization.ToString();
            var token = auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth["Bearer ".Length..].Trim() : "";
            var caller = token.Length == 0 ? null : await http.RequestServices.GetRequiredService<CustomerTokenStore>().ResolveAsync(token, http.RequestAborted);
            if (caller is null)
            {
                await ClientOrigins.ExposeAsync(http);
                await new ApiError(401, ErrorCodes.Unauthorized, "missing, expired or revoked customer token (Authorization: Bearer …)").ExecuteAsync(http);
                return;
            }
            if (!await ClientOrigins.AdmitAsync(http, caller.TenantId)) return;
            http.Items[CustomerCaller.ItemKey] = caller;
            await next(http);
        }));
}
