using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Coffer.Dashboard;
using Coffer.Storage;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Coffer.Tests;

public sealed class WhoAmIAndListTestsOnSqlite() : WhoAmIAndListTests(Store.Sqlite);
public sealed class WhoAmIAndListTestsOnPostgres() : WhoAmIAndListTests(Store.Postgres);

/// <summary>
/// Who am I (<c>/v1/users/me</c>, <c>/v1/tenants/{id}</c>) for an API key and for a signed-in operator, and nothing
/// else under /v1 for the operator's cookie; the paged envelope of the lists that were bare arrays; the invoice events
/// of purchase invoices.
/// </summary>
public abstract partial class WhoAmIAndListTests(Store store) : ApiTest(store)
{
    const string Email = "ops@whoami.test";
    const string Password = "a long and proper password";

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    async Task<string> DefaultTenantId()
    {
        await using var c = await App.Service<Database>().OpenAsync();
        return (await c.QuerySingleAsync(null, "SELECT id FROM tenants WHERE is_default = 1", r => r.Str("id")))!;
    }

    /// <summary>A browser signed in to the dashboard as the default tenant's operator: it carries the session cookie and no API key.</summary>
    async Task<HttpClient> SignedInOperator()
    {
        await App.Service<OperatorStore>().CreateAsync(await DefaultTenantId(), Email, Password);
        var browser = App.CreateDefaultClient(new Uri("http://localhost"), new CookieContainerHandler(new CookieContainer()));
        var html = await (await browser.GetAsync("/dashboard/sign-in")).Content.ReadAsStringAsync();
        var signedIn = await browser.PostAsync("/dashboard/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(TokenField().Match(html).Groups[1].Value),
            ["Email"] = Email, ["Password"] = Password, ["ReturnUrl"] = "",
        }));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        return browser;
    }

    [Fact]
    public async Task AnApiKeyIsAServiceAccountOfItsTenantAndSeesOnlyItsOwnTenant()
    {
        var tenantId = await DefaultTenantId();
        var me = (await Api.Get("/v1/users/me")).Ok();
        Assert.Equal(("service_account", ""), (me.S("type"), me.S("email")));
        Assert.StartsWith("key_", me.S("id"));
        var tenant = me["tenant"]!;
        Assert.Equal((tenantId, "default", "active"), (tenant.S("id"), tenant.S("name"), tenant.S("status")));
        Assert.NotNull(tenant["billing_details"]);
        Assert.NotNull(tenant["created_at"]);

        // A second key of the same tenant is another service account of that tenant.
        var second = await App.Service<Tenants.TenantStore>().CreateKeyAsync(tenantId, "second");
        using var secondApi = App.Api(second.Secret);
        var secondMe = (await secondApi.Get("/v1/users/me")).Ok();
        Assert.Equal((second.Id, tenantId), (secondMe.S("id"), secondMe["tenant"]!.S("id")));

        Assert.Equal(tenantId, (await Api.Get($"/v1/tenants/{tenantId}")).Ok().S("id"));
        using var other = await OtherTenant("acme");
        var otherId = (await other.Get("/v1/users/me")).Ok()["tenant"]!.S("id");
        Assert.NotEqual(tenantId, otherId);
        Assert.Equal("acme", (await other.Get($"/v1/tenants/{otherId}")).Ok().S("name"));
        Assert.Equal("not_found", (await Api.Get($"/v1/tenants/{otherId}")).Error(404));
        Assert.Equal("not_found", (await other.Get($"/v1/tenants/{tenantId}")).Error(404));
        Assert.Equal("not_found", (await Api.Get("/v1/tenants/tenant_nobody")).Error(404));

        using var anonymous = App.CreateClient();
        Assert.Equal("unauthorized", (await anonymous.Get("/v1/users/me")).Error(401));
        Assert.Equal("unauthorized", (await anonymous.Get($"/v1/tenants/{tenantId}")).Error(401));
    }

    [Fact]
    public async Task AnOperatorsSessionAnswersWhoAmIAndItsTenantButNoOtherApiEndpoint()
    {
        var tenantId = await DefaultTenantId();
        await CreateWallet();
        using var browser = await SignedInOperator();

        var me = (await browser.Get("/v1/users/me")).Ok();
        Assert.Equal(("user", Email), (me.S("type"), me.S("email")));
        Assert.StartsWith("op_", me.S("id"));
        Assert.Equal(tenantId, me["tenant"]!.S("id"));
        Assert.Equal(tenantId, (await browser.Get($"/v1/tenants/{tenantId}")).Ok().S("id"));
        using var other = await OtherTenant();
        var otherId = (await other.Get("/v1/users/me")).Ok()["tenant"]!.S("id");
        Assert.Equal("not_found", (await browser.Get($"/v1/tenants/{otherId}")).Error(404));

        // The same cookie moves nothing and reads nothing else under /v1.
        Assert.Equal("unauthorized", (await browser.Get("/v1/wallets")).Error(401));
        Assert.Equal("unauthorized", (await browser.Get("/v1/customers")).Error(401));
        Assert.Equal("unauthorized", (await browser.Get("/v1/environments")).Error(401));
        var wallets = (await Api.Get("/v1/wallets")).Ok()["items"]!.AsArray();
        Assert.Equal("unauthorized", (await browser.Post($"/v1/wallets/{wallets[0]!.S("id")}/top-up",
            new { credits_to_add = "5", transaction_reason = "FREE_CREDIT_GRANT" })).Error(401));
        Assert.Equal("0", (await Wallet(wallets[0]!.S("id"))).S("credit_balance"));

        // Signed out everywhere, the cookie is no one.
        await App.Service<OperatorStore>().SignOutEverywhereAsync(tenantId, me.S("id"));
        Assert.Equal("unauthorized", (await browser.Get("/v1/users/me")).Error(401));
    }

    [Fact]
    public async Task PaymentMethodsPackagesAndAutoTopUpAttemptsAreListedInPagedEnvelopes()
    {
        var wallet = await CreateWallet();
        var customer = wallet.S("customer_id");
        foreach (var card in new[] { "4242424242424242", "5555555555554444", "4000000000000002" })
            (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = card })).Ok(201);
        var methods = (await Api.Get($"/v1/customers/{customer}/payment-methods?limit=2&offset=1")).Ok();
        Assert.Equal([2, 3], methods["items"]!.AsArray().Select(m => m!["priority"]!.GetValue<int>()));
        AssertPage(methods, total: 3, limit: 2, offset: 1);
        AssertPage((await Api.Get($"/v1/customers/{customer}/payment-methods")).Ok(), total: 3, limit: Common.Limits.DefaultPageSize, offset: 0);
        Assert.Equal("validation_failed", (await Api.Get($"/v1/customers/{customer}/payment-methods?limit=0")).Error(400));
        Assert.Equal("not_found", (await Api.Get("/v1/customers/cust_nobody/payment-methods")).Error(404));

        foreach (var (price, currency) in new[] { ("5", "usd"), ("1", "usd"), ("3", "eur") })
            (await Api.Post("/v1/credit-packages", new { name = $"P{price}", credits = "10", price, currency })).Ok(201);
        var usd = (await Api.Get("/v1/credit-packages?currency=usd&limit=1")).Ok();
        Assert.Equal(["1"], usd["items"]!.AsArray().Select(p => p!.S("price")));
        AssertPage(usd, total: 2, limit: 1, offset: 0);
        var all = (await Api.Get("/v1/credit-packages?offset=1")).Ok();
        Assert.Equal(["3", "5"], all["items"]!.AsArray().Select(p => p!.S("price")));
        AssertPage(all, total: 3, limit: Common.Limits.DefaultPageSize, offset: 1);
        Assert.Equal("validation_failed", (await Api.Get("/v1/credit-packages?offset=-1")).Error(400));

        var attempts = (await Api.Get($"/v1/wallets/{wallet.S("id")}/auto-topup/attempts")).Ok();
        Assert.Empty(attempts["items"]!.AsArray());
        AssertPage(attempts, total: 0, limit: Common.Limits.DefaultPageSize, offset: 0);
        Assert.Equal("not_found", (await Api.Get("/v1/wallets/wallet_nobody/auto-topup/attempts")).Error(404));
        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet.S("id")}/auto-topup/attempts?limit=100000")).Error(400));

        // Another tenant sees none of them.
        using var other = await OtherTenant();
        AssertPage((await other.Get("/v1/credit-packages")).Ok(), total: 0, limit: Common.Limits.DefaultPageSize, offset: 0);
        Assert.Equal("not_found", (await other.Get($"/v1/customers/{customer}/payment-methods")).Error(404));
    }

    static void AssertPage(JsonNode list, long total, int limit, int offset)
    {
        var p = list["pagination"]!;
        Assert.Equal((total, limit, offset), (p["total"]!.GetValue<long>(), p["limit"]!.GetValue<int>(), p["offset"]!.GetValue<int>()));
    }

    async Task<List<string>> InvoiceEventsOf(string invoiceId)
    {
        await using var c = await App.Service<Database>().OpenAsync();
        var rows = await c.QueryAsync(null, "SELECT event_type, payload, payload_packed FROM outbox_events WHERE event_type LIKE 'invoice.%' ORDER BY created_at, id",
            r => (Type: r.Str("event_type"), Payload: JsonNode.Parse(PackedJson.Read(r, "payload")!)!));
        return rows.Where(e => e.Payload["data"]!.S("id") == invoiceId).Select(e => e.Type).ToList();
    }

    [Fact]
    public async Task PurchaseInvoicesAnnounceThemselvesCreatedAndFinalizedAsPostedInvoicesDo()
    {
        var wallet = await CreateWallet();
        var topUp = (await Api.Post($"/v1/wallets/{wallet.S("id")}/top-up", new { credits_to_add = "10", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        Assert.Equal(["invoice.created", "invoice.finalized"], await InvoiceEventsOf(topUp.S("invoice_id")));

        var package = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");
        var bought = (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = package, collection_method = "send_invoice" })).Ok();
        Assert.Equal(["invoice.created", "invoice.finalized"], await InvoiceEventsOf(bought["invoice"]!.S("id")));
        // The event carries the invoice as created: numbered, for the purchase's amount.
        await using (var c = await App.Service<Database>().OpenAsync())
        {
            var payload = (await c.QueryAsync(null, "SELECT payload, payload_packed FROM outbox_events WHERE event_type = 'invoice.finalized'",
                r => JsonNode.Parse(PackedJson.Read(r, "payload")!)!)).Single(p => p["data"]!.S("id") == bought["invoice"]!.S("id"));
            Assert.Equal(("9.99", bought["invoice"]!.S("invoice_number")), (payload!["data"]!.S("total"), payload["data"]!.S("invoice_number")));
        }

        var customer = wallet.S("customer_id");
        var finalized = (await Api.Post("/v1/invoices", new
        {
            customer_id = customer, currency = "usd", amount_due = "4", subtotal = "4", total = "4", invoice_status = "FINALIZED",
            line_items = new[] { new { display_name = "Usage", amount = "4", quantity = "1" } },
        })).Ok(201);
        Assert.Equal(["invoice.created", "invoice.finalized"], await InvoiceEventsOf(finalized.S("id")));
        var draft = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "2", subtotal = "2", total = "2" })).Ok(201);
        Assert.Equal(["invoice.created"], await InvoiceEventsOf(draft.S("id")));
        (await Api.Post($"/v1/invoices/{draft.S("id")}/finalize")).Ok();
        Assert.Equal(["invoice.created", "invoice.finalized"], await InvoiceEventsOf(draft.S("id")));

        // A refused purchase raises no invoice and no event.
        await using (var c = await App.Service<Database>().OpenAsync())
        {
            var before = await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM outbox_events WHERE event_type LIKE 'invoice.%'");
            Assert.Equal("not_found", (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = "pkg_nobody" })).Error(404));
            Assert.Equal(before, await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM outbox_events WHERE event_type LIKE 'invoice.%'"));
        }
        Assert.Empty((await App.VerifyAsync()).Problems);
    }
}
