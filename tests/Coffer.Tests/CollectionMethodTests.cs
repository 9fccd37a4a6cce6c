using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Coffer.Tests;

public sealed class CollectionMethodTestsOnSqlite() : CollectionMethodTests(Store.Sqlite);
public sealed class CollectionMethodTestsOnPostgres() : CollectionMethodTests(Store.Postgres);

/// <summary>
/// A customer's own <c>collection_method</c>: what a purchase that names none does (package purchases through the
/// secret API, the customer API and the portal, and automatic top-up), always after the call's own choice.
/// </summary>
public abstract class CollectionMethodTests(Store store) : ApiTest(store)
{
    async Task<JsonNode> Customer(string? collectionMethod) =>
        (await Api.Post("/v1/customers", new { external_id = "ext-" + Guid.NewGuid().ToString("N")[..10], name = "Ada", collection_method = collectionMethod })).Ok(201);

    async Task<string> WalletOf(string customer, object? autoTopUp = null, string initial = "0") =>
        (await Api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", initial_credits_to_load = initial, auto_topup = autoTopUp })).Ok().S("id");

    async Task<string> SaveCard(string customer) =>
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201).S("id");

    async Task<string> Package() =>
        (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");

    /// <summary>A customer with <paramref name="collectionMethod"/>, a saved card and an empty USD wallet.</summary>
    async Task<(string Customer, string Wallet)> CardHolder(string? collectionMethod)
    {
        var customer = (await Customer(collectionMethod)).S("id");
        await SaveCard(customer);
        return (customer, await WalletOf(customer));
    }

    Task<(int Status, JsonNode? Body)> Buy(string wallet, string package, string? collectionMethod = null, string? key = null) =>
        Api.Post($"/v1/wallets/{wallet}/purchase-package", new { package_id = package, collection_method = collectionMethod, idempotency_key = key });

    [Fact]
    public async Task ACustomersCollectionMethodIsSetShownKeptAndUnset()
    {
        var plain = await Customer(null);
        Assert.True(plain.AsObject().ContainsKey("collection_method"));
        Assert.Null(plain["collection_method"]);

        var invoiced = await Customer("send_invoice");
        var id = invoiced.S("id");
        Assert.Equal("send_invoice", invoiced.S("collection_method"));
        Assert.Equal("send_invoice", (await Api.Get($"/v1/customers/{id}")).Ok().S("collection_method"));

        Assert.Equal("charge_automatically", (await Api.Put($"/v1/customers?id={id}", new { collection_method = "charge_automatically" })).Ok().S("collection_method"));
        // An update that does not name it keeps it.
        Assert.Equal("charge_automatically", (await Api.Put($"/v1/customers?id={id}", new { name = "Ada L." })).Ok().S("collection_method"));
        Assert.Equal("charge_automatically", (await Api.Get($"/v1/customers/external/{invoiced.S("external_id")}")).Ok().S("collection_method"));
        // "" unsets it, back to the default.
        var unset = (await Api.Put($"/v1/customers?id={id}", new { collection_method = "" })).Ok();
        Assert.Null(unset["collection_method"]);
    }

    [Fact]
    public async Task AnUnknownCollectionMethodIsRefusedAndChangesNothing()
    {
        var created = await Api.Post("/v1/customers", new { external_id = "barter-1", name = "Ada", collection_method = "barter" });
        Assert.Equal("validation_failed", created.Error(400));
        Assert.Contains("collection_method", created.Body!["error"]!.S("message"));
        Assert.Equal("not_found", (await Api.Get("/v1/customers/external/barter-1")).Error(404));
        Assert.Equal("validation_failed", (await Api.Post("/v1/customers", new { external_id = "empty-1", collection_method = "" })).Error(400));

        var customer = await Customer("send_invoice");
        var updated = await Api.Put($"/v1/customers?id={customer.S("id")}", new { name = "Someone else", collection_method = "CHARGE_AUTOMATICALLY" });
        Assert.Equal("validation_failed", updated.Error(400));
        var now = (await Api.Get($"/v1/customers/{customer.S("id")}")).Ok();
        Assert.Equal(("send_invoice", "Ada"), (now.S("collection_method"), now.S("name")));
    }

    [Fact]
    public async Task ASendInvoiceCustomerIsInvoicedForAPackageEvenWithASavedCardUnlessTheCallSaysCharge()
    {
        var package = await Package();
        var (customer, wallet) = await CardHolder("send_invoice");

        var invoiced = (await Buy(wallet, package)).Ok();
        Assert.Equal(("PENDING", "0"), (invoiced["invoice"]!.S("payment_status"), invoiced["wallet"]!.S("credit_balance")));

        var charged = (await Buy(wallet, package, "charge_automatically")).Ok();
        Assert.Equal(("SUCCEEDED", "100"), (charged["invoice"]!.S("payment_status"), charged["wallet"]!.S("credit_balance")));
    }

    [Fact]
    public async Task AChargeAutomaticallyCustomerIsChargedAndWithoutACardRefusedAsAnExplicitChoiceIs()
    {
        var package = await Package();
        var customer = (await Customer("charge_automatically")).S("id");
        var wallet = await WalletOf(customer);

        var refused = await Buy(wallet, package);
        var explicitly = await Buy(wallet, package, "charge_automatically");
        Assert.Equal("validation_failed", refused.Error(400));
        Assert.Equal(explicitly.Body!["error"]!.S("message"), refused.Body!["error"]!.S("message"));
        Assert.Contains("charge_automatically needs a saved card", refused.Body!["error"]!.S("message"));
        Assert.Empty((await Api.Post("/v1/invoices/search", new { customer_id = customer })).Ok()["items"]!.AsArray());

        // The call's own choice wins over the customer's.
        Assert.Equal("PENDING", (await Buy(wallet, package, "send_invoice")).Ok()["invoice"]!.S("payment_status"));

        await SaveCard(customer);
        Assert.Equal("SUCCEEDED", (await Buy(wallet, package)).Ok()["invoice"]!.S("payment_status"));
        Assert.Equal("100", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task APurchaseAskedAgainReplaysAfterTheCustomersMethodChanged()
    {
        var package = await Package();
        var (customer, wallet) = await CardHolder("send_invoice");
        var first = (await Buy(wallet, package, key: "pkg-once")).Ok();

        (await Api.Put($"/v1/customers?id={customer}", new { collection_method = "charge_automatically" })).Ok();
        var again = (await Buy(wallet, package, key: "pkg-once")).Ok();

        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        Assert.Equal("0", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task TheCustomerApiInvoicesASendInvoiceCustomerInsteadOfChargingTheirCard()
    {
        var package = await Package();
        var (customer, wallet) = await CardHolder("send_invoice");
        var token = (await Api.Post("/v1/customer-sessions", new { customer_id = customer })).Ok(201).S("token");
        using var browser = App.CreateClient();
        browser.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        async Task<JsonNode> Purchase(object body, string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/customer/wallets/{wallet}/purchase-package") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        Assert.Equal("invoice_raised", (await Purchase(new { package_id = package }, "c-1")).S("outcome"));
        Assert.Equal("credits_granted", (await Purchase(new { package_id = package, collection_method = "charge_automatically" }, "c-2")).S("outcome"));
    }

    [Fact]
    public async Task ThePortalOffersAnInvoiceFirstToASendInvoiceCustomerWithACard()
    {
        await Package();
        (await Api.Put("/v1/settings/portal_config", new { value = new { allow_auto_topup = true } })).Ok();
        var (customer, wallet) = await CardHolder("send_invoice");
        var link = new Uri((await Api.Post("/v1/portal/sessions", new { customer_id = customer })).Ok(201).S("url")).PathAndQuery;
        using var portal = App.CreateDefaultClient(new Uri("http://localhost"), new CookieContainerHandler(new CookieContainer()));
        Assert.Equal(HttpStatusCode.Redirect, (await portal.GetAsync(link)).StatusCode);

        var packages = await portal.GetStringAsync($"/portal/wallets/{wallet}/packages");
        Assert.Contains("""value="send_invoice" checked""", packages);
        Assert.DoesNotContain("""value="charge_automatically" checked""", packages);
        var autoTopUp = await portal.GetStringAsync($"/portal/wallets/{wallet}/auto-top-up");
        Assert.Contains("""value="invoice" checked""", autoTopUp);
    }

    [Fact]
    public async Task AutomaticTopUpInvoicesASendInvoiceCustomerUnlessTheRuleNamesItsCard()
    {
        var worker = App.Service<AutoTopUp.AutoTopUpWorker>();
        var customer = (await Customer("send_invoice")).S("id");
        var card = await SaveCard(customer);
        var wallet = await WalletOf(customer, new { enabled = true, threshold = 50, amount = 100 }, initial: "60");

        (await Debit(wallet, "20")).Ok();
        await worker.RunOnceAsync();
        var invoiced = (await Api.Get($"/v1/wallets/{wallet}/auto-topup/attempts")).Ok()["items"]!.AsArray()[0]!;
        Assert.Equal("invoiced", invoiced.S("status"));
        Assert.Equal("40", (await Wallet(wallet)).S("credit_balance"));

        // A rule that names its card asks for it to be charged.
        var other = await WalletOf((await Customer("send_invoice")).S("id"), initial: "60");
        var ownCard = await SaveCard((await Wallet(other)).S("customer_id"));
        (await Api.Put($"/v1/wallets/{other}", new { auto_topup = new { enabled = true, threshold = 50, amount = 100, payment_method_id = ownCard } })).Ok();
        (await Debit(other, "20")).Ok();
        await worker.RunOnceAsync();
        Assert.Equal("succeeded", (await Api.Get($"/v1/wallets/{other}/auto-topup/attempts")).Ok()["items"]!.AsArray()[0]!.S("status"));
        Assert.Equal("140", (await Wallet(other)).S("credit_balance"));
        Assert.NotEqual(card, ownCard);
    }

    [Fact]
    public async Task ACustomerWithoutAMethodKeepsTodaysDefaults()
    {
        var package = await Package();
        var created = await Customer(null);
        Assert.True(created.AsObject().ContainsKey("collection_method"));
        var customer = created.S("id");
        var wallet = await WalletOf(customer);
        Assert.Equal("PENDING", (await Buy(wallet, package)).Ok()["invoice"]!.S("payment_status"));
        await SaveCard(customer);
        Assert.Equal("SUCCEEDED", (await Buy(wallet, package)).Ok()["invoice"]!.S("payment_status"));
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesTheField()
    {
        using var http = App.CreateClient();
        var schemas = (await http.Get("/openapi/v1.json")).Ok()["components"]!["schemas"]!;
        Assert.NotNull(schemas["CustomerRequest"]!["properties"]!["collection_method"]);
        Assert.NotNull(schemas["CustomerDto"]!["properties"]!["collection_method"]);
    }
}
