using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Coffer.Dashboard;

public sealed record OperatorRow(string TenantId, string Id, string Email, string PasswordHash, int FailedSignIns, DateTimeOffset? LockedUntil, string SessionStamp);

/// <summary>What a sign-in attempt came to.</summary>
public abstract record SignInOutcome
{
    public sealed record SignedIn(OperatorRow Operator, string SessionStamp) : SignInOutcome;
    public sealed record Refused : SignInOutcome;
    public sealed record LockedOut(DateTimeOffset Until) : SignInOutcome;
}

/// <summary>
/// PBKDF2-SHA256 of dashboard passwords (600,000 iterations, 16-byte salt, from the base library), compared in
/// constant time. Each hash names its iteration count and is checked with it. The suite's in-process hosts register a
/// cheaper count, since at 600,000 a hash costs about 0.15 s of CPU and every test host creates an operator.
/// </summary>
public sealed class PasswordHashing(int iterations = PasswordHashing.Iterations)
{
    public const int Iterations = 600_000;

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], out var count)) return false;
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(parts[2]), count, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}

/// <summary>
/// Dashboard operators, their passwords hashed by <see cref="PasswordHashing"/>; the first operator of the default
/// tenant comes from COFFER_ADMIN_EMAIL and COFFER_ADMIN_PASSWORD, or is created and printed once.
/// </summary>
public sealed class OperatorStore(Database db, Ids ids, TimeProvider clock, PasswordHashing hashing)
{
    public const string Scheme = "dashboard";
    public const string TenantClaim = "coffer_tenant";
    public const string StampClaim = "coffer_session_stamp";
    public const string SignedInAtClaim = "coffer_signed_in_at";

    /// <summary>A session ends this long after sign-in however active it is (it also ends after <see cref="IdleLifetime"/> idle).</summary>
    public static readonly TimeSpan AbsoluteLifetime = TimeSpan.FromHours(12);
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(8);

    /// <summary>Failed sign-ins in a row after which an account is locked; each further failure doubles the lock.</summary>
    public const int LockoutThreshold = 5;
    public static readonly TimeSpan FirstLockout = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxLockout = TimeSpan.FromHours(1);

    // Checked when the e-mail names no operator, so that an unknown e-mail costs the same hashing as a known one.
    readonly string _dummyHash = hashing.Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)));

    public async Task<OperatorRow?> FindAsync(string email)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null,
            "SELECT tenant_id, id, email, password_hash, failed_sign_ins, locked_until, session_stamp FROM operators WHERE email = @e",
            r => new OperatorRow(r.Str("tenant_id"), r.Str("id"), r.Str("email"), r.Str("password_hash"), (int)r.Long("failed_sign_ins"),
                r.NTime("locked_until"), r.Str("session_stamp")), ("e", email.Trim().ToLowerInvariant()));
    }

    /// <summary>How long an account stays locked after this many failures in a row: none below the threshold, then doubling, bounded.</summary>
    public static TimeSpan? LockoutFor(int failures) => failures < LockoutThreshold ? null
        : TimeSpan.FromTicks(Math.Min(MaxLockout.Ticks, FirstLockout.Ticks << Math.Min(failures - LockoutThreshold, 20)));

    /// <summary>
    /// Checks a password. The same hashing is done whether or not the e-mail is known and whether or not the
    /// account is locked, so neither shows in the time an answer takes; a locked account refuses even the right password.
    /// </summary>
    public async Task<SignInOutcome> SignInAsync(string? email, string? password)
    {
        var op = string.IsNullOrWhiteSpace(email) ? null : await FindAsync(email);
        var matches = PasswordHashing.Verify(password ?? "", op?.PasswordHash ?? _dummyHash) && op is not null && !string.IsNullOrEmpty(password);
        if (op is null) return new SignInOutcome.Refused();
        var now = clock.GetUtcNow();
        if (op.LockedUntil is { } until && until > now) return new SignInOutcome.LockedOut(until);
        await using var scope = await db.BeginWriteAsync();
        var args = new (string, object?)[] { ("t", op.TenantId), ("id", op.Id), ("stamp", NewStamp()) };
        if (matches)
        {
            // The stamp is kept while it is set, so signing in on a second device does not end the first.
            var stamp = await scope.Connection.QuerySingleAsync(scope.Transaction,
                "UPDATE operators SET failed_sign_ins = 0, locked_until = NULL, session_stamp = CASE WHEN session_stamp = '' THEN @stamp ELSE session_stamp END WHERE tenant_id = @t AND id = @id RETURNING session_stamp",
                r => r.Str("session_stamp"), args);
            await scope.CommitAsync();
            return new SignInOutcome.SignedIn(op, stamp!);
        }
        // One statement counts the failure, so failures racing on several nodes are all counted.
        var failures = (int)await scope.Connection.ScalarLongAsync(scope.Transaction,
            "UPDATE operators SET failed_sign_ins = failed_sign_ins + 1 WHERE tenant_id = @t AND id = @id RETURNING failed_sign_ins", args);
        if (LockoutFor(failures) is { } lockout)
            await scope.Connection.ExecAsync(scope.Transaction, "UPDATE operators SET locked_until = @until WHERE tenant_id = @t AND id = @id",
                ("t", op.TenantId), ("id", op.Id), ("until", now + lockout));
        await scope.CommitAsync();
        return new SignInOutcome.Refused();
    }

    /// <summary>Ends every session of the operator on every node: their cookies carry the old stamp.</summary>
    public async Task SignOutEverywhereAsync(string tenantId, string operatorId)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction, "UPDATE operators SET session_stamp = '' WHERE tenant_id = @t AND id = @id",
            ("t", tenantId), ("id", operatorId));
        await scope.CommitAsync();
    }

    /// <summary>Whether a session cookie is still good: within its absolute lifetime and carrying the operator's current stamp.</summary>
    public async Task<bool> SessionIsCurrentAsync(ClaimsPrincipal user)
    {
        if (user.FindFirstValue(StampClaim) is not { Length: > 0 } stamp
            || !long.TryParse(user.FindFirstValue(SignedInAtClaim), out var signedInAt)
            || DateTimeOffset.FromUnixTimeSeconds(signedInAt) + AbsoluteLifetime <= clock.GetUtcNow()) return false;
        await using var c = await db.OpenAsync();
        var current = await c.QuerySingleAsync(null, "SELECT session_stamp FROM operators WHERE tenant_id = @t AND id = @id", r => r.Str("session_stamp"),
            ("t", user.FindFirstValue(TenantClaim)), ("id", user.FindFirstValue(ClaimTypes.NameIdentifier)));
        return current is { Length: > 0 } && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(current), Encoding.UTF8.GetBytes(stamp));
    }

    static string NewStamp() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    public async Task CreateAsync(string tenantId, string email, string password)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            "INSERT INTO operators (tenant_id, id, email, password_hash, created_at) VALUES (@t, @id, @e, @h, @now) ON CONFLICT (email) DO NOTHING",
            ("t", tenantId), ("id", ids.New("op")), ("e", email.Trim().ToLowerInvariant()), ("h", hashing.Hash(password)), ("now", clock.GetUtcNow()));
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

    public static Task SignInAsync(HttpContext http, SignInOutcome.SignedIn signedIn, DateTimeOffset now) =>
        http.SignInAsync(Scheme, new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, signedIn.Operator.Email), new Claim(TenantClaim, signedIn.Operator.TenantId),
             new Claim(ClaimTypes.NameIdentifier, signedIn.Operator.Id), new Claim(StampClaim, signedIn.SessionStamp),
             new Claim(SignedInAtClaim, now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture))], Scheme)));

    public static void ConfigureCookie(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "coffer_dashboard";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/dashboard/sign-in";
        o.AccessDeniedPath = "/dashboard/sign-in";
        o.ExpireTimeSpan = IdleLifetime;
        o.SlidingExpiration = true;
        o.Events.OnValidatePrincipal = async context =>
        {
            if (context.Principal is { } user && await context.HttpContext.RequestServices.GetRequiredService<OperatorStore>().SessionIsCurrentAsync(user)) return;
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        };
    }
}
