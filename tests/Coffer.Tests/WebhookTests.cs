using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class WebhookTestsOnSqlite() : WebhookTests(Store.Sqlite);
public sealed class WebhookTestsOnPostgres() : WebhookTests(Store.Postgres);

public abstract class WebhookTests(Store store) : ApiTest(store)
{
    WebhookReceiver _receiver = null!;

    Webhooks.WebhookWorker Worker => App.Service<Webhooks.WebhookWorker>();

    async Task<(string Id, string Secret)> Endpoint(object? types = null)
    {
        _receiver = await WebhookReceiver.StartAsync();
        var e = (await Api.Post("/v1/webhooks/endpoints", new { url = _receiver.Url, event_types = types })).Ok(201);
        return (e.S("id"), e.S("secret"));
    }

    /// <summary>Standard Webhooks verification written out here, independently of Coffer's signing code.</summary>
    internal static bool Verifies(ReceivedWebhook w, string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = "v1," + Convert.ToBase64String(new HMACSHA256(key).ComputeHash(Encoding.UTF8.GetBytes($"{w.Id}.{w.Timestamp}.{w.Body}")));
        return w.Signature.Split(' ').Contains(expected);
    }

    [Fact]
    public async Task EveryWalletEventIsDeliveredSignedWithItsPerWalletSequence()
    {
        var (_, secret) = await Endpoint();
        var wallet = (await CreateWallet(new { initial_credits_to_load = "5" })).S("id");
        (await Debit(wallet, "2")).Ok();

        await Worker.RunOnceAsync();

        var received = _receiver.Received;
        Assert.All(received, w => Assert.True(Verifies(w, secret), "signature does not verify"));
        var events = received.Select(w => JsonNode.Parse(w.Body)!).Where(e => e["wallet_id"]?.GetValue<string>() == wallet)
            .OrderBy(e => e["sequence"]!.GetValue<long>()).ToList();
        Assert.Equal(["wallet.created", "wallet.transaction.created", "wallet.topped_up", "wallet.transaction.created"],
            events.Select(e => e["event_type"]!.GetValue<string>()));
        Assert.Equal([1L, 2, 3, 4], events.Select(e => e["sequence"]!.GetValue<long>()));
        Assert.Equal("3", events[3]["data"]!["credit_balance_after"]!.GetValue<string>());
        Assert.Equal(received.Select(w => w.Id).Distinct().Count(), received.Count);
    }

    [Fact]
    public async Task AFailedDeliveryIsRetriedWithBackOffAndEveryAttemptIsRecorded()
    {
        await Endpoint(new[] { "wallet.created" });
        _receiver.Answer(500, 503, 200);
        await CreateWallet();

        await Worker.RunOnceAsync();
        await Worker.RunOnceAsync();
        Assert.Single(_receiver.Received);

        App.Clock.Advance(TimeSpan.FromSeconds(6));
        await Worker.RunOnceAsync();
        App.Clock.Advance(TimeSpan.FromMinutes(6));
        await Worker.RunOnceAsync();

        var delivery = (await Api.Get("/v1/webhooks/deliveries")).Ok()["items"]!.AsArray().Single()!;
        Assert.Equal(("succeeded", 3), (delivery.S("status"), delivery["attempt_count"]!.GetValue<int>()));
        var attempts = (await Api.Get($"/v1/webhooks/deliveries/{delivery.S("id")}/attempts")).Ok().AsArray();
        Assert.Equal([500, 503, 200], attempts.Select(a => a!["status_code"]!.GetValue<int>()));
        Assert.Equal(3, _receiver.Received.Count);
        Assert.Single(_receiver.Received.Select(w => w.Id).Distinct());
    }

    [Fact]
    public async Task ATimedOutAttemptCountsAsAFailure()
    {
        await Endpoint(new[] { "wallet.created" });
        _receiver.Stall = TimeSpan.FromSeconds(2);
        await CreateWallet();
        await Worker.RunOnceAsync();
        var delivery = (await Api.Get("/v1/webhooks/deliveries")).Ok()["items"]!.AsArray().Single()!;
        Assert.Equal(("pending", 1), (delivery.S("status"), delivery["attempt_count"]!.GetValue<int>()));
        var attempt = (await Api.Get($"/v1/webhooks/deliveries/{delivery.S("id")}/attempts")).Ok().AsArray().Single()!;
        Assert.Contains("timed out", attempt.S("error"));
    }

    [Fact]
    public async Task A410DisablesTheEndpoint()
    {
        var (id, _) = await Endpoint();
        _receiver.Answer(410);
        await CreateWallet();
        await Worker.RunOnceAsync();

        var endpoint = (await Api.Get($"/v1/webhooks/endpoints/{id}")).Ok();
        Assert.False(endpoint["enabled"]!.GetValue<bool>());
        Assert.Contains("410", endpoint.S("disabled_reason"));
        var before = _receiver.Received.Count;
        await CreateWallet();
        await Worker.RunOnceAsync();
        Assert.Equal(before, _receiver.Received.Count);
    }

    [Fact]
    public async Task AnEndpointFailingForFiveDaysIsDisabledWithANote()
    {
        var (id, _) = await Endpoint(new[] { "wallet.created" });
        var watcher = (await Api.Post("/v1/webhooks/endpoints", new { url = _receiver.Url + "?watcher", event_types = new[] { "webhook.endpoint_disabled" } })).Ok(201);
        _receiver.Answer(500);
        await CreateWallet();
        await Worker.RunOnceAsync();
        for (var day = 1; day <= 5; day++)
        {
            App.Clock.Advance(TimeSpan.FromDays(1));
            await CreateWallet();
            await Worker.RunOnceAsync();
        }
        var endpoint = (await Api.Get($"/v1/webhooks/endpoints/{id}")).Ok();
        Assert.False(endpoint["enabled"]!.GetValue<bool>());
        await Worker.RunOnceAsync();
        var note = (await Api.Get($"/v1/webhooks/deliveries?endpoint_id={watcher.S("id")}")).Ok()["items"]!.AsArray().Single()!;
        Assert.Equal("webhook.endpoint_disabled", note.S("event_type"));
    }

    [Fact]
    public async Task AnEventCanBeResentByHandWithItsOriginalPayload()
    {
        var (id, secret) = await Endpoint(new[] { "wallet.*" });
        await CreateWallet();
        await Worker.RunOnceAsync();
        var first = _receiver.Received.Single();

        var resent = (await Api.Post($"/v1/webhooks/events/{first.Id}/resend", new { endpoint_id = id })).Ok().AsArray();
        Assert.Single(resent);
        await Worker.RunOnceAsync();

        var again = _receiver.Received[^1];
        Assert.Equal((first.Id, first.Body), (again.Id, again.Body));
        Assert.True(Verifies(again, secret));
    }

    [Fact]
    public async Task ARotatedSecretSignsAlongsideTheOldOneForADay()
    {
        var (id, oldSecret) = await Endpoint();
        var newSecret = (await Api.Post($"/v1/webhooks/endpoints/{id}/rotate-secret")).Ok().S("secret");
        await CreateWallet();
        await Worker.RunOnceAsync();
        Assert.All(_receiver.Received, w => Assert.True(Verifies(w, oldSecret) && Verifies(w, newSecret)));

        App.Clock.Advance(TimeSpan.FromHours(25));
        await CreateWallet();
        await Worker.RunOnceAsync();
        var last = _receiver.Received[^1];
        Assert.True(Verifies(last, newSecret));
        Assert.False(Verifies(last, oldSecret));
    }

    [Fact]
    public async Task TwoNodesOnOneDatabaseNeverDeliverTheSameAttemptTwice()
    {
        await Endpoint(new[] { "wallet.created" });
        await using var second = new CofferApp(App);
        using var secondApi = second.Api();
        for (var i = 0; i < 40; i++) await CreateWallet(api: i % 2 == 0 ? Api : secondApi);

        var secondWorker = second.Service<Webhooks.WebhookWorker>();
        for (var round = 0; round < 4; round++)
            await Task.WhenAll(Worker.RunOnceAsync(), secondWorker.RunOnceAsync(), Worker.RunOnceAsync(), secondWorker.RunOnceAsync());

        Assert.Equal(40, _receiver.Received.Count);
        Assert.Equal(40, _receiver.Received.Select(w => w.Id).Distinct().Count());
        var deliveries = (await Api.Get("/v1/webhooks/deliveries?limit=100")).Ok()["items"]!.AsArray();
        Assert.All(deliveries, d => Assert.Equal(("succeeded", 1), (d.S("status"), d!["attempt_count"]!.GetValue<int>())));
    }

    public override async Task DisposeAsync()
    {
        if (_receiver is not null) await _receiver.DisposeAsync();
        await base.DisposeAsync();
    }
}
