using System.Text.RegularExpressions;
using Coffer.Portal;
using Microsoft.Playwright;

namespace Coffer.Tests;

/// <summary>
/// The customer portal in Chromium: the merchant backend asks for a link, the customer opens it and sees only
/// their own wallets, adds funds by card (saved, or new through the sandbox's hosted checkout), buys packages
/// and sets automatic top-up within the merchant's limits.
/// </summary>
public sealed class PortalTests : BrowserTest
{
    /// <summary>A customer with a USD wallet at USD 0.10 a credit: 100 free credits, 30 spent on usage, 10 held.</summary>
    async Task<(string Customer, string Wallet)> CustomerWithWallet(string name = "Ada Lovelace", bool usage = true)
    {
        var customer = (await Api.Post("/v1/customers", new { external_id = "ext-" + Guid.NewGuid().ToString("N")[..10], name })).Ok(201).S("id");
        var wallet = (await Api.Post("/v1/wallets", new
        {
            customer_id = customer, currency = "usd", name = $"{name.Split(' ')[0]}'s credits", conversion_rate = "0.1", topup_conversion_rate = "0.1",
            initial_credits_to_load = "100",
        })).Ok().S("id");
        if (usage)
        {
            (await Api.Post($"/v1/wallets/{wallet}/debit", new
            {
                credits = "30", transaction_reason = "USAGE_CHARGE", description = "API usage", idempotency_key = Guid.NewGuid().ToString("N"),
            })).Ok();
            (await Api.Post($"/v1/wallets/{wallet}/holds", new { credits = "10", description = "Running job" })).Ok();
        }
        return (customer, wallet);
    }

    async Task<string> PortalLink(string customer, int? expiresInSeconds = null) =>
        (await Api.Post("/v1/portal/sessions", new { customer_id = customer, expires_in_seconds = expiresInSeconds })).Ok(201).S("url");

    async Task<IPage> OpenPortalAsync(string link, int width = 1280)
    {
        var page = await NewPageAsync(width);
        await page.GotoAsync(link);
        await ReachedAsync(page, "**/portal");
        await Assertions.Expect(page.GetByRole(AriaRole.Main)).ToBeVisibleAsync();
        return page;
    }

    async Task SaveCard(string customer, string number) =>
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = number })).Ok(201);

    async Task<string> CreditBalance(string wallet) => (await Api.Get($"/v1/wallets/{wallet}")).Ok().S("credit_balance");

    async Task LedgerHolds()
    {
        var report = await App.VerifyAsync();
        Assert.True(report.Ok, "ledger invariants violated:\n" + string.Join("\n", report.Problems));
    }

    [Fact]
    public async Task ACustomerDownloadsTheirStatementAndNoOneElses()
    {
        var (customer, wallet) = await CustomerWithWallet();
        var (_, otherWallet) = await CustomerWithWallet("Grace Hopper");
        var page = await OpenPortalAsync(await PortalLink(customer));
        await page.GetByRole(AriaRole.Link, new() { Name = "Ada's credits" }).ClickAsync();

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "PDF", Exact = true }).ClickAsync());
        var text = InvoicePdfTests.Text(await File.ReadAllBytesAsync((await download.PathAsync())!));
        Assert.Contains(wallet, text);
        Assert.Contains("API usage", text);
        Assert.Contains("70 credits", text);
        var csv = await page.APIRequest.GetAsync($"/portal/wallets/{wallet}/statement.csv");
        Assert.Equal(200, csv.Status);
        Assert.Contains(",CLOSING_BALANCE,", await csv.TextAsync());
        // Another customer's wallet is not found, whichever the format.
        Assert.Equal(404, (await page.APIRequest.GetAsync($"/portal/wallets/{otherWallet}/statement.pdf")).Status);
        Assert.Equal(404, (await page.APIRequest.GetAsync($"/portal/wallets/{otherWallet}/statement.csv")).Status);
    }

    [Fact]
    public async Task ACustomerSeesBalanceAndHistoryAndAddsFundsWithANewCardAtTheHostedCheckout()
    {
        var (customer, wallet) = await CustomerWithWallet();
        var link = await PortalLink(customer);

        var page = await OpenPortalAsync(link);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Your wallets" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Main)).ToContainTextAsync("USD 7.00");
        await ScreenshotAsync(page, "portal-home");

        await page.GetByRole(AriaRole.Link, new() { Name = "Ada's credits" }).ClickAsync();
        var cards = page.Locator(".cards");
        await Assertions.Expect(cards).ToContainTextAsync("Balance");
        await Assertions.Expect(cards.Locator(".card").Nth(0)).ToContainTextAsync("USD 7.00");
        await Assertions.Expect(cards.Locator(".card").Nth(1)).ToContainTextAsync("USD 1.00");
        await Assertions.Expect(cards.Locator(".card").Nth(2)).ToContainTextAsync("USD 6.00");
        var usage = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "API usage" });
        await Assertions.Expect(usage).ToContainTextAsync("\u2212USD 3.00");
        await Assertions.Expect(usage).ToContainTextAsync("completed");
        await Assertions.Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "Initial credits" })).ToContainTextAsync("+USD 0.00");
        await ScreenshotAsync(page, "portal-wallet");

        await page.GetByRole(AriaRole.Link, new() { Name = "Add funds" }).ClickAsync();
        await page.GetByLabel("Amount (USD)").FillAsync("25");
        await page.GetByLabel("A new card").CheckAsync();
        await page.GetByLabel("Keep the card I enter").CheckAsync();
        await ScreenshotAsync(page, "portal-add-funds");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add funds" }).ClickAsync();
        // The payment is shown once more, and nothing is charged until it is confirmed.
        var summary = page.GetByRole(AriaRole.Definition);
        await Assertions.Expect(summary.Nth(0)).ToHaveTextAsync("USD 25.00");
        await Assertions.Expect(summary.Nth(1)).ToHaveTextAsync("250 credits");
        await Assertions.Expect(summary.Nth(2)).ToHaveTextAsync("A new card, entered on the payment page and kept for future payments");
        await Assertions.Expect(summary.Nth(3)).ToHaveTextAsync("USD 25.00");
        await ScreenshotAsync(page, "portal-add-funds-confirm");
        Assert.Equal("70", await CreditBalance(wallet));
        Assert.Empty((await Api.Get("/v1/payments")).Ok()["items"]!.AsArray());
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm and pay USD 25.00" }).ClickAsync();

        await ReachedAsync(page, "**/checkout/sandbox/**");
        await Assertions.Expect(page.Locator("#saves-card")).ToContainTextAsync("This card will be saved for future payments.");
        await ScreenshotAsync(page, "portal-checkout");
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Pay USD 25") }).ClickAsync();

        await ReachedAsync(page, $"**/portal/wallets/{wallet}?done=*");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment of USD 25.00 received");
        await Assertions.Expect(cards.Locator(".card").Nth(0)).ToContainTextAsync("USD 32.00");
        await Assertions.Expect(cards.Locator(".card").Nth(0)).ToContainTextAsync("320 credits");
        await ScreenshotAsync(page, "portal-after-payment");
        Assert.Equal("320", await CreditBalance(wallet));
        // The box was ticked: the card typed at the checkout is the customer's saved card now.
        var saved = Assert.Single((await Api.Get($"/v1/customers/{customer}/payment-methods")).Ok()["items"]!.AsArray())!;
        Assert.Equal(("4242", 1), (saved.S("last4"), saved["priority"]!.GetValue<int>()));

        // The same screens at a phone's width: nothing wider than the screen, the history stacked.
        // A link opens once: the phone gets a link of its own.
        var phone = await OpenPortalAsync(await PortalLink(customer), width: 390);
        await phone.GotoAsync($"/portal/wallets/{wallet}");
        await Assertions.Expect(phone.GetByRole(AriaRole.Link, new() { Name = "Add funds" })).ToBeVisibleAsync();
        Assert.True(await phone.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the wallet page scrolls sideways at 390px");
        await ScreenshotAsync(phone, "portal-wallet-390");
        await LedgerHolds();
    }

    [Fact]
    public async Task ACustomerSignsInWithASingleUseLinkMailedToTheirAddressAndThePageTellsNoOneWhoHasAnAccount()
    {
        await using var smtp = new SmtpSink();
        (await Api.Put("/v1/settings/alert_email", new
        {
            value = new { enabled = false, smtp_host = "127.0.0.1", smtp_port = smtp.Port, security = "none", from = "billing@merchant.test", to = new[] { "ops@merchant.test" } },
        })).Ok();
        var customer = (await Api.Post("/v1/customers", new { external_id = "ada", name = "Ada Lovelace", email = "ada@example.test" })).Ok(201);
        (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd", initial_credits_to_load = "5" })).Ok();
        var signIn = $"/portal/sign-in/{customer.S("tenant_id")}";
        var page = await NewPageAsync();
        Assert.Equal(404, (await page.GotoAsync(signIn))!.Status);

        (await Api.Put("/v1/settings/portal_config", new { value = new { email_sign_in = true } })).Ok();
        async Task<string> Ask(string email)
        {
            await page.GotoAsync(signIn);
            await page.GetByLabel("Your e-mail address").FillAsync(email);
            await page.GetByRole(AriaRole.Button, new() { Name = "Send me a sign-in link" }).ClickAsync();
            return await page.GetByRole(AriaRole.Status).InnerTextAsync();
        }
        await page.GotoAsync(signIn);
        await ScreenshotAsync(page, "portal-sign-in");
        var known = await Ask("Ada@Example.test");
        await ScreenshotAsync(page, "portal-sign-in-sent");
        Assert.Equal(known, await Ask("nobody@example.test"));

        var mailer = App.Service<PortalSignInMailer>();
        Assert.Equal(1, await mailer.RunOnceAsync());
        var mail = MimeKit.MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Assert.Single(smtp.Messages))));
        Assert.Equal(("ada@example.test", "billing@merchant.test"), (mail.To.Mailboxes.Single().Address, mail.From.Mailboxes.Single().Address));
        var link = Regex.Match(mail.TextBody ?? "", @"http\S+/portal/enter\?token=\S+").Value;
        await page.GotoAsync(link);
        await ReachedAsync(page, "**/portal");
        await Assertions.Expect(page.GetByRole(AriaRole.Main)).ToContainTextAsync("Signed in as Ada Lovelace");
        // The link works once.
        var second = await NewPageAsync();
        Assert.Equal(401, (await second.GotoAsync(link))!.Status);

        // However often it is asked for, an address gets at most three links an hour.
        for (var i = 0; i < 4; i++) Assert.Equal(known, await Ask("ada@example.test"));
        await mailer.RunOnceAsync();
        Assert.Equal(PortalSignIn.MaxPerAddressPerHour, smtp.Messages.Count);
    }

    [Fact]
    public async Task ADeclinedSavedCardShowsTheDeclineAndLeavesTheBalanceAndAGoodOneAddsFunds()
    {
        var (customer, wallet) = await CustomerWithWallet(usage: false);
        await SaveCard(customer, "4000000000000002");
        var page = await OpenPortalAsync(await PortalLink(customer));
        await page.GotoAsync($"/portal/wallets/{wallet}/add-funds");

        await page.GetByLabel("Amount (USD)").FillAsync("10");
        await page.GetByLabel("Visa ending 0002").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add funds" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Confirm and pay") }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("the card was declined");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("balance is unchanged");
        await ScreenshotAsync(page, "portal-add-funds-declined");
        Assert.Equal("100", await CreditBalance(wallet));

        // Input the gateway never sees is refused on the page too.
        await page.GetByLabel("Amount (USD)").FillAsync("10.005");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add funds" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("more decimal places than USD allows");

        await SaveCard(customer, "4242424242424242");
        await page.GotoAsync($"/portal/wallets/{wallet}/add-funds");
        await page.GetByLabel("Amount (USD)").FillAsync("5");
        await page.GetByLabel("Visa ending 4242").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add funds" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Definition).Nth(2)).ToHaveTextAsync("Visa ending 4242");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Confirm and pay") }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment of USD 5.00 received");
        Assert.Equal("150", await CreditBalance(wallet));
        // The declined attempt left a failed entry, not a pending one.
        await Assertions.Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "Visa ending 0002" })).ToContainTextAsync("failed");

        // The same form submitted twice (a double click) charges once.
        await page.GotoAsync($"/portal/wallets/{wallet}/add-funds");
        var hidden = await page.Locator("main form input[type=hidden]").EvaluateAllAsync<Dictionary<string, string>>(
            "inputs => Object.fromEntries(inputs.map(i => [i.name, i.value]))");
        var card = await page.GetByLabel("Visa ending 4242").GetAttributeAsync("value");
        for (var i = 0; i < 2; i++)
        {
            var form = page.APIRequest.CreateFormData();
            foreach (var (name, value) in hidden) form.Set(name, value);
            form.Set("Amount", "5");
            form.Set("Method", card!);
            form.Set("Confirmed", "true");
            var response = await page.APIRequest.PostAsync($"/portal/wallets/{wallet}/add-funds", new() { Form = form, MaxRedirects = 0 });
            Assert.Equal(302, response.Status);
        }
        Assert.Equal("200", await CreditBalance(wallet));
        await LedgerHolds();
    }

    [Fact]
    public async Task ACustomerBuysACreditPackageWithTheirCardOrAgainstAnInvoicePaidLater()
    {
        (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd", bonus_credits = "20" })).Ok(201);
        (await Api.Post("/v1/credit-packages", new { name = "Pro", credits = "500", price = "45", currency = "usd" })).Ok(201);
        (await Api.Post("/v1/credit-packages", new { name = "Euro pack", credits = "100", price = "9", currency = "eur" })).Ok(201);
        var (customer, wallet) = await CustomerWithWallet(usage: false);
        await SaveCard(customer, "4242424242424242");
        var page = await OpenPortalAsync(await PortalLink(customer));
        await page.GotoAsync($"/portal/wallets/{wallet}");

        await page.GetByRole(AriaRole.Link, new() { Name = "Buy a credit package" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Euro pack")).ToHaveCountAsync(0);
        await page.GetByLabel("Starter").CheckAsync();
        await page.GetByLabel("Charge my saved card now").CheckAsync();
        await ScreenshotAsync(page, "portal-packages");
        await page.GetByRole(AriaRole.Button, new() { Name = "Buy package" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment of USD 9.99 received");
        Assert.Equal("220", await CreditBalance(wallet));

        await page.GetByRole(AriaRole.Link, new() { Name = "Buy a credit package" }).ClickAsync();
        await page.GetByLabel("Pro").CheckAsync();
        await page.GetByLabel("Send me an invoice").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Buy package" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("is waiting for its payment");
        Assert.Equal("220", await CreditBalance(wallet));

        // The invoice is paid later from the history, through the hosted checkout.
        await page.GetByRole(AriaRole.Row).Filter(new() { HasText = "Credit package Pro" }).GetByRole(AriaRole.Button, new() { Name = "Pay now" }).ClickAsync();
        await ReachedAsync(page, "**/checkout/sandbox/**");
        await page.GetByLabel("Card number").FillAsync("4242424242424242");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Pay ") }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Payment of USD 45.00 received");
        Assert.Equal("720", await CreditBalance(wallet));
        await LedgerHolds();
    }

    [Fact]
    public async Task ACustomerSetsAutomaticTopUpWithinTheMerchantsLimitsAndIsRefusedBeyondThem()
    {
        var (customer, wallet) = await CustomerWithWallet(usage: false);
        var page = await OpenPortalAsync(await PortalLink(customer));
        await page.GotoAsync($"/portal/wallets/{wallet}/auto-top-up");
        await Assertions.Expect(page.GetByRole(AriaRole.Main)).ToContainTextAsync("not offered");

        var config = (await Api.Put("/v1/settings/portal_config", new { value = new { allow_auto_topup = true, max_auto_topup_amount = "500", max_topups_per_day = 3 } })).Ok();
        Assert.Equal(("500", 3), (config["value"].S("max_auto_topup_amount"), config["value"]!["max_topups_per_day"]!.GetValue<int>()));
        Assert.True((await Api.Get("/v1/settings/portal_config")).Ok()["value"]!["allow_auto_topup"]!.GetValue<bool>());
        Assert.Equal("validation_failed", (await Api.Put("/v1/settings/portal_config", new { value = new { max_topups_per_day = 0 } })).Error(400));

        await page.ReloadAsync();
        await page.GetByLabel("Top up automatically").CheckAsync();
        await page.GetByLabel("Top up when the balance falls to").FillAsync("50");
        await page.GetByLabel("Credits to buy each time").FillAsync("1000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("at most 500 credits at a time");

        await page.GetByLabel("Credits to buy each time").FillAsync("200");
        await page.GetByLabel("Top-ups a day, at most").FillAsync("5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("At most 3 automatic top-ups a day");
        Assert.Null((await Api.Get($"/v1/wallets/{wallet}")).Ok()["auto_topup"]);

        await page.GetByLabel("Top-ups a day, at most").FillAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("automatic top-up is on");
        await ScreenshotAsync(page, "portal-auto-top-up");
        var rule = (await Api.Get($"/v1/wallets/{wallet}")).Ok()["auto_topup"]!;
        Assert.Equal((true, 50m, 200m, 2, true), (rule["enabled"]!.GetValue<bool>(), rule["threshold"]!.GetValue<decimal>(),
            rule["amount"]!.GetValue<decimal>(), rule["max_topups_per_day"]!.GetValue<int>(), rule["invoicing"]!.GetValue<bool>()));

        await page.GetByLabel("Top up automatically").UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("automatic top-up is off");
        Assert.False((await Api.Get($"/v1/wallets/{wallet}")).Ok()["auto_topup"]!["enabled"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AnotherCustomersWalletIsNotFoundAndSigningOutEndsTheSession()
    {
        var (_, first) = await CustomerWithWallet("Ada Lovelace", usage: false);
        var (second, own) = await CustomerWithWallet("Grace Hopper", usage: false);
        var page = await OpenPortalAsync(await PortalLink(second));

        var wallets = page.GetByRole(AriaRole.List, new() { Name = "Wallets" }).GetByRole(AriaRole.Listitem);
        await Assertions.Expect(wallets).ToHaveCountAsync(1);
        await Assertions.Expect(wallets).ToContainTextAsync("Grace's credits");
        foreach (var path in new[] { $"/portal/wallets/{first}", $"/portal/wallets/{first}/add-funds", $"/portal/wallets/{first}/auto-top-up" })
        {
            var response = await page.GotoAsync(path);
            Assert.Equal(404, response!.Status);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Wallet not found" })).ToBeVisibleAsync();
        }
        Assert.Equal(200, (await page.GotoAsync($"/portal/wallets/{own}"))!.Status);

        // A form posted from elsewhere, without the antiforgery token, is refused and changes nothing.
        var forged = page.APIRequest.CreateFormData();
        forged.Set("Enabled", "on");
        Assert.Equal(400, (await page.APIRequest.PostAsync($"/portal/wallets/{own}/auto-top-up", new() { Form = forged, MaxRedirects = 0 })).Status);
        Assert.Equal(400, (await page.APIRequest.PostAsync("/portal/sign-out", new() { Form = page.APIRequest.CreateFormData(), MaxRedirects = 0 })).Status);

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Signed out" })).ToBeVisibleAsync();
        Assert.Equal(401, (await page.GotoAsync($"/portal/wallets/{own}"))!.Status);
    }

    [Fact]
    public async Task AnExpiredLinkIsRefused()
    {
        var (customer, _) = await CustomerWithWallet(usage: false);
        var link = await PortalLink(customer, expiresInSeconds: 60);
        App.Clock.Advance(TimeSpan.FromSeconds(61));

        var page = await NewPageAsync();
        var response = await page.GotoAsync(link);
        Assert.Equal(401, response!.Status);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Link expired" })).ToBeVisibleAsync();
        Assert.Equal(401, (await page.GotoAsync("/portal"))!.Status);
    }
}
