using System.Globalization;
using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Portal.PortalPages;
using Html = Coffer.Pages.Html;

namespace Coffer.Portal;

/// <summary>A form with nothing to bind but its antiforgery token.</summary>
public sealed record PortalActionForm
{
    public string? Confirm { get; init; }
}

/// <summary>One wallet in the portal: what it holds, what is reserved, its history, and the ways to add to it.</summary>
static class PortalWallet
{
    internal static async Task<IResult> Show(string id, HttpContext http, WalletStore wallets, InvoiceService invoices, string? page, string? done,
        string? cancelled)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        var notice = done is not null ? await PurchaseNoticeAsync(http, invoices, wallet, done)
            : cancelled is not null ? "The payment was cancelled; nothing was charged." : null;
        var number = int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 1;
        return await RenderAsync(http, wallets, wallet, number, notice, null);
    }

    /// <summary>The customer's own wallet's statement of the last 30 days, as CSV or PDF.</summary>
    internal static async Task<IResult> Statement(string id, HttpContext http, WalletStore wallets, TimeProvider clock, string format)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        return await Statements.DownloadAsync(wallets, clock, wallet.TenantId, wallet.Id, format) ?? WalletNotFound(http);
    }

    /// <summary>Opens the gateway's checkout for a credit purchase still waiting for its payment (an invoice, or a checkout left unfinished).</summary>
    internal static async Task<IResult> PayInvoice(string id, string invoiceId, [FromForm] PortalActionForm form, HttpContext http, WalletStore wallets,
        InvoiceService invoices, PaymentService payments, GatewayRegistry gateways)
    {
        var wallet = await OwnWalletAsync(http, wallets, id);
        if (wallet is null) return WalletNotFound(http);
        var invoice = await OwnInvoiceAsync(http, invoices, wallet, invoiceId);
        if (invoice is null || invoice.InvoiceStatus != InvoiceStatuses.Finalized || invoice.AmountRemaining <= 0)
            return Results.Redirect(WalletUrl(wallet.Id, ("done", invoiceId)));
        var (success, cancel) = ReturnUrls(gateways, http.Request, wallet.Id, invoice.Id);
        var (payment, error, _) = await payments.CreatePaymentLinkAsync(invoice, invoice.AmountRemaining, success, cancel, null, http.Request);
        if (error is not null)
            return error.Code == ErrorCodes.GatewayNotConfigured
                ? await RenderAsync(http, wallets, wallet, 1, null, PortalFunding.NoCardPayments, 422)
                : await RenderAsync(http, wallets, wallet, 1, null, Sentence(error.Message), 502);
        return Results.Redirect(payment!.PaymentUrl!);
    }

    internal static string WalletUrl(string walletId, params (string Name, string Value)[] query) =>
        $"/portal/wallets/{Uri.EscapeDataString(walletId)}" +
        (query.Length == 0 ? "" : "?" + string.Join("&", query.Select(q => $"{q.Name}={Uri.EscapeDataString(q.Value)}")));

    /// <summary>Where the gateway's checkout sends the customer back to: the wallet, which then says how the purchase stands.</summary>
    internal static (string Success, string Cancel) ReturnUrls(GatewayRegistry gateways, HttpRequest request, string walletId, string invoiceId)
    {
        var baseUrl = gateways.PublicBaseUrl(request).TrimEnd('/');
        return (baseUrl + WalletUrl(walletId, ("done", invoiceId)), baseUrl + WalletUrl(walletId, ("cancelled", invoiceId)));
    }

    static async Task<InvoiceRow?> OwnInvoiceAsync(HttpContext http, InvoiceService invoices, WalletRow wallet, string invoiceId)
    {
        var (tenant, customer) = Who(http.User);
        var invoice = await invoices.GetAsync(tenant, invoiceId);
        return invoice is not null && invoice.CustomerId == customer && invoice.WalletId == wallet.Id ? invoice : null;
    }

    static async Task<string?> PurchaseNoticeAsync(HttpContext http, InvoiceService invoices, WalletRow wallet, string invoiceId)
    {
        if (await OwnInvoiceAsync(http, invoices, wallet, invoiceId) is not { } i) return null;
        var amount = Html.Money(i.AmountDue, i.Currency);
        if (PaymentStatuses.IsPaid(i.PaymentStatus)) return $"Payment of {amount} received. The credits are in your balance.";
        if (i.InvoiceStatus == InvoiceStatuses.Voided) return $"The purchase of {amount} was cancelled; nothing was charged.";
        return $"Invoice {i.InvoiceNumber} for {amount} is waiting for its payment; the credits arrive once it is paid.";
    }

    internal static async Task<IResult> RenderAsync(HttpContext http, WalletStore wallets, WalletRow w, int page, string? notice, string? alert, int status = 200)
    {
        var (tenant, _) = Who(http.User);
        var now = RealTimeCredits.Of(w, await wallets.LotsAsync(tenant, w.Id));
        page = Math.Clamp(page, 1, 1_000_000);
        var query = new TransactionQuery(w.Id, null, null, null, null, null, null, null, null, null, null, null, null, Ascending: false);
        var (items, total) = await wallets.TransactionsAsync(tenant, query, HistoryPageSize, (page - 1) * HistoryPageSize,
            new Dictionary<string, WalletRow> { [w.Id] = w });

        string Value(string label, decimal credits) => $"""
            <div class="card"><div class="label">{label}</div><div class="value">{Html.Money(Money.AmountForCredits(credits, w.ConversionRate), w.Currency)}</div>
            <div class="muted">{Html.Credits(credits)} credits</div></div>
            """;
        var actions = w.Status == WalletStatuses.Active
            ? $"""
              <div class="portal-actions"><a class="button" href="{Html.E(WalletUrl(w.Id))}/add-funds">Add funds</a>
              <a class="button" href="{Html.E(WalletUrl(w.Id))}/packages">Buy a credit package</a>
              <a class="button secondary" href="{Html.E(WalletUrl(w.Id))}/auto-top-up">Automatic top-up</a></div>
              """
            : $"""<p>This wallet is <span class="status">{Html.E(w.Status)}</span>: it takes no new funds.</p>""";
        var rows = string.Join("", items.Select(t => Row(http, w, t)));
        var pages = new List<string>();
        if (page > 1) pages.Add($"""<a href="{Html.E(WalletUrl(w.Id, ("page", (page - 1).ToString(CultureInfo.InvariantCulture))))}#history">Newer</a>""");
        if ((long)page * HistoryPageSize < total) pages.Add($"""<a href="{Html.E(WalletUrl(w.Id, ("page", (page + 1).ToString(CultureInfo.InvariantCulture))))}#history">Older</a>""");
        var statement = $"""
            <p class="muted">Statement of the last {Statements.DownloadDays} days:
            <a href="{Html.E(WalletUrl(w.Id))}/statement.pdf" download>PDF</a> <a href="{Html.E(WalletUrl(w.Id))}/statement.csv" download>CSV</a></p>
            """;
        var history = statement + (items.Count == 0 ? "<p>No transactions yet.</p>" : $"""
            <div class="table-wrap"><table class="portal-stack" aria-labelledby="history">
            <thead><tr><th scope="col">Date</th><th scope="col">Type</th><th scope="col">Description</th><th scope="col" class="num">Amount</th>
            <th scope="col" class="num">Credits</th><th scope="col">Status</th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            {(pages.Count == 0 ? "" : $"""<nav class="portal-actions" aria-label="History pages">{string.Join(" ", pages)}</nav>""")}
            """);

        return Html.Page(w.Name, $"""
            <p><a href="/portal">Back to your wallets</a></p>
            {Notice(notice)}{Alert(alert)}
            <div class="cards">{Value("Balance", now.Balance)}{Value("Pending charges", now.PendingCharges)}{Value("Available", now.Available)}</div>
            <p class="muted">{Html.E(w.Currency.ToUpperInvariant())} wallet. A credit costs {Rate(w.TopupConversionRate, w.Currency)}.</p>
            <p>{AutoTopUpSummary(w)}</p>
            {actions}
            <h2 id="history">Transaction history</h2>
            {history}
            """, Nav(http), status);
    }

    static string Row(HttpContext http, WalletRow w, TransactionDto t)
    {
        var credit = t.Type == TransactionTypes.Credit;
        var sign = credit ? "+" : "\u2212";
        var payable = t.TransactionStatus == TransactionStatuses.Pending && t.TransactionReason == Reasons.PurchasedCreditInvoiced
            && t.ReferenceType == "INVOICE" && t.ReferenceId is not null;
        var pay = payable ? $"""
            <form class="inline" method="post" action="{Html.E(WalletUrl(w.Id))}/invoices/{Html.E(t.ReferenceId)}/pay">{Html.Antiforgery(http)}
            <button type="submit" class="small">Pay now</button></form>
            """ : "";
        return $"""
            <tr><td data-label="Date"><span>{Html.Date(t.CreatedAt)}</span></td>
            <td data-label="Type"><span>{(credit ? "Credit" : "Debit")}<br><span class="muted">{Html.E(ReasonLabel(t.TransactionReason))}</span></span></td>
            <td data-label="Description"><span>{Html.E(t.Description ?? ReasonLabel(t.TransactionReason))}</span></td>
            <td data-label="Amount" class="num {(credit ? "amount-credit" : "amount-debit")}"><span>{sign}{Html.Money(t.Amount, w.Currency)}</span></td>
            <td data-label="Credits" class="num"><span>{sign}{Html.Credits(t.CreditAmount)}</span></td>
            <td data-label="Status"><span><span class="status status-{Html.E(t.TransactionStatus)}">{Html.E(t.TransactionStatus)}</span> {pay}</span></td></tr>
            """;
    }

    static string ReasonLabel(string reason) => reason switch
    {
        Reasons.FreeCreditGrant => "Free credits",
        Reasons.PurchasedCreditDirect or Reasons.PurchasedCreditInvoiced => "Purchase",
        Reasons.InvoicePayment => "Invoice payment",
        Reasons.CreditExpired => "Credits expired",
        Reasons.WalletTermination => "Wallet closed",
        Reasons.ManualBalanceDebit or Reasons.ManualAdjustment => "Adjustment",
        Reasons.CreditNote => "Credit note",
        Reasons.UsageCharge => "Usage",
        _ => reason.Replace('_', ' ').ToLowerInvariant(),
    };

    /// <summary>A price per credit at full precision: a rate of a fraction of a cent must not read as zero.</summary>
    internal static string Rate(decimal rate, string currency)
    {
        var code = currency.ToUpperInvariant();
        var units = Currencies.MinorUnits(code);
        var exact = Money.Normalize(rate);
        return $"{code} {(Money.Scale(exact) < units ? exact.ToString($"F{units}", CultureInfo.InvariantCulture) : exact.ToString(CultureInfo.InvariantCulture))}";
    }

    static string AutoTopUpSummary(WalletRow w)
    {
        var rule = w.AutoTopup is null ? null : Json.Deserialize<AutoTopupSettings>(w.AutoTopup);
        if (rule?.Enabled != true) return "Automatic top-up is off.";
        var what = rule.TargetBalance is { } target ? $"tops up to {Html.Credits(target)} credits" : $"buys {Html.Credits(rule.Amount ?? 0m)} credits";
        var perDay = rule.MaxTopupsPerDay is { } n ? $", at most {n} a day" : "";
        return Html.E($"Automatic top-up is on: it {what} when the balance falls to {Html.Credits(rule.Threshold ?? 0m)} credits{perDay}.");
    }
}
