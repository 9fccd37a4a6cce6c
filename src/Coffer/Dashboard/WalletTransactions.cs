using System.Globalization;
using System.Text;
using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Tenants;
using Coffer.Wallets;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

/// <summary>The transaction filters of the wallet page, as its query string carries them.</summary>
// The parameters carry no nullable annotations only because the request delegate generator writes typeof(string?)
// for them, which does not compile; their defaults say what the annotations would: each may be absent (null).
#nullable disable
public sealed record TransactionFilterQuery(string Type = null, string Status = null, string Reason = null, string From = null, string To = null, string Page = null, string Kind = null)
#nullable restore
{
    public int PageNumber => int.TryParse(Page, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p >= 1 ? Math.Min(p, 100_000) : 1;

    public string QueryString(int? page = null)
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value)) parts.Add($"{name}={Uri.EscapeDataString(value)}");
        }
        Add("type", Type);
        Add("kind", Kind);
        Add("status", Status);
        Add("reason", Reason);
        Add("from", From);
        Add("to", To);
        if (page is > 1) parts.Add($"page={page}");
        return parts.Count == 0 ? "" : "?" + string.Join("&", parts);
    }
}

/// <summary>
/// The wallet's ledger as a table, a CSV file and a chart. All three read through the API's transaction query,
/// so a filter means here exactly what it means to <c>GET /v1/wallets/{id}/transactions</c>.
/// </summary>
public static class WalletTransactions
{
    /// <summary>Rows in one CSV export; a larger history is exported in date ranges.</summary>
    public const int MaxCsvRows = 50_000;

    /// <summary>Transactions the balance chart draws: the most recent ones.</summary>
    public const int ChartPoints = 1000;

    public static async Task<Outcome<ListResponse<TransactionDto>>> QueryAsync(
        Tenant tenant, string walletId, WalletReads reads, TransactionFilterQuery f, int limit, int offset, string? status = null)
    {
        var errors = new FormErrors();
        var start = Day(errors, "From", f.From, endOfDay: false);
        var end = Day(errors, "To", f.To, endOfDay: true);
        if (errors.Any) return new(default, errors.Message, 400);
        static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        var p = new TransactionQueryParameters(limit, offset, null, Blank(f.Type), status ?? Blank(f.Status), Blank(f.Reason), null, null, null, null,
            start, end, null, null, null, Blank(f.Kind));
        var v = new Validator();
        var list = await reads.TransactionsAsync(v, tenant.Id, p.ToFilter() with { WalletId = walletId }, ofWallet: true);
        return !v.Ok ? Invalid<ListResponse<TransactionDto>>(v) : list is null ? new(default, "wallet not found", 404) : new(list, null, 200);
    }

    /// <summary>
    /// When the invoices behind the purchases among <paramref name="items"/> were paid. A purchase waiting for its
    /// invoice completes in the same transaction that records the payment settling it, and the entry keeps only its
    /// creation time (its <c>updated_at</c> moves on with every debit that spends from the lot), so the invoice's
    /// <c>paid_at</c> is the instant the credits arrived.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, DateTimeOffset>> PaidAtAsync(string tenantId, IEnumerable<TransactionDto> items,
        InvoiceService invoices)
    {
        var ids = items.Where(t => IsCredit(t) && t.ReferenceType == "INVOICE" && t.ReferenceId is not null)
            .Select(t => t.ReferenceId!).Distinct(StringComparer.Ordinal).ToList();
        var paid = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var chunk in ids.Chunk(Limits.MaxIdsPerFilter))
        {
            var found = await invoices.SearchAsync(tenantId, new InvoiceQuery(chunk.Length, 0, false, null, null, null, chunk, null, null, SkipLineItems: true));
            foreach (var i in found.Items)
                if (i.PaidAt is { } at) paid[i.Id] = at;
        }
        return paid;
    }

    /// <summary>When the transaction was completed: for a purchase paid after it was made, when its payment was recorded; none while pending or failed.</summary>
    public static DateTimeOffset? PaymentDate(TransactionDto t, IReadOnlyDictionary<string, DateTimeOffset> paidAt)
    {
        if (t.TransactionStatus != TransactionStatuses.Completed) return null;
        return IsCredit(t) && t.ReferenceType == "INVOICE" && t.ReferenceId is { } inv && paidAt.TryGetValue(inv, out var paid) && paid > t.CreatedAt
            ? paid
            : t.CreatedAt;
    }

    public static string Label(string reason) => reason switch
    {
        Reasons.FreeCreditGrant => "Free credits",
        Reasons.PurchasedCreditDirect => "Purchased credits",
        Reasons.PurchasedCreditInvoiced => "Purchased credits (invoiced)",
        Reasons.InvoicePayment => "Invoice payment",
        Reasons.CreditExpired => "Credits expired",
        Reasons.WalletTermination => "Wallet terminated",
        Reasons.ManualBalanceDebit => "Manual debit",
        Reasons.CreditNote => "Credit note",
        Reasons.UsageCharge => "Usage charge",
        Reasons.ManualAdjustment => "Manual adjustment",
        _ => reason,
    };

    static bool IsCredit(TransactionDto t) => t.Type == TransactionTypes.Credit;

    /// <summary>"+" for credits, "−" (U+2212) for debits, as the table shows them.</summary>
    static string Sign(TransactionDto t) => IsCredit(t) ? "+" : "\u2212";

    public static string Filters(string walletId, TransactionFilterQuery f)
    {
        static string Options(string? current, IEnumerable<(string Value, string Text)> options) =>
            string.Join("", options.Select(o => $"<option value=\"{E(o.Value)}\"{Selected(o.Value == (current ?? ""))}>{E(o.Text)}</option>"));
        var types = Options(f.Type, [("", "All"), (TransactionTypes.Credit, "Credit"), (TransactionTypes.Debit, "Debit")]);
        var kinds = Options(f.Kind, [("", "All"), .. TransactionKinds.All.Order(StringComparer.Ordinal).Select(k => (k, k))]);
        var statuses = Options(f.Status, [("", "All"), (TransactionStatuses.Pending, "Pending"), (TransactionStatuses.Completed, "Completed"),
            (TransactionStatuses.Failed, "Failed")]);
        var reasons = Options(f.Reason, [("", "All"), .. Reasons.All.Order(StringComparer.Ordinal).Select(r => (r, Label(r)))]);
        return $"""
            <form method="get" action="/dashboard/wallets/{U(walletId)}#transactions" class="filters" aria-label="Filter transactions">
              <div><label for="f-type">Type</label><select id="f-type" name="type">{types}</select></div>
              <div><label for="f-kind">Kind</label><select id="f-kind" name="kind">{kinds}</select></div>
              <div><label for="f-status">Status</label><select id="f-status" name="status">{statuses}</select></div>
              <div><label for="f-reason">Reason</label><select id="f-reason" name="reason">{reasons}</select></div>
              <div><label for="f-from">From</label><input id="f-from" name="from" type="date" value="{E(f.From)}"></div>
              <div><label for="f-to">To</label><input id="f-to" name="to" type="date" value="{E(f.To)}"></div>
              <div class="actions"><button type="submit">Filter</button>
                <a href="/dashboard/wallets/{U(walletId)}#transactions">Clear</a>
                <a href="/dashboard/wallets/{U(walletId)}/transactions.csv{E(f.QueryString())}" download>Download CSV</a>
                Statement of the last {Statements.DownloadDays} days:
                <a href="/dashboard/wallets/{U(walletId)}/statement.csv" download>CSV</a>
                <a href="/dashboard/wallets/{U(walletId)}/statement.pdf" download>PDF</a></div>
            </form>
            """;
    }

    /// <param name="known">Transactions already read (the chart's), to say what each consumed lot was.</param>
    /// <param name="paidAt">What <see cref="PaidAtAsync"/> found for these items.</param>
    public static string Table(IReadOnlyList<TransactionDto> items, string currency, IReadOnlyDictionary<string, TransactionDto> known,
        IReadOnlyDictionary<string, DateTimeOffset> paidAt)
    {
        if (items.Count == 0) return """<p class="muted">No transactions match.</p>""";
        var rows = string.Join("", items.Select(t =>
        {
            var reference = t.ReferenceType == "INVOICE" && t.ReferenceId is { } inv
                ? $""" · <a href="/dashboard/invoices/{U(inv)}">invoice</a>""" : "";
            var lots = t.Allocations is { Count: > 0 } a
                ? $"""
                  <details class="lots"><summary>{a.Count} {(a.Count == 1 ? "lot" : "lots")} consumed</summary>
                  <ul>{string.Join("", a.Select(l => $"<li><code>{E(l.LotId)}</code>{LotLabel(known.GetValueOrDefault(l.LotId))}: {Credits(l.Credits)} credits</li>"))}</ul></details>
                  """
                : "";
            var cls = IsCredit(t) ? "credit" : "debit";
            var paid = PaymentDate(t, paidAt);
            var created = paid == t.CreatedAt ? "" : $"""<div class="muted created">created {Date(t.CreatedAt)}</div>""";
            return $"""
                <tr id="tx-{E(t.Id)}"><td><strong>{E(Label(t.TransactionReason))}</strong> <span class="muted kind">{E(t.Kind)}</span>
                  <div>{E(t.Description)}{reference}</div>{Adjusted(t)}{lots}</td>
                <td class="when" data-label="Payment date" title="Created {Date(t.CreatedAt)} UTC"><span class="paid">{Date(paid)}</span>{created}</td>
                <td class="when" data-label="Expiry date">{ExpiresOn(t.ExpiryDate)}</td>
                <td data-label="Priority">{(t.Priority is { } p ? p.ToString(CultureInfo.InvariantCulture) : "--")}</td>
                <td class="num {cls}" data-label="Amount">{Sign(t)}{Money(t.Amount, currency)}</td>
                <td class="num {cls}" data-label="Credits">{Sign(t)}{Credits(t.CreditAmount)}</td>
                <td data-label="Status">{Status(t.TransactionStatus)}</td></tr>
                """;
        }));
        return $"""
            <div class="table-wrap"><table class="transactions stack"><caption class="sr-only">Transactions, newest first</caption>
            <thead><tr><th scope="col">Type and description</th><th scope="col">Payment date</th><th scope="col">Expiry date</th>
              <th scope="col">Priority</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Credits</th><th scope="col">Status</th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            """;
    }

    /// <summary>Who made a manual adjustment: an operator's e-mail, or an API key's name and id.</summary>
    static string MadeBy(TransactionAdjustmentDto a) =>
        a.ActorType == ActorTypes.Operator ? a.ActorName ?? a.ActorId : $"API key {a.ActorName} ({a.ActorId})";

    static string Adjusted(TransactionDto t) => t.Adjustment is not { } a ? ""
        : $"""<div class="adjustment">Reason: {E(a.Reason)} <span class="muted">· by {E(MadeBy(a))}</span></div>""";

    static string LotLabel(TransactionDto? lot) => lot is null ? "" :
        $" ({E(Label(lot.TransactionReason))}{(lot.Priority is { } p ? $", priority {p}" : "")}{(lot.ExpiryDate is { } x ? $", expires {ExpiresOn(x)}" : "")})";

    static readonly string[] CsvColumns =
        ["Transaction id", "Type", "Kind", "Adjustment reason", "Adjusted by", "Reason", "Description", "Payment date", "Created", "Expiry date", "Priority", "Amount", "Currency", "Credits", "Status", "Lots"];

    /// <summary>The table's columns as RFC 4180 CSV (CRLF, quotes doubled); signs are ASCII so spreadsheets read numbers.</summary>
    public static string Csv(IEnumerable<TransactionDto> items, string currency, IReadOnlyDictionary<string, DateTimeOffset> paidAt)
    {
        var minor = Currencies.MinorUnits(currency.ToUpperInvariant());
        static string Iso(DateTimeOffset? t) => t is { } v ? v.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "--";
        var sb = new StringBuilder();
        sb.Append(string.Join(",", CsvColumns.Select(Quote))).Append("\r\n");
        foreach (var t in items)
        {
            var sign = IsCredit(t) ? "+" : "-";
            var amount = Math.Round(t.Amount, minor, MidpointRounding.AwayFromZero).ToString($"F{minor}", CultureInfo.InvariantCulture);
            var lots = string.Join("; ", (t.Allocations ?? []).Select(a => $"{a.LotId}:{Credits(a.Credits)}"));
            string[] cells =
            [
                t.Id, t.Type, t.Kind, Text(t.Adjustment?.Reason), t.Adjustment is { } a ? Text(MadeBy(a)) : "", t.TransactionReason, Text(t.Description), Iso(PaymentDate(t, paidAt)), Iso(t.CreatedAt), ExpiresOn(t.ExpiryDate),
                t.Priority?.ToString(CultureInfo.InvariantCulture) ?? "--", sign + amount, currency.ToUpperInvariant(), sign + Credits(t.CreditAmount),
                t.TransactionStatus, lots,
            ];
            sb.Append(string.Join(",", cells.Select(Quote))).Append("\r\n");
        }
        return sb.ToString();
    }

    static string Quote(string cell) => CsvCells.Quote(cell);

    static string Text(string? text) => CsvCells.Text(text);

    /// <summary>
    /// Completed entries in the order they were posted. A purchase that waited for its invoice was created
    /// before the debits that came while it waited but posted after them, so each entry follows the one whose
    /// balance-after it starts from.
    /// </summary>
    public static List<TransactionDto> PostingOrder(IEnumerable<TransactionDto> byCreation)
    {
        var result = new List<TransactionDto>();
        var deferred = new List<TransactionDto>();
        decimal? running = null;
        void Emit(TransactionDto t)
        {
            result.Add(t);
            running = t.CreditBalanceAfter;
            while (deferred.FirstOrDefault(d => d.CreditBalanceBefore == running) is { } next)
            {
                deferred.Remove(next);
                result.Add(next);
                running = next.CreditBalanceAfter;
            }
        }
        foreach (var t in byCreation)
        {
            if (running is null || t.CreditBalanceBefore == running) Emit(t);
            else deferred.Add(t);
        }
        result.AddRange(deferred);
        return result;
    }

    /// <summary>The credit balance after each posted transaction, as an inline SVG line with a text summary for screen readers.</summary>
    public static string Chart(IReadOnlyList<TransactionDto> newestFirst)
    {
        var posted = PostingOrder(newestFirst.Where(t => t.TransactionStatus == TransactionStatuses.Completed).Reverse());
        if (posted.Count == 0) return """<p class="muted">The balance chart appears after the first completed transaction.</p>""";
        var values = new List<decimal> { posted[0].CreditBalanceBefore };
        values.AddRange(posted.Select(t => t.CreditBalanceAfter));
        const decimal width = 600m, height = 160m, pad = 8m;
        var min = Math.Min(0m, values.Min());
        var max = values.Max();
        if (max == min) max = min + 1m;
        var step = (width - 2 * pad) / (values.Count - 1);
        string P(decimal v) => Math.Round(v, 1).ToString("0.0", CultureInfo.InvariantCulture);
        var points = string.Join(" ", values.Select((v, i) => $"{P(pad + i * step)},{P(pad + (max - v) / (max - min) * (height - 2 * pad))}"));
        var zeroY = P(pad + max / (max - min) * (height - 2 * pad));
        var first = posted[0].CreatedAt;
        var last = posted[^1].CreatedAt;
        var summary = $"Credit balance over the last {posted.Count} completed transactions, {Date(first)} to {Date(last)} UTC: " +
                      $"from {Credits(values[0])} to {Credits(values[^1])} credits, lowest {Credits(values.Min())}, highest {Credits(values.Max())}.";
        return $"""
            <figure class="chart">
              <svg role="img" aria-label="{E(summary)}" viewBox="0 0 600 160" preserveAspectRatio="none" focusable="false">
                <line x1="0" y1="{zeroY}" x2="600" y2="{zeroY}" stroke="#9ca3af" stroke-width="1" vector-effect="non-scaling-stroke"/>
                <polyline fill="none" stroke="#1d4ed8" stroke-width="2" vector-effect="non-scaling-stroke" stroke-linejoin="round" points="{points}"/>
              </svg>
              <figcaption class="muted">Balance after each transaction: highest {Credits(values.Max())}, lowest {Credits(values.Min())} credits;
                {Date(first)} → {Date(last)} UTC.</figcaption>
            </figure>
            """;
    }
}
