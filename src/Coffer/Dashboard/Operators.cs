using System.Security.Claims;
using System.Security.Cryptography;
using Coffer.Common;
using Coffer.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Coffer.Dashboard;

public sealed record OperatorRow(string TenantId, string Id, string Email, string PasswordHash);

/// <summary>
/// Dashboard operators. Passwords are hashed with PBKDF2-SHA256 (600,000 iterations, 16-byte salt, from the
/// base library) and compared in constant time; the first operator of the default tenant comes from
/// COFFER_ADMIN_EMAIL and COFFER_ADMIN_PASSWORD, or is created and printed once.
/// </summary>
public sealed class OperatorStore(Database db, Ids ids, TimeProvider clock)
{
    public const string Scheme = "dashboard";
    public const string TenantClaim = "coffer_tenant";
    const int Iterations = 600_000;

    public static string HashPassword(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, Iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], out var iterations)) return false;
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(parts[2]), iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    public async Task<OperatorRow?> FindAsync(string email)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, "SELECT tenant_id, id, email, password_hash FROM operators WHERE email = @e",
            r => new OperatorRow(r.Str("tenant_id"), r.Str("id"), r.Str("email"), r.Str("password_hash")), ("e", email.Trim().ToLowerInvariant()));
    }

    public async Task CreateAsync(string tenantId, string email, string password)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            "INSERT INTO operators (tenant_id, id, email, password_hash, created_at) VALUES (@t, @id, @e, @h, @now) ON CONFLICT (email) DO NOTHING",
            ("t", tenantId), ("id", ids.New("op")), ("e", email.Trim().ToLowerInvariant()), ("h", HashPassword(password)), ("now", clock.GetUtcNow()));
        await scope.CommitAsync();
    }

    public async Task BootstrapAsync(string tenantId, string? email, string? password, TextWriter output)
    {
        if (!string.IsNullOrWhiteSpace(email) && !string.IsNullOrEmpty(password))
        {
            if (await FindAsync(email) is null) await CreateAsync(tenantId, email, password);
            return;
        }
        await using (var c = await db.OpenAsync())
            if (await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM operators WHERE tenant_id = @t", ("t", tenantId)) > 0) return;
        var generated = Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)).Replace('/', '_').Replace('+', '-');
        await CreateAsync(tenantId, "admin@coffer.local", generated);
        output.WriteLine($"Created the dashboard operator admin@coffer.local with password (shown once): {generated}");
    }

    public static Task SignInAsync(HttpContext http, OperatorRow op) =>
        http.SignInAsync(Scheme, new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, op.Email), new Claim(TenantClaim, op.TenantId), new Claim(ClaimTypes.NameIdentifier, op.Id)], Scheme)));

    public static void ConfigureCookie(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "coffer_dashboard";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/dashboard/sign-in";
        o.AccessDeniedPath = "/dashboard/sign-in";
        o.ExpireTimeSpan = TimeSpan.FromHours(8);
        o.SlidingExpiration = true;
    }
}
