using Coffer.Hosting;
using Coffer.Secrets;

namespace Coffer.Storage;

/// <summary>
/// <c>coffer backup &lt;file&gt;</c>: an online copy of the SQLite database while it serves. <c>VACUUM INTO</c> reads one
/// snapshot in one read transaction, which in WAL mode does not stop writers, so the copy holds exactly what was committed
/// when the backup began: every debit acknowledged before it, none half-written. It is written under a temporary name,
/// flushed to disk and then renamed, so a crash never leaves a partial file under the name asked for.
/// PostgreSQL has its own tools for this (<c>pg_dump</c>, <c>pg_basebackup</c>), named in the refusal.
/// </summary>
public static class Backup
{
    public static async Task<int> RunAsync(Database db, CofferOptions options, string target, TextWriter output, TextWriter errors)
    {
        if (db.Kind != DbKind.Sqlite)
        {
            await errors.WriteLineAsync("coffer backup copies a SQLite database; for PostgreSQL use pg_dump (a logical copy) or " +
                                        "pg_basebackup with WAL archiving (point-in-time recovery), see README");
            return 2;
        }
        var path = Path.GetFullPath(target);
        if (path == Path.GetFullPath(db.FilePath!) || File.Exists(path))
        {
            await errors.WriteLineAsync($"{path} exists (or is the database itself); coffer backup writes a new file and overwrites nothing");
            return 2;
        }
        var partial = path + ".partial";
        File.Delete(partial);
        await using (var c = await db.OpenAsync())
            await c.ExecAsync(null, "VACUUM INTO @file", ("file", partial));
        await using (var file = new FileStream(partial, FileMode.Open, FileAccess.ReadWrite))
            file.Flush(flushToDisk: true);
        File.Move(partial, path);
        await output.WriteLineAsync($"backup: {path} ({new FileInfo(path).Length:N0} bytes), a consistent copy as of its start");
        // The copy holds sealed secrets (gateway keys, webhook secrets) but not the key that opens them, which is
        // backed up apart from the database (README, Secrets at rest).
        var key = string.IsNullOrWhiteSpace(options.MasterKey) ? $"the key file {SecretBox.KeyFilePath(db)}" : "COFFER_MASTER_KEY";
        await output.WriteLineAsync($"backup: its sealed secrets open only with {key}; keep that backed up apart from the copy");
        await output.WriteLineAsync("to restore: stop Coffer, put the copy at the database path (and the key file beside it, or set " +
                                    "COFFER_MASTER_KEY), start, and check with coffer verify");
        return 0;
    }
}
