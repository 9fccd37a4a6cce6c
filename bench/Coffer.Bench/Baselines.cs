using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Coffer.Bench;

/// <summary>
/// What the same disk and database do without Coffer, and what Coffer stores: the figures Coffer's are compared with.
/// </summary>
public static class Baselines
{
    public const string Usage = """
          Coffer.Bench sqlite-loop FILE SECONDS WALLETS
                               the raw SQLite baseline: one thread, one BEGIN IMMEDIATE; UPDATE balance; INSERT entry;
                               COMMIT per debit, WAL and synchronous=FULL as Coffer opens its database
          Coffer.Bench sizes sqlite|postgres FILE|URL
                               bytes per ledger entry, per table with its indexes, as stored now
        """;

    public static async Task<int> SqliteLoopAsync(string file, int seconds, int wallets)
    {
        await using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        await c.OpenAsync();
        await Exec(c, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
        await Exec(c, null, """
            CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, credits TEXT NOT NULL, created_at TEXT NOT NULL);
            """);
        for (var i = 1; i <= wallets; i++) await Exec(c, null, $"INSERT OR REPLACE INTO accounts VALUES ({i}, '1000000000')");
        await using var update = c.CreateCommand();
        update.CommandText = "UPDATE accounts SET balance = CAST(CAST(balance AS INTEGER) - 1 AS TEXT) WHERE id = $a";
        var ua = update.Parameters.Add("$a", SqliteType.Integer);
        await using var insert = c.CreateCommand();
        insert.CommandText = "INSERT INTO entries (account, credits, created_at) VALUES ($a, '1', $t)";
        var ia = insert.Parameters.Add("$a", SqliteType.Integer);
        var it = insert.Parameters.Add("$t", SqliteType.Text);
        var random = new Random(1);
        var clock = Stopwatch.StartNew();
        var latencies = new List<double>();
        long n = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var started = Stopwatch.GetTimestamp();
            await using (var tx = c.BeginTransaction(deferred: false))
            {
                update.Transaction = insert.Transaction = tx;
                ua.Value = ia.Value = wallets == 1 ? 1 : random.Next(1, wallets + 1);
                it.Value = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
                await update.ExecuteNonQueryAsync();
                await insert.ExecuteNonQueryAsync();
                await tx.CommitAsync();
            }
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            n++;
        }
        latencies.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sqlite-loop: {n} debits in {clock.Elapsed.TotalSeconds:F2}s = {n / clock.Elapsed.TotalSeconds:F1}/s, p99 {latencies[(int)(latencies.Count * 0.99)]:F2} ms"));
        return 0;
    }

    /// <summary>The ledger's tables, with their indexes; the rest (customers, settings) does not grow with debits.</summary>
    static readonly string[] Tables = ["wallet_transactions", "allocations", "idempotency_keys", "outbox_events", "wallets", "holds"];

    /// <summary>The tables that stay once delivered events and expired idempotency records are pruned.</summary>
    static readonly string[] Kept = ["wallet_transactions", "allocations", "wallets", "holds"];

    public static async Task<int> SizesAsync(string kind, string target)
    {
        DbConnection c = kind == "sqlite"
            ? new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString())
            : new NpgsqlConnection(ToNpgsql(target));
        await using (c)
        {
            await c.OpenAsync();
            var entries = Convert.ToInt64(await Scalar(c, "SELECT COUNT(*) FROM wallet_transactions"), CultureInfo.InvariantCulture);
            var bytes = new Dictionary<string, long>();
            foreach (var table in Tables)
                bytes[table] = kind == "sqlite"
                    ? await SqliteTableBytesAsync(target, table)
                    : Convert.ToInt64(await Scalar(c, $"SELECT pg_total_relation_size('{table}')"), CultureInfo.InvariantCulture);
            var per = Math.Max(entries, 1);
            Console.WriteLine($"sizes ({kind}): {entries} ledger entries");
            foreach (var (table, b) in bytes) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {table,-22} {b,14:N0} bytes  {b / (double)per,8:F0} per entry"));
            var total = bytes.Values.Sum();
            var kept = Kept.Sum(t => bytes[t]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bytes/entry: {total / (double)per:F0} as written, {kept / (double)per:F0} once delivered events and expired keys are pruned"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"BYTES\t{total / (double)per:F0}\t{kept / (double)per:F0}"));
        }
        return 0;
    }

    /// <summary>
    /// A table's bytes with its indexes on SQLite. The SQLite that Microsoft.Data.Sqlite ships has no <c>dbstat</c>, so the
    /// table and its indexes are copied into an empty database and its used pages counted: a fresh copy, packed as a
    /// <c>VACUUM</c> would leave it.
    /// </summary>
    static async Task<long> SqliteTableBytesAsync(string source, string table)
    {
        var copy = Path.Combine(Path.GetTempPath(), $"coffer-sizes-{Guid.NewGuid():N}.db");
        try
        {
            await using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString());
            await c.OpenAsync();
            await Exec(c, null, $"ATTACH DATABASE '{source.Replace("'", "''")}' AS src");
            var schema = new List<string>();
            await using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT sql FROM src.sqlite_schema WHERE tbl_name = $t AND sql IS NOT NULL ORDER BY type = 'index'";
                cmd.Parameters.AddWithValue("$t", table);
                await using var r = await cmd.ExecuteReaderAsync();
                while (await r.ReadAsync()) schema.Add(r.GetString(0));
            }
            if (schema.Count == 0) return 0;
            await Exec(c, null, "BEGIN");
            await Exec(c, null, schema[0]);
            await Exec(c, null, $"INSERT INTO main.{table} SELECT * FROM src.{table}");
            foreach (var index in schema.Skip(1)) await Exec(c, null, index);
            await Exec(c, null, "COMMIT");
            var pages = Convert.ToInt64(await Scalar(c, "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count)"), CultureInfo.InvariantCulture);
            var pageSize = Convert.ToInt64(await Scalar(c, "PRAGMA page_size"), CultureInfo.InvariantCulture);
            // An empty database is one page (its schema); the copy's pages beyond it are the table's.
            return (pages - 1) * pageSize;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            File.Delete(copy);
        }
    }

    static string ToNpgsql(string url)
    {
        if (!url.StartsWith("postgres", StringComparison.Ordinal)) return url;
        var u = new Uri(url);
        var userInfo = u.UserInfo.Split(':', 2);
        return new NpgsqlConnectionStringBuilder
        {
            Host = u.Host, Port = u.Port, Database = u.AbsolutePath.Trim('/'),
            Username = Uri.UnescapeDataString(userInfo[0]), Password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : null,
        }.ToString();
    }

    static async Task Exec(DbConnection c, DbTransaction? tx, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    static async Task<object?> Scalar(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return await cmd.ExecuteScalarAsync();
    }
}
