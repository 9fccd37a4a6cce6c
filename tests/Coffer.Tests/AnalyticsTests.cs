using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Coffer.Tests;

public sealed class AnalyticsTestsOnSqlite() : AnalyticsTests(Store.Sqlite);
public sealed class AnalyticsTestsOnPostgres() : AnalyticsTests(Store.Postgres);

/// <summary>
/// Analytics over a known history placed on different days with the fake clock: consumption split by the lots it drew
/// from, expiry apart, top-ups by kind when their credits arrived, time from invoice to payment, pending purchases by age.
/// </summary>
public abstract class AnalyticsTests(Store store) : ApiTest(store)
{
    static readonly DateTimeOffset Jan1 = CofferApp.Start;

    void At(DateTimeOffset t) => App.Clock.SetUtcNow(t);

    async Task<string> Buy(string wallet, string credits, HttpClient? api = null) =>
        (await (api ?? Api).Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok()
        .S("invoice_id");

    async Task Pay(string invoice, HttpClient? api = null) =>
        (await (api ?? Api).Put($"/v1/invoices/{invoice}/payment", new { payment_status = "SUCCEEDED" })).Ok();

    /// <summary>
    /// Wallet A (usd): day 1 free 100, direct 50, debit 30 (free), four invoiced purchases paid after 1 h, 2 h, 10 h and
    /// 24 h; day 2 debit 80 (70 free, 10 purchased), 15 free credits that expire; day 3 at midnight debit 5 (purchased);
    /// three purchases left unpaid, 8 days, 1.6 days and minutes old on 10 January 14:00. Wallet B (eur): 9 free credits.
    /// </summary>
    async Task<(string A, string B)> History()
    {
        var a = (await CreateWallet()).S("id");
        var b = (await CreateWallet(new { currency = "eur" })).S("id");
        await TopUp(a, "100");
        await TopUp(a, "50", "PURCHASED_CREDIT_DIRECT");
        (await Debit(a, "30")).Ok();
        await TopUp(b, "9");
        var inv1 = await Buy(a, "40");
        At(Jan1.AddHours(1));
        await Pay(inv1);
        var inv2 = await Buy(a, "20");
        At(Jan1.AddHours(3));
        await Pay(inv2);
        var inv3 = await Buy(a, "10");
        At(Jan1.AddHours(13));
        await Pay(inv3);
        var inv4 = await Buy(a, "5");
        At(Jan1.AddDays(1).AddHours(10));
        (await Debit(a, "80")).Ok();
        await TopUp(a, "15", expiry: Jan1.AddDays(1).AddHours(12));
        At(Jan1.AddDays(1).AddHours(13));
        await Pay(inv4);
        Assert.Equal(1, await App.Service<Expiry.ExpirySweeper>().SweepOnceAsync());
        await Buy(a, "7");
        At(Jan1.AddDays(2));
        (await Debit(a, "5")).Ok();
        At(Jan1.AddDays(8));
        await Buy(a, "3");
        At(Jan1.AddDays(9).AddHours(14));
        await Buy(a, "2");
        return (a, b);
    }

    static JsonNode Kind(JsonNode bucket, string kind) => bucket["top_ups"]![kind]!;

    static (long, string) Figures(JsonNode kind) => (kind["count"]!.GetValue<long>(), kind.S("credits"));

    static void AssertWalletA(JsonNode series)
    {
        Assert.Equal(("usd", null), (series.S("currency"), series["credit_currency_id"]?.GetValue<string>()));
        var buckets = series["buckets"]!.AsArray();
        Assert.Equal(["2026-01-01T00:00:00.000000Z", "2026-01-02T00:00:00.000000Z", "2026-01-03T00:00:00.000000Z"], buckets.Select(x => x!.S("start")));
        Assert.Equal("2026-01-04T00:00:00.000000Z", buckets[2]!.S("end"));
        string[] Consumed(JsonNode x) =>
            [x.S("credits_consumed"), x.S("credits_consumed_free"), x.S("credits_consumed_purchased"), x.S("credits_consumed_overdraft"), x.S("credits_expired")];
        Assert.Equal(["30", "30", "0", "0", "0"], Consumed(buckets[0]!));
        Assert.Equal(["80", "70", "10", "0", "15"], Consumed(buckets[1]!));
        // A debit at midnight belongs to the day it starts.
        Assert.Equal(["5", "0", "5", "0", "0"], Consumed(buckets[2]!));
        Assert.Equal(["115", "100", "15", "0", "15"], Consumed(series["totals"]!));

        Assert.Equal((1L, "100"), Figures(Kind(buckets[0]!, "free_grant")));
        Assert.Equal((1L, "50"), Figures(Kind(buckets[0]!, "purchased_direct")));
        Assert.Equal((3L, "70"), Figures(Kind(buckets[0]!, "purchased_invoiced")));
        Assert.Equal((1L, "15"), Figures(Kind(buckets[1]!, "free_grant")));
        // Bought on day 1, paid on day 2: its credits arrived on day 2.
        Assert.Equal((1L, "5"), Figures(Kind(buckets[1]!, "purchased_invoiced")));
        Assert.Equal((0L, "0"), Figures(Kind(buckets[2]!, "purchased_invoiced")));
        Assert.Equal((4L, "75"), Figures(Kind(series["totals"]!, "purchased_invoiced")));

        var paid = series["time_to_payment"]!;
        Assert.Equal((4L, "21600", "86400"), (paid["count"]!.GetValue<long>(), paid.S("median_seconds"), paid.S("p90_seconds")));

        var pending = series["pending_purchases"]!.AsArray();
        Assert.Equal(["under_1_day", "1_to_7_days", "7_to_30_days", "over_30_days"], pending.Select(p => p!.S("age")));
        Assert.Equal([(1L, "2", "2"), (1L, "3", "3"), (1L, "7", "7"), (0L, "0", "0")],
            pending.Select(p => (p!["count"]!.GetValue<long>(), p.S("credits"), p.S("amount"))));
    }

    [Fact]
    public async Task TheReportCountsConsumptionByLotTopUpsByKindTimeToPaymentAndPendingPurchasesByAge()
    {
        var (a, b) = await History();
        // Another tenant's activity on the same days is never counted.
        using var other = await OtherTenant();
        At(Jan1.AddDays(9).AddHours(14));
        var theirs = (await CreateWallet(api: other)).S("id");
        (await other.Post($"/v1/wallets/{theirs}/top-up", new { credits_to_add = "1000", transaction_reason = "FREE_CREDIT_GRANT" })).Ok();
        (await other.Post($"/v1/wallets/{theirs}/top-up", new { credits_to_add = "500", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();

        var range = "from=2026-01-01T00:00:00Z&to=2026-01-04T00:00:00Z&interval=day";
        var wallet = (await Api.Get($"/v1/wallets/{a}/analytics?{range}")).Ok();
        Assert.Equal((a, "day"), (wallet.S("wallet_id"), wallet.S("interval")));
        AssertWalletA(Assert.Single(wallet["series"]!.AsArray())!);

        var tenant = (await Api.Get($"/v1/analytics/wallets?{range}")).Ok();
        var series = tenant["series"]!.AsArray();
        Assert.Equal(["eur", "usd"], series.Select(s => s!.S("currency")));
        Assert.Equal((1L, "9"), Figures(Kind(series[0]!["buckets"]![0]!, "free_grant")));
        AssertWalletA(series[1]!);
        AssertWalletA(Assert.Single((await Api.Get($"/v1/analytics/wallets?{range}&currency=USD")).Ok()["series"]!.AsArray())!);

        // Their own report has their figures only, and our wallet is not theirs to read.
        var their = Assert.Single((await other.Get($"/v1/analytics/wallets?{range}")).Ok()["series"]!.AsArray())!;
        Assert.Equal("0", their["totals"]!.S("credits_consumed"));
        Assert.Equal((1L, "500"), (their["pending_purchases"]![0]!["count"]!.GetValue<long>(), their["pending_purchases"]![0]!.S("credits")));
        Assert.Equal("not_found", (await other.Get($"/v1/wallets/{a}/analytics?{range}")).Error(404));
        Assert.Equal("not_found", (await Api.Get($"/v1/wallets/{theirs}/analytics?{range}")).Error(404));
        Assert.Equal("not_found", (await Api.Get($"/v1/wallets/wallet_nobody/analytics")).Error(404));
        Assert.NotEqual(b, theirs);
    }

    [Fact]
    public async Task BucketsAreCalendarDaysWeeksAndMonthsInUtcClippedToTheRangeWhoseEndIsExcluded()
    {
        var (a, _) = await History();
        // The day-3 midnight debit sits exactly at the end of this range: left out.
        var two = (await Api.Get($"/v1/wallets/{a}/analytics?from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z")).Ok()["series"]![0]!;
        Assert.Equal("110", two["totals"]!.S("credits_consumed"));
        Assert.Equal(2, two["buckets"]!.AsArray().Count);

        // 1 January 2026 is a Thursday: weeks start on Mondays, the first and last clipped.
        var weeks = (await Api.Get($"/v1/wallets/{a}/analytics?from=2026-01-01T00:00:00Z&to=2026-01-15T00:00:00Z&interval=week")).Ok()["series"]![0]!;
        Assert.Equal([("2026-01-01T00:00:00.000000Z", "2026-01-05T00:00:00.000000Z", "115"), ("2026-01-05T00:00:00.000000Z", "2026-01-12T00:00:00.000000Z", "0"),
                ("2026-01-12T00:00:00.000000Z", "2026-01-15T00:00:00.000000Z", "0")],
            weeks["buckets"]!.AsArray().Select(x => (x!.S("start"), x.S("end"), x.S("credits_consumed"))));

        var months = (await Api.Get($"/v1/wallets/{a}/analytics?from=2025-12-15T00:00:00Z&to=2026-03-02T00:00:00Z&interval=month")).Ok()["series"]![0]!;
        Assert.Equal(["2025-12-15T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z", "2026-03-01T00:00:00.000000Z"],
            months["buckets"]!.AsArray().Select(x => x!.S("start")));
        Assert.Equal(("0", "115"), (months["buckets"]![0]!.S("credits_consumed"), months["buckets"]![1]!.S("credits_consumed")));

        // Without a range: the 30 days up to the next midnight (now is 10 January 14:00).
        var recent = (await Api.Get($"/v1/wallets/{a}/analytics")).Ok();
        Assert.Equal(("2025-12-12T00:00:00.000000Z", "2026-01-11T00:00:00.000000Z", 30),
            (recent.S("from"), recent.S("to"), recent["series"]![0]!["buckets"]!.AsArray().Count));
        Assert.Equal("115", recent["series"]![0]!["totals"]!.S("credits_consumed"));
    }

    [Fact]
    public async Task BadRangesIntervalsAndCurrenciesAreRefusedInTheEnvelope()
    {
        var a = (await CreateWallet()).S("id");
        foreach (var query in new[]
        {
            "from=2026-01-05T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=day",
            "interval=hour",
            "interval=DAY",
            "from=yesterday",
            "to=2026-13-01",
            "from=0001-01-01T00:00:00Z",
        })
        {
            Assert.Equal("validation_failed", (await Api.Get($"/v1/analytics/wallets?{query}")).Error(400));
            Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{a}/analytics?{query}")).Error(400));
        }
        Assert.Equal("validation_failed", (await Api.Get("/v1/analytics/wallets?currency=ZZZ")).Error(400));
        // A year of days is allowed; a leap year's 366 too, one more is not.
        (await Api.Get("/v1/analytics/wallets?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z")).Ok();
        Assert.Equal("validation_failed", (await Api.Get("/v1/analytics/wallets?from=2024-01-01T00:00:00Z&to=2025-01-02T00:00:00Z")).Error(400));
        (await Api.Get("/v1/analytics/wallets?from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=month")).Ok();
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesBothReports()
    {
        var doc = (await Api.Get("/openapi/v1.json")).Ok();
        var tenant = doc["paths"]!["/v1/analytics/wallets"]!["get"]!;
        Assert.Equal("getWalletsAnalytics", tenant.S("operationId"));
        Assert.Equal(["from", "to", "interval", "currency"], tenant["parameters"]!.AsArray().Select(p => p!.S("name")));
        Assert.Equal("getWalletAnalytics", doc["paths"]!["/v1/wallets/{id}/analytics"]!["get"]!.S("operationId"));
        var bucket = doc["components"]!["schemas"]!["AnalyticsBucket"]!["properties"]!;
        Assert.Equal("string", bucket["credits_consumed_free"]!.S("type"));
    }
}

/// <summary>The dashboard's analytics pages: charts drawn on the server, their numbers in tables.</summary>
public sealed class AnalyticsDashboardTests : BrowserTest
{
    [Fact]
    public async Task AnOperatorSeesTheTenantsAndAWalletsAnalyticsAsChartsAndTables()
    {
        var customer = (await Api.Post("/v1/customers", new { external_id = "lovelace", name = "Lovelace" })).Ok(201);
        var wallet = (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd" })).Ok().S("id");
        (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "100", transaction_reason = "FREE_CREDIT_GRANT" })).Ok();
        (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "40", transaction_reason = "PURCHASED_CREDIT_DIRECT" })).Ok();
        (await Api.Post($"/v1/wallets/{wallet}/debit", new { credits = "30", idempotency_key = "an-1" })).Ok();
        var invoice = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "25", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok()
            .S("invoice_id");
        App.Clock.Advance(TimeSpan.FromHours(2));
        (await Api.Put($"/v1/invoices/{invoice}/payment", new { payment_status = "SUCCEEDED" })).Ok();
        (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "5", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();

        var page = await SignedInOperatorAsync();
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Analytics" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/dashboard/analytics$"));
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "USD", Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#s0-consumed svg[role=img]")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("free 30"));
        await Assertions.Expect(page.Locator("#s0-consumed rect[data-series=free]")).ToHaveAttributeAsync("data-value", "30");
        await Assertions.Expect(page.Locator("#s0-topups rect[data-series='purchased invoiced']")).ToHaveAttributeAsync("data-value", "25");
        var today = page.Locator("#s0-table tbody tr").Filter(new() { Has = page.GetByRole(AriaRole.Rowheader, new() { Name = "2026-01-01" }) });
        await Assertions.Expect(today.Locator("td")).ToHaveTextAsync(["30", "0", "0", "0", "1 / 100", "1 / 40", "1 / 25"]);
        await Assertions.Expect(page.Locator("#s0-card-median .value")).ToContainTextAsync("2h 0m");
        await Assertions.Expect(page.Locator("#s0-pending-table tbody tr").First.Locator("td")).ToHaveTextAsync(["1", "5", "USD 5.00"]);
        await ScreenshotAsync(page, "dashboard-analytics");

        // Bad input is a message on the page, not an error page.
        await page.GotoAsync("/dashboard/analytics?from=2026-02-01&to=2026-01-01");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("to must be later than from");

        await page.GotoAsync($"/dashboard/wallets/{wallet}");
        await page.GetByRole(AriaRole.Link, new() { Name = "Analytics: usage, top-ups and payments" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/dashboard/wallets/{wallet}/analytics$"));
        await page.GetByLabel("Interval").SelectOptionAsync("week");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Assertions.Expect(page.Locator("#s0-table tfoot td")).ToHaveTextAsync(["30", "0", "0", "0", "1 / 100", "1 / 40", "1 / 25"]);
        await Assertions.Expect(page.Locator("#s0-pending svg[role=img]")).ToBeVisibleAsync();
        await ScreenshotAsync(page, "dashboard-wallet-analytics");
    }
}
