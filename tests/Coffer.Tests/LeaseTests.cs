using Coffer.Storage;

namespace Coffer.Tests;

public sealed class LeaseTestsOnSqlite() : LeaseTests(Store.Sqlite);
public sealed class LeaseTestsOnPostgres() : LeaseTests(Store.Postgres);

/// <summary>Every queue's work is leased with an owner and an end: a node that stops holding work strands nothing.</summary>
public abstract class LeaseTests(Store store) : ApiTest(store)
{
    [Fact]
    public async Task ADeliveryLeftByANodeThatStoppedMidAttemptIsDeliveredByAnotherNodeOnceItsLeaseRunsOut()
    {
        await using var tarpit = new SmtpTarpit();
        await using var receiver = await WebhookReceiver.StartAsync();
        var endpoint = (await Api.Post("/v1/webhooks/endpoints", new { url = $"http://127.0.0.1:{tarpit.Port}/hook", event_types = new[] { "wallet.created" } }))
            .Ok(201).S("id");
        await CreateWallet();

        // The other node takes the delivery and stops while its receiver is silent. Its lease follows its own time-out.
        TimeSpan held;
        await using (var stopping = new CofferApp(App) { Settings = { ["COFFER_WEBHOOK_TIMEOUT_MS"] = "30000" } })
        {
            using var stop = new CancellationTokenSource();
            held = stopping.Service<Webhooks.WebhookWorker>().Lease;
            var round = stopping.Service<Webhooks.WebhookWorker>().RunOnceAsync(stop.Token);
            await tarpit.Connected.WaitAsync(TimeSpan.FromSeconds(60));
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => round);
        }
        Assert.NotEqual(App.Service<Leases>().Owner, await Scalar("SELECT leased_by FROM webhook_deliveries"));

        (await Api.Put($"/v1/webhooks/endpoints/{endpoint}", new { url = receiver.Url })).Ok();
        var worker = App.Service<Webhooks.WebhookWorker>();
        Assert.Equal(0, await worker.RunOnceAsync());
        App.Clock.Advance(held - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await worker.RunOnceAsync());
        App.Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, await worker.RunOnceAsync());

        Assert.Single(receiver.Received);
        var delivery = (await Api.Get("/v1/webhooks/deliveries")).Ok()["items"]!.AsArray().Single()!;
        Assert.Equal(("succeeded", 1), (delivery.S("status"), delivery["attempt_count"]!.GetValue<int>()));
        Assert.Null(await Scalar("SELECT leased_by FROM webhook_deliveries"));
    }

    [Fact]
    public async Task AnAutoTopUpLeftProcessingByANodeThatStoppedIsFailedOnceItsLeaseRunsOutAndTheWalletBuysAgain()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "100", auto_topup = new { enabled = true, threshold = 50, amount = 10, invoicing = true } });
        var id = wallet.S("id");
        (await Debit(id, "60")).Ok();
        // What a node that died mid-purchase leaves behind: the attempt taken, under its lease.
        await using (var c = await App.Service<Database>().OpenAsync())
            await c.ExecAsync(null, "UPDATE auto_topup_attempts SET status = 'processing', leased_by = 'a-node-that-stopped', leased_until = @until",
                ("until", App.Clock.GetUtcNow() + AutoTopUp.AutoTopUpWorker.Lease));
        var worker = App.Service<AutoTopUp.AutoTopUpWorker>();

        Assert.Equal(0, await worker.RunOnceAsync());
        Assert.Equal("processing", (await Attempts(id)).Single()!.S("status"));

        App.Clock.Advance(AutoTopUp.AutoTopUpWorker.Lease + TimeSpan.FromSeconds(1));
        Assert.Equal(0, await worker.RunOnceAsync());
        var interrupted = (await Attempts(id)).Single()!;
        Assert.Equal(("failed", "interrupted"), (interrupted.S("status"), interrupted.S("error")));

        // The wallet is no longer held up behind it: the next debit queues a purchase, and it runs.
        (await Debit(id, "1")).Ok();
        Assert.Equal(1, await worker.RunOnceAsync());
        Assert.Equal("invoiced", (await Attempts(id))[0]!.S("status"));
    }

    async Task<System.Text.Json.Nodes.JsonArray> Attempts(string wallet) => (await Api.Get($"/v1/wallets/{wallet}/auto-topup/attempts")).Ok()["items"]!.AsArray();

    async Task<string?> Scalar(string sql)
    {
        await using var c = await App.Service<Database>().OpenAsync();
        return (await c.QueryAsync(null, sql, r => r.NStr("leased_by"))).Single();
    }
}

/// <summary>A setting with a value it does not take stops the start, naming the setting, instead of being clamped or ignored.</summary>
public sealed class CofferOptionsTests
{
    [Theory]
    [InlineData("COFFER_WEBHOOK_POLL_MS", "abc")]
    [InlineData("COFFER_WEBHOOK_POLL_MS", "-5")]
    [InlineData("COFFER_ALERT_EMAIL_TIMEOUT_MS", "600000")]
    [InlineData("COFFER_GROUP_COMMIT", "maybe")]
    [InlineData("COFFER_WORKERS", "no")]
    [InlineData("COFFER_SMTP_ALLOW_PRIVATE", "yes")]
    [InlineData("COFFER_RECONCILE_GRACE_SECONDS", "1.5")]
    [InlineData("COFFER_LOG_FORMAT", "xml")]
    public async Task ABadSettingStopsTheStartNamingIt(string name, string value)
    {
        await using var app = new CofferApp(Store.Sqlite) { Settings = { [name] = value } };

        var error = app.StartFailure();

        Assert.Contains($"{name} must be", error.ToString());
        Assert.Contains($"not '{value}'", error.ToString());
    }

    [Fact]
    public async Task ABadSecretSettingStopsTheStartWithoutRepeatingTheValue()
    {
        await using var app = new CofferApp(Store.Sqlite) { Settings = { ["COFFER_METRICS_TOKEN"] = "short s3cret" } };

        var error = app.StartFailure();

        Assert.Contains("COFFER_METRICS_TOKEN must be 32 to 200", error.ToString());
        Assert.DoesNotContain("s3cret", error.ToString());
    }
}
