using Coffer.Storage;
using Microsoft.Data.Sqlite;

namespace Coffer.Tests;

/// <summary>
/// SQLite's batched writes are bound by position through SQLitePCLRaw (<see cref="SqlBatch"/>): what they store is what
/// Microsoft.Data.Sqlite stores for the same statement and values, and they fail as it fails.
/// </summary>
public sealed class SqliteWriteTests : IAsyncLifetime
{
    readonly string _file = Path.Combine(Path.GetTempPath(), $"coffer-sqlite-write-{Guid.NewGuid():N}.db");
    SqliteConnection _c = null!;

    const string Insert = "INSERT INTO t (id, txt, num, whole, flag, at, blob) VALUES (@id, @txt, @num, @whole, @flag, @at, @blob)";

    public async Task InitializeAsync()
    {
        _c = new SqliteConnection($"Data Source={_file};Pooling=False");
        await _c.OpenAsync();
        await _c.ExecAsync(null, "CREATE TABLE t (id TEXT PRIMARY KEY, txt, num, whole, flag, at, blob)");
    }

    public async Task DisposeAsync()
    {
        await _c.DisposeAsync();
        File.Delete(_file);
    }

    static (string, object?)[] Row(string id, object? txt, object? num, object? whole, object? flag, object? at, object? blob) =>
        [("id", id), ("txt", txt), ("num", num), ("whole", whole), ("flag", flag), ("at", at), ("blob", blob)];

    async Task<List<string>> StoredAsync(string id) =>
        (await _c.QueryAsync(null, "SELECT typeof(txt), quote(txt), typeof(num), quote(num), typeof(whole), quote(whole), " +
            "typeof(flag), quote(flag), typeof(at), quote(at), typeof(blob), quote(blob) FROM t WHERE id = @id",
            r => Enumerable.Range(0, 12).Select(i => r.GetString(i)).ToList(), ("id", id))).Single();

    async Task BatchAsync(params (string Sql, (string, object?)[] Args)[] statements)
    {
        await using var tx = (SqliteTransaction)await _c.BeginTransactionAsync();
        var batch = new SqlBatch();
        foreach (var (sql, args) in statements) batch.Add(sql, args);
        await batch.ExecuteAsync(_c, tx);
        await tx.CommitAsync();
    }

    [Fact]
    public async Task WhatABatchStoresIsWhatMicrosoftDataSqliteStores()
    {
        var at = new DateTimeOffset(2026, 12, 8, 1, 2, 3, TimeSpan.FromHours(1)).AddTicks(7_890);
        object?[][] values =
        [
            ["Zoë — 東京 🚀", 12.500m, 42L, true, at, new byte[] { 0, 1, 254, 255 }],
            ["", 0m, 7, false, DateTimeOffset.UnixEpoch, Array.Empty<byte>()],
            [null, -0.000000000001m, long.MinValue, null, null, null],
            // A lone surrogate: both encode it as U+FFFD.
            ["a\ud800b", 79228162514264337593543950335m, int.MaxValue, true, at, new byte[300_000]],
            [new string('x', 300_000), 1m, 0, false, at, new byte[] { 9 }],
        ];
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            await _c.ExecAsync(null, Insert, Row($"direct{i}", v[0], v[1], v[2], v[3], v[4], v[5]));
            // Twice through the same prepared statement, so the second run is bound over the first's values.
            await BatchAsync((Insert, Row($"batch{i}", v[0], v[1], v[2], v[3], v[4], v[5])),
                (Insert, Row($"again{i}", v[0], v[1], v[2], v[3], v[4], v[5])));
        }
        for (var i = 0; i < values.Length; i++)
        {
            var direct = await StoredAsync($"direct{i}");
            Assert.Equal(direct, await StoredAsync($"batch{i}"));
            Assert.Equal(direct, await StoredAsync($"again{i}"));
        }
        Assert.Equal(["text", "''", "text", "'0'", "integer", "7", "integer", "0", "integer", "0", "blob", "X''"], await StoredAsync("batch1"));
        Assert.Equal(["null", "NULL"], (await StoredAsync("batch2")).Take(2));
    }

    [Fact]
    public async Task AValueOfAnotherKindIsBoundByMicrosoftDataSqliteAndAnArgumentTheStatementDoesNotNameIsIgnored()
    {
        (string, object?)[] args = [.. Row("other", (short)5, 'c', null, null, null, null), ("unused", "x")];
        await _c.ExecAsync(null, Insert, [.. Row("direct", (short)5, 'c', null, null, null, null), ("unused", "x")]);
        await BatchAsync((Insert, args), (Insert, Row("plain", "after", 1m, 2L, true, null, null)));

        Assert.Equal(await StoredAsync("direct"), await StoredAsync("other"));
        Assert.Equal(["text", "'after'"], (await StoredAsync("plain")).Take(2));
    }

    [Fact]
    public async Task AParameterLeftWithoutAValueIsRefusedAsMicrosoftDataSqliteRefusesIt()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            BatchAsync(("INSERT INTO t (id, txt) VALUES (@id, @missing)", [("id", "m")])));
        Assert.Contains("@missing", e.Message);
        Assert.Empty(await _c.QueryAsync(null, "SELECT id FROM t", r => r.GetString(0)));
    }

    [Fact]
    public async Task AUniqueViolationIsTheErrorMicrosoftDataSqliteGivesAndTheStatementRunsAgainAfterIt()
    {
        await BatchAsync((Insert, Row("k", "first", 1m, 1L, true, null, null)));
        var e = await Assert.ThrowsAsync<SqliteException>(() => BatchAsync((Insert, Row("k", "second", 2m, 2L, true, null, null))));
        Assert.True(Database.UniqueViolation(e), e.Message);

        await BatchAsync((Insert, Row("k2", "third", 3m, 3L, false, null, null)));
        Assert.Equal(["text", "'first'"], (await StoredAsync("k")).Take(2));
        Assert.Equal(["text", "'third'"], (await StoredAsync("k2")).Take(2));
    }

    [Fact]
    public async Task ABatchedWriteIsOneStatement() =>
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            BatchAsync(("INSERT INTO t (id) VALUES (@id); DELETE FROM t", [("id", "two")])));
}
