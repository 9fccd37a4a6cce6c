using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Tenants;

/// <summary>The tenant an API key resolved to; handlers take it as a parameter.</summary>
public sealed record Tenant(string Id, string Name)
{
    public const string ItemKey = "coffer.tenant";

    public static ValueTask<Tenant?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Items.TryGetValue(ItemKey, out var t) ? t as Tenant : null);
}

public sealed record CreatedKey(string Id, string Secret, string DisplayId);

public sealed class TenantStore(Database db, Ids ids, TimeProvider clock)
{
    // Lookups by key hash are cached briefly: every API call needs one. A deleted key stops working on
    // this node at once and on other nodes within this time.
    static readonly TimeSpan CacheTime = TimeSpan.FromSeconds(10);
    readonly ConcurrentDictionary<string, (Tenant? Tenant, DateTimeOffset Until)> _cache = new();
    // Bumped by every revocation: a lookup that read the key before the revocation committed must not cache it after.
    long _revocations;

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static string NewSecret()
    {
        Span<byte> bytes = stackalloc byte[24];
        RandomNumberGenerator.Fill(bytes);
        return "sk_" + Convert.ToHexStringLower(bytes);
    }

    public static string Display(string secret) => secret.Length < 12 ? "…" : secret[..6] + "…" + secret[^4..];

    public async Task<Tenant?> ResolveAsync(string secret, CancellationToken ct)
    {
        var hash = Hash(secret);
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(hash, out var hit) && hit.Until > now) return hit.Tenant;
        var revocations = Interlocked.Read(ref _revocations);
        await using var c = await db.OpenAsync(ct);
        var tenant = await c.QuerySingleAsync(null,
            """
            SELECT t.id, t.name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
            WHERE k.key_hash = @h AND k.status = 'published' AND (k.expires_at IS NULL OR k.expires_at > @now)
            """,
            r => new Tenant(r.Str("id"), r.Str("name")), ("h", hash), ("now", now));
        if (_cache.Count > 10_000) _cache.Clear();
        if (Interlocked.Read(ref _revocations) == revocations) _cache[hash] = (tenant, now + CacheTime);
        return tenant;
    }

    public const int MinConfiguredKeyLength = 32;

    /// <summary>A configured key is the default tenant's credential: long and from a plain alphabet, or the service does not start.</summary>
    public static void RequireStrongKey(string key)
    {
        if (key.Length < MinConfiguredKeyLength || key.Length > 200 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            throw new InvalidOperationException(
                $"COFFER_API_KEY must be {MinConfiguredKeyLength} to 200 characters of letters, digits, '_' and '-' (generate one with: openssl rand -hex 24)");
    }

    public void Forget(string keyHash)
    {
        Interlocked.Increment(ref _revocations);
        _cache.TryRemove(keyHash, out _);
    }

    public async Task<Tenant> CreateTenantAsync(string name, bool isDefault, CancellationToken ct = default)
    {
        var tenant = new Tenant(ids.New("tenant"), name);
        await using var scope = await db.BeginWriteAsync(ct);
        await scope.Connection.ExecAsync(scope.Transaction,
            "INSERT INTO tenants (id, name, is_default, created_at) VALUES (@id, @name, @d, @at)",
            ("id", tenant.Id), ("name", name), ("d", isDefault), ("at", clock.GetUtcNow()));
        await scope.CommitAsync(ct);
        return tenant;
    }

    public async Task<Tenant?> GetAsync(string id, CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleAsync(null, "SELECT id, name FROM tenants WHERE id = @t", r => new Tenant(r.Str("id"), r.Str("name")), ("t", id));
    }

    public async Task<Tenant?> DefaultTenantAsync(CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleAsync(null, "SELECT id, name FROM tenants WHERE is_default = 1",
            r => new Tenant(r.Str("id"), r.Str("name")));
    }

    public async Task<CreatedKey> CreateKeyAsync(string tenantId, string name, string? secret = null, DateTimeOffset? expiresAt = null, CancellationToken ct = default)
    {
        secret ??= NewSecret();
        var id = ids.New("key");
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync(ct);
        await scope.Connection.ExecAsync(scope.Transaction,
            """
            INSERT INTO api_keys (tenant_id, id, name, key_hash, display_id, status, expires_at, created_at, updated_at)
            VALUES (@t, @id, @name, @h, @disp, 'published', @exp, @now, @now)
            """,
            ("t", tenantId), ("id", id), ("name", name), ("h", Hash(secret)), ("disp", Display(secret)), ("exp", expiresAt), ("now", now));
        await scope.CommitAsync(ct);
        return new CreatedKey(id, secret, Display(secret));
    }

    public async Task<bool> KeyExistsAsync(string secret, CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM api_keys WHERE key_hash = @h", ("h", Hash(secret))) > 0;
    }

    public async Task<long> CountKeysAsync(string tenantId, CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM api_keys WHERE tenant_id = @t", ("t", tenantId));
    }

    /// <summary>
    /// Start-up: the default tenant exists; COFFER_API_KEY, when set, is one of its keys; a fresh database
    /// without it gets a generated key, printed once.
    /// </summary>
    public async Task BootstrapAsync(string? configuredKey, TextWriter output, CancellationToken ct = default)
    {
        if (!string.IsNullOrWhiteSpace(configuredKey)) RequireStrongKey(configuredKey);
        var tenant = await DefaultTenantAsync(ct);
        if (tenant is null)
        {
            try { tenant = await CreateTenantAsync("default", isDefault: true, ct); }
            catch (Exception e) when (db.IsUniqueViolation(e) || e.InnerException is not null && db.IsUniqueViolation(e.InnerException))
            {
                tenant = await DefaultTenantAsync(ct) ?? throw new InvalidOperationException("default tenant vanished", e);
            }
        }
        if (!string.IsNullOrWhiteSpace(configuredKey))
        {
            if (!await KeyExistsAsync(configuredKey, ct)) await CreateKeyAsync(tenant.Id, "COFFER_API_KEY", configuredKey, ct: ct);
            return;
        }
        if (await CountKeysAsync(tenant.Id, ct) == 0)
        {
            var key = await CreateKeyAsync(tenant.Id, "initial", ct: ct);
            output.WriteLine($"Created the default tenant's API key (shown once): {key.Secret}");
        }
    }
}
