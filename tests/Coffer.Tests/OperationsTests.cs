using System.Diagnostics;
using System.Text;
using Coffer.Storage;

namespace Coffer.Tests;

public sealed class HealthTestsOnSqlite() : HealthTests(Store.Sqlite);
public sealed class HealthTestsOnPostgres() : HealthTests(Store.Postgres);

public abstract class HealthTests(Store store)
{
    [Fact]
    public async Task ReadyNeedsTheDatabaseWithEveryMigrationWhileLiveNeedsOnlyTheProcess()
    {
        await using var app = new CofferApp(store);
        using var http = app.CreateClient();
        Assert.Equal("ok", (await http.Get("/health/live")).Ok().S("status"));
        Assert.Equal("ok", (await http.Get("/health/ready")).Ok().S("status"));
        Assert.Equal("ok", (await http.Get("/health")).Ok().S("status"));

        // A database behind this build (its newest migration not applied) is not ready; the process is still live.
        var db = app.Service<Database>();
        await using (var c = await db.OpenAsync())
            Assert.Equal(1, await c.ExecAsync(null, "DELETE FROM schema_migrations WHERE version = @v", ("v", Migrator.LatestVersion)));
        Assert.Equal("migrations_pending", (await http.Get("/health/ready")).Ok(503).S("status"));
        Assert.Equal("migrations_pending", (await http.Get("/health")).Ok(503).S("status"));
        Assert.Equal("ok", (await http.Get("/health/live")).Ok().S("status"));

        await using (var c = await db.OpenAsync())
            await c.ExecAsync(null, "INSERT INTO schema_migrations (version, applied_at) VALUES (@v, 0)", ("v", Migrator.LatestVersion));
        Assert.Equal("ok", (await http.Get("/health/ready")).Ok().S("status"));
    }
}

/// <summary>SQLite is the single-node mode: a second process on a served file is refused at start, at once and clearly.</summary>
public sealed class SqliteSingleProcessTests : IDisposable
{
    readonly string _db = Path.Combine(Path.GetTempPath(), $"coffer-single-{Guid.NewGuid():N}.db");
    readonly string _key = "sk_single_" + Guid.NewGuid().ToString("N");
    readonly List<Process> _processes = [];

    (Process Process, StringBuilder Errors) Start(int port)
    {
        var start = new ProcessStartInfo("dotnet", $"\"{CofferProcess.Dll()}\" --urls http://127.0.0.1:{port}")
            { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["COFFER_DATABASE"] = _db;
        start.Environment["COFFER_API_KEY"] = _key;
        start.Environment["COFFER_WORKERS"] = "off";
        var process = Process.Start(start)!;
        _processes.Add(process);
        var errors = new StringBuilder();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, errors);
    }

    static async Task<bool> ServesAsync(HttpClient http)
    {
        try
        {
            return (await http.GetAsync("/health/ready")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    [Fact]
    public async Task ASecondProcessOnTheSameFileIsRefusedAtStartAndTheFirstGoesOnServing()
    {
        var firstPort = CofferProcess.FreePort();
        var (first, _) = Start(firstPort);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{firstPort}"), Timeout = TimeSpan.FromSeconds(30) };
        var started = Stopwatch.StartNew();
        while (!await ServesAsync(http))
        {
            Assert.False(first.HasExited, "the first node exited");
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), "the first node did not start");
            await Task.Delay(100);
        }

        var secondPort = CofferProcess.FreePort();
        var (second, errors) = Start(secondPort);
        var refused = Stopwatch.StartNew();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await second.WaitForExitAsync(timeout.Token);
        // Refused at start: well before the 30 s it would otherwise wait on the file's write lock.
        Assert.True(refused.Elapsed < TimeSpan.FromSeconds(25), $"refused only after {refused.Elapsed}");
        Assert.Equal(2, second.ExitCode);
        string text;
        lock (errors) text = errors.ToString();
        Assert.Contains($"another Coffer process (pid {first.Id}) is serving the SQLite database {_db}", text);
        Assert.Contains("PostgreSQL", text);

        Assert.True(await ServesAsync(http));
        using var api = new HttpClient { BaseAddress = http.BaseAddress };
        api.DefaultRequestHeaders.Add("x-api-key", _key);
        Assert.Equal(201, (await api.Post("/v1/customers", new { external_id = "single-1", name = "Ada" })).Status);

        // Once the first node is gone (even killed), the file may be served again: the lock dies with its process.
        first.Kill();
        await first.WaitForExitAsync();
        var thirdPort = CofferProcess.FreePort();
        var (third, _) = Start(thirdPort);
        using var again = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{thirdPort}"), Timeout = TimeSpan.FromSeconds(30) };
        started.Restart();
        while (!await ServesAsync(again))
        {
            Assert.False(third.HasExited, "the node started after the kill exited");
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), "the node started after the kill did not serve");
            await Task.Delay(100);
        }
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try
            {
                if (!p.HasExited) p.Kill();
                p.WaitForExit(10_000);
            }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        foreach (var suffix in new[] { "", "-wal", "-shm", ".key", ".lock" })
            File.Delete(_db + suffix);
    }
}

/// <summary><c>verify</c> scans the whole database: on PostgreSQL one of its queries may run past a request's 30 s.</summary>
public sealed class VerifyScanTests
{
    [Fact]
    public async Task VerifyReadsPostgresWithoutACommandTimeLimitWhileRequestsKeepTheirs()
    {
        await using var db = Database.Open(Environment.GetEnvironmentVariable("COFFER_TEST_POSTGRES")
            ?? throw new InvalidOperationException("COFFER_TEST_POSTGRES is not set: run ./test.sh"));
        await using var scan = await db.OpenForScansAsync();
        await using var request = await db.OpenAsync();
        await using var scanCommand = scan.CreateCommand();
        await using var requestCommand = request.CreateCommand();
        Assert.Equal(0, scanCommand.CommandTimeout);
        Assert.Equal(30, requestCommand.CommandTimeout);
        scanCommand.CommandText = "SELECT pg_sleep(0.1)";
        await scanCommand.ExecuteNonQueryAsync();
    }
}
