using System.Data.Common;
using System.Text.RegularExpressions;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;

namespace Coffer.Spend;

/// <summary>A wallet's cap as the API shows and takes it: null <c>value</c> caps every value of the dimension on its own.</summary>
public sealed record SpendCapDto(string Dimension, string? Value, string Period, decimal Credits);

public sealed record SpendCapRequest(string? Dimension, string? Value, string? Period, decimal? Credits);

/// <summary>
/// Spend attribution: the dimensions a debit carries (who or what spent: <c>member</c>, <c>project</c>, <c>api_key</c>…), the
/// per-day totals every attributed debit adds to in its own transaction, and the caps a wallet sets on them. The cap rule itself
/// is the ledger's (<see cref="SpendLimits"/>); this is its input and its rows.
/// </summary>
public static partial class SpendAttribution
{
    public const int MaxDimensions = 5;
    public const int MaxCaps = 20;
    public const int MaxValueLength = 200;

    [GeneratedRegex("^[a-z][a-z0-9_]{0,39}$")]
    private static partial Regex DimensionName();

    /// <summary>A dimension's name, as a debit names it and as <c>group_by</c> asks for it.</summary>
    public static bool IsName(string? name) => name is not null && DimensionName().IsMatch(name);

    static string NameRule(string field) => $"{field} must be 1 to 40 lower-case letters, digits or _, starting with a letter";

    public static IReadOnlyDictionary<string, string>? Dimensions(Validator v, Dictionary<string, string>? dimensions)
    {
        if (dimensions is null) return null;
        if (dimensions.Count > MaxDimensions) v.Fail($"dimensions: at most {MaxDimensions}");
        foreach (var (name, value) in dimensions)
        {
            if (!IsName(name)) { v.Fail(NameRule($"dimensions key '{name}'")); continue; }
            CheckValue(v, $"dimensions.{name}", value);
        }
        return dimensions.Count == 0 ? null : new SortedDictionary<string, string>(dimensions, StringComparer.Ordinal);
    }

    static void CheckValue(Validator v, string field, string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxValueLength) v.Fail($"{field} must be 1 to {MaxValueLength} characters");
        // Values become CSV cells, e-mail lines and report keys.
        else if (value.Any(char.IsControl)) v.Fail($"{field} contains control characters");
    }

    /// <summary>The caps as checked; an empty list clears the wallet's caps, null keeps them.</summary>
    public static List<SpendCapDto>? Caps(Validator v, List<SpendCapRequest?>? caps)
    {
        if (caps is null) return null;
        if (caps.Count > MaxCaps) v.Fail($"spend_caps: at most {MaxCaps}");
        var checkedCaps = new List<SpendCapDto>();
        for (var i = 0; i < caps.Count; i++)
        {
            var field = $"spend_caps[{i}]";
            if (caps[i] is not { } cap) { v.Fail($"{field} is not a cap"); continue; }
            if (!IsName(cap.Dimension)) v.Fail(NameRule($"{field}.dimension"));
            if (cap.Value is not null) CheckValue(v, $"{field}.value", cap.Value);
            var period = v.OneOf($"{field}.period", cap.Period, SpendPeriods.All);
            if (cap.Period is null) v.Fail($"{field}.period is required");
            var credits = v.Amount($"{field}.credits", cap.Credits, required: true);
            if (IsName(cap.Dimension) && period is not null && credits is not null) checkedCaps.Add(new SpendCapDto(cap.Dimension!, cap.Value, period, credits.Value));
        }
        if (checkedCaps.GroupBy(c => (c.Dimension, c.Value, c.Period)).Any(g => g.Count() > 1))
            v.Fail("spend_caps names the same dimension, value and period twice");
        return checkedCaps;
    }

    public static string? Serialize(IReadOnlyDictionary<string, string>? dimensions) => dimensions is null ? null : Json.Serialize(dimensions);

    public static Dictionary<string, string>? ReadDimensions(string? json) => json is null ? null : Json.Deserialize<Dictionary<string, string>>(json);

    public static string? SerializeCaps(List<SpendCapDto>? caps) => caps is null or { Count: 0 } ? null : Json.Serialize(caps);

    public static List<SpendCapDto>? ReadCaps(string? json) => json is null ? null : Json.Deserialize<List<SpendCapDto>>(json);

    public static IReadOnlyList<SpendCap> LedgerCaps(string? json) =>
        ReadCaps(json)?.Select(c => new SpendCap(c.Dimension, c.Value, c.Period, c.Credits)).ToList() ?? [];

    /// <summary>Pairs of dimension and value per statement: three parameters each, far under either database's limit.</summary>
    const int PairsPerRead = 300;

    /// <summary>
    /// What the <paramref name="pairs"/> (wallet, dimension, value) spent in the UTC day and month of <paramref name="now"/>, read
    /// under the wallets' locks: the month's day rows, summed here.
    /// </summary>
    public static async Task<Dictionary<(string Wallet, string Dimension, string Value), SpentSoFar>> SpentAsync(
        DbConnection c, DbTransaction tx, string tenantId, IReadOnlyCollection<(string Wallet, string Dimension, string Value)> pairs, DateTimeOffset now)
    {
        var spent = new Dictionary<(string, string, string), SpentSoFar>();
        var today = SpendPeriods.DayOf(now);
        foreach (var chunk in pairs.Chunk(PairsPerRead))
        {
            var args = new List<(string, object?)> { ("t", tenantId), ("month", SpendPeriods.MonthOf(now)) };
            var terms = chunk.Select((p, i) =>
            {
                args.AddRange([($"w{i}", p.Wallet), ($"d{i}", p.Dimension), ($"v{i}", p.Value)]);
                return $"(wallet_id = @w{i} AND dimension = @d{i} AND value = @v{i})";
            });
            var sql = $"SELECT wallet_id, dimension, value, day, credits FROM spend_by_dimension WHERE tenant_id = @t AND day >= @month AND ({string.Join(" OR ", terms)})";
            foreach (var (key, day, credits) in await c.QueryAsync(tx, sql, r => ((r.Str("wallet_id"), r.Str("dimension"), r.Str("value")), r.Time("day"), r.Dec("credits")), [.. args]))
            {
                var so = spent.GetValueOrDefault(key, SpentSoFar.None);
                spent[key] = new SpentSoFar(so.Day + (day == today ? credits : 0m), so.Month + credits);
            }
        }
        return spent;
    }

    /// <summary>Adds a posted debit to its dimension values' totals for its UTC day, in the debit's transaction.</summary>
    public static void Add(SqlBatch writes, Database db, string tenantId, string walletId, IReadOnlyDictionary<string, string> dimensions, decimal credits,
        decimal amount, DateTimeOffset now)
    {
        foreach (var (dimension, value) in dimensions)
            writes.Add(
                $"""
                INSERT INTO spend_by_dimension (tenant_id, wallet_id, dimension, value, day, credits, amount, debits)
                VALUES (@t, @w, @d, @v, @day, @c, @a, 1)
                ON CONFLICT (tenant_id, wallet_id, dimension, value, day)
                DO UPDATE SET credits = {db.ExactAdd("spend_by_dimension.credits", "excluded.credits")},
                    amount = {db.ExactAdd("spend_by_dimension.amount", "excluded.amount")}, debits = spend_by_dimension.debits + 1
                """,
                ("t", tenantId), ("w", walletId), ("d", dimension), ("v", value), ("day", SpendPeriods.DayOf(now)), ("c", credits), ("a", amount));
    }
}
