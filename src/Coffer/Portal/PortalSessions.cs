using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Pages;
using Coffer.Tenants;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Portal;

public sealed record PortalSessionRequest(string? CustomerId, string? ExternalCustomerId, int? ExpiresInSeconds);

public sealed record PortalSessionResponse(string Url, DateTimeOffset ExpiresAt, string CustomerId);

/// <summary>
/// The customer portal's way in: the merchant backend asks for a link (<c>POST /v1/portal/sessions</c>), Coffer
/// answers a short-lived URL signed with a server key (HMAC-SHA256 over tenant, customer and expiry), and
/// opening it signs the customer in to their own data only, with a session cookie of its own.
/// </summary>
public static class PortalSessions
{
    public const string Scheme = "portal";
    public const string TenantClaim = "coffer_tenant";
    public const string CustomerClaim = "coffer_customer";
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(1);

    public static void MapPortalSessions(this RouteGroupBuilder v1) =>
        v1.MapPost("/portal/sessions", Create).WithTags("Portal").WithName("createPortalSession");

    static async Task<Results<Created<PortalSessionResponse>, ApiError>> Create(
        Tenant tenant, PortalSessionRequest body, CustomerStore customers, ServerKeys keys, TimeProvider clock, IConfiguration config, HttpRequest http)
    {
        if (body.ExpiresInSeconds is < 60 or > 3600) return ApiError.Validation("expires_in_seconds must be between 60 and 3600");
        var customer = body.CustomerId is not null ? await customers.GetAsync(tenant.Id, body.CustomerId)
            : body.ExternalCustomerId is not null ? await customers.GetByExternalIdAsync(tenant.Id, body.ExternalCustomerId)
            : null;
        if (body.CustomerId is null && body.ExternalCustomerId is null) return ApiError.Validation("customer_id or external_customer_id is required");
        if (customer is null) return ApiError.NotFound("customer");
        var expires = clock.GetUtcNow() + (body.ExpiresInSeconds is { } s ? TimeSpan.FromSeconds(s) : DefaultLifetime);
        var token = await SignAsync(keys, tenant.Id, customer.Id, expires);
        var baseUrl = PublicUrl.Of(config, http);
        return TypedResults.Created((string?)null, new PortalSessionResponse($"{baseUrl}/portal/enter?token={token}", expires, customer.Id));
    }

    public static async Task<string> SignAsync(ServerKeys keys, string tenantId, string customerId, DateTimeOffset expires)
    {
        var payload = Base64Url(Encoding.UTF8.GetBytes($"{tenantId}|{customerId}|{expires.ToUnixTimeSeconds()}"));
        var mac = Base64Url(HMACSHA256.HashData(await keys.GetAsync("portal"), Encoding.UTF8.GetBytes(payload)));
        return $"{payload}.{mac}";
    }

    /// <summary>The tenant and customer a token names, or null when it is forged, malformed or expired.</summary>
    public static async Task<(string TenantId, string CustomerId)?> VerifyAsync(ServerKeys keys, string? token, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 1000 || token.Split('.') is not [var payload, var mac]) return null;
        var expected = HMACSHA256.HashData(await keys.GetAsync("portal"), Encoding.UTF8.GetBytes(payload));
        byte[] given;
        try { given = FromBase64Url(mac); }
        catch (FormatException) { return null; }
        if (!CryptographicOperations.FixedTimeEquals(expected, given)) return null;
        var parts = Encoding.UTF8.GetString(FromBase64Url(payload)).Split('|');
        if (parts.Length != 3 || !long.TryParse(parts[2], out var exp) || DateTimeOffset.FromUnixTimeSeconds(exp) <= now) return null;
        return (parts[0], parts[1]);
    }

    public static Task SignInAsync(HttpContext http, string tenantId, string customerId, DateTimeOffset expires) =>
        http.SignInAsync(Scheme, new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(TenantClaim, tenantId), new Claim(CustomerClaim, customerId)], Scheme)),
            new AuthenticationProperties { ExpiresUtc = expires, IsPersistent = false });

    public static void ConfigureCookie(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "coffer_portal";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Lax;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/portal/signed-out";
        o.AccessDeniedPath = "/portal/signed-out";
        o.ExpireTimeSpan = TimeSpan.FromHours(1);
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    static byte[] FromBase64Url(string s) => Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/') + new string('=', (4 - s.Length % 4) % 4));
}
