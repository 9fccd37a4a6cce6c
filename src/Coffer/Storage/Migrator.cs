using System.Text.RegularExpressions;

namespace Coffer.Storage;

/// <summary>
/// Applies the embedded <c>Migrations/NNN_*.sql</c> scripts in order, each in its own transaction with its
/// version row, so that two nodes starting at once (or one starting twice) apply each script exactly once.
/// </summary>
public static class Migrator
{
    // Any constant works; it only has to be the same on every node.
    const long AdvisoryLockKey = 0x436F66666572;

    /// <summary>
    /// The embedded scripts in order. Two scripts with one number would apply only one of them, silently, so
    /// that is refused outright (a test runs this too).
    /// </summary>
    public static List<(string Name, int Version)> Scripts()
    {
        var scripts = typeof(Migrator).Assembly.GetManifestResourceNames()
            .Where(n => n.EndsWith(".sql", StringComparison.Ordinal) && n.Contains(".Migrations.", StringComparison.Ordinal))
            .Select(n => (Name: n, Version: int.Parse(n.Split(".Migrations.")[1][..3])))
            .OrderBy(s => s.Version)
            .ToList();
        if (scripts.GroupBy(s => s.Version).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw new InvalidOperationException($"migrations {string.Join(" and ", clash.Select(s => s.Name))} share the number {clash.Key:D3}");
        return scripts;
    }

    /// <summary>The newest migration this build carries: a database without it is not ready to serve this build.</summary>
    public static int LatestVersion { get; } = Scripts()[^1].Version;

    public static async Task MigrateAsync(Database db, TimeProvider clock, CancellationToken ct = default)
    {
        var scripts = Scripts();

        await using (var scope = await db.BeginWriteAsync(ct))
        {
            // Under the lock too: PostgreSQL's IF NOT EXISTS does not stop a concurrent create of the same table.
            await LockAsync(db, scope);
            await scope.Connection.ExecAsync(scope.Transaction,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
            await scope.CommitAsync(ct);
        }

        foreach (var (name, version) in scripts)
        {
            await using var scope = await db.BeginWriteAsync(ct);
            var c = scope.Connection;
            await LockAsync(db, scope);
            var applied = await c.ScalarLongAsync(scope.Transaction,
                "SELECT COUNT(*) FROM schema_migrations WHERE version = @v", ("v", version));
            if (applied > 0) continue;

            await using var stream = typeof(Migrator).Assembly.GetManifestResourceStream(name)!;
            var text = await new StreamReader(stream).ReadToEndAsync(ct);
            text = OfDialect(text, db.Kind).Replace("{decimal}", db.Kind == DbKind.Postgres ? "NUMERIC" : "TEXT")
                .Replace("{bytes}", db.Kind == DbKind.Postgres ? "BYTEA" : "BLOB")
                .Replace("{ordinal}", db.OrdinalCollate);
            await c.ExecAsync(scope.Transaction, text);
            await c.ExecAsync(scope.Transaction, "INSERT INTO schema_migrations (version, applied_at) VALUES (@v, @at)",
                ("v", version), ("at", clock.GetUtcNow()));
            await scope.CommitAsync(ct);
        }
    }

    /// <summary>
    /// A script's text for one database: a part between <c>-- begin sqlite only</c> and <c>-- end sqlite only</c> (or the same
    /// with <c>postgres</c>) is kept for that database alone, for a change that only one of them needs (a table rebuilt into a
    /// shape only SQLite has).
    /// </summary>
    internal static string OfDialect(string text, DbKind kind)
    {
        var (keep, drop) = kind == DbKind.Postgres ? ("postgres", "sqlite") : ("sqlite", "postgres");
        text = Regex.Replace(text, $@"^-- begin {drop} only\r?\n.*?^-- end {drop} only\r?\n?", "", RegexOptions.Singleline | RegexOptions.Multiline);
        return Regex.Replace(text, $@"^-- (begin|end) {keep} only\r?\n?", "", RegexOptions.Multiline);
    }

    /// <summary>One node migrates at a time: a transaction-scoped advisory lock on PostgreSQL; SQLite's write transaction already is one.</summary>
    static Task LockAsync(Database db, WriteScope scope) =>
        db.Kind == DbKind.Postgres
            ? scope.Connection.ExecAsync(scope.Transaction, "SELECT pg_advisory_xact_lock(@k)", ("k", AdvisoryLockKey))
            : Task.CompletedTask;
}
