using System.Diagnostics;
using System.Text;
using System.Net.Http.Json;
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
        var errors = new StringBuilder();
        var process = CofferProcess.Start($"--urls http://127.0.0.1:{port}",
            new Dictionary<string, string> { ["COFFER_DATABASE"] = _db, ["COFFER_API_KEY"] = _key, ["COFFER_WORKERS"] = "off" },
            (isError, line) => { if (isError) lock (errors) errors.AppendLine(line); });
        _processes.Add(process);
        return (process, errors);
    }

    [Fact]
    public async Task ASecondProcessOnTheSameFileIsRefusedAtStartAndTheFirstGoesOnServing()
    {
        var firstPort = CofferProcess.FreePort();
        var (first, _) = Start(firstPort);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{firstPort}"), Timeout = TimeSpan.FromSeconds(30) };
        var started = Stopwatch.StartNew();
        while (!await CofferProcess.ReadyAsync(http))
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

        Assert.True(await CofferProcess.ReadyAsync(http));
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
        while (!await CofferProcess.ReadyAsync(again))
        {
            Assert.False(third.HasExited, "the node started after the kill exited");
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), "the node started after the kill did not serve");
            await Task.Delay(100);
        }
    }

    public void Dispose()
    {
        CofferProcess.Stop(_processes);
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

/// <summary><c>coffer backup</c> copies a SQLite database while it serves: a consistent snapshot that verifies.</summary>
public sealed class SqliteBackupTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("coffer-backup-").FullName;
    readonly string _key = "sk_backup_" + Guid.NewGuid().ToString("N");
    readonly List<Process> _processes = [];

    string Live => Path.Combine(_dir, "live.db");

    Process Run(string database, string arguments, StringBuilder? output = null)
    {
        var environment = new Dictionary<string, string> { ["COFFER_DATABASE"] = database, ["COFFER_API_KEY"] = _key, ["COFFER_WORKERS"] = "off" };
        // The live database's key file, given to every process: the copy is opened with the key kept apart from it.
        if (File.Exists(Live + ".key")) environment["COFFER_MASTER_KEY"] = File.ReadAllText(Live + ".key").Trim();
        output ??= new StringBuilder();
        var process = CofferProcess.Start(arguments, environment, (_, line) => { lock (output) output.AppendLine(line); });
        _processes.Add(process);
        return process;
    }

    async Task<(int Code, string Output)> RunToEnd(string database, string arguments)
    {
        var output = new StringBuilder();
        var process = Run(database, arguments, output);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        lock (output) return (process.ExitCode, output.ToString());
    }

    [Fact]
    public async Task ABackupTakenUnderLoadHoldsEveryDebitAcknowledgedBeforeItAndVerifies()
    {
        var port = CofferProcess.FreePort();
        var server = Run(Live, $"--urls http://127.0.0.1:{port}");
        using var api = await CofferProcess.ApiWhenReadyAsync(server, port, _key);
        var customer = (await api.Post("/v1/customers", new { external_id = "backup-1", name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", initial_credits_to_load = "1000000" })).Ok().S("id");

        // Eight clients debit until told to stop; each acknowledged debit is noted with its entry id, in order.
        var acknowledged = new List<string>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 8).Select(client => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var debit = await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "1", idempotency_key = $"backup-{client}-{i}" });
                Assert.Equal(200, debit.Status);
                lock (acknowledged) acknowledged.Add(debit.Body!["wallet_transaction"].S("id"));
            }
        })).ToList();
        while (true)
        {
            lock (acknowledged) if (acknowledged.Count >= 300) break;
            await Task.Delay(20);
        }

        string[] beforeBackup;
        lock (acknowledged) beforeBackup = [.. acknowledged];
        var copy = Path.Combine(_dir, "copy.db");
        var backup = await RunToEnd(Live, $"backup {copy}");
        int afterBackup;
        lock (acknowledged) afterBackup = acknowledged.Count;
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        Assert.True(backup.Code == 0, backup.Output);
        Assert.Contains($"backup: {copy}", backup.Output);
        Assert.True(afterBackup > beforeBackup.Length, "no debit was acknowledged while the backup ran: it was not taken under load");
        Assert.False(File.Exists(copy + ".partial"));
        Assert.Contains("COFFER_MASTER_KEY", backup.Output);
        Assert.False(File.Exists(copy + ".key"), "the key was copied beside the backup");

        var verified = await RunToEnd(copy, "verify");
        Assert.True(verified.Code == 0, verified.Output);
        Assert.Contains("OK", verified.Output);
        await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={copy};Mode=ReadOnly;Pooling=False"))
        {
            await c.OpenAsync();
            var inCopy = (await c.QueryAsync(null, "SELECT id FROM wallet_transactions WHERE wallet_id = @w AND type = 'debit'",
                r => r.Str("id"), ("w", wallet))).ToHashSet();
            Assert.All(beforeBackup, id => Assert.Contains(id, inCopy));
            var balance = Assert.Single(await c.QueryAsync(null, "SELECT credit_balance FROM wallets WHERE id = @w", r => r.Dec("credit_balance"), ("w", wallet)));
            Assert.Equal(1_000_000m - inCopy.Count, balance);
        }

        // A backup overwrites nothing: the same name again is refused and the copy is left as it was.
        var length = new FileInfo(copy).Length;
        var again = await RunToEnd(Live, $"backup {copy}");
        Assert.Equal(2, again.Code);
        Assert.Contains("overwrites nothing", again.Output);
        Assert.Equal(length, new FileInfo(copy).Length);
    }

    public void Dispose()
    {
        CofferProcess.Stop(_processes);
        Directory.Delete(_dir, recursive: true);
    }
}

public sealed class BackupRefusalTests
{
    [Fact]
    public async Task OnPostgresTheBackupCommandNamesPostgresToolsAndChangesNothing()
    {
        await using var app = new CofferApp(Store.Postgres);
        var errors = new StringWriter();
        var target = Path.Combine(Path.GetTempPath(), $"coffer-pg-backup-{Guid.NewGuid():N}.db");
        Assert.Equal(2, await Backup.RunAsync(app.Service<Database>(), app.Service<Hosting.CofferOptions>(), target, TextWriter.Null, errors));
        Assert.Contains("pg_dump", errors.ToString());
        Assert.False(File.Exists(target));
    }
}

/// <summary>
/// Connected to PostgreSQL directly, an operator may let Npgsql prepare the statements Coffer repeats (<c>Max Auto
/// Prepare</c>, README: Several nodes, a pooler and a failover); every other PostgreSQL test goes through the pooler, where
/// that setting would break.
/// </summary>
public sealed class PreparedStatementTests
{
    [Fact]
    public async Task WithStatementsPreparedDebitsBatchesAndReadsKeepTheLedgerExact()
    {
        await using var app = new CofferApp(Store.Postgres, "Max Auto Prepare=64;Auto Prepare Min Usages=2");
        var api = app.Api();
        var hot = (await api.Post("/v1/wallets", new
        {
            customer_id = (await api.Post("/v1/customers", new { external_id = "hot", name = "Ada" })).Ok(201).S("id"),
            currency = "usd", initial_credits_to_load = "1000",
        })).Ok().S("id");
        var spread = new List<string>();
        for (var i = 0; i < 5; i++)
            spread.Add((await api.Post("/v1/wallets", new
            {
                customer_id = (await api.Post("/v1/customers", new { external_id = $"spread-{i}", name = "Ada" })).Ok(201).S("id"),
                currency = "usd", initial_credits_to_load = "100",
            })).Ok().S("id"));

        // Each statement is used many times over, so every one of them runs prepared after its second use.
        for (var round = 0; round < 4; round++)
        {
            var debits = await Task.WhenAll(Enumerable.Range(0, 25).Select(async i =>
                (await api.Post($"/v1/wallets/{hot}/debit", new { credits = "1.5", idempotency_key = $"hot-{round}-{i}" })).Ok()));
            var results = (await api.Post("/v1/wallets/transactions/batch", new
            {
                operations = spread.Select((w, i) => new { type = "debit", wallet_id = w, credits = "2", idempotency_key = $"batch-{round}-{i}" }).ToArray(),
            })).Ok()["results"]!.AsArray();
            Assert.All(results, r => Assert.Equal("applied", r!.S("status")));
            var replay = (await api.Post($"/v1/wallets/{hot}/debit", new { credits = "1.5", idempotency_key = $"hot-{round}-0" })).Ok();
            Assert.Equal(debits[0].ToJsonString(), replay.ToJsonString());
            (await api.Get($"/v1/wallets/{hot}/balance/real-time")).Ok();
        }

        Assert.Equal(1000m - 4 * 25 * 1.5m, (await api.Get($"/v1/wallets/{hot}")).Ok().D("credit_balance"));
        foreach (var w in spread) Assert.Equal(100m - 4 * 2m, (await api.Get($"/v1/wallets/{w}")).Ok().D("credit_balance"));
        var report = await app.VerifyAsync();
        Assert.True(report.Ok, string.Join("; ", report.Problems));

        // The pool's connections did prepare statements: held all at once, whichever served the requests is among them.
        var held = new List<System.Data.Common.DbConnection>();
        try
        {
            for (var i = 0; i < 30; i++) held.Add(await app.Service<Database>().OpenAsync());
            long prepared = 0;
            foreach (var c in held) prepared += await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM pg_prepared_statements");
            Assert.True(prepared >= 5, $"{prepared} statements prepared");
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }
    }
}

/// <summary><c>COFFER_LOG_FORMAT=json</c>: every log line is one JSON object, and a line about a tenant's work names the tenant.</summary>
public sealed class JsonLogTests : IDisposable
{
    readonly string _db = Path.Combine(Path.GetTempPath(), $"coffer-jsonlog-{Guid.NewGuid():N}.db");
    readonly string _key = "sk_jsonlog_" + Guid.NewGuid().ToString("N");
    readonly List<Process> _processes = [];

    [Fact]
    public async Task EveryLineIsJsonAndAFailedDeliveryNamesItsTenantWithoutItsSecret()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer(500);
        var port = CofferProcess.FreePort();
        var lines = new List<string>();
        var server = CofferProcess.Start($"--urls http://127.0.0.1:{port}", new Dictionary<string, string>
        {
            ["COFFER_DATABASE"] = _db, ["COFFER_API_KEY"] = _key, ["COFFER_ADMIN_EMAIL"] = "ops@example.com",
            ["COFFER_ADMIN_PASSWORD"] = "a long operator password", ["COFFER_LOG_FORMAT"] = "json",
            ["COFFER_WEBHOOK_POLL_MS"] = "100", ["COFFER_WEBHOOKS_ALLOW_PRIVATE"] = "true",
        }, (_, line) => { if (line.Length > 0) lock (lines) lines.Add(line); });
        _processes.Add(server);

        using var api = await CofferProcess.ApiWhenReadyAsync(server, port, _key);
        var secret = (await api.Post("/v1/webhooks/endpoints", new { url = receiver.Url, event_types = new[] { "wallet.created" } })).Ok(201).S("secret");
        var customer = (await api.Post("/v1/customers", new { external_id = "json-1", name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd" })).Ok();

        System.Text.Json.Nodes.JsonNode? failed = null;
        var waited = Stopwatch.StartNew();
        while (failed is null)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "no failed delivery was logged");
            await Task.Delay(100);
            lock (lines)
                failed = lines.Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)).FirstOrDefault(j => j!["Message"]!.GetValue<string>().StartsWith("webhook whd_"));
        }
        Assert.Equal("Information", failed["LogLevel"]!.GetValue<string>());
        Assert.Equal(wallet.S("tenant_id"), failed["State"]!["Tenant"]!.GetValue<string>());
        Assert.Contains("(500", failed["Message"]!.GetValue<string>());

        string[] all;
        lock (lines) all = [.. lines];
        Assert.All(all, l => Assert.Equal(System.Text.Json.JsonValueKind.Object, System.Text.Json.JsonDocument.Parse(l).RootElement.ValueKind));
        Assert.DoesNotContain(all, l => l.Contains(secret) || l.Contains(_key) || l.Contains("a long operator password"));
    }

    public void Dispose()
    {
        CofferProcess.Stop(_processes);
        foreach (var suffix in new[] { "", "-wal", "-shm", ".key", ".lock" })
            File.Delete(_db + suffix);
    }
}

/// <summary>Metrics at <c>/metrics</c> (Prometheus text): off unless a token is set, then only for that token, and the counters move.</summary>
public sealed class MetricsTests : IDisposable
{
    readonly string _db = Path.Combine(Path.GetTempPath(), $"coffer-metrics-{Guid.NewGuid():N}.db");
    readonly string _key = "sk_metrics_" + Guid.NewGuid().ToString("N");
    readonly string _token = "scrape_" + Guid.NewGuid().ToString("N");
    readonly List<Process> _processes = [];

    static double Sample(string scrape, string metric, params string[] labels)
    {
        var lines = scrape.Split('\n').Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && labels.All(l.Contains)).ToList();
        return lines.Count == 0 ? 0 : lines.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task AScrapeNeedsTheTokenAndCountsWalletWritesByOperationAndOutcome()
    {
        var port = CofferProcess.FreePort();
        var server = CofferProcess.Start($"--urls http://127.0.0.1:{port}", new Dictionary<string, string>
            { ["COFFER_DATABASE"] = _db, ["COFFER_API_KEY"] = _key, ["COFFER_WORKERS"] = "off", ["COFFER_METRICS_TOKEN"] = _token });
        _processes.Add(server);
        using var api = await CofferProcess.ApiWhenReadyAsync(server, port, _key);

        // The API key is not the scrape token, and no token is no scrape.
        Assert.Equal("unauthorized", (await api.Get("/metrics")).Error(401));
        using var scraper = new HttpClient { BaseAddress = api.BaseAddress };
        Assert.Equal("unauthorized", (await scraper.Get("/metrics")).Error(401));
        scraper.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _token);

        var customer = (await api.Post("/v1/customers", new { external_id = "metrics-1", name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", initial_credits_to_load = "10" })).Ok().S("id");
        (await api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "5", transaction_reason = "FREE_CREDIT_GRANT", idempotency_key = "m-top" })).Ok();
        for (var i = 0; i < 3; i++) (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "1", idempotency_key = $"m-{i}" })).Ok();
        (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "1", idempotency_key = "m-0" })).Ok();
        Assert.Equal("insufficient_balance", (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "100", idempotency_key = "m-big" })).Error(422));

        var first = await scraper.GetStringAsync("/metrics");
        Assert.Equal(3, Sample(first, "coffer_wallet_writes_total", "operation=\"debit\"", "outcome=\"applied\""));
        Assert.Equal(1, Sample(first, "coffer_wallet_writes_total", "operation=\"debit\"", "outcome=\"replayed\""));
        Assert.Equal(1, Sample(first, "coffer_wallet_writes_total", "operation=\"debit\"", "outcome=\"refused\""));
        Assert.Equal(1, Sample(first, "coffer_wallet_writes_total", "operation=\"top_up\"", "outcome=\"applied\""));
        Assert.True(Sample(first, "coffer_group_commit_batch_size_count") >= 5, "no group commit was measured");
        Assert.True(Sample(first, "http_server_request_duration_seconds_count", "http_route=\"/v1/wallets/{id}/debit\"") >= 5,
            "request latency per route is missing");

        for (var i = 3; i < 5; i++) (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "1", idempotency_key = $"m-{i}" })).Ok();
        var second = await scraper.GetStringAsync("/metrics");
        Assert.Equal(5, Sample(second, "coffer_wallet_writes_total", "operation=\"debit\"", "outcome=\"applied\""));
        Assert.Contains("# TYPE coffer_wallet_writes_total counter", second);
    }

    [Fact]
    public async Task WithoutATokenThereIsNoMetricsEndpoint()
    {
        await using var app = new CofferApp(Store.Sqlite);
        using var http = app.CreateClient();
        Assert.Equal(404, (int)(await http.GetAsync("/metrics")).StatusCode);
    }

    public void Dispose()
    {
        CofferProcess.Stop(_processes);
        foreach (var suffix in new[] { "", "-wal", "-shm", ".key", ".lock" })
            File.Delete(_db + suffix);
    }
}

/// <summary>A request's trace reaches the write path: the group commit that wrote its debit links back to it.</summary>
public sealed class TraceTests
{
    [Fact]
    public async Task TheGroupCommitOfADebitLinksToTheRequestsTrace()
    {
        var commits = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is Hosting.Telemetry.Name or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { if (a.OperationName == "wallet.group_commit") commits.Enqueue(a); },
        };
        ActivitySource.AddActivityListener(listener);
        await using var app = new CofferApp(Store.Sqlite);
        using var api = app.Api();
        var customer = (await api.Post("/v1/customers", new { external_id = "trace-1", name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", initial_credits_to_load = "10" })).Ok().S("id");

        var trace = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/wallets/{wallet}/debit")
            { Content = JsonContent.Create(new { credits = "2", idempotency_key = "traced" }) };
        request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01");
        Assert.Equal(200, (int)(await api.SendAsync(request)).StatusCode);

        var commit = Assert.Single(commits, c => c.Links.Any(l => l.Context.TraceId == trace));
        Assert.True((int)commit.GetTagItem("coffer.writes")! >= 1);
        Assert.NotEqual(trace, commit.TraceId);
    }
}
