using Coffer.Common;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Analytics;

/// <summary>Credits consumed, top-ups, time to payment and pending purchases, for the tenant or one wallet.</summary>
public static class AnalyticsApi
{
    const string Ranges =
        "Range [from, to) in buckets of interval day, week or month (UTC; edges at midnights, Mondays, firsts of the month; the first and last " +
        "clipped to the range); to defaults to the next UTC midnight and from to 30 days before to; at most 366 buckets. Consumption is " +
        "completed debits split by the lots they drew from (free or purchased) plus overdraft still owed; expiry is counted apart " +
        "(credits_expired), wallet terminations not at all. Top-ups count when their credits arrived. time_to_payment covers invoiced " +
        "purchases paid in the range; pending_purchases is as of generated_at. One series per unit of credit (wallet currency and credit currency).";

    public static void MapAnalytics(this RouteGroupBuilder v1)
    {
        v1.MapGet("/analytics/wallets", Tenant).WithTags("Analytics").WithName("getWalletsAnalytics")
            .WithSummary("Usage, top-ups and payment behaviour across the tenant's wallets, one series per unit of credit, optionally of one ISO currency")
            .WithDescription(Ranges);
        v1.MapGet("/wallets/{id}/analytics", Wallet).WithTags("Analytics").WithName("getWalletAnalytics")
            .WithSummary("Usage, top-ups and payment behaviour of one wallet")
            .WithDescription(Ranges);
    }

    static async Task<Results<Ok<AnalyticsReport>, ApiError>> Tenant(Tenant tenant, WalletAnalytics analytics, TimeProvider clock, string? from,
        string? to, string? interval, string? currency) =>
        await Answer(analytics, clock, tenant.Id, null, from, to, interval, currency);

    static async Task<Results<Ok<AnalyticsReport>, ApiError>> Wallet(Tenant tenant, string id, WalletAnalytics analytics, TimeProvider clock,
        string? from, string? to, string? interval) =>
        await Answer(analytics, clock, tenant.Id, id, from, to, interval, null);

    static async Task<Results<Ok<AnalyticsReport>, ApiError>> Answer(WalletAnalytics analytics, TimeProvider clock, string tenantId, string? walletId,
        string? from, string? to, string? interval, string? currency)
    {
        var v = new Validator();
        var request = AnalyticsRequest.Parse(v, tenantId, walletId, from, to, interval, currency, clock.GetUtcNow());
        if (request is null) return v.Error();
        return await analytics.ReportAsync(request) switch
        {
            AnalyticsOutcome.Report r => TypedResults.Ok(r.Value),
            AnalyticsOutcome.WalletNotFound => ApiError.NotFound("wallet"),
            var other => throw new InvalidOperationException($"unexpected analytics outcome {other}"),
        };
    }
}
