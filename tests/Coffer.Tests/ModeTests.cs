using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Coffer.Dashboard;
using Coffer.Payments.Gateways;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Tenants;

namespace Coffer.Tests;

public sealed class ModeTestsOnSqlite() : ModeTests(Store.Sqlite);
public sealed class ModeTestsOnPostgres() : ModeTests(Store.Postgres);

/// <summary>
/// Test and live mode: the sandbox takes test cards only in test mode, a live tenant without a live gateway refuses
/// every card and portal payment, going live happens once and before money moves, and every page says test mode.
/// </summary>
public abstract partial class ModeTests(Store store) : ApiTest(store)
{
    async Task<(Tenant Tenant, HttpClient Api)> NewTenant(string mode)
    {
        var tenants = App.Service<TenantStore>();
        var tenant = await tenants.CreateTenantAsync("tenant " + mode, isDefault: false, mode);
        return (tenant, App.Api((await tenants.CreateKeyAsync(tenant.Id, "k")).Secret));
    }

    static async Task<string> Finalized(HttpClient api, string customer, string amount) =>
        (await api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED" }))
        .Ok(201).S("id");

    static Task<(int Status, JsonNode? Body)> Pay(HttpClient api, string invoice, string amount, string method, string? methodId = null) =>
        api.Post("/v1/payments", new { amount, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = method, payment_method_id = methodId });

    async Task<long> Count(string table, string tenantId)
    {
        await using var c = await App.Service<Database>().OpenAsync();
        return await c.ScalarLongAsync(null, $"SELECT COUNT(*) FROM {table} WHERE tenant_id = @t", ("t", tenantId));
    }

    [Fact]
    public async Task ATenantIsOneEnvironmentOfItsModeAndARequestNamingAnotherIsRefused()
    {
        var environments = (await Api.Get("/v1/environments")).Ok();
        var environment = Assert.Single(environments["environments"]!.AsArray())!;
        var id = environment.S("id");
        Assert.Equal(("development", "test", 1), (environment.S("type"), environment.S("slug"), environments["total"]!.GetValue<int>()));
        Assert.Equal(id, (await Api.Get($"/v1/environments/{id}")).Ok().S("id"));
        Assert.Equal("not_found", (await Api.Get("/v1/environments/env_elsewhere")).Error(404));

        var (live, liveApi) = await NewTenant(Modes.Live);
        var shown = Assert.Single((await liveApi.Get("/v1/environments")).Ok()["environments"]!.AsArray())!;
        Assert.Equal((live.Id, "production", "live"), (shown.S("id"), shown.S("type"), shown.S("slug")));

        // Naming its own environment is fine; naming the live one with the test key changes nothing and says why.
        Api.DefaultRequestHeaders.Add(Modes.EnvironmentHeader, id);
        await CreateCustomer();
        Api.DefaultRequestHeaders.Remove(Modes.EnvironmentHeader);
        Api.DefaultRequestHeaders.Add(Modes.EnvironmentHeader, live.Id);
        var before = await Count("customers", id) + await Count("customers", live.Id);
        Assert.Equal("environment_mismatch", (await Api.Post("/v1/customers", new { external_id = "x-1", name = "Eve" })).Error(403));
        Assert.Equal(before, await Count("customers", id) + await Count("customers", live.Id));
    }

    [Fact]
    public async Task ALiveTenantWithoutALiveGatewayRefusesEveryCardPaymentAndNothingIsRecorded()
    {
        var (live, api) = await NewTenant(Modes.Live);
        var wallet = (await api.Post("/v1/wallets", new { customer_id = (await CreateCustomer(api: api)).S("id"), currency = "usd" })).Ok();
        var customer = wallet.S("customer_id");

        Assert.Equal("gateway_not_configured",
            (await api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Error(422));
        var invoice = await Finalized(api, customer, "25");
        var link = await Pay(api, invoice, "25", "PAYMENT_LINK");
        Assert.Equal("gateway_not_configured", link.Error(422));
        Assert.Contains("live mode", link.Body!["error"]!.S("message"));
        Assert.Equal(0, await Count("payments", live.Id));
        Assert.Equal("PENDING", (await api.Get($"/v1/invoices/{invoice}")).Ok().S("payment_status"));

        // An invoiced purchase waits for its invoice, which no card can pay here.
        var bought = (await api.Post($"/v1/wallets/{wallet.S("id")}/top-up", new { credits_to_add = "100", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        Assert.Equal("gateway_not_configured", (await Pay(api, bought.S("invoice_id"), "100", "PAYMENT_LINK")).Error(422));
        Assert.Equal("0", (await api.Get($"/v1/wallets/{wallet.S("id")}")).Ok().S("credit_balance"));
    }

    [Fact]
    public async Task TheSandboxAndTestKeysAreForTestModeAndLiveKeysForLiveMode()
    {
        var (_, live) = await NewTenant(Modes.Live);
        object Stripe(string key) => new { value = new { provider = "stripe", stripe_secret_key = key, stripe_webhook_secret = "whsec_x" } };

        Assert.Equal("wrong_mode", (await live.Put("/v1/settings/payment_gateway", new { value = new { provider = "sandbox" } })).Error(422));
        Assert.Equal("wrong_mode", (await live.Put("/v1/settings/payment_gateway", Stripe("sk_test_abc"))).Error(422));
        Assert.Equal("sandbox", (await live.Get("/v1/settings/payment_gateway")).Ok().S("provider"));
        Assert.Equal("stripe", (await live.Put("/v1/settings/payment_gateway", Stripe("sk_live_abc"))).Ok().S("provider"));

        Assert.Equal("wrong_mode", (await Api.Put("/v1/settings/payment_gateway", Stripe("rk_live_abc"))).Error(422));
        Assert.Equal("stripe", (await Api.Put("/v1/settings/payment_gateway", Stripe("sk_test_abc"))).Ok().S("provider"));
        (await Api.Put("/v1/settings/payment_gateway", new { value = new { provider = "sandbox" } })).Ok();
    }

    [Fact]
    public async Task GoingLiveHappensOnceBeforeMoneyMovesAndStopsTheSandboxAtOnce()
    {
        var tenants = App.Service<TenantStore>();
        var (used, usedApi) = await NewTenant(Modes.Test);
        var paid = await Finalized(usedApi, (await CreateCustomer(api: usedApi)).S("id"), "5");
        (await Pay(usedApi, paid, "5", "PAYMENT_LINK")).Ok(201);
        Assert.Equal(GoLiveOutcome.MoneyMoved, await tenants.GoLiveAsync(used.Id));
        Assert.Equal("development", (await usedApi.Get("/v1/environments")).Ok()["environments"]![0].S("type"));

        var (fresh, api) = await NewTenant(Modes.Test);
        var customer = (await CreateCustomer(api: api)).S("id");
        (await api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);
        var invoice = await Finalized(api, customer, "5");
        // Two operators at once: one goes live, the other is told so.
        var outcomes = await Task.WhenAll(tenants.GoLiveAsync(fresh.Id), tenants.GoLiveAsync(fresh.Id));
        Assert.Equal([GoLiveOutcome.WentLive, GoLiveOutcome.AlreadyLive], outcomes.Order());
        Assert.Equal(GoLiveOutcome.NotFound, await tenants.GoLiveAsync("tenant_none"));

        // This node sees it at once: the key's cached lookup, the gateway and the saved sandbox card.
        Assert.Equal("production", (await api.Get("/v1/environments")).Ok()["environments"]![0].S("type"));
        var card = (await api.Get($"/v1/customers/{customer}/payment-methods")).Ok()["items"]![0]!.S("id");
        Assert.Equal("gateway_not_configured", (await Pay(api, invoice, "5", "CARD", card)).Error(422));
        Assert.Equal(0, await Count("payments", fresh.Id));
    }

    [Fact]
    public async Task GoingLiveWaitsForATestPaymentBeingRecorded()
    {
        var (tenant, _) = await NewTenant(Modes.Test);
        var tenants = App.Service<TenantStore>();
        Task<GoLiveOutcome> goLive;
        await using (var starting = await App.Service<Database>().BeginWriteAsync())
        {
            // What a sandbox payment's start does before it records the payment.
            Assert.Equal(Modes.Test, await tenants.ModeWhileWritingAsync(starting.Connection, starting.Transaction, tenant.Id));
            goLive = Task.Run(() => tenants.GoLiveAsync(tenant.Id));
            await Task.Delay(500);
            Assert.False(goLive.IsCompleted, "going live did not wait for the payment being recorded");
            await starting.CommitAsync();
        }
        Assert.Equal(GoLiveOutcome.WentLive, await goLive);
    }

    [Fact]
    public async Task ASandboxLinkOfATenantNowLiveTakesNoPayment()
    {
        var (tenant, api) = await NewTenant(Modes.Test);
        var invoice = await Finalized(api, (await CreateCustomer(api: api)).S("id"), "7");
        var link = (await Pay(api, invoice, "7", "PAYMENT_LINK")).Ok(201);
        // As if going live had raced the link's creation.
        await using (var scope = await App.Service<Database>().BeginWriteAsync())
        {
            await scope.Connection.ExecAsync(scope.Transaction, "UPDATE tenants SET mode = 'live' WHERE id = @t", ("t", tenant.Id));
            await scope.CommitAsync();
        }
        var path = new Uri(link.S("payment_url")).AbsolutePath;
        using var browser = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(path)).StatusCode);
        var paying = await browser.PostAsync(path, new FormUrlEncodedContent([new("card_number", "4242 4242 4242 4242")]));
        Assert.Equal(HttpStatusCode.NotFound, paying.StatusCode);
        Assert.Equal("PENDING", (await api.Get($"/v1/invoices/{invoice}")).Ok().S("payment_status"));
        Assert.Equal("PENDING", (await api.Get($"/v1/payments/{link.S("id")}")).Ok().S("payment_status"));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    static string Token(string html) => WebUtility.HtmlDecode(TokenField().Match(html).Groups[1].Value);

    /// <summary>A portal customer of <paramref name="api"/>'s tenant with a wallet, signed in; the wallet's id.</summary>
    async Task<(HttpClient Browser, string Wallet)> Portal(HttpClient api)
    {
        var wallet = (await api.Post("/v1/wallets", new { customer_id = (await CreateCustomer(api: api)).S("id"), currency = "usd" })).Ok();
        var url = new Uri((await api.Post("/v1/portal/sessions", new { customer_id = wallet.S("customer_id") })).Ok(201).S("url"));
        var browser = App.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(url.PathAndQuery)).StatusCode);
        return (browser, wallet.S("id"));
    }

    [Fact]
    public async Task EveryPageOfATestTenantSaysTestModeAndALiveTenantsPortalRefusesCardFunding()
    {
        const string banner = "<strong>Test mode</strong>";
        await using (var c = await App.Service<Database>().OpenAsync())
            await App.Service<OperatorStore>().CreateAsync((await c.QuerySingleAsync(null, "SELECT id FROM tenants WHERE is_default = 1", r => r.Str("id")))!,
                "ops@merchant.test", "a long and proper password");
        using var dashboard = App.CreateClient();
        var signIn = await dashboard.PostAsync("/dashboard/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Token(await dashboard.GetStringAsync("/dashboard/sign-in")),
            ["Email"] = "ops@merchant.test", ["Password"] = "a long and proper password", ["ReturnUrl"] = "",
        }));
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.Contains(banner, await signIn.Content.ReadAsStringAsync());
        Assert.Contains(banner, await dashboard.GetStringAsync("/dashboard/invoices"));
        Assert.DoesNotContain(banner, await dashboard.GetStringAsync("/dashboard/sign-in"));

        var (testPortal, testWallet) = await Portal(Api);
        Assert.Contains(banner, await testPortal.GetStringAsync("/portal"));
        Assert.Contains(banner, await testPortal.GetStringAsync($"/portal/wallets/{testWallet}/add-funds"));

        var (live, liveApi) = await NewTenant(Modes.Live);
        var (portal, wallet) = await Portal(liveApi);
        var form = await portal.GetStringAsync($"/portal/wallets/{wallet}/add-funds");
        Assert.DoesNotContain(banner, form);
        Assert.DoesNotContain(banner, await portal.GetStringAsync("/portal"));
        var refused = await portal.PostAsync($"/portal/wallets/{wallet}/add-funds", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Token(form), ["Amount"] = "50", ["Method"] = "new", ["Nonce"] = "n-1",
        }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("Card payments are not available", await refused.Content.ReadAsStringAsync());
        Assert.Equal((0, 0), (await Count("invoices", live.Id), await Count("payments", live.Id)));
        Assert.Equal("0", (await liveApi.Get($"/v1/wallets/{wallet}")).Ok().S("credit_balance"));
        testPortal.Dispose();
        portal.Dispose();
    }

    [Fact]
    public async Task ATenantStoredBeforeModesIsLiveOnlyWhenItsGatewayTookRealMoney()
    {
        var settings = App.Service<TenantSettings>();
        var (withLiveKey, _) = await NewTenant(Modes.Test);
        var (withSandbox, _) = await NewTenant(Modes.Test);
        await settings.SaveGatewayConfigAsync(withLiveKey.Id, new GatewayConfig("stripe", "sk_live_abc", "whsec_x"));
        await using (var scope = await App.Service<Database>().BeginWriteAsync())
        {
            await scope.Connection.ExecAsync(scope.Transaction, "UPDATE tenants SET mode = NULL WHERE id IN (@a, @b)", ("a", withLiveKey.Id), ("b", withSandbox.Id));
            await scope.CommitAsync();
        }
        var gateways = App.Service<GatewayRegistry>();
        await App.Service<TenantStore>().SettleModesAsync(async id => gateways.TakesRealMoney(await settings.GatewayConfigAsync(id)));

        var tenants = App.Service<TenantStore>();
        Assert.Equal((Modes.Live, Modes.Test), ((await tenants.GetAsync(withLiveKey.Id))!.Mode, (await tenants.GetAsync(withSandbox.Id))!.Mode));
    }

    [Fact]
    public async Task ALiveTenantIgnoresStripeEventsOfTestModeAndSettlesLiveOnes()
    {
        var (live, api) = await NewTenant(Modes.Live);
        await using var stripe = await StripeStandIn.StartAsync();
        (await api.Put("/v1/settings/payment_gateway", new
        {
            value = new { provider = "stripe", stripe_secret_key = "sk_live_x", stripe_webhook_secret = "whsec_live", stripe_api_base = stripe.Url },
        })).Ok();
        var invoice = await Finalized(api, (await CreateCustomer(api: api)).S("id"), "9");
        var link = (await Pay(api, invoice, "9", "PAYMENT_LINK")).Ok(201);
        var session = new Uri(link.S("payment_url")).Segments[^1];

        async Task Deliver(string body)
        {
            using var client = App.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/webhooks/stripe/{live.Id}/{live.Id}")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Stripe-Signature", StripeStandIn.Sign(body, "whsec_live", App.Clock.GetUtcNow()));
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
        }

        var testEvent = stripe.Event(session, "completed");
        await Deliver(testEvent);
        Assert.Equal("PENDING", (await api.Get($"/v1/payments/{link.S("id")}")).Ok().S("payment_status"));
        await Deliver(testEvent.Replace("\"livemode\":false", "\"livemode\":true"));
        Assert.Equal("SUCCEEDED", (await api.Get($"/v1/payments/{link.S("id")}")).Ok().S("payment_status"));
    }
}
