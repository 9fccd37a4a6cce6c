using System.Data.Common;
using System.Security.Cryptography;

namespace Coffer.Storage;

/// <summary>
/// The one lease of every work queue (webhook deliveries, auto top-up attempts, alerts being mailed, payments and
/// refunds being reconciled): a row is taken by setting <c>leased_until</c> and <c>leased_by</c> (this node), and it
/// is free again once it is released or once <c>leased_until</c> has passed. A node that dies holding work therefore
/// strands nothing: another node, or this one after its restart, takes the row when the lease runs out. What the
/// work records afterwards is written only while the lease is still the one taken (<see cref="LeaseToken.Held"/>),
/// so a node that was too slow cannot overwrite what the node that took over recorded.
/// </summary>
public sealed class Leases
{
    /// <summary>This node's name in <c>leased_by</c>: unique per process, readable by an operator.</summary>
    public string Owner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    /// <summary>The condition of a row nobody holds: never leased, released, or its lease ran out (parameter <c>@now</c>).</summary>
    public const string Free = "(leased_until IS NULL OR leased_until <= @now)";

    /// <summary>The assignments that give a row back.</summary>
    public const string Release = "leased_until = NULL, leased_by = NULL";

    /// <summary>
    /// Within the caller's write transaction, leases up to <paramref name="batch"/> free rows of <paramref name="table"/>
    /// matching <paramref name="due"/>, at most <paramref name="share"/> per tenant, oldest <paramref name="oldest"/> first
    /// (<see cref="FairShare"/>), until now + <paramref name="lease"/>; <paramref name="alsoSet"/> are further assignments
    /// of the same update. Returns the lease and the leased rows as <paramref name="returning"/> reads them.
    /// </summary>
    public async Task<(LeaseToken Lease, List<T> Rows)> TakeAsync<T>(WriteScope scope, DbKind kind, string table, string due, string oldest,
        int share, int batch, DateTimeOffset now, TimeSpan lease, string? alsoSet, string returning, Func<DbDataReader, T> read,
        params (string, object?)[] args)
    {
        var token = new LeaseToken(Owner, now + lease);
        var keys = await FairShare.PickAsync(scope, kind, table, $"{due} AND {Free}", oldest, share, batch, [.. args, ("now", now)]);
        if (keys.Count == 0) return (token, []);
        var values = new List<(string, object?)>([.. args, ("now", now), .. token.Args]);
        var picked = FairShare.Values(keys, values);
        // A row still naming a holder was not released: its lease ran out, and this node takes it over.
        if (Hosting.Telemetry.CountsTakeovers)
            Hosting.Telemetry.TakenOver(table, await scope.Connection.ScalarLongAsync(scope.Transaction,
                $"SELECT COUNT(*) FROM {table} WHERE (tenant_id, id) IN ({picked}) AND leased_by IS NOT NULL", [.. values]));
        var rows = await scope.Connection.QueryAsync(scope.Transaction,
            $"""
            UPDATE {table} SET leased_until = @lease_until, leased_by = @lease_by{(alsoSet is null ? "" : ", " + alsoSet)}
            WHERE (tenant_id, id) IN ({picked})
            RETURNING {returning}
            """,
            read, [.. values]);
        return (token, rows);
    }
}

/// <summary>One round's lease of its rows: who took them and until when.</summary>
public readonly record struct LeaseToken(string Owner, DateTimeOffset Until)
{
    /// <summary>The condition of a row still under this lease (parameters from <see cref="Args"/>).</summary>
    public const string Held = "leased_by = @lease_by AND leased_until = @lease_until";

    public (string, object?)[] Args => [("lease_by", Owner), ("lease_until", Until)];
}
