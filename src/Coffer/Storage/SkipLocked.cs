namespace Coffer.Storage;

/// <summary>
/// Taking queued work on PostgreSQL: the rows a SELECT returns are locked for the transaction, and rows another
/// transaction holds are passed over rather than waited for, so several nodes taking work at once each get their
/// own rows. SQLite needs nothing: its write transaction already admits one writer at a time.
/// </summary>
public static class SkipLocked
{
    /// <summary>The clause to end a <c>SELECT … LIMIT n</c> with, inside a write transaction.</summary>
    public static string Clause(DbKind kind) => kind == DbKind.Postgres ? " FOR UPDATE SKIP LOCKED" : "";
}
