using System.Globalization;
using System.Text.Json.Nodes;
using Coffer.Expiry;

namespace Coffer.Tests;

public sealed class StatementTestsOnSqlite() : StatementTests(Store.Sqlite);
public sealed class StatementTestsOnPostgres() : StatementTests(Store.Postgres);

/// <summary><c>GET /v1/wallets/{id}/statement</c>: the balance at both ends, every entry between, totals; as JSON and CSV.</summary>
public abstract class StatementTests(Store store) : ApiTest(store)
{
    static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O"));

    /// <summary>A wallet (2 currency per credit) with 10 credits before the period, and in it: a top-up, an expiry, a debit and a purchase paid late.</summary>
    async Task<(string Wallet, DateTimeOffset From, DateTimeOffset To)> History()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "10", conversion_rate = "2" })).S("id");
        await TopUp(wallet, "5", expiry: App.Clock.GetUtcNow().AddHours(2));
        App.Clock.Advance(TimeSpan.FromHours(1));
        var from = App.Clock.GetUtcNow();
        var invoice = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "7", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok().S("invoice_id");
        App.Clock.Advance(TimeSpan.FromMinutes(10));
        await TopUp(wallet, "20", priority: 1); // spent before the expiring lot
        (await Debit(wallet, "4")).Ok();
        App.Clock.Advance(TimeSpan.FromHours(2));
        await App.Service<ExpirySweeper>().SweepOnceAsync();
        App.Clock.Advance(TimeSpan.FromMinutes(1));
        var due = (await Api.Get($"/v1/invoices/{invoice}")).Ok().S("amount_remaining");
        (await Api.Post("/v1/payments", new
        {
            amount = due, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "OFFLINE",
            idempotency_key = "pay-late",
        })).Ok(201);
        App.Clock.Advance(TimeSpan.FromMinutes(1));
        return (wallet, from, App.Clock.GetUtcNow());
    }

    [Fact]
    public async Task AStatementOpensAtTheBalanceThenListsEveryEntryAndClosesAtTheBalanceAfter()
    {
        var (wallet, from, to) = await History();
        App.Clock.Advance(TimeSpan.FromMinutes(1));
        (await Debit(wallet, "1")).Ok(); // after the period: not in it

        var s = (await Api.Get($"/v1/wallets/{wallet}/statement?from={Iso(from)}&to={Iso(to)}")).Ok();

        Assert.Equal(("15", "30"), (s.S("opening_balance"), s.S("opening_balance_amount")));
        // In: 20 granted and the 7 purchased (counted when paid, after the expiry); out: the debit of 4 and the 5 that expired.
        Assert.Equal(("27", "9", "5"), (s.S("credits_in"), s.S("credits_out"), s.S("expired_credits")));
        Assert.Equal(("33", "66"), (s.S("closing_balance"), s.S("closing_balance_amount")));
        Assert.Equal("33", (await Api.Get($"/v1/wallets/{wallet}/balance/real-time?at={Iso(to)}")).Ok().S("credit_balance"));
        var entries = s["entries"]!.AsArray();
        Assert.Equal(new[] { ("FREE_CREDIT_GRANT", "20", "35"), ("MANUAL_BALANCE_DEBIT", "-4", "31"), ("CREDIT_EXPIRED", "-5", "26"), ("PURCHASED_CREDIT_INVOICED", "7", "33") },
            entries.Select(e => (e.S("transaction_reason"), e.S("credits"), e.S("balance_after"))));
        var byReason = s["by_reason"]!.AsArray().ToDictionary(t => t.S("name"), t => (t.S("credits_in"), t.S("credits_out"), t!["count"]!.GetValue<int>()));
        Assert.Equal(("0", "5", 1), byReason["CREDIT_EXPIRED"]);
        Assert.Equal(("7", "0", 1), byReason["PURCHASED_CREDIT_INVOICED"]);
        var byKind = s["by_kind"]!.AsArray().ToDictionary(t => t.S("name"), t => (t.S("credits_in"), t.S("credits_out")));
        Assert.Equal(new[] { "credit", "debit" }, byKind.Keys.Order());
        Assert.Equal(("27", "0"), byKind["credit"]);
        Assert.Equal(("0", "9"), byKind["debit"]);
    }

    [Fact]
    public async Task TheStatementComesAsCsvWhenAskedByFormatOrByAccept()
    {
        var (wallet, from, to) = await History();
        var url = $"/v1/wallets/{wallet}/statement?from={Iso(from)}&to={Iso(to)}";

        using var byFormat = await Api.GetAsync(url + "&format=csv");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/csv");
        using var byAccept = await Api.SendAsync(request);

        foreach (var response in new[] { byFormat, byAccept })
        {
            Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
            Assert.EndsWith(".csv", response.Content.Headers.ContentDisposition!.FileName!.Trim('"'));
            var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(1 + 1 + 4 + 1, lines.Length);
            Assert.StartsWith("Completed,Transaction id,Type,Kind,Reason", lines[0]);
            Assert.EndsWith(",OPENING_BALANCE,,,,,30,USD,15", lines[1]);
            Assert.Contains(",MANUAL_BALANCE_DEBIT,", lines[3]);
            Assert.EndsWith(",-4,8,USD,31", lines[3]);
            Assert.EndsWith(",CLOSING_BALANCE,,,,,66,USD,33", lines[^1]);
        }
    }

    [Fact]
    public async Task ThePdfReadsBackWithTheBalancesAndEveryEntry()
    {
        var (wallet, from, to) = await History();
        using var response = await Api.GetAsync($"/v1/wallets/{wallet}/statement?from={Iso(from)}&to={Iso(to)}&format=pdf");

        Assert.Equal("application/pdf", response.Content.Headers.ContentType!.MediaType);
        Assert.EndsWith(".pdf", response.Content.Headers.ContentDisposition!.FileName!.Trim('"'));
        var pdf = await response.Content.ReadAsByteArrayAsync();
        var text = InvoicePdfTests.Text(pdf);
        Assert.Equal(1, InvoicePdfTests.Pages(pdf));
        foreach (var expected in new[] { "Wallet statement", wallet, "Opening balance", "15 credits", "USD 30.00", "Closing balance", "33 credits", "USD 66.00",
                     "FREE_CREDIT_GRANT", "MANUAL_BALANCE_DEBIT", "CREDIT_EXPIRED", "PURCHASED_CREDIT_INVOICED", "+20", "-4", "-5", "+7", "page 1 of 1" })
            Assert.Contains(expected, text);
        // In the order they completed, as in the JSON.
        Assert.True(text.IndexOf("MANUAL_BALANCE_DEBIT", StringComparison.Ordinal) < text.IndexOf("CREDIT_EXPIRED", StringComparison.Ordinal));
        Assert.True(text.IndexOf("CREDIT_EXPIRED", StringComparison.Ordinal) < text.IndexOf("PURCHASED_CREDIT_INVOICED", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALongStatementRunsOverPagesWithItsHeaderOnEach()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "1000" })).S("id");
        var from = App.Clock.GetUtcNow();
        App.Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 120; i++) (await Debit(wallet, "1")).Ok();
        var pdf = await Api.GetByteArrayAsync($"/v1/wallets/{wallet}/statement?from={Iso(from)}&format=pdf");

        var pages = InvoicePdfTests.Pages(pdf);
        Assert.True(pages >= 3, $"{pages} pages");
        var text = InvoicePdfTests.Text(pdf);
        Assert.Equal(pages, text.Split("Completed (UTC)").Length - 1);
        Assert.Equal(120, text.Split("MANUAL_BALANCE_DEBIT").Length - 1);
        Assert.Contains($"page {pages} of {pages}", text);
    }

    [Fact]
    public async Task AStatementToNowBalancesWhileDebitsCommit()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "100000" })).S("id");
        using var stop = new CancellationTokenSource();
        var debits = Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested) (await Debit(wallet, "1")).Ok();
        })));

        // Each statement's balances and entries are read from one snapshot, whatever commits meanwhile.
        // Reads until debits have visibly committed in between (or 300 statements), so the reads overlap the writes.
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        var statements = (await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var answers = new List<(int Status, System.Text.Json.Nodes.JsonNode? Body)>();
            while (answers.Count < 100 && (answers.Count < 10 || seen.Count < 5))
            {
                var answer = await Api.Get($"/v1/wallets/{wallet}/statement");
                answers.Add(answer);
                if (answer.Status == 200) seen[answer.Body!["entries"]!.AsArray().Count] = true;
            }
            return answers;
        })))).SelectMany(a => a).ToList();
        stop.Cancel();
        await debits;

        Assert.All(statements, s => s.Ok());
        // The debits did commit while the statements were read: they saw different numbers of entries.
        Assert.True(statements.Select(s => s.Body!["entries"]!.AsArray().Count).Distinct().Count() > 1, "no debit committed during the statements");
    }

    [Fact]
    public async Task APeriodThatIsNotOneIsRefused()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "1" })).S("id");
        var now = App.Clock.GetUtcNow();

        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/statement?from={Iso(now)}&to={Iso(now.AddMinutes(-1))}")).Error(400));
        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/statement?to={Iso(now.AddMinutes(1))}")).Error(400));
        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/statement?from=last-week")).Error(400));
        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/statement?format=xml")).Error(400));
        Assert.Equal("not_found", (await Api.Get("/v1/wallets/wallet_none/statement")).Error(404));
        // The default period: the 30 days to now.
        var s = (await Api.Get($"/v1/wallets/{wallet}/statement")).Ok();
        Assert.Equal(now.AddDays(-30), DateTimeOffset.Parse(s.S("from"), CultureInfo.InvariantCulture));
        Assert.Equal(("0", "1"), (s.S("opening_balance"), s.S("closing_balance")));
    }
}
