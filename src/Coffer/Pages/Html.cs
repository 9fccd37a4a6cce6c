using System.Globalization;
using System.Net;
using System.Security.Claims;
using Coffer.Tenants;
using Microsoft.AspNetCore.Antiforgery;

namespace Coffer.Pages;

/// <summary>
/// Server-rendered pages without a front-end build: a layout, escaping, and the antiforgery field every form
/// carries. Plain HTML and CSS; the only script is the few lines a dialog needs.
/// </summary>
public static class Html
{
    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>An amount shown in its currency's minor units, e.g. "USD 1,234.50".</summary>
    public static string Money(decimal amount, string currency)
    {
        var units = Ledger.Currencies.MinorUnits(currency.ToUpperInvariant());
        return $"{currency.ToUpperInvariant()} {Math.Round(amount, units, MidpointRounding.AwayFromZero).ToString($"N{units}", CultureInfo.InvariantCulture)}";
    }

    public static string Credits(decimal credits) => Ledger.Money.Normalize(credits).ToString(CultureInfo.InvariantCulture);

    public static string Date(DateTimeOffset? t) => t is { } v ? v.ToUniversalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "--";

    /// <summary>
    /// A lot's expiry as every screen and export shows it. A date chosen in a form (or sent as
    /// <c>initial_credits_to_load_expiry_date</c>) is stored as the next midnight UTC, since the credits stay
    /// spendable through the end of that day; such an instant reads as the day chosen, not as the midnight after it.
    /// Any other instant is shown as it is.
    /// </summary>
    public static string ExpiresOn(DateTimeOffset? t)
    {
        if (t is not { } v) return "--";
        var utc = v.ToUniversalTime();
        return utc.TimeOfDay == TimeSpan.Zero
            ? utc.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " (end of day)"
            : Date(utc);
    }

    public static string Antiforgery(HttpContext http)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return $"<input type=\"hidden\" name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken)}\">";
    }

    public const string Css = """
        :root{--fg:#111827;--muted:#4b5563;--line:#d1d5db;--accent:#1d4ed8;--bad:#b91c1c;--good:#047857;--bg:#f9fafb}
        *{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:var(--fg);background:var(--bg);line-height:1.45}
        header{background:#111827;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
        header .mode-test{flex-basis:100%;order:-1;margin:-.6rem -1rem .2rem;padding:.35rem 1rem;background:#fef3c7;color:#78350f;border-bottom:2px solid #f59e0b}
        header a{color:#fff;text-decoration:none}header .muted{color:#d1d5db}header a:focus,header a:hover{text-decoration:underline}
        main{max-width:72rem;margin:0 auto;padding:1rem}
        h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
        a{color:var(--accent)}table{border-collapse:collapse;width:100%;background:#fff}
        th,td{border-bottom:1px solid var(--line);padding:.45rem .5rem;text-align:left;vertical-align:top}th{font-size:.85rem;color:var(--muted)}
        .num{text-align:right;font-variant-numeric:tabular-nums}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.75rem}
        .card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:.75rem}.card .label{color:var(--muted);font-size:.85rem}
        .card .value{font-size:1.35rem;font-weight:600}form.inline{display:inline}
        label{display:block;margin:.5rem 0 .2rem;font-weight:500}input,select{font-size:1rem;padding:.45rem;border:1px solid #6b7280;border-radius:.3rem;width:100%;max-width:24rem}
        input[type=checkbox]{width:auto}button,.button{font-size:1rem;padding:.5rem 1rem;border:0;border-radius:.3rem;background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
        button.secondary{background:#374151}button.danger{background:var(--bad)}button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
        .error{color:var(--bad)}.ok{color:var(--good)}.muted{color:var(--muted)}.status{font-size:.85rem;padding:.1rem .4rem;border-radius:.25rem;background:#e5e7eb}
        dialog{border:1px solid var(--line);border-radius:.5rem;max-width:30rem;width:95%}.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:end}
        .table-wrap{overflow-x:auto}@media (max-width:40rem){main{padding:.5rem}th,td{padding:.35rem}}
        .portal-wallets{list-style:none;padding:0;margin:1rem 0;display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:.75rem}
        .portal-wallets h2{margin:0 0 .25rem;font-size:1.1rem}.portal-wallets p{margin:.2rem 0}.portal-wallets .value{font-size:1.35rem;font-weight:600}
        .portal-alert,.portal-notice{border:1px solid;border-radius:.4rem;padding:.6rem .8rem;margin:.75rem 0;max-width:40rem}.portal-alert p,.portal-notice p{margin:0}
        .portal-alert{border-color:var(--bad);background:#fef2f2;color:#991b1b}.portal-notice{border-color:var(--good);background:#ecfdf5;color:#065f46}
        .portal-actions{display:flex;gap:.5rem;flex-wrap:wrap;margin:1rem 0}.button.secondary{background:#374151}button.small{padding:.2rem .6rem;font-size:.9rem}
        fieldset.portal-choices{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .75rem;margin:.75rem 0;max-width:24rem;background:#fff}
        fieldset.portal-choices legend{font-weight:600;padding:0 .25rem}label.portal-choice{display:flex;gap:.5rem;align-items:flex-start;font-weight:400}
        label.portal-choice input{width:auto;margin:.2rem 0 0;flex:none}.portal-hint{color:var(--muted);font-size:.9rem;margin:.2rem 0 0;max-width:24rem}
        .portal-summary{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1.5rem;margin:1rem 0}.portal-summary dt{color:var(--muted)}.portal-summary dd{margin:0}.portal-change{margin-left:1rem}
        .portal-signout{margin-left:1rem}.portal-signout button{background:none;border:1px solid #9ca3af;padding:.2rem .6rem;font-size:.9rem}
        .amount-credit{color:var(--good)}.status-pending{background:#fef3c7}.status-failed{background:#fee2e2}.status-completed{background:#d1fae5}
        label.portal-choice input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
        @media (max-width:40rem){table.portal-stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
        table.portal-stack tr{display:block;border-bottom:1px solid var(--line);padding:.35rem 0}
        table.portal-stack td{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.15rem .5rem;text-align:right}
        table.portal-stack td::before{content:attr(data-label);color:var(--muted);font-size:.85rem;text-align:left}}
        [hidden]{display:none !important}.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
        .flash-ok,.flash-error{padding:.6rem .8rem;border-radius:.4rem;margin:.5rem 0}.flash-ok{background:#ecfdf5;border:1px solid #34d399;color:#064e3b}
        .flash-error{background:#fef2f2;border:1px solid #f87171;color:#7f1d1d}.hint{color:var(--muted);font-size:.85rem;margin:.2rem 0 0}
        fieldset.group{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .75rem .6rem;margin:.6rem 0;max-width:24rem}fieldset.group legend{font-weight:500;padding:0 .25rem}
        label.choice{display:flex;gap:.5rem;align-items:center;font-weight:400;margin:.35rem 0}label.choice input{margin:0;width:auto;flex:none}
        .panel{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:.25rem 1rem .75rem;margin:.75rem 0}
        .panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr));gap:0 .75rem}
        .actions{display:flex;gap:.5rem .75rem;flex-wrap:wrap;align-items:center;margin:.6rem 0}.filters{display:flex;flex-wrap:wrap;gap:0 .75rem;align-items:end}
        .filters select,.filters input{width:auto;max-width:100%}.credit{color:var(--good)}.debit{color:var(--bad)}
        .status-pending,.status-processing,.status-initiated,.status-frozen,.status-warning{background:#fef3c7;color:#78350f}
        .status-completed,.status-succeeded,.status-active,.status-enabled,.status-finalized{background:#d1fae5;color:#064e3b}
        .status-failed,.status-closed,.status-disabled,.status-voided,.status-in_alarm{background:#fee2e2;color:#7f1d1d}
        .chart{margin:.75rem 0}.chart>svg{display:block;width:100%;height:10rem;background:#fff;border:1px solid var(--line);border-radius:.5rem}
        .chart figcaption{font-size:.85rem;margin-top:.25rem}details.lots summary,details.attempts summary{cursor:pointer;color:var(--accent)}details.lots ul{margin:.25rem 0;padding-left:1.2rem}
        summary:focus-visible,select:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
        code.url,code.excerpt{overflow-wrap:anywhere}input.secret{font-family:ui-monospace,monospace;max-width:100%}
        .button.danger{background:var(--bad)}.button.secondary{background:#374151}dialog::backdrop{background:rgba(17,24,39,.55)}dialog > h2:first-child{margin-top:.25rem}
        .page-head{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.25rem 1rem}.page-head h1{margin:.5rem 0}
        .page-head .actions{margin:0}td.wrap,.flash-ok,.flash-error{overflow-wrap:anywhere}td.wrap{min-width:8rem}
        @media (max-width:40rem){table.stack td::before{flex:none}table.payments td:first-child::before{margin-right:.5rem}}
        tr.highlight td{background:#fefce8}td.when,table.transactions td.num{white-space:nowrap}.flash-ok p,.flash-error p{margin:.2rem 0}.nowrap{white-space:nowrap}fieldset.events{max-width:44rem;columns:15rem}fieldset.events .hint{column-span:all}@media (max-width:40rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4rem}
          table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0)}table.stack,table.stack tbody,table.stack tr{display:block}
          table.stack tr{border-bottom:1px solid var(--line);padding:.35rem 0}table.stack td{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.15rem .5rem;text-align:right}
          table.stack td::before{content:attr(data-label);color:var(--muted);font-size:.85rem;text-align:left}table.stack td:first-child{display:block;text-align:left}}
        """;

    const string ModeItem = "coffer.mode";

    /// <summary>
    /// For a group of signed-in pages: reads the tenant's mode (as stored now) before each page, so that every page
    /// of a tenant in test mode says so (<see cref="ModeBanner"/>).
    /// </summary>
    public static RouteGroupBuilder ShowsMode(this RouteGroupBuilder pages, Func<ClaimsPrincipal, string?> tenantOf) =>
        pages.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (tenantOf(http.User) is { } tenantId)
                http.Items[ModeItem] = (await http.RequestServices.GetRequiredService<TenantStore>().GetAsync(tenantId))?.Mode;
            return await next(context);
        });

    /// <summary>The strip across the top of every page of a tenant in test mode; nothing in live mode.</summary>
    public static string ModeBanner(HttpContext http) => http.Items[ModeItem] as string == Modes.Test
        ? """<p class="mode-test" role="note"><strong>Test mode</strong>: no real money moves here, and credits bought here are test credits.</p>"""
        : "";

    /// <param name="nav">What the page's header holds: the mode banner and the main navigation.</param>
    /// <param name="headActions">Markup of the page's main action, shown at the top right, level with the heading.</param>
    public static IResult Page(string title, string body, string? nav = null, int status = 200, string? headActions = null) => Results.Content($$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{E(title)}} · Coffer</title><style>{{Css}}</style></head>
        <body>{{(nav is null ? "" : $"<header>{nav}</header>")}}
        <main id="main">{{(headActions is null ? $"<h1>{E(title)}</h1>" : $"<div class=\"page-head\"><h1>{E(title)}</h1><div class=\"actions\">{headActions}</div></div>")}}{{body}}</main></body></html>
        """, "text/html; charset=utf-8", statusCode: status);
}
