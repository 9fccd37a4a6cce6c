using Coffer.Storage;
using Microsoft.Data.Sqlite;

namespace Coffer.Tests;

/// <summary>
/// SQLite's log is copied back beside the writers (<see cref="SqliteCheckpointer"/>), and stays bounded while writes
/// never stop: two writers that always have the next transaction waiting, as under load.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    const int PageSize = 4096;
    const int FrameBytes = PageSize + 24;
    const int WalHeaderBytes = 32;
    readonly string _path = Path.Combine(Path.GetTempPath(), $"coffer-checkpoint-{Guid.NewGuid():N}.db");

    // Not pooled: other tests clear every pool of the process, and the last connection to close checkpoints the log.
    string ConnectionString => new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false }.ToString();

    [Fact]
    public async Task UnderConstantWritesTheLogStaysNearItsBoundAndEveryRowIsInTheFile()
    {
        var writer = new SemaphoreSlim(1, 1);
        long bounded;
        await using (var checkpointer = new SqliteCheckpointer(ConnectionString, writer, maxFrames: 200))
            bounded = await WriteAsync(writer, checkpointer);

        // The same writes with no one checkpointing: the log keeps every frame (what SqliteCheckpointer prevents).
        Dispose();
        var unbounded = await WriteAsync(new SemaphoreSlim(1, 1), checkpointer: null);

        Console.WriteLine($"figure: log frames at most {bounded} with the checkpointer (bound 200), {unbounded} without");
        // Without checkpoints the log grows with the writes; with them it stays near the bound plus what is written while
        // one checkpoint runs, which depends on the machine's load, not on how much is written.
        Assert.True(unbounded > 20_000, $"without checkpoints the log held {unbounded} frames");
        Assert.True(bounded < unbounded / 2, $"the log reached {bounded} frames, bound 200 (without checkpoints: {unbounded})");
    }

    /// <summary>Two writers, 600 transactions each, 20 rows of 2 KB per transaction; returns the most frames the log held.</summary>
    async Task<long> WriteAsync(SemaphoreSlim writer, SqliteCheckpointer? checkpointer)
    {
        // Open throughout, so that no writer's connection is the last one to close (which would checkpoint).
        await using var keeper = await OpenAsync();
        await using (var create = keeper.CreateCommand())
        {
            create.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)";
            await create.ExecuteNonQueryAsync();
        }
        var body = new byte[PageSize / 2];
        Random.Shared.NextBytes(body);
        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            for (var t = 0; t < 600; t++)
            {
                await writer.WaitAsync();
                try
                {
                    await using var c = await OpenAsync();
                    await using var tx = c.BeginTransaction(deferred: false);
                    await using var insert = c.CreateCommand();
                    insert.Transaction = tx;
                    insert.CommandText = "INSERT INTO rows (body) VALUES (@b)";
                    insert.Parameters.AddWithValue("b", body);
                    for (var r = 0; r < 20; r++) await insert.ExecuteNonQueryAsync();
                    await tx.CommitAsync();
                }
                finally
                {
                    writer.Release();
                }
                checkpointer?.Nudge();
            }
        })));
        await using var check = await OpenAsync();
        await using var count = check.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM rows";
        Assert.Equal(24_000L, (long)(await count.ExecuteScalarAsync())!);
        return MaxFramesSeen();
    }

    async Task<SqliteConnection> OpenAsync()
    {
        var c = new SqliteConnection(ConnectionString);
        await c.OpenAsync();
        await using var pragma = c.CreateCommand();
        pragma.CommandText = $"PRAGMA page_size={PageSize}; PRAGMA wal_autocheckpoint=0";
        await pragma.ExecuteNonQueryAsync();
        return c;
    }

    /// <summary>A log that starts over is overwritten from its start, so its file's length is the most it ever held.</summary>
    long MaxFramesSeen() => (new FileInfo(_path + "-wal").Length - WalHeaderBytes) / FrameBytes;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(_path + suffix);
    }
}
