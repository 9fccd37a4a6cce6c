namespace Coffer.Storage;

/// <summary>
/// Background work is leased per round, and one tenant's backlog (or one tenant's stalling server) must not take a
/// whole round: a round takes at most <c>share</c> due rows of each tenant, tenants with the oldest due work first.
/// The rows are taken tenant by tenant with <see cref="SkipLocked"/>, so several nodes leasing
/// at once each take their own share of a big tenant's backlog instead of waiting on, or skipping, the same rows.
/// </summary>
public static class FairShare
{
    /// <summary>
    /// Locks and returns the keys of the rows of <paramref name="table"/> to lease, within the caller's write transaction:
    /// rows matching <paramref name="due"/>, oldest <paramref name="oldest"/> first.
    /// </summary>
    public static async Task<List<(string TenantId, string Id)>> PickAsync(WriteScope scope, DbKind kind, string table, string due, string oldest,
        int share, int batch, params (string, object?)[] args)
    {
        var c = scope.Connection;
        var tx = scope.Transaction;
        var tenants = await c.QueryAsync(tx, $"SELECT tenant_id FROM {table} WHERE {due} GROUP BY tenant_id ORDER BY MIN({oldest}), tenant_id LIMIT @fair_n",
            r => r.Str("tenant_id"), [.. args, ("fair_n", batch)]);
        var picked = new List<(string TenantId, string Id)>();
        foreach (var tenant in tenants)
        {
            var n = Math.Min(share, batch - picked.Count);
            if (n <= 0) break;
            var ids = await c.QueryAsync(tx, $"SELECT id FROM {table} WHERE tenant_id = @fair_t AND {due} ORDER BY {oldest}, id LIMIT @fair_n{SkipLocked.Clause(kind)}",
                r => r.Str("id"), [.. args, ("fair_t", tenant), ("fair_n", n)]);
            picked.AddRange(ids.Select(id => (tenant, id)));
        }
        return picked;
    }

    /// <summary>A <c>VALUES</c> list of <paramref name="keys"/> for <c>(tenant_id, id) IN (...)</c>, its parameters added to <paramref name="args"/>.</summary>
    public static string Values(IReadOnlyList<(string TenantId, string Id)> keys, List<(string, object?)> args)
    {
        var values = new List<string>(keys.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            values.Add($"(@kt{i}, @ki{i})");
            args.Add(($"kt{i}", keys[i].TenantId));
            args.Add(($"ki{i}", keys[i].Id));
        }
        return "VALUES " + string.Join(", ", values);
    }
}
