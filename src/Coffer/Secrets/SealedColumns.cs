using System.Data.Common;
using Coffer.Settings;
using Coffer.Storage;

namespace Coffer.Secrets;

/// <summary>
/// Every place a secret is stored, and the passes over them: sealing what is still plain text (at start), re-sealing
/// with the current master key (<c>coffer secrets rotate</c>), and finding plain text (<c>verify</c>).
/// </summary>
public sealed class SealedColumns(Database db, SecretBox box)
{
    sealed record Location(string Table, string Keys, string Column, Func<string, Func<string, string>, string> Map)
    {
        public string[] KeyNames => Keys.Split(", ");
    }

    static readonly Location[] Locations =
    [
        new("tenants", "id", "settings", TenantSettings.MapSecrets),
        new("webhook_endpoints", "tenant_id, id", "secret", (v, f) => f(v)),
        new("webhook_endpoints", "tenant_id, id", "previous_secret", (v, f) => f(v)),
        new("server_keys", "name", "key_value", (v, f) => f(v)),
        new("data_protection_keys", "friendly_name", "xml", SealedXml.Map),
    ];

    /// <summary>Seals values written in clear and checks that every sealed one opens, so a wrong key stops the start.</summary>
    public Task<int> SealPlainTextAsync(CancellationToken ct = default) => RewriteAsync(box.SealIfPlain, ct);

    /// <summary>Re-seals every value with the current (first) key; returns how many rows changed.</summary>
    public Task<int> RotateAsync(CancellationToken ct = default) => RewriteAsync(box.Reseal, ct);

    async Task<int> RewriteAsync(Func<string, string> f, CancellationToken ct)
    {
        var changed = 0;
        foreach (var l in Locations)
        {
            List<(string[] Keys, string Value)> rows;
            await using (var c = await db.OpenAsync(ct))
                rows = await ReadAsync(c, l);
            foreach (var (keys, value) in rows)
            {
                if (!Changes(l, value, f)) continue;
                // Read again under the row lock: a setting saved meanwhile is re-sealed, not overwritten.
                await using var scope = await db.BeginWriteAsync(ct);
                var args = keys.Select((k, i) => ($"k{i}", (object?)k)).ToArray();
                var match = string.Join(" AND ", l.KeyNames.Select((k, i) => $"{k} = @k{i}"));
                var current = await scope.Connection.QuerySingleAsync(scope.Transaction,
                    $"SELECT {l.Column} FROM {l.Table} WHERE {match} AND {l.Column} IS NOT NULL{db.ForUpdate}", r => r.Str(l.Column), args);
                if (current is null) continue;
                await scope.Connection.ExecAsync(scope.Transaction, $"UPDATE {l.Table} SET {l.Column} = @v WHERE {match}",
                    [("v", l.Map(current, f)), .. args]);
                await scope.CommitAsync(ct);
                changed++;
            }
        }
        return changed;
    }

    static bool Changes(Location l, string value, Func<string, string> f)
    {
        var changed = false;
        l.Map(value, s =>
        {
            var r = f(s);
            changed |= r != s;
            return r;
        });
        return changed;
    }

    static Task<List<(string[] Keys, string Value)>> ReadAsync(DbConnection c, Location l) =>
        c.QueryAsync(null, $"SELECT {l.Keys}, {l.Column} FROM {l.Table} WHERE {l.Column} IS NOT NULL",
            r => (l.KeyNames.Select(r.Str).ToArray(), r.Str(l.Column)));

    /// <summary><c>coffer secrets rotate</c>: the exit code.</summary>
    public static async Task<int> RunCommandAsync(IServiceProvider services, string[] args)
    {
        if (args is not ["rotate"])
        {
            Console.Error.WriteLine("usage: coffer secrets rotate");
            return 2;
        }
        try
        {
            var resealed = await services.GetRequiredService<SealedColumns>().RotateAsync();
            Console.WriteLine($"{resealed} stored secrets re-sealed with master key {services.GetRequiredService<SecretBox>().CurrentKeyId}");
            return 0;
        }
        catch (Exception e) when (e is SecretKeyException or InvalidOperationException)
        {
            Console.Error.WriteLine($"secrets rotate: {e.Message}");
            return 1;
        }
    }

    /// <summary>Each stored secret that is not sealed, named by where it is (never by its value).</summary>
    public static async Task<List<string>> PlainTextAsync(DbConnection c)
    {
        var found = new List<string>();
        foreach (var l in Locations)
            foreach (var (keys, value) in await ReadAsync(c, l))
                l.Map(value, s =>
                {
                    if (!SecretBox.IsSealed(s)) found.Add($"{l.Table} {string.Join("/", keys)}: {l.Column} holds a secret in plain text");
                    return s;
                });
        return found;
    }
}
