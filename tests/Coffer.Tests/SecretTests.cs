using System.Text.Json.Nodes;
using Coffer.Secrets;
using Coffer.Storage;
using Microsoft.AspNetCore.DataProtection;

namespace Coffer.Tests;

public sealed class SecretTestsOnSqlite() : SecretTests(Store.Sqlite);
public sealed class SecretTestsOnPostgres() : SecretTests(Store.Postgres);

/// <summary>
/// Secrets at rest: what the database holds is sealed with a master key it does not hold, the features still get the
/// plain value, the API never shows it back, and the key can be rotated node by node.
/// </summary>
public abstract class SecretTests(Store store) : ApiTest(store)
{
    readonly string _stripeKey = "sk_test_" + Guid.NewGuid().ToString("N");
    readonly string _stripeWebhookSecret = "whsec_" + Guid.NewGuid().ToString("N");
    readonly string _smtpPassword = "pw-" + Guid.NewGuid().ToString("N");

    static async Task<List<string>> Column(CofferApp app, string sql)
    {
        await using var c = await app.Service<Database>().OpenAsync();
        return await c.QueryAsync(null, sql, r => r.GetString(0));
    }

    static Task<List<string>> Settings(CofferApp app) => Column(app, "SELECT settings FROM tenants");

    async Task<StripeStandIn> UseStripe(HttpClient api)
    {
        var stripe = await StripeStandIn.StartAsync();
        (await api.Put("/v1/settings/payment_gateway", new
        {
            value = new { provider = "stripe", stripe_secret_key = _stripeKey, stripe_webhook_secret = _stripeWebhookSecret, stripe_api_base = stripe.Url },
        })).Ok();
        return stripe;
    }

    /// <summary>Pays an invoice by card through Stripe and returns the Authorization header Stripe was sent.</summary>
    static async Task<string?> PayByCard(HttpClient api, StripeStandIn stripe)
    {
        var customer = (await api.Post("/v1/customers", new { external_id = "ext-" + Guid.NewGuid().ToString("N")[..10], name = "Ada" })).Ok(201).S("id");
        var card = (await api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", token = "pm_card_visa" })).Ok(201).S("id");
        var invoice = (await api.Post("/v1/invoices", new
        {
            customer_id = customer, currency = "usd", amount_due = "5", subtotal = "5", total = "5", invoice_status = "FINALIZED",
            line_items = new[] { new { display_name = "Usage", amount = "5", quantity = "1" } },
        })).Ok(201).S("id");
        var paid = (await api.Post("/v1/payments", new
        {
            amount = "5", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "CARD", payment_method_id = card,
        })).Ok(201);
        Assert.Equal("SUCCEEDED", paid.S("payment_status"));
        return stripe.Calls.Last(c => c.Path == "/v1/payment_intents").Authorization;
    }

    async Task UseSmtp(HttpClient api, SmtpSink smtp) =>
        (await api.Put("/v1/settings/alert_email", new
        {
            value = new
            {
                enabled = true, smtp_host = "127.0.0.1", smtp_port = smtp.Port, security = "none", username = "alerts", password = _smtpPassword,
                from = "alerts@merchant.test", to = new[] { "ops@merchant.test" },
            },
        })).Ok();

    /// <summary>Makes one alert and mails it; returns the password the SMTP server was given.</summary>
    static async Task<string> MailAnAlert(CofferApp app, HttpClient api, SmtpSink smtp)
    {
        var customer = (await api.Post("/v1/customers", new { external_id = "ext-" + Guid.NewGuid().ToString("N")[..10], name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new
        {
            customer_id = customer, currency = "usd", initial_credits_to_load = "100",
            alert_settings = new { alert_enabled = true, warning = new { threshold = 50, condition = "below" }, critical = new { threshold = 10, condition = "below" } },
        })).Ok().S("id");
        (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "60", idempotency_key = Guid.NewGuid().ToString("N") })).Ok();
        var before = smtp.Logins.Count;
        Assert.Equal(1, await app.Service<Alerts.AlertMailer>().RunOnceAsync());
        Assert.Equal(before + 1, smtp.Logins.Count);
        var login = smtp.Logins.Last();
        Assert.Equal("alerts", login.User);
        return login.Password;
    }

    /// <summary>Delivers the endpoint's pending events through <paramref name="app"/>'s worker; true when every signature verifies.</summary>
    static async Task<bool> DeliveredSigned(CofferApp app, HttpClient api, WebhookReceiver receiver, string secret)
    {
        var before = receiver.Received.Count;
        await NewWallet(api);
        await app.Service<Webhooks.WebhookWorker>().RunOnceAsync();
        var received = receiver.Received.Skip(before).ToList();
        Assert.NotEmpty(received);
        return received.All(w => WebhookTests.Verifies(w, secret));
    }

    internal static async Task NewWallet(HttpClient api)
    {
        var customer = (await api.Post("/v1/customers", new { external_id = "ext-" + Guid.NewGuid().ToString("N")[..10], name = "Ada" })).Ok(201).S("id");
        (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd" })).Ok();
    }

    static async Task<int> EnterPortal(CofferApp app, HttpClient api)
    {
        var customer = (await api.Post("/v1/customers", new { external_id = "ext-" + Guid.NewGuid().ToString("N")[..10], name = "Ada" })).Ok(201).S("id");
        var url = new Uri((await api.Post("/v1/portal/sessions", new { customer_id = customer, expires_in_seconds = 600 })).Ok(201).S("url"));
        using var browser = app.CreateClient();
        using var response = await browser.GetAsync(url.PathAndQuery);
        return (int)response.StatusCode;
    }

    [Fact]
    public async Task AStripeKeyIsStoredSealedNeverShownAndStillSentToStripe()
    {
        await using var stripe = await UseStripe(Api);

        var stored = Assert.Single(await Settings(App));
        Assert.DoesNotContain(_stripeKey, stored);
        Assert.DoesNotContain(_stripeWebhookSecret, stored);
        var gateway = JsonNode.Parse(stored)!["payment_gateway"]!;
        Assert.StartsWith(SecretBox.Prefix, gateway.S("stripe_secret_key"));
        Assert.StartsWith(SecretBox.Prefix, gateway.S("stripe_webhook_secret"));
        var shown = (await Api.Get("/v1/settings/payment_gateway")).Ok().ToJsonString();
        Assert.DoesNotContain(_stripeKey, shown);
        Assert.DoesNotContain(_stripeWebhookSecret, shown);

        Assert.Equal("Bearer " + _stripeKey, await PayByCard(Api, stripe));
    }

    [Fact]
    public async Task AnSmtpPasswordIsStoredSealedNeverShownAndStillGivenToTheServer()
    {
        await using var smtp = new SmtpSink();
        await UseSmtp(Api, smtp);

        var stored = Assert.Single(await Settings(App));
        Assert.DoesNotContain(_smtpPassword, stored);
        Assert.StartsWith(SecretBox.Prefix, JsonNode.Parse(stored)!["alert_email"]!.S("password"));
        var shown = (await Api.Get("/v1/settings/alert_email")).Ok();
        Assert.DoesNotContain(_smtpPassword, shown.ToJsonString());
        Assert.True(shown["password_set"]!.GetValue<bool>());

        Assert.Equal(_smtpPassword, await MailAnAlert(App, Api, smtp));
        Assert.Single(smtp.Messages);
    }

    [Fact]
    public async Task AWebhookSecretIsShownOnceStoredSealedAndStillSigns()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var created = (await Api.Post("/v1/webhooks/endpoints", new { url = receiver.Url })).Ok(201);
        var secret = created.S("secret");

        var stored = Assert.Single(await Column(App, "SELECT secret FROM webhook_endpoints"));
        Assert.StartsWith(SecretBox.Prefix, stored);
        Assert.DoesNotContain(secret, stored);
        Assert.DoesNotContain(secret, (await Api.Get($"/v1/webhooks/endpoints/{created.S("id")}")).Ok().ToJsonString());
        Assert.DoesNotContain(secret, (await Api.Get("/v1/webhooks/endpoints")).Ok().ToJsonString());

        Assert.True(await DeliveredSigned(App, Api, receiver, secret));
        var rotated = (await Api.Post($"/v1/webhooks/endpoints/{created.S("id")}/rotate-secret")).Ok().S("secret");
        var after = await Column(App, "SELECT secret FROM webhook_endpoints UNION ALL SELECT previous_secret FROM webhook_endpoints");
        Assert.All(after, s => Assert.StartsWith(SecretBox.Prefix, s));
        Assert.True(await DeliveredSigned(App, Api, receiver, rotated));
        Assert.True(await DeliveredSigned(App, Api, receiver, secret));
    }

    [Fact]
    public async Task ThePortalSigningKeyAndTheDataProtectionKeysAreStoredSealed()
    {
        Assert.Equal(200, await EnterPortal(App, Api));
        var protectedText = App.Service<IDataProtectionProvider>().CreateProtector("secret-tests").Protect("hello");

        Assert.All(await Column(App, "SELECT key_value FROM server_keys"), k => Assert.StartsWith(SecretBox.Prefix, k));
        var keys = await Column(App, "SELECT xml FROM data_protection_keys");
        Assert.NotEmpty(keys);
        Assert.All(keys, x => Assert.DoesNotContain("masterKey", x));
        Assert.All(keys, x => Assert.Contains(SecretBox.Prefix, x));
        Assert.Equal("hello", App.Service<IDataProtectionProvider>().CreateProtector("secret-tests").Unprotect(protectedText));
    }

    [Fact]
    public async Task SecretsSurviveARotationFromOneMasterKeyToAnother()
    {
        var keyA = App.MasterKey!;
        var keyB = CofferApp.NewMasterKey();
        await using var stripe = await UseStripe(Api);
        await using var smtp = new SmtpSink();
        await UseSmtp(Api, smtp);
        await using var receiver = await WebhookReceiver.StartAsync();
        var secret = (await Api.Post("/v1/webhooks/endpoints", new { url = receiver.Url })).Ok(201).S("secret");
        Assert.Equal(200, await EnterPortal(App, Api));
        var protectedText = App.Service<IDataProtectionProvider>().CreateProtector("secret-tests").Protect("hello");

        async Task StillWorks(CofferApp node)
        {
            using var api = node.Api();
            Assert.Equal("Bearer " + _stripeKey, await PayByCard(api, stripe));
            Assert.Equal(_smtpPassword, await MailAnAlert(node, api, smtp));
            Assert.True(await DeliveredSigned(node, api, receiver, secret));
            Assert.Equal(200, await EnterPortal(node, api));
            Assert.Equal("hello", node.Service<IDataProtectionProvider>().CreateProtector("secret-tests").Unprotect(protectedText));
        }

        // The new key first, the old one still listed: everything sealed with A still opens.
        await using (var both = new CofferApp(App) { MasterKey = $"{keyB},{keyA}" })
        {
            await StillWorks(both);
            Assert.True(await both.Service<SealedColumns>().RotateAsync() > 0);
        }

        await using var onlyB = new CofferApp(App) { MasterKey = keyB };
        await StillWorks(onlyB);
        var idB = onlyB.Service<SecretBox>().CurrentKeyId;
        var idA = App.Service<SecretBox>().CurrentKeyId;
        var everything = string.Join("\n", [.. await Settings(App), .. await Column(App, "SELECT secret FROM webhook_endpoints"),
            .. await Column(App, "SELECT key_value FROM server_keys"), .. await Column(App, "SELECT xml FROM data_protection_keys")]);
        Assert.Contains($"{SecretBox.Prefix}{idB}:", everything);
        Assert.DoesNotContain($"{SecretBox.Prefix}{idA}:", everything);
    }

    [Fact]
    public async Task AWrongMasterKeyStopsTheStartNamingCofferMasterKey()
    {
        (await Api.Post("/v1/webhooks/endpoints", new { url = "http://127.0.0.1:9/hook" })).Ok(201);

        await using var wrong = new CofferApp(App) { MasterKey = CofferApp.NewMasterKey() };
        var error = wrong.StartFailure();

        Assert.Contains("COFFER_MASTER_KEY", error.ToString());
        Assert.Contains("does not hold", error.ToString());
    }

    [Fact]
    public async Task VerifyFlagsASecretStoredInPlainTextAndTheNextStartSealsIt()
    {
        var id = (await Api.Post("/v1/webhooks/endpoints", new { url = "http://127.0.0.1:9/hook" })).Ok(201).S("id");
        await using (var c = await App.Service<Database>().OpenAsync())
            await c.ExecAsync(null, "UPDATE webhook_endpoints SET secret = 'whsec_cGxhaW4tdGV4dC1zZWNyZXQ=' WHERE id = @id", ("id", id));

        var report = await App.VerifyAsync();
        Assert.Contains(report.Problems, p => p.Contains("webhook_endpoints") && p.Contains(id) && p.Contains("plain text"));

        await using var restarted = new CofferApp(App);
        restarted.Api().Dispose();
        Assert.True((await restarted.VerifyAsync()).Ok);
    }
}

/// <summary>Without COFFER_MASTER_KEY the key is a file next to the SQLite database, made on first start, readable by its owner only.</summary>
public sealed class SecretKeyFileTests
{
    [Fact]
    public async Task WithoutCofferMasterKeyAKeyFileIsCreatedNextToTheDatabaseWithOwnerOnlyPermissions()
    {
        await using var app = new CofferApp(Store.Sqlite) { MasterKey = null };
        using var api = app.Api();
        await using var receiver = await WebhookReceiver.StartAsync();
        var secret = (await api.Post("/v1/webhooks/endpoints", new { url = receiver.Url })).Ok(201).S("secret");

        var file = app.DatabaseSetting + ".key";
        Assert.True(File.Exists(file));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(SecretBox.KeyBytes, Convert.FromBase64String(File.ReadAllText(file).Trim()).Length);
        await using (var c = await app.Service<Database>().OpenAsync())
            Assert.StartsWith(SecretBox.Prefix, await c.QuerySingleAsync(null, "SELECT secret FROM webhook_endpoints", r => r.GetString(0)));

        // A restart reads the same file rather than making a new key.
        await using var again = new CofferApp(app) { MasterKey = null };
        using var againApi = again.Api();
        await SecretTests.NewWallet(againApi);
        await again.Service<Webhooks.WebhookWorker>().RunOnceAsync();
        Assert.NotEmpty(receiver.Received);
        Assert.All(receiver.Received, w => Assert.True(WebhookTests.Verifies(w, secret)));
        Assert.True((await again.VerifyAsync()).Ok);
    }
}
