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
            foreach (var (sql, args) in _statements)
            {
                await using var cmd = c.Command(tx, sql, args);
                await cmd.ExecuteNonQueryAsync(ct);
            }
            return;
        }
        await using var batch = c.CreateBatch();
        batch.Transaction = tx;
        foreach (var (sql, args) in _statements)
        {
            // Reuse the parameter conversions of Sql.Command so both paths bind values identically.
            await using var template = c.Command(tx, sql, args);
            var command = batch.CreateBatchCommand();
            command.CommandText = sql;
            foreach (DbParameter p in template.Parameters)
            {
                var copy = command.CreateParameter();
                copy.ParameterName = p.ParameterName;
                copy.Value = p.Value;
                command.Parameters.Add(copy);
            }
            batch.BatchCommands.Add(command);
        }
        await batch.ExecuteNonQueryAsync(ct);
    }
}
