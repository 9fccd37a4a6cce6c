using System.Text.Json.Nodes;
using Coffer.Schedules;
using Microsoft.Playwright;

namespace Coffer.Tests;

/// <summary>The period rule on its own: pure, no host.</summary>
public sealed class SchedulePeriodTests
{
    static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void AMonthlyScheduleStartingOnThe31stRunsOnTheLastDayOfShorterMonthsAndReturnsToThe31st()
    {
        var start = At("2027-01-31T10:00:00Z");
        var days = Enumerable.Range(0, 13).Select(i => SchedulePeriods.Start(start, ScheduleIntervals.Month, 1, i).ToString("yyyy-MM-dd HH:mm")).ToList();
        Assert.Equal(["2027-01-31 10:00", "2027-02-28 10:00", "2027-03-31 10:00", "2027-04-30 10:00", "2027-05-31 10:00", "2027-06-30 10:00",
            "2027-07-31 10:00", "2027-08-31 10:00", "2027-09-30 10:00", "2027-10-31 10:00", "2027-11-30 10:00", "2027-12-31 10:00", "2028-01-31 10:00"], days);
        Assert.Equal(At("2028-02-29T10:00:00Z"), SchedulePeriods.Start(start, ScheduleIntervals.Month, 1, 13));
    }

    [Theory]
    [InlineData("2027-01-31T00:00:00Z", "month", 2, 1, "2027-03-31T00:00:00Z")]
    [InlineData("2027-01-31T00:00:00Z", "month", 1, 1, "2027-02-28T00:00:00Z")]
    [InlineData("2028-02-29T00:00:00Z", "year", 1, 1, "2029-02-28T00:00:00Z")]
    [InlineData("2028-02-29T00:00:00Z", "year", 1, 4, "2032-02-29T00:00:00Z")]
    [InlineData("2027-01-01T08:30:00Z", "week", 2, 3, "2027-02-12T08:30:00Z")]
    [InlineData("2027-01-01T08:30:00Z", "day", 1, 365, "2028-01-01T08:30:00Z")]
    public void PeriodsAreCountedFromTheStart(string start, string interval, int count, int index, string expected) =>
        Assert.Equal(At(expected), SchedulePeriods.Start(At(start), interval, count, index));

    [Fact]
    public void APeriodEndsWhereTheNextStartsAndNoneRunsAtOrAfterTheEnd()
    {
        var start = At("2027-01-31T00:00:00Z");
        Assert.Equal((At("2027-02-28T00:00:00Z"), At("2027-03-31T00:00:00Z")), SchedulePeriods.Period(start, ScheduleIntervals.Month, 1, 1));
        Assert.True(SchedulePeriods.Runs(start, ScheduleIntervals.Month, 1, 1, At("2027-02-28T00:00:01Z")));
        Assert.False(SchedulePeriods.Runs(start, ScheduleIntervals.Month, 1, 1, At("2027-02-28T00:00:00Z")));
        Assert.False(SchedulePeriods.Runs(At("9998-01-01T00:00:00Z"), ScheduleIntervals.Year, 12, 1, null));
    }

    [Fact]
    public void ThePollSettingIsCheckedWithTheOthers()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(250), CofferApp.Options(("COFFER_SCHEDULE_POLL_MS", "250")).SchedulePoll);
        Assert.Equal(TimeSpan.FromSeconds(5), CofferApp.Options().SchedulePoll);
        var refused = Assert.Throws<InvalidOperationException>(() => CofferApp.Options(("COFFER_SCHEDULE_POLL_MS", "10")));
        Assert.Contains("COFFER_SCHEDULE_POLL_MS", refused.Message);
    }
}

public sealed class ScheduleTestsOnSqlite() : ScheduleTests(Store.Sqlite);
public sealed class ScheduleTestsOnPostgres() : ScheduleTests(Store.Postgres);

public abstract class ScheduleTests(Store store) : ApiTest(store)
{
    ScheduleWorker Worker => App.Service<ScheduleWorker>();

    async Task<JsonNode> Schedule(string wallet, object body) => (await Api.Post($"/v1/wallets/{wallet}/schedules", body)).Ok(201);

    async Task<JsonNode> Read(string wallet, string schedule) => (await Api.Get($"/v1/wallets/{wallet}/schedules/{schedule}")).Ok();

    async Task<JsonArray> Runs(string wallet, string schedule) => (await Read(wallet, schedule))["recent_runs"]!.AsArray();

    async Task<List<JsonNode>> ScheduledEntries(string wallet, string schedule) =>
        (await Transactions(wallet)).Where(t => t!["reference_id"]?.GetValue<string>() == schedule).Select(t => t!).ToList();

    async Task<List<string>> Events(string type, string wallet)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        return await Storage.Sql.QueryAsync(c, null, "SELECT payload, payload_packed FROM outbox_events WHERE event_type = @e AND wallet_id = @w ORDER BY sequence",
            r => Storage.PackedJson.Read(r, "payload")!, ("e", type), ("w", wallet));
    }

    /// <summary>Moves the clock to <paramref name="at"/> (never back) and runs the worker until it finds nothing due.</summary>
    async Task RunAt(string at)
    {
        var target = DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture);
        if (target > App.Clock.GetUtcNow()) App.Clock.SetUtcNow(target);
        while (await Worker.RunOnceAsync() > 0) { }
    }

    [Fact]
    public async Task AMonthlyGrantRunsOncePerPeriodAndExpiresAtThePeriodsEnd()
    {
        var wallet = (await CreateWallet()).S("id");
        var schedule = await Schedule(wallet, new
        {
            type = "grant", credits = "1000", expire_at_period_end = true, interval = "month", start_at = "2026-01-01T00:00:00Z", description = "Plan allowance",
        });
        Assert.Equal(("active", "2026-01-01T00:00:00Z", "FREE_CREDIT_GRANT"), (schedule.S("status"), schedule.When("next_run_at"), schedule.S("transaction_reason")));
        var id = schedule.S("id");

        await RunAt("2026-01-01T00:00:00Z");
        await RunAt("2026-01-20T00:00:00Z");
        var first = Assert.Single(await ScheduledEntries(wallet, id));
        Assert.Equal(("credit", "1000", "2026-02-01T00:00:00Z"), (first.S("type"), first.S("credit_amount"), first.When("expiry_date")));
        Assert.Equal("Plan allowance", first.S("description"));
        Assert.Equal("1000", (await Wallet(wallet)).S("credit_balance"));
        var read = await Read(wallet, id);
        Assert.Equal(("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", 1), (read.When("next_run_at"), read.When("last_run_at"), read["run_count"]!.GetValue<int>()));

        // February: January's credits expire at the period's end and February's arrive.
        await RunAt("2026-02-01T00:00:00Z");
        await App.Service<Expiry.ExpirySweeper>().SweepOnceAsync();
        Assert.Equal(2, (await ScheduledEntries(wallet, id)).Count);
        Assert.Single(await Transactions(wallet, "&transaction_reason=CREDIT_EXPIRED"));
        Assert.Equal("1000", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal(["succeeded", "succeeded"], (await Runs(wallet, id)).Select(r => r!.S("status")));
    }

    [Fact]
    public async Task AMonthlyScheduleStartingOnThe31stRunsOnTheLastDayOfFebruaryThenOnThe31st()
    {
        var wallet = (await CreateWallet()).S("id");
        var id = (await Schedule(wallet, new { type = "grant", credits = "5", interval = "month", start_at = "2026-01-31T09:00:00Z" })).S("id");
        await RunAt("2026-01-31T09:00:00Z");
        Assert.Equal("2026-02-28T09:00:00Z", (await Read(wallet, id)).When("next_run_at"));
        await RunAt("2026-02-28T08:59:59Z");
        Assert.Single(await Runs(wallet, id));
        await RunAt("2026-02-28T09:00:00Z");
        Assert.Equal("2026-03-31T09:00:00Z", (await Read(wallet, id)).When("next_run_at"));
        Assert.Equal(["2026-02-28T09:00:00Z", "2026-01-31T09:00:00Z"], (await Runs(wallet, id)).Select(r => r!.When("period_start")));
        Assert.Equal("10", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task AMonthlyFeeInCurrencyDebitsTheWalletAtItsConversionRate()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "100", conversion_rate = "2" })).S("id");
        var id = (await Schedule(wallet, new { type = "charge", amount = "20", interval = "month", description = "Pro plan" })).S("id");
        await RunAt("2026-01-01T00:00:00Z");
        var fee = Assert.Single(await ScheduledEntries(wallet, id));
        Assert.Equal(("debit", "10", "20", "MANUAL_BALANCE_DEBIT", "WALLET_SCHEDULE"),
            (fee.S("type"), fee.S("credit_amount"), fee.S("amount"), fee.S("transaction_reason"), fee.S("reference_type")));
        Assert.Equal($"{id}_period_0", fee.S("idempotency_key"));
        Assert.Equal("90", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("10", (await Runs(wallet, id))[0]!.S("credits"));
    }

    [Fact]
    public async Task AFeeTheWalletCannotPayFailsThatPeriodWithAnEventAndTheNextPeriodStillRuns()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "15" })).S("id");
        var id = (await Schedule(wallet, new { type = "charge", credits = "10", interval = "month", start_at = "2026-01-01T00:00:00Z" })).S("id");
        await RunAt("2026-01-01T00:00:00Z");
        await RunAt("2026-02-01T00:00:00Z");
        var runs = await Runs(wallet, id);
        Assert.Equal(["failed", "succeeded"], runs.Select(r => r!.S("status")));
        Assert.Contains("insufficient balance", runs[0]!.S("reason"));
        Assert.Equal("5", (await Wallet(wallet)).S("credit_balance"));
        var failed = Assert.Single(await Events("wallet.schedule_charge_failed", wallet));
        var payload = JsonNode.Parse(failed)!["data"];
        Assert.Equal((id, "insufficient_balance"), (payload.S("schedule_id"), payload.S("code")));
        var read = await Read(wallet, id);
        Assert.Equal(("active", "2026-03-01T00:00:00Z"), (read.S("status"), read.When("next_run_at")));

        // No retry of the failed period, however often the worker runs.
        for (var i = 0; i < 3; i++) Assert.Equal(0, await Worker.RunOnceAsync());
        Assert.Equal(2, (await Runs(wallet, id)).Count);

        await TopUp(wallet, "20");
        await RunAt("2026-03-01T00:00:00Z");
        Assert.Equal(["succeeded", "failed", "succeeded"], (await Runs(wallet, id)).Select(r => r!.S("status")));
        Assert.Equal("15", (await Wallet(wallet)).S("credit_balance"));
        Assert.Single(await Events("wallet.schedule_charge_failed", wallet));
    }

    [Fact]
    public async Task TwoNodesRunningAtOnceApplyEachPeriodOnce()
    {
        var wallet = (await CreateWallet()).S("id");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
            ids.Add((await Schedule(wallet, new { type = "grant", credits = "1", interval = "day", start_at = "2026-01-01T00:00:00Z" })).S("id"));
        await using var other = new CofferApp(App);
        var jump = TimeSpan.FromDays(9) + TimeSpan.FromHours(1);
        App.Clock.Advance(jump);
        other.Clock.Advance(jump);
        var workers = new[] { Worker, other.Service<ScheduleWorker>() };
        var direct = new[] { App.Service<WalletSchedules>(), other.Service<WalletSchedules>() };
        var tenant = (await App.Service<Tenants.TenantStore>().DefaultTenantAsync())!.Id;

        // Both workers, and (as if both leases had run out) both nodes' period runners called directly, all at once.
        await Task.WhenAll(Enumerable.Range(0, 4).SelectMany(_ => workers.Select(w => w.RunOnceAsync()))
            .Concat(Enumerable.Range(0, 6).SelectMany(_ => ids.SelectMany(id => direct.Select(d => (Task)d.RunNextPeriodAsync(tenant, id))))));
        while (await Worker.RunOnceAsync() > 0) { }

        foreach (var id in ids)
        {
            Assert.Equal(Enumerable.Range(0, 10).Reverse(), (await Runs(wallet, id)).Select(r => r!["period_index"]!.GetValue<int>()));
            Assert.Equal(10, (await ScheduledEntries(wallet, id)).Count);
        }
        Assert.Equal("30", (await Wallet(wallet)).S("credit_balance"));
    }

    [Theory]
    [InlineData(Storage.CommitFault.LostAfterCommit)]
    [InlineData(Storage.CommitFault.LostBeforeCommit)]
    public async Task APeriodWhoseCommitWasLostRunsOnceWhenTriedAgain(Storage.CommitFault fault)
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "50" })).S("id");
        var id = (await Schedule(wallet, new { type = "charge", credits = "4", interval = "month", start_at = "2026-01-01T00:00:00Z" })).S("id");
        var tenant = (await App.Service<Tenants.TenantStore>().DefaultTenantAsync())!.Id;
        var runner = App.Service<WalletSchedules>();

        App.LoseNextCommit(fault);
        await Assert.ThrowsAsync<Storage.CommitOutcomeUnknownException>(() => runner.RunNextPeriodAsync(tenant, id));
        // Tried again (the worker's next round): the period runs if it had not, and is not due any more if it had.
        Assert.Equal(fault == Storage.CommitFault.LostBeforeCommit, await runner.RunNextPeriodAsync(tenant, id));
        Assert.False(await runner.RunNextPeriodAsync(tenant, id));
        while (await Worker.RunOnceAsync() > 0) { }

        Assert.Single(await ScheduledEntries(wallet, id));
        Assert.Single(await Runs(wallet, id));
        Assert.Equal("46", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task ACancelledScheduleNeverRunsAgainEvenForAWorkerThatHadLeasedIt()
    {
        var wallet = (await CreateWallet()).S("id");
        var id = (await Schedule(wallet, new { type = "grant", credits = "7", interval = "day", start_at = "2026-01-01T00:00:00Z" })).S("id");
        await RunAt("2026-01-01T00:00:00Z");
        App.Clock.Advance(TimeSpan.FromDays(3));

        // A worker leases the due schedule; the cancel commits before it runs a period.
        var tenant = (await App.Service<Tenants.TenantStore>().DefaultTenantAsync())!.Id;
        await using (var c = await App.Service<Storage.Database>().OpenAsync())
            await Storage.Sql.ExecAsync(c, null, "UPDATE wallet_schedules SET leased_by = 'another-node', leased_until = @until",
                ("until", App.Clock.GetUtcNow() + ScheduleWorker.Lease));
        var cancelled = (await Api.Post($"/v1/wallets/{wallet}/schedules/{id}/cancel")).Ok();
        Assert.Equal("cancelled", cancelled.S("status"));
        Assert.Null(cancelled["next_run_at"]);
        Assert.False(await App.Service<WalletSchedules>().RunNextPeriodAsync(tenant, id));

        await RunAt("2026-02-01T00:00:00Z");
        Assert.Single(await Runs(wallet, id));
        Assert.Equal("7", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("cancelled", (await Api.Post($"/v1/wallets/{wallet}/schedules/{id}/cancel")).Ok().S("status"));
    }

    [Fact]
    public async Task MissedPeriodsAfterAClockJumpRunOnceEachInOrderAndExpiredGrantsAreSkipped()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");
        var expiring = (await Schedule(wallet, new { type = "grant", credits = "50", interval = "month", expire_at_period_end = true, start_at = "2026-01-01T00:00:00Z" })).S("id");
        var keeping = (await Schedule(wallet, new { type = "grant", credits = "3", interval = "month", start_at = "2026-01-01T00:00:00Z" })).S("id");
        var fee = (await Schedule(wallet, new
        {
            type = "charge", credits = "2", interval = "week", interval_count = 2, start_at = "2026-01-01T00:00:00Z", end_at = "2026-03-01T00:00:00Z",
        })).S("id");

        // The node was down from New Year until mid-April.
        await RunAt("2026-04-15T00:00:00Z");

        var expiringRuns = await Runs(wallet, expiring);
        Assert.Equal(["succeeded", "skipped", "skipped", "skipped"], expiringRuns.Select(r => r!.S("status")));
        Assert.Equal("2026-04-01T00:00:00Z", expiringRuns[0]!.When("period_start"));
        Assert.Equal("2026-05-01T00:00:00Z", Assert.Single(await ScheduledEntries(wallet, expiring)).When("expiry_date"));
        Assert.Equal(4, (await ScheduledEntries(wallet, keeping)).Count);
        Assert.Equal(["2026-04-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"],
            (await Runs(wallet, keeping)).Select(r => r!.When("period_start")));

        // Fortnightly until March: Jan 1, 15, 29, Feb 12, 26, then the schedule has ended.
        var feeSchedule = await Read(wallet, fee);
        Assert.Equal(("ended", 5), (feeSchedule.S("status"), feeSchedule["run_count"]!.GetValue<int>()));
        Assert.Null(feeSchedule["next_run_at"]);
        Assert.Equal(100 + 50 + 12 - 10, (await Wallet(wallet)).D("credit_balance"));
        Assert.Equal(0, await Worker.RunOnceAsync());
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesTheEndpoints()
    {
        using var http = App.CreateClient();
        var doc = (await http.Get("/openapi/v1.json")).Ok();
        var paths = doc["paths"]!;
        Assert.Contains(paths["/v1/wallets/{id}/schedules"]!["post"]!["parameters"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "Idempotency-Key");
        Assert.NotNull(paths["/v1/wallets/{id}/schedules"]!["get"]);
        Assert.NotNull(paths["/v1/wallets/{id}/schedules/{scheduleId}"]!["get"]);
        Assert.NotNull(paths["/v1/wallets/{id}/schedules/{scheduleId}/cancel"]!["post"]!["responses"]!["409"]);
        var credits = doc["components"]!["schemas"]!["ScheduleDto"]!["properties"]!["credits"]!;
        Assert.Equal("decimal", credits["format"]!.GetValue<string>());
    }

    [Fact]
    public async Task BadInputIsRefusedWithItsCodeAndStoresNothing()
    {
        var wallet = (await CreateWallet()).S("id");
        object[] bad =
        [
            new { credits = "1", interval = "month" },
            new { type = "refill", credits = "1", interval = "month" },
            new { type = "grant", interval = "month" },
            new { type = "grant", amount = "5", interval = "month" },
            new { type = "grant", credits = "-1", interval = "month" },
            new { type = "grant", credits = "1", interval = "fortnight" },
            new { type = "grant", credits = "1" },
            new { type = "grant", credits = "1", interval = "month", interval_count = 13 },
            new { type = "grant", credits = "1", interval = "month", interval_count = 0 },
            new { type = "grant", credits = "1", interval = "month", start_at = "tomorrow" },
            new { type = "grant", credits = "1", interval = "month", start_at = "2025-06-01T00:00:00Z" },
            new { type = "grant", credits = "1", interval = "month", start_at = "2026-02-01T00:00:00Z", end_at = "2026-02-01T00:00:00Z" },
            new { type = "grant", credits = "1", interval = "month", transaction_reason = "INVOICE_PAYMENT" },
            new { type = "charge", interval = "month" },
            new { type = "charge", credits = "1", amount = "1", interval = "month" },
            new { type = "charge", credits = "1", interval = "month", expire_at_period_end = true },
            new { type = "charge", credits = "1", interval = "month", priority = 1 },
        ];
        foreach (var body in bad)
            Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{wallet}/schedules", body)).Error(400));
        Assert.Equal("not_found", (await Api.Post("/v1/wallets/wallet_nope/schedules", new { type = "grant", credits = "1", interval = "month" })).Error(404));
        Assert.Equal("not_found", (await Api.Get("/v1/wallets/wallet_nope/schedules")).Error(404));
        Assert.Equal("not_found", (await Api.Post($"/v1/wallets/{wallet}/schedules/wsch_nope/cancel")).Error(404));
        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/schedules?status=paused")).Error(400));

        // The same key replays the first answer; with another request it is refused.
        var body1 = new { type = "grant", credits = "1", interval = "month", idempotency_key = "plan-1" };
        var created = await Schedule(wallet, body1);
        Assert.Equal(created.S("id"), (await Schedule(wallet, body1)).S("id"));
        Assert.Equal("idempotency_key_reused",
            (await Api.Post($"/v1/wallets/{wallet}/schedules", new { type = "grant", credits = "2", interval = "month", idempotency_key = "plan-1" })).Error(409));
        var list = (await Api.Get($"/v1/wallets/{wallet}/schedules")).Ok();
        Assert.Equal(1, list["pagination"]!["total"]!.GetValue<long>());
        Assert.Equal(created.S("id"), list["items"]![0]!.S("id"));

        // Another tenant sees none of it.
        var stranger = await OtherTenant();
        Assert.Equal("not_found", (await stranger.Get($"/v1/wallets/{wallet}/schedules/{created.S("id")}")).Error(404));
        Assert.Equal("not_found", (await stranger.Post($"/v1/wallets/{wallet}/schedules/{created.S("id")}/cancel")).Error(404));

        // A closed wallet takes no schedule, and the schedules it had end at their next period.
        (await Api.Post($"/v1/wallets/{wallet}/terminate")).Ok();
        Assert.Equal("wallet_not_active", (await Api.Post($"/v1/wallets/{wallet}/schedules", new { type = "grant", credits = "1", interval = "month" })).Error(422));
        Assert.Equal(1, (await Api.Get($"/v1/wallets/{wallet}/schedules")).Ok()["pagination"]!["total"]!.GetValue<long>());
        await RunAt("2026-01-01T00:00:01Z");
        var ended = await Read(wallet, created.S("id"));
        Assert.Equal(("ended", "failed"), (ended.S("status"), ended["recent_runs"]![0]!.S("status")));
        Assert.Equal("conflict", (await Api.Post($"/v1/wallets/{wallet}/schedules/{created.S("id")}/cancel")).Error(409));
        Assert.Empty(await ScheduledEntries(wallet, created.S("id")));
    }
}

/// <summary>The wallet page's schedules section in Chromium: add, see the run, cancel, and a refusal shown on the page.</summary>
public sealed class ScheduleDashboardTests : BrowserTest
{
    [Fact]
    public async Task AnOperatorAddsAMonthlyFeeSeesItChargedAndCancelsIt()
    {
        var customer = (await Api.Post("/v1/customers", new { external_id = "globex", name = "Globex", email = "billing@example.test" })).Ok(201);
        var wallet = (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd", initial_credits_to_load = "100", conversion_rate = "2" }))
            .Ok().S("id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{wallet}");
        var section = page.Locator("#schedules");
        await Assertions.Expect(section.Locator("#no-schedules")).ToBeVisibleAsync();

        // A grant without credits is refused with the API's own message, and nothing is stored.
        await section.GetByText("Add a schedule").ClickAsync();
        await section.GetByRole(AriaRole.Button, new() { Name = "Add schedule" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("credits is required for a grant");
        Assert.Equal(0, (await Api.Get($"/v1/wallets/{wallet}/schedules")).Ok()["pagination"]!["total"]!.GetValue<long>());

        await section.GetByText("Add a schedule").ClickAsync();
        await section.GetByLabel("Schedule type").SelectOptionAsync("charge");
        await section.GetByLabel("Or a fee per period in USD").FillAsync("20");
        await section.GetByLabel("Interval").SelectOptionAsync("month");
        await section.GetByLabel("Note on each entry").FillAsync("Pro plan");
        await section.GetByRole(AriaRole.Button, new() { Name = "Add schedule" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Schedule added");
        var row = section.Locator("#schedule-table tbody tr");
        await Assertions.Expect(row).ToHaveCountAsync(1);
        await Assertions.Expect(row).ToContainTextAsync("Charge");
        await Assertions.Expect(row).ToContainTextAsync("every month");
        await Assertions.Expect(row).ToContainTextAsync("active");

        await App.Service<ScheduleWorker>().RunOnceAsync();
        Assert.Equal("90", (await Api.Get($"/v1/wallets/{wallet}")).Ok().S("credit_balance"));
        await page.ReloadAsync();
        await Assertions.Expect(row).ToContainTextAsync("2026-02-01 00:00");
        await ScreenshotAsync(page, "dashboard-wallet-schedules");

        await row.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Schedule cancelled");
        await Assertions.Expect(row).ToContainTextAsync("cancelled");
        await Assertions.Expect(row.GetByRole(AriaRole.Button, new() { Name = "Cancel" })).ToHaveCountAsync(0);
        var listed = (await Api.Get($"/v1/wallets/{wallet}/schedules")).Ok()["items"]![0]!;
        Assert.Equal(("cancelled", "Pro plan", "20"), (listed.S("status"), listed.S("description"), listed.S("amount")));
        var report = await App.VerifyAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
    }
}

static class ScheduleJson
{
    /// <summary>An instant as the wire writes it (any precision), to the second: what the tests compare.</summary>
    public static string When(this JsonNode? node, string name) =>
        DateTimeOffset.Parse(node.S(name), System.Globalization.CultureInfo.InvariantCulture).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
}
