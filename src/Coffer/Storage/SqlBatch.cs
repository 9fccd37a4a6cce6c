using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Coffer.Storage;

/// <summary>
/// Statements collected while a write is decided and sent together at the end: one round trip on
/// PostgreSQL (a DbBatch, the rows of a repeated INSERT or UPDATE merged by <see cref="ArrayStatements"/>), a plain loop on SQLite,
/// which runs in-process and has no round trip to save.
/// </summary>
public sealed class SqlBatch
{
    readonly List<(string Sql, (string, object?)[] Args)> _statements = [];

    public int Count => _statements.Count;

    /// <summary>The statements added so far, in order.</summary>
    public IReadOnlyList<(string Sql, (string, object?)[] Args)> Statements => _statements;

    /// <summary>
    /// SQLite's prepared write statements of each connection, by their text. Parsing a statement was about a sixth of the
    /// writer's time for single debits spread over many wallets, since every group commit prepared its statements anew.
    /// The writer keeps one connection (Database), so these live as long as it; a connection that is closed disposes its
    /// statements itself, and the entry goes with the connection. The same text always comes with its arguments in the
    /// same order (one line of code writes it), which is what rebinding by position needs.
    /// </summary>
    static readonly ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> Prepared = new();

    /// <summary>Texts kept per connection; past it they are all let go (texts that vary, as a lock's list of ids, stay few).</summary>
    const int MaxPrepared = 256;

    static void Forget(Dictionary<string, DbCommand> prepared)
    {
        foreach (var cmd in prepared.Values) cmd.Dispose();
        prepared.Clear();
    }

    public void Add(string sql, params (string, object?)[] args) => _statements.Add((sql, args));

    public async Task ExecuteAsync(DbConnection c, DbTransaction tx, CancellationToken ct = default)
    {
        if (_statements.Count == 0) return;
        if (!c.CanCreateBatch)
        {
            // SQLite: one prepared command per distinct statement, rebound for each row, so a batch of a hundred debits
            // parses each statement once; and kept with the connection for the next batch (see Prepared), so the one
            // writer's connection parses each statement once, ever.
            var prepared = Prepared.GetOrCreateValue(c);
            foreach (var (sql, args) in _statements)
            {
                if (!prepared.TryGetValue(sql, out var cmd))
                {
                    if (prepared.Count >= MaxPrepared) Forget(prepared);
                    cmd = c.Command(tx, sql, args);
                    await cmd.PrepareAsync(ct);
                    prepared[sql] = cmd;
                }
                else
                {
                    cmd.Transaction = tx;
                    for (var i = 0; i < args.Length; i++) cmd.Parameters[i].Value = Sql.ToDb(args[i].Item2, sqlite: true);
                }
                await cmd.ExecuteNonQueryAsync(ct);
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
