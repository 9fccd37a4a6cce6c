using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Coffer.Common;
using Microsoft.AspNetCore.Http;

namespace Coffer.Tests;

public sealed class PublicLinkTestsOnSqlite() : PublicLinkTests(Store.Sqlite);
public sealed class PublicLinkTestsOnPostgres() : PublicLinkTests(Store.Postgres);

/// <summary>The links Coffer hands out point at Coffer, whatever the caller puts in its headers, and go nowhere but http(s).</summary>
public abstract class PublicLinkTests(Store store) : ApiTest(store)
{
    object PaymentLink(string invoice, string? successUrl = null, string? cancelUrl = null) => new
    {
        amount = "10", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "PAYMENT_LINK",
        success_url = successUrl, cancel_url = cancelUrl,
    };

    static async Task<string> Invoice(HttpClient api, string customer) =>
        (await api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "10", subtotal = "10", total = "10", invoice_status = "FINALIZED" }))
        .Ok(201).S("id");

    [Fact]
    public async Task APaymentLinkRefusesRedirectsThatAreNotWebAddresses()
    {
        // Root cause: success_url and cancel_url were stored as given, and the hosted checkout redirected the payer to javascript:.
        var invoice = await Invoice(Api, (await CreateCustomer()).S("id"));
        var refused = new (string?, string?)[]
        {
            ("javascript:alert(document.cookie)", null), (null, "javascript:alert(1)"), ("data:text/html,<script>alert(1)</script>", null),
            ("/relative/path", null), ("ftp://files.example/x", null), ("https://merchant.example/" + new string('a', Limits.MaxUrlLength), null),
            ("https://merchant.example/\n", null),
        };
        foreach (var (success, cancel) in refused)
            Assert.Equal("validation_failed", (await Api.Post("/v1/payments", PaymentLink(invoice, success, cancel))).Error(400));
        Assert.Empty((await Api.Get("/v1/payments")).Ok()["items"]!.AsArray());

        var link = (await Api.Post("/v1/payments", PaymentLink(invoice, "https://merchant.example/thanks", "http://merchant.example/cart"))).Ok(201);
        Assert.Equal("PENDING", link.S("payment_status"));
    }

    [Fact]
    public async Task LinksIgnoreAForgedHostHeader()
    {
        // Root cause: without COFFER_PUBLIC_URL, links were built from the request's Host header, so a forged one made a link to another site.
        await using var app = new CofferApp(App.Store, kestrel: true);
        using var api = app.KestrelApi();
        var customer = (await api.Post("/v1/customers", new { external_id = "c-1", name = "Ada" })).Ok(201).S("id");
        var invoice = await Invoice(api, customer);

        async Task<JsonNode> Forged(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Host = "evil.example";
            request.Headers.Add("X-Forwarded-Host", "evil.example");
            request.Headers.Add("X-Forwarded-Proto", "https");
            using var response = await api.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        var portal = (await Forged("/v1/portal/sessions", new { customer_id = customer })).S("url");
        Assert.StartsWith($"{app.KestrelAddress}/portal/enter?token=", portal);
        var payment = (await Forged("/v1/payments", PaymentLink(invoice))).S("payment_url");
        Assert.StartsWith($"{app.KestrelAddress}/checkout/sandbox/", payment);
        var report = await app.VerifyAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
    }

    static HttpRequest Request(string remote, string? forwardedHost, string? forwardedProto = null)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        http.Connection.LocalIpAddress = IPAddress.Parse("10.0.0.7");
        http.Connection.LocalPort = 8080;
        http.Request.Scheme = "http";
        http.Request.Host = new HostString("evil.example");
        if (forwardedHost is not null) http.Request.Headers["X-Forwarded-Host"] = forwardedHost;
        if (forwardedProto is not null) http.Request.Headers["X-Forwarded-Proto"] = forwardedProto;
        return http.Request;
    }

    static Hosting.CofferOptions Config(params (string, string)[] settings) => CofferApp.Options(settings);

    [Fact]
    public void ForwardedHeadersCountOnlyFromConfiguredProxies()
    {
        var proxies = Config(("COFFER_TRUSTED_PROXIES", "127.0.0.1, 10.1.0.0/16"));
        Assert.Equal("https://pay.merchant.example", PublicUrl.Of(proxies, Request("10.1.2.3", "pay.merchant.example", "https")));
        Assert.Equal("https://pay.merchant.example", PublicUrl.Of(proxies, Request("127.0.0.1", "evil.example, pay.merchant.example", "http, https")));
        // Anyone else's forwarded headers, and the Host header always, are ignored: the link names the address the request reached.
        Assert.Equal("http://10.0.0.7:8080", PublicUrl.Of(proxies, Request("203.0.113.9", "evil.example", "https")));
        Assert.Equal("http://10.0.0.7:8080", PublicUrl.Of(Config(), Request("127.0.0.1", "evil.example")));
        Assert.Equal("http://10.0.0.7:8080", PublicUrl.Of(proxies, Request("10.1.2.3", "evil.example/path?x")));
        Assert.Equal("https://coffer.example", PublicUrl.Of(Config(("COFFER_PUBLIC_URL", "https://coffer.example/")), Request("10.1.2.3", "evil.example")));
        Assert.Throws<InvalidOperationException>(() => Config(("COFFER_TRUSTED_PROXIES", "not-an-address")));
        Assert.Throws<InvalidOperationException>(() => Config(("COFFER_PUBLIC_URL", "javascript:alert(1)")));
    }
}
