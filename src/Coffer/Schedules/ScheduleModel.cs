using System.Data.Common;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Schedules;

public static class ScheduleTypes
{
    /// <summary>Credits added every period (a plan's monthly allowance).</summary>
    public const string Grant = "grant";
    /// <summary>Credits, or an amount of the wallet's currency, debited every period (a subscription fee).</summary>
    public const string Charge = "charge";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Grant, Charge };
}

public static class ScheduleStatuses
{
    public const string Active = "active";
    public const string Cancelled = "cancelled";
    /// <summary>Past its end_at, or its wallet was closed: no period is left to run.</summary>
    public const string Ended = "ended";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Active, Cancelled, Ended };
}

public static class ScheduleRunStatuses
{
    public const string Succeeded = "succeeded";
    /// <summary>The ledger refused the period's entry (a charge the wallet cannot pay, a wallet frozen or closed).</summary>
    public const string Failed = "failed";
    /// <summary>A grant expiring at its period's end whose period had ended before it ran (after downtime).</summary>
    public const string Skipped = "skipped";
}

public sealed record CreateScheduleRequest
{
    public string? Type { get; init; }
    public decimal? Credits { get; init; }
    public decimal? Amount { get; init; }
    public bool? ExpireAtPeriodEnd { get; init; }
    public int? Priority { get; init; }
    public string? TransactionReason { get; init; }
    public string? Interval { get; init; }
    public int? IntervalCount { get; init; }
    public string? StartAt { get; init; }
    public string? EndAt { get; init; }
    public string? Description { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>A schedule as validated; a grant without <see cref="Priority"/> takes the tenant's <c>grant_priorities.plan</c>.</summary>
public sealed record ScheduleOrder(string Type, decimal? Credits, decimal? Amount, bool ExpireAtPeriodEnd, int? Priority, string Reason, string Interval,
    int IntervalCount, DateTimeOffset StartAt, DateTimeOffset? EndAt, string? Description, Dictionary<string, string> Metadata, IdempotencyClaim? Claim);

public sealed record ScheduleRunDto(int PeriodIndex, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, string Status, decimal? Credits,
    string? TransactionId, string? Reason, DateTimeOffset CreatedAt);

/// <summary>A schedule as the API shows it; <see cref="RecentRuns"/> (newest first) only when one schedule is read, null in lists.</summary>
public sealed record ScheduleDto(string Id, string WalletId, string Type, decimal? Credits, decimal? Amount, bool ExpireAtPeriodEnd, int? Priority,
    string TransactionReason, string Interval, int IntervalCount, DateTimeOffset StartAt, DateTimeOffset? EndAt, string? Description,
    Dictionary<string, string> Metadata, string Status, DateTimeOffset? NextRunAt, DateTimeOffset? LastRunAt, int RunCount, DateTimeOffset? CancelledAt,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, IReadOnlyList<ScheduleRunDto>? RecentRuns = null);

/// <summary>What a schedule operation answers.</summary>
public abstract record ScheduleOutcome
{
    private ScheduleOutcome() { }
    public sealed record Done(ScheduleDto Schedule) : ScheduleOutcome;
    public sealed record Replayed(StoredAnswer Answer) : ScheduleOutcome;
    public sealed record Refused(ScheduleRefusal Why) : ScheduleOutcome;
}

public abstract record ScheduleRefusal
{
    private ScheduleRefusal() { }
    public sealed record NotFound(string What) : ScheduleRefusal;
    public sealed record WalletClosed : ScheduleRefusal;
    /// <summary>Cancelling a schedule that has already ended: there is nothing left to stop.</summary>
    public sealed record AlreadyEnded(string Id) : ScheduleRefusal;
    public sealed record KeyUsed(IdempotencyCheck Check) : ScheduleRefusal;
}

/// <summary>
/// The checks of a new schedule, for the API and the dashboard's form alike, so a form refuses exactly what the API
/// refuses.
/// </summary>
public static class ScheduleOrders
{
    /// <summary>How far in the past start_at may lie: a clock a little behind, or a day picked in the dashboard, is not refused.</summary>
    public static readonly TimeSpan MaxBackdating = TimeSpan.FromDays(1);
    public const int MaxYearsAhead = 10;

    static readonly IReadOnlySet<string> GrantReasons = new HashSet<string> { Reasons.FreeCreditGrant, Reasons.PurchasedCreditDirect };

    public static ScheduleOrder? Create(Validator v, string walletId, CreateScheduleRequest body, string? headerKey, DateTimeOffset now)
    {
        if (body.Type is null) v.Fail("type is required");
        var type = v.OneOf("type", body.Type, ScheduleTypes.All);
        var credits = v.Amount("credits", body.Credits);
        var amount = v.Amount("amount", body.Amount);
        var reason = Reasons.FreeCreditGrant;
        if (type == ScheduleTypes.Grant)
        {
            if (body.Credits is null) v.Fail("credits is required for a grant");
            if (body.Amount is not null) v.Fail("a grant takes credits, not amount");
            reason = v.OneOf("transaction_reason", body.TransactionReason, GrantReasons) ?? Reasons.FreeCreditGrant;
        }
        else if (type == ScheduleTypes.Charge)
        {
            if ((body.Credits is null) == (body.Amount is null)) v.Fail("a charge takes either credits or amount");
            if (body.ExpireAtPeriodEnd == true) v.Fail("expire_at_period_end is for grants");
            if (body.Priority is not null) v.Fail("priority is for grants");
            reason = v.OneOf("transaction_reason", body.TransactionReason, Reasons.ApiDebit) ?? Reasons.ManualBalanceDebit;
        }
        if (body.Interval is null) v.Fail("interval is required");
        var interval = v.OneOf("interval", body.Interval, ScheduleIntervals.All);
        var count = body.IntervalCount ?? 1;
        if (count is < 1 or > ScheduleIntervals.MaxCount) v.Fail($"interval_count must be between 1 and {ScheduleIntervals.MaxCount}");
        var priority = v.Priority("priority", body.Priority);
        var givenStart = v.Time("start_at", body.StartAt);
        var start = givenStart ?? now;
        if (start < now - MaxBackdating) v.Fail("start_at must not be more than a day in the past");
        if (start > now.AddYears(MaxYearsAhead)) v.Fail($"start_at must be within {MaxYearsAhead} years");
        var end = v.Time("end_at", body.EndAt);
        if (end is not null && end <= start) v.Fail("end_at must be after start_at");
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        v.Metadata("metadata", body.Metadata);
        var key = WalletOrders.Key(v, body.IdempotencyKey, headerKey, required: false);
        if (!v.Ok) return null;
        // The start as given, not as defaulted: a retry a second later must still be the same request.
        var request = new
        {
            wallet = walletId, type, credits, amount, expire = body.ExpireAtPeriodEnd == true, priority, reason, interval, count, start = givenStart, end,
            description, metadata = body.Metadata,
        };
        return new ScheduleOrder(type!, credits, amount, body.ExpireAtPeriodEnd == true, priority, reason, interval!, count, start, end, description,
            body.Metadata ?? [], IdempotencyClaim.For(key, "create-schedule", request));
    }
}

/// <summary>The rows of <c>wallet_schedules</c> and <c>wallet_schedule_runs</c>.</summary>
static class ScheduleRows
{
    public const string Columns =
        "tenant_id, id, wallet_id, type, credits, amount, expire_at_period_end, priority, transaction_reason, interval_unit, interval_count, start_at, " +
        "end_at, description, metadata, status, run_count, next_run_at, last_run_at, cancelled_at, created_at, updated_at";

    public static ScheduleDto Read(DbDataReader r) => new(r.Str("id"), r.Str("wallet_id"), r.Str("type"), NDec(r, "credits"), NDec(r, "amount"),
        r.NInt("expire_at_period_end") == 1, r.NInt("priority"), r.Str("transaction_reason"), r.Str("interval_unit"), r.NInt("interval_count") ?? 1,
        r.Time("start_at"), r.NTime("end_at"), r.NStr("description"), Json.Deserialize<Dictionary<string, string>>(r.Str("metadata")) ?? [],
        r.Str("status"), r.NTime("next_run_at"), r.NTime("last_run_at"), r.NInt("run_count") ?? 0, r.NTime("cancelled_at"), r.Time("created_at"),
        r.Time("updated_at"));

    public const string RunColumns = "period_index, period_start, period_end, status, credits, transaction_id, reason, created_at";

    public static ScheduleRunDto ReadRun(DbDataReader r) => new(r.NInt("period_index") ?? 0, r.Time("period_start"), r.Time("period_end"), r.Str("status"),
        NDec(r, "credits"), r.NStr("transaction_id"), r.NStr("reason"), r.Time("created_at"));

    static decimal? NDec(DbDataReader r, string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.Dec(column);
}
