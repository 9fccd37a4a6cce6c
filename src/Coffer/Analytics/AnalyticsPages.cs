using System.Globalization;
using System.Text;
using Coffer.Common;
using Coffer.CreditCurrencies;
using Coffer.Dashboard;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Analytics;

/// <summary>
/// The dashboard's analytics: the same report as the API, for the tenant or one wallet, drawn as inline SVG bar charts
/// (no script) with every number in a table beside them.
/// </summary>
public static class AnalyticsPages
{
    public static void MapAnalyticsPages(this RouteGroupBuilder g)
    {
        g.MapGet("/analytics", (HttpContext http, string? from, string? to, string? interval, string? currency) =>
            RenderAsync(http, null, from, to, interval, currency));
        g.MapGet("/wallets/{id}/analytics", (HttpContext http, string id, string? from, string? to, string? interval) =>
            RenderAsync(http, id, from, to, interval, null));
    }

    static readonly string[] ConsumedColours = ["#059669", "#1d4ed8", "#b91c1c"];
    static readonly string[] TopUpColours = ["#059669", "#1d4ed8", "#7c3aed"];

    static async Task<IResult> RenderAsync(HttpContext http, string? walletId, string? from, string? to, string? interval, string? currency)
    {
        var services = http.RequestServices;
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        // The form sends days; the last day chosen is included, so the range ends at the midnight after it.
        var since = DashboardKit.Day(errors, "From", from, endOfDay: false);
        var until = DashboardKit.Day(errors, "To", to, endOfDay: true);
        var v = new Validator();
        var request = errors.Any ? null
            : AnalyticsRequest.Parse(v, tenant.Id, walletId, since, until, interval, currency, services.GetRequiredService<TimeProvider>().GetUtcNow());
        var error = errors.Any ? errors.Message : v.Ok ? null : v.Error().Message;
        var title = walletId is null ? "Analytics" : "Wallet analytics";
        var back = walletId is null ? "" : $"""<p><a href="/dashboard/wallets/{U(walletId)}">← Back to the wallet</a></p>""";
        var action = walletId is null ? "/dashboard/analytics" : $"/dashboard/wallets/{U(walletId)}/analytics";
        if (request is null)
            return Pages.Html.Page(title, back + Form(action, walletId is null, from, to, interval, currency) + Alert($"The report was not made: {error}"),
                DashboardPages.Nav(http.User, http), 400);
        var outcome = await services.GetRequiredService<WalletAnalytics>().ReportAsync(request);
        if (outcome is not AnalyticsOutcome.Report { Value: var report }) return NotFoundPage(http, "wallet");

        var store = services.GetRequiredService<CreditCurrencyStore>();
        var body = new StringBuilder(back);
        body.Append(Form(action, walletId is null, Day(report.From), Day(report.To.AddTicks(-1)), report.Interval, report.Currency));
        body.Append($"""<p class="muted">{Date(report.From)} to {Date(report.To)} UTC, by {E(report.Interval)}; pending purchases as of {Date(report.GeneratedAt)} UTC.</p>""");
        if (report.Series.Count == 0) body.Append("""<p class="muted">No activity in this range.</p>""");
        var n = 0;
        foreach (var s in report.Series)
        {
            var unit = s.CreditCurrencyId is { } cc ? $"{(await store.GetAsync(tenant.Id, cc))?.Name ?? cc} ({s.Currency.ToUpperInvariant()})" : s.Currency.ToUpperInvariant();
            body.Append(Series($"s{n++}", unit, s));
        }
        return Pages.Html.Page(title, body.ToString(), DashboardPages.Nav(http.User, http));
    }

    static string Day(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    static string Form(string action, bool byCurrency, string? from, string? to, string? interval, string? currency) => $"""
        <form method="get" action="{action}" class="filters" aria-label="Report range">
          <div><label for="an-from">From</label><input id="an-from" name="from" type="date" value="{E(from)}"></div>
          <div><label for="an-to">To (included)</label><input id="an-to" name="to" type="date" value="{E(to)}"></div>
          <div><label for="an-interval">Interval</label><select id="an-interval" name="interval">
            {string.Join("", new[] { Intervals.Day, Intervals.Week, Intervals.Month }.Select(i => $"<option value=\"{i}\"{Selected((interval ?? Intervals.Day) == i)}>{i}</option>"))}
          </select></div>
          {(byCurrency ? $"""<div><label for="an-currency">Currency (optional)</label><input id="an-currency" name="currency" maxlength="3" value="{E(currency?.ToUpperInvariant())}"></div>""" : "")}
          <div><button type="submit">Show</button></div>
        </form>
        """;

    static string Series(string id, string unit, AnalyticsSeries s)
    {
        var labels = s.Buckets.Select(b => Day(b.Start)).ToList();
        var consumed = StackedBars($"{id}-consumed", $"Credits consumed per bucket in {unit}", labels,
            ["free", "purchased", "overdraft"], ConsumedColours,
            s.Buckets.Select(b => new[] { b.CreditsConsumedFree, b.CreditsConsumedPurchased, b.CreditsConsumedOverdraft }).ToList());
        var topUps = StackedBars($"{id}-topups", $"Credits topped up per bucket in {unit}", labels,
            ["free grant", "purchased direct", "purchased invoiced"], TopUpColours,
            s.Buckets.Select(b => new[] { b.TopUps.FreeGrant.Credits, b.TopUps.PurchasedDirect.Credits, b.TopUps.PurchasedInvoiced.Credits }).ToList());
        var pending = StackedBars($"{id}-pending", $"Purchases awaiting payment by age in {unit}", s.PendingPurchases.Select(p => AgeLabel(p.Age)).ToList(),
            ["purchases"], ["#d97706"], s.PendingPurchases.Select(p => new[] { (decimal)p.Count }).ToList());

        var rows = string.Join("", s.Buckets.Select(b => $"""
            <tr><th scope="row">{Day(b.Start)}</th><td class="num">{Credits(b.CreditsConsumedFree)}</td><td class="num">{Credits(b.CreditsConsumedPurchased)}</td>
            <td class="num">{Credits(b.CreditsConsumedOverdraft)}</td><td class="num">{Credits(b.CreditsExpired)}</td>
            <td class="num">{Kind(b.TopUps.FreeGrant)}</td><td class="num">{Kind(b.TopUps.PurchasedDirect)}</td><td class="num">{Kind(b.TopUps.PurchasedInvoiced)}</td></tr>
            """));
        var t = s.Totals;
        var pendingRows = string.Join("", s.PendingPurchases.Select(p => $"""
            <tr><th scope="row">{AgeLabel(p.Age)}</th><td class="num">{p.Count}</td><td class="num">{Credits(p.Credits)}</td><td class="num">{Money(p.Amount, s.Currency)}</td></tr>
            """));
        string Seconds(decimal? v) => v is { } x ? $"{Duration(x)} <span class=\"muted\">({Credits(x)} s)</span>" : "--";
        return $"""
            <section class="analytics" id="{id}" aria-labelledby="{id}-h"><h2 id="{id}-h">{E(unit)}</h2>
            <div class="cards">
              <div class="card" id="{id}-card-consumed"><div class="label">Credits consumed</div><div class="value">{Credits(t.CreditsConsumed)}</div>
                <div class="muted">{Credits(t.CreditsConsumedFree)} free · {Credits(t.CreditsConsumedPurchased)} purchased</div></div>
              <div class="card" id="{id}-card-expired"><div class="label">Credits expired</div><div class="value">{Credits(t.CreditsExpired)}</div></div>
              <div class="card" id="{id}-card-median"><div class="label">Median time to payment</div><div class="value">{Seconds(s.TimeToPayment.MedianSeconds)}</div>
                <div class="muted">over {s.TimeToPayment.Count} invoiced purchases paid</div></div>
              <div class="card" id="{id}-card-p90"><div class="label">p90 time to payment</div><div class="value">{Seconds(s.TimeToPayment.P90Seconds)}</div></div>
            </div>
            <h3>Credits consumed</h3>{consumed}
            <h3>Top-ups</h3>{topUps}
            <div class="table-wrap"><table class="analytics-buckets" id="{id}-table"><caption class="sr-only">Figures per bucket in {E(unit)}</caption>
              <thead><tr><th scope="col">Bucket start</th><th scope="col" class="num">Consumed free</th><th scope="col" class="num">Consumed purchased</th>
              <th scope="col" class="num">Overdraft</th><th scope="col" class="num">Expired</th><th scope="col" class="num">Free grants (count / credits)</th>
              <th scope="col" class="num">Purchased direct</th><th scope="col" class="num">Purchased invoiced</th></tr></thead>
              <tbody>{rows}</tbody>
              <tfoot><tr><th scope="row">Total</th><td class="num">{Credits(t.CreditsConsumedFree)}</td><td class="num">{Credits(t.CreditsConsumedPurchased)}</td>
              <td class="num">{Credits(t.CreditsConsumedOverdraft)}</td><td class="num">{Credits(t.CreditsExpired)}</td><td class="num">{Kind(t.TopUps.FreeGrant)}</td>
              <td class="num">{Kind(t.TopUps.PurchasedDirect)}</td><td class="num">{Kind(t.TopUps.PurchasedInvoiced)}</td></tr></tfoot>
            </table></div>
            <h3>Purchases awaiting payment</h3>{pending}
            <div class="table-wrap"><table class="analytics-pending" id="{id}-pending-table"><thead><tr><th scope="col">Age</th><th scope="col" class="num">Purchases</th>
              <th scope="col" class="num">Credits</th><th scope="col" class="num">Amount</th></tr></thead><tbody>{pendingRows}</tbody></table></div>
            </section>
            """;
    }

    static string Kind(TopUpKind k) => $"{k.Count} / {Credits(k.Credits)}";

    static string AgeLabel(string age) => age switch
    {
        PendingAges.UnderOneDay => "under 1 day",
        PendingAges.OneToSevenDays => "1–7 days",
        PendingAges.SevenToThirtyDays => "7–30 days",
        _ => "over 30 days",
    };

    /// <summary>Seconds as an operator reads them: days, hours and minutes.</summary>
    static string Duration(decimal seconds)
    {
        var span = TimeSpan.FromSeconds((long)Math.Round(seconds, MidpointRounding.AwayFromZero));
        return span.TotalDays >= 1 ? $"{(int)span.TotalDays}d {span.Hours}h" : span.TotalHours >= 1 ? $"{span.Hours}h {span.Minutes}m" : $"{span.Minutes}m {span.Seconds}s";
    }

    /// <summary>
    /// Bars stacked from several series, scaled to the tallest bar; each bar's title and the figure's label carry the values
    /// for screen readers and hover, and the table beside it has them all.
    /// </summary>
    static string StackedBars(string id, string label, IReadOnlyList<string> labels, IReadOnlyList<string> names, IReadOnlyList<string> colours,
        IReadOnlyList<decimal[]> values)
    {
        const decimal width = 600m, height = 160m, pad = 8m;
        var max = values.Count == 0 ? 0m : values.Max(v => v.Where(x => x > 0).Sum());
        var scale = max <= 0 ? 0m : (height - 2 * pad) / max;
        var slot = values.Count == 0 ? width : (width - 2 * pad) / values.Count;
        var barWidth = Math.Max(1m, slot * 0.7m);
        string P(decimal v) => Math.Round(v, 1).ToString("0.0", CultureInfo.InvariantCulture);
        var bars = new StringBuilder();
        for (var i = 0; i < values.Count; i++)
        {
            var y = height - pad;
            var x = pad + i * slot + (slot - barWidth) / 2;
            var title = $"{labels[i]}: " + string.Join(", ", names.Select((n, k) => $"{n} {Credits(values[i][k])}"));
            bars.Append($"""<g class="bar" data-label="{E(labels[i])}"><title>{E(title)}</title>""");
            for (var k = 0; k < names.Count; k++)
            {
                if (values[i][k] <= 0) continue;
                var h = values[i][k] * scale;
                y -= h;
                bars.Append($"""<rect x="{P(x)}" y="{P(y)}" width="{P(barWidth)}" height="{P(h)}" fill="{colours[k]}" data-series="{E(names[k])}" data-value="{Credits(values[i][k])}"/>""");
            }
            bars.Append("</g>");
        }
        var totals = names.Select((n, k) => $"{n} {Credits(values.Sum(v => v[k]))}");
        var summary = $"{label}: {string.Join(", ", totals)}; highest bar {Credits(max)}.";
        var legend = string.Join(" ", names.Select((n, k) => $"""<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{colours[k]}"/></svg> {E(n)}</span>"""));
        return $"""
            <figure class="chart analytics-chart" id="{id}">
              <svg role="img" aria-label="{E(summary)}" viewBox="0 0 600 160" preserveAspectRatio="none" focusable="false">
                <line x1="0" y1="{P(height - pad)}" x2="600" y2="{P(height - pad)}" stroke="#9ca3af" stroke-width="1" vector-effect="non-scaling-stroke"/>
                {bars}
              </svg>
              <figcaption class="muted">{legend} · {E(string.Join(", ", totals))}</figcaption>
            </figure>
            """;
    }
}
