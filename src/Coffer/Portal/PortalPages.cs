using System.Security.Claims;
using Coffer.Customers;
using Coffer.Pages;
using Coffer.Wallets;
using Microsoft.AspNetCore.Authentication;
using static Coffer.Pages.Html;

namespace Coffer.Portal;

/// <summary>The customer portal: one customer's own wallets, history, funding and auto top-up, nothing else.</summary>
public static class PortalPages
{
    public const string Policy = "customer";

    public static (string TenantId, string CustomerId) Who(ClaimsPrincipal user) =>
        (user.FindFirstValue(PortalSessions.TenantClaim)!, user.FindFirstValue(PortalSessions.CustomerClaim)!);

    public static string Nav(HttpContext http) => """<a href="/portal">Wallets</a>""";

    public static RouteGroupBuilder MapPortal(this WebApplication app)
    {
        app.MapGet("/portal/enter", Enter).ExcludeFromDescription();
        app.MapGet("/portal/signed-out", () => Page("Link expired", "<p>This portal link is not valid any more. Ask for a new one.</p>", status: 401))
            .ExcludeFromDescription();
        var g = app.MapGroup("/portal").RequireAuthorization(Policy).ExcludeFromDescription();
        g.MapGet("/", Home);
        return g;
    }

    static async Task<IResult> Enter(string? token, ServerKeys keys, TimeProvider clock, HttpContext http)
    {
        var now = clock.GetUtcNow();
        if (await PortalSessions.VerifyAsync(keys, token, now) is not { } who)
            return Page("Link expired", "<p>This portal link is not valid any more. Ask for a new one.</p>", status: 401);
        // Whoever was signed in before is replaced: a link opens exactly its own customer's portal.
        await http.SignOutAsync(PortalSessions.Scheme);
        await PortalSessions.SignInAsync(http, who.TenantId, who.CustomerId, now + PortalSessions.MaxLifetime);
        return Results.Redirect("/portal");
    }

    static async Task<IResult> Home(HttpContext http, WalletStore wallets, CustomerStore customers)
    {
        var (tenant, customerId) = Who(http.User);
        var customer = await customers.GetAsync(tenant, customerId);
        var rows = string.Join("", (await wallets.ByCustomerAsync(tenant, customerId)).Select(w => $"""
            <tr><td><a href="/portal/wallets/{E(w.Id)}">{E(w.Name)}</a></td><td>{E(w.Currency.ToUpperInvariant())}</td>
            <td class="num">{Money(Ledger.Money.AmountForCredits(w.CreditBalance, w.ConversionRate), w.Currency)}</td>
            <td class="num">{Credits(w.CreditBalance)}</td><td><span class="status">{E(w.Status)}</span></td></tr>
            """));
        return Page($"Your wallets", $"""
            <p>Signed in as <strong>{E(customer?.Name)}</strong>.</p>
            <div class="table-wrap"><table><thead><tr><th>Wallet</th><th>Currency</th><th class="num">Balance</th><th class="num">Credits</th><th>Status</th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            """, Nav(http));
    }
}
