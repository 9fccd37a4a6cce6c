using System.Data.Common;
using Coffer.Alerts;
using Coffer.Common;
using Coffer.Hosting;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Storage;

namespace Coffer.Wallets;

/// <summary>
/// The one write path for a wallet's money. It locks the wallet inside the database transaction, reads
/// every input after the lock, lets the pure <see cref="WalletEngine"/> decide, and writes the entries,
/// lots, allocations, cached balance, outbox events and idempotency record in that same transaction.
/// Concurrent operations are group-committed: a batch of them (on one wallet or many) shares one
/// transaction and one durable commit, each still decided in order against the state its predecessors left.
/// </summary>
public sealed class WalletWriter(Database db, Ids ids, TimeProvider clock, OutboxWriter outbox, GroupCommit groupCommit)
{
    const int MaxAttempts = 3;
    readonly LedgerRows rows = new(db, ids);

    /// <summary>One operation waiting for its batch.</summary>
    public sealed record Pending(string TenantId, string WalletId, WalletOperation Op);

    public async Task<WriteResult> ExecuteAsync(string tenantId, string walletId, WalletOperation op, CancellationToken ct = default) =>
        Counted(op, await (groupCommit.Enabled
            ? groupCommit.SubmitAsync(new Pending(tenantId, walletId, op), this, ct)
            : ExecuteAloneAsync(new Pending(tenantId, walletId, op), ct)));

    /// <summary>Every answer of the writer's entry points is counted once, as it is answered (after its commit).</summary>
    static WriteResult Counted(WalletOperation op, WriteResult result)
    {
        Telemetry.WalletWrite(op.Name, result);
        return result;
    }

    /// <summary>
    /// Commits a batch; if the batch fails before its commit (a key claimed concurrently elsewhere, a bug in
    /// one operation) nothing of it was applied and each operation is retried alone, so one bad request never
    /// fails its neighbours. A failed commit is never retried: see <see cref="TryExecuteAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<Task<WriteResult>>> ExecuteBatchAsync(IReadOnlyList<Pending> batch, CancellationToken ct)
    {
        if (batch.Count == 1) return [ExecuteAloneAsync(batch[0], ct)];
        try
        {
            return (await TryExecuteAsync(batch, ct)).Select(Task.FromResult).ToList();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return batch.Select(p => ExecuteAloneAsync(p, ct)).ToList();
        }
    }

    async Task<WriteResult> ExecuteAloneAsync(Pending pending, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (await TryExecuteAsync([pending], ct))[0];
            }
            catch (Exception e) when (attempt < MaxAttempts && pending.Op.Idempotency is not null && db.IsUniqueViolation(e))
            {
                // The same key was claimed concurrently through another wallet; the next attempt sees the
                // claim and replays or refuses it.
            }
        }
    }

    /// <summary>
    /// One operation alone in its own transaction, after <paramref name="lockFirst"/> has taken the locks that come
    /// before the wallet's (a wallet's close locks the invoices of its purchases to refund their payments in the same
    /// transaction). Retried and answered like <see cref="ExecuteAsync"/>; it never joins a group commit.
    /// </summary>
    public async Task<WriteResult> ExecuteAfterAsync(string tenantId, string walletId, Func<DbConnection, DbTransaction, Task> lockFirst, WalletOperation op,
        CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var scope = await db.BeginWriteAsync(ct);
                await lockFirst(scope.Connection, scope.Transaction);
                var (results, wrote) = await ExecuteInAsync(scope.Connection, scope.Transaction, [new Pending(tenantId, walletId, op)], ct);
                if (!wrote) return Counted(op, results[0]);
                try
                {
                    await scope.CommitAsync(ct);
                }
                catch (CommitOutcomeUnknownException)
                {
                    return Counted(op, new WriteResult.Refused(new WalletRefusal.OutcomeUnknown(op.Idempotency?.Key)));
                }
                return Counted(op, results[0]);
            }
            catch (Exception e) when (attempt < MaxAttempts && op.Idempotency is not null && db.IsUniqueViolation(e))
            {
                // As in ExecuteAloneAsync: the key was claimed concurrently; the next attempt replays or refuses it.
            }
        }
    }

    /// <summary>
    /// A batch one request sent (<see cref="Batches"/>): one transaction, never split or joined with others. When a key was
    /// claimed concurrently elsewhere nothing was applied and the whole batch runs again, seeing the claim. Atomic: when any
    /// operation is refused nothing is committed, and <c>Committed</c> is false. A failed commit leaves every operation that
    /// applied unknown, as in <see cref="TryExecuteAsync"/>.
    /// </summary>
    public async Task<(WriteResult[] Results, bool Committed)> ExecuteTogetherAsync(IReadOnlyList<Pending> batch, bool atomic, CancellationToken ct = default)
    {
        var (results, committed) = await TogetherAsync(batch, atomic, ct);
        for (var i = 0; i < results.Length; i++) Telemetry.WalletWrite(batch[i].Op.Name, results[i], committed);
        return (results, committed);
    }

    async Task<(WriteResult[] Results, bool Committed)> TogetherAsync(IReadOnlyList<Pending> batch, bool atomic, CancellationToken ct)
    {
        var everyLot = EveryLotAsked(batch);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var scope = await db.BeginWriteAsync(ct);
                var (results, wrote) = await ExecuteInAsync(scope.Connection, scope.Transaction, batch, everyLot, ct);
                if (atomic && results.Any(r => r is WriteResult.Refused or WriteResult.NoChange)) return (results, false);
                if (!wrote) return (results, true);
                try
                {
                    await scope.CommitAsync(ct);
                }
                catch (CommitOutcomeUnknownException)
                {
                    return (results.Select((r, i) => r is WriteResult.Applied
                        ? new WriteResult.Refused(new WalletRefusal.OutcomeUnknown(batch[i].Op.Idempotency?.Key))
                        : r).ToArray(), true);
                }
                return (results, true);
            }
            catch (Exception e) when (attempt < MaxAttempts && db.IsUniqueViolation(e))
            {
                // As in ExecuteAloneAsync: a key was claimed concurrently; the next attempt replays or refuses it.
            }
            catch (EveryLotNeededException) when (!everyLot)
            {
                // Rolled back, nothing applied; not an attempt of its own.
                everyLot = true;
                attempt--;
            }
        }
    }

    /// <summary>
    /// One attempt. An exception before the commit means nothing was applied, so the caller may retry; when
    /// the commit itself fails the batch may have been applied, and running it again could apply a key-less
    /// top-up twice, so every operation of the batch answers <see cref="WriteResult.OutcomeUnknown"/> instead.
    /// </summary>
    async Task<WriteResult[]> TryExecuteAsync(IReadOnlyList<Pending> batch, CancellationToken ct)
    {
        try
        {
            return await TryExecuteAsync(batch, EveryLotAsked(batch), ct);
        }
        catch (EveryLotNeededException)
        {
            // Rolled back, nothing applied: the same batch again, in a new transaction, with every lot read.
            return await TryExecuteAsync(batch, everyLot: true, ct);
        }
    }

    /// <summary>
    /// Operations that write rows of their own from the lots they spend (a close refunding each lot's price) read every
    /// lot from the start; every other batch reads the first lots of its wallets and, rarely, runs again with all of them.
    /// </summary>
    static bool EveryLotAsked(IReadOnlyList<Pending> batch) => batch.Any(p => p.Op.AlsoWrite is not null);

    async Task<WriteResult[]> TryExecuteAsync(IReadOnlyList<Pending> batch, bool everyLot, CancellationToken ct)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var (results, wrote) = await ExecuteInAsync(scope.Connection, scope.Transaction, batch, everyLot, ct);
        if (!wrote) return results;
        try
        {
            await scope.CommitAsync(ct);
        }
        catch (CommitOutcomeUnknownException)
        {
            return batch.Select(p => (WriteResult)new WriteResult.Refused(new WalletRefusal.OutcomeUnknown(p.Op.Idempotency?.Key))).ToArray();
        }
        return results;
    }

    /// <summary>
    /// Decides and writes operations inside a transaction the caller owns, for flows that must move a
    /// wallet's money in the same transaction as their own rows (an invoice paid, a credit purchase granted).
    /// The caller commits; its own locks must be taken before the wallet's, never after.
    /// </summary>
    public Task<(WriteResult[] Results, bool Wrote)> ExecuteInAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Pending> batch, CancellationToken ct) =>
        // The caller's transaction cannot be rolled back and run again here, so every lot is read.
        ExecuteInAsync(c, tx, batch, everyLot: true, ct);

    /// <param name="everyLot">Read every open lot; otherwise the first ones, and <see cref="EveryLotNeededException"/>
    /// (before anything is written) when an operation needs more.</param>
    async Task<(WriteResult[] Results, bool Wrote)> ExecuteInAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Pending> batch, bool everyLot,
        CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var writes = new SqlBatch();
        var results = new WriteResult[batch.Count];
        // Keys claimed earlier in this same batch, tenant-wide like the table.
        var claimed = new Dictionary<(string, string), StoredResponse>();

        // Every input is read after the locks, with one query per kind for the whole batch: a batch of 256
        // writes to 256 wallets costs a handful of round trips, not a thousand.
        var groups = batch.Select((p, i) => (p, i))
            .GroupBy(x => (x.p.TenantId, x.p.WalletId))
            .OrderBy(g => g.Key.TenantId, StringComparer.Ordinal).ThenBy(g => g.Key.WalletId, StringComparer.Ordinal)
            .ToList();
        var wallets = new Dictionary<(string, string), WalletRow>();
        var states = new Dictionary<(string, string), WalletState>();
        var stored = new Dictionary<(string, string), StoredResponse>();
        var context = new BatchContext();
        foreach (var tenant in groups.GroupBy(g => g.Key.TenantId))
        {
            var walletIds = tenant.Select(g => g.Key.WalletId).ToList();
            var keys = tenant.SelectMany(g => g).Select(x => x.p.Op.Idempotency?.Key).OfType<string>().Distinct().ToList();
            var attributed = tenant.SelectMany(g => g).Where(x => x.p.Op.Details.Dimensions is not null)
                .Select(x => (x.p.WalletId, x.p.Op.Details.Dimensions!)).ToList();
            var (locked, loaded, found) = await rows.LockAndLoadAsync(c, tx, tenant.Key, walletIds, keys, context, now, everyLot, attributed);
            foreach (var w in locked) wallets[(tenant.Key, w.Id)] = w;
            foreach (var state in loaded) states[(tenant.Key, state.WalletId)] = state;
            foreach (var (key, response) in found) stored[(tenant.Key, key)] = response;
        }
        // Invoice counters come after every wallet of the batch (see LockOrder), in tenant order like the wallets.
        foreach (var tenant in batch.Where(p => p.Op.TakesInvoiceNumber).Select(p => p.TenantId).Distinct().Order(StringComparer.Ordinal))
            context.InvoiceNumbers[tenant] = await InvoiceNumbers.LockAsync(c, tx, db, tenant);

        // Locked in key order above; decided in the order the operations came, so an operation may build on one before it
        // on another wallet (a transfer's arriving lots are the lots its sending side spent).
        foreach (var group in groups.OrderBy(g => g.Min(x => x.i)))
        {
            var (tenantId, walletId) = group.Key;
            if (!wallets.TryGetValue(group.Key, out var wallet))
            {
                foreach (var (_, i) in group) results[i] = new WriteResult.Refused(new WalletRefusal.NotFound());
                continue;
            }
            var state = states[group.Key];
            var current = wallet;
            foreach (var (pending, i) in group)
            {
                var op = pending.Op;
                if (op.Idempotency is { } claim &&
                    (stored.TryGetValue((tenantId, claim.Key), out var prior) || claimed.TryGetValue((tenantId, claim.Key), out prior)))
                {
                    results[i] = Idempotency.Judge(prior, claim) switch
                    {
                        IdempotencyCheck.Replay r => new WriteResult.Replayed(r.Answer),
                        var used => new WriteResult.Refused(WalletRefusal.Of(used)),
                    };
                    continue;
                }
                (results[i], current) = Decide(state, current, op, now, writes, context);
                // Only an effect claims its key: a no-change (terminating a closed wallet, releasing an ended hold)
                // is its own replay, and a refusal may be retried once the wallet allows it.
                if (op.Idempotency is { } key && results[i] is WriteResult.Applied a)
                {
                    var answer = StoredAnswer.Of(200, a.Response);
                    Idempotency.Save(writes, tenantId, key, answer, now);
                    claimed[(tenantId, key.Key)] = new StoredResponse(key.RequestHash, answer);
                }
            }
            if (current != wallet) LedgerRows.SaveBalance(writes, current, now);
        }
        context.SaveLotsAndDebts(writes, now);
        foreach (var numbers in context.InvoiceNumbers.Values) numbers.Save(writes);
        if (writes.Count == 0) return (results, false);
        await writes.ExecuteAsync(c, tx, ct);
        return (results, true);
    }

    /// <summary>Decides one operation against the wallet's state so far and queues its rows.</summary>
    (WriteResult Result, WalletRow After) Decide(
        WalletState state, WalletRow wallet, WalletOperation op, DateTimeOffset now, SqlBatch writes, BatchContext context)
    {
        var built = op.Build(wallet);
        if (built.Command is not { } command) return (new WriteResult.Refused(new WalletRefusal.Invalid(built.Refusal ?? "invalid request")), wallet);
        var changes = new Changeset();
        var lotsBefore = op.AlsoWrite is null ? null : state.OpenLots.ToDictionary(l => l.Id);
        var outcome = WalletEngine.Apply(state, command, now, changes, () => ids.New("wtx"));
        switch (outcome)
        {
            case CommandOutcome.NoChange none:
                return (new WriteResult.NoChange(wallet, none.Why, op.Render(new WriteContext(wallet, [], [], outcome, []))), wallet);
            case not (CommandOutcome.Posted or CommandOutcome.HoldPlaced or CommandOutcome.HoldEnded):
                return (new WriteResult.Refused(new WalletRefusal.Rejected(outcome)), wallet);
        }
        var events = new WalletEvents(outbox, writes, wallet.TenantId, wallet.Id, wallet.EventSeq);
        var (after, entries, holds) = rows.Persist(writes, wallet, state, changes, command.EntryId, op.Details, op.Idempotency?.Key, now, events, context);
        var written = new WriteContext(after, entries, changes.Allocations, outcome, holds)
        {
            LotsBefore = lotsBefore ?? [], Events = events,
            InvoiceNumber = op.TakesInvoiceNumber ? context.InvoiceNumbers[wallet.TenantId].Next() : null,
        };
        op.AlsoWrite?.Invoke(written, writes);
        after = after with { EventSeq = events.Last };
        return (new WriteResult.Applied(after, entries, op.Render(written)), after);
    }

    /// <summary>
    /// Inserts a wallet and, when asked, its initial FREE_CREDIT_GRANT in one transaction. The partial unique
    /// index on open wallets decides the race between two creations for one customer, currency and type. With a
    /// key, the answer (the wallet created) is stored in the same transaction.
    /// </summary>
    public async Task<CreateResult> CreateAsync(
        WalletRow wallet, WalletCommand.Credit? initial, EntryDetails details, IdempotencyClaim? claim = null, CancellationToken ct = default)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        var tx = scope.Transaction;
        var check = claim is null ? null : await Idempotency.ClaimAsync(c, tx, wallet.TenantId, claim, clock.GetUtcNow());
        if (check is IdempotencyCheck.Replay replay) return new CreateResult.Replayed(replay.Answer);
        if (check is not (null or IdempotencyCheck.Claimed)) return new CreateResult.Refused(WalletRefusal.Of(check));
        try
        {
            await LedgerRows.InsertWalletAsync(c, tx, wallet);
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            return new CreateResult.Refused(new WalletRefusal.AlreadyExists(wallet.CustomerId, wallet.WalletType, wallet.Currency));
        }
        var created = wallet with { EventSeq = 1 };
        var writes = new SqlBatch();
        var events = new WalletEvents(outbox, writes, wallet.TenantId, wallet.Id, 0);
        events.Add(EventTypes.WalletCreated, WalletDtos.Wallet(created));
        TransactionRow? initialRow = null;
        if (initial is not null)
        {
            var state = new WalletState { WalletId = wallet.Id, Status = wallet.Status, OverdraftLimit = wallet.OverdraftLimit };
            var changes = new Changeset();
            WalletEngine.Apply(state, initial, wallet.CreatedAt, changes, () => ids.New("wtx"));
            (created, var entries, _) = rows.Persist(writes, created, state, changes, initial.EntryId, details, null, wallet.CreatedAt, events);
            initialRow = entries[0];
            writes.Add("UPDATE wallets SET credit_balance = @b, event_seq = @seq, alert_state = @alert WHERE tenant_id = @t AND id = @w",
                ("b", created.CreditBalance), ("seq", created.EventSeq), ("alert", created.AlertState), ("t", wallet.TenantId), ("w", wallet.Id));
        }
        if (claim is not null) Idempotency.Complete(writes, wallet.TenantId, claim, StoredAnswer.Of(200, WalletDtos.Wallet(created)));
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        return new CreateResult.Created(created, initialRow);
    }

    /// <summary>
    /// Changes a wallet's settings or status under its lock, with a <c>wallet.updated</c> event. With a key, the
    /// answer (the wallet after the change) is stored in the same transaction.
    /// </summary>
    public async Task<UpdateResult> UpdateAsync(string tenantId, string walletId, Func<WalletRow, UpdateDecision> decide,
        IdempotencyClaim? claim = null, CancellationToken ct = default)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        var tx = scope.Transaction;
        LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey(tenantId, walletId));
        var wallet = await c.QuerySingleAsync(tx,
            $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w{db.ForUpdate}",
            WalletRow.Read, ("t", tenantId), ("w", walletId));
        if (wallet is null) return new UpdateResult.Refused(new WalletRefusal.NotFound());
        var check = claim is null ? null : await Idempotency.ClaimAsync(c, tx, tenantId, claim, clock.GetUtcNow());
        if (check is IdempotencyCheck.Replay replay) return new UpdateResult.Replayed(replay.Answer);
        if (check is not (null or IdempotencyCheck.Claimed)) return new UpdateResult.Refused(WalletRefusal.Of(check));
        var decision = decide(wallet);
        if (decision.Refusal is { } refusal) return new UpdateResult.Refused(refusal);
        if (decision.After is null || decision.After == wallet) return new UpdateResult.Updated(wallet);
        var now = clock.GetUtcNow();
        var after = decision.After with { UpdatedAt = now };
        var writes = new SqlBatch();
        var alerts = new List<(string Type, object Payload)>();
        if (after.AlertSettings != wallet.AlertSettings || after.AutoTopup != wallet.AutoTopup)
        {
            // New thresholds act without any money moving: an alert may fire, and a rule turned on below its threshold
            // tops up now (as a debit taking the balance there would).
            var state = (await rows.LockAndLoadAsync(c, tx, tenantId, [walletId], [], new BatchContext(), now, everyLot: true)).States[0];
            var available = LedgerRows.AvailableNow(state, now);
            if (after.AlertSettings != wallet.AlertSettings)
                after = AlertEvaluation.Evaluate(writes, ids, after, available, now, (type, payload) => alerts.Add((type, payload)));
            if (after.AutoTopup != wallet.AutoTopup)
                AutoTopUp.AutoTopUpQueue.Trigger(writes, ids, after, available + state.PendingCredits.Sum(p => p.Credits), now);
        }
        // wallet.updated takes the first new sequence number; alerts it caused follow it.
        var events = new WalletEvents(outbox, writes, tenantId, walletId, wallet.EventSeq);
        events.Add(EventTypes.WalletUpdated, WalletDtos.Wallet(after));
        foreach (var (type, payload) in alerts) events.Add(type, payload);
        after = after with { EventSeq = events.Last };
        LedgerRows.SaveSettings(writes, after);
        if (claim is not null) Idempotency.Complete(writes, tenantId, claim, StoredAnswer.Of(200, WalletDtos.Wallet(after)));
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        return new UpdateResult.Updated(after);
    }
}
