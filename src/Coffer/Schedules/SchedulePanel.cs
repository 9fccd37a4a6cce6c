using Coffer.Common;
using Coffer.Dashboard;
using Coffer.Ledger;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Schedules;

public sealed record ScheduleFields
{
    public string? Type { get; init; }
    public string? Credits { get; init; }
    public string? Amount { get; init; }
    public string? Interval { get; init; }
    public string? IntervalCount { get; init; }
    public string? StartDate { get; init; }
    public string? ExpireAtPeriodEnd { get; init; }
    public string? Description { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>
/// The wallet page's schedules: what recurs (type, amount, interval, next run, status), a Cancel button per active
/// schedule and a small form to add one. Both post to the same operations the API calls, checked by the same
/// <see cref="ScheduleOrders"/>.
/// </summary>
public static class SchedulePanel
{
    public const int MaxRows = 50;

    static readonly Dictionary<string, string> Done = new()
    {
        ["added"] = "Schedule added: its first period runs at its start.",
        ["cancelled"] = "Schedule cancelled: no further period runs.",
    };

    public static void MapSchedulePanel(this RouteGroupBuilder g)
    {
        g.MapPost("/wallets/{id}/schedules", Add);
        g.MapPost("/wallets/{id}/schedules/{scheduleId}/cancel", Cancel);
    }

    /// <summary>The section of the wallet page: its list, and the form while the wallet is open.</summary>
    public static async Task<string> SectionAsync(HttpContext http, WalletDto w)
    {
        var tenant = await TenantAsync(http);
        var (items, total) = await http.RequestServices.GetRequiredService<WalletSchedules>().ListAsync(tenant.Id, w.Id, null, MaxRows, 0);
        var notice = Done.TryGetValue(http.Request.Query["schedule"].ToString(), out var text) ? Notice(text) : "";
        var open = w.WalletStatus != WalletStatuses.Closed;
        return $"""
            <section id="schedules" aria-labelledby="schedules-h"><h2 id="schedules-h">Schedules</h2>
            <p class="muted">Credits granted or fees charged every period, each period exactly once.</p>
            {notice}{Table(http, w, items, total)}
            {(open ? Form(http, w) : "")}
            </section>
            """;
    }

    static string Table(HttpContext http, WalletDto w, IReadOnlyList<ScheduleDto> items, long total)
    {
        if (items.Count == 0) return """<p class="muted" id="no-schedules">No schedules.</p>""";
        var rows = string.Join("", items.Select(s => $"""
            <tr data-schedule="{E(s.Id)}"><td>{(s.Type == ScheduleTypes.Grant ? "Grant" : "Charge")}</td>
            <td class="num">{What(s, w.Currency)}</td><td>{Every(s)}</td><td>{Date(s.NextRunAt)}</td><td>{Status(s.Status)}</td>
            <td>{(s.Status != ScheduleStatuses.Active ? "" : $"""
                <form class="inline" method="post" action="/dashboard/wallets/{U(w.Id)}/schedules/{U(s.Id)}/cancel">{Antiforgery(http)}
                <button type="submit" class="secondary" aria-label="Cancel schedule {E(s.Id)}">Cancel</button></form>
                """)}</td></tr>
            """));
        var more = total > items.Count ? $"""<p class="muted">The newest {items.Count} of {total}.</p>""" : "";
        return $"""
            <div class="table-wrap"><table id="schedule-table"><thead><tr><th scope="col">Type</th><th scope="col" class="num">Amount</th>
              <th scope="col">Interval</th><th scope="col">Next run (UTC)</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{rows}</tbody></table></div>{more}
            """;
    }

    static string What(ScheduleDto s, string currency)
    {
        var sign = s.Type == ScheduleTypes.Grant ? "+" : "−";
        var what = s.Amount is { } amount ? $"{sign}{Money(amount, currency)}" : $"{sign}{Credits(s.Credits ?? 0m)} credits";
        return s.ExpireAtPeriodEnd ? $"""{what}<div class="muted">expire at the period's end</div>""" : what;
    }

    static string Every(ScheduleDto s) => s.IntervalCount == 1 ? $"every {E(s.Interval)}" : $"every {s.IntervalCount} {E(s.Interval)}s";

    static string Form(HttpContext http, WalletDto w)
    {
        var intervals = string.Join("", new[] { ScheduleIntervals.Day, ScheduleIntervals.Week, ScheduleIntervals.Month, ScheduleIntervals.Year }
            .Select(i => $"""<option value="{i}"{Selected(i == ScheduleIntervals.Month)}>{i}</option>"""));
        return $"""
            <details class="panel"><summary>Add a schedule</summary>
            <form method="post" action="/dashboard/wallets/{U(w.Id)}/schedules">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(NewKey())}">
              <label for="sch-type">Schedule type</label>
              <select id="sch-type" name="Type"><option value="{ScheduleTypes.Grant}">Grant credits</option><option value="{ScheduleTypes.Charge}">Charge a fee</option></select>
              <label for="sch-credits">Credits per period</label>
              <input id="sch-credits" name="Credits" type="number" step="any" inputmode="decimal">
              <label for="sch-amount">Or a fee per period in {E(w.Currency.ToUpperInvariant())} (charges only)</label>
              <input id="sch-amount" name="Amount" type="number" step="any" inputmode="decimal" aria-describedby="sch-amount-hint">
              <p class="hint" id="sch-amount-hint">Converted at 1 credit = {Credits(w.ConversionRate)} {E(w.Currency.ToUpperInvariant())} when it runs.</p>
              <label for="sch-every">Every</label>
              <input id="sch-every" name="IntervalCount" type="number" min="1" max="{ScheduleIntervals.MaxCount}" step="1" value="1" inputmode="numeric">
              <label for="sch-interval">Interval</label><select id="sch-interval" name="Interval">{intervals}</select>
              <label for="sch-start">Start date (optional)</label>
              <input id="sch-start" name="StartDate" type="date" aria-describedby="sch-start-hint">
              <p class="hint" id="sch-start-hint">The first period starts at the beginning of this day (UTC). Empty: now.</p>
              <label class="choice"><input type="checkbox" name="ExpireAtPeriodEnd" value="true"> Granted credits expire at the period's end</label>
              <label for="sch-description">Note on each entry (optional)</label>
              <input id="sch-description" name="Description" maxlength="1000">
              <div class="actions"><button type="submit">Add schedule</button></div>
            </form></details>
            """;
    }

    static IResult Back(string id, string done) => Results.Redirect($"/dashboard/wallets/{Uri.EscapeDataString(id)}?schedule={done}#schedules");

    static readonly TransactionFilterQuery NoFilter = new(null, null, null, null, null, null);

    static Task<IResult> Refused(HttpContext http, string id, string what, string error, int status) =>
        WalletPage.RenderAsync(http, id, NoFilter, null, "", $"{what}: {error}", status);

    static async Task<IResult> Add(string id, [FromForm] ScheduleFields form, HttpContext http, WalletSchedules schedules, TimeProvider clock)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var credits = errors.Decimal("Credits", form.Credits);
        var amount = errors.Decimal("Fee", form.Amount);
        var count = errors.Int("Every", form.IntervalCount);
        var start = Day(errors, "Start date", form.StartDate, endOfDay: false);
        if (errors.Any) return await Refused(http, id, "The schedule was not added", errors.Message, 400);
        var request = new CreateScheduleRequest
        {
            Type = form.Type, Credits = credits, Amount = amount, Interval = form.Interval, IntervalCount = count, StartAt = start,
            ExpireAtPeriodEnd = Checked(form.ExpireAtPeriodEnd) ? true : null,
            Description = string.IsNullOrWhiteSpace(form.Description) ? null : form.Description, IdempotencyKey = FormKey(form.IdempotencyKey),
        };
        var v = new Validator();
        if (ScheduleOrders.Create(v, id, request, null, clock.GetUtcNow()) is not { } order)
            return await Refused(http, id, "The schedule was not added", v.Error().Message, 400);
        // Done: added now, or by the first submission of this same form (a replay).
        return await Shown(http, id, await schedules.CreateAsync(tenant.Id, id, order), "The schedule was not added", "added");
    }

    static async Task<IResult> Cancel(string id, string scheduleId, [FromForm] ActionFields form, HttpContext http, WalletSchedules schedules)
    {
        var tenant = await TenantAsync(http);
        return await Shown(http, id, await schedules.CancelAsync(tenant.Id, id, scheduleId), "The schedule was not cancelled", "cancelled");
    }

    /// <summary>An outcome as the page shows it: back to the wallet with its notice, the refusal's message, or not found.</summary>
    static async Task<IResult> Shown(HttpContext http, string id, ScheduleOutcome outcome, string what, string done)
    {
        if (outcome is not ScheduleOutcome.Refused { Why: var why }) return Back(id, done);
        if (why is ScheduleRefusal.NotFound n) return NotFoundPage(http, n.What);
        var error = ScheduleApi.Refusal(why);
        return await Refused(http, id, what, error.Message, error.StatusCode);
    }
}
