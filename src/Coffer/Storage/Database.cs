using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Coffer.Storage;

public enum DbKind { Sqlite, Postgres }

/// <summary>
/// The one connection setting (COFFER_DATABASE) turned into a provider. Everything above this class writes
/// one SQL dialect with <c>@name</c> parameters; the few differences are named members here.
/// </summary>
public sealed class Database : IAsyncDisposable
{
    readonly NpgsqlDataSource? _postgres;
    // Its own pool, used only by whole-database scans: the same server with no command time limit.
    readonly Lazy<NpgsqlDataSource>? _postgresScans;
    readonly string? _sqlite;
    readonly CommitFaults? _faults;

    // SQLite allows one writer at a time anyway; queueing writers in-process avoids busy-waiting on the file
    // lock. BEGIN IMMEDIATE still protects the file against other processes.
    readonly SemaphoreSlim _sqliteWriter = new(1, 1);
    readonly SqliteCheckpointer? _checkpointer;

    /// <summary>
    /// SQLite's one writer at a time writes through one connection, used only under <see cref="_sqliteWriter"/>. Its page
    /// cache stays warm from one write to the next (a connection drops its cache whenever another one wrote since it last
    /// read, which a pooled connection taken by turns nearly always finds), and it is larger than a reader's, so a batch
    /// over a thousand wallets finds the index pages it touches in memory. Opened at the first write; opened again after a
    /// write that left it broken.
    /// </summary>
    SqliteConnection? _sqliteWriterConnection;

    /// <summary>The writer's page cache; readers keep SQLite's default (2 MiB each).</summary>
    public const int SqliteWriterCacheKiB = 16 * 1024;

    public DbKind Kind { get; }
    public string Description { get; }

    /// <summary>The SQLite file's full path; null on PostgreSQL.</summary>
    public string? FilePath { get; }

    Database(DbKind kind, string description, NpgsqlDataSource? postgres, string? sqlite, CommitFaults? faults, string? filePath = null,
        Lazy<NpgsqlDataSource>? scans = null)
    {
        Kind = kind;
        Description = description;
        FilePath = filePath;
        _postgres = postgres;
        _postgresScans = scans;
        _sqlite = sqlite;
        _faults = faults;
        if (sqlite is not null) _checkpointer = new SqliteCheckpointer(sqlite, _sqliteWriter);
    }

    /// <param name="setting">COFFER_DATABASE.</param>
    /// <param name="faults">Tests only: connection losses to simulate at commit.</param>
    public static Database Open(string? setting, CommitFaults? faults = null)
    {
        var value = string.IsNullOrWhiteSpace(setting) ? "coffer.db" : setting.Trim();
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
            value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            value = PostgresUrlToKeywords(value);
        if (value.Contains("Host=", StringComparison.OrdinalIgnoreCase))
        {
            var builder = new NpgsqlConnectionStringBuilder(value);
            var description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
            var scans = new Lazy<NpgsqlDataSource>(() => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(builder.ConnectionString) { CommandTimeout = 0 }.ConnectionString));
            return new Database(DbKind.Postgres, description, NpgsqlDataSource.Create(builder.ConnectionString), null, faults, scans: scans);
        }

        var path = Path.GetFullPath(value);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        return new Database(DbKind.Sqlite, $"SQLite {path}", null, connectionString, faults, path);
    }

    static string PostgresUrlToKeywords(string url)
    {
        var uri = new Uri(url);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase)) key = "SSL Mode";
            builder[key] = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : "";
        }
        return builder.ConnectionString;
    }

    /// <summary>
    /// A connection for a scan of the whole database (<c>verify</c>): on PostgreSQL its commands have no client-side time
    /// limit, since one query over millions of entries may take longer than the 30 s a request's may. SQLite has none.
    /// </summary>
    public async Task<DbConnection> OpenForScansAsync(CancellationToken ct = default) =>
        _postgres is null ? await OpenAsync(ct) : await _postgresScans!.Value.OpenConnectionAsync(ct);

    public async Task<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        if (_postgres is not null) return await _postgres.OpenConnectionAsync(ct);
        var connection = new SqliteConnection(_sqlite);
        await connection.OpenAsync(ct);
        // FULL: an acknowledged commit survives power loss, not only a process crash. No automatic checkpoint: the
        // SqliteCheckpointer copies the log back beside the writers, not inside a commit.
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0;";
        await pragma.ExecuteNonQueryAsync(ct);
        connection.CreateAggregate<string?, decimal, string>(ExactSumFunction, 0m, (sum, value) => value is null ? sum : sum + Parse(value), Text,
            isDeterministic: true);
        return connection;
    }

    /// <summary>
    /// A read-write transaction. On SQLite it is taken IMMEDIATE (the write lock up front) so that nothing
    /// read inside it can change before it commits; on PostgreSQL callers lock the rows they decide on.
    /// </summary>
    public async Task<WriteScope> BeginWriteAsync(CancellationToken ct = default)
    {
        if (Kind == DbKind.Sqlite)
        {
            await _sqliteWriter.WaitAsync(ct);
            try
            {
                if (_sqliteWriterConnection is not { State: ConnectionState.Open }) await OpenWriterAsync(ct);
                var connection = _sqliteWriterConnection!;
                var tx = connection.BeginTransaction(IsolationLevel.Serializable, deferred: false);
                return new WriteScope(connection, tx, _sqliteWriter, _faults, _checkpointer, keep: KeepWriter);
            }
            catch
            {
                _sqliteWriter.Release();
                throw;
            }
        }
        var pg = await OpenAsync(ct);
        var pgTx = await pg.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
        return new WriteScope(pg, pgTx, null, _faults);
    }

    async Task OpenWriterAsync(CancellationToken ct)
    {
        if (_sqliteWriterConnection is not null) await _sqliteWriterConnection.DisposeAsync();
        _sqliteWriterConnection = null;
        var connection = (SqliteConnection)await OpenAsync(ct);
        using (var cache = connection.CreateCommand())
        {
            cache.CommandText = $"PRAGMA cache_size=-{SqliteWriterCacheKiB}";
            await cache.ExecuteNonQueryAsync(ct);
        }
        // Only writes add exactly (ExactAdd): registered once, on the connection every write uses, not on every read's open.
        connection.CreateFunction<string?, string?, string?>(ExactAddFunction, (a, b) => a is null || b is null ? null : Text(Parse(a) + Parse(b)),
            isDeterministic: true);
        _sqliteWriterConnection = connection;
    }

    /// <summary>Called as a write scope ends, still under the gate: a writer connection the scope could not roll back is not used again.</summary>
    void KeepWriter(bool broken)
    {
        if (!broken) return;
        _sqliteWriterConnection?.Dispose();
        _sqliteWriterConnection = null;
    }

    /// <summary>
    /// A read-only transaction whose reads all see one snapshot, so that figures read one after another agree with each
    /// other while writes commit: REPEATABLE READ on PostgreSQL, a deferred transaction on SQLite (its first read fixes
    /// the snapshot it reads until it ends). The caller disposes both.
    /// </summary>
    public async Task<(DbConnection Connection, DbTransaction Transaction)> BeginSnapshotAsync(CancellationToken ct = default)
    {
        var c = await OpenAsync(ct);
        try
        {
            var tx = c is SqliteConnection sqlite
                ? sqlite.BeginTransaction(IsolationLevel.Serializable, deferred: true)
                : await c.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
            return (c, tx);
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    /// <summary>Row lock clause for the row a write decides on; SQLite's write transaction already excludes others.</summary>
    public string ForUpdate => Kind == DbKind.Postgres ? " FOR UPDATE" : "";

    /// <summary>A shared row lock on PostgreSQL: others may read and share it, none may change the row meanwhile.</summary>
    public string ForShare => Kind == DbKind.Postgres ? " FOR SHARE" : "";

    public string CaseInsensitiveLike => Kind == DbKind.Postgres ? "ILIKE" : "LIKE";

    /// <summary>Makes a text comparison byte by byte, as C#'s ordinal one is: PostgreSQL's default collation is the locale's.</summary>
    public string OrdinalCollate => Kind == DbKind.Postgres ? " COLLATE \"C\"" : "";

    /// <summary>
    /// <paramref name="a"/> + <paramref name="b"/> of two decimal columns or parameters, exactly, inside a write (an upsert adding to a counter):
    /// NUMERIC on PostgreSQL; SQLite stores decimals as TEXT, which its own + would add as floating point.
    /// </summary>
    public string ExactAdd(string a, string b) => Kind == DbKind.Postgres ? $"({a} + {b})" : $"{ExactAddFunction}({a}, {b})";

    /// <summary>SUM of a decimal column, exactly: SQLite's own SUM would add TEXT as floating point.</summary>
    public string ExactSum(string expression) => Kind == DbKind.Postgres ? $"SUM({expression})" : $"{ExactSumFunction}({expression})";

    /// <summary>
    /// <paramref name="column"/> is one of the values of the list parameter <c>@</c><paramref name="parameter"/> (bound to
    /// <see cref="ListValue"/>): one parameter however long the list. SQLite looks each named parameter up among all of a
    /// statement's, so a thousand of them cost it a million comparisons and a statement of thousands of placeholders to parse.
    /// </summary>
    public string InList(string column, string parameter) =>
        Kind == DbKind.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN (SELECT value FROM json_each(@{parameter}))";

    /// <summary>The value of an <see cref="InList"/> parameter: a text array on PostgreSQL, a JSON array on SQLite.</summary>
    public object ListValue(IReadOnlyCollection<string> values) =>
        Kind == DbKind.Postgres ? values.ToArray() : System.Text.Json.JsonSerializer.Serialize(values);

    const string ExactAddFunction = "coffer_exact_add";
    const string ExactSumFunction = "coffer_exact_sum";

    static decimal Parse(string text) => decimal.Parse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);

    static string Text(decimal value) => (string)Sql.ToDb(value, sqlite: true);

    public bool IsUniqueViolation(Exception e) => UniqueViolation(e);

    public static bool UniqueViolation(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException s => s.SqliteErrorCode == 19 && s.Message.Contains("UNIQUE", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>
    /// The database could not be reached or asked the client to come back (lost connection, shutdown, too many
    /// connections, a serialization failure or deadlock, a busy SQLite file): nothing was committed.
    /// </summary>
    public static bool Unavailable(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("53", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected,
        NpgsqlException => true,
        SqliteException s => s.SqliteErrorCode is 5 or 6 or 10 or 14,
        _ => false,
    };

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null) await _postgres.DisposeAsync();
        if (_postgresScans is { IsValueCreated: true }) await _postgresScans.Value.DisposeAsync();
        if (_checkpointer is not null) await _checkpointer.DisposeAsync();
        if (_sqliteWriterConnection is not null) await _sqliteWriterConnection.DisposeAsync();
        _sqliteWriter.Dispose();
    }
}

/// <param name="keep">Set for a connection the database keeps (SQLite's writer): called with whether the scope left it broken,
/// in place of closing it.</param>
public sealed class WriteScope(DbConnection connection, DbTransaction transaction, SemaphoreSlim? gate, CommitFaults? faults = null,
    SqliteCheckpointer? checkpointer = null, Action<bool>? keep = null) : IAsyncDisposable
{
    bool _done;
    public DbConnection Connection { get; } = connection;
    // A transaction object may be reused by the driver (Npgsql pools them): each scope starts its lock order afresh.
    public DbTransaction Transaction { get; } = LockOrder.Begin(transaction);

    /// <summary>
    /// Commits. Any failure of the commit itself is a <see cref="CommitOutcomeUnknownException"/>: once the
    /// commit has been sent, a lost connection cannot tell whether it took effect.
    /// </summary>
    public async Task CommitAsync(CancellationToken ct = default)
    {
        try
        {
            var fault = faults?.Take();
            if (fault == CommitFault.LostAfterCommit)
            {
                await Transaction.CommitAsync(ct);
                _done = true;
            }
            if (fault is not null) throw new IOException($"connection lost at commit (simulated: {fault})");
            await Transaction.CommitAsync(ct);
            _done = true;
        }
        catch (Exception e)
        {
            throw new CommitOutcomeUnknownException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var broken = false;
        try
        {
            if (!_done) await Transaction.RollbackAsync();
        }
        catch (Exception) when (!_done)
        {
            // A broken connection has rolled back already; the original error is the one that matters.
            broken = true;
        }
        finally
        {
            await Transaction.DisposeAsync();
            if (keep is null) await Connection.DisposeAsync();
            else keep(broken || Connection.State != ConnectionState.Open);
            gate?.Release();
            if (_done) checkpointer?.Nudge();
        }
    }
}
