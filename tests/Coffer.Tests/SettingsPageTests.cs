using System.Text.Json.Nodes;
using Coffer.Settings;
using Coffer.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Coffer.Tests;

/// <summary>
/// The dashboard's Settings screen: each form changes what <c>/v1/settings/…</c> reads, a bad value is shown in its
/// form and changes nothing, and no secret is ever written into the page.
/// </summary>
public sealed class SettingsPageTests : BrowserTest
{
    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N");

    async Task<IPage> SettingsAsync()
    {
        var page = await SignedInOperatorAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings", Exact = true }).ClickAsync();
        await ReachedAsync(page, "**/dashboard/settings");
        return page;
    }

    static ILocator Section(IPage page, string heading) => page.GetByRole(AriaRole.Region, new() { Name = heading, Exact = true });

    static ILocator Saved(IPage page) => page.GetByRole(AriaRole.Status);

    async Task<JsonNode> Setting(string key) => (await Api.Get($"/v1/settings/{key}")).Ok();

    async Task<string> TenantId() => (await Setting("invoice_config")).S("tenant_id");

    [Fact]
    public async Task AnOperatorChangesEachSettingOnTheSettingsScreenAndTheApiReadsIt()
    {
        var page = await SettingsAsync();
        var password = Unique("smtp-pass-");
        var mail = Section(page, "Low-balance alert e-mail");
        await mail.GetByLabel("Send alert e-mails").CheckAsync();
        await mail.GetByLabel("SMTP host").FillAsync("127.0.0.1");
        await mail.GetByLabel("SMTP port").FillAsync("2525");
        await mail.GetByLabel("Security").SelectOptionAsync("none");
        await mail.GetByLabel("SMTP username").FillAsync("alerts");
        await mail.GetByLabel("SMTP password", new() { Exact = true }).FillAsync(password);
        await mail.GetByLabel("From").FillAsync("alerts@merchant.test");
        await mail.GetByLabel("To", new() { Exact = true }).FillAsync("ops@merchant.test\nfinance@merchant.test");
        await mail.GetByRole(AriaRole.Button, new() { Name = "Save alert e-mail" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Alert e-mail settings saved");
        var alert = await Setting("alert_email");
        Assert.Equal((true, "127.0.0.1", 2525, "none", "alerts", true, "alerts@merchant.test"),
            (alert["enabled"]!.GetValue<bool>(), alert.S("smtp_host"), alert["smtp_port"]!.GetValue<int>(), alert.S("security"), alert.S("username"),
                alert["password_set"]!.GetValue<bool>(), alert.S("from")));
        Assert.Equal(["ops@merchant.test", "finance@merchant.test"], alert["to"]!.AsArray().Select(t => t!.GetValue<string>()));
        await Assertions.Expect(mail).ToContainTextAsync("Stored password: set");
        Assert.DoesNotContain(password, await page.ContentAsync());

        // Saved again with the password field blank (it is never filled in): the stored password stays.
        await mail.GetByLabel("SMTP port").FillAsync("587");
        await mail.GetByRole(AriaRole.Button, new() { Name = "Save alert e-mail" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Alert e-mail settings saved");
        var settings = App.Services.GetRequiredService<TenantSettings>();
        var stored = await settings.AlertEmailAsync(await TenantId());
        Assert.Equal((587, password), (stored.SmtpPort, stored.Password));

        var purchases = Section(page, "Purchases");
        await purchases.GetByLabel("Auto-complete purchases").CheckAsync();
        await purchases.GetByLabel("Pending purchase timeout (days)").FillAsync("10");
        await purchases.GetByLabel("Invoice due date (days)").FillAsync("7");
        await purchases.GetByRole(AriaRole.Button, new() { Name = "Save purchases" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Purchase settings saved");
        var invoice = (await Setting("invoice_config"))["value"]!;
        Assert.Equal((true, 10, 7), (invoice["auto_complete_purchased_credit_transaction"]!.GetValue<bool>(),
            invoice["pending_purchase_timeout_days"]!.GetValue<int>(), invoice["due_date_days"]!.GetValue<int>()));

        var secretKey = Unique("sk_test_");
        var webhookSecret = Unique("whsec_");
        var gateway = Section(page, "Payment gateway");
        await gateway.GetByLabel("Gateway", new() { Exact = true }).SelectOptionAsync("stripe");
        await gateway.GetByLabel("Stripe secret key").FillAsync(secretKey);
        await gateway.GetByLabel("Stripe webhook secret").FillAsync(webhookSecret);
        await gateway.GetByRole(AriaRole.Button, new() { Name = "Save gateway" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Payment gateway saved");
        var shown = await Setting("payment_gateway");
        Assert.Equal(("stripe", true, true), (shown.S("provider"), shown["stripe_secret_key_set"]!.GetValue<bool>(),
            shown["stripe_webhook_secret_set"]!.GetValue<bool>()));
        await Assertions.Expect(gateway).ToContainTextAsync("Stored key: set");
        // Saved again with both secret fields blank: Stripe keeps the stored ones.
        await gateway.GetByRole(AriaRole.Button, new() { Name = "Save gateway" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Payment gateway saved");
        var stripe = await settings.GatewayConfigAsync(await TenantId());
        Assert.Equal(("stripe", secretKey, webhookSecret), (stripe.Provider, stripe.StripeSecretKey, stripe.StripeWebhookSecret));

        var portal = Section(page, "Portal limits");
        await portal.GetByLabel("Allow automatic top-up").CheckAsync();
        await portal.GetByLabel("Max automatic top-up (credits)").FillAsync("500");
        await portal.GetByLabel("Max top-ups per day").FillAsync("3");
        await portal.GetByRole(AriaRole.Button, new() { Name = "Save portal limits" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Portal limits saved");
        var limits = (await Setting("portal_config"))["value"]!;
        Assert.Equal((true, 500m, 3), (limits["allow_auto_topup"]!.GetValue<bool>(), limits.D("max_auto_topup_amount"),
            limits["max_topups_per_day"]!.GetValue<int>()));

        var warnings = Section(page, "Expiry warnings");
        await warnings.GetByLabel("Warn days before expiry").FillAsync("14");
        await warnings.GetByRole(AriaRole.Button, new() { Name = "Save expiry warnings" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Expiry warnings saved");
        Assert.Equal(14, (await Setting("credit_expiry_warning"))["value"]!["days_before"]!.GetValue<int>());

        // What the screen shows now is what was saved, and none of the secrets.
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByLabel("Auto-complete purchases")).ToBeCheckedAsync();
        await Assertions.Expect(page.GetByLabel("Max top-ups per day")).ToHaveValueAsync("3");
        await Assertions.Expect(page.GetByLabel("Gateway", new() { Exact = true })).ToHaveValueAsync("stripe");
        var html = await page.ContentAsync();
        foreach (var secret in new[] { password, secretKey, webhookSecret }) Assert.DoesNotContain(secret, html);
        await ScreenshotAsync(page, "dashboard-settings");

        // Back to the sandbox: the Stripe keys are dropped, as a PUT without them drops them.
        await gateway.GetByLabel("Gateway", new() { Exact = true }).SelectOptionAsync("sandbox");
        await gateway.GetByRole(AriaRole.Button, new() { Name = "Save gateway" }).ClickAsync();
        await Assertions.Expect(Saved(page)).ToContainTextAsync("Payment gateway saved");
        shown = await Setting("payment_gateway");
        Assert.Equal(("sandbox", false), (shown.S("provider"), shown["stripe_secret_key_set"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task ABadValueIsShownInItsFormAndChangesNothing()
    {
        var page = await SettingsAsync();
        var before = new Dictionary<string, string>();
        foreach (var key in new[] { "alert_email", "invoice_config", "payment_gateway", "portal_config", "credit_expiry_warning" })
            before[key] = (await Setting(key)).ToJsonString();

        var purchases = Section(page, "Purchases");
        await purchases.GetByLabel("Pending purchase timeout (days)").FillAsync("0");
        await purchases.GetByRole(AriaRole.Button, new() { Name = "Save purchases" }).ClickAsync();
        await Assertions.Expect(purchases.GetByRole(AriaRole.Alert)).ToContainTextAsync("pending_purchase_timeout_days must be between 1 and 365");
        await Assertions.Expect(purchases.GetByLabel("Pending purchase timeout (days)")).ToHaveValueAsync("0");
        await purchases.GetByLabel("Invoice due date (days)").FillAsync("soon");
        await purchases.GetByRole(AriaRole.Button, new() { Name = "Save purchases" }).ClickAsync();
        await Assertions.Expect(purchases.GetByRole(AriaRole.Alert)).ToContainTextAsync("Invoice due date must be a whole number");

        var mail = Section(page, "Low-balance alert e-mail");
        var password = Unique("smtp-pass-");
        await mail.GetByLabel("Send alert e-mails").CheckAsync();
        await mail.GetByLabel("SMTP host").FillAsync("127.0.0.1");
        await mail.GetByLabel("SMTP port").FillAsync("70000");
        await mail.GetByLabel("SMTP password", new() { Exact = true }).FillAsync(password);
        await mail.GetByLabel("From").FillAsync("nope");
        await mail.GetByLabel("To", new() { Exact = true }).FillAsync("ops@merchant.test");
        await mail.GetByRole(AriaRole.Button, new() { Name = "Save alert e-mail" }).ClickAsync();
        var mailError = mail.GetByRole(AriaRole.Alert);
        await Assertions.Expect(mailError).ToContainTextAsync("smtp_port must be between 1 and 65535");
        await Assertions.Expect(mailError).ToContainTextAsync("'nope' is not an email address");
        await Assertions.Expect(mail.GetByLabel("From")).ToHaveValueAsync("nope");
        Assert.DoesNotContain(password, await page.ContentAsync());

        var gateway = Section(page, "Payment gateway");
        var liveKey = Unique("sk_live_");
        await gateway.GetByLabel("Gateway", new() { Exact = true }).SelectOptionAsync("stripe");
        await gateway.GetByLabel("Stripe secret key").FillAsync(liveKey);
        await gateway.GetByLabel("Stripe webhook secret").FillAsync(Unique("whsec_"));
        await gateway.GetByRole(AriaRole.Button, new() { Name = "Save gateway" }).ClickAsync();
        // The mode rule is GatewayRegistry's: live credentials are refused while the tenant is in test mode.
        await Assertions.Expect(gateway.GetByRole(AriaRole.Alert)).ToContainTextAsync("live ones, but the tenant is in test mode");
        Assert.DoesNotContain(liveKey, await page.ContentAsync());
        await gateway.GetByLabel("Gateway", new() { Exact = true }).SelectOptionAsync("stripe");
        await gateway.GetByRole(AriaRole.Button, new() { Name = "Save gateway" }).ClickAsync();
        await Assertions.Expect(gateway.GetByRole(AriaRole.Alert)).ToContainTextAsync("stripe needs stripe_secret_key and stripe_webhook_secret");

        var portal = Section(page, "Portal limits");
        await portal.GetByLabel("Allow automatic top-up").CheckAsync();
        await portal.GetByLabel("Max automatic top-up (credits)").FillAsync("-5");
        await portal.GetByLabel("Max top-ups per day").FillAsync("0");
        await portal.GetByRole(AriaRole.Button, new() { Name = "Save portal limits" }).ClickAsync();
        var portalError = portal.GetByRole(AriaRole.Alert);
        await Assertions.Expect(portalError).ToContainTextAsync("max_auto_topup_amount must be greater than zero");
        await Assertions.Expect(portalError).ToContainTextAsync("max_topups_per_day must be between 1 and 1000");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveCountAsync(1);

        var warnings = Section(page, "Expiry warnings");
        await warnings.GetByLabel("Warn days before expiry").FillAsync("400");
        await warnings.GetByRole(AriaRole.Button, new() { Name = "Save expiry warnings" }).ClickAsync();
        await Assertions.Expect(warnings.GetByRole(AriaRole.Alert)).ToContainTextAsync("days_before must be between 1 and 365");
        await Assertions.Expect(warnings.GetByLabel("Warn days before expiry")).ToHaveValueAsync("400");

        foreach (var (key, json) in before) Assert.Equal(json, (await Setting(key)).ToJsonString());
    }

    [Fact]
    public async Task ARotatedWebhookSecretIsShownOnceDiffersFromTheOldOneAndSignsDeliveries()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var endpoint = (await Api.Post("/v1/webhooks/endpoints", new { url = receiver.Url, event_types = new[] { "wallet.created" } })).Ok(201);
        var oldSecret = endpoint.S("secret");
        var page = await SettingsAsync();
        Assert.DoesNotContain(oldSecret, await page.ContentAsync());

        await page.GetByRole(AriaRole.Button, new() { Name = $"Rotate secret of {receiver.Url}" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Secret rotated");
        var rotated = await page.GetByLabel("Signing secret", new() { Exact = true }).InputValueAsync();
        Assert.StartsWith(StandardWebhooks.SecretPrefix, rotated);
        Assert.NotEqual(oldSecret, rotated);
        Assert.EndsWith("/dashboard/settings/webhooks/" + endpoint.S("id") + "/rotate-secret", page.Url);

        // Shown once: the screen opened again has no secret in it.
        await page.GotoAsync("/dashboard/settings");
        await Assertions.Expect(page.GetByLabel("Signing secret", new() { Exact = true })).ToHaveCountAsync(0);
        Assert.DoesNotContain(rotated, await page.ContentAsync());

        var customer = (await Api.Post("/v1/customers", new { external_id = "initech", name = "Initech" })).Ok(201);
        (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd" })).Ok();
        await App.Services.GetRequiredService<WebhookWorker>().RunOnceAsync();
        var delivered = Assert.Single(receiver.Received);
        Assert.True(WebhookTests.Verifies(delivered, rotated), "the delivery does not verify with the rotated secret");
    }
}
