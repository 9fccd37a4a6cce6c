using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Coffer.Payments.Gateways;

namespace Coffer.Tests;

/// <summary>
/// A real Coffer process killed with SIGKILL while the gateway is charging a card (the sandbox's slow card answers
/// only after a delay, having already taken the money): after a restart the payment is still PROCESSING, and
/// reconciling it asks the gateway with the same key and settles it exactly once.
/// </summary>
public sealed class PaymentCrashTests : IAsyncLifetime
{
    readonly string _db = Path.Combine(Path.GetTempPath(), $"coffer-crash-{Guid.NewGuid():N}.db");
    readonly string _key = "sk_crash_" + Guid.NewGuid().ToString("N");
    Process? _server;
    HttpClient _api = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    Process Run(string arguments, int? port = null)
    {
        var start = new ProcessStartInfo("dotnet", $"\"{CofferProcess.Dll()}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["COFFER_DATABASE"] = _db;
        start.Environment["COFFER_API_KEY"] = _key;
        start.Environment["COFFER_WORKERS"] = "off";
        start.Environment["COFFER_SANDBOX_SLOW_CARD_MS"] = "30000";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    async Task StartServerAsync()
    {
        var port = CofferProcess.FreePort();
        _server = Run($"--urls http://127.0.0.1:{port}");
        _api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        _api.DefaultRequestHeaders.Add("x-api-key", _key);
        for (var i = 0; i < 150; i++)
        {
            try
            {
                if ((await _api.GetAsync("/health")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("Coffer did not start");
    }

    [Fact]
    public async Task AChargeInterruptedBySigkillIsSettledOnceAfterTheRestart()
    {
        await StartServerAsync();
        var customer = (await _api.Post("/v1/customers", new { external_id = "crash-1", name = "Ada" })).Ok(201).S("id");
        var card = (await _api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = SandboxGateway.SlowCard })).Ok(201).S("id");
        var invoice = (await _api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "7", subtotal = "7", total = "7", invoice_status = "FINALIZED" }))
            .Ok(201).S("id");

        var charging = _api.Post("/v1/payments", new
        {
            amount = "7", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "CARD",
            payment_method_id = card, idempotency_key = "crash-pay-1",
        });
        JsonNode? processing = null;
        for (var i = 0; i < 100 && processing is null; i++)
        {
            await Task.Delay(100);
            processing = (await _api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]!.AsArray().FirstOrDefault();
        }
        Assert.NotNull(processing);
        Assert.Equal("PROCESSING", processing.S("payment_status"));
        // The sandbox records the charge right after the payment, then waits before answering: kill it mid-wait.
        await Task.Delay(1000);
        _server!.Kill(entireProcessTree: true);
        await _server.WaitForExitAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => charging);

        await StartServerAsync();
        Assert.Equal("PROCESSING", (await _api.Get($"/v1/payments/{processing.S("id")}")).Ok().S("payment_status"));
        // A retry of the same request with its key does not charge again; neither does asking the gateway twice.
        var retried = (await _api.Post("/v1/payments", new
        {
            amount = "7", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "CARD",
            payment_method_id = card, idempotency_key = "crash-pay-1",
        })).Ok(201);
        Assert.Equal(processing.S("id"), retried.S("id"));
        Assert.Equal("SUCCEEDED", (await _api.Post($"/v1/payments/{processing.S("id")}/process")).Ok().S("payment_status"));
        Assert.Equal("SUCCEEDED", (await _api.Post($"/v1/payments/{processing.S("id")}/process")).Ok().S("payment_status"));
        var after = (await _api.Get($"/v1/invoices/{invoice}")).Ok();
        Assert.Equal(("7", "SUCCEEDED"), (after.S("amount_paid"), after.S("payment_status")));

        _server!.Kill(entireProcessTree: true);
        await _server.WaitForExitAsync();
        await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_db}"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*), SUM(CAST(amount AS REAL) * 100) FROM sandbox_charges WHERE kind = 'charge'";
            await using var r = await cmd.ExecuteReaderAsync();
            await r.ReadAsync();
            Assert.Equal((1L, 700L), (r.GetInt64(0), (long)r.GetDecimal(1)));
        }
        using var verify = Run("verify");
        await verify.WaitForExitAsync();
        Assert.Equal(0, verify.ExitCode);
    }

    public async Task DisposeAsync()
    {
        if (_server is { HasExited: false }) _server.Kill(entireProcessTree: true);
        _api?.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm", ".key" }) File.Delete(_db + suffix);
    }
}
