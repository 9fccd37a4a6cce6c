using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Tenants;

/// <summary>The tenant an API key resolved to; handlers take it as a parameter. Its id is also its environment's (<see cref="Modes"/>).</summary>
public sealed record Tenant(string Id, string Name, string Mode = Modes.Test)
{
    public const string ItemKey = "coffer.tenant";

    public bool IsLive => Mode == Modes.Live;

    internal const string Columns = "id, name, mode";

    internal static Tenant Read(DbDataReader r) => new(r.Str("id"), r.Str("name"), r.NStr("mode") ?? Modes.Test);

    public static ValueTask<Tenant?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Items.TryGetValue(ItemKey, out var t) ? t as Tenant : null);
}

/// <summary>The API key a /v1 call came with: its id and name (never its secret), for the entries that record who made them.</summary>
public sealed record ApiKeyCaller(string KeyId, string KeyName)
{
    public const string ItemKey = "coffer.api_key";

    public static ValueTask<ApiKeyCaller?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Items.TryGetValue(ItemKey, out var k) ? k as ApiKeyCaller : null);
}

public sealed record CreatedKey(string Id, string Secret, string DisplayId);

public sealed class TenantStore(Database db, Ids ids, TimeProvider clock)
{
    // Lookups by key hash are cached briefly: every API call needs one. A deleted key stops working on
    // this node at once and on other nodes within this time.
    public static readonly TimeSpan CacheTime = TimeSpan.FromSeconds(1);
    readonly ConcurrentDictionary<string, ((Tenant Tenant, ApiKeyCaller Key)? Found, DateTimeOffset Until)> _cache = new();
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

    public async Task<Tenant?> ResolveAsync(string secret, CancellationToken ct) => (await ResolveKeyAsync(secret, ct))?.Tenant;

    /// <summary>The tenant a secret belongs to, with the key itself (id and name), or null for no live key.</summary>
    public async Task<(Tenant Tenant, ApiKeyCaller Key)?> ResolveKeyAsync(string secret, CancellationToken ct)
    {
        var hash = Hash(secret);
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(hash, out var hit) && hit.Until > now) return hit.Found;
        var revocations = Interlocked.Read(ref _revocations);
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync(null,
            """
            SELECT t.id, t.name, t.mode, k.id AS key_id, k.name AS key_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
            WHERE k.key_hash = @h AND k.status = 'published' AND (k.expires_at IS NULL OR k.expires_at > @now)
            """,
            r => (Tenant.Read(r), new ApiKeyCaller(r.Str("key_id"), r.Str("key_name"))), ("h", hash), ("now", now));
        (Tenant, ApiKeyCaller)? found = rows.Count == 0 ? null : rows[0];
        if (_cache.Count > 10_000) _cache.Clear();
        if (Interlocked.Read(ref _revocations) == revocations) _cache[hash] = (found, now + CacheTime);
        return found;
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

    public async Task<Tenant> CreateTenantAsync(string name, bool isDefault, string mode = Modes.Test, CancellationToken ct = default)
    {
        var tenant = new Tenant(ids.New("tenant"), name, mode);
        await using var scope = await db.BeginWriteAsync(ct);
        await scope.Connection.ExecAsync(scope.Transaction,
            "INSERT INTO tenants (id, name, is_default, mode, created_at) VALUES (@id, @name, @d, @mode, @at)",
            ("id", tenant.Id), ("name", name), ("d", isDefault), ("mode", mode), ("at", clock.GetUtcNow()));
        await scope.CommitAsync(ct);
        return tenant;
    }

    /// <summary>The tenant as stored now, mode included: never cached, since a payment decision reads it.</summary>
    public async Task<Tenant?> GetAsync(string id, CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleAsync(null, $"SELECT {Tenant.Columns} FROM tenants WHERE id = @t", Tenant.Read, ("t", id));
    }

    /// <summary>The tenant as stored now, and when it was created (its environment's creation).</summary>
    public async Task<(Tenant Tenant, DateTimeOffset CreatedAt)?> WithCreationAsync(string id, CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        var found = await c.QueryAsync(null, $"SELECT {Tenant.Columns}, created_at FROM tenants WHERE id = @t",
            r => (Tenant.Read(r), r.Time("created_at")), ("t", id));
        return found.Count == 0 ? null : found[0];
    }

    public async Task<Tenant?> DefaultTenantAsync(CancellationToken ct = default)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleAsync(null, $"SELECT {Tenant.Columns} FROM tenants WHERE is_default = 1", Tenant.Read);
    }

    /// <summary>
    /// Puts a tenant in live mode, for good. Refused once money has moved (a ledger entry or a payment): credits
    /// bought with test cards would become real ones. The tenant's row is locked, so two requests decide once.
    /// </summary>
    public async Task<GoLiveOutcome> GoLiveAsync(string id, CancellationToken ct = default)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        LockOrder.Take(scope.Transaction, LockOrder.Level.Tenant, id);
        var tenant = await c.QuerySingleAsync(scope.Transaction, $"SELECT {Tenant.Columns} FROM tenants WHERE id = @t{db.ForUpdate}", Tenant.Read, ("t", id));
        if (tenant is null) return GoLiveOutcome.NotFound;
        if (tenant.IsLive) return GoLiveOutcome.AlreadyLive;
        var moved = await c.ScalarLongAsync(scope.Transaction,
            """
            SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM wallet_transactions WHERE tenant_id = @t LIMIT 1) e)
                 + (SELECT COUNT(*) FROM (SELECT 1 FROM payments WHERE tenant_id = @t LIMIT 1) p)
            """, ("t", id));
        if (moved > 0) return GoLiveOutcome.MoneyMoved;
        await c.ExecAsync(scope.Transaction, "UPDATE tenants SET mode = @m WHERE id = @t", ("m", Modes.Live), ("t", id));
        await scope.CommitAsync(ct);
        // Cached lookups carry the mode: they are read afresh here at once, elsewhere within CacheTime.
        Interlocked.Increment(ref _revocations);
        _cache.Clear();
        return GoLiveOutcome.WentLive;
    }

    /// <summary>
    /// The tenant's mode inside the caller's write transaction, its row share-locked until the caller commits: a
    /// tenant cannot go live meanwhile (<see cref="GoLiveAsync"/> locks the row for update), so what the caller
    /// writes counts for the mode it read.
    /// </summary>
    public async Task<string> ModeWhileWritingAsync(DbConnection c, DbTransaction tx, string tenantId)
    {
        LockOrder.Take(tx, LockOrder.Level.Tenant, tenantId);
        return await c.QuerySingleAsync(tx, $"SELECT mode FROM tenants WHERE id = @t{db.ForShare}", r => r.NStr("mode") ?? Modes.Test, ("t", tenantId)) ?? Modes.Test;
    }

    /// <summary>
    /// Start-up: a tenant stored before modes existed gets one from its gateway. A Stripe live key was taking real
    /// money, so that tenant is live; every other one is in test mode, where its sandbox keeps working.
    /// </summary>
    public async Task SettleModesAsync(Func<string, Task<bool>> takesRealMoney, CancellationToken ct = default)
    {
        List<string> unsettled;
        await using (var c = await db.OpenAsync(ct))
            unsettled = await c.QueryAsync(null, "SELECT id FROM tenants WHERE mode IS NULL", r => r.Str("id"));
        foreach (var id in unsettled)
        {
            var mode = await takesRealMoney(id) ? Modes.Live : Modes.Test;
            await using var scope = await db.BeginWriteAsync(ct);
            await scope.Connection.ExecAsync(scope.Transaction, "UPDATE tenants SET mode = @m WHERE id = @t AND mode IS NULL", ("m", mode), ("t", id));
            await scope.CommitAsync(ct);
        }
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

    /// <summary>The id of the tenant's published key with this hash, or null.</summary>
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
            try { tenant = await CreateTenantAsync("default", isDefault: true, ct: ct); }
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
