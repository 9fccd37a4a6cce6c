using System.Data.Common;

namespace Coffer.Storage;

/// <summary>
/// Statements collected while a write is decided and sent together at the end: one round trip on
/// PostgreSQL (a DbBatch), a plain loop on SQLite, which runs in-process and has no round trip to save.
/// </summary>
public sealed class SqlBatch
{
    readonly List<(string Sql, (string, object?)[] Args)> _statements = [];

    public int Count => _statements.Count;

    public void Add(string sql, params (string, object?)[] args) => _statements.Add((sql, args));

    public async Task ExecuteAsync(DbConnection c, DbTransaction tx, CancellationToken ct = default)
    {
        if (_statements.Count == 0) return;
        if (!c.CanCreateBatch)
        {
            // SQLite: one prepared command per distinct statement, rebound for each row, so a batch of a
            // hundred debits parses each statement once.
            var prepared = new Dictionary<string, DbCommand>(StringComparer.Ordinal);
            try
            {
                foreach (var (sql, args) in _statements)
                {
                    if (!prepared.TryGetValue(sql, out var cmd))
                    {
                        prepared[sql] = cmd = c.Command(tx, sql, args);
                        await cmd.PrepareAsync(ct);
                    }
                    else
                    {
                        for (var i = 0; i < args.Length; i++) cmd.Parameters[i].Value = Sql.ToDb(args[i].Item2, sqlite: true);
                    }
                    await cmd.ExecuteNonQueryAsync(ct);
                }
            }
            finally
            {
                foreach (var cmd in prepared.Values) await cmd.DisposeAsync();
            }
            return;
        }
        await using var batch = c.CreateBatch();
        batch.Transaction = tx;
        foreach (var (sql, args) in _statements)
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
