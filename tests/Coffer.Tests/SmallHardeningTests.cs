using System.Net;
using System.Text;

namespace Coffer.Tests;

public sealed class SmallHardeningTestsOnSqlite() : SmallHardeningTests(Store.Sqlite);
public sealed class SmallHardeningTestsOnPostgres() : SmallHardeningTests(Store.Postgres);

public abstract class SmallHardeningTests(Store store) : ApiTest(store)
{
    [Fact]
    public async Task AFrozenWalletRefusesToCaptureAHoldUntilUnfrozen()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var holdId = (await Api.Post($"/v1/wallets/{id}/holds", new { credits = "4" })).Ok()["hold"]!.S("id");
        (await Api.Post($"/v1/wallets/{id}/freeze")).Ok();

        Assert.Equal("wallet_not_active", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { })).Error(422));
        Assert.Equal("10", (await Wallet(id)).S("credit_balance"));

        (await Api.Post($"/v1/wallets/{id}/unfreeze")).Ok();
        Assert.Equal("6", (await Api.Post($"/v1/wallets/{id}/holds/{holdId}/capture", new { })).Ok()["wallet"]!.S("credit_balance"));
    }

    [Theory]
    [InlineData("Ada\u202Egnp.exe")]
    [InlineData("Ad\u200Ba")]
    [InlineData("\uFEFFAda")]
    [InlineData("Ada\u2066x")]
    public async Task NamesWithInvisibleOrDirectionChangingCharactersAreRefused(string name)
    {
        Assert.Equal("validation_failed", (await Api.Post("/v1/customers", new { external_id = "c-1", name })).Error(400));
        Assert.Equal(0, (await Api.Get("/v1/customers")).Ok()["pagination"]!["total"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("a\r\nSet-Cookie: x")]
    [InlineData("a\0b")]
    [InlineData("line\nbreak")]
    public async Task MetadataWithControlCharactersIsRefused(string value)
    {
        var r = await Api.Post("/v1/customers", new { external_id = "c-1", name = "Ada", metadata = new Dictionary<string, string> { ["note"] = value } });
        Assert.Equal("validation_failed", r.Error(400));
        var k = await Api.Post("/v1/customers", new { external_id = "c-1", name = "Ada", metadata = new Dictionary<string, string> { [value] = "x" } });
        Assert.Equal("validation_failed", k.Error(400));
    }

    [Fact]
    public async Task APackagePurchaseKeyHeaderLongerThan255CharactersIsRefused()
    {
        var id = (await CreateWallet()).S("id");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/wallets/{id}/purchase-package")
        {
            Content = new StringContent("""{"package_id": "pkg_none"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", new string('k', 256));
        using var response = await Api.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("idempotency_key", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AQueryValueOfTheWrongTypeIsNamedWithoutFrameworkTypes()
    {
        var (status, body) = await Api.Get("/v1/wallets?limit=many");
        Assert.Equal(400, status);
        Assert.Equal("validation_failed", body!["error"]!.S("code"));
        var message = body["error"]!.S("message");
        Assert.Contains("limit", message);
        Assert.DoesNotContain("Nullable", message);
        Assert.DoesNotContain("<", message);
    }

    [Fact]
    public async Task AChunkedOversizedBodyIsPayloadTooLarge()
    {
        await using var app = new CofferApp(App.Store, kestrel: true);
        using var api = app.KestrelApi();
        var big = Encoding.UTF8.GetBytes("{\"external_id\": \"c-1\", \"name\": \"" + new string('a', 400_000) + "\"}");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/customers") { Content = new StreamContent(new MemoryStream(big)) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        using var response = await api.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("\"payload_too_large\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, (await api.Get("/v1/customers")).Ok()["pagination"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task AnOverlongUrlIsA414InTheEnvelope()
    {
        await using var app = new CofferApp(App.Store, kestrel: true);
        using var api = app.KestrelApi();
        using var response = await api.GetAsync("/v1/wallets?customer_id=" + new string('c', 10_000));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, response.StatusCode);
        Assert.Contains("\"validation_failed\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ANullCharacterInThePathIsRefusedBeforeAnyHandlerAndTheServerGoesOn()
    {
        await using var app = new CofferApp(App.Store, kestrel: true);
        using var api = app.KestrelApi();
        // The HTTP server refuses it while parsing the request line, before Coffer's code (and its envelope) runs.
        using (var refused = await api.PostAsync("/v1/customers%00", new StringContent("""{"external_id": "n-1", "name": "Nul"}""", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var after = await api.GetAsync("/v1/customers");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Contains("\"total\":0", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AWeakConfiguredApiKeyStopsStartUpNamingTheSetting()
    {
        await using var weak = new CofferApp(App.Store) { Settings = { ["COFFER_API_KEY"] = "secret123" } };
        var error = weak.StartFailure();
        Assert.Contains("COFFER_API_KEY", error.ToString());
    }

    [Fact]
    public async Task ADeletedKeyStopsWorkingAtOnce()
    {
        var created = (await Api.Post("/v1/secrets/api/keys", new { name = "temp" })).Ok(201);
        using var temp = App.Api(created.S("api_key"));
        (await temp.Get("/v1/customers")).Ok();
        Assert.Equal(204, (await Api.Delete($"/v1/secrets/api/keys/{created["secret"]!.S("id")}")).Status);
        Assert.Equal("unauthorized", (await temp.Get("/v1/customers")).Error(401));
    }

    [Fact]
    public async Task ADeletedKeyStopsWorkingOnAnotherNodeWithinOneSecond()
    {
        await using var second = new CofferApp(App);
        var created = (await Api.Post("/v1/secrets/api/keys", new { name = "temp" })).Ok(201);
        using var there = second.Api(created.S("api_key"));
        (await there.Get("/v1/customers")).Ok();
        Assert.Equal(204, (await Api.Delete($"/v1/secrets/api/keys/{created["secret"]!.S("id")}")).Status);

        // The other node remembers the key for a moment only.
        second.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("unauthorized", (await there.Get("/v1/customers")).Error(401));
    }

    [Fact]
    public void AStoredStripeAddressCountsOnlyWhileTheOperatorAllowsIt()
    {
        var config = new Settings.GatewayConfig("stripe", "sk_test_x", "whsec_x", "http://127.0.0.1:9/");
        var allowed = new Payments.Gateways.StripeGatewayFactory(CofferApp.Options(("COFFER_ALLOW_STRIPE_API_BASE", "true")));
        var refused = new Payments.Gateways.StripeGatewayFactory(CofferApp.Options());

        Assert.Equal("http://127.0.0.1:9/", ((Payments.Gateways.StripeGateway)allowed.Create(config)).ApiBase);
        Assert.Equal(Stripe.StripeClient.DefaultApiBase, ((Payments.Gateways.StripeGateway)refused.Create(config)).ApiBase);
    }

    [Fact]
    public async Task DeliveredOutboxEventsArePrunedAfterTheRetentionAndUndeliveredOnesAreKept()
    {
        var wallet = (await CreateWallet()).S("id");
        await App.Service<Webhooks.WebhookWorker>().RunOnceAsync();
        var delivered = await Count("delivered_at IS NOT NULL");
        Assert.True(delivered > 0);

        App.Clock.Advance(Outbox.OutboxWriter.Retention - TimeSpan.FromDays(1));
        await TopUp(wallet, "1");
        var pending = await Count("delivered_at IS NULL");
        Assert.True(pending > 0);
        await App.Service<Expiry.ExpirySweeper>().SweepOnceAsync();
        Assert.Equal(delivered, await Count("delivered_at IS NOT NULL"));

        App.Clock.Advance(TimeSpan.FromDays(2));
        await App.Service<Expiry.ExpirySweeper>().SweepOnceAsync();
        Assert.Equal(0, await Count("delivered_at IS NOT NULL"));
        Assert.Equal(pending, await Count("delivered_at IS NULL"));
    }

    async Task<long> Count(string where)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        return await Storage.Sql.ScalarLongAsync(c, null, $"SELECT COUNT(*) FROM outbox_events WHERE {where}");
    }
}
