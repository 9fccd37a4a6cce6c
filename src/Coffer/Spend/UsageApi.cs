using System.Globalization;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Spend;

/// <summary>What the debits carrying one value of the dimension spent over the report's days.</summary>
public sealed record UsageGroupDto(string Value, decimal Credits, decimal Amount, long Debits);

/// <summary>
/// A wallet's spend by one dimension over whole UTC days <c>from</c> to <c>to</c>, both included: a group per value, the most
/// spent first (at most <see cref="UsageApi.MaxGroups"/>; the totals count every value). Only debits that carry the dimension are in it.
/// </summary>
public sealed record UsageDto(
    string WalletId, string GroupBy, string From, string To, string Currency, decimal TotalCredits, decimal TotalAmount, long TotalDebits,
    bool HasMore, IReadOnlyList<UsageGroupDto> Items);

public static class UsageApi
{
    public const int MaxGroups = 1000;
    public const int MaxDays = 366;

    public static void MapUsage(this RouteGroupBuilder wallets) =>
        wallets.MapGet("/{id}/usage", Get).WithName("getWalletUsage")
            .WithSummary("Coffer: the wallet's spend by one dimension of its debits (group_by=member…) over UTC days from..to, both included");

    /// <param name="groupBy">The dimension to group by, as debits name it (<c>member</c>, <c>project</c>…).</param>
    /// <param name="from">The first UTC day (YYYY-MM-DD). Default: the first day of this month.</param>
    /// <param name="to">The last UTC day (YYYY-MM-DD), included. Default: today.</param>
    static async Task<Results<Ok<UsageDto>, ApiError>> Get(Tenant tenant, string id, WalletStore wallets, Database db, TimeProvider clock,
        [FromQuery(Name = "group_by")] string? groupBy = null, string? from = null, string? to = null)
    {
        var v = new Validator();
        if (groupBy is null) v.Fail("group_by is required: the dimension to group the spend by");
        else if (!SpendAttribution.IsName(groupBy)) v.Fail("group_by must be a dimension name: 1 to 40 lower-case letters, digits or _, starting with a letter");
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var last = Day(v, "to", to) ?? today;
        var first = Day(v, "from", from) ?? new DateOnly(last.Year, last.Month, 1);
        if (first > last) v.Fail("from must not be after to");
        else if (last.DayNumber - first.DayNumber + 1 > MaxDays) v.Fail($"at most {MaxDays} days per report");
        if (!v.Ok) return v.Error();
        var wallet = await wallets.GetAsync(tenant.Id, id);
        if (wallet is null) return ApiError.NotFound("wallet");

        await using var c = await db.OpenAsync();
        var groups = await c.QueryAsync(null,
            $"""
            SELECT value, {db.ExactSum("credits")} AS credits, {db.ExactSum("amount")} AS amount, SUM(debits) AS debits FROM spend_by_dimension
            WHERE tenant_id = @t AND wallet_id = @w AND dimension = @d AND day >= @from AND day <= @to
            GROUP BY value
            """,
            r => new UsageGroupDto(r.Str("value"), r.Dec("credits"), r.Dec("amount"), r.Long("debits")),
            ("t", tenant.Id), ("w", id), ("d", groupBy), ("from", Start(first)), ("to", Start(last)));
        var items = groups.OrderByDescending(g => g.Credits).ThenBy(g => g.Value, StringComparer.Ordinal).Take(MaxGroups).ToList();
        return TypedResults.Ok(new UsageDto(id, groupBy!, Text(first), Text(last), wallet.Currency, groups.Sum(g => g.Credits), groups.Sum(g => g.Amount),
            groups.Sum(g => g.Debits), groups.Count > MaxGroups, items));
    }

    static DateOnly? Day(Validator v, string field, string? value)
    {
        if (value is null) return null;
        if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)) return day;
        v.Fail($"{field} must be a date written YYYY-MM-DD (a UTC day)");
        return null;
    }

    static DateTimeOffset Start(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    static string Text(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
