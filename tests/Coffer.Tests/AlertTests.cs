namespace Coffer.Tests;

public sealed class AlertTestsOnSqlite() : AlertTests(Store.Sqlite);
public sealed class AlertTestsOnPostgres() : AlertTests(Store.Postgres);

public abstract class AlertTests(Store store) : ApiTest(store)
{
    static object Settings(decimal warning, decimal critical) => new
    {
        alert_enabled = true,
        warning = new { threshold = warning, condition = "below" },
        critical = new { threshold = critical, condition = "below" },
    };

    async Task<List<string>> Events(string wallet)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        return await Storage.Sql.QueryAsync(c, null, "SELECT event_type FROM outbox_events WHERE wallet_id = @w AND event_type LIKE 'wallet.balance_%' ORDER BY sequence",
            r => r.GetString(0), ("w", wallet));
    }

    [Fact]
    public async Task AnAlertFiresWhenItsStateChangesAndNotWhileItHolds()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100", conversion_rate = "2", alert_settings = Settings(100, 20) })).S("id");
        Assert.Equal("ok", (await Wallet(id)).S("alert_state"));

        (await Debit(id, "55")).Ok();   // 90 currency: warning
        (await Debit(id, "1")).Ok();    // 88: still warning, no new alert
        Assert.Equal("warning", (await Wallet(id)).S("alert_state"));
        (await Debit(id, "40")).Ok();   // 8: in alarm
        Assert.Equal("in_alarm", (await Wallet(id)).S("alert_state"));
        await TopUp(id, "100");          // 208: ok again

        Assert.Equal("ok", (await Wallet(id)).S("alert_state"));
        Assert.Equal(["wallet.balance_low", "wallet.balance_low", "wallet.balance_recovered"], await Events(id));
        var log = (await Api.Post("/v1/alerts/search", new { wallet_id = id })).Ok()["items"]!.AsArray();
        Assert.Equal(["ok", "in_alarm", "warning"], log.Select(a => a!.S("state")));
        Assert.Equal("8", log[1]!.S("available_balance"));
    }

    [Fact]
    public async Task NewThresholdsAreEvaluatedAtOnce()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "30" })).S("id");
        var updated = (await Api.Put($"/v1/wallets/{id}", new { alert_settings = Settings(50, 5) })).Ok();
        Assert.Equal("warning", updated.S("alert_state"));
        Assert.Equal(["wallet.balance_low"], await Events(id));
    }

    [Fact]
    public async Task AHoldThatReservesTheBalanceCountsTowardTheAlert()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "30", alert_settings = Settings(10, 1) })).S("id");
        (await Api.Post($"/v1/wallets/{id}/holds", new { credits = "25" })).Ok();
        Assert.Equal("warning", (await Wallet(id)).S("alert_state"));
    }

    [Fact]
    public async Task AlertsAreMailedThroughTheTenantsSmtpServerOnce()
    {
        await using var smtp = new SmtpSink();
        (await Api.Put("/v1/settings/alert_email", new
        {
            value = new { enabled = true, smtp_host = "127.0.0.1", smtp_port = smtp.Port, security = "none", from = "alerts@merchant.test", to = new[] { "ops@merchant.test" } },
        })).Ok();
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 10) })).S("id");
        (await Debit(id, "60")).Ok();

        var mailer = App.Service<Alerts.AlertMailer>();
        Assert.Equal(1, await mailer.RunOnceAsync());
        Assert.Equal(0, await mailer.RunOnceAsync());

        var message = Assert.Single(smtp.Messages);
        Assert.Contains($"Subject: Wallet {id}: balance low (warning)", message);
        Assert.Contains("To: ops@merchant.test", message);
        Assert.Contains("Available balance: 40 USD", message);
    }

    [Fact]
    public async Task WithoutAlertEmailAnAlertIsNotMailed()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 10) })).S("id");
        (await Debit(id, "60")).Ok();
        Assert.Equal(1, await App.Service<Alerts.AlertMailer>().RunOnceAsync());
        Assert.Equal(0, await App.Service<Alerts.AlertMailer>().RunOnceAsync());
        Assert.Equal("validation_failed", (await Api.Put("/v1/settings/alert_email", new { value = new { enabled = true, smtp_host = "x", from = "nope", to = new[] { "a@b.c" } } })).Error(400));
    }

    static object Channels(string[] channels, string[]? merchantEmails = null) => new
    {
        alert_enabled = true,
        warning = new { threshold = 50, condition = "below" },
        critical = new { threshold = 10, condition = "below" },
        notification_channels = channels,
        merchant_emails = merchantEmails,
    };

    [Fact]
    public async Task AWalletsOwnChannelsChooseWhoHearsOfItsAlerts()
    {
        await using var smtp = new SmtpSink();
        // The tenant's own alert e-mail is off: the wallets below choose for themselves.
        (await Api.Put("/v1/settings/alert_email", new
        {
            value = new { enabled = false, smtp_host = "127.0.0.1", smtp_port = smtp.Port, security = "none", from = "alerts@merchant.test", to = new[] { "ops@merchant.test" } },
        })).Ok();
        var toCustomer = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Channels(["customer_email"]) })).S("id");
        var toTeam = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Channels(["merchant_email", "webhook"], ["billing@merchant.test"]) })).S("id");
        var byDefault = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 10) })).S("id");
        foreach (var w in new[] { toCustomer, toTeam, byDefault }) (await Debit(w, "60")).Ok();

        Assert.Equal(3, await App.Service<Alerts.AlertMailer>().RunOnceAsync());
        Assert.Equal(2, smtp.Messages.Count);
        var customerMail = Assert.Single(smtp.Messages, m => m.Contains("To: ada@example.com"));
        Assert.Contains("Subject: Your balance is running low", customerMail);
        Assert.Contains("down to 40 USD", customerMail);
        var teamMail = Assert.Single(smtp.Messages, m => m.Contains("To: billing@merchant.test"));
        Assert.Contains($"Subject: Wallet {toTeam}: balance low (warning)", teamMail);
        Assert.DoesNotContain(smtp.Messages, m => m.Contains("ops@merchant.test"));

        // Webhooks only where the wallet keeps them (and by default).
        Assert.Empty(await Events(toCustomer));
        Assert.Equal(["wallet.balance_low"], await Events(toTeam));
        Assert.Equal(["wallet.balance_low"], await Events(byDefault));

        var log = (await Api.Post("/v1/alerts/search", new { wallet_id = toCustomer })).Ok()["items"]!.AsArray();
        Assert.Equal("sent", log[0]!.S("email_status"));
        Assert.Equal(["ada@example.com"], log[0]!["email_recipients"]!.AsArray().Select(a => a!.GetValue<string>()));
        var unmailed = (await Api.Post("/v1/alerts/search", new { wallet_id = byDefault })).Ok()["items"]!.AsArray();
        Assert.Equal("not_configured", unmailed[0]!.S("email_status"));
    }

    [Fact]
    public async Task BothEmailChannelsMailTheMerchantsListAndTheCustomer()
    {
        await using var smtp = new SmtpSink();
        (await Api.Put("/v1/settings/alert_email", MailSettings("127.0.0.1", smtp.Port))).Ok();
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Channels(["merchant_email", "customer_email"]) })).S("id");
        (await Debit(id, "60")).Ok();
        Assert.Equal(1, await App.Service<Alerts.AlertMailer>().RunOnceAsync());
        Assert.Equal(2, smtp.Messages.Count);
        Assert.Single(smtp.Messages, m => m.Contains("To: ops@merchant.test"));
        Assert.Single(smtp.Messages, m => m.Contains("To: ada@example.com"));
        var log = (await Api.Post("/v1/alerts/search", new { wallet_id = id })).Ok()["items"]!.AsArray();
        Assert.Equal(["ops@merchant.test", "ada@example.com"], log[0]!["email_recipients"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Empty(await Events(id));
    }

    [Theory]
    [InlineData("""{"notification_channels": ["sms"]}""")]
    [InlineData("""{"notification_channels": ["webhook", "webhook"]}""")]
    [InlineData("""{"notification_channels": ["merchant_email"], "merchant_emails": ["not-an-address"]}""")]
    public async Task UnknownChannelsAndBadAddressesAreRefusedAndChangeNothing(string channels)
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 10) })).S("id");
        var settings = System.Text.Json.Nodes.JsonNode.Parse(channels)!.AsObject();
        settings["alert_enabled"] = true;
        Assert.Equal("validation_failed", (await Api.Put($"/v1/wallets/{id}", new System.Text.Json.Nodes.JsonObject { ["alert_settings"] = settings })).Error(400));
        var after = await Wallet(id);
        Assert.Null(after["alert_settings"]!["notification_channels"]);
        Assert.Equal("50", after["alert_settings"]!["warning"]!["threshold"]!.ToString());
    }

    static object MailSettings(string host, int port, string security = "none") => new
    {
        value = new { enabled = true, smtp_host = host, smtp_port = port, security, from = "alerts@merchant.test", to = new[] { "ops@merchant.test" } },
    };

    /// <summary>A wallet of <paramref name="api"/>'s tenant whose alert has just fired.</summary>
    async Task<string> WalletWithAnAlert(HttpClient? api = null)
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 10) }, api)).S("id");
        (await (api ?? Api).Post($"/v1/wallets/{id}/debit", new { credits = "60", idempotency_key = Guid.NewGuid().ToString("N") })).Ok();
        return id;
    }

    static async Task<(string Status, string? Error)> EmailStatus(CofferApp app, string wallet)
    {
        await using var c = await app.Service<Storage.Database>().OpenAsync();
        var rows = await Storage.Sql.QueryAsync(c, null, "SELECT email_status, email_error FROM alerts WHERE wallet_id = @w",
            r => (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1)), ("w", wallet));
        return Assert.Single(rows);
    }

    [Fact]
    public async Task OneTenantsSilentSmtpServerDoesNotHoldBackAnotherTenantsMail()
    {
        // Root cause: alerts were mailed one at a time, each waiting out a 15 s time-out, so one tenant's tarpit
        // delayed the mail of every tenant after it.
        await using var tarpit = new SmtpTarpit();
        await using var sink = new SmtpSink();
        (await Api.Put("/v1/settings/alert_email", MailSettings("127.0.0.1", tarpit.Port))).Ok();
        using var other = await OtherTenant();
        (await other.Put("/v1/settings/alert_email", MailSettings("127.0.0.1", sink.Port))).Ok();
        var silent = await WalletWithAnAlert();
        App.Clock.Advance(TimeSpan.FromSeconds(1));
        var fine = await WalletWithAnAlert(other);

        var round = App.Service<Alerts.AlertMailer>().RunOnceAsync();
        await tarpit.Connected.WaitAsync(TimeSpan.FromSeconds(60));
        while (sink.Messages.IsEmpty && !round.IsCompleted) await Task.Delay(10);
        Assert.Single(sink.Messages);
        Assert.False(tarpit.Closed.IsCompleted, "the other tenant's mail waited until the silent server was given up");

        Assert.Equal(2, await round);
        Assert.Equal(("sent", null), await EmailStatus(App, fine));
        var (status, error) = await EmailStatus(App, silent);
        Assert.Equal("pending", status);
        Assert.Contains("did not finish", error);
    }

    [Fact]
    public async Task AnAlertLeftSendingByANodeThatStoppedIsMailedOnceItsLeaseRunsOut()
    {
        // Root cause: an alert taken as 'sending' had no lease, so one whose node stopped mid-send was never mailed.
        await using var tarpit = new SmtpTarpit();
        (await Api.Put("/v1/settings/alert_email", MailSettings("127.0.0.1", tarpit.Port))).Ok();
        var wallet = await WalletWithAnAlert();
        var mailer = App.Service<Alerts.AlertMailer>();
        using (var stop = new CancellationTokenSource())
        {
            var round = mailer.RunOnceAsync(stop.Token);
            await tarpit.Connected.WaitAsync(TimeSpan.FromSeconds(60));
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => round);
        }
        Assert.Equal("sending", (await EmailStatus(App, wallet)).Status);

        await using var sink = new SmtpSink();
        (await Api.Put("/v1/settings/alert_email", MailSettings("127.0.0.1", sink.Port))).Ok();
        Assert.Equal(0, await mailer.RunOnceAsync());
        App.Clock.Advance(Alerts.AlertMailer.Lease + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await mailer.RunOnceAsync());
        Assert.Contains($"Subject: Wallet {wallet}: balance low (warning)", Assert.Single(sink.Messages));
        Assert.Equal(("sent", null), await EmailStatus(App, wallet));
    }

    [Fact]
    public async Task SmtpSettingsNameOnlyPublicServersOnSubmissionPortsWithTls()
    {
        await using var strict = new CofferApp(App.Store) { Settings = { ["COFFER_SMTP_ALLOW_PRIVATE"] = "false", ["COFFER_SMTP_ALLOW_PLAINTEXT"] = "false" } };
        using var api = strict.Api();
        var refused = new[]
        {
            ("127.0.0.1", 587, "starttls"), ("169.254.169.254", 587, "starttls"), ("10.0.0.1", 25, "starttls"), ("198.18.0.1", 465, "ssl"),
            ("::1", 587, "ssl"), ("64:ff9b::7f00:1", 465, "ssl"), ("::ffff:192.168.0.1", 587, "starttls"),
            ("smtp.merchant.test", 22, "starttls"), ("smtp.merchant.test", 6379, "ssl"), ("smtp.merchant.test", 587, "none"),
            ("not a host", 587, "starttls"),
        };
        foreach (var (host, port, security) in refused)
            Assert.Equal("validation_failed", (await api.Put("/v1/settings/alert_email", MailSettings(host, port, security))).Error(400));
        Assert.False((await api.Get("/v1/settings/alert_email")).Ok()["enabled"]!.GetValue<bool>());

        foreach (var port in Alerts.SmtpPolicy.Ports)
            (await api.Put("/v1/settings/alert_email", MailSettings("smtp.merchant.test", port, port == 465 ? "ssl" : "starttls"))).Ok();
        var report = await strict.VerifyAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
    }

    [Fact]
    public async Task ASettingSavedBeforeTheRulesIsStillRefusedWhenConnecting()
    {
        await using var sink = new SmtpSink();
        await using var strict = new CofferApp(App.Store) { Settings = { ["COFFER_SMTP_ALLOW_PRIVATE"] = "false", ["COFFER_SMTP_ALLOW_PLAINTEXT"] = "false" } };
        using var api = strict.Api();
        var tenant = (await api.Get("/v1/settings/invoice_config")).Ok().S("tenant_id");
        await strict.Service<Settings.TenantSettings>().SaveAlertEmailAsync(tenant,
            new Settings.AlertEmailConfig(true, "127.0.0.1", sink.Port, "none", null, null, "alerts@merchant.test", ["ops@merchant.test"]));
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 10) }, api)).S("id");
        (await api.Post($"/v1/wallets/{id}/debit", new { credits = "60", idempotency_key = "d1" })).Ok();

        Assert.Equal(1, await strict.Service<Alerts.AlertMailer>().RunOnceAsync());

        Assert.Empty(sink.Messages);
        var (status, error) = await EmailStatus(strict, id);
        Assert.Equal("pending", status);
        Assert.Contains("private or reserved", error);
        var report = await strict.VerifyAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
    }

    [Fact]
    public async Task DisabledAlertsStayOk()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "30", alert_settings = new { alert_enabled = false, critical = new { threshold = 100, condition = "below" } } })).S("id");
        (await Debit(id, "29")).Ok();
        Assert.Equal("ok", (await Wallet(id)).S("alert_state"));
        Assert.Empty(await Events(id));
    }

    [Fact]
    public async Task TheRealTimeBalanceGivesTheWalletsAlertState()
    {
        // Root cause: the real-time balance copied the wallet's fields one by one and left alert_state out.
        var id = (await CreateWallet(new { initial_credits_to_load = "100", alert_settings = Settings(50, 20) })).S("id");
        (await Debit(id, "90")).Ok();

        Assert.Equal("in_alarm", (await Wallet(id)).S("alert_state"));
        Assert.Equal("in_alarm", (await Balance(id)).S("alert_state"));
    }
}
