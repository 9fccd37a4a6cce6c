using Coffer.Ledger;

namespace Coffer.Common;

/// <summary>Bounds on every input, named once, and the checks that enforce them at the edge.</summary>
public static class Limits
{
    public const int MaxTextLength = 255;
    public const int MaxDescriptionLength = 1000;
    public const int MaxUrlLength = 2000;
    public const int MaxMetadataEntries = 50;
    public const int MaxMetadataKeyLength = 40;
    public const int MaxMetadataValueLength = 500;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 1000;
    public const int MaxIdsPerFilter = 500;
    public const long MaxRequestBodyBytes = 256 * 1024;
    public const int MaxRequestLineLength = 8 * 1024;
    public const int MaxPriority = 1_000_000;
}

/// <summary>Collects every problem of a request so that one 400 names them all.</summary>
public sealed class Validator
{
    readonly List<string> _problems = [];

    public bool Ok => _problems.Count == 0;

    public ApiError Error() => ApiError.Validation(string.Join("; ", _problems), new { fields = _problems });

    public void Fail(string problem) => _problems.Add(problem);

    public string? Text(string field, string? value, bool required = false, int max = Limits.MaxTextLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required) Fail($"{field} is required");
            return null;
        }
        if (value.Length > max) Fail($"{field} is longer than {max} characters");
        if (value.Any(char.IsControl)) Fail($"{field} contains control characters");
        else if (value.Any(IsInvisible)) Fail($"{field} contains invisible or direction-changing characters");
        return value.Trim();
    }

    /// <summary>
    /// Bidirectional overrides and zero-width characters make a name read differently from what it is
    /// (a customer called "‮cod.exe" shows as "exe.doc"), so no text field holds them.
    /// </summary>
    static bool IsInvisible(char c) => c is >= '\u200B' and <= '\u200F' or >= '\u202A' and <= '\u202E'
        or >= '\u2060' and <= '\u2069' or '\u061C' or '\uFEFF';

    /// <summary>An absolute http or https URL: anything else (<c>javascript:</c>, <c>data:</c>, a relative path) is no web address to call or send a browser to.</summary>
    public string? HttpUrl(string field, string? value, bool required = false)
    {
        var url = Text(field, value, required, Limits.MaxUrlLength);
        if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https") || u.Host.Length == 0))
            Fail($"{field} must be an absolute http or https URL");
        return url;
    }

    public void Metadata(string field, Dictionary<string, string>? metadata)
    {
        if (metadata is null) return;
        if (metadata.Count > Limits.MaxMetadataEntries) Fail($"{field} has more than {Limits.MaxMetadataEntries} entries");
        foreach (var (k, v) in metadata)
        {
            if (string.IsNullOrEmpty(k) || k.Length > Limits.MaxMetadataKeyLength) { Fail($"{field} keys must be 1 to {Limits.MaxMetadataKeyLength} characters"); break; }
            if (v is null) { Fail($"{field}.{k} must be a string"); break; }
            if (v.Length > Limits.MaxMetadataValueLength) { Fail($"{field}.{k} is longer than {Limits.MaxMetadataValueLength} characters"); break; }
            // CR, LF and NUL in metadata break the CSV exports, log lines and headers it is copied into.
            if (k.Any(char.IsControl) || k.Any(IsInvisible)) { Fail($"{field} keys must not contain control or invisible characters"); break; }
            if (v.Any(char.IsControl)) { Fail($"{field}.{k} contains control characters"); break; }
        }
    }

    /// <summary>A credit or currency amount: positive, at most 10^15, no finer than the ledger stores.</summary>
    public decimal? Amount(string field, decimal? value, bool required = false, bool allowZero = false)
    {
        if (value is null)
        {
            if (required) Fail($"{field} is required");
            return null;
        }
        var v = value.Value;
        if (v < 0 || (!allowZero && v == 0)) Fail($"{field} must be {(allowZero ? "zero or more" : "greater than zero")}");
        else if (v > Money.MaxAmount) Fail($"{field} must be at most {Money.MaxAmount}");
        else if (Money.Scale(Money.Normalize(v)) > Money.CreditScale) Fail($"{field} has more than {Money.CreditScale} decimal places");
        return Money.Normalize(v);
    }

    public decimal? Rate(string field, decimal? value)
    {
        if (value is null) return null;
        var v = Money.Normalize(value.Value);
        if (v <= 0) Fail($"{field} must be greater than zero");
        else if (v > Money.MaxRate) Fail($"{field} must be at most {Money.MaxRate}");
        else if (Money.Scale(v) > Money.RateScale) Fail($"{field} has more than {Money.RateScale} decimal places");
        return v;
    }

    public int? Priority(string field, int? value)
    {
        if (value is < 0 or > Limits.MaxPriority) Fail($"{field} must be between 0 and {Limits.MaxPriority}");
        return value;
    }

    public string? Currency(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) { Fail($"{field} is required"); return null; }
        if (!Currencies.TryNormalize(value, out var code)) { Fail($"{field} '{Truncate(value)}' is not an ISO 4217 currency code"); return null; }
        return code.ToLowerInvariant();
    }

    public string? OneOf(string field, string? value, IReadOnlySet<string> allowed)
    {
        if (value is null) return null;
        if (!allowed.Contains(value)) Fail($"{field} must be one of {string.Join(", ", allowed.Order())}");
        return value;
    }

    static readonly HashSet<string> Orders = ["asc", "desc"];

    /// <summary>A list's <c>order</c>: <c>asc</c> or <c>desc</c> (the default); anything else is refused rather than read as desc.</summary>
    public bool Ascending(string? order) => OneOf("order", order, Orders) == "asc";

    public (int Limit, int Offset) Page(int? limit, int? offset)
    {
        if (limit is < 1 or > Limits.MaxPageSize) Fail($"limit must be between 1 and {Limits.MaxPageSize}");
        if (offset is < 0) Fail("offset must be zero or more");
        return (limit ?? Limits.DefaultPageSize, offset ?? 0);
    }

    public DateTimeOffset? Time(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        if (!DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var t))
        {
            Fail($"{field} '{Truncate(value)}' is not an RFC 3339 date-time");
            return null;
        }
        return t;
    }

    static string Truncate(string s) => s.Length <= 20 ? s : s[..20] + "…";
}
