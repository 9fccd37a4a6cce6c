using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Coffer.Storage;
using Coffer.Verify;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Coffer.Tests;

public enum Store { Sqlite, Postgres }

/// <summary>
/// A Coffer host on a database of its own: a fresh SQLite file, or a fresh schema of the throwaway
/// PostgreSQL that ./test.sh starts (COFFER_TEST_POSTGRES), reached through the PgBouncer it starts in front of it
/// when COFFER_TEST_PGBOUNCER is set. The clock is fake and starts at a fixed instant.
/// </summary>
public sealed class CofferApp : WebApplicationFactory<Program>
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public FakeTimeProvider Clock { get; } = new(Start);
    public string ApiKey { get; } = "sk_test_" + Guid.NewGuid().ToString("N");
    public Store Store { get; }

    /// <summary>COFFER_MASTER_KEY (current key first); null leaves it unset, so the key file next to the database is used.</summary>
    public string? MasterKey { get; set; } = NewMasterKey();

    public static string NewMasterKey() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    public string DatabaseSetting { get; }
    readonly string? _sqlitePath;
    readonly string? _schema;
    readonly bool _role;

    /// <summary>A second node on the database of <paramref name="first"/>: the same tenant, its own clock; it drops nothing.</summary>
    public CofferApp(CofferApp first)
    {
        Store = first.Store;
        DatabaseSetting = first.DatabaseSetting;
        ApiKey = first.ApiKey;
        MasterKey = first.MasterKey;
    }

    /// <summary>Settings of this host that differ from the tests' defaults (an operator who has not lifted a guard).</summary>
    public Dictionary<string, string> Settings { get; init; } = [];

    readonly string? _adminEmail;
    readonly string? _adminPassword;

    public CofferApp(Store store, bool kestrel = false, string? adminEmail = null, string? adminPassword = null) : this(store)
    {
        _adminEmail = adminEmail;
        _adminPassword = adminPassword;
        // A real server on a free loopback port, for the browser: the in-memory test server has no address.
        if (kestrel) UseKestrel(0);
    }

    /// <summary>
    /// On PostgreSQL directly, never through the pooler, with Npgsql keywords of the operator's added to the connection
    /// string (<c>Max Auto Prepare=64</c>, which a pooler in transaction mode would break).
    /// </summary>
    public CofferApp(Store store, string postgresKeywords) : this(store, direct: true)
    {
        var builder = new NpgsqlConnectionStringBuilder(DatabaseSetting);
        foreach (var (key, value) in new NpgsqlConnectionStringBuilder(postgresKeywords)) builder[key] = value;
        DatabaseSetting = builder.ConnectionString;
    }

    public CofferApp(Store store) : this(store, direct: false) { }

    CofferApp(Store store, bool direct)
    {
        Store = store;
        if (store == Store.Sqlite)
        {
            _sqlitePath = Path.Combine(Path.GetTempPath(), $"coffer-test-{Guid.NewGuid():N}.db");
            DatabaseSetting = _sqlitePath;
        }
        else
        {
            var baseSetting = Environment.GetEnvironmentVariable("COFFER_TEST_POSTGRES")
                ?? throw new InvalidOperationException(
                    "COFFER_TEST_POSTGRES is not set: run ./test.sh, which starts a throwaway PostgreSQL and sets it");
            _schema = "t_" + Guid.NewGuid().ToString("N");
            var bouncer = direct ? null : Environment.GetEnvironmentVariable("COFFER_TEST_PGBOUNCER");
            using (var c = new NpgsqlConnection(baseSetting))
            {
                c.Open();
                // Through PgBouncer in transaction pooling no session setting survives, and the pooler refuses a
                // search_path at connect; a role of the test's own, whose default search_path is its schema, lands
                // every server connection of the test's pool (one per role) in that schema.
                using var cmd = new NpgsqlCommand(bouncer is null
                    ? $"CREATE SCHEMA {_schema}"
                    : $"CREATE ROLE {_schema} LOGIN; CREATE SCHEMA {_schema} AUTHORIZATION {_schema}; ALTER ROLE {_schema} SET search_path = {_schema}", c);
                cmd.ExecuteNonQuery();
            }
            _role = bouncer is not null;
            DatabaseSetting = bouncer is null
                ? new NpgsqlConnectionStringBuilder(baseSetting) { SearchPath = _schema, MaxPoolSize = 30 }.ConnectionString
                : new NpgsqlConnectionStringBuilder(bouncer) { Username = _schema, MaxPoolSize = 30 }.ConnectionString;
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("COFFER_DATABASE", DatabaseSetting);
        builder.UseSetting("COFFER_API_KEY", ApiKey);
        if (MasterKey is not null) builder.UseSetting("COFFER_MASTER_KEY", MasterKey);
        builder.UseSetting("COFFER_WORKERS", "off");
        builder.UseSetting("COFFER_ALLOW_STRIPE_API_BASE", "true");
        builder.UseSetting("COFFER_WEBHOOKS_ALLOW_PRIVATE", "true");
        builder.UseSetting("COFFER_WEBHOOK_TIMEOUT_MS", "1000");
        // The SMTP stand-ins listen on loopback, on ports of their own, without TLS.
        builder.UseSetting("COFFER_SMTP_ALLOW_PRIVATE", "true");
        builder.UseSetting("COFFER_SMTP_ALLOW_PLAINTEXT", "true");
        builder.UseSetting("COFFER_ALERT_EMAIL_TIMEOUT_MS", "5000");
        foreach (var (name, value) in Settings) builder.UseSetting(name, value);
        if (_adminEmail is not null) builder.UseSetting("COFFER_ADMIN_EMAIL", _adminEmail);
        if (_adminPassword is not null) builder.UseSetting("COFFER_ADMIN_PASSWORD", _adminPassword);
        builder.ConfigureLogging(l => l.AddProvider(_startFaults));
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton<TimeProvider>(Clock);
            // Unarmed it changes nothing; a test arms it to lose the connection at its next commit.
            s.AddSingleton<CommitFaults>();
            // Passwords are hashed with 1,000 iterations instead of 600,000 (PasswordHashingTests checks the real count).
            s.AddSingleton(new Dashboard.PasswordHashing(iterations: 1_000));
        });
    }

    public HttpClient Api(string? key = null)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("x-api-key", key ?? ApiKey);
        return client;
    }

    public T Service<T>() where T : notnull => Services.GetRequiredService<T>();

    readonly StartFaults _startFaults = new();

    /// <summary>Starts the host, which must fail, and returns why.</summary>
    public Exception StartFailure()
    {
        var thrown = Record.Exception(() => Services);
        Assert.NotNull(thrown);
        // A hosted service that fails disposes the host in Program's app.Run, and the test factory, reading the host's
        // lifetime a moment later, may then throw ObjectDisposedException in place of the cause. The host logs the
        // cause before it rethrows it; a setting refused before the host is built is thrown as it is.
        return _startFaults.First ?? thrown;
    }

    /// <summary>Keeps the first exception the host logs as it fails to start.</summary>
    sealed class StartFaults : ILoggerProvider, ILogger
    {
        volatile Exception? _first;
        public Exception? First => _first;
        public ILogger CreateLogger(string category) =>
            category == "Microsoft.Extensions.Hosting.Internal.Host" ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel level) => level >= LogLevel.Error;
        public void Log<TState>(LogLevel level, EventId id, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (exception is not null && IsEnabled(level)) Interlocked.CompareExchange(ref _first, exception, null);
        }
        public void Dispose() { }
    }

    /// <summary>Where the real server of a host made with <c>kestrel: true</c> listens (loopback, a free port).</summary>
    public string KestrelAddress => Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
        .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();

    /// <summary>A client of that real server over HTTP, with the API key.</summary>
    public HttpClient KestrelApi()
    {
        var client = new HttpClient { BaseAddress = new Uri(KestrelAddress) };
        client.DefaultRequestHeaders.Add("x-api-key", ApiKey);
        return client;
    }

    /// <summary>The options a host with only these settings would run with, for code tested without a host.</summary>
    public static Hosting.CofferOptions Options(params (string Name, string Value)[] settings) =>
        Hosting.CofferOptions.From(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Name, s.Value))).Build());

    /// <summary>Loses the connection at the next commit, after the database committed it or before.</summary>
    public void LoseNextCommit(CommitFault fault) => Service<CommitFaults>().LoseNextCommit(fault);

    public async Task<VerifyReport> VerifyAsync() => await Service<Verifier>().RunAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_sqlitePath is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm", ".key" })
                File.Delete(_sqlitePath + suffix);
        }
        if (_schema is not null)
        {
            await using var c = new NpgsqlConnection(Environment.GetEnvironmentVariable("COFFER_TEST_POSTGRES"));
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP SCHEMA {_schema} CASCADE" + (_role ? $"; DROP ROLE {_schema}" : ""), c);
            await cmd.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>Small helpers for driving the API and reading JSON as it is on the wire.</summary>
public static class Http
{
    public static async Task<(int Status, JsonNode? Body)> Send(this HttpClient http, HttpMethod method, string path, object? body = null, string? rawBody = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (rawBody is not null) request.Content = new StringContent(rawBody, Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public static Task<(int Status, JsonNode? Body)> Post(this HttpClient http, string path, object? body = null) => http.Send(HttpMethod.Post, path, body);
    public static Task<(int Status, JsonNode? Body)> Put(this HttpClient http, string path, object? body = null) => http.Send(HttpMethod.Put, path, body);
    public static Task<(int Status, JsonNode? Body)> Get(this HttpClient http, string path) => http.Send(HttpMethod.Get, path);
    public static Task<(int Status, JsonNode? Body)> Delete(this HttpClient http, string path) => http.Send(HttpMethod.Delete, path);

    public static JsonNode Ok(this (int Status, JsonNode? Body) r, int expected = 200)
    {
        Assert.True(r.Status == expected, $"expected {expected}, got {r.Status}: {r.Body?.ToJsonString()}");
        return r.Body!;
    }

    /// <summary>Asserts the error envelope and returns its stable code.</summary>
    public static string Error(this (int Status, JsonNode? Body) r, int expected)
    {
        Assert.True(r.Status == expected, $"expected {expected}, got {r.Status}: {r.Body?.ToJsonString()}");
        Assert.NotNull(r.Body);
        Assert.False(r.Body!["success"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(r.Body["error"]!["message"]!.GetValue<string>()));
        Assert.True(r.Body["error"]!.AsObject().ContainsKey("internal_error"));
        return r.Body["error"]!["code"]!.GetValue<string>();
    }

    public static string S(this JsonNode? node, string name) => node![name]!.GetValue<string>();
    public static decimal D(this JsonNode? node, string name) => decimal.Parse(node![name]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
}
