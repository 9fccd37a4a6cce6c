using Microsoft.Data.Sqlite;

namespace Coffer.Storage;

/// <summary>
/// Copies SQLite's write-ahead log back into the database file beside the writers instead of inside their commits.
/// SQLite's automatic checkpoint runs in the commit that takes the log past 1,000 pages, so that commit, and every
/// request of its group, waits for the copy and the database file's fsync (40–70 ms after a batch of 2,000 debits).
/// Coffer's connections turn it off (<see cref="Database.OpenAsync"/>); after each commit this loop runs a PASSIVE
/// checkpoint on a connection of its own, which blocks no reader or writer. Durability is SQLite's: a commit is durable
/// once its log frames are synced, before any checkpoint.
/// </summary>
/// <param name="writer">The process's write gate (<see cref="Database.BeginWriteAsync"/>).</param>
/// <param name="maxFrames">
/// Log frames past which the next checkpoint runs between two writes. SQLite starts the log over only when a writer
/// begins after a complete checkpoint; under constant writes every checkpoint overlaps the next write, so the log
/// would grow without end (and reads would search a longer log). 16,384 frames is 64 MB at 4 KB pages.
/// </param>
public sealed class SqliteCheckpointer(string connectionString, SemaphoreSlim writer, int maxFrames = SqliteCheckpointer.MaxFrames)
    : IAsyncDisposable
{
    public const int MaxFrames = 16_384;

    readonly SemaphoreSlim _nudged = new(0, 1);
    readonly CancellationTokenSource _stop = new();
    readonly Lock _gate = new();
    Thread? _loop;

    /// <summary>Called after a commit: wakes the loop (one wake-up covers any number of commits).</summary>
    public void Nudge()
    {
        lock (_gate)
        {
            if (_stop.IsCancellationRequested) return;
            if (_loop is null)
            {
                // A thread of its own: SQLite's calls block, and a pool thread would wait behind the requests' work.
                _loop = new Thread(() => Run(_stop.Token)) { IsBackground = true, Name = "sqlite checkpointer" };
                _loop.Start();
            }
            if (_nudged.CurrentCount == 0) _nudged.Release();
        }
    }

    void Run(CancellationToken ct)
    {
        SqliteConnection? connection = null;
        try
        {
            while (true)
            {
                _nudged.Wait(ct);
                try
                {
                    if (connection is null)
                    {
                        connection = new SqliteConnection(connectionString);
                        connection.Open();
                    }
                    if (Checkpoint(connection) <= maxFrames) continue;
                    // Between two writes: this checkpoint completes, and the next writer starts the log over.
                    writer.Wait(ct);
                    try
                    {
                        Checkpoint(connection);
                    }
                    finally
                    {
                        writer.Release();
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Busy, locked, or the connection broke: the next commit's nudge tries again on a new connection.
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            connection?.Dispose();
        }
    }

    /// <summary>Runs a PASSIVE checkpoint; returns the frames in the log, copied or not.</summary>
    static long Checkpoint(SqliteConnection connection)
    {
        using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        using var reader = checkpoint.ExecuteReader();
        return reader.Read() ? reader.GetInt64(1) : 0;
    }

    public ValueTask DisposeAsync()
    {
        Thread? loop;
        lock (_gate)
        {
            _stop.Cancel();
            loop = _loop;
        }
        loop?.Join();
        _stop.Dispose();
        _nudged.Dispose();
        return ValueTask.CompletedTask;
    }
}
