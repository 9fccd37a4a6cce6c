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
