using Coffer.Common;
using Coffer.Customers;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

public sealed record NewWalletForm
{
    public string? Currency { get; init; }
    public string? InitialCredits { get; init; }
    public string? AutoTopup { get; init; }
    public string? AutoThreshold { get; init; }
    public string? AutoAmount { get; init; }
    public string? AutoInvoicing { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>One customer: details, wallets per currency, and a wallet created through the API's own rules.</summary>
public static class CustomerPage
{
    public static void MapCustomerPage(this RouteGroupBuilder g)
    {
        g.MapGet("/customers/{id}", Show);
        g.MapPost("/customers/{id}/wallets", CreateWallet);
    }

    static Task<IResult> Show(string id, HttpContext http, CustomerStore customers, WalletStore wallets, string? done) =>
        Render(http, customers, wallets, id, null, null, 200, done == "created" ? "Customer created." : null);

    static async Task<IResult> Render(HttpContext http, CustomerStore customers, WalletStore wallets, string id, NewWalletForm? form, string? error, int status,
        string? notice = null)
    {
        var tenant = DashboardPages.TenantOf(http.User);
        var c = await customers.GetAsync(tenant, id);
        if (c is null) return NotFoundPage(http, "customer");
        var rows = string.Join("", (await wallets.ByCustomerAsync(tenant, id)).Select(w => $"""
            <tr><td><a href="/dashboard/wallets/{U(w.Id)}">{E(w.Name)}</a></td><td>{E(w.Currency.ToUpperInvariant())}</td>
            <td>{Status(w.Status)}</td>
            <td class="num">{Money(Ledger.Money.AmountForCredits(w.CreditBalance, w.ConversionRate), w.Currency)}</td>
            <td class="num">{Credits(w.CreditBalance)}</td><td>{Date(w.CreatedAt)}</td></tr>
            """));
        var address = string.Join(", ", new[] { c.AddressLine1, c.AddressLine2, c.AddressCity, c.AddressState, c.AddressPostalCode, c.AddressCountry }
            .Where(p => !string.IsNullOrWhiteSpace(p)));
        var metadata = string.Join("", c.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"<dt>{E(m.Key)}</dt><dd>{E(m.Value)}</dd>"));
        return Page(c.Name, $"""
            <p><a href="/dashboard">← Customers</a></p>
            {Notice(notice)}{Alert(error)}
            <section class="panel" aria-labelledby="details-h"><h2 id="details-h">Details</h2>
            <dl class="facts">
              <dt>Customer id</dt><dd><code>{E(c.Id)}</code></dd>
              <dt>External id</dt><dd>{E(c.ExternalId)}</dd>
              <dt>Email</dt><dd>{(string.IsNullOrEmpty(c.Email) ? "--" : E(c.Email))}</dd>
              <dt>Address</dt><dd>{(address.Length == 0 ? "--" : E(address))}</dd>
              <dt>Created</dt><dd>{Date(c.CreatedAt)}</dd>
              {metadata}
            </dl></section>
            <section aria-labelledby="wallets-h"><h2 id="wallets-h">Wallets</h2>
            <div class="table-wrap"><table><thead><tr><th scope="col">Wallet</th><th scope="col">Currency</th><th scope="col">Status</th>
              <th scope="col" class="num">Balance</th><th scope="col" class="num">Credits</th><th scope="col">Created</th></tr></thead>
            <tbody>{(rows.Length == 0 ? "<tr><td colspan=\"6\" class=\"muted\">No wallets yet.</td></tr>" : rows)}</tbody></table></div>
            </section>
            <section class="panel" aria-labelledby="new-wallet-h"><h2 id="new-wallet-h">Create a wallet</h2>
            <form method="post" action="/dashboard/customers/{U(c.Id)}/wallets">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(form?.IdempotencyKey ?? NewKey())}">
              <label for="nw-currency">Currency</label>
              <input id="nw-currency" name="Currency" required maxlength="3" autocomplete="off" placeholder="USD" value="{E(form?.Currency)}" aria-describedby="nw-currency-hint">
              <p class="hint" id="nw-currency-hint">ISO 4217 code, e.g. USD or EUR. One active wallet per currency.</p>
              <label for="nw-credits">Initial credits (optional)</label>
              <input id="nw-credits" name="InitialCredits" type="number" step="any" inputmode="decimal" value="{E(form?.InitialCredits)}" aria-describedby="nw-credits-hint">
              <p class="hint" id="nw-credits-hint">Granted as free credits that never expire.</p>
              <fieldset class="group"><legend>Automatic recharge</legend>
                <label class="choice"><input type="checkbox" name="AutoTopup" value="true" aria-describedby="nw-auto-hint"{CheckedAttr(Checked(form?.AutoTopup))}> Recharge Wallet Automatically</label>
                <p class="hint" id="nw-auto-hint">Buys credits when the available credits fall to the threshold. Change it later on the wallet page.</p>
                <label for="nw-auto-threshold">Threshold (credits)</label>
                <input id="nw-auto-threshold" name="AutoThreshold" type="number" step="any" min="0" inputmode="decimal" value="{E(form?.AutoThreshold)}">
                <label for="nw-auto-amount">Amount to buy (credits)</label>
                <input id="nw-auto-amount" name="AutoAmount" type="number" step="any" inputmode="decimal" value="{E(form?.AutoAmount)}">
                <label class="choice"><input type="checkbox" name="AutoInvoicing" value="true" aria-describedby="nw-auto-invoicing-hint"{CheckedAttr(Checked(form?.AutoInvoicing))}> Invoice the top-up</label>
                <p class="hint" id="nw-auto-invoicing-hint">Credits arrive when the invoice is paid. Unticked: the customer's saved card is charged.</p>
              </fieldset>
              <p><button type="submit">Create wallet</button></p>
            </form></section>
            """, DashboardPages.Nav(http.User, http), status);
    }

    static async Task<IResult> CreateWallet(string id, [FromForm] NewWalletForm form, HttpContext http, CustomerStore customers, WalletStore wallets,
        WalletMoves moves, TimeProvider clock)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var initial = errors.Decimal("Initial credits", form.InitialCredits);
        AutoTopupSettings? auto = null;
        if (Checked(form.AutoTopup))
        {
            // Without a threshold the rule would be saved but never fire.
            var threshold = errors.Decimal("Threshold", form.AutoThreshold, required: true);
            var amount = errors.Decimal("Amount to buy", form.AutoAmount, required: true);
            auto = new AutoTopupSettings(true, threshold, amount, Checked(form.AutoInvoicing));
        }
        if (errors.Any) return await Render(http, customers, wallets, id, form, $"The wallet was not created: {errors.Message}", 400);
        var v = new Validator();
        // The rule goes in with the wallet, in the one operation that creates it: no wallet exists, even briefly, without it.
        var request = new CreateWalletRequest { CustomerId = id, Currency = form.Currency?.Trim(), InitialCreditsToLoad = initial, AutoTopup = auto };
        var created = WalletOrders.Create(v, request, FormKey(form.IdempotencyKey), clock.GetUtcNow()) is { } order
            ? Shown(await moves.CreateAsync(tenant.Id, order))
            : Invalid<WalletDto>(v);
        if (created.NotFound) return NotFoundPage(http, "customer");
        if (created.Error is { } error) return await Render(http, customers, wallets, id, form, $"The wallet was not created: {error}", created.Status);
        // The same form sent twice (a second click) creates one wallet; the second post finds it in the stored answer.
        var walletId = created.Replayed ? System.Text.Json.Nodes.JsonNode.Parse(created.ReplayedBody!)!["id"]!.GetValue<string>() : created.Value!.Id;
        return Results.Redirect($"/dashboard/wallets/{Uri.EscapeDataString(walletId)}?done=created");
    }
}
