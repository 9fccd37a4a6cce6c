using System.Security.Claims;
using Coffer.Customers;
using Coffer.Pages;
using Coffer.Wallets;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using CustomerRules = Coffer.Customers.CustomerApi;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

public sealed record SignInForm(string? Email, string? Password, string? ReturnUrl);

public sealed record NewCustomerForm
{
    public string? Name { get; init; }
    public string? ExternalId { get; init; }
    public string? Email { get; init; }
}

/// <summary>The admin dashboard: operators of one tenant, signed in with a password, every form CSRF-protected.</summary>
public static class DashboardPages
{
    public const string Policy = "operator";

    public static string TenantOf(ClaimsPrincipal user) => user.FindFirstValue(OperatorStore.TenantClaim)!;

    public static string Nav(ClaimsPrincipal user, HttpContext http) => $"""
        {ModeBanner(http)}<nav aria-label="Main">
        <a href="/dashboard">Customers</a> <a href="/dashboard/invoices">Invoices</a> <a href="/dashboard/analytics">Analytics</a> <a href="/dashboard/webhooks">Webhooks</a> <a href="/dashboard/settings">Settings</a>
        <span class="muted">{E(user.Identity?.Name)}</span>
        <form class="inline" method="post" action="/dashboard/sign-out">{Antiforgery(http)}<button class="secondary" type="submit">Sign out</button></form>
        </nav>
        """;

    public static RouteGroupBuilder MapDashboard(this WebApplication app)
    {
        // The address a newcomer types first leads to the dashboard (and so to its sign-in), not to the API's JSON 404.
        app.MapGet("/", () => Results.Redirect("/dashboard")).ExcludeFromDescription();
        app.MapGet("/dashboard/sign-in", SignInPage).ExcludeFromDescription();
        app.MapPost("/dashboard/sign-in", SignIn).ExcludeFromDescription().RequireRateLimiting(SignInLimits.PerAddressPolicy);
        var g = app.MapGroup("/dashboard").RequireAuthorization(Policy).ExcludeFromDescription().ShowsMode(user => user.FindFirstValue(OperatorStore.TenantClaim));
        g.MapPost("/sign-out", (Delegate)SignOut);
        g.MapGet("/", Customers);
        g.MapPost("/customers", CreateCustomer);
        g.MapCustomerPage();
        g.MapWalletPage();
        g.MapInvoicePages();
        g.MapWebhookPages();
        g.MapSettingsPages();
        Analytics.AnalyticsPages.MapAnalyticsPages(g);
        return g;
    }

    static IResult SignInPage(HttpContext http, string? returnUrl, string? error = null) => Page("Sign in", $"""
        {(error is null ? "" : $"<p class=\"error\" role=\"alert\">{E(error)}</p>")}
        <form method="post" action="/dashboard/sign-in">{Antiforgery(http)}
          <input type="hidden" name="ReturnUrl" value="{E(returnUrl)}">
          <label for="email">Email</label><input id="email" name="Email" type="email" autocomplete="username" required>
          <label for="password">Password</label><input id="password" name="Password" type="password" autocomplete="current-password" required>
          <p><button type="submit">Sign in</button></p>
        </form>
        """, status: error is null ? 200 : 401);

    static async Task<IResult> SignIn([FromForm] SignInForm form, OperatorStore operators, SignInLimits limits, TimeProvider clock, HttpContext http)
    {
        if (!limits.TryAccount(form.Email)) return SignInLimits.TooMany();
        var outcome = await operators.SignInAsync(form.Email, form.Password);
        // A locked account is answered like a wrong password: a different answer would tell which e-mails exist.
        if (outcome is not SignInOutcome.SignedIn signedIn)
            return SignInPage(http, form.ReturnUrl, "Wrong email or password. After repeated failures an account is locked for a few minutes.");
        await OperatorStore.SignInAsync(http, signedIn, clock.GetUtcNow());
        // Only a local path: a sign-in link must not send the operator elsewhere.
        var target = form.ReturnUrl is { Length: > 0 } r && r.StartsWith("/dashboard", StringComparison.Ordinal) && !r.StartsWith("//", StringComparison.Ordinal) ? r : "/dashboard";
        return Results.Redirect(target);
    }

    // The (empty) form is bound so that its antiforgery token is checked: a page elsewhere cannot sign the operator out.
    static async Task<IResult> SignOut([FromForm] ActionFields form, OperatorStore operators, HttpContext http)
    {
        await operators.SignOutEverywhereAsync(TenantOf(http.User), http.User.FindFirstValue(ClaimTypes.NameIdentifier)!);
        await http.SignOutAsync(OperatorStore.Scheme);
        return Results.Redirect("/dashboard/sign-in");
    }

    static Task<IResult> Customers(HttpContext http, CustomerStore customers, string? q, int? page) =>
        RenderCustomers(http, customers, q, page, null, null, 200);

    static async Task<IResult> RenderCustomers(HttpContext http, CustomerStore customers, string? q, int? page, NewCustomerForm? typed, string? error,
        int status)
    {
        var tenant = TenantOf(http.User);
        var offset = Math.Max(0, (page ?? 1) - 1) * 50;
        var query = new CustomerQuery(null, null, null, "published",
            string.IsNullOrWhiteSpace(q) ? [] : [("name", "contains", q.Trim())], false);
        var byName = await customers.SearchAsync(tenant, query, 50, offset);
        var rows = string.Join("", byName.Items.Select(c => $"""
            <tr><td><a href="/dashboard/customers/{E(c.Id)}">{E(c.Name)}</a></td><td>{E(c.ExternalId)}</td><td>{E(c.Email)}</td><td>{Date(c.CreatedAt)}</td></tr>
            """));
        return Page("Customers", $"""
            {DashboardKit.Alert(error)}
            <form method="get" role="search" class="row"><div><label for="q">Search by name</label><input id="q" name="q" value="{E(q)}"></div>
              <button type="submit">Search</button></form>
            <p class="muted">{byName.Pagination.Total} customers</p>
            <div class="table-wrap"><table><thead><tr><th>Name</th><th>External id</th><th>Email</th><th>Created</th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            <section class="panel" aria-labelledby="new-customer-h"><h2 id="new-customer-h">New customer</h2>
            <form method="post" action="/dashboard/customers">{Antiforgery(http)}
              <label for="nc-name">Name</label><input id="nc-name" name="Name" maxlength="255" autocomplete="off" value="{E(typed?.Name)}">
              <label for="nc-external">External id</label>
              <input id="nc-external" name="ExternalId" required maxlength="255" autocomplete="off" value="{E(typed?.ExternalId)}" aria-describedby="nc-external-hint">
              <p class="hint" id="nc-external-hint">Your own id for this customer (e.g. your user id); unique among your customers.</p>
              <label for="nc-email">Email (optional)</label><input id="nc-email" name="Email" type="email" autocomplete="off" value="{E(typed?.Email)}">
              <p><button type="submit">Create customer</button></p>
            </form></section>
            """, Nav(http.User, http), status);
    }

    static async Task<IResult> CreateCustomer([FromForm] NewCustomerForm form, HttpContext http, CustomerStore customers)
    {
        static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        var v = new Common.Validator();
        var fields = CustomerRules.Fields(v, new CustomerRequest { Name = Blank(form.Name), ExternalId = Blank(form.ExternalId), Email = Blank(form.Email) },
            creating: true);
        if (!v.Ok)
        {
            var invalid = v.Error();
            return await RenderCustomers(http, customers, null, null, form, $"The customer was not created: {invalid.Message}", invalid.StatusCode);
        }
        var created = await customers.CreateAsync(TenantOf(http.User), fields);
        if (created is null)
        {
            var taken = CustomerRules.ExternalIdTaken(fields);
            return await RenderCustomers(http, customers, null, null, form, $"The customer was not created: {taken.Message}", taken.StatusCode);
        }
        return Results.Redirect($"/dashboard/customers/{Uri.EscapeDataString(created.Id)}?done=created");
    }
}
