using System.Text.Json.Nodes;
using Coffer.AutoTopUp;
using Coffer.Tenants;
using Coffer.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Coffer.Tests;

public sealed class DashboardTests : BrowserTest
{
    public override async Task DisposeAsync()
    {
        try
        {
            var report = await App.VerifyAsync();
            Assert.True(report.Ok, "ledger invariants violated:\n" + string.Join("\n", report.Problems));
        }
        finally
        {
            await base.DisposeAsync();
        }
    }

    async Task<JsonNode> Customer(string name, HttpClient? api = null) =>
        (await (api ?? Api).Post("/v1/customers", new { external_id = name.ToLowerInvariant().Replace(' ', '-'), name, email = "billing@example.test" })).Ok(201);

    async Task<JsonNode> Wallet(string customerId, HttpClient? api = null, string? initialCredits = null) =>
        (await (api ?? Api).Post("/v1/wallets", new { customer_id = customerId, currency = "usd", initial_credits_to_load = initialCredits })).Ok();

    async Task<decimal> CreditBalance(string walletId, HttpClient? api = null) =>
        (await (api ?? Api).Get($"/v1/wallets/{walletId}/balance/real-time")).Ok().D("real_time_credit_balance");

    static ILocator Rows(IPage page) => page.Locator("table.transactions tbody tr");

    [Fact]
    public async Task AnOperatorSignsInAndFindsACustomer()
    {
        (await Api.Post("/v1/customers", new { external_id = "acme", name = "Acme Corp", email = "billing@acme.test" })).Ok(201);
        (await Api.Post("/v1/customers", new { external_id = "globex", name = "Globex" })).Ok(201);

        var page = await SignedInOperatorAsync();
        await ScreenshotAsync(page, "dashboard-customers");
        await page.GetByLabel("Search by name").FillAsync("acme");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Acme Corp" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Globex" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task AWrongPasswordIsRefused()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/dashboard");
        await page.GetByLabel("Email").FillAsync(AdminEmail);
        await page.GetByLabel("Password").FillAsync("wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Wrong email or password");
    }

    [Fact]
    public async Task AnOperatorTopsUpThroughTheDialogAndAnInvoicedTopUpCompletesWhenItsInvoiceIsPaid()
    {
        await Customer("Acme Corp");
        var page = await SignedInOperatorAsync();
        await page.GetByLabel("Search by name").FillAsync("acme");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Acme Corp" }).ClickAsync();

        // The customer page creates the wallet through the API's own rules.
        await page.GetByLabel("Currency").FillAsync("USD");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create wallet" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Wallet created");
        await page.GetByRole(AriaRole.Link, new() { Name = "← Acme Corp" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Cell, new() { Name = "USD", Exact = true })).ToBeVisibleAsync();
        await ScreenshotAsync(page, "dashboard-customer");
        await page.GetByRole(AriaRole.Link, new() { Name = "USD wallet" }).ClickAsync();
        var walletUrl = page.Url;
        var walletId = walletUrl.Split('/').Last();

        // Free credits through the dialog.
        await page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Top-up Wallet" });
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await dialog.GetByLabel("Free").CheckAsync();
        await dialog.GetByLabel("Amount (credits)").FillAsync("100");
        await ScreenshotAsync(page, "dashboard-topup-dialog");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Add credits" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Credits added");
        await Assertions.Expect(page.Locator("#card-balance")).ToContainTextAsync("100 credits");
        await Assertions.Expect(page.Locator("#card-free")).ToContainTextAsync("100");

        // Purchased credits against an invoice stay pending until it is paid.
        await page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" }).ClickAsync();
        await dialog.GetByLabel("Purchased").CheckAsync();
        await dialog.GetByLabel("Amount (credits)").FillAsync("50");
        await dialog.GetByLabel("Generate Invoice").CheckAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Add credits" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Invoice created");
        var invoiced = Rows(page).Filter(new() { HasText = "Purchased credits (invoiced)" });
        await Assertions.Expect(invoiced).ToContainTextAsync("pending");
        await Assertions.Expect(invoiced).ToContainTextAsync("+50");
        await Assertions.Expect(page.Locator("#card-balance")).ToContainTextAsync("100 credits");
        await ScreenshotAsync(page, "dashboard-wallet");

        // The invoice: record the payment offline.
        await page.GetByRole(AriaRole.Link, new() { Name = "Open the invoice" }).ClickAsync();
        await Assertions.Expect(page.Locator("#payment-status")).ToContainTextAsync("pending");
        await Assertions.Expect(page.Locator("#amount-remaining")).ToHaveTextAsync("USD 50.00");
        await ScreenshotAsync(page, "dashboard-invoice");
        var pdf = await page.APIRequest.GetAsync(await page.GetByRole(AriaRole.Link, new() { Name = "Download PDF" }).GetAttributeAsync("href") ?? "");
        Assert.Equal("application/pdf", pdf.Headers["content-type"]);
        Assert.StartsWith("%PDF-", System.Text.Encoding.ASCII.GetString((await pdf.BodyAsync())[..5]));
        await page.GetByLabel("Received offline").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Record Payment" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment recorded");
        await Assertions.Expect(page.Locator("#payment-status")).ToContainTextAsync("succeeded");
        await Assertions.Expect(page.Locator("#amount-remaining")).ToHaveTextAsync("USD 0.00");

        // Back on the wallet: the credits arrived and the transaction is completed.
        await page.GetByRole(AriaRole.Link, new() { Name = "Back to the wallet" }).ClickAsync();
        await Assertions.Expect(page.Locator("#card-balance")).ToContainTextAsync("150 credits");
        await Assertions.Expect(page.Locator("#card-purchased")).ToContainTextAsync("50");
        await Assertions.Expect(invoiced).ToContainTextAsync("completed");
        Assert.Equal(150m, await CreditBalance(walletId));

        // A second purchase: its invoice gets a payment link, then is marked FAILED, which fails the pending credits.
        var second = (await Api.Post($"/v1/wallets/{walletId}/top-up", new { credits_to_add = "20", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        await page.GetByRole(AriaRole.Link, new() { Name = "Invoices" }).ClickAsync();
        await page.GetByLabel("Payment status").SelectOptionAsync("PENDING");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "INV-000002" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "INV-000001" })).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Link, new() { Name = "INV-000002" }).ClickAsync();
        Assert.EndsWith($"/dashboard/invoices/{second.S("invoice_id")}", page.Url);
        await page.GetByLabel("Create a payment link").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Record Payment" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment link created");
        Assert.Contains("/checkout/", await page.Locator("#payment-link").GetAttributeAsync("href"));
        await page.GetByLabel("Payment status", new() { Exact = true }).SelectOptionAsync("FAILED");
        await page.GetByRole(AriaRole.Button, new() { Name = "Update Payment Status" }).ClickAsync();
        await Assertions.Expect(page.Locator("#payment-status")).ToContainTextAsync("failed");
        await page.GetByRole(AriaRole.Link, new() { Name = "Back to the wallet" }).ClickAsync();
        await Assertions.Expect(Rows(page).Filter(new() { HasText = "+20" })).ToContainTextAsync("failed");
        Assert.Equal(150m, await CreditBalance(walletId));
    }

    [Fact]
    public async Task TheWalletPageDownloadsTheStatementOfTheLast30DaysAsCsvAndPdf()
    {
        var customer = await Customer("Globex");
        var walletId = (await Wallet(customer.S("id"))).S("id");
        (await Api.Post($"/v1/wallets/{walletId}/top-up", new { credits_to_add = "50", transaction_reason = "FREE_CREDIT_GRANT" })).Ok();
        (await Api.Post($"/v1/wallets/{walletId}/debit", new { credits = "8", idempotency_key = "st-1", description = "March usage" })).Ok();

        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        var csv = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "CSV", Exact = true }).ClickAsync());
        Assert.EndsWith(".csv", csv.SuggestedFilename);
        var lines = (await File.ReadAllTextAsync((await csv.PathAsync())!)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var balance = (await Api.Get($"/v1/wallets/{walletId}")).Ok().S("credit_balance");
        Assert.Contains(",MANUAL_BALANCE_DEBIT,March usage,", lines[^2]);
        Assert.Contains(",CLOSING_BALANCE,", lines[^1]);
        Assert.EndsWith($",USD,{balance}", lines[^1]);
        var pdf = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "PDF", Exact = true }).ClickAsync());
        Assert.EndsWith(".pdf", pdf.SuggestedFilename);
        var text = InvoicePdfTests.Text(await File.ReadAllBytesAsync((await pdf.PathAsync())!));
        Assert.Contains("March usage", text);
        Assert.Contains($"{balance} credits", text);
    }

    [Fact]
    public async Task TheTransactionsTableShowsSignsLotsAndGapsAndExportsTheFilteredListAsCsv()
    {
        var customer = await Customer("Initech");
        var walletId = (await Wallet(customer.S("id"))).S("id");
        (await Api.Post($"/v1/wallets/{walletId}/top-up", new { credits_to_add = "100", transaction_reason = "FREE_CREDIT_GRANT", description = "Promo, \"spring\"" })).Ok();
        var bought = (await Api.Post($"/v1/wallets/{walletId}/top-up", new
        {
            credits_to_add = "40", transaction_reason = "PURCHASED_CREDIT_DIRECT", priority = 1, expiry_date_utc = "2026-03-01T00:00:00Z",
        })).Ok()["wallet_transaction"].S("id");
        var debit = (await Api.Post($"/v1/wallets/{walletId}/debit", new { credits = "60", idempotency_key = "usage-1", description = "January usage" })).Ok();
        var allocations = debit["wallet_transaction"]!["allocations"]!.AsArray();
        Assert.Equal(2, allocations.Count);
        var freeLot = allocations.Select(a => a!.S("lot_id")).Single(id => id != bought);

        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        await Assertions.Expect(Rows(page)).ToHaveCountAsync(3);

        var free = Rows(page).Filter(new() { HasText = "Promo" });
        await Assertions.Expect(free.Locator("td").Nth(2)).ToHaveTextAsync("--");
        await Assertions.Expect(free.Locator("td").Nth(3)).ToHaveTextAsync("--");
        await Assertions.Expect(free.Locator("td").Nth(5)).ToHaveTextAsync("+100");
        var purchased = Rows(page).Filter(new() { Has = page.GetByText("Purchased credits", new() { Exact = true }) });
        await Assertions.Expect(purchased.Locator("td").Nth(2)).ToHaveTextAsync("2026-02-28 (end of day)");
        await Assertions.Expect(purchased.Locator("td").Nth(3)).ToHaveTextAsync("1");
        var usage = Rows(page).Filter(new() { HasText = "January usage" });
        await Assertions.Expect(usage.Locator("td").Nth(4)).ToHaveTextAsync("\u2212USD 60.00");
        await Assertions.Expect(usage.Locator("td").Nth(5)).ToHaveTextAsync("\u221260");
        await Assertions.Expect(usage.Locator("td").Nth(6)).ToHaveTextAsync("completed");

        // The debit opens to the lots it consumed: the prioritised purchase first, then the free grant.
        await usage.GetByText("2 lots consumed").ClickAsync();
        await Assertions.Expect(usage.GetByRole(AriaRole.Listitem).Filter(new() { HasText = bought })).ToContainTextAsync("40 credits");
        await Assertions.Expect(usage.GetByRole(AriaRole.Listitem).Filter(new() { HasText = freeLot })).ToContainTextAsync("20 credits");
        await Assertions.Expect(page.GetByRole(AriaRole.Img, new() { Name = "Credit balance over the last 3 completed transactions" })).ToBeVisibleAsync();
        await ScreenshotAsync(page, "dashboard-transactions");

        // A refusal of the ledger is a message on the page, not an error page.
        await page.GetByLabel("Debit amount (credits)").FillAsync("1000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Debit", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("insufficient balance");
        Assert.Equal(80m, await CreditBalance(walletId));

        // Filtered to debits, in the table and in the CSV.
        await page.GetByLabel("Type", new() { Exact = true }).SelectOptionAsync("debit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(Rows(page)).ToHaveCountAsync(1);
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download CSV" }).ClickAsync());
        var csv = await File.ReadAllTextAsync((await download.PathAsync())!);
        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Transaction id,Type,Kind,Adjustment reason,Adjusted by,Reason,Description,Payment date,Created,Expiry date,Priority,Amount,Currency,Credits,Status,Lots", lines[0]);
        Assert.Equal(2, lines.Length);
        var prefix = $"{debit["wallet_transaction"].S("id")},debit,debit,,,MANUAL_BALANCE_DEBIT,January usage,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,--,--,-60.00,USD,-60,completed,";
        Assert.StartsWith(prefix, lines[1]);
        Assert.Equal(new[] { $"{bought}:40", $"{freeLot}:20" }.Order(), lines[1][prefix.Length..].Split("; ").Order());

        // Unfiltered, through the same session: RFC 4180 quoting of a description with a comma and quotes.
        var all = await page.APIRequest.GetAsync($"/dashboard/wallets/{walletId}/transactions.csv");
        Assert.Equal(200, all.Status);
        Assert.StartsWith("text/csv", all.Headers["content-type"]);
        var allCsv = await all.TextAsync();
        Assert.Equal(4, allCsv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains(",FREE_CREDIT_GRANT,\"Promo, \"\"spring\"\"\",2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,--,--,+0.00,USD,+100,completed,\r\n", allCsv);
        Assert.Contains(",PURCHASED_CREDIT_DIRECT,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,2026-02-28 (end of day),1,+40.00,USD,+40,completed,\r\n", allCsv);

        // At phone width the page fits: wide tables scroll inside themselves.
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        await page.SetViewportSizeAsync(390, 844);
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the wallet page overflows at 390px");
        await ScreenshotAsync(page, "dashboard-wallet-390");
    }

    [Fact]
    public async Task SettingsFreezeAndTerminationWorkFromTheWalletPageWithAndWithoutScript()
    {
        var customer = await Customer("Umbrella");
        var walletId = (await Wallet(customer.S("id"), initialCredits: "30")).S("id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");

        // Automatic top-up and alerts.
        var auto = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Automatic top-up" }) });
        await auto.GetByLabel("Enabled").CheckAsync();
        await auto.GetByLabel("Threshold (credits)").FillAsync("10");
        await auto.GetByLabel("Amount (credits)").FillAsync("50");
        await auto.GetByLabel("Invoice the top-up").CheckAsync();
        await auto.GetByLabel("Most top-ups per day").FillAsync("3");
        await auto.GetByRole(AriaRole.Button, new() { Name = "Save automatic top-up" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Automatic top-up settings saved");
        var rule = (await Api.Get($"/v1/wallets/{walletId}")).Ok()["auto_topup"]!;
        Assert.True(rule["enabled"]!.GetValue<bool>());
        Assert.Equal(3, rule["max_topups_per_day"]!.GetValue<int>());

        var alerts = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Alerts", Exact = true }) });
        await alerts.GetByLabel("Alerts enabled").CheckAsync();
        await alerts.Locator("#al-critical").FillAsync("5");
        // The wallet's own channels: the merchant's team address and the customer, no webhooks.
        await alerts.GetByLabel("This wallet's own:").CheckAsync();
        await alerts.GetByLabel("Webhook events").UncheckAsync();
        await alerts.GetByLabel("E-mail to the merchant").CheckAsync();
        await alerts.GetByLabel("Merchant addresses (optional; empty: the list in Settings)").FillAsync("team@umbrella.test, cfo@umbrella.test");
        await alerts.GetByLabel("E-mail to the customer (their address on file)").CheckAsync();
        await ScreenshotAsync(page, "dashboard-alert-channels");
        await alerts.GetByRole(AriaRole.Button, new() { Name = "Save alerts" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Alert settings saved");
        var saved = (await Api.Get($"/v1/wallets/{walletId}")).Ok()["alert_settings"]!;
        Assert.Equal(["merchant_email", "customer_email"], saved["notification_channels"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(["team@umbrella.test", "cfo@umbrella.test"], saved["merchant_emails"]!.AsArray().Select(c => c!.GetValue<string>()));
        await Assertions.Expect(alerts.GetByLabel("E-mail to the customer (their address on file)")).ToBeCheckedAsync();
        await Assertions.Expect(alerts.GetByLabel("Webhook events")).Not.ToBeCheckedAsync();

        // A debit takes the wallet below both thresholds: the alert log and the auto top-up attempt show it.
        (await Api.Post($"/v1/wallets/{walletId}/debit", new { credits = "27", idempotency_key = "k1" })).Ok();
        await App.Services.GetRequiredService<AutoTopUpWorker>().RunOnceAsync();
        await page.ReloadAsync();
        await Assertions.Expect(alerts.GetByRole(AriaRole.Cell).Filter(new() { HasText = "in_alarm" })).ToBeVisibleAsync();
        await Assertions.Expect(auto.GetByRole(AriaRole.Row).Filter(new() { HasText = "invoiced" })).ToContainTextAsync("invoice created");

        // Frozen, the wallet refuses a top-up with a message; unfrozen it takes one, through the page that needs no script.
        await page.GetByRole(AriaRole.Button, new() { Name = "Freeze" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Wallet frozen");
        await page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByLabel("Amount (credits)").FillAsync("5");
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Add credits" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("the wallet is frozen");
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Unfreeze" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Wallet unfrozen");

        var noScript = await (await NewContextAsync(new() { JavaScriptEnabled = false })).NewPageAsync();
        await noScript.GotoAsync($"/dashboard/wallets/{walletId}");
        await noScript.GetByLabel("Email").FillAsync(AdminEmail);
        await noScript.GetByLabel("Password").FillAsync(AdminPassword);
        await noScript.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await noScript.GetByRole(AriaRole.Link, new() { Name = "Top-up Wallet" }).ClickAsync();
        await ReachedAsync(noScript, $"**/dashboard/wallets/{walletId}/top-up");
        await noScript.GetByLabel("Amount (credits)").FillAsync("7");
        await noScript.GetByRole(AriaRole.Button, new() { Name = "Add credits" }).ClickAsync();
        await Assertions.Expect(noScript.GetByRole(AriaRole.Status)).ToContainTextAsync("Credits added");
        Assert.Equal(10m, await CreditBalance(walletId));

        // Termination asks for a confirmation first.
        await page.GetByRole(AriaRole.Link, new() { Name = "Terminate…" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Terminate wallet" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("10 credits");
        await page.GetByLabel("I understand").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Terminate wallet" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Wallet terminated");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" })).ToHaveCountAsync(0);
        var closed = (await Api.Get($"/v1/wallets/{walletId}")).Ok();
        Assert.Equal("closed", closed.S("wallet_status"));
        Assert.Equal(0m, closed.D("credit_balance"));
    }

    [Fact]
    public async Task AForgedPostIsRefusedAndAnotherTenantsDataIsNotFound()
    {
        var customer = await Customer("Hooli");
        var walletId = (await Wallet(customer.S("id"), initialCredits: "100")).S("id");

        var tenants = App.Services.GetRequiredService<TenantStore>();
        var other = await tenants.CreateTenantAsync("other merchant", isDefault: false);
        using var otherApi = new HttpClient { BaseAddress = new Uri(BaseUrl) };
        otherApi.DefaultRequestHeaders.Add("x-api-key", (await tenants.CreateKeyAsync(other.Id, "test")).Secret);
        var otherCustomer = await Customer("Pied Piper", otherApi);
        var otherWallet = (await Wallet(otherCustomer.S("id"), otherApi, initialCredits: "500")).S("id");
        var otherInvoice = (await otherApi.Post($"/v1/wallets/{otherWallet}/top-up", new { credits_to_add = "5", transaction_reason = "PURCHASED_CREDIT_INVOICED" }))
            .Ok().S("invoice_id");

        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        var token = await page.Locator("input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");

        // Without the antiforgery token the post is refused and the wallet is untouched.
        var forged = await page.APIRequest.PostAsync($"/dashboard/wallets/{walletId}/debit", new()
        {
            Form = FormOf(page, ("Credits", "50"), ("IdempotencyKey", "forged-1")),
        });
        Assert.Equal(400, forged.Status);
        Assert.Contains("anti-forgery", await forged.TextAsync());
        var terminate = await page.APIRequest.PostAsync($"/dashboard/wallets/{walletId}/terminate", new() { Form = FormOf(page, ("Confirm", "yes")) });
        Assert.Equal(400, terminate.Status);
        Assert.Equal(100m, await CreditBalance(walletId));
        Assert.Equal("active", (await Api.Get($"/v1/wallets/{walletId}")).Ok().S("wallet_status"));

        // Another tenant's ids are not found, even with a valid token.
        foreach (var path in new[]
                 {
                     $"/dashboard/wallets/{otherWallet}", $"/dashboard/wallets/{otherWallet}/top-up", $"/dashboard/wallets/{otherWallet}/transactions.csv",
                     $"/dashboard/customers/{otherCustomer.S("id")}", $"/dashboard/invoices/{otherInvoice}", $"/dashboard/invoices/{otherInvoice}/pdf",
                 })
        {
            var response = await page.GotoAsync(path);
            Assert.True(response!.Status == 404, $"{path} answered {response.Status}");
            await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("No such");
        }
        var post = await page.APIRequest.PostAsync($"/dashboard/wallets/{otherWallet}/debit", new()
        {
            Form = FormOf(page, ("__RequestVerificationToken", token!), ("Credits", "50"), ("IdempotencyKey", "cross-1")),
        });
        Assert.Equal(404, post.Status);
        var pay = await page.APIRequest.PostAsync($"/dashboard/invoices/{otherInvoice}/payment-status", new()
        {
            Form = FormOf(page, ("__RequestVerificationToken", token!), ("PaymentStatus", "SUCCEEDED")),
        });
        Assert.Equal(404, pay.Status);
        Assert.Equal(500m, await CreditBalance(otherWallet, otherApi));
        Assert.Equal("PENDING", (await otherApi.Get($"/v1/invoices/{otherInvoice}")).Ok().S("payment_status"));

        await page.GotoAsync("/dashboard/invoices");
        await Assertions.Expect(page.GetByText("0 invoices")).ToBeVisibleAsync();

        // Even signing out needs the token; the button has it.
        Assert.Equal(400, (await page.APIRequest.PostAsync("/dashboard/sign-out", new() { Form = FormOf(page, ("Note", "x")) })).Status);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await ReachedAsync(page, "**/dashboard/sign-in");
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign in" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task AnOperatorAddsAWebhookEndpointReadsItsAttemptsAndResendsAnEvent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer(500, 200);
        var page = await SignedInOperatorAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }).ClickAsync();
        await page.GetByLabel("URL").FillAsync(receiver.Url);
        await page.GetByLabel("wallet.created").CheckAsync();
        await page.GetByLabel("wallet.topped_up").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add endpoint" }).ClickAsync();
        var secret = await page.GetByLabel("Signing secret").InputValueAsync();
        Assert.StartsWith("whsec_", secret);

        var customer = await Customer("Soylent");
        var walletId = (await Wallet(customer.S("id"))).S("id");
        var worker = App.Services.GetRequiredService<WebhookWorker>();
        await worker.RunOnceAsync();
        App.Clock.Advance(TimeSpan.FromSeconds(10));
        await worker.RunOnceAsync();

        await page.GotoAsync("/dashboard/webhooks");
        var delivery = page.Locator("#log tbody > tr").Filter(new() { HasText = "wallet.created" });
        await Assertions.Expect(delivery).ToHaveCountAsync(1);
        await Assertions.Expect(delivery.Locator("> td").Nth(2)).ToContainTextAsync("succeeded");
        await Assertions.Expect(delivery.Locator("> td").Nth(3)).ToHaveTextAsync("2");
        await delivery.GetByText("2 attempts").ClickAsync();
        var attempts = delivery.Locator("details tbody tr");
        await Assertions.Expect(attempts.Nth(0)).ToContainTextAsync("500");
        await Assertions.Expect(attempts.Nth(1)).ToContainTextAsync("200");
        await Assertions.Expect(attempts.Nth(1)).ToContainTextAsync("ok 200");
        await ScreenshotAsync(page, "dashboard-webhooks");

        await delivery.GetByRole(AriaRole.Button, new() { Name = "Re-send" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("queued for delivery again");
        await Assertions.Expect(page.Locator("#log tbody > tr").Filter(new() { HasText = "wallet.created" })).ToHaveCountAsync(2);
        await worker.RunOnceAsync();
        Assert.Equal(3, receiver.Received.Count(r => r.Body.Contains(walletId, StringComparison.Ordinal)));

        await page.GetByRole(AriaRole.Button, new() { Name = "Rotate secret" }).ClickAsync();
        var rotated = await page.GetByLabel("Signing secret").InputValueAsync();
        Assert.StartsWith("whsec_", rotated);
        Assert.NotEqual(secret, rotated);
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Endpoint disabled");
        Assert.False((await Api.Get("/v1/webhooks/endpoints")).Ok().AsArray().Single()!["enabled"]!.GetValue<bool>());
        await page.GetByRole(AriaRole.Button, new() { Name = "Enable" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Endpoint enabled");
    }

    [Fact]
    public async Task AFormSentTwiceCreatesOneWalletAndTopsUpOnce()
    {
        // Root cause: the create-wallet form carried no key, so its second post was refused as a duplicate wallet.
        var customer = (await Customer("Initech")).S("id");
        var page = await SignedInOperatorAsync();

        async Task<string> PostTwice(string path, string formAction, params (string Name, string Value)[] fields)
        {
            await page.GotoAsync(path);
            var hidden = await page.Locator($"form[action$='{formAction}'] input[type=hidden]").EvaluateAllAsync<Dictionary<string, string>>(
                "inputs => Object.fromEntries(inputs.map(i => [i.name, i.value]))");
            Assert.Contains("IdempotencyKey", hidden.Keys);
            var locations = new List<string>();
            for (var i = 0; i < 2; i++)
            {
                var form = FormOf(page, fields);
                foreach (var (name, value) in hidden) form.Set(name, value);
                var response = await page.APIRequest.PostAsync(formAction, new() { Form = form, MaxRedirects = 0 });
                Assert.Equal(302, response.Status);
                locations.Add(response.Headers["location"].Split('?')[0]);
            }
            Assert.Single(locations.Distinct());
            return locations[0];
        }

        var created = await PostTwice($"/dashboard/customers/{customer}", $"/dashboard/customers/{customer}/wallets", ("Currency", "USD"));
        var walletId = created.Split('?')[0].Split('/').Last();
        Assert.Single((await Api.Get($"/v1/customers/{customer}/wallets")).Ok().AsArray());

        await PostTwice($"/dashboard/wallets/{walletId}/top-up", $"/dashboard/wallets/{walletId}/top-up", ("CreditType", "free"), ("Credits", "25"));
        Assert.Equal(25m, await CreditBalance(walletId));
    }

    [Fact]
    public async Task TheRootAddressLeadsToTheDashboardSignIn()
    {
        // Root cause: nothing was mapped at "/", so a newcomer's first visit got the API's JSON 404.
        var page = await NewPageAsync();
        var response = await page.GotoAsync("/");
        Assert.Equal(200, response!.Status);
        Assert.Contains("/dashboard/sign-in", page.Url);
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign in" })).ToBeVisibleAsync();

        // The API's own addresses answer as before.
        using var unknown = await Api.GetAsync("/v1/no-such-thing");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.StartsWith("application/", unknown.Content.Headers.ContentType?.MediaType);
        using var health = await Api.GetAsync("/health");
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task AnOperatorCreatesACustomerAndADuplicateExternalIdIsRefused()
    {
        var page = await SignedInOperatorAsync();
        var form = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "New customer" }) });
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync("Ada Analytics");
        await form.GetByLabel("External id").FillAsync("ada-1");
        await form.GetByLabel("Email (optional)").FillAsync("billing@ada.test");
        await ScreenshotAsync(page, "dashboard-new-customer");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create customer" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Customer created");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Ada Analytics", Level = 1 })).ToBeVisibleAsync();
        var created = (await Api.Get("/v1/customers/external/ada-1")).Ok();
        Assert.Equal("Ada Analytics", created.S("name"));
        Assert.Equal("billing@ada.test", created.S("email"));
        Assert.EndsWith($"/dashboard/customers/{created.S("id")}", page.Url.Split('?')[0]);

        // The same external id again is refused with the API's reason, and what was typed stays in the form.
        await page.GotoAsync("/dashboard");
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync("Ada again");
        await form.GetByLabel("External id").FillAsync("ada-1");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create customer" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("a customer with external_id 'ada-1' already exists");
        await Assertions.Expect(form.GetByLabel("Name", new() { Exact = true })).ToHaveValueAsync("Ada again");
        await ScreenshotAsync(page, "dashboard-new-customer-taken");
        Assert.Equal(1, (await Api.Get("/v1/customers")).Ok()["pagination"]!["total"]!.GetValue<int>());

        // Without the antiforgery token nothing is created.
        var forged = await page.APIRequest.PostAsync("/dashboard/customers", new() { Form = FormOf(page, ("ExternalId", "forged")) });
        Assert.Equal(400, forged.Status);
        Assert.Equal(1, (await Api.Get("/v1/customers")).Ok()["pagination"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task AWalletCreatedWithRechargeWalletAutomaticallyHasItsRuleFromTheStart()
    {
        var customer = (await Customer("Babbage")).S("id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/customers/{customer}");
        await page.GetByLabel("Currency").FillAsync("USD");
        await page.GetByLabel("Recharge Wallet Automatically").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create wallet" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Threshold is required");
        Assert.Empty((await Api.Get($"/v1/customers/{customer}/wallets")).Ok().AsArray());

        await page.GetByLabel("Threshold (credits)").FillAsync("10");
        await page.GetByLabel("Amount to buy (credits)").FillAsync("50");
        await page.GetByLabel("Invoice the top-up").CheckAsync();
        await ScreenshotAsync(page, "dashboard-new-wallet-auto-recharge");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create wallet" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Wallet created");
        var walletId = page.Url.Split('?')[0].Split('/').Last();

        var rule = (await Api.Get($"/v1/wallets/{walletId}")).Ok()["auto_topup"]!;
        Assert.True(rule["enabled"]!.GetValue<bool>());
        Assert.Equal(10m, rule["threshold"]!.GetValue<decimal>());
        Assert.Equal(50m, rule["amount"]!.GetValue<decimal>());
        Assert.True(rule["invoicing"]!.GetValue<bool>());
        var auto = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Automatic top-up" }) });
        await Assertions.Expect(auto.GetByLabel("Enabled")).ToBeCheckedAsync();
        await Assertions.Expect(auto.GetByLabel("Threshold (credits)")).ToHaveValueAsync("10");
    }

    [Fact]
    public async Task TheTopUpButtonSitsAtTheTopRightLevelWithTheHeading()
    {
        var walletId = (await Wallet((await Customer("Lovelace")).S("id"))).S("id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        var heading = (await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).BoundingBoxAsync())!;
        var button = (await page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" }).BoundingBoxAsync())!;
        var main = (await page.Locator("main").BoundingBoxAsync())!;
        Assert.True(button.X >= heading.X + heading.Width, $"the button (x {button.X}) is not right of the heading (ends at {heading.X + heading.Width})");
        Assert.True(button.Y < heading.Y + heading.Height && button.Y + button.Height > heading.Y, "the button is not level with the heading");
        Assert.True(button.X + button.Width >= main.X + main.Width - 40, "the button is not at the right of the page");
        await ScreenshotAsync(page, "dashboard-wallet-header");

        // It still opens the dialog.
        await page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Dialog, new() { Name = "Top-up Wallet" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task TheInvoicePaymentsTableFitsItsPageOnADesktopAndAPhone()
    {
        var walletId = (await Wallet((await Customer("Hopper")).S("id"))).S("id");
        var invoiceId = (await Api.Post($"/v1/wallets/{walletId}/top-up", new { credits_to_add = "80", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok()
            .S("invoice_id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/invoices/{invoiceId}");
        await page.GetByLabel("Amount (USD)").FillAsync("30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Record Payment" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment recorded");
        await page.GetByLabel("Create a payment link").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Record Payment" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment link created");
        var table = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Payments" }) }).Locator("table");
        await Assertions.Expect(table.Locator("tbody tr")).ToHaveCountAsync(2);

        // Widths of the table, the box it sits in, the page and the window: the first two and the last two equal when it fits.
        const string widths = "t => [t.scrollWidth, t.parentElement.clientWidth, document.documentElement.scrollWidth, window.innerWidth]";
        async Task Fits(int viewport)
        {
            var w = await table.EvaluateAsync<int[]>(widths);
            Assert.True(w[0] <= w[1] && w[2] <= w[3], $"the payments table overflows at {viewport}px: table {w[0]} in {w[1]}, page {w[2]} in {w[3]}");
        }
        await Fits(1280);
        await page.SetViewportSizeAsync(390, 844);
        await Fits(390);
        await Assertions.Expect(table.Locator("a.payment-url")).ToBeVisibleAsync();
        await ScreenshotAsync(page, "dashboard-invoice-payments-390");
    }

    [Fact]
    public async Task AnExpiryDateChosenInTheDialogIsShownAsThatDayInTheTableTheLotsAndTheCsv()
    {
        // Root cause: a chosen day is stored as the next midnight UTC and every screen printed that midnight.
        var walletId = (await Wallet((await Customer("Noether")).S("id"))).S("id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Top-up Wallet" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Top-up Wallet" });
        await dialog.GetByLabel("Free").CheckAsync();
        await dialog.GetByLabel("Amount (credits)").FillAsync("40");
        await dialog.GetByLabel("Expiry date (optional)").FillAsync("2027-03-31");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Add credits" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Credits added");

        // The stored instant is unchanged: spendable through the end of the day chosen.
        var lot = (await Api.Get($"/v1/wallets/{walletId}/transactions")).Ok()["items"]!.AsArray().Single()!;
        Assert.Equal(new DateTimeOffset(2027, 4, 1, 0, 0, 0, TimeSpan.Zero), DateTimeOffset.Parse(lot.S("expiry_date"), System.Globalization.CultureInfo.InvariantCulture));

        (await Api.Post($"/v1/wallets/{walletId}/debit", new { credits = "15", idempotency_key = "noether-1", description = "March usage" })).Ok();
        await page.ReloadAsync();
        var grant = Rows(page).Filter(new() { Has = page.GetByText("Free credits", new() { Exact = true }) });
        await Assertions.Expect(grant.Locator("td").Nth(2)).ToHaveTextAsync("2027-03-31 (end of day)");
        var usage = Rows(page).Filter(new() { HasText = "March usage" });
        await usage.GetByText("1 lot consumed").ClickAsync();
        await Assertions.Expect(usage.GetByRole(AriaRole.Listitem)).ToContainTextAsync("expires 2027-03-31 (end of day)");
        await ScreenshotAsync(page, "dashboard-expiry-day");

        var csv = await (await page.APIRequest.GetAsync($"/dashboard/wallets/{walletId}/transactions.csv")).TextAsync();
        var grantLine = csv.Split("\r\n").Single(l => l.Contains(",FREE_CREDIT_GRANT,", StringComparison.Ordinal));
        Assert.Contains(",2027-03-31 (end of day),", grantLine);
        Assert.DoesNotContain("2027-04-01", csv);
    }

    [Fact]
    public async Task ThePaymentDateOfAnInvoicedPurchaseIsWhenItsPaymentWasRecorded()
    {
        // Root cause: the column printed the entry's creation time, which for an invoiced purchase is when it was asked for, not paid.
        var walletId = (await Wallet((await Customer("Turing")).S("id"))).S("id");
        var invoiceId = (await Api.Post($"/v1/wallets/{walletId}/top-up", new { credits_to_add = "50", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok()
            .S("invoice_id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        var purchase = Rows(page).Filter(new() { Has = page.GetByText("Purchased credits (invoiced)", new() { Exact = true }) });
        await Assertions.Expect(purchase.Locator("td").Nth(1).Locator(".paid")).ToHaveTextAsync("--");

        // Within the operator's session (8 hours idle at most).
        App.Clock.Advance(TimeSpan.FromHours(5) + TimeSpan.FromMinutes(30));
        await page.GotoAsync($"/dashboard/invoices/{invoiceId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Record Payment" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment recorded");
        // A later debit spends from the lot (and so touches the entry's updated_at): the payment date stays put.
        App.Clock.Advance(TimeSpan.FromHours(2));
        (await Api.Post($"/v1/wallets/{walletId}/debit", new { credits = "5", idempotency_key = "turing-1" })).Ok();

        await page.GotoAsync($"/dashboard/wallets/{walletId}");
        await Assertions.Expect(purchase).ToContainTextAsync("completed");
        var when = purchase.Locator("td").Nth(1);
        await Assertions.Expect(when.Locator(".paid")).ToHaveTextAsync("2026-01-01 05:30");
        await Assertions.Expect(when).ToContainTextAsync("created 2026-01-01 00:00");
        await Assertions.Expect(when).ToHaveAttributeAsync("title", "Created 2026-01-01 00:00 UTC");
        var debit = Rows(page).Filter(new() { HasText = "Manual debit" });
        await Assertions.Expect(debit.Locator("td").Nth(1)).ToHaveTextAsync("2026-01-01 07:30");
        await ScreenshotAsync(page, "dashboard-payment-date");

        var csv = await (await page.APIRequest.GetAsync($"/dashboard/wallets/{walletId}/transactions.csv")).TextAsync();
        var line = csv.Split("\r\n").Single(l => l.Contains(",PURCHASED_CREDIT_INVOICED,", StringComparison.Ordinal));
        Assert.Contains(",2026-01-01T05:30:00Z,2026-01-01T00:00:00Z,", line);
    }

    static IFormData FormOf(IPage page, params (string Name, string Value)[] fields)
    {
        var form = page.APIRequest.CreateFormData();
        foreach (var (name, value) in fields) form.Set(name, value);
        return form;
    }
}
