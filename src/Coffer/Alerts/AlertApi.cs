using Coffer.Common;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Alerts;

public sealed record AlertFilter(string? WalletId, string? CustomerId, string? State, int? Limit, int? Offset);

/// <param name="EmailStatus">pending, sending, sent, not_configured (nobody to mail, or no SMTP server) or failed.</param>
/// <param name="EmailRecipients">Who the alert was mailed to, once sent: the merchant's addresses and, where the wallet asks, the customer's.</param>
public sealed record AlertDto(string Id, string WalletId, string CustomerId, string PreviousState, string State, decimal AvailableBalance,
    string Currency, DateTimeOffset CreatedAt, string EmailStatus, List<string> EmailRecipients);

/// <summary>The log of alert state changes, newest first (<c>POST /v1/alerts/search</c>).</summary>
public static class AlertApi
{
    public static void MapAlerts(this RouteGroupBuilder v1) =>
        v1.MapPost("/alerts/search", Search).WithTags("Alerts").WithName("searchAlerts");

    static async Task<Results<Ok<ListResponse<AlertDto>>, ApiError>> Search(Tenant tenant, AlertFilter? filter, AlertStore alerts)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(filter?.Limit, filter?.Offset);
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await alerts.SearchAsync(tenant.Id, filter?.WalletId, filter?.CustomerId, filter?.State, limit, offset));
    }
}
