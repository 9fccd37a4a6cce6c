using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class AutoTopUpTestsOnSqlite() : AutoTopUpTests(Store.Sqlite);
public sealed class AutoTopUpTestsOnPostgres() : AutoTopUpTests(Store.Postgres);

public abstract class AutoTopUpTests(Store store) : ApiTest(store)
{
    AutoTopUp.AutoTopUpWorker Worker => App.Service<AutoTopUp.AutoTopUpWorker>();

    async Task<JsonNode> WalletWithRule(object rule, string card = "4242424242424242", string initial = "100")
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = initial, auto_topup = rule });
        if (card.Length > 0)
            (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = card })).Ok(201);
        return wallet;
    }

    async Task<JsonArray> Attempts(string wallet) => (await Api.Get($"/v1/wallets/{wallet}/auto-topup/attempts")).Ok()["items"]!.AsArray();

    [Fact]
    public async Task AThousandDebitsCrossingTheThresholdStartExactlyOnePurchase()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 50, amount = 200 })).S("id");

        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Debit(id, "1")));
        Assert.All(results, r => Assert.Equal(200, r.Status));

        var attempts = await Attempts(id);
        var pending = Assert.Single(attempts)!;
        Assert.Equal("pending", pending.S("status"));
        Assert.Equal(14, pending["suppressed"]!.GetValue<int>());

        Assert.Equal(1, await Worker.RunOnceAsync());
        var done = (await Attempts(id)).Single()!;
        Assert.Equal(("succeeded", "200"), (done.S("status"), done.S("credits")));
        Assert.Equal("236", (await Wallet(id)).S("credit_balance"));
        Assert.Equal(0, await Worker.RunOnceAsync());
    }

    [Fact]
    public async Task ATargetBalanceBuysWhatIsMissing()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 10, target_balance = 100 }, initial: "20")).S("id");
        (await Debit(id, "15")).Ok();
        await Worker.RunOnceAsync();
        Assert.Equal("95", (await Attempts(id))[0]!.S("credits"));
        Assert.Equal("100", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task LimitsAndCooldownSkipWithTheirReason()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 50, amount = 10, max_topups_per_day = 1, cooldown_seconds = 60 }, initial: "60")).S("id");
        (await Debit(id, "20")).Ok();
        await Worker.RunOnceAsync();                 // bought 10: balance 50, still at the threshold
        (await Debit(id, "1")).Ok();
        await Worker.RunOnceAsync();
        Assert.StartsWith("cooldown", (await Attempts(id))[0]!.S("reason"));

        App.Clock.Advance(TimeSpan.FromMinutes(2));
        (await Debit(id, "1")).Ok();
        await Worker.RunOnceAsync();
        var attempts = await Attempts(id);
        Assert.Equal(("skipped", "daily limit of 1 top-ups reached"), (attempts[0]!.S("status"), attempts[0]!.S("reason")));
        Assert.Equal(["skipped", "skipped", "succeeded"], attempts.Select(a => a!.S("status")));
    }

    [Fact]
    public async Task TheMonthlyLimitIsWarnedOfAt80And90And100PercentOnceAMonth()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 50, amount = 30, max_amount_per_month = 100 }, initial: "60")).S("id");
        async Task<string> Trigger(string credits)
        {
            (await Debit(id, credits)).Ok();
            await Worker.RunOnceAsync();
            return (await Attempts(id))[0]!.S("status");
        }

        Assert.Equal("succeeded", await Trigger("15"));  // 30 of 100 this month
        Assert.Equal("succeeded", await Trigger("30"));  // 60
        Assert.Empty(await Warnings(id));
        Assert.Equal("succeeded", await Trigger("30"));  // 90: past 80 and 90
        Assert.Equal(new[] { (80, 90m) , (90, 90m) }, await Warnings(id));
        Assert.Equal("skipped", await Trigger("30"));    // 120 would pass the limit: 100 % reached
        Assert.Equal("skipped", await Trigger("1"));     // told once
        Assert.Equal(new[] { (80, 90m), (90, 90m), (100, 90m) }, await Warnings(id));
        Assert.StartsWith("monthly limit of 100 credits reached", (await Attempts(id))[0]!.S("reason"));

        // A new month starts the count again.
        App.Clock.Advance(TimeSpan.FromDays(31));
        Assert.Equal("succeeded", await Trigger("1"));
        Assert.Equal(3, (await Warnings(id)).Count);
    }

    async Task<List<(int Percent, decimal Used)>> Warnings(string wallet)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        var payloads = await Storage.Sql.QueryAsync(c, null,
            "SELECT payload, payload_packed FROM outbox_events WHERE event_type = 'wallet.auto_top_up_limit_warning' AND wallet_id = @w ORDER BY sequence",
            r => JsonNode.Parse(Storage.PackedJson.Read(r, "payload")!)!, ("w", wallet));
        return payloads.Select(e => e["data"]!).Select(p => (p["percent"]!.GetValue<int>(),
            decimal.Parse(p["credits_this_month"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture))).ToList();
    }

    [Fact]
    public async Task NoSavedCardIsASkipNotAFailure()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 50, amount = 10 }, card: "")).S("id");
        (await Debit(id, "60")).Ok();
        await Worker.RunOnceAsync();
        Assert.Equal(("skipped", "no saved card to charge"), ((await Attempts(id))[0]!.S("status"), (await Attempts(id))[0]!.S("reason")));
    }

    [Fact]
    public async Task AFailedChargeIsReportedBacksOffAndDisablesTheRuleAfterRepeatedFailures()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 50, amount = 10, max_consecutive_failures = 2 }, card: "4000000000000002")).S("id");
        (await Debit(id, "60")).Ok();
        await Worker.RunOnceAsync();
        var failed = (await Attempts(id))[0]!;
        Assert.Equal("failed", failed.S("status"));
        Assert.Contains("card_declined", failed.S("error"));

        (await Debit(id, "1")).Ok();
        await Worker.RunOnceAsync();
        Assert.StartsWith("backing off", (await Attempts(id))[0]!.S("reason"));

        App.Clock.Advance(TimeSpan.FromMinutes(5));
        (await Debit(id, "1")).Ok();
        await Worker.RunOnceAsync();
        Assert.Equal("failed", (await Attempts(id))[0]!.S("status"));
        Assert.False((await Wallet(id))["auto_topup"]!["enabled"]!.GetValue<bool>());
        Assert.Equal("38", (await Wallet(id)).S("credit_balance"));

        await using var c = await App.Service<Storage.Database>().OpenAsync();
        var reported = await Storage.Sql.QueryAsync(c, null, "SELECT payload, payload_packed FROM outbox_events WHERE event_type = 'wallet.auto_top_up_failed' AND wallet_id = @w",
            r => Storage.PackedJson.Read(r, "payload")!, ("w", id));
        Assert.Equal(2, reported.Count);
        Assert.Contains("card_declined", reported[0]);
    }

    [Fact]
    public async Task WithInvoicingAnInvoiceIsCreatedAndItsPendingCreditsCountTowardTheThreshold()
    {
        var id = (await WalletWithRule(new { enabled = true, threshold = 50, amount = 100, invoicing = true }, card: "")).S("id");
        (await Debit(id, "60")).Ok();
        await Worker.RunOnceAsync();
        var invoiced = (await Attempts(id))[0]!;
        Assert.Equal("invoiced", invoiced.S("status"));
        Assert.Equal("PENDING", (await Api.Get($"/v1/invoices/{invoiced.S("invoice_id")}")).Ok().S("payment_status"));

        (await Debit(id, "1")).Ok();
        Assert.Equal(0, await Worker.RunOnceAsync());
        Assert.Single(await Attempts(id));

        (await Api.Put($"/v1/invoices/{invoiced.S("invoice_id")}/payment", new { payment_status = "SUCCEEDED" })).Ok();
        Assert.Equal("139", (await Wallet(id)).S("credit_balance"));
    }
}
