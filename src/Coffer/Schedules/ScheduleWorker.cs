using Coffer.Hosting;
using Coffer.Storage;

namespace Coffer.Schedules;

/// <summary>
/// Leases schedules whose next period is due (the one lease of every queue, <see cref="Leases"/>) and runs their due
/// periods in order, oldest first, at most <see cref="MaxPeriodsPerLease"/> per schedule and round so that one
/// schedule with years of missed days cannot hold a round; the rest follow in the next rounds at once. Exactly once per
/// period comes from <see cref="WalletSchedules.RunNextPeriodAsync"/>, not from the lease: the lease only keeps nodes
/// from queueing behind each other's locks.
/// </summary>
public sealed class ScheduleWorker(Database db, WalletSchedules schedules, Leases leases, TimeProvider clock, CofferOptions options,
    ILogger<ScheduleWorker> log) : PollingWorker
{
    public const int Batch = 20;
    public const int Share = 10;
    public const int MaxPeriodsPerLease = 50;

    /// <summary>A schedule whose round failed keeps its lease until it runs out: that is its back-off.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    bool _backlog;

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.SchedulePoll;
    protected override bool MoreDue(int taken) => taken >= Batch || _backlog;

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        LeaseToken lease;
        List<(string Tenant, string Id)> due;
        await using (var scope = await db.BeginWriteAsync(ct))
        {
            (lease, due) = await leases.TakeAsync(scope, db.Kind, "wallet_schedules", $"status = '{ScheduleStatuses.Active}' AND next_run_at <= @now",
                "next_run_at", Share, Batch, now, Lease, null, "tenant_id, id", r => (r.Str("tenant_id"), r.Str("id")));
            await scope.CommitAsync(ct);
        }
        _backlog = false;
        foreach (var (tenant, id) in due)
        {
            try
            {
                var ran = 0;
                while (ran < MaxPeriodsPerLease && await schedules.RunNextPeriodAsync(tenant, id, ct)) ran++;
                if (ran == MaxPeriodsPerLease) _backlog = true;
                await schedules.ReleaseAsync(tenant, id, lease);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogError(e, "schedule {Schedule} of tenant {Tenant} failed; it is tried again when its lease runs out", id, tenant);
            }
        }
        return due.Count;
    }
}
