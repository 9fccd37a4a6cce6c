using IPAddress = System.Net.IPAddress;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace Coffer.Tests;

/// <summary>
/// The React example (examples/react-wallet, built by ./test.sh) in Chromium, on an origin of its own as a merchant
/// would serve it: the merchant backend below serves the built page and mints customer tokens with the secret key;
/// the page calls Coffer's customer API across origins through @coffer/react.
/// </summary>
public sealed class ReactWalletExampleTests : BrowserTest
{
    static string Dist => Path.Combine(CofferProcess.Repository(), "examples", "react-wallet", "dist");

    MerchantBackend _shop = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        // Never skipped: a missing build would let the example break unnoticed.
        if (!File.Exists(Path.Combine(Dist, "index.html")))
            throw new InvalidOperationException($"{Dist} is missing: build the example first, from the repository root: " +
                "(cd clients && npm ci && npm run build) && (cd examples/react-wallet && npm ci && npm run build), as ./test.sh does");
        _shop = await MerchantBackend.StartAsync(Dist, BaseUrl, Api);
        (await Api.Put("/v1/settings/client_config", new { value = new { allowed_origins = new[] { _shop.Url } } })).Ok();
        (await Api.Put("/v1/settings/portal_config", new { value = new { allow_auto_topup = true, max_auto_topup_amount = "500", max_topups_per_day = 3 } })).Ok();
    }

    public override async Task DisposeAsync()
    {
        try
        {
            var report = await App.VerifyAsync();
            Assert.True(report.Ok, "ledger invariants violated:\n" + string.Join("\n", report.Problems));
        }
        finally
        {
            if (_shop is not null) await _shop.DisposeAsync();
            await base.DisposeAsync();
        }
    }

    /// <summary>A customer known to the shop by <paramref name="user"/>, with a USD wallet loaded with free credits.</summary>
    async Task<string> CustomerWithWallet(string user, string name, string credits)
    {
        var customer = (await Api.Post("/v1/customers", new { external_id = user, name })).Ok(201).S("id");
        return (await Api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", name = $"{name.Split(' ')[0]}'s credits", initial_credits_to_load = credits })).Ok().S("id");
    }

    /// <summary>The shop's page for a signed-in <paramref name="user"/>; the browser may reach loopback only.</summary>
    async Task<(IPage Page, List<string> Problems)> OpenShopAsync(string user)
    {
        var page = await NewPageAsync();
        var problems = new List<string>();
        await page.Context.RouteAsync("**/*", route =>
        {
            if (new Uri(route.Request.Url).Host is "127.0.0.1" or "[::1]") return route.ContinueAsync();
            problems.Add("outside request: " + route.Request.Url);
            return route.AbortAsync();
        });
        page.PageError += (_, error) => problems.Add("page error: " + error);
        // The shop's own sign-in, reduced to its cookie: the token endpoint reads who is signed in from it.
        await page.Context.AddCookiesAsync([new Cookie { Name = MerchantBackend.UserCookie, Value = user, Url = _shop.Url }]);
        await page.GotoAsync(_shop.Url + "/");
        return (page, problems);
    }

    static ILocator Balance(IPage page) => page.GetByRole(AriaRole.Region, new() { Name = "Balance" });
    static ILocator HistoryRows(IPage page) => page.GetByRole(AriaRole.Table).Locator("tbody").GetByRole(AriaRole.Row);

    [Fact]
    public async Task ACustomerBuysCreditsWithTheSavedCardSetsAutoTopUpAndWithoutACardIsSentToTheHostedCheckout()
    {
        (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201);
        var wallet = await CustomerWithWallet("shop-ada", "Ada Lovelace", "50");
        for (var i = 0; i < 5; i++)
            (await Api.Post($"/v1/wallets/{wallet}/debit", new { credits = "2", transaction_reason = "USAGE_CHARGE", description = "API usage", idempotency_key = $"usage-{i}" })).Ok();
        var adaId = (await Api.Get($"/v1/wallets/{wallet}")).Ok().S("customer_id");
        var card = (await Api.Post($"/v1/customers/{adaId}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201).S("id");

        var (page, problems) = await OpenShopAsync("shop-ada");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Ada's credits" })).ToBeVisibleAsync();
        await Assertions.Expect(Balance(page)).ToHaveTextAsync("40 credits");
        await Assertions.Expect(page.GetByRole(AriaRole.Region, new() { Name = "Saved cards" })).ToContainTextAsync("Visa ending 4242");
        // The history comes a page (5) at a time: the sixth entry, the initial credits, after "Load more".
        await Assertions.Expect(HistoryRows(page)).ToHaveCountAsync(5);
        await Assertions.Expect(HistoryRows(page).First).ToContainTextAsync("API usage");
        await Assertions.Expect(HistoryRows(page).First).ToContainTextAsync("\u22122");
        await page.GetByRole(AriaRole.Button, new() { Name = "Load more" }).ClickAsync();
        await Assertions.Expect(HistoryRows(page)).ToHaveCountAsync(6);
        await Assertions.Expect(HistoryRows(page).Last).ToContainTextAsync("+50");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Load more" })).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "react-wallet-balance");

        // The saved card pays at once: the balance and the history on screen follow without a reload.
        var packages = page.GetByRole(AriaRole.Region, new() { Name = "Buy credits" });
        await Assertions.Expect(packages).ToContainTextAsync("Starter: 100 credits for USD 9.99");
        await page.GetByRole(AriaRole.Button, new() { Name = "Buy Starter" }).ClickAsync();
        await Assertions.Expect(packages.GetByRole(AriaRole.Status)).ToContainTextAsync("Your balance is now 140 credits");
        await Assertions.Expect(Balance(page)).ToHaveTextAsync("140 credits");
        await Assertions.Expect(HistoryRows(page)).ToHaveCountAsync(7);
        await Assertions.Expect(HistoryRows(page).First).ToContainTextAsync("+100");
        await Assertions.Expect(HistoryRows(page).First).ToContainTextAsync("completed");
        await ScreenshotAsync(page, "react-wallet-bought");
        Assert.Equal("140", (await Api.Get($"/v1/wallets/{wallet}")).Ok().S("credit_balance"));

        // A top-up is an amount of money, charged to the card chosen (the saved one) at USD 1 a credit.
        var topUp = page.GetByRole(AriaRole.Region, new() { Name = "Top up", Exact = true });
        await topUp.GetByLabel("Amount (USD)").FillAsync("10");
        await Assertions.Expect(topUp.GetByLabel("Pay with")).ToHaveValueAsync(card);
        await topUp.GetByRole(AriaRole.Button, new() { Name = "Top up" }).ClickAsync();
        await Assertions.Expect(topUp.GetByRole(AriaRole.Status)).ToContainTextAsync("Your balance is now 150 credits");
        await Assertions.Expect(Balance(page)).ToHaveTextAsync("150 credits");
        await Assertions.Expect(HistoryRows(page).First).ToContainTextAsync("+10");

        // A threshold above the balance would buy credits the moment it is saved: the page says so before saving.
        var autoTopUp = page.GetByRole(AriaRole.Region, new() { Name = "Automatic top-up" });
        await autoTopUp.GetByLabel("Top up automatically when my balance runs low").CheckAsync();
        await autoTopUp.GetByLabel("Top up when the balance falls to (credits)").FillAsync("200");
        await autoTopUp.GetByLabel("Credits to buy each time").FillAsync("50");
        await Assertions.Expect(autoTopUp.GetByLabel("Pay with")).ToHaveValueAsync(card);
        var warning = autoTopUp.GetByRole(AriaRole.Alert);
        await Assertions.Expect(warning).ToContainTextAsync("already at or below 200 credits: saving buys 50 credits now");
        await Assertions.Expect(autoTopUp.GetByRole(AriaRole.Button, new() { Name = "Save and top up now" })).ToBeVisibleAsync();
        await ScreenshotAsync(page, "react-wallet-auto-topup");
        await autoTopUp.GetByLabel("Top up when the balance falls to (credits)").FillAsync("20");
        await Assertions.Expect(warning).ToHaveCountAsync(0);
        await autoTopUp.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
        await Assertions.Expect(autoTopUp.GetByRole(AriaRole.Status)).ToHaveTextAsync("Saved: automatic top-up is on.");
        await Assertions.Expect(autoTopUp).ToContainTextAsync("Automatic top-up is on.");
        var rule = (await Api.Get($"/v1/wallets/{wallet}")).Ok()["auto_topup"]!;
        Assert.Equal((true, 20m, 50m, card), (rule["enabled"]!.GetValue<bool>(), rule["threshold"]!.GetValue<decimal>(), rule["amount"]!.GetValue<decimal>(),
            rule.S("payment_method_id")));
        Assert.Empty((await Api.Get($"/v1/wallets/{wallet}/auto-topup/attempts")).Ok()["items"]!.AsArray());
        Assert.Empty(problems);

        // Without a saved card, Buy sends the customer to Coffer's hosted checkout, which brings them back paid.
        var bobWallet = await CustomerWithWallet("shop-bob", "Bob Babbage", "0");
        var (bob, bobProblems) = await OpenShopAsync("shop-bob");
        await Assertions.Expect(Balance(bob)).ToHaveTextAsync("0 credits");
        await Assertions.Expect(bob.GetByRole(AriaRole.Region, new() { Name = "Saved cards" })).ToContainTextAsync("No saved cards");
        await bob.GetByRole(AriaRole.Button, new() { Name = "Buy Starter" }).ClickAsync();
        await ReachedAsync(bob, $"{BaseUrl}/checkout/sandbox/**");
        await ScreenshotAsync(bob, "react-wallet-checkout");
        await bob.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await bob.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Pay USD 9.99") }).ClickAsync();
        await ReachedAsync(bob, _shop.Url + "/");
        await Assertions.Expect(Balance(bob)).ToHaveTextAsync("100 credits");
        await Assertions.Expect(HistoryRows(bob).First).ToContainTextAsync("+100");
        // The checkout kept the card it was paid with: the next package is charged to it, without the checkout.
        await Assertions.Expect(bob.GetByRole(AriaRole.Region, new() { Name = "Saved cards" })).ToContainTextAsync("Visa ending 4242");
        await ScreenshotAsync(bob, "react-wallet-after-checkout");
        Assert.Equal("100", (await Api.Get($"/v1/wallets/{bobWallet}")).Ok().S("credit_balance"));
        await bob.GetByRole(AriaRole.Button, new() { Name = "Buy Starter" }).ClickAsync();
        await Assertions.Expect(bob.GetByRole(AriaRole.Region, new() { Name = "Buy credits" }).GetByRole(AriaRole.Status))
            .ToContainTextAsync("Your balance is now 200 credits");
        Assert.Equal("200", (await Api.Get($"/v1/wallets/{bobWallet}")).Ok().S("credit_balance"));
        Assert.Empty(bobProblems);
    }
}

/// <summary>
/// The merchant's backend as the example expects it, on a loopback port of its own (another origin than Coffer's):
/// the built page and its config.json, and a token endpoint that mints a customer token with the secret key for
/// whoever its sign-in cookie names.
/// </summary>
sealed class MerchantBackend : IAsyncDisposable
{
    public const string UserCookie = "shop_user";

    readonly WebApplication _app;

    public string Url { get; }

    MerchantBackend(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<MerchantBackend> StartAsync(string dist, string cofferUrl, HttpClient coffer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/config.json", () => Results.Json(new { coffer_url = cofferUrl, token_url = "/api/coffer-token" }));
        app.MapGet("/api/coffer-token", async (HttpContext http) =>
        {
            if (http.Request.Cookies[UserCookie] is not { Length: > 0 } user) return Results.Unauthorized();
            var session = (await coffer.Post("/v1/customer-sessions", new { external_customer_id = user, expires_in_seconds = 900 })).Ok(201);
            return Results.Json(new { token = session.S("token"), expires_at = session.S("expires_at") });
        });
        app.UseFileServer(new FileServerOptions { FileProvider = new PhysicalFileProvider(dist) });
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new MerchantBackend(app, url);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
