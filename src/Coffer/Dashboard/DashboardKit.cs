using System.Globalization;
using Coffer.Common;
using Coffer.Tenants;
using Coffer.Wallets;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

/// <summary>What an operation answered, as a value a screen can show: the body, or the refusal's message and status.</summary>
public sealed record Outcome<T>(T? Value, string? Error, int Status, bool Replayed = false, string? ReplayedBody = null)
{
    public bool NotFound => Status == 404;
}

/// <summary>
/// What every dashboard screen shares. The screens call the features' own operations (never a copy of their rules,
/// never an HTTP handler) for the operator's tenant, and turn their outcomes into pages: a refusal becomes a
/// message, never a 500.
/// </summary>
public static class DashboardKit
{
    public const int PageSize = 50;

    public static async Task<Tenant> TenantAsync(HttpContext http)
    {
        var id = DashboardPages.TenantOf(http.User);
        return await http.RequestServices.GetRequiredService<TenantStore>().GetAsync(id) ?? new Tenant(id, id);
    }

    /// <summary>What a wallet operation answered, as a screen shows it; a refusal carries the API's own message and status.</summary>
    public static Outcome<T> Shown<T>(Moved<T> moved) => moved switch
    {
        Moved<T>.Done d => new(d.Response, null, 200),
        Moved<T>.Replayed r => new(default, null, r.Answer.StatusCode, Replayed: true, ReplayedBody: r.Answer.Body),
        Moved<T>.Refused f => WalletApi.Refusal(f.Why) is var e ? new(default, e.Message, e.StatusCode) : null!,
        _ => throw new InvalidOperationException($"unexpected outcome {moved}"),
    };

    /// <summary>A request the API's own checks refused, as a screen shows it.</summary>
    public static Outcome<T> Invalid<T>(Validator v) => new(default, v.Error().Message, 400);

    public static IResult NotFoundPage(HttpContext http, string what) =>
        Page("Not found", $"""<p class="flash-error" role="alert">No such {E(what)} here.</p><p><a href="/dashboard">Back to customers</a></p>""",
            DashboardPages.Nav(http.User, http), 404);

    /// <summary>A path segment, escaped for the URL and then for the attribute it sits in.</summary>
    public static string U(string? segment) => E(Uri.EscapeDataString(segment ?? ""));

    public static string Alert(string? error) => error is null ? "" : $"""<p class="flash-error" role="alert">{E(error)}</p>""";

    /// <param name="html">Markup of the caller's own (a link) shown inside the message.</param>
    public static string Notice(string? text, string html = "") =>
        text is null ? "" : $"""<div class="flash-ok" role="status"><p>{E(text)}</p>{html}</div>""";

    public static string Status(string status) =>
        $"""<span class="status status-{E(status.ToLowerInvariant())}">{E(status.ToLowerInvariant())}</span>""";

    /// <summary>A fresh key for a form that moves money, so a form sent twice is replayed instead of applied twice.</summary>
    public static string NewKey() => "dash_" + Guid.NewGuid().ToString("N");

    /// <summary>The key a form carried, or none.</summary>
    public static string? FormKey(string? key) => string.IsNullOrEmpty(key) ? null : key;

    public static bool Checked(string? value) => value is "true" or "on" or "yes";

    public static string Selected(bool on) => on ? " selected" : "";

    public static string CheckedAttr(bool on) => on ? " checked" : "";

    /// <summary>An amount as a form field shows it: the exact decimal, no grouping.</summary>
    public static string Field(decimal? value) => value is { } v ? Ledger.Money.Normalize(v).ToString(CultureInfo.InvariantCulture) : "";

    public static string Field(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "";

    /// <summary>A date a form sends (yyyy-MM-dd) as an RFC 3339 instant: the start of that day in UTC, or of the next.</summary>
    public static string? Day(FormErrors errors, string label, string? text, bool endOfDay)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!DateOnly.TryParseExact(text.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            errors.Fail($"{label} must be a date (YYYY-MM-DD).");
            return null;
        }
        var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return Json.Format(endOfDay ? start.AddDays(1) : start);
    }
}

/// <summary>Problems with what an operator typed, found before anything is asked of the ledger.</summary>
public sealed class FormErrors
{
    readonly List<string> _problems = [];

    public bool Any => _problems.Count > 0;

    public string Message => string.Join(" ", _problems);

    public void Fail(string problem) => _problems.Add(problem);

    public decimal? Decimal(string label, string? text, bool required = false)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            if (required) Fail($"{label} is required.");
            return null;
        }
        if (decimal.TryParse(text.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d))
            return d;
        Fail($"{label} must be a number.");
        return null;
    }

    public int? Int(string label, string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return i;
        Fail($"{label} must be a whole number.");
        return null;
    }
}
