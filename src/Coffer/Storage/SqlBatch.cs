using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Coffer.Storage;

/// <summary>
/// Statements collected while a write is decided and sent together at the end: one round trip on
/// PostgreSQL (a DbBatch, the rows of a repeated INSERT or UPDATE merged by <see cref="ArrayStatements"/>), a plain loop of
/// prepared statements on SQLite (<see cref="SqliteWrite"/>), which runs in-process and has no round trip to save.
/// </summary>
public sealed class SqlBatch
{
    readonly List<(string Sql, (string, object?)[] Args)> _statements = [];

    public int Count => _statements.Count;

    /// <summary>The statements added so far, in order.</summary>
    public IReadOnlyList<(string Sql, (string, object?)[] Args)> Statements => _statements;

    /// <summary>
    /// SQLite's prepared write statements of each database handle, by their text. Parsing a statement was about a sixth of
    /// the writer's time for single debits spread over many wallets, since every group commit prepared its statements anew.
    /// The writer keeps one connection (Database), so these live as long as its handle; the entry goes with the handle. The
    /// same text always comes with its arguments in the same order (one line of code writes it), which is what binding by
    /// position needs.
    /// </summary>
    static readonly ConditionalWeakTable<sqlite3, Dictionary<string, SqliteWrite>> Prepared = new();

    /// <summary>Texts kept per handle; past it they are all let go (texts that vary, as a lock's list of ids, stay few).</summary>
    const int MaxPrepared = 256;

    static void Forget(Dictionary<string, SqliteWrite> prepared)
    {
        foreach (var statement in prepared.Values) statement.Dispose();
        prepared.Clear();
    }

    public void Add(string sql, params (string, object?)[] args) => _statements.Add((sql, args));

    public async Task ExecuteAsync(DbConnection c, DbTransaction tx, CancellationToken ct = default)
    {
        if (_statements.Count == 0) return;
        if (c is SqliteConnection sqlite)
        {
            // SQLite runs in-process and has no round trip to save: each statement is prepared once per handle and run in turn.
            var db = sqlite.Handle ?? throw new InvalidOperationException("the SQLite connection is not open");
            var prepared = Prepared.GetOrCreateValue(db);
            foreach (var (sql, args) in _statements)
            {
                ct.ThrowIfCancellationRequested();
                if (!prepared.TryGetValue(sql, out var statement))
                {
                    if (prepared.Count >= MaxPrepared) Forget(prepared);
                    statement = prepared[sql] = SqliteWrite.Prepare(db, sql, args);
                }
                if (!statement.Run(db, args))
                {
                    // A value the direct binding does not know: Microsoft.Data.Sqlite binds it.
                    await using var cmd = c.Command(tx, sql, args);
                    await cmd.ExecuteNonQueryAsync(ct);
                }
            }
            return;
        }
        await using var batch = c.CreateBatch();
        batch.Transaction = tx;
        foreach (var (sql, args) in ArrayStatements.Merge(_statements))
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = sql;
            foreach (var (name, value) in args)
            {
                var p = command.CreateParameter();
                p.ParameterName = name;
                p.Value = Sql.ToDb(value, sqlite: false);
                command.Parameters.Add(p);
            }
            batch.BatchCommands.Add(command);
        }
        await batch.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>
/// One prepared SQLite write, bound by position and run through SQLitePCLRaw, the library under Microsoft.Data.Sqlite.
/// Microsoft.Data.Sqlite binds every parameter by its name on every run: it looks the name up in the statement (a UTF-8
/// copy of it each time) and allocates a binder per value. For the writer, which binds about sixty values per debit, that
/// was a sixth of its time and the largest share of the bytes it allocated. Here each argument's position in the statement
/// is found once, when it is prepared, and text is encoded into a buffer that is kept. The values stored are the ones
/// Microsoft.Data.Sqlite would store: both bind what <see cref="Sql.ToDb"/> gives, text as text, whole numbers as
/// integers, bytes as a blob.
/// </summary>
sealed class SqliteWrite : IDisposable
{
    readonly sqlite3_stmt _statement;
    /// <summary>For each argument, its parameter's index in the statement; 0 for an argument the statement does not use.</summary>
    readonly int[] _indexes;

    SqliteWrite(sqlite3_stmt statement, int[] indexes) => (_statement, _indexes) = (statement, indexes);

    public static SqliteWrite Prepare(sqlite3 db, string sql, (string Name, object? Value)[] args)
    {
        var rc = raw.sqlite3_prepare_v3(db, sql, raw.SQLITE_PREPARE_PERSISTENT, out var statement, out var tail);
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
        try
        {
            if (!string.IsNullOrWhiteSpace(tail)) throw new InvalidOperationException($"a batched write is one statement, not: {sql}");
            var indexes = args.Select(a => raw.sqlite3_bind_parameter_index(statement, a.Name[0] == '@' ? a.Name : "@" + a.Name)).ToArray();
            // As Microsoft.Data.Sqlite refuses to run a statement with a parameter left without a value.
            for (var i = 1; i <= raw.sqlite3_bind_parameter_count(statement); i++)
                if (!indexes.Contains(i))
                    throw new InvalidOperationException($"no value is given for {raw.sqlite3_bind_parameter_name(statement, i).utf8_to_string()} in: {sql}");
            return new SqliteWrite(statement, indexes);
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }

    /// <summary>Binds <paramref name="args"/> and runs the statement; false, with nothing run, when a value is of a kind bound elsewhere.</summary>
    public bool Run(sqlite3 db, (string Name, object? Value)[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var index = _indexes[i];
            if (index == 0) continue;
            var rc = Sql.ToDb(args[i].Value, sqlite: true) switch
            {
                DBNull => raw.sqlite3_bind_null(_statement, index),
                string text => raw.sqlite3_bind_text(_statement, index, Utf8(text)),
                long n => raw.sqlite3_bind_int64(_statement, index, n),
                int n => raw.sqlite3_bind_int64(_statement, index, n),
                byte[] bytes => raw.sqlite3_bind_blob(_statement, index, bytes),
                _ => -1,
            };
            if (rc == -1)
            {
                raw.sqlite3_clear_bindings(_statement);
                return false;
            }
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
        }
        int step;
        while ((step = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW) { }
        try
        {
            if (step != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(step, db);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
        return true;
    }

    // Text is bound as UTF-8 from a buffer kept per thread (SQLite copies what is bound), encoded as Microsoft.Data.Sqlite
    // encodes it, so what is stored is the same.
    [ThreadStatic] static byte[]? utf8;

    static ReadOnlySpan<byte> Utf8(string text)
    {
        var size = Encoding.UTF8.GetMaxByteCount(text.Length);
        var buffer = KeptBuffer.AtLeast(ref utf8, size);
        return buffer.AsSpan(0, Encoding.UTF8.GetBytes(text, buffer));
    }

    public void Dispose() => _statement.Dispose();
}
