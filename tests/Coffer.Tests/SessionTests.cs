using System.Net;
using System.Text.RegularExpressions;
using Coffer.Dashboard;
using Coffer.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Coffer.Tests;

/// <summary>Dashboard sign-in limits and lockout, sessions that end, single-use portal links, and the headers every page carries.</summary>
public abstract partial class SessionTests(Store store) : ApiTest(store)
{
    const string Email = "ops@merchant.test";
    const string Password = "a long and proper password";

    async Task OperatorAsync()
    {
        await using var c = await App.Service<Database>().OpenAsync();
        var tenant = await c.QuerySingleAsync(null, "SELECT id FROM tenants", r => r.Str("id"));
        await App.Service<OperatorStore>().CreateAsync(tenant!, Email, Password);
    }

    readonly Dictionary<HttpClient, CookieContainer> _jars = [];

    /// <summary>A client that keeps its cookies where the test can copy them, and follows no redirects.</summary>
    HttpClient Browser(WebApplicationFactory<Program>? node = null, string baseAddress = "http://localhost")
    {
        var jar = new CookieContainer();
        var client = (node ?? App).CreateDefaultClient(new Uri(baseAddress), new CookieContainerHandler(jar));
        _jars[client] = jar;
        return client;
    }

    string Cookies(HttpClient browser) => _jars[browser].GetCookieHeader(browser.BaseAddress!);

    /// <summary>Someone else holding a copy of the cookies.</summary>
    HttpClient Thief(string cookies, WebApplicationFactory<Program>? node = null)
    {
        var thief = (node ?? App).CreateDefaultClient();
        thief.DefaultRequestHeaders.Add("Cookie", cookies);
        return thief;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    static async Task<string> TokenAsync(HttpClient browser, string path)
    {
        var html = await (await browser.GetAsync(path)).Content.ReadAsStringAsync();
        return WebUtility.HtmlDecode(TokenField().Match(html).Groups[1].Value);
    }

    static async Task<HttpResponseMessage> SignIn(HttpClient browser, string email, string password) =>
        await browser.PostAsync("/dashboard/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = await TokenAsync(browser, "/dashboard/sign-in"), ["Email"] = email, ["Password"] = password, ["ReturnUrl"] = "",
        }));

    static string? Location(HttpResponseMessage r) => r.Headers.Location?.OriginalString;

    [Fact]
    public async Task SignInFromOneAddressIsLimitedAndAnswers429WithTheErrorEnvelope()
    {
        using var browser = Browser();
        for (var i = 0; i < SignInLimits.PerAddressPerMinute; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(browser, $"nobody{i}@merchant.test", "guess")).StatusCode);
        var refused = await SignIn(browser, "nobody-else@merchant.test", "guess");
        Assert.Equal(429, (int)refused.StatusCode);
        Assert.Contains("\"code\":\"rate_limited\"", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SignInToOneAccountIsLimitedAndAnswers429WithTheErrorEnvelope()
    {
        using var browser = Browser();
        for (var i = 0; i < SignInLimits.PerAccountPerMinute; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(browser, "nobody@merchant.test", "guess")).StatusCode);
        var refused = await SignIn(browser, "Nobody@Merchant.test", "guess");
        Assert.Equal(429, (int)refused.StatusCode);
        Assert.Contains("\"code\":\"rate_limited\"", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RepeatedWrongPasswordsLockTheAccountEvenToTheRightOneUntilTheLockRunsOut()
    {
        await OperatorAsync();
        using var browser = Browser();
        for (var i = 0; i < OperatorStore.LockoutThreshold; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(browser, Email, "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(browser, Email, Password)).StatusCode);
        App.Clock.Advance(OperatorStore.FirstLockout - TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(browser, Email, Password)).StatusCode);

        App.Clock.Advance(TimeSpan.FromSeconds(2));
        var signedIn = await SignIn(browser, Email, Password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/dashboard", Location(signedIn));
    }

    [Fact]
    public void TheLockoutDoublesWithEachFurtherFailureUpToItsBound()
    {
        Assert.Null(OperatorStore.LockoutFor(OperatorStore.LockoutThreshold - 1));
        Assert.Equal(OperatorStore.FirstLockout, OperatorStore.LockoutFor(OperatorStore.LockoutThreshold));
        Assert.Equal(OperatorStore.FirstLockout * 4, OperatorStore.LockoutFor(OperatorStore.LockoutThreshold + 2));
        Assert.Equal(OperatorStore.MaxLockout, OperatorStore.LockoutFor(1000));
    }

    [Fact]
    public async Task ACopiedDashboardCookieStopsWorkingAfterSignOut()
    {
        await OperatorAsync();
        using var browser = Browser();
        Assert.Equal(HttpStatusCode.Redirect, (await SignIn(browser, Email, Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/dashboard")).StatusCode);
        var signedIn = Cookies(browser);

        var token = await TokenAsync(browser, "/dashboard");
        var signOut = await browser.PostAsync("/dashboard/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
        Assert.Equal("/dashboard/sign-in", Location(signOut));

        using var thief = Thief(signedIn);
        Assert.Contains("coffer_dashboard=", signedIn);
        var reused = await thief.GetAsync("/dashboard");
        Assert.Equal(HttpStatusCode.Redirect, reused.StatusCode);
        Assert.Contains("/dashboard/sign-in", Location(reused));
    }

    [Fact]
    public async Task ADashboardSessionEndsAtItsAbsoluteLifetimeHoweverActive()
    {
        await OperatorAsync();
        using var browser = Browser();
        Assert.Equal(HttpStatusCode.Redirect, (await SignIn(browser, Email, Password)).StatusCode);
        var step = OperatorStore.IdleLifetime - TimeSpan.FromHours(1);
        var elapsed = TimeSpan.Zero;
        while (elapsed + step < OperatorStore.AbsoluteLifetime)
        {
            App.Clock.Advance(step);
            elapsed += step;
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/dashboard")).StatusCode);
        }
        App.Clock.Advance(step);
        var expired = await browser.GetAsync("/dashboard");
        Assert.Equal(HttpStatusCode.Redirect, expired.StatusCode);
        Assert.Contains("/dashboard/sign-in", Location(expired));
    }

    async Task<string> PortalLink(int? expiresInSeconds = null)
    {
        var customer = (await CreateCustomer()).S("id");
        return (await Api.Post("/v1/portal/sessions", new { customer_id = customer, expires_in_seconds = expiresInSeconds })).Ok(201).S("url");
    }

    [Fact]
    public async Task APortalLinkOpensOnceOnly()
    {
        var link = new Uri(await PortalLink()).PathAndQuery;
        using var first = Browser();
        var opened = await first.GetAsync(link);
        Assert.Equal("/portal", Location(opened));
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/portal")).StatusCode);

        using var second = Browser();
        Assert.Equal(HttpStatusCode.Unauthorized, (await second.GetAsync(link)).StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, (await second.GetAsync("/portal")).StatusCode);
    }

    [Fact]
    public async Task APortalSessionEndsWhenTheLinkItCameFromExpires()
    {
        var link = new Uri(await PortalLink(expiresInSeconds: 120)).PathAndQuery;
        using var browser = Browser();
        Assert.Equal("/portal", Location(await browser.GetAsync(link)));
        App.Clock.Advance(TimeSpan.FromSeconds(100));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/portal")).StatusCode);
        App.Clock.Advance(TimeSpan.FromSeconds(21));
        Assert.NotEqual(HttpStatusCode.OK, (await browser.GetAsync("/portal")).StatusCode);
    }

    [Fact]
    public async Task ACopiedPortalCookieStopsWorkingAfterSignOut()
    {
        var link = new Uri(await PortalLink()).PathAndQuery;
        using var browser = Browser();
        Assert.Equal("/portal", Location(await browser.GetAsync(link)));
        var signedIn = Cookies(browser);
        Assert.Contains("coffer_portal=", signedIn);
        var token = await TokenAsync(browser, "/portal");
        var signOut = await browser.PostAsync("/portal/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
        Assert.Equal("/portal/goodbye", Location(signOut));

        using var thief = Thief(signedIn);
        Assert.NotEqual(HttpStatusCode.OK, (await thief.GetAsync("/portal")).StatusCode);
    }

    [Fact]
    public async Task ALockoutAndASignOutOnOneNodeHoldOnAnother()
    {
        await OperatorAsync();
        await using var other = new CofferApp(App);
        using var browser = Browser();
        Assert.Equal(HttpStatusCode.Redirect, (await SignIn(browser, Email, Password)).StatusCode);
        var signedIn = Cookies(browser);
        using (var elsewhere = Thief(signedIn, other)) Assert.Equal(HttpStatusCode.OK, (await elsewhere.GetAsync("/dashboard")).StatusCode);
        var token = await TokenAsync(browser, "/dashboard");
        await browser.PostAsync("/dashboard/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
        using (var elsewhere = Thief(signedIn, other)) Assert.Equal(HttpStatusCode.Redirect, (await elsewhere.GetAsync("/dashboard")).StatusCode);

        for (var i = 0; i < OperatorStore.LockoutThreshold; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(browser, Email, "wrong")).StatusCode);
        using var onOther = Browser(other);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignIn(onOther, Email, Password)).StatusCode);
    }

    [Fact]
    public async Task APortalLinkOpenedOnOneNodeIsRefusedOnAnother()
    {
        var link = new Uri(await PortalLink()).PathAndQuery;
        await using var other = new CofferApp(App);
        using var first = Browser();
        Assert.Equal("/portal", Location(await first.GetAsync(link)));
        using var second = Browser(other);
        Assert.Equal(HttpStatusCode.Unauthorized, (await second.GetAsync(link)).StatusCode);
    }

    [Fact]
    public async Task WithAnHttpsPublicUrlCookiesAreSecureAndPagesSendHsts()
    {
        await OperatorAsync();
        var https = App.WithWebHostBuilder(b => b.UseSetting("COFFER_PUBLIC_URL", "https://wallet.example.test"));
        using var browser = Browser(https, "https://localhost");
        var page = await browser.GetAsync("/dashboard/sign-in");
        Assert.StartsWith("max-age=", page.Headers.GetValues("Strict-Transport-Security").Single());
        Assert.Contains("secure", page.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("coffer_csrf=", StringComparison.Ordinal)));
        var signedIn = await SignIn(browser, Email, Password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Contains("secure", signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("coffer_dashboard=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task DashboardPortalAndCheckoutPagesCarryTheSecurityHeaders()
    {
        await OperatorAsync();
        using var browser = Browser();
        var pages = new List<HttpResponseMessage> { await browser.GetAsync("/dashboard/sign-in") };
        await SignIn(browser, Email, Password);
        pages.Add(await browser.GetAsync("/dashboard"));
        using var customer = Browser();
        await customer.GetAsync(new Uri(await PortalLink()).PathAndQuery);
        pages.Add(await customer.GetAsync("/portal"));
        pages.Add(await customer.GetAsync("/checkout/done"));
        foreach (var page in pages)
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var csp = string.Join(",", page.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("default-src 'none'", csp);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.DoesNotContain("'unsafe-inline'", csp.Split(';').Single(d => d.Trim().StartsWith("script-src", StringComparison.Ordinal)));
            Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
            Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
            Assert.False(page.Headers.Contains("Strict-Transport-Security"), "HSTS only when the public URL is https");
        }
    }
}

public sealed class SessionTestsOnSqlite() : SessionTests(Store.Sqlite);

public sealed class SessionTestsOnPostgres() : SessionTests(Store.Postgres);
