using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Schedules;

/// <summary>
/// Recurring grants and charges on a wallet: create, read, cancel, and run one period. A period runs in one
/// transaction that locks the schedule, decides from what it reads under that lock (so a cancel committed after a
/// worker leased the row still stops it), posts the period's entry through the wallet's one write path, records the
/// run (one row per schedule and period: the primary key makes a second run of a period impossible, whichever node
/// or retry attempts it) and moves the schedule to its next period. A crash before the commit leaves the period to
/// run again; a crash after it leaves the schedule already moved on.
/// </summary>
public sealed class WalletSchedules(Database db, Ids ids, TimeProvider clock, WalletWriter writer, OutboxWriter outbox, TenantSettings settings)
{
    public const int RecentRuns = 20;
    public const string ReferenceType = "WALLET_SCHEDULE";

    public async Task<ScheduleOutcome> CreateAsync(string tenantId, string walletId, ScheduleOrder order, CancellationToken ct = default)
    {
        var priority = order.Type == ScheduleTypes.Grant ? await settings.GrantPriorityAsync(tenantId, GrantSources.Plan, order.Priority) : null;
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync(ct);
        var (c, tx) = (scope.Connection, scope.Transaction);
        // A shared lock on the wallet: a termination (which locks it for update) either committed before and is seen
        // here, or waits until this schedule exists, and then the schedule ends at its first period.
        LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey(tenantId, walletId));
        var status = await c.QuerySingleAsync(tx, $"SELECT wallet_status FROM wallets WHERE tenant_id = @t AND id = @w{db.ForShare}",
            r => r.Str("wallet_status"), ("t", tenantId), ("w", walletId));
        if (status is null) return new ScheduleOutcome.Refused(new ScheduleRefusal.NotFound("wallet"));
        if (order.Claim is { } claim)
        {
            var check = await Idempotency.ClaimAsync(c, tx, tenantId, claim, now);
            if (check is IdempotencyCheck.Replay replay) return new ScheduleOutcome.Replayed(replay.Answer);
            if (check is not IdempotencyCheck.Claimed) return new ScheduleOutcome.Refused(new ScheduleRefusal.KeyUsed(check));
        }
        if (status == WalletStatuses.Closed) return new ScheduleOutcome.Refused(new ScheduleRefusal.WalletClosed());

        var schedule = new ScheduleDto(ids.New("wsch"), walletId, order.Type, order.Credits, order.Amount, order.ExpireAtPeriodEnd, priority, order.Reason,
            order.Interval, order.IntervalCount, order.StartAt, order.EndAt, order.Description, order.Metadata, ScheduleStatuses.Active, order.StartAt,
            null, 0, null, now, now);
        var writes = new SqlBatch();
        writes.Add(
            $"""
            INSERT INTO wallet_schedules ({ScheduleRows.Columns})
            VALUES (@t, @id, @w, @type, @credits, @amount, @expire, @priority, @reason, @interval, @count, @start, @end, @description, @metadata,
                @status, 0, @next, NULL, NULL, @now, @now)
            """,
            ("t", tenantId), ("id", schedule.Id), ("w", walletId), ("type", schedule.Type), ("credits", schedule.Credits), ("amount", schedule.Amount),
            ("expire", schedule.ExpireAtPeriodEnd), ("priority", priority), ("reason", schedule.TransactionReason), ("interval", schedule.Interval),
            ("count", schedule.IntervalCount), ("start", schedule.StartAt), ("end", schedule.EndAt), ("description", schedule.Description),
            ("metadata", Json.Serialize(schedule.Metadata)), ("status", schedule.Status), ("next", schedule.NextRunAt), ("now", now));
        if (order.Claim is { } done) Idempotency.Complete(writes, tenantId, done, StoredAnswer.Of(201, schedule));
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        return new ScheduleOutcome.Done(schedule);
    }

    public async Task<(List<ScheduleDto> Items, long Total)> ListAsync(string tenantId, string walletId, string? status, int limit, int offset)
    {
        await using var c = await db.OpenAsync();
        var filter = status is null ? "" : " AND status = @s";
        var args = new List<(string, object?)> { ("t", tenantId), ("w", walletId) };
        if (status is not null) args.Add(("s", status));
        var total = await c.ScalarLongAsync(null, $"SELECT COUNT(*) FROM wallet_schedules WHERE tenant_id = @t AND wallet_id = @w{filter}", [.. args]);
        var items = await c.QueryAsync(null,
            $"SELECT {ScheduleRows.Columns} FROM wallet_schedules WHERE tenant_id = @t AND wallet_id = @w{filter} ORDER BY created_at DESC, id DESC LIMIT @n OFFSET @o",
            ScheduleRows.Read, [.. args, ("n", limit), ("o", offset)]);
        return (items, total);
    }

    /// <summary>One schedule with its latest runs, newest first.</summary>
    public async Task<ScheduleDto?> GetAsync(string tenantId, string walletId, string id)
    {
        await using var c = await db.OpenAsync();
        var schedule = await c.QuerySingleAsync(null,
            $"SELECT {ScheduleRows.Columns} FROM wallet_schedules WHERE tenant_id = @t AND wallet_id = @w AND id = @id", ScheduleRows.Read,
            ("t", tenantId), ("w", walletId), ("id", id));
        if (schedule is null) return null;
        var runs = await c.QueryAsync(null,
            $"SELECT {ScheduleRows.RunColumns} FROM wallet_schedule_runs WHERE tenant_id = @t AND schedule_id = @id ORDER BY period_index DESC LIMIT @n",
            ScheduleRows.ReadRun, ("t", tenantId), ("id", id), ("n", RecentRuns));
        return schedule with { RecentRuns = runs };
    }

    /// <summary>
    /// Stops the schedule for good under its lock: a worker that leased it before reads the cancellation when it locks
    /// it to run a period. Cancelling a cancelled schedule answers it as it is; an ended one is refused.
    /// </summary>
    public async Task<ScheduleOutcome> CancelAsync(string tenantId, string walletId, string id, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync(ct);
        var (c, tx) = (scope.Connection, scope.Transaction);
        var schedule = await LockAsync(scope, tenantId, id);
        if (schedule is null || schedule.WalletId != walletId) return new ScheduleOutcome.Refused(new ScheduleRefusal.NotFound("schedule"));
        if (schedule.Status == ScheduleStatuses.Cancelled) return new ScheduleOutcome.Done(schedule);
        if (schedule.Status == ScheduleStatuses.Ended) return new ScheduleOutcome.Refused(new ScheduleRefusal.AlreadyEnded(id));
        await c.ExecAsync(tx,
            "UPDATE wallet_schedules SET status = @s, cancelled_at = @now, next_run_at = NULL, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("s", ScheduleStatuses.Cancelled), ("now", now), ("t", tenantId), ("id", id));
        await scope.CommitAsync(ct);
        return new ScheduleOutcome.Done(schedule with { Status = ScheduleStatuses.Cancelled, CancelledAt = now, NextRunAt = null, UpdatedAt = now });
    }

    async Task<ScheduleDto?> LockAsync(WriteScope scope, string tenantId, string id)
    {
        LockOrder.Take(scope.Transaction, LockOrder.Level.Schedule, tenantId + "/" + id);
        return await scope.Connection.QuerySingleAsync(scope.Transaction,
            $"SELECT {ScheduleRows.Columns} FROM wallet_schedules WHERE tenant_id = @t AND id = @id{db.ForUpdate}", ScheduleRows.Read,
            ("t", tenantId), ("id", id));
    }

    /// <summary>
    /// Runs the schedule's next period if it is due now, and returns whether it ran one. Periods missed while no worker
    /// ran (downtime) are run one call each, oldest first, each exactly once: a fee is owed for every period, and a grant
    /// that does not expire is still the customer's. A grant that expires at its period's end and whose period has
    /// already ended is recorded as skipped: its credits would expire the moment they arrived. A period the ledger
    /// refuses (a charge the wallet cannot pay, a frozen wallet) is recorded as failed with the reason, a charge's
    /// failure is told as <c>wallet.schedule_charge_failed</c>, and the schedule moves on to its next period: the failed
    /// period is not retried, so a wallet that cannot pay sees one failure per period, not a storm of them.
    /// </summary>
    public async Task<bool> RunNextPeriodAsync(string tenantId, string id, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync(ct);
        var (c, tx) = (scope.Connection, scope.Transaction);
        var s = await LockAsync(scope, tenantId, id);
        if (s is not { Status: ScheduleStatuses.Active, NextRunAt: { } due } || due > now) return false;

        var index = s.RunCount;
        var (start, end) = SchedulePeriods.Period(s.StartAt, s.Interval, s.IntervalCount, index);
        var writes = new SqlBatch();
        string status, reason;
        string? transactionId = null;
        var credits = s.Credits;
        var walletGone = false;
        if (s.Type == ScheduleTypes.Grant && s.ExpireAtPeriodEnd && end <= now)
            (status, reason) = (ScheduleRunStatuses.Skipped, "the period had ended before it ran; its credits would have expired at once");
        else
        {
            var (results, _) = await writer.ExecuteInAsync(c, tx, [new WalletWriter.Pending(tenantId, s.WalletId, Operation(s, index, end))], ct);
            switch (results[0])
            {
                case WriteResult.Applied a:
                    (status, reason, transactionId, credits) = (ScheduleRunStatuses.Succeeded, "", a.Entries[0].Id, a.Entries[0].CreditAmount);
                    break;
                case WriteResult.Replayed:
                    // The period's entry is in the ledger already (its key says so): the period ran.
                    (status, reason) = (ScheduleRunStatuses.Succeeded, "posted before");
                    break;
                case WriteResult.Refused { Why: var why }:
                    walletGone = why is WalletRefusal.NotFound or WalletRefusal.Rejected { Outcome: CommandOutcome.WalletNotActive { Status: WalletStatuses.Closed } };
                    (status, reason) = (ScheduleRunStatuses.Failed, WalletApi.Refusal(why).Message);
                    if (s.Type == ScheduleTypes.Charge && why is not WalletRefusal.NotFound)
                        // In this transaction, with the run it reports: a crash cannot leave one without the other.
                        await WalletEvents.AppendAsync(c, tx, outbox, writes, tenantId, s.WalletId, EventTypes.ScheduleChargeFailed, new
                        {
                            wallet_id = s.WalletId, schedule_id = s.Id, period_start = start, period_end = end, credits = s.Credits, amount = s.Amount,
                            reason, code = WalletApi.Refusal(why).Code,
                        });
                    break;
                case var other:
                    (status, reason) = (ScheduleRunStatuses.Failed, other is WriteResult.NoChange n ? n.Why : "the ledger made no entry");
                    break;
            }
        }

        var next = index + 1;
        // A closed wallet takes nothing ever again: the schedule ends rather than failing every period from now on.
        var goesOn = !walletGone && SchedulePeriods.Runs(s.StartAt, s.Interval, s.IntervalCount, next, s.EndAt);
        writes.Add(
            """
            INSERT INTO wallet_schedule_runs (tenant_id, schedule_id, period_index, wallet_id, period_start, period_end, status, credits, transaction_id, reason, created_at)
            VALUES (@t, @id, @i, @w, @start, @end, @status, @credits, @tx, @reason, @now)
            """,
            ("t", tenantId), ("id", s.Id), ("i", index), ("w", s.WalletId), ("start", start), ("end", end), ("status", status), ("credits", credits),
            ("tx", transactionId), ("reason", reason.Length == 0 ? null : reason), ("now", now));
        writes.Add(
            """
            UPDATE wallet_schedules SET run_count = @next, next_run_at = @at, last_run_at = @now, status = @status, updated_at = @now
            WHERE tenant_id = @t AND id = @id AND run_count = @i
            """,
            ("next", next), ("at", goesOn ? SchedulePeriods.Start(s.StartAt, s.Interval, s.IntervalCount, next) : null), ("now", now),
            ("status", goesOn ? ScheduleStatuses.Active : ScheduleStatuses.Ended), ("t", tenantId), ("id", s.Id), ("i", index));
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// The period's entry. Its idempotency key names the schedule and the period, so the entry says which period it is
    /// for; the run row is what keeps the period from running twice (keys are kept for days, schedules run for years).
    /// </summary>
    WalletOperation Operation(ScheduleDto s, int index, DateTimeOffset periodEnd)
    {
        var claim = new IdempotencyClaim($"{s.Id}_period_{index}", Idempotency.Fingerprint("schedule-period", new { schedule = s.Id, period = index }));
        var details = new EntryDetails(s.Description ?? (s.Type == ScheduleTypes.Grant ? "Scheduled grant" : "Scheduled charge"), Json.Serialize(s.Metadata),
            ReferenceType, s.Id);
        Func<WalletRow, CommandOrRefusal> build = s.Type == ScheduleTypes.Grant
            ? w => new WalletCommand.Credit(ids.New("wtx"), s.Credits!.Value,
                Reasons.IsPurchased(s.TransactionReason) ? Money.AmountForCredits(s.Credits!.Value, w.TopupConversionRate) : 0m,
                s.TransactionReason, s.ExpireAtPeriodEnd ? periodEnd : null, s.Priority)
            // An amount converts at the wallet's rate as it is under the lock, as a debit's does.
            : w => WalletOrders.ToCredits(s.Credits, s.Amount, w.ConversionRate) is { } credits
                ? new WalletCommand.Debit(ids.New("wtx"), credits, s.TransactionReason)
                : new CommandOrRefusal(null, WalletOrders.ConversionRefusal);
        return new WalletOperation(build, details, claim, x => new { schedule_id = s.Id, period_index = index, transaction_id = x.Entries.FirstOrDefault()?.Id });
    }

    /// <summary>Gives a leased schedule back, if the lease is still the one taken.</summary>
    public async Task ReleaseAsync(string tenantId, string id, LeaseToken lease)
    {
        await using var c = await db.OpenAsync();
        await c.ExecAsync(null, $"UPDATE wallet_schedules SET {Leases.Release} WHERE tenant_id = @t AND id = @id AND {LeaseToken.Held}",
            [("t", tenantId), ("id", id), .. lease.Args]);
    }
}
