using Coffer.Alerts;
using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Schedules;
using Coffer.Storage;
using Coffer.Wallets;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

/// <summary>
/// One wallet: the balance the real-time balance API gives, its chart, the money actions (the top-up dialog,
/// debit, freeze, terminate), the transactions, its schedules, and the automatic top-up and alert settings with their logs.
/// </summary>
public static class WalletPage
{
    public const int LogRows = 20;

    static readonly Dictionary<string, string> DoneMessages = new()
    {
        ["created"] = "Wallet created.",
        ["topup"] = "Credits added.",
        ["invoiced"] = "Invoice created: the purchased credits stay pending until it is paid.",
        ["debited"] = "Debit recorded.",
        ["adjusted"] = "Balance adjusted.",
        ["frozen"] = "Wallet frozen: it accepts no top-ups or debits until it is unfrozen.",
        ["unfrozen"] = "Wallet unfrozen.",
        ["terminated"] = "Wallet terminated.",
        ["auto"] = "Automatic top-up settings saved.",
        ["alerts"] = "Alert settings saved.",
        ["replayed"] = "That form was already submitted; nothing was done twice.",
    };

    public static void MapWalletPage(this RouteGroupBuilder g)
    {
        g.MapGet("/wallets/{id}", Show);
        g.MapGet("/wallets/{id}/transactions.csv", Csv);
        g.MapGet("/wallets/{id}/statement.csv", (string id, HttpContext http, WalletStore store, TimeProvider clock) => Statement(id, http, store, clock, "csv"));
        g.MapGet("/wallets/{id}/statement.pdf", (string id, HttpContext http, WalletStore store, TimeProvider clock) => Statement(id, http, store, clock, "pdf"));
        g.MapWalletActions();
        g.MapSchedulePanel();
    }

    static async Task<IResult> Show(string id, HttpContext http, [AsParameters] TransactionFilterQuery filter, string? done, string? invoice)
    {
        var notice = done is not null && DoneMessages.TryGetValue(done, out var text) ? text : null;
        var extra = done == "invoiced" && !string.IsNullOrEmpty(invoice)
            ? $"""<p><a href="/dashboard/invoices/{U(invoice)}">Open the invoice</a> to record its payment.</p>""" : "";
        return await RenderAsync(http, id, filter, notice, extra, null, 200);
    }

    /// <summary>The wallet page, with a message: what an action did, or why the ledger refused it.</summary>
    public static async Task<IResult> RenderAsync(HttpContext http, string id, TransactionFilterQuery filter, string? notice, string noticeHtml,
        string? error, int status, DebitFields? typedDebit = null)
    {
        var services = http.RequestServices;
        var reads = services.GetRequiredService<WalletReads>();
        var tenant = await TenantAsync(http);
        if (await reads.BalanceAsync(tenant.Id, id) is not { } w) return NotFoundPage(http, "wallet");
        var customer = await services.GetRequiredService<CustomerStore>().GetAsync(tenant.Id, w.CustomerId);

        var page = filter.PageNumber;
        var list = await WalletTransactions.QueryAsync(tenant, id, reads, filter, PageSize, (page - 1) * PageSize);
        var chartData = await WalletTransactions.QueryAsync(tenant, id, reads, new TransactionFilterQuery(null, null, null, null, null, null),
            WalletTransactions.ChartPoints, 0, TransactionStatuses.Completed);
        var attempts = await services.GetRequiredService<AutoTopUpWorker>().AttemptsAsync(tenant.Id, id, LogRows);
        var alerts = (await services.GetRequiredService<AlertStore>().SearchAsync(tenant.Id, AlertKinds.Balance, id, null, null, LogRows, 0)).Items;

        var cur = w.Currency.ToUpperInvariant();
        var breakdown = w.CreditsAvailableBreakdown ?? new CreditBreakdown(0m, 0m);
        string Card(string key, string label, string value, string? sub) => $"""
            <div class="card" id="card-{key}"><div class="label">{E(label)}</div><div class="value">{value}</div>{(sub is null ? "" : $"<div class=\"muted\">{sub}</div>")}</div>
            """;
        var cards =
            Card("balance", "Balance", Money(w.RealTimeBalance, w.Currency), $"{Credits(w.RealTimeCreditBalance)} credits") +
            Card("pending", "Pending charges", Money(w.PendingCharges, w.Currency), $"{Credits(w.PendingChargeCredits)} credits held") +
            Card("available", "Available", Money(w.AvailableBalance, w.Currency), $"{Credits(w.AvailableCreditBalance)} credits") +
            Card("free", "Free credits", Credits(breakdown.Free), "spendable now") +
            Card("purchased", "Purchased credits", Credits(breakdown.Purchased), "spendable now") +
            Card("unpaid", "Unpaid invoices", Money(w.UnpaidInvoicesAmount, w.Currency), null);
        var expiredNote = w.ExpiredUnsweptCredits > 0
            ? $"""<p class="muted">{Credits(w.ExpiredUnsweptCredits)} credits have expired and will be posted as expired shortly.</p>""" : "";

        var open = w.WalletStatus != WalletStatuses.Closed;
        var actions = !open
            ? """<p class="muted">This wallet is closed: it accepts no top-ups, debits or changes.</p>"""
            : $"""
              <div class="actions">
                <form class="inline" method="post" action="/dashboard/wallets/{U(id)}/{(w.WalletStatus == WalletStatuses.Frozen ? "unfreeze" : "freeze")}">{Antiforgery(http)}
                  <button type="submit" class="secondary">{(w.WalletStatus == WalletStatuses.Frozen ? "Unfreeze" : "Freeze")}</button></form>
                <a class="button danger" href="/dashboard/wallets/{U(id)}/terminate">Terminate…</a>
              </div>
              <dialog id="topup-dialog" aria-labelledby="topup-title">
                <h2 id="topup-title">Top-up Wallet</h2>
                {WalletActions.TopUpForm(http, w, null, "dlg", inDialog: true)}
              </dialog>
              <dialog id="adjust-dialog" aria-labelledby="adjust-title">
                <h2 id="adjust-title">Adjust balance</h2>
                {WalletActions.AdjustForm(http, w, null, "adj", inDialog: true)}
              </dialog>
              <script>{DialogScript}</script>
              <section class="panel" aria-labelledby="debit-h"><h3 id="debit-h">Debit</h3>
              {WalletActions.DebitForm(http, w, typedDebit)}
              </section>
              """;

        // The wallet's main action sits level with its heading, at the far right where an operator looks first; adjusting is beside it.
        var topUp = !open ? null : $"""
            <a class="button secondary" id="adjust-link" href="/dashboard/wallets/{U(id)}/adjust">Adjust balance</a>
            <button type="button" class="secondary" id="adjust-open" data-dialog="adjust-dialog" data-link="adjust-link" hidden>Adjust balance</button>
            <a class="button" id="topup-link" href="/dashboard/wallets/{U(id)}/top-up">Top-up Wallet</a>
            <button type="button" id="topup-open" data-dialog="topup-dialog" data-link="topup-link" hidden>Top-up Wallet</button>
            """;

        var known = (chartData.Value?.Items ?? []).ToDictionary(t => t.Id);
        var transactions = list.Value is { } l
            ? WalletTransactions.Table(l.Items, w.Currency, known,
                await WalletTransactions.PaidAtAsync(tenant.Id, l.Items, services.GetRequiredService<InvoiceService>())) + Pager(id, filter, page, l.Pagination.Total)
            : Alert($"The filter was not applied: {list.Error}");

        return Page($"Wallet: {w.Name}", $"""
            <p><a href="/dashboard/customers/{U(w.CustomerId)}">← {E(customer?.Name ?? w.CustomerId)}</a></p>
            <p class="muted"><code>{E(w.Id)}</code> · {E(cur)} · {Status(w.WalletStatus)} · alert state {E(w.AlertState)}
              · 1 credit = {Credits(w.ConversionRate)} {E(cur)} when spent, {Credits(w.TopupConversionRate)} {E(cur)} when bought</p>
            {Notice(notice, noticeHtml)}{Alert(error)}
            <section aria-labelledby="balance-h"><h2 id="balance-h">Balance</h2>
            <div class="cards">{cards}</div>{expiredNote}
            <p><a href="/dashboard/wallets/{U(id)}/analytics">Analytics: usage, top-ups and payments</a></p>
            {(chartData.Value is { } c ? WalletTransactions.Chart(c.Items) : "")}
            </section>
            <section aria-labelledby="actions-h"><h2 id="actions-h">Actions</h2>{actions}</section>
            <section id="transactions" aria-labelledby="tx-h"><h2 id="tx-h">Transactions</h2>
            {WalletTransactions.Filters(id, filter)}
            {transactions}
            </section>
            {await SchedulePanel.SectionAsync(http, w)}
            <div class="panels">
            <section class="panel" aria-labelledby="auto-h"><h2 id="auto-h">Automatic top-up</h2>
            {WalletActions.AutoTopUpForm(http, w)}
            <h3>Recent attempts</h3>{Attempts(attempts)}
            </section>
            <section class="panel" aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts</h2>
            {WalletActions.AlertForm(http, w)}
            <h3>Alert log</h3>{AlertLog(alerts)}
            </section>
            </div>
            """, DashboardPages.Nav(http.User, http), status, topUp);
    }

    /// <summary>Without script each link (top-up, adjust) opens its form's page; with it, its button opens the same form in a dialog.</summary>
    public const string DialogScript = """
        document.querySelectorAll('[data-dialog]').forEach(open => {
          const dialog = document.getElementById(open.dataset.dialog);
          if (!dialog || typeof dialog.showModal !== 'function') return;
          document.getElementById(open.dataset.link).hidden = true;
          open.hidden = false;
          open.addEventListener('click', () => dialog.showModal());
          dialog.querySelector('[data-close]').addEventListener('click', () => dialog.close());
        });
        """;

    static string Pager(string id, TransactionFilterQuery filter, int page, long total)
    {
        if (total == 0) return "";
        var from = (page - 1) * PageSize + 1;
        var to = Math.Min(total, (long)page * PageSize);
        var prev = page > 1 ? $"""<a href="/dashboard/wallets/{U(id)}{E(filter.QueryString(page - 1))}#transactions" rel="prev">Newer</a>""" : "";
        var next = to < total ? $"""<a href="/dashboard/wallets/{U(id)}{E(filter.QueryString(page + 1))}#transactions" rel="next">Older</a>""" : "";
        return $"""<nav class="actions" aria-label="Transaction pages"><span class="muted">{from}–{to} of {total}</span>{prev}{next}</nav>""";
    }

    static string Attempts(IReadOnlyList<AutoTopUpAttemptDto> attempts)
    {
        if (attempts.Count == 0) return """<p class="muted">No automatic top-ups yet.</p>""";
        var rows = string.Join("", attempts.Select(a => $"""
            <tr><td>{Date(a.CreatedAt)}</td><td>{Status(a.Status)}</td><td>{E(a.Reason)}{(a.Error is null ? "" : $"<div class=\"error\">{E(a.Error)}</div>")}
              {(a.Suppressed > 0 ? $"<div class=\"muted\">{a.Suppressed} more triggers while it ran</div>" : "")}</td>
            <td class="num">{(a.Credits is { } c ? Credits(c) : "--")}</td>
            <td>{(a.InvoiceId is { } inv ? $"<a href=\"/dashboard/invoices/{U(inv)}\">invoice</a>" : "--")}</td></tr>
            """));
        return $"""
            <div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Outcome</th><th scope="col">Reason</th>
              <th scope="col" class="num">Credits</th><th scope="col">Invoice</th></tr></thead><tbody>{rows}</tbody></table></div>
            """;
    }

    static string AlertLog(IReadOnlyList<AlertDto> alerts)
    {
        if (alerts.Count == 0) return """<p class="muted">No alert has fired.</p>""";
        var rows = string.Join("", alerts.Select(a => $"""
            <tr><td>{Date(a.CreatedAt)}</td><td>{E(a.PreviousState)} → <strong>{E(a.State)}</strong></td>
            <td class="num">{Money(a.AvailableBalance, a.Currency)}</td>
            <td>{E(a.EmailStatus == "sent" ? "sent to " + string.Join(", ", a.EmailRecipients) : a.EmailStatus.Replace('_', ' '))}</td></tr>
            """));
        return $"""
            <div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col" class="num">Available</th>
            <th scope="col">E-mail</th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            """;
    }

    static async Task<IResult> Statement(string id, HttpContext http, WalletStore store, TimeProvider clock, string format) =>
        await Statements.DownloadAsync(store, clock, (await TenantAsync(http)).Id, id, format) ?? NotFoundPage(http, "wallet");

    static async Task<IResult> Csv(string id, HttpContext http, WalletStore store, WalletReads reads, InvoiceService invoices,
        [AsParameters] TransactionFilterQuery filter)
    {
        var tenant = await TenantAsync(http);
        var wallet = await store.GetAsync(tenant.Id, id);
        if (wallet is null) return NotFoundPage(http, "wallet");
        var items = new List<TransactionDto>();
        while (items.Count < WalletTransactions.MaxCsvRows)
        {
            var batch = await WalletTransactions.QueryAsync(tenant, id, reads, filter, Limits.MaxPageSize, items.Count);
            if (batch.Value is not { } b)
                return Results.Text($"The filter is not valid: {batch.Error}\r\n", "text/plain; charset=utf-8", statusCode: 400);
            items.AddRange(b.Items);
            if (b.Items.Count < Limits.MaxPageSize || items.Count >= b.Pagination.Total) break;
        }
        var rows = items.Take(WalletTransactions.MaxCsvRows).ToList();
        var csv = WalletTransactions.Csv(rows, wallet.Currency, await WalletTransactions.PaidAtAsync(tenant.Id, rows, invoices));
        var name = $"{wallet.Id}-transactions.csv";
        return Results.File(System.Text.Encoding.UTF8.GetBytes(csv), "text/csv; charset=utf-8", name);
    }
}
