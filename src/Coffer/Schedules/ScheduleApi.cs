using Coffer.Common;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Schedules;

/// <summary>
/// <c>/v1/wallets/{id}/schedules</c>: recurring grants (Flexprice's recurring credit grants) and charges (a subscription fee
/// paid from the wallet, Lago's recurring transaction rules) on one wallet, run by <see cref="ScheduleWorker"/> once per period.
/// </summary>
public static class ScheduleApi
{
    public static void MapSchedules(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/wallets/{id}/schedules").WithTags("Wallet schedules");
        g.MapPost("/", Create).WithName("createWalletSchedule")
            .WithSummary("Schedules a recurring grant of credits or a recurring charge (credits, or an amount converted at the wallet's conversion_rate)")
            .WithDescription("Period n starts at start_at + n × interval_count intervals, counted from start_at: a monthly schedule starting on the 31st runs " +
                             "on the last day of shorter months. Each period runs exactly once; a charge the wallet cannot pay is recorded as a failed run " +
                             "(event wallet.schedule_charge_failed) and the schedule moves on. A closed wallet is refused (wallet_not_active).");
        g.MapGet("/", List).WithName("listWalletSchedules").WithSummary("The wallet's schedules, newest first");
        g.MapGet("/{scheduleId}", Get).WithName("getWalletSchedule").WithSummary("One schedule with next_run_at, last_run_at and its recent runs");
        g.MapPost("/{scheduleId}/cancel", Cancel).WithName("cancelWalletSchedule")
            .WithSummary("Stops the schedule for good: no period runs after the cancellation commits, even one a worker had already leased");
    }

    static async Task<Results<Created<ScheduleDto>, JsonReplay, ApiError>> Create(Tenant tenant, string id, CreateScheduleRequest body,
        WalletSchedules schedules, TimeProvider clock, HttpRequest http)
    {
        var v = new Validator();
        var order = ScheduleOrders.Create(v, id, body, WalletApi.HeaderKey(http), clock.GetUtcNow());
        if (order is null) return v.Error();
        return await schedules.CreateAsync(tenant.Id, id, order) switch
        {
            ScheduleOutcome.Done d => TypedResults.Created($"/v1/wallets/{id}/schedules/{d.Schedule.Id}", d.Schedule),
            ScheduleOutcome.Replayed r => new JsonReplay(r.Answer),
            ScheduleOutcome.Refused f => Refusal(f.Why),
            var other => throw new InvalidOperationException($"unexpected outcome {other}"),
        };
    }

    static async Task<Results<Ok<ListResponse<ScheduleDto>>, ApiError>> List(Tenant tenant, string id, WalletSchedules schedules, WalletStore wallets,
        int? limit, int? offset, string? status)
    {
        var v = new Validator();
        var (n, skip) = v.Page(limit, offset);
        var wanted = v.OneOf("status", status, ScheduleStatuses.All);
        if (!v.Ok) return v.Error();
        if (await wallets.GetAsync(tenant.Id, id) is null) return ApiError.NotFound("wallet");
        var (items, total) = await schedules.ListAsync(tenant.Id, id, wanted, n, skip);
        return TypedResults.Ok(new ListResponse<ScheduleDto>(items, new Pagination(total, n, skip)));
    }

    static async Task<Results<Ok<ScheduleDto>, ApiError>> Get(Tenant tenant, string id, string scheduleId, WalletSchedules schedules) =>
        await schedules.GetAsync(tenant.Id, id, scheduleId) is { } s ? TypedResults.Ok(s) : ApiError.NotFound("schedule");

    static async Task<Results<Ok<ScheduleDto>, ApiError>> Cancel(Tenant tenant, string id, string scheduleId, WalletSchedules schedules) =>
        await schedules.CancelAsync(tenant.Id, id, scheduleId) switch
        {
            ScheduleOutcome.Done d => TypedResults.Ok(d.Schedule),
            ScheduleOutcome.Refused f => Refusal(f.Why),
            var other => throw new InvalidOperationException($"unexpected outcome {other}"),
        };

    /// <summary>The one mapping of a schedule refusal to the error envelope; the dashboard shows its message.</summary>
    public static ApiError Refusal(ScheduleRefusal why) => why switch
    {
        ScheduleRefusal.NotFound n => ApiError.NotFound(n.What),
        ScheduleRefusal.WalletClosed => WalletApi.NotActive(Ledger.WalletStatuses.Closed),
        ScheduleRefusal.AlreadyEnded e => ApiError.Conflict(ErrorCodes.Conflict, $"schedule {e.Id} has already ended; there is nothing left to cancel"),
        ScheduleRefusal.KeyUsed k => Idempotency.Refusal(k.Check)!,
        _ => throw new InvalidOperationException($"unexpected schedule refusal {why}"),
    };
}
