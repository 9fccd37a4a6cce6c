using System.Data.Common;
using System.Globalization;
using Coffer.Ledger;

namespace Coffer.Storage;

/// <summary>
/// Thin, explicit ADO.NET helpers. Decimals travel as TEXT on SQLite (its REAL would lose digits) and as
/// NUMERIC on PostgreSQL; instants are microseconds since the Unix epoch on both, so ordering and ranges
/// compare integers.
/// </summary>
public static class Sql
{
    public static DbCommand Command(this DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        var sqlite = connection is Microsoft.Data.Sqlite.SqliteConnection;
        foreach (var (name, value) in args)
        {
            var p = cmd.CreateParameter();
            // Microsoft.Data.Sqlite looks a name up as given, then (to check it is not ambiguous) under each of its three
            // prefixes: four lookups and four UTF-8 copies per parameter per execution, half the CPU of a large batch.
            // Named as the SQL writes it, "@x" is found at the first lookup.
            p.ParameterName = sqlite && name[0] != '@' ? "@" + name : name;
            p.Value = ToDb(value, sqlite);
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    public static object ToDb(object? value, bool sqlite) => value switch
    {
        null => DBNull.Value,
        decimal d when sqlite => Money.Normalize(d).ToString(CultureInfo.InvariantCulture),
        decimal d => Money.Normalize(d),
        DateTimeOffset t => ToMicros(t),
        bool b => b ? 1 : 0,
        _ => value,
    };

    public static long ToMicros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    public static async Task<int> ExecAsync(this DbConnection c, DbTransaction? tx, string sql, params (string, object?)[] args)
    {
        await using var cmd = c.Command(tx, sql, args);
        return await cmd.ExecuteNonQueryAsync();
    }

    public static async Task<List<T>> QueryAsync<T>(
        this DbConnection c, DbTransaction? tx, string sql, Func<DbDataReader, T> map, params (string, object?)[] args)
    {
        await using var cmd = c.Command(tx, sql, args);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync()) rows.Add(map(reader));
        return rows;
    }

    public static async Task<T?> QuerySingleAsync<T>(
        this DbConnection c, DbTransaction? tx, string sql, Func<DbDataReader, T> map, params (string, object?)[] args) where T : class
    {
        await using var cmd = c.Command(tx, sql, args);
        await using var reader = await cmd.ExecuteReaderAsync();
        return await reader.ReadAsync() ? map(reader) : null;
    }

    public static async Task<long> ScalarLongAsync(this DbConnection c, DbTransaction? tx, string sql, params (string, object?)[] args)
    {
        await using var cmd = c.Command(tx, sql, args);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Several queries in one round trip on PostgreSQL (a DbBatch, executed in order, so reads listed after a
    /// lock run after it is taken); one after another on SQLite. <paramref name="onRow"/> gets the index of the
    /// statement each row answers.
    /// </summary>
    public static async Task ReadManyAsync(this DbConnection c, DbTransaction? tx, IReadOnlyList<(string Sql, (string, object?)[] Args)> statements,
        Action<int, DbDataReader> onRow)
    {
        if (!c.CanCreateBatch)
        {
            for (var i = 0; i < statements.Count; i++)
            {
                await using var cmd = c.Command(tx, statements[i].Sql, statements[i].Args);
                await using var reader = await cmd.ExecuteReaderAsync();
                while (await reader.ReadAsync()) onRow(i, reader);
            }
            return;
        }
        await using var batch = c.CreateBatch();
        batch.Transaction = tx;
        foreach (var (sql, args) in statements)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = sql;
            foreach (var (name, value) in args)
            {
                var p = command.CreateParameter();
                p.ParameterName = name;
                p.Value = ToDb(value, sqlite: false);
                command.Parameters.Add(p);
            }
            batch.BatchCommands.Add(command);
        }
        await using var rows = await batch.ExecuteReaderAsync();
        for (var i = 0; i < statements.Count; i++)
        {
            while (await rows.ReadAsync()) onRow(i, rows);
            await rows.NextResultAsync();
        }
    }

    /// <summary>
    /// <c>column IN (@prefix0, @prefix1, ...)</c> added to <paramref name="where"/>, one parameter per value. No list
    /// means no condition; an empty list matches nothing (SQL has no empty <c>IN ()</c>).
    /// </summary>
    public static void In(List<string> where, List<(string, object?)> args, string column, string prefix, IReadOnlyList<string>? values)
    {
        if (values is null) return;
        if (values.Count == 0) { where.Add("1 = 0"); return; }
        var names = values.Select((value, i) => { args.Add(($"{prefix}{i}", value)); return $"@{prefix}{i}"; });
        where.Add($"{column} IN ({string.Join(", ", names)})");
    }

    /// <summary>A list's order: by <paramref name="column"/>, ties broken by id in the same direction, so paging is stable.</summary>
    public static string OrderBy(string column, bool ascending)
    {
        var dir = ascending ? "ASC" : "DESC";
        return $"{column} {dir}, id {dir}";
    }

    public static string Str(this DbDataReader r, string column) => r.GetString(r.GetOrdinal(column));

    public static string? NStr(this DbDataReader r, string column)
    {
        var i = r.GetOrdinal(column);
        return r.IsDBNull(i) ? null : r.GetString(i);
    }

    public static decimal Dec(this DbDataReader r, string column)
    {
        var i = r.GetOrdinal(column);
        var value = r.GetValue(i);
        return Money.Normalize(value switch
        {
            decimal d => d,
            string s => decimal.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture),
            long l => l,
            _ => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
        });
    }

    public static long Long(this DbDataReader r, string column) => Convert.ToInt64(r.GetValue(r.GetOrdinal(column)), CultureInfo.InvariantCulture);

    public static int? NInt(this DbDataReader r, string column)
    {
        var i = r.GetOrdinal(column);
        return r.IsDBNull(i) ? null : Convert.ToInt32(r.GetValue(i), CultureInfo.InvariantCulture);
    }

    public static DateTimeOffset Time(this DbDataReader r, string column) => FromMicros(r.Long(column));

    public static DateTimeOffset? NTime(this DbDataReader r, string column)
    {
        var i = r.GetOrdinal(column);
        return r.IsDBNull(i) ? null : FromMicros(Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture));
    }
}
