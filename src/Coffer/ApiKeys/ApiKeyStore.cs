using Coffer.Common;
using Coffer.Storage;
using Coffer.Tenants;

namespace Coffer.ApiKeys;

/// <summary>A tenant's API keys as the keys API shows them; creating one (and checking one) is <see cref="TenantStore"/>'s.</summary>
public sealed class ApiKeyStore(Database db, TenantStore tenants, TimeProvider clock)
{
    const string Columns = "id, name, display_id, status, expires_at, created_at, updated_at";

    static SecretDto Read(System.Data.Common.DbDataReader r) => new(
        r.Str("id"), r.Str("name"), "private_key", "flexprice", r.Str("display_id"), ["read", "write"], "user", r.Str("status"),
        r.NTime("expires_at"), null, r.Time("created_at"), r.Time("updated_at"));

    public async Task<SecretDto?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {Columns} FROM api_keys WHERE tenant_id = @t AND id = @id", Read, ("t", tenantId), ("id", id));
    }

    public async Task<ListResponse<SecretDto>> ListAsync(string tenantId, string status, int limit, int offset)
    {
        await using var c = await db.OpenAsync();
        var where = Where.Tenant(tenantId).Eq("status", "s", status);
        return (await c.PageAsync(Columns, "api_keys", where, Sql.OrderBy("created_at", ascending: false), limit, offset, Read)).Response();
    }

    /// <summary>Deletes a published key; it stops working on this node at once. False when there is no such key.</summary>
    public async Task<bool> DeleteAsync(string tenantId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var hash = await scope.Connection.QuerySingleAsync(scope.Transaction,
            "SELECT key_hash FROM api_keys WHERE tenant_id = @t AND id = @id AND status = 'published'", r => r.Str("key_hash"),
            ("t", tenantId), ("id", id));
        if (hash is null) return false;
        await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE api_keys SET status = 'deleted', updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        tenants.Forget(hash);
        return true;
    }
}
