using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class ExpiryWarningTestsOnSqlite() : ExpiryWarningTests(Store.Sqlite);
public sealed class ExpiryWarningTestsOnPostgres() : ExpiryWarningTests(Store.Postgres);

/// <summary><c>credit_expiry_warning</c>: each open lot expiring within the tenant's days is warned of once, through the wallet's alert channels.</summary>
public abstract class ExpiryWarningTests(Store store) : ApiTest(store)
{
    Expiry.ExpiryWarnings Warnings => App.Service<Expiry.ExpiryWarnings>();

    Task<(int Status, JsonNode? Body)> WarnDaysBefore(object? days) =>
        Api.Put("/v1/settings/credit_expiry_warning", new { value = new { days_before = days } });

    async Task<string> Lot(string wallet, string credits, DateTimeOffset expiry) =>
        (await TopUp(wallet, credits, expiry: expiry))["wallet_transaction"]!.S("id");

    /// <summary>The data of every wallet.credits_expiring event about <paramref name="wallet"/> (all wallets when null), in sequence order.</summary>
    async Task<List<JsonNode>> Events(string? wallet = null)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        var payloads = await Storage.Sql.QueryAsync(c, null,
            $"SELECT payload, payload_packed FROM outbox_events WHERE event_type = 'wallet.credits_expiring'{(wallet is null ? "" : " AND wallet_id = @w")} ORDER BY wallet_id, sequence",
            r => JsonNode.Parse(Storage.PackedJson.Read(r, "payload")!)!, ("w", wallet));
        return [.. payloads.Select(e => e["data"]!)];
    }

    /// <summary>A mail's subject as its reader sees it: a long one is folded over several lines on the wire.</summary>
    static string Subject(string mail)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(mail));
        return MimeKit.MimeMessage.Load(stream).Subject ?? "";
    }

    /// <summary>The tenant's SMTP server is <paramref name="smtp"/>; its own alert e-mail (to ops@merchant.test) on or off.</summary>
    async Task MailThrough(SmtpSink smtp, bool tenantEmailOn) =>
        (await Api.Put("/v1/settings/alert_email", new
        {
            value = new { enabled = tenantEmailOn, smtp_host = "127.0.0.1", smtp_port = smtp.Port, security = "none", from = "alerts@merchant.test", to = new[] { "ops@merchant.test" } },
        })).Ok();

    async Task<JsonArray> ExpiryAlerts(string wallet) =>
        (await Api.Post("/v1/alerts/search", new { wallet_id = wallet, kind = "credits_expiring" })).Ok()["items"]!.AsArray();

    [Fact]
    public async Task ALotExpiringWithinTheWarningIsWarnedOfOnce()
    {
        await using var smtp = new SmtpSink();
        await MailThrough(smtp, tenantEmailOn: true);
        Assert.Equal(7, (await WarnDaysBefore(7)).Ok()["value"]!["days_before"]!.GetValue<int>());
        var wallet = await CreateWallet(new { conversion_rate = "2", initial_credits_to_load = "100" });
        var id = wallet.S("id");
        var expiry = CofferApp.Start.AddDays(3);
        var lot = await Lot(id, "50", expiry);

        Assert.Equal(1, await Warnings.RunOnceAsync());
        Assert.Equal(0, await Warnings.RunOnceAsync());

        var data = Assert.Single(await Events(id));
        Assert.Equal((id, wallet.S("customer_id"), lot, "50", "100", "usd", 7),
            (data.S("wallet_id"), data.S("customer_id"), data.S("transaction_id"), data.S("credits"), data.S("amount"), data.S("currency"),
                data["days_before"]!.GetValue<int>()));
        Assert.Equal(expiry, DateTimeOffset.Parse(data.S("expiry_date"), System.Globalization.CultureInfo.InvariantCulture));

        // The alert log lists balance alerts unless asked for the warnings.
        Assert.Empty((await Api.Post("/v1/alerts/search", new { wallet_id = id })).Ok()["items"]!.AsArray());
        var alert = Assert.Single(await ExpiryAlerts(id))!;
        Assert.Equal(("credits_expiring", lot, "50", "100"), (alert.S("kind"), alert.S("transaction_id"), alert.S("credits"), alert.S("available_balance")));

        // By default (no channels named) the tenant's own list is mailed once alert e-mail is on, as for balance alerts.
        Assert.Equal(1, await App.Service<Alerts.AlertMailer>().RunOnceAsync());
        var mail = Assert.Single(smtp.Messages);
        Assert.Equal($"Wallet {id}: 50 credits expire on 2026-01-03 (end of day)", Subject(mail));
        Assert.Contains("To: ops@merchant.test", mail);
        Assert.Equal("sent", (await ExpiryAlerts(id))[0]!.S("email_status"));
    }

    [Fact]
    public async Task ALotExpiringLaterIsWarnedOfOnceTheClockBringsItWithinTheWarning()
    {
        (await WarnDaysBefore(7)).Ok();
        var id = (await CreateWallet()).S("id");
        await Lot(id, "10", CofferApp.Start.AddDays(30));

        Assert.Equal(0, await Warnings.RunOnceAsync());
        App.Clock.Advance(TimeSpan.FromDays(22));   // 8 days left
        Assert.Equal(0, await Warnings.RunOnceAsync());
        App.Clock.Advance(TimeSpan.FromDays(1));    // 7 days left
        Assert.Equal(1, await Warnings.RunOnceAsync());
        App.Clock.Advance(TimeSpan.FromDays(3));
        Assert.Equal(0, await Warnings.RunOnceAsync());
        Assert.Single(await Events(id));
    }

    [Fact]
    public async Task LotsSpentToZeroExpiredOrWithoutExpiryAreNeverWarnedOf()
    {
        (await WarnDaysBefore(7)).Ok();
        var id = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");   // never expires
        await Lot(id, "10", CofferApp.Start.AddDays(3));
        (await Debit(id, "10")).Ok();                                                     // the expiring lot is spent first
        await Lot(id, "5", CofferApp.Start.AddHours(1));
        App.Clock.Advance(TimeSpan.FromHours(2));                                         // expired, not yet swept

        Assert.Equal(0, await Warnings.RunOnceAsync());
        Assert.Empty(await Events(id));
        Assert.Empty(await ExpiryAlerts(id));
    }

    [Fact]
    public async Task WithTheSettingOffNothingIsWarnedOf()
    {
        var shown = (await Api.Get("/v1/settings/credit_expiry_warning")).Ok();
        Assert.Equal("credit_expiry_warning", shown.S("key"));
        Assert.Null(shown["value"]!["days_before"]);
        var id = (await CreateWallet()).S("id");
        await Lot(id, "10", CofferApp.Start.AddDays(3));
        Assert.Equal(0, await Warnings.RunOnceAsync());

        Assert.Null((await WarnDaysBefore(0)).Ok()["value"]!["days_before"]);
        Assert.Equal(0, await Warnings.RunOnceAsync());

        (await WarnDaysBefore(7)).Ok();
        (await WarnDaysBefore(null)).Ok();
        Assert.Equal(0, await Warnings.RunOnceAsync());
        Assert.Empty(await Events(id));

        (await WarnDaysBefore(7)).Ok();
        Assert.Equal(1, await Warnings.RunOnceAsync());
    }

    [Fact]
    public async Task AWalletWithoutTheWebhookChannelIsMailedButGetsNoEvent()
    {
        await using var smtp = new SmtpSink();
        // The tenant's alert e-mail is off: the wallet's own channels choose, as for balance alerts.
        await MailThrough(smtp, tenantEmailOn: false);
        (await WarnDaysBefore(7)).Ok();
        var id = (await CreateWallet(new { alert_settings = new { notification_channels = new[] { "merchant_email", "customer_email" } } })).S("id");
        await Lot(id, "25", CofferApp.Start.AddDays(2));

        Assert.Equal(1, await Warnings.RunOnceAsync());
        Assert.Empty(await Events(id));
        Assert.Single(await ExpiryAlerts(id));

        Assert.Equal(1, await App.Service<Alerts.AlertMailer>().RunOnceAsync());
        Assert.Equal(2, smtp.Messages.Count);
        var merchant = Assert.Single(smtp.Messages, m => m.Contains("To: ops@merchant.test"));
        Assert.Equal($"Wallet {id}: 25 credits expire on 2026-01-02 (end of day)", Subject(merchant));
        var customer = Assert.Single(smtp.Messages, m => m.Contains("To: ada@example.com"));
        Assert.Equal("Your credits expire soon", Subject(customer));
        Assert.Contains("25 of your credits (worth 25 USD) expire on 2026-01-02 (end of day)", customer);
        var alert = (await ExpiryAlerts(id))[0]!;
        Assert.Equal(["ops@merchant.test", "ada@example.com"], alert["email_recipients"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact]
    public async Task TwoRoundsAtOnceWarnOfEachLotOnce()
    {
        (await WarnDaysBefore(7)).Ok();
        var lots = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var id = (await CreateWallet()).S("id");
            lots.Add(await Lot(id, "10", CofferApp.Start.AddDays(2)));
            lots.Add(await Lot(id, "20", CofferApp.Start.AddDays(5)));
        }

        var rounds = await Task.WhenAll(Warnings.RunOnceAsync(), Warnings.RunOnceAsync());

        Assert.Equal(lots.Count, rounds.Sum());
        Assert.Equal(lots.Order(), (await Events()).Select(e => e.S("transaction_id")).Order());
        Assert.Equal(0, await Warnings.RunOnceAsync());
    }

    [Theory]
    [InlineData("""{"value": {"days_before": 366}}""")]
    [InlineData("""{"value": {"days_before": -1}}""")]
    [InlineData("""{"value": {"days_before": "seven"}}""")]
    [InlineData("""{"value": {"days_before": 7.5}}""")]
    [InlineData("""{"value": null}""")]
    [InlineData("""{}""")]
    public async Task ABadSettingIsRefusedAndChangesNothing(string body)
    {
        (await WarnDaysBefore(7)).Ok();
        Assert.Equal("validation_failed", (await Api.Send(HttpMethod.Put, "/v1/settings/credit_expiry_warning", rawBody: body)).Error(400));
        Assert.Equal(7, (await Api.Get("/v1/settings/credit_expiry_warning")).Ok()["value"]!["days_before"]!.GetValue<int>());
    }
}
