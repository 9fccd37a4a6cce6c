using Coffer.Common;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Alerts;

public sealed record AlertFilter(string? WalletId, string? CustomerId, string? State, int? Limit, int? Offset);

public sealed record AlertDto(string Id, string WalletId, string CustomerId, string PreviousState, string State, decimal AvailableBalance,
    string Currency, DateTimeOffset CreatedAt);

/// <summary>The log of alert state changes, newest first (<c>POST /v1/alerts/search</c>).</summary>
public static class AlertApi
{
    public static void MapAlerts(this RouteGroupBuilder v1) =>
        v1.MapPost("/alerts/search", Search).WithTags("Alerts").WithName("searchAlerts");

    internal static async Task<Results<Ok<ListResponse<AlertDto>>, ApiError>> Search(Tenant tenant, AlertFilter? filter, Database db)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(filter?.Limit, filter?.Offset);
        if (!v.Ok) return v.Error();
        var where = new List<string> { "tenant_id = @t" };
        var args = new List<(string, object?)> { ("t", tenant.Id) };
        if (filter?.WalletId is { } w) { where.Add("wallet_id = @w"); args.Add(("w", w)); }
        if (filter?.CustomerId is { } c) { where.Add("customer_id = @c"); args.Add(("c", c)); }
        if (filter?.State is { } s) { where.Add("state = @s"); args.Add(("s", s)); }
        var sql = string.Join(" AND ", where);
        await using var conn = await db.OpenAsync();
        var total = await conn.ScalarLongAsync(null, $"SELECT COUNT(*) FROM alerts WHERE {sql}", args.ToArray());
        var items = await conn.QueryAsync(null,
            $"""
            SELECT id, wallet_id, customer_id, previous_state, state, available_balance, currency, created_at FROM alerts
            WHERE {sql} ORDER BY created_at DESC, id DESC LIMIT @l OFFSET @o
            """,
            r => new AlertDto(r.Str("id"), r.Str("wallet_id"), r.Str("customer_id"), r.Str("previous_state"), r.Str("state"),
                r.Dec("available_balance"), r.Str("currency"), r.Time("created_at")),
            [.. args, ("l", limit), ("o", offset)]);
        return TypedResults.Ok(new ListResponse<AlertDto>(items, new Pagination(total, limit, offset)));
    }
}
