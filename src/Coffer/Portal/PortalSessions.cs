using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Pages;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Portal;

public sealed record PortalSessionRequest(string? CustomerId, string? ExternalCustomerId, int? ExpiresInSeconds);

/// <summary>What a signed portal link names: whose portal, until when, and the nonce that makes it single-use.</summary>
public sealed record PortalLink(string TenantId, string CustomerId, DateTimeOffset ExpiresAt, string Nonce);

public sealed record PortalSessionResponse(string Url, DateTimeOffset ExpiresAt, string CustomerId);

/// <summary>
/// The customer portal's way in: the merchant backend asks for a link (<c>POST /v1/portal/sessions</c>), Coffer
/// answers a short-lived URL signed with a server key (HMAC-SHA256 over tenant, customer and expiry), and
/// opening it signs the customer in to their own data only, with a session cookie of its own. A link opens
/// once (its nonce is recorded in <c>portal_sessions</c>), and the session it starts ends at the link's own
/// expiry, or earlier when the customer signs out; the cookie is checked against that row on every request.
/// </summary>
public static class PortalSessions
{
    public const string Scheme = "portal";
    public const string TenantClaim = "coffer_tenant";
    public const string CustomerClaim = "coffer_customer";
    public const string SessionClaim = "coffer_portal_session";
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(1);

    public static void MapPortalSessions(this RouteGroupBuilder v1) =>
        v1.MapPost("/portal/sessions", Create).WithTags("Portal").WithName("createPortalSession");

    static async Task<Results<Created<PortalSessionResponse>, ApiError>> Create(
        Tenant tenant, PortalSessionRequest body, CustomerStore customers, ServerKeys keys, TimeProvider clock, Hosting.CofferOptions options, HttpRequest http)
    {
        if (body.ExpiresInSeconds is < 60 or > 3600) return ApiError.Validation("expires_in_seconds must be between 60 and 3600");
        var customer = body.CustomerId is not null ? await customers.GetAsync(tenant.Id, body.CustomerId)
            : body.ExternalCustomerId is not null ? await customers.GetByExternalIdAsync(tenant.Id, body.ExternalCustomerId)
            : null;
        if (body.CustomerId is null && body.ExternalCustomerId is null) return ApiError.Validation("customer_id or external_customer_id is required");
        if (customer is null) return ApiError.NotFound("customer");
        var expires = clock.GetUtcNow() + (body.ExpiresInSeconds is { } s ? TimeSpan.FromSeconds(s) : DefaultLifetime);
        var token = await SignAsync(keys, tenant.Id, customer.Id, expires, Base64Url(RandomNumberGenerator.GetBytes(16)));
        var baseUrl = PublicUrl.Of(options, http);
        return TypedResults.Created((string?)null, new PortalSessionResponse($"{baseUrl}/portal/enter?token={token}", expires, customer.Id));
    }

    public static async Task<string> SignAsync(ServerKeys keys, string tenantId, string customerId, DateTimeOffset expires, string nonce)
    {
        var payload = Base64Url(Encoding.UTF8.GetBytes($"{tenantId}|{customerId}|{expires.ToUnixTimeSeconds()}|{nonce}"));
        var mac = Base64Url(HMACSHA256.HashData(await keys.GetAsync("portal"), Encoding.UTF8.GetBytes(payload)));
        return $"{payload}.{mac}";
    }

    /// <summary>What a token names, or null when it is forged, malformed or expired (whether it was used already is not checked here).</summary>
    public static async Task<PortalLink?> VerifyAsync(ServerKeys keys, string? token, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 1000 || token.Split('.') is not [var payload, var mac]) return null;
        var expected = HMACSHA256.HashData(await keys.GetAsync("portal"), Encoding.UTF8.GetBytes(payload));
        byte[] given;
        try { given = FromBase64Url(mac); }
        catch (FormatException) { return null; }
        if (!CryptographicOperations.FixedTimeEquals(expected, given)) return null;
        var parts = Encoding.UTF8.GetString(FromBase64Url(payload)).Split('|');
        if (parts.Length != 4 || !long.TryParse(parts[2], out var exp) || DateTimeOffset.FromUnixTimeSeconds(exp) <= now || parts[3].Length == 0) return null;
        return new PortalLink(parts[0], parts[1], DateTimeOffset.FromUnixTimeSeconds(exp), parts[3]);
    }

    /// <summary>
    /// Consumes the link: true the first time on any node (the nonce's row is inserted), false ever after.
    /// Rows of links past their expiry are pruned here, since such a link is refused before its nonce is looked at.
    /// </summary>
    public static async Task<bool> ConsumeAsync(Database db, PortalLink link, DateTimeOffset now)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction, "DELETE FROM portal_sessions WHERE expires_at <= @now", ("now", now));
        var inserted = await scope.Connection.ExecAsync(scope.Transaction,
            "INSERT INTO portal_sessions (nonce, tenant_id, customer_id, expires_at) VALUES (@n, @t, @c, @exp) ON CONFLICT (nonce) DO NOTHING",
            ("n", link.Nonce), ("t", link.TenantId), ("c", link.CustomerId), ("exp", link.ExpiresAt));
        await scope.CommitAsync();
        return inserted == 1;
    }

    public static async Task RevokeAsync(Database db, ClaimsPrincipal user, DateTimeOffset now)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction, "UPDATE portal_sessions SET signed_out_at = @now WHERE nonce = @n AND signed_out_at IS NULL",
            ("now", now), ("n", user.FindFirstValue(SessionClaim)));
        await scope.CommitAsync();
    }

    static async Task<bool> IsCurrentAsync(Database db, ClaimsPrincipal user, DateTimeOffset now)
    {
        if (user.FindFirstValue(SessionClaim) is not { Length: > 0 } nonce) return false;
        await using var c = await db.OpenAsync();
        return await c.ScalarLongAsync(null,
            "SELECT COUNT(*) FROM portal_sessions WHERE nonce = @n AND tenant_id = @t AND customer_id = @c AND signed_out_at IS NULL AND expires_at > @now",
            ("n", nonce), ("t", user.FindFirstValue(TenantClaim)), ("c", user.FindFirstValue(CustomerClaim)), ("now", now)) == 1;
    }

    // The cookie expires with the link: the merchant chose how long this customer may stay, and no activity extends it.
    public static Task SignInAsync(HttpContext http, PortalLink link) =>
        http.SignInAsync(Scheme, new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(TenantClaim, link.TenantId), new Claim(CustomerClaim, link.CustomerId), new Claim(SessionClaim, link.Nonce)], Scheme)),
            new AuthenticationProperties { ExpiresUtc = link.ExpiresAt, IsPersistent = false, AllowRefresh = false });

    public static void ConfigureCookie(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "coffer_portal";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Lax;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/portal/signed-out";
        o.AccessDeniedPath = "/portal/signed-out";
        o.ExpireTimeSpan = MaxLifetime;
        o.SlidingExpiration = false;
        o.Events.OnValidatePrincipal = async context =>
        {
            var services = context.HttpContext.RequestServices;
            if (context.Principal is { } user
                && await IsCurrentAsync(services.GetRequiredService<Database>(), user, services.GetRequiredService<TimeProvider>().GetUtcNow())) return;
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        };
    }

    internal static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    static byte[] FromBase64Url(string s) => Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/') + new string('=', (4 - s.Length % 4) % 4));
}
