using Coffer.Storage;

namespace Coffer.Tests;

/// <summary>
/// PostgreSQL's batches send the rows of a repeated INSERT or UPDATE as one statement over arrays
/// (<see cref="ArrayStatements"/>): which statements merge, where the merged statement goes, and that what it writes is
/// what the statements one by one would have written.
/// </summary>
public sealed class ArrayStatementTests
{
    const string InsertA = "INSERT INTO a (tenant_id, id, note, n) VALUES (@t, @id, @note, @n)";
    const string InsertB = "INSERT INTO b (tenant_id, id) VALUES (@t, @id)";

    static (string, (string, object?)[]) A(string id, string? note = null, long n = 1) =>
        (InsertA, [("t", "t1"), ("id", id), ("note", note), ("n", n)]);

    static (string, (string, object?)[]) B(string id) => (InsertB, [("t", "t1"), ("id", id)]);

    static List<(string Sql, (string, object?)[] Args)> Merge(params (string, (string, object?)[])[] statements) =>
        ArrayStatements.Merge([.. statements]);

    [Fact]
    public void RowsOfOneInsertGoAsOneStatementOverArrays()
    {
        var merged = Merge(A("x1", "first"), B("y1"), A("x2"), B("y2"), A("x3", "third", 3));

        Assert.Equal(2, merged.Count);
        Assert.Equal("INSERT INTO a (tenant_id, id, note, n) SELECT u.c0, u.c1, u.c2, u.c3 FROM unnest(@a0, @a1, @a2, @a3) AS u(c0, c1, c2, c3)",
            merged[0].Sql);
        Assert.Equal(new string?[] { "t1", "t1", "t1" }, (string?[])merged[0].Args[0].Item2!);
        Assert.Equal(new string?[] { "x1", "x2", "x3" }, (string?[])merged[0].Args[1].Item2!);
        Assert.Equal(new string?[] { "first", null, "third" }, (string?[])merged[0].Args[2].Item2!);
        Assert.Equal(new long?[] { 1, 1, 3 }, (long?[])merged[0].Args[3].Item2!);
        Assert.StartsWith("INSERT INTO b (tenant_id, id) SELECT u.c0, u.c1 FROM unnest(@a0, @a1)", merged[1].Sql);
    }

    [Fact]
    public void AStatementThatNamesTheTableFindsTheRowsBeforeItWritten()
    {
        const string update = "UPDATE a SET n = 2 WHERE tenant_id = @t AND id = @id";
        var merged = Merge(A("x1"), A("x2"), (update, [("t", "t1"), ("id", "x1")]), A("x3"), A("x4"));

        Assert.Equal(3, merged.Count);
        Assert.Equal(new string?[] { "x1", "x2" }, (string?[])merged[0].Args[1].Item2!);
        Assert.Equal(update, merged[1].Sql);
        Assert.Equal(new string?[] { "x3", "x4" }, (string?[])merged[2].Args[1].Item2!);
    }

    [Fact]
    public void AStatementOnAnotherTableLetsTheRowsWaitButATableWhoseNameHoldsTheOtherDoesNot()
    {
        // "ab" is another table; "a_b" too: neither is "a".
        var merged = Merge(A("x1"), ("UPDATE ab SET v = 1", []), ("UPDATE a_b SET v = 1", []), A("x2"), ("SELECT 1 FROM a WHERE id = 'x'", []));

        Assert.Equal(["UPDATE ab SET v = 1", "UPDATE a_b SET v = 1"], merged.Take(2).Select(s => s.Sql));
        Assert.Equal(new string?[] { "x1", "x2" }, (string?[])merged[2].Args[1].Item2!);
        Assert.StartsWith("SELECT 1 FROM a", merged[3].Sql);
    }

    [Fact]
    public void AParameterNullInEveryRowIsWrittenAsNullAndExpressionsAndConstantsStay()
    {
        const string insert = "INSERT INTO h (tenant_id, id, status, note, meta) VALUES (@t, @id, 'active', NULL, @meta::jsonb)";
        var merged = Merge((insert, [("t", "t1"), ("id", "h1"), ("meta", null)]), (insert, [("t", "t1"), ("id", "h2"), ("meta", null)]));

        Assert.Equal("INSERT INTO h (tenant_id, id, status, note, meta) SELECT u.c0, u.c1, 'active', NULL, NULL::jsonb FROM unnest(@a0, @a1) AS u(c0, c1)",
            Assert.Single(merged).Sql);
    }

    [Theory]
    [InlineData("INSERT INTO a (tenant_id, id) VALUES (@t, @id) ON CONFLICT (tenant_id, id) DO NOTHING")]
    [InlineData("INSERT INTO a (tenant_id, id) VALUES (@t, @id) RETURNING id")]
    [InlineData("INSERT INTO a (tenant_id, id) VALUES (@t, @id), (@t, @id)")]
    [InlineData("INSERT INTO a (tenant_id, id) SELECT @t, @id")]
    [InlineData("INSERT INTO a (tenant_id, id) VALUES (@t, COALESCE(@id, 'x'), @t)")]
    public void AnInsertThatIsNotOnePlainRowGoesAsItIs(string insert)
    {
        var merged = Merge((insert, [("t", "t1"), ("id", "x1")]), (insert, [("t", "t1"), ("id", "x2")]));
        Assert.Equal([insert, insert], merged.Select(s => s.Sql));
    }

    [Fact]
    public void RowsWhoseParameterChangesTypeGoOneByOne()
    {
        var merged = Merge(A("x1", n: 1), (InsertA, [("t", "t1"), ("id", "x2"), ("note", null), ("n", "one")]));
        Assert.Equal([InsertA, InsertA], merged.Select(s => s.Sql));
    }

    const string Update = "UPDATE w SET balance = @b, updated_at = @now WHERE tenant_id = @t AND id = @id AND status = 'active'";

    static (string, (string, object?)[]) U(string id, decimal balance) => (Update, [("b", balance), ("now", 5L), ("t", "t1"), ("id", id)]);

    [Fact]
    public void UpdatesOfDistinctRowsGoAsOneStatementJoinedToTheArrays()
    {
        var merged = Merge(U("w1", 3m), U("w2", 4m));

        Assert.Equal("UPDATE w SET balance = u.c0, updated_at = u.c1 FROM unnest(@a0, @a1, @a2, @a3) AS u(c0, c1, c2, c3) " +
            "WHERE tenant_id = u.c2 AND id = u.c3 AND status = 'active'", Assert.Single(merged).Sql);
        Assert.Equal(new decimal?[] { 3m, 4m }, (decimal?[])merged[0].Args[0].Item2!);
    }

    [Fact]
    public void UpdatesOfTheSameRowGoOneByOneInTheirOrder()
    {
        var merged = Merge(U("w1", 3m), U("w2", 4m), U("w1", 5m));
        Assert.Equal([Update, Update, Update], merged.Select(s => s.Sql));
        Assert.Equal([3m, 4m, 5m], merged.Select(s => (decimal)s.Args[0].Item2!));
    }

    [Theory]
    [InlineData("UPDATE w SET balance = @b WHERE tenant_id = @t AND balance > @id")]
    [InlineData("UPDATE w SET balance = @b WHERE tenant_id = @t OR id = @id")]
    [InlineData("UPDATE w SET balance = @b WHERE tenant_id = @t AND id IN (@id)")]
    [InlineData("UPDATE w SET balance = (SELECT MAX(balance) FROM w) + @b WHERE tenant_id = @t AND id = @id")]
    [InlineData("UPDATE w SET balance = @b WHERE tenant_id = @t AND id = @id RETURNING id")]
    [InlineData("UPDATE w SET balance = @b")]
    public void AnUpdateThatIsNotEqualitiesOnItsRowGoesAsItIs(string update)
    {
        var merged = Merge((update, [("b", 1m), ("t", "t1"), ("id", "w1")]), (update, [("b", 2m), ("t", "t1"), ("id", "w2")]));
        Assert.Equal([update, update], merged.Select(s => s.Sql));
    }

    [Fact]
    public async Task OnPostgresTheMergedRowsAreTheRowsAsked()
    {
        await using var app = new CofferApp(Store.Postgres);
        var db = app.Service<Database>();
        var table = "array_rows_" + Guid.NewGuid().ToString("N")[..12];
        await using (var c = await db.OpenAsync())
            await c.ExecAsync(null, $"CREATE TABLE {table} (tenant_id text, id text, credits numeric, seq bigint, flag integer, body bytea, note text, state text)");
        var insert = $"INSERT INTO {table} (tenant_id, id, credits, seq, flag, body, note, state) VALUES (@t, @id, @c, @seq, @f, @b, @note, 'new')";
        var now = DateTimeOffset.Parse("2026-12-07T10:00:00Z");
        var writes = new SqlBatch();
        for (var i = 0; i < 50; i++)
        {
            writes.Add(insert, ("t", "t1"), ("id", $"r{i:D2}"), ("c", 1.5m + i), ("seq", now.AddSeconds(i)), ("f", i % 2 == 0),
                ("b", i % 3 == 0 ? null : new byte[] { (byte)i, 0, 255 }), ("note", i % 5 == 0 ? $"n{i}" : null));
            // Changes a row of this batch written before it: it must see that row.
            if (i == 10) writes.Add($"UPDATE {table} SET state = 'seen' WHERE tenant_id = @t AND id = @id", ("t", "t1"), ("id", "r10"));
        }
        // Rows of one update, each on its own row (merged); then rows of another twice on one row, where the second
        // adds to what the first left (one by one).
        var add = $"UPDATE {table} SET credits = credits + @d, note = @note WHERE tenant_id = @t AND id = @id AND state = 'new'";
        for (var i = 20; i < 30; i++) writes.Add(add, ("d", 100m), ("note", $"u{i}"), ("t", "t1"), ("id", $"r{i:D2}"));
        var again = $"UPDATE {table} SET credits = credits + @d, note = @note WHERE tenant_id = @t AND id = @id";
        for (var i = 0; i < 2; i++) writes.Add(again, ("d", 1000m), ("note", "again"), ("t", "t1"), ("id", "r25"));
        // Two merged inserts, the update between them, one merged update, two single ones.
        Assert.Equal(6, ArrayStatements.Merge(writes.Statements).Count(s => s.Sql.Contains(table, StringComparison.Ordinal)));
        await using (var scope = await db.BeginWriteAsync())
        {
            await writes.ExecuteAsync(scope.Connection, scope.Transaction);
            await scope.CommitAsync();
        }

        await using var read = await db.OpenAsync();
        var rows = await read.QueryAsync(null, $"SELECT id, credits, seq, flag, body, note, state FROM {table} ORDER BY id",
            r => (r.Str("id"), r.Dec("credits"), r.Long("seq"), r.Long("flag"), r.IsDBNull(4) ? null : (byte[])r.GetValue(4), r.NStr("note"), r.Str("state")));
        Assert.Equal(50, rows.Count);
        for (var i = 0; i < 50; i++)
        {
            var (id, credits, seq, flag, body, note, state) = rows[i];
            Assert.Equal($"r{i:D2}", id);
            Assert.Equal(1.5m + i + (i is >= 20 and < 30 ? 100m : 0m) + (i == 25 ? 2000m : 0m), credits);
            Assert.Equal(Sql.ToMicros(now.AddSeconds(i)), seq);
            Assert.Equal(i % 2 == 0 ? 1 : 0, flag);
            Assert.Equal(i % 3 == 0 ? null : new byte[] { (byte)i, 0, 255 }, body);
            Assert.Equal(i == 25 ? "again" : i is >= 20 and < 30 ? $"u{i}" : i % 5 == 0 ? $"n{i}" : null, note);
            Assert.Equal(i == 10 ? "seen" : "new", state);
        }
        await read.ExecAsync(null, $"DROP TABLE {table}");
    }
}
