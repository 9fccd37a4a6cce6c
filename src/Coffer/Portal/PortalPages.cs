using System.Globalization;
using System.Security.Claims;
using Coffer.Customers;
using Coffer.Pages;
using Coffer.Storage;
using Coffer.Wallets;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Pages.Html;

namespace Coffer.Portal;

/// <summary>The customer portal: one customer's own wallets, history, funding and auto top-up, nothing else.</summary>
public static class PortalPages
{
    public const string Policy = "customer";

    /// <summary>History rows on one page of a wallet's transactions.</summary>
    public const int HistoryPageSize = 25;

    public static (string TenantId, string CustomerId) Who(ClaimsPrincipal user) =>
        (user.FindFirstValue(PortalSessions.TenantClaim)!, user.FindFirstValue(PortalSessions.CustomerClaim)!);

    public static string Nav(HttpContext http) => $"""
        {ModeBanner(http)}<nav aria-label="Main">
        <a href="/portal">Your wallets</a>
        <form class="inline portal-signout" method="post" action="/portal/sign-out">{Antiforgery(http)}<button type="submit">Sign out</button></form>
        </nav>
        """;

    public static RouteGroupBuilder MapPortal(this WebApplication app)
    {
        app.MapGet("/portal/enter", Enter).ExcludeFromDescription();
        app.MapGet("/portal/signed-out", () => Page("Link expired", "<p>This portal link is not valid any more. Ask for a new one.</p>", status: 401))
            .ExcludeFromDescription();
        app.MapGet("/portal/goodbye", () => Page("Signed out", "<p>You have signed out. Open a new portal link to come back.</p>"))
            .ExcludeFromDescription();
        var g = app.MapGroup("/portal").RequireAuthorization(Policy).ExcludeFromDescription().ShowsMode(user => user.FindFirstValue(PortalSessions.TenantClaim));
        g.MapGet("/", Home);
        g.MapPost("/sign-out", SignOut);
        g.MapGet("/wallets/{id}", PortalWallet.Show);
        g.MapGet("/wallets/{id}/statement.csv", (string id, HttpContext http, WalletStore wallets, TimeProvider clock) => PortalWallet.Statement(id, http, wallets, clock, "csv"));
        g.MapGet("/wallets/{id}/statement.pdf", (string id, HttpContext http, WalletStore wallets, TimeProvider clock) => PortalWallet.Statement(id, http, wallets, clock, "pdf"));
        g.MapPost("/wallets/{id}/invoices/{invoiceId}/pay", PortalWallet.PayInvoice);
        g.MapGet("/wallets/{id}/add-funds", PortalFunding.AddFundsPage);
        g.MapPost("/wallets/{id}/add-funds", PortalFunding.AddFunds);
        g.MapGet("/wallets/{id}/packages", PortalFunding.PackagesPage);
        g.MapPost("/wallets/{id}/packages", PortalFunding.BuyPackage);
        g.MapGet("/wallets/{id}/auto-top-up", PortalAutoTopUp.Show);
        g.MapPost("/wallets/{id}/auto-top-up", PortalAutoTopUp.Save);
        return g;
    }

    static async Task<IResult> Enter(string? token, ServerKeys keys, Database db, TimeProvider clock, HttpContext http)
    {
        var now = clock.GetUtcNow();
        if (await PortalSessions.VerifyAsync(keys, token, now) is not { } link || !await PortalSessions.ConsumeAsync(db, link, now))
            return Page("Link expired", "<p>This portal link is not valid any more. Ask for a new one.</p>", status: 401);
        // Whoever was signed in before is replaced: a link opens exactly its own customer's portal.
        await http.SignOutAsync(PortalSessions.Scheme);
        await PortalSessions.SignInAsync(http, link);
        return Results.Redirect("/portal");
    }

    static async Task<IResult> SignOut([FromForm] PortalActionForm form, Database db, TimeProvider clock, HttpContext http)
    {
        await PortalSessions.RevokeAsync(db, http.User, clock.GetUtcNow());
        await http.SignOutAsync(PortalSessions.Scheme);
        return Results.Redirect("/portal/goodbye");
    }

    static async Task<IResult> Home(HttpContext http, WalletStore wallets, CustomerStore customers)
    {
        var (tenant, customerId) = Who(http.User);
        var customer = await customers.GetAsync(tenant, customerId);
        var own = await wallets.ByCustomerAsync(tenant, customerId);
        var cards = new List<string>();
        var totals = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var w in own)
        {
            var now = RealTimeCredits.Of(w, await wallets.LotsAsync(tenant, w.Id));
            var balance = Ledger.Money.AmountForCredits(now.Balance, w.ConversionRate);
            if (w.Status != Ledger.WalletStatuses.Closed) totals[w.Currency] = totals.GetValueOrDefault(w.Currency) + balance;
            cards.Add($"""
                <li class="card"><h2><a href="/portal/wallets/{E(w.Id)}">{E(w.Name)}</a></h2>
                <p class="value">{Money(balance, w.Currency)}</p>
                <p class="muted">{Credits(now.Balance)} credits · {Credits(now.Available)} available{(w.Status == Ledger.WalletStatuses.Active ? "" : $" · <span class=\"status\">{E(w.Status)}</span>")}</p></li>
                """);
        }
        var summary = totals.Count == 0 ? "<p>You have no wallets yet.</p>"
            : $"<p>Your balance: <strong>{string.Join(" · ", totals.Select(t => Money(t.Value, t.Key)))}</strong></p>";
        return Page("Your wallets", $"""
            <p>Signed in as <strong>{E(customer?.Name)}</strong>.</p>
            {summary}
            <ul class="portal-wallets" aria-label="Wallets">{string.Join("", cards)}</ul>
            """, Nav(http));
    }

    /// <summary>The signed-in customer's wallet, or null for a wallet that does not exist or is someone else's.</summary>
    internal static async Task<WalletRow?> OwnWalletAsync(HttpContext http, WalletStore wallets, string id)
    {
        var (tenant, customer) = Who(http.User);
        var wallet = await wallets.GetAsync(tenant, id);
        // Another customer's wallet answers exactly as a missing one does: the portal never confirms it exists.
        return wallet is not null && wallet.CustomerId == customer ? wallet : null;
    }

    internal static IResult WalletNotFound(HttpContext http) =>
        Page("Wallet not found", """<p>There is no such wallet among yours.</p><p><a href="/portal">Back to your wallets</a></p>""", Nav(http), 404);

    internal static string Alert(string? message) =>
        message is null ? "" : $"""<div class="portal-alert" role="alert"><p>{E(message)}</p></div>""";

    internal static string Notice(string? message) =>
        message is null ? "" : $"""<div class="portal-notice" role="status"><p>{E(message)}</p></div>""";

    internal static string BackTo(WalletRow w) => $"""<p><a href="/portal/wallets/{E(w.Id)}">Back to {E(w.Name)}</a></p>""";

    /// <summary>A number as a customer types it ("25", "25.50", "1,000"), or null when it is not one.</summary>
    internal static decimal? ParseNumber(string? text) =>
        decimal.TryParse(text?.Trim(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowThousands | NumberStyles.AllowLeadingSign,
            CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>A validator's message as a sentence for the page.</summary>
    internal static string Sentence(string message) =>
        message.Length == 0 ? message : char.ToUpperInvariant(message[0]) + message[1..].TrimEnd('.') + ".";

    /// <summary>
    /// The idempotency key of one rendering of a form: submitting it again replays the first effect instead of paying
    /// twice. Scoped to the customer, since keys are unique per tenant.
    /// </summary>
    internal static string? FormKey(HttpContext http, string? nonce) =>
        nonce is { Length: > 3 and <= 64 } n && n.StartsWith("pf_", StringComparison.Ordinal) && n.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')
            ? $"portal_{Who(http.User).CustomerId}_{n}"
            : null;

    internal static string Card(Payments.PaymentMethodRow card) =>
        $"{CultureInfo.InvariantCulture.TextInfo.ToTitleCase(card.Brand ?? "card")} ending {card.Last4}";
}
