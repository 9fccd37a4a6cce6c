using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Coffer.Storage;

namespace Coffer.Tests;

public sealed class CustomerApiTestsOnSqlite() : CustomerApiTests(Store.Sqlite);
public sealed class CustomerApiTestsOnPostgres() : CustomerApiTests(Store.Postgres);

/// <summary>
/// The customer API a merchant's own app calls from the browser: customer tokens scoped to one customer, CORS only
/// for the tenant's origins, and the customer's own money operations.
/// </summary>
public abstract class CustomerApiTests(Store store) : ApiTest(store)
{
    const string Origin = "https://app.merchant.test";

    async Task<string> Token(string customerId, HttpClient? api = null, int? seconds = null) =>
        (await (api ?? Api).Post("/v1/customer-sessions", new { customer_id = customerId, expires_in_seconds = seconds })).Ok(201).S("token");

    HttpClient As(string token, string? origin = null)
    {
        var client = App.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        if (origin is not null) client.DefaultRequestHeaders.Add("Origin", origin);
        return client;
    }

    static Task<(int Status, JsonNode? Body)> Keyed(HttpClient client, string path, object body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        return Send(client, request);
    }

    static async Task<(int Status, JsonNode? Body)> Send(HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    async Task<(string Customer, string Wallet)> CustomerWithWallet(string credits = "10", HttpClient? api = null)
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = credits }, api);
        return (wallet.S("customer_id"), wallet.S("id"));
    }

    async Task<string> SaveCard(string customer, string number = "4242424242424242") =>
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = number })).Ok(201).S("id");

    [Fact]
    public async Task ATokenSeesItsOwnCustomerOnlyNeverDebitsAndStopsWhenExpiredOrRevoked()
    {
        var (ada, adaWallet) = await CustomerWithWallet();
        var (_, bobWallet) = await CustomerWithWallet("7");
        var session = (await Api.Post("/v1/customer-sessions", new { customer_id = ada, expires_in_seconds = 120 })).Ok(201);
        Assert.Equal(ada, session.S("customer_id"));
        Assert.StartsWith("ctok_", session.S("token"));
        using var browser = As(session.S("token"));

        var wallets = (await browser.Get("/v1/customer/wallets")).Ok()["items"]!.AsArray();
        Assert.Equal([adaWallet], wallets.Select(w => w!.S("id")));
        Assert.Equal("10", wallets[0].S("credit_balance"));
        Assert.Equal("not_found", (await browser.Get($"/v1/customer/wallets/{bobWallet}")).Error(404));
        Assert.Equal("not_found", (await browser.Get($"/v1/customer/wallets/{bobWallet}/transactions")).Error(404));

        // No debit in the customer API, and the token is no secret key.
        Assert.NotEqual(200, (await browser.Post($"/v1/customer/wallets/{adaWallet}/debit", new { credits = "1", idempotency_key = "d-1" })).Status);
        Assert.Equal("unauthorized", (await browser.Post($"/v1/wallets/{adaWallet}/debit", new { credits = "1", idempotency_key = "d-2" })).Error(401));
        Assert.Equal("unauthorized", (await browser.Get("/v1/settings/payment_gateway")).Error(401));
        Assert.Equal("10", (await Wallet(adaWallet)).S("credit_balance"));

        // A token of this tenant names nobody in another.
        var other = await OtherTenant();
        var (_, elsewhere) = await CustomerWithWallet(api: other);
        Assert.Equal("not_found", (await browser.Get($"/v1/customer/wallets/{elsewhere}")).Error(404));

        App.Clock.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal("unauthorized", (await browser.Get("/v1/customer/wallets")).Error(401));

        var second = (await Api.Post("/v1/customer-sessions", new { customer_id = ada })).Ok(201);
        using var again = As(second.S("token"));
        (await again.Get("/v1/customer/wallets")).Ok();
        Assert.Equal(204, (await Api.Delete($"/v1/customer-sessions/{second.S("id")}")).Status);
        Assert.Equal("unauthorized", (await again.Get("/v1/customer/wallets")).Error(401));
        Assert.Equal("not_found", (await other.Delete($"/v1/customer-sessions/{session.S("id")}")).Error(404));

        Assert.Equal("validation_failed", (await Api.Post("/v1/customer-sessions", new { customer_id = ada, expires_in_seconds = 86_401 })).Error(400));
        Assert.Equal("not_found", (await Api.Post("/v1/customer-sessions", new { customer_id = "cust_nobody" })).Error(404));
        using var forged = As("ctok_" + new string('0', 64));
        Assert.Equal("unauthorized", (await forged.Get("/v1/customer/wallets")).Error(401));
    }

    [Fact]
    public async Task OnlyTheTenantsOriginsMayCallTheCustomerApiFromABrowserAndTheSecretApiNeverAnswersOne()
    {
        Assert.Equal("validation_failed", (await Api.Put("/v1/settings/client_config", new { value = new { allowed_origins = new[] { "https://app.merchant.test/path" } } })).Error(400));
        Assert.Equal("validation_failed", (await Api.Put("/v1/settings/client_config", new { value = new { allowed_origins = new[] { "javascript:alert(1)" } } })).Error(400));
        var saved = (await Api.Put("/v1/settings/client_config", new { value = new { allowed_origins = new[] { "HTTPS://App.Merchant.Test/" } } })).Ok();
        Assert.Equal([Origin], saved["value"]!["allowed_origins"]!.AsArray().Select(o => o!.GetValue<string>()));
        var other = await OtherTenant();
        (await other.Put("/v1/settings/client_config", new { value = new { allowed_origins = new[] { "https://other.test" } } })).Ok();

        using var anonymous = App.CreateClient();
        async Task<HttpResponseMessage> Preflight(string path, string origin)
        {
            using var request = new HttpRequestMessage(HttpMethod.Options, path);
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "authorization, content-type, idempotency-key");
            return await anonymous.SendAsync(request);
        }
        using (var ok = await Preflight("/v1/customer/wallets", Origin))
        {
            Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
            Assert.Equal(Origin, ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("Idempotency-Key", ok.Headers.GetValues("Access-Control-Allow-Headers").Single());
        }
        foreach (var (path, origin) in new[] { ("/v1/customer/wallets", "https://evil.test"), ("/v1/wallets", Origin), ("/v1/customer-sessions", Origin) })
        {
            using var refused = await Preflight(path, origin);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"), $"{path} from {origin}");
        }

        var (customer, wallet) = await CustomerWithWallet();
        var token = await Token(customer);
        using (var page = As(token, Origin))
        using (var response = await page.GetAsync("/v1/customer/wallets"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Origin, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }
        // An origin this tenant has not allowed (another tenant's) runs nothing.
        await SaveCard(customer);
        using var foreign = As(token, "https://other.test");
        Assert.Equal("origin_not_allowed", (await Keyed(foreign, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "5" }, "t-1")).Error(403));
        Assert.Equal("10", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal(0, (await Api.Post("/v1/invoices/search", new { customer_id = customer })).Ok()["pagination"]!["total"]!.GetValue<long>());
        // The secret-key API answers no page, even of an allowed origin.
        using var secretFromPage = App.Api();
        secretFromPage.DefaultRequestHeaders.Add("Origin", Origin);
        using var secret = await secretFromPage.GetAsync("/v1/wallets");
        Assert.False(secret.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task ATopUpChargesTheSavedCardOrOpensTheCheckoutAndARetryWithTheKeyChargesNothingMore()
    {
        var (customer, wallet) = await CustomerWithWallet("0");
        var card = await SaveCard(customer);
        using var browser = As(await Token(customer));

        var charged = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "12", payment_method_id = card }, "top-1")).Ok();
        Assert.Equal("credits_granted", charged.S("outcome"));
        Assert.Equal("12", charged["wallet"]!.S("credit_balance"));
        var again = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "12", payment_method_id = card }, "top-1")).Ok();
        Assert.Equal((charged["invoice"]!.S("id"), "credits_granted"), (again["invoice"]!.S("id"), again.S("outcome")));
        Assert.Equal("12", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("idempotency_key_reused", (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "13", payment_method_id = card }, "top-1")).Error(409));
        Assert.Equal("validation_failed", (await browser.Post($"/v1/customer/wallets/{wallet}/top-up", new { amount = "1" })).Error(400));

        var declined = await SaveCard(customer, "4000000000000002");
        Assert.Equal("payment_failed", (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "3", payment_method_id = declined }, "top-2")).Error(402));
        // Asked again with its key, the declined top-up answers the same and charges nothing.
        Assert.Equal("payment_failed", (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "3", payment_method_id = declined }, "top-2")).Error(402));
        Assert.Equal("12", (await Wallet(wallet)).S("credit_balance"));

        var action = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "5" }, "top-3")).Ok();
        Assert.Equal("payment_action", action.S("outcome"));
        var path = new Uri(action["payment_action"]!.S("url")).AbsolutePath;
        Assert.Equal(path, new Uri((await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "5" }, "top-3")).Ok()["payment_action"]!.S("url")).AbsolutePath);
        using var checkout = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        Assert.Equal(HttpStatusCode.Redirect, (await checkout.PostAsync(path, new FormUrlEncodedContent([new("card_number", "4242 4242 4242 4242")]))).StatusCode);
        Assert.Equal("17", (await browser.Get($"/v1/customer/wallets/{wallet}")).Ok()["wallet"]!.S("credit_balance"));
    }

    [Fact]
    public async Task ACardTypedAtTheCheckoutIsSavedOnceWhenAskedAndThenPaysFirstForPurchasesAndAutoTopUps()
    {
        // Before: a card typed at the checkout was never kept, so automatic top-up skipped with "no saved card".
        var package = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");
        var (customer, wallet) = await CustomerWithWallet("0");
        using var browser = As(await Token(customer));
        using var checkout = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        async Task PayAt(JsonNode answer, string card)
        {
            var path = new Uri(answer["payment_action"]!.S("url")).AbsolutePath;
            Assert.Equal(HttpStatusCode.Redirect, (await checkout.PostAsync(path, new FormUrlEncodedContent([new("card_number", card)]))).StatusCode);
        }
        async Task<List<(string Last4, int Priority)>> Cards() =>
            (await browser.Get("/v1/customer/payment-methods")).Ok()["items"]!.AsArray().Select(m => (m!.S("last4"), m!["priority"]!.GetValue<int>())).ToList();

        // Not asked: the card pays and is not kept.
        await PayAt((await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "2" }, "top-0")).Ok(), "5555555555554444");
        Assert.Empty(await Cards());

        var older = await SaveCard(customer, "5555555555554444");
        var asked = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "5", save_card_and_make_default = true }, "top-1")).Ok();
        Assert.Equal("payment_action", asked.S("outcome"));
        var page = await checkout.GetStringAsync(new Uri(asked["payment_action"]!.S("url")).AbsolutePath);
        Assert.Contains("This card will be saved for future payments.", page);
        await PayAt(asked, "4242 4242 4242 4242");
        // The page submitted again, and the same request asked again with its key, keep one card.
        await PayAt(asked, "4242424242424242");
        (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "5", save_card_and_make_default = true }, "top-1")).Ok();
        Assert.Equal([("4242", 1), ("4444", 2)], await Cards());
        Assert.Equal("7", (await Wallet(wallet)).S("credit_balance"));
        // The flag is part of the request its key stands for.
        Assert.Equal("idempotency_key_reused", (await Keyed(browser, $"/v1/customer/wallets/{wallet}/top-up", new { amount = "5" }, "top-1")).Error(409));

        // A charge-now purchase uses the new card first.
        var bought = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/purchase-package", new { package_id = package }, "pkg-1")).Ok();
        Assert.Equal("credits_granted", bought.S("outcome"));
        var saved = (await browser.Get("/v1/customer/payment-methods")).Ok()["items"]!.AsArray()[0]!.S("id");
        var payments = (await Api.Get($"/v1/payments?destination_id={bought["invoice"]!.S("id")}")).Ok()["items"]!.AsArray();
        Assert.Equal([saved], payments.Select(p => p!.S("payment_method_id")));
        Assert.NotEqual(older, saved);

        // So does automatic top-up, which found no card before.
        (await Api.Put($"/v1/wallets/{wallet}", new { auto_topup = new { enabled = true, threshold = "150", amount = "50" } })).Ok();
        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();
        var attempt = (await Api.Get($"/v1/wallets/{wallet}/auto-topup/attempts")).Ok()["items"]!.AsArray().Single()!;
        Assert.Equal("succeeded", attempt.S("status"));
        Assert.Equal("157", (await Wallet(wallet)).S("credit_balance"));

        // A package bought at the checkout can keep its card too.
        var (other, otherWallet) = await CustomerWithWallet("0");
        using var otherBrowser = As(await Token(other));
        var atCheckout = (await Keyed(otherBrowser, $"/v1/customer/wallets/{otherWallet}/purchase-package",
            new { package_id = package, save_card_and_make_default = true }, "pkg-2")).Ok();
        await PayAt(atCheckout, "4242424242424242");
        Assert.Equal(["4242"], (await otherBrowser.Get("/v1/customer/payment-methods")).Ok()["items"]!.AsArray().Select(m => m!.S("last4")));
    }

    [Fact]
    public async Task APackageIsBoughtWithTheSavedCardOrAtTheCheckoutAndInvoicesCanBePaid()
    {
        var package = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");
        var (customer, wallet) = await CustomerWithWallet("0");
        using var browser = As(await Token(customer));
        var offered = (await browser.Get("/v1/customer/packages?currency=usd")).Ok()["items"]!.AsArray();
        Assert.Equal([package], offered.Select(p => p!.S("id")));

        var atCheckout = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/purchase-package", new { package_id = package }, "pkg-1")).Ok();
        Assert.Equal("payment_action", atCheckout.S("outcome"));
        Assert.Equal("0", atCheckout["wallet"]!.S("credit_balance"));
        var invoices = (await browser.Get("/v1/customer/invoices")).Ok()["items"]!.AsArray();
        Assert.Equal([atCheckout["invoice"]!.S("id")], invoices.Select(i => i!.S("id")));
        var pay = (await browser.Post($"/v1/customer/invoices/{invoices[0].S("id")}/pay")).Ok();
        Assert.Equal(new Uri(atCheckout["payment_action"]!.S("url")).AbsolutePath, new Uri(pay.S("url")).AbsolutePath);

        await SaveCard(customer);
        var bought = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/purchase-package", new { package_id = package }, "pkg-2")).Ok();
        Assert.Equal(("credits_granted", "100"), (bought.S("outcome"), bought["wallet"]!.S("credit_balance")));
        var invoiced = (await Keyed(browser, $"/v1/customer/wallets/{wallet}/purchase-package", new { package_id = package, collection_method = "send_invoice" }, "pkg-3")).Ok();
        Assert.Equal("invoice_raised", invoiced.S("outcome"));
        Assert.Equal("100", (await Wallet(wallet)).S("credit_balance"));

        // Another customer's invoice is no one's here.
        var (bob, _) = await CustomerWithWallet();
        using var bobBrowser = As(await Token(bob));
        Assert.Equal("not_found", (await bobBrowser.Post($"/v1/customer/invoices/{invoiced["invoice"]!.S("id")}/pay")).Error(404));
    }

    [Fact]
    public async Task ACustomerListsAndDetachesOnlyTheirOwnCardsAndPagesTheirHistoryByCursor()
    {
        var (customer, wallet) = await CustomerWithWallet("1");
        for (var i = 0; i < 4; i++) await TopUp(wallet, "1");
        var card = await SaveCard(customer);
        var (bob, _) = await CustomerWithWallet();
        var bobCard = await SaveCard(bob);
        using var browser = As(await Token(customer));

        Assert.Equal([card], (await browser.Get("/v1/customer/payment-methods")).Ok()["items"]!.AsArray().Select(m => m!.S("id")));
        Assert.Equal("not_found", (await browser.Delete($"/v1/customer/payment-methods/{bobCard}")).Error(404));
        Assert.Equal(204, (await browser.Delete($"/v1/customer/payment-methods/{card}")).Status);
        Assert.Empty((await browser.Get("/v1/customer/payment-methods")).Ok()["items"]!.AsArray());

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = (await browser.Get($"/v1/customer/wallets/{wallet}/transactions?limit=2{(cursor is null ? "" : "&cursor=" + cursor)}")).Ok();
            seen.AddRange(page["items"]!.AsArray().Select(t => t!.S("id")));
            cursor = page["next_cursor"]?.GetValue<string>();
            pages++;
        } while (cursor is not null && pages < 10);
        Assert.Equal(3, pages);
        Assert.Equal(5, seen.Distinct().Count());
        Assert.Equal((await Transactions(wallet)).Select(t => t!.S("id")), seen);
        Assert.Equal("validation_failed", (await browser.Get($"/v1/customer/wallets/{wallet}/transactions?cursor=nonsense!")).Error(400));

        var detail = (await browser.Get($"/v1/customer/wallets/{wallet}")).Ok();
        Assert.Equal(5, detail["lots"]!.AsArray().Count);
        Assert.All(detail["lots"]!.AsArray(), l => Assert.Equal("free", l!.S("kind")));
    }
    static Task<(int Status, JsonNode? Body)> PutKeyed(HttpClient client, string path, object body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        return Send(client, request);
    }

    [Fact]
    public async Task AutoTopUpIsSetWithinTheMerchantsLimitsAndThePreviewSaysWhenSavingTopsUpAtOnce()
    {
        var (customer, wallet) = await CustomerWithWallet("10");
        var card = await SaveCard(customer);
        using var browser = As(await Token(customer));
        var path = $"/v1/customer/wallets/{wallet}/auto-topup";
        object Rule(string threshold, string amount, int? perDay = null) =>
            new { enabled = true, threshold, amount, max_topups_per_day = perDay, payment_method_id = card };

        Assert.False((await browser.Get(path)).Ok()["offered"]!.GetValue<bool>());
        Assert.Equal("not_allowed", (await PutKeyed(browser, path, Rule("5", "20"), "a-1")).Error(403));
        (await Api.Put("/v1/settings/portal_config", new { value = new { allow_auto_topup = true, max_auto_topup_amount = "50", max_topups_per_day = 3 } })).Ok();
        Assert.Equal("limit_exceeded", (await PutKeyed(browser, path, Rule("5", "60"), "a-2")).Error(422));
        Assert.Equal("limit_exceeded", (await PutKeyed(browser, path, Rule("5", "20", perDay: 5), "a-3")).Error(422));
        Assert.Equal("validation_failed", (await browser.Put(path, Rule("5", "20"))).Error(400));
        Assert.Empty(await Attempts(wallet));

        Assert.False((await browser.Post($"{path}/preview", Rule("5", "20"))).Ok()["would_top_up_now"]!.GetValue<bool>());
        Assert.True((await browser.Post($"{path}/preview", Rule("10", "20"))).Ok()["would_top_up_now"]!.GetValue<bool>());
        Assert.Empty(await Attempts(wallet));

        var quiet = (await PutKeyed(browser, path, Rule("5", "20"), "a-4")).Ok();
        Assert.False(quiet["topping_up_now"]!.GetValue<bool>());
        Assert.Equal(("5", "20", 3, card), (quiet["auto_topup"]!.S("threshold"), quiet["auto_topup"]!.S("amount"),
            quiet["auto_topup"]!["max_topups_per_day"]!.GetValue<int>(), quiet["auto_topup"]!.S("payment_method_id")));
        Assert.Empty(await Attempts(wallet));

        // Raising the threshold above the balance tops up now, as a debit taking the balance there would.
        var now = (await PutKeyed(browser, path, Rule("15", "20"), "a-5")).Ok();
        Assert.True(now["topping_up_now"]!.GetValue<bool>());
        Assert.Single(await Attempts(wallet));

        var off = (await PutKeyed(browser, path, new { enabled = false }, "a-6")).Ok();
        Assert.False(off["auto_topup"]!["enabled"]!.GetValue<bool>());
        Assert.Equal("10", (await Wallet(wallet)).S("credit_balance"));
    }

    async Task<JsonArray> Attempts(string wallet) => (await Api.Get($"/v1/wallets/{wallet}/auto-topup/attempts")).Ok()["items"]!.AsArray();
}
