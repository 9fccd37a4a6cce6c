using Coffer.Common;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Alerts;

/// <summary>What an alert is about: the wallet's balance (a change of its alert state) or credits about to expire.</summary>
public static class AlertKinds
{
    public const string Balance = "balance";
    public const string CreditsExpiring = "credits_expiring";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Balance, CreditsExpiring };
}

/// <param name="Kind">balance (the default) or credits_expiring: a search lists one kind, so a client that knows only balance alerts sees only them.</param>
public sealed record AlertFilter(string? WalletId, string? CustomerId, string? State, int? Limit, int? Offset, string? Kind = null);

/// <param name="EmailStatus">pending, sending, sent, not_configured (nobody to mail, or no SMTP server) or failed.</param>
/// <param name="EmailRecipients">Who the alert was mailed to, once sent: the merchant's addresses and, where the wallet asks, the customer's.</param>
/// <param name="Kind">balance or credits_expiring. A credits_expiring alert changes no state (previous_state and state are the wallet's alert
/// state then) and its available_balance is the value of the credits expiring, in the wallet's currency.</param>
/// <param name="TransactionId">credits_expiring: the lot (its credit transaction) whose credits expire.</param>
/// <param name="Credits">credits_expiring: the credits left in the lot when it was warned of.</param>
/// <param name="ExpiryDate">credits_expiring: when they expire.</param>
public sealed record AlertDto(string Id, string WalletId, string CustomerId, string PreviousState, string State, decimal AvailableBalance,
    string Currency, DateTimeOffset CreatedAt, string EmailStatus, List<string> EmailRecipients, string Kind = AlertKinds.Balance,
    string? TransactionId = null, decimal? Credits = null, DateTimeOffset? ExpiryDate = null);

/// <summary>The log of alerts of one kind, newest first (<c>POST /v1/alerts/search</c>).</summary>
public static class AlertApi
{
    public static void MapAlerts(this RouteGroupBuilder v1) =>
        v1.MapPost("/alerts/search", Search).WithTags("Alerts").WithName("searchAlerts")
            .WithSummary("The alert log, newest first: balance alerts (state changes), or with kind credits_expiring the warnings before credits expire");

    static async Task<Results<Ok<ListResponse<AlertDto>>, ApiError>> Search(Tenant tenant, AlertFilter? filter, AlertStore alerts)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(filter?.Limit, filter?.Offset);
        var kind = v.OneOf("kind", filter?.Kind ?? AlertKinds.Balance, AlertKinds.All);
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await alerts.SearchAsync(tenant.Id, kind!, filter?.WalletId, filter?.CustomerId, filter?.State, limit, offset));
    }
}
