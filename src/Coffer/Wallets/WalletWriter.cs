using System.Data.Common;
using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Storage;

namespace Coffer.Wallets;

public sealed record EntryDetails(string? Description = null, string Metadata = "{}", string? ReferenceType = null, string? ReferenceId = null);

/// <summary>
/// The command, built from the wallet as read under the lock (an amount converts at the wallet's current
/// rate), or why the request cannot become one.
/// </summary>
public sealed record CommandOrRefusal(WalletCommand? Command, string? Refusal = null)
{
    public static implicit operator CommandOrRefusal(WalletCommand command) => new(command);
}

/// <summary>
/// One money movement against one wallet. <see cref="Render"/> builds the response from the wallet and the
/// entries after the change; with an idempotency key that exact response is stored in the same transaction
/// and replayed for a retry.
/// </summary>
public sealed record WalletOperation(
    Func<WalletRow, CommandOrRefusal> Build,
    EntryDetails Details,
    IdempotencyClaim? Idempotency,
    Func<WriteContext, object> Render)
{
    /// <summary>Rows of the caller's own to write in the same transaction when the operation takes effect.</summary>
    public Action<WriteContext, SqlBatch>? AlsoWrite { get; init; }

    /// <summary>The operation creates an invoice: it takes the tenant's next invoice number when, and only when, it takes effect.</summary>
    public bool TakesInvoiceNumber { get; init; }
}

/// <summary>What a response is built from: the wallet and entries after the change, and the engine's outcome.</summary>
public sealed record WriteContext(
    WalletRow Wallet, IReadOnlyList<TransactionRow> Entries, IReadOnlyList<AllocationRow> Allocations, CommandOutcome Outcome,
    IReadOnlyList<HoldRow> Holds)
{
    /// <summary>The wallet's lots as they were before the operation; filled only for operations with <c>AlsoWrite</c>.</summary>
    public IReadOnlyDictionary<string, Lot> LotsBefore { get; init; } = new Dictionary<string, Lot>();

    internal WalletEvents? Events { get; init; }

    /// <summary>The invoice number taken for an operation with <c>TakesInvoiceNumber</c>.</summary>
    public string? InvoiceNumber { get; init; }

    /// <summary>An event of the caller's own about this wallet (from <c>AlsoWrite</c>), numbered after the operation's.</summary>
    public void AddEvent(string type, object payload) =>
        (Events ?? throw new InvalidOperationException("wallet events are written only with an effect, from AlsoWrite")).Add(type, payload);
}

/// <summary>A settings change decided under the wallet's lock: the new row, or why it is refused.</summary>
public sealed record UpdateDecision(WalletRow? After, ApiError? Refusal = null);

public abstract record UpdateResult
{
    private UpdateResult() { }
    public sealed record Updated(WalletRow Wallet) : UpdateResult;
    public sealed record Refused(WalletRow Wallet, ApiError Error) : UpdateResult;
    public sealed record NotFound : UpdateResult;
    /// <summary>The request's key was used before: a replay or a refusal, see <see cref="Idempotency.Answer"/>.</summary>
    public sealed record KeyUsed(IdempotencyCheck Check) : UpdateResult;
}

public abstract record CreateResult
{
    private CreateResult() { }
    public sealed record Created(WalletRow Wallet, TransactionRow? Initial) : CreateResult;
    public sealed record AlreadyExists : CreateResult;
    public sealed record KeyUsed(IdempotencyCheck Check) : CreateResult;
}

public abstract record WriteResult
{
    private WriteResult() { }

    public sealed record Applied(WalletRow Wallet, IReadOnlyList<TransactionRow> Entries, object Response) : WriteResult;
    public sealed record NoChange(WalletRow Wallet, string Why, object Response) : WriteResult;
    public sealed record Replayed(StoredAnswer Answer) : WriteResult;
    public sealed record KeyReused(string Key) : WriteResult;
    public sealed record KeyInUse(string Key) : WriteResult;
    public sealed record WalletNotFound : WriteResult;
    public sealed record InsufficientBalance(decimal Requested, decimal Available) : WriteResult;
    public sealed record WalletNotActive(string Status) : WriteResult;
    public sealed record Invalid(string Message) : WriteResult;
    public sealed record BalanceLimitExceeded(decimal Limit) : WriteResult;
    public sealed record CaptureExceedsHold(decimal Held) : WriteResult;

    /// <summary>
    /// The commit of the operation's batch failed: it may or may not have taken effect. It is never retried;
    /// a retry by the client with <paramref name="IdempotencyKey"/> replays it if it did.
    /// </summary>
    public sealed record OutcomeUnknown(string? IdempotencyKey) : WriteResult;
}

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

    /// <summary>One operation waiting for its batch.</summary>
    public sealed record Pending(string TenantId, string WalletId, WalletOperation Op);

    public Task<WriteResult> ExecuteAsync(string tenantId, string walletId, WalletOperation op, CancellationToken ct = default) =>
        groupCommit.Enabled
            ? groupCommit.SubmitAsync(new Pending(tenantId, walletId, op), this, ct)
            : ExecuteAloneAsync(new Pending(tenantId, walletId, op), ct);

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
    /// One attempt. An exception before the commit means nothing was applied, so the caller may retry; when
    /// the commit itself fails the batch may have been applied, and running it again could apply a key-less
    /// top-up twice, so every operation of the batch answers <see cref="WriteResult.OutcomeUnknown"/> instead.
    /// </summary>
    async Task<WriteResult[]> TryExecuteAsync(IReadOnlyList<Pending> batch, CancellationToken ct)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var (results, wrote) = await ExecuteInAsync(scope.Connection, scope.Transaction, batch, ct);
        if (!wrote) return results;
        try
        {
            await scope.CommitAsync(ct);
        }
        catch (CommitOutcomeUnknownException)
        {
            return batch.Select(p => (WriteResult)new WriteResult.OutcomeUnknown(p.Op.Idempotency?.Key)).ToArray();
        }
        return results;
    }

    /// <summary>
    /// Decides and writes operations inside a transaction the caller owns, for flows that must move a
    /// wallet's money in the same transaction as their own rows (an invoice paid, a credit purchase granted).
    /// The caller commits; its own locks must be taken before the wallet's, never after.
    /// </summary>
    public async Task<(WriteResult[] Results, bool Wrote)> ExecuteInAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Pending> batch, CancellationToken ct)
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
            var (locked, loaded, found) = await LockAndLoadAsync(c, tx, tenant.Key, walletIds, keys, context);
            foreach (var w in locked) wallets[(tenant.Key, w.Id)] = w;
            foreach (var state in loaded) states[(tenant.Key, state.WalletId)] = state;
            foreach (var (key, response) in found) stored[(tenant.Key, key)] = response;
            if (tenant.SelectMany(g => g).Any(x => x.p.Op.TakesInvoiceNumber))
                context.InvoiceNumbers[tenant.Key] = await InvoiceNumbers.LockAsync(c, tx, db, tenant.Key);
        }

        foreach (var group in groups)
        {
            var (tenantId, walletId) = group.Key;
            if (!wallets.TryGetValue(group.Key, out var wallet))
            {
                foreach (var (_, i) in group) results[i] = new WriteResult.WalletNotFound();
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
                        IdempotencyCheck.InProgress => new WriteResult.KeyInUse(claim.Key),
                        _ => new WriteResult.KeyReused(claim.Key),
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
            if (current != wallet)
                writes.Add(
                    """
                    UPDATE wallets SET credit_balance = @b, overdraft_credits = @o, wallet_status = @s, event_seq = @seq, alert_state = @alert,
                        updated_at = @now
                    WHERE tenant_id = @t AND id = @w
                    """,
                    ("b", current.CreditBalance), ("o", current.OverdraftCredits), ("s", current.Status), ("seq", current.EventSeq),
                    ("alert", current.AlertState), ("now", now), ("t", tenantId), ("w", walletId));
        }
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
        if (built.Command is not { } command) return (new WriteResult.Invalid(built.Refusal ?? "invalid request"), wallet);
        var changes = new Changeset();
        var lotsBefore = op.AlsoWrite is null ? null : state.OpenLots.ToDictionary(l => l.Id);
        var outcome = WalletEngine.Apply(state, command, now, changes, () => ids.New("wtx"));
        switch (outcome)
        {
            case CommandOutcome.InsufficientBalance i:
                return (new WriteResult.InsufficientBalance(i.Requested, i.Available), wallet);
            case CommandOutcome.WalletNotActive n:
                return (new WriteResult.WalletNotActive(n.Status), wallet);
            case CommandOutcome.BalanceLimitExceeded l:
                return (new WriteResult.BalanceLimitExceeded(l.Limit), wallet);
            case CommandOutcome.CaptureExceedsHold e:
                return (new WriteResult.CaptureExceedsHold(e.Held), wallet);
            case CommandOutcome.NoChange none:
                return (new WriteResult.NoChange(wallet, none.Why, op.Render(new WriteContext(wallet, [], [], outcome, []))), wallet);
        }
        var events = new WalletEvents(outbox, writes, wallet.TenantId, wallet.Id, wallet.EventSeq);
        var (after, entries, holds) = Persist(writes, wallet, state, changes, command.EntryId, op.Details, op.Idempotency?.Key, now, events, context);
        var written = new WriteContext(after, entries, changes.Allocations, outcome, holds)
        {
            LotsBefore = lotsBefore ?? [], Events = events,
            InvoiceNumber = op.TakesInvoiceNumber ? context.InvoiceNumbers[wallet.TenantId].Next() : null,
        };
        op.AlsoWrite?.Invoke(written, writes);
        after = after with { EventSeq = events.Last };
        return (new WriteResult.Applied(after, entries, op.Render(written)), after);
    }

    /// <summary>Rows a batch read that later decisions in the same batch need whole: pending entries and active holds.</summary>
    sealed class BatchContext
    {
        public Dictionary<(string Tenant, string Id), TransactionRow> Pending { get; } = [];
        public Dictionary<(string Tenant, string Id), HoldRow> Holds { get; } = [];
        public Dictionary<string, InvoiceNumbers> InvoiceNumbers { get; } = [];
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
        if (claim is not null && await Idempotency.ClaimAsync(c, tx, wallet.TenantId, claim, clock.GetUtcNow()) is not IdempotencyCheck.Claimed and var used)
            return new CreateResult.KeyUsed(used);
        try
        {
            await c.ExecAsync(tx,
                $"""
                INSERT INTO wallets ({WalletRow.Columns})
                VALUES (@t, @id, @cust, @name, @desc, @cur, @type, @status, @rate, @trate, 0, 0, @limit, @meta, @alerts,
                        @auto, @config, 1, @now, @now, 'ok')
                """,
                ("t", wallet.TenantId), ("id", wallet.Id), ("cust", wallet.CustomerId), ("name", wallet.Name), ("desc", wallet.Description),
                ("cur", wallet.Currency), ("type", wallet.WalletType), ("status", wallet.Status), ("rate", wallet.ConversionRate),
                ("trate", wallet.TopupConversionRate), ("limit", wallet.OverdraftLimit), ("meta", wallet.Metadata),
                ("alerts", wallet.AlertSettings), ("auto", wallet.AutoTopup), ("config", wallet.Config), ("now", wallet.CreatedAt));
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            return new CreateResult.AlreadyExists();
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
            (created, var rows, _) = Persist(writes, created, state, changes, initial.EntryId, details, null, wallet.CreatedAt, events);
            initialRow = rows[0];
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
        var wallet = await c.QuerySingleAsync(tx,
            $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w{db.ForUpdate}",
            WalletRow.Read, ("t", tenantId), ("w", walletId));
        if (wallet is null) return new UpdateResult.NotFound();
        if (claim is not null && await Idempotency.ClaimAsync(c, tx, tenantId, claim, clock.GetUtcNow()) is not IdempotencyCheck.Claimed and var used)
            return new UpdateResult.KeyUsed(used);
        var decision = decide(wallet);
        if (decision.Refusal is { } refusal) return new UpdateResult.Refused(wallet, refusal);
        if (decision.After is null || decision.After == wallet) return new UpdateResult.Updated(wallet);
        var now = clock.GetUtcNow();
        var after = decision.After with { UpdatedAt = now };
        var writes = new SqlBatch();
        var alerts = new List<(string Type, object Payload)>();
        if (after.AlertSettings != wallet.AlertSettings)
        {
            // New thresholds can change the state without any money moving.
            var state = (await LockAndLoadAsync(c, tx, tenantId, [walletId], [], new BatchContext())).States[0];
            after = EvaluateAlerts(writes, after, AvailableNow(state, now), now, (type, payload) => alerts.Add((type, payload)));
        }
        // wallet.updated takes the first new sequence number; alerts it caused follow it.
        var events = new WalletEvents(outbox, writes, tenantId, walletId, wallet.EventSeq);
        events.Add(EventTypes.WalletUpdated, WalletDtos.Wallet(after));
        foreach (var (type, payload) in alerts) events.Add(type, payload);
        after = after with { EventSeq = events.Last };
        await c.ExecAsync(tx,
            """
            UPDATE wallets SET name = @name, description = @desc, wallet_status = @status, overdraft_limit = @limit, metadata = @meta,
                alert_settings = @alerts, auto_topup = @auto, config = @config, event_seq = @seq, alert_state = @alert, updated_at = @now
            WHERE tenant_id = @t AND id = @w
            """,
            ("name", after.Name), ("desc", after.Description), ("status", after.Status), ("limit", after.OverdraftLimit),
            ("meta", after.Metadata), ("alerts", after.AlertSettings), ("auto", after.AutoTopup), ("config", after.Config),
            ("seq", after.EventSeq), ("alert", after.AlertState), ("now", after.UpdatedAt), ("t", tenantId), ("w", walletId));
        if (claim is not null) Idempotency.Complete(writes, tenantId, claim, StoredAnswer.Of(200, WalletDtos.Wallet(after)));
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        return new UpdateResult.Updated(after);
    }

    /// <summary>
    /// Locks the wallets (one statement, in one global order, so that two batches never wait on each other) and
    /// reads everything the decisions need — lots, debts, pending credits, holds, idempotency keys — after the
    /// lock, in a single round trip on PostgreSQL.
    /// </summary>
    async Task<(List<WalletRow> Wallets, List<WalletState> States, Dictionary<string, StoredResponse> Keys)> LockAndLoadAsync(
        DbConnection c, DbTransaction tx, string tenantId, IReadOnlyList<string> walletIds, IReadOnlyCollection<string> keys, BatchContext context)
    {
        var inWallets = new List<string>();
        var walletArgs = new List<(string, object?)> { ("t", tenantId) };
        Sql.In(inWallets, walletArgs, "id", "w", walletIds);
        var byWallet = inWallets[0].Replace("id IN", "wallet_id IN", StringComparison.Ordinal);
        var args = walletArgs.ToArray();
        var statements = new List<(string, (string, object?)[])>
        {
            ($"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND {inWallets[0]} ORDER BY id{db.ForUpdate}", args),
            ($"""
             SELECT wallet_id, id, amount, credit_amount, credits_available, expiry_date, priority, created_at
             FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND lot_open = 1
             """, args),
            ($"SELECT wallet_id, id, credits_unsettled, created_at FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND debt_open = 1", args),
            ($"SELECT {TransactionRow.Columns} FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND transaction_status = 'pending'", args),
            ($"SELECT {HoldRow.Columns} FROM holds WHERE tenant_id = @t AND {byWallet} AND status = 'active'", args),
        };
        if (keys.Count > 0)
        {
            var inKeys = new List<string>();
            var keyArgs = new List<(string, object?)> { ("t", tenantId) };
            Sql.In(inKeys, keyArgs, "idempotency_key", "k", keys.ToList());
            statements.Add(($"{Idempotency.SelectStored} WHERE tenant_id = @t AND {inKeys[0]}", keyArgs.ToArray()));
        }

        var wallets = new List<WalletRow>();
        var lots = new List<(string Wallet, Lot Lot)>();
        var debts = new List<(string Wallet, Debt Debt)>();
        var pending = new List<TransactionRow>();
        var holds = new List<HoldRow>();
        var stored = new Dictionary<string, StoredResponse>(StringComparer.Ordinal);
        await c.ReadManyAsync(tx, statements, (i, r) =>
        {
            switch (i)
            {
                case 0: wallets.Add(WalletRow.Read(r)); break;
                case 1:
                    lots.Add((r.Str("wallet_id"), new Lot(r.Str("id"), r.Dec("credit_amount"), r.Dec("credits_available"), r.NTime("expiry_date"),
                        r.NInt("priority"), r.Time("created_at"), r.Dec("amount"))));
                    break;
                case 2: debts.Add((r.Str("wallet_id"), new Debt(r.Str("id"), r.Dec("credits_unsettled"), r.Time("created_at")))); break;
                case 3: pending.Add(TransactionRow.Read(r)); break;
                case 4: holds.Add(HoldRow.Read(r)); break;
                default: stored[r.Str("idempotency_key")] = Idempotency.ReadRow(r); break;
            }
        });
        foreach (var row in pending) context.Pending[(tenantId, row.Id)] = row;
        foreach (var hold in holds) context.Holds[(tenantId, hold.Id)] = hold;
        var lotsBy = lots.ToLookup(x => x.Wallet, x => x.Lot);
        var debtsBy = debts.ToLookup(x => x.Wallet, x => x.Debt);
        var pendingBy = pending.ToLookup(r => r.WalletId);
        var holdsBy = holds.ToLookup(h => h.WalletId);
        var states = wallets.Select(w => new WalletState
        {
            WalletId = w.Id,
            Status = w.Status,
            CreditBalance = w.CreditBalance,
            OverdraftCredits = w.OverdraftCredits,
            OverdraftLimit = w.OverdraftLimit,
            OpenLots = lotsBy[w.Id].ToList(),
            OpenDebts = debtsBy[w.Id].ToList(),
            PendingCredits = pendingBy[w.Id].Select(r => new PendingCredit(r.Id, r.CreditAmount, r.Amount, r.Reason, r.ExpiryDate, r.Priority, r.CreatedAt)).ToList(),
            Holds = holdsBy[w.Id].Select(h => new Hold(h.Id, h.Credits, h.ExpiresAt)).ToList(),
        }).ToList();
        return (wallets, states, stored);
    }

    /// <summary>
    /// Queues the rows of one decided change: its entries, the lots and debts it touched, its allocations,
    /// its holds and its events. The wallet row itself is written once per batch by the caller.
    /// </summary>
    (WalletRow Wallet, List<TransactionRow> Entries, List<HoldRow> Holds) Persist(
        SqlBatch writes, WalletRow wallet, WalletState state, Changeset changes, string primaryEntryId,
        EntryDetails details, string? idempotencyKey, DateTimeOffset now, WalletEvents events, BatchContext? context = null)
    {
        var after = wallet with
        {
            CreditBalance = state.CreditBalance,
            OverdraftCredits = state.OverdraftCredits,
            Status = changes.NewStatus ?? wallet.Status,
            UpdatedAt = now,
        };
        // Built only when an event carries it: most debits never need the wallet snapshot.
        var walletDto = new Lazy<WalletDto>(() => WalletDtos.Wallet(after));
        void Event(string type, object payload) => events.Add(type, payload);
        var tenant = wallet.TenantId;

        var rows = new List<TransactionRow>();
        var completedFromPending = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in changes.Entries)
        {
            var available = changes.LotAvailable.Remove(e.Id, out var a) ? a : e.CreditsAvailable;
            var unsettled = changes.DebtUnsettled.Remove(e.Id, out var u) ? u : e.CreditsUnsettled;
            TransactionRow row;
            if (e.WasPending)
            {
                // pending -> completed: the one edit a ledger entry may receive, and only from pending.
                row = context!.Pending[(tenant, e.Id)] with
                {
                    Status = TransactionStatuses.Completed, CreditBalanceBefore = e.BalanceBefore, CreditBalanceAfter = e.BalanceAfter,
                    CreditsAvailable = available, UpdatedAt = now,
                };
                context.Pending.Remove((tenant, e.Id));
                completedFromPending.Add(e.Id);
                writes.Add(
                    """
                    UPDATE wallet_transactions SET transaction_status = 'completed', credit_balance_before = @before,
                        credit_balance_after = @after, credits_available = @avail, lot_open = @open, updated_at = @now
                    WHERE tenant_id = @t AND id = @id AND transaction_status = 'pending'
                    """,
                    ("before", row.CreditBalanceBefore), ("after", row.CreditBalanceAfter), ("avail", available),
                    ("open", available > 0), ("now", now), ("t", tenant), ("id", e.Id));
            }
            else
            {
                // Only the entry the caller asked for carries its description and metadata; entries the engine
                // added on its own (expiries during termination) describe themselves.
                var own = e.Id == primaryEntryId ? details : new EntryDetails(Description: DescribeSystemEntry(e));
                // A credit carries the price its operation decided; a debit is valued at the spend rate.
                var amount = e.Amount ?? Money.AmountForCredits(e.Credits, wallet.ConversionRate);
                row = new TransactionRow(tenant, e.Id, wallet.Id, wallet.CustomerId, e.Type, e.Reason,
                    e.Status, amount, e.Credits, e.BalanceBefore,
                    e.BalanceAfter, available, unsettled, e.ExpiresAt, e.Priority, e.ExpiredLotId, own.ReferenceType,
                    own.ReferenceId, e.Id == primaryEntryId ? idempotencyKey : null, own.Description, own.Metadata, now, now);
                InsertEntry(writes, row);
                if (e.Status == TransactionStatuses.Pending && context is not null) context.Pending[(tenant, e.Id)] = row;
            }
            rows.Add(row);
        }

        foreach (var (lotId, available) in changes.LotAvailable)
            writes.Add("UPDATE wallet_transactions SET credits_available = @a, lot_open = @o, updated_at = @now WHERE tenant_id = @t AND id = @id",
                ("a", available), ("o", available > 0), ("now", now), ("t", tenant), ("id", lotId));
        foreach (var (debitId, unsettled) in changes.DebtUnsettled)
            writes.Add("UPDATE wallet_transactions SET credits_unsettled = @u, debt_open = @o, updated_at = @now WHERE tenant_id = @t AND id = @id",
                ("u", unsettled), ("o", unsettled > 0), ("now", now), ("t", tenant), ("id", debitId));
        foreach (var a in changes.Allocations)
            writes.Add(
                """
                INSERT INTO allocations (tenant_id, wallet_id, debit_id, lot_id, credits, created_at)
                VALUES (@t, @w, @d, @l, @c, @now)
                """,
                ("t", tenant), ("w", wallet.Id), ("d", a.DebitId), ("l", a.LotId), ("c", a.Credits), ("now", now));

        foreach (var row in rows)
        {
            var transaction = WalletDtos.Transaction(row, changes.Allocations, after);
            if (completedFromPending.Contains(row.Id))
            {
                Event(EventTypes.TransactionUpdated, transaction);
            }
            else
            {
                // A debit's event carries the balance after it; a wallet snapshot per debit would make the
                // outbox twice as large for nothing. A top-up also announces the wallet (wallet.topped_up), as Flexprice does.
                Event(EventTypes.TransactionCreated, transaction);
            }
            if (row.Type == TransactionTypes.Credit && row.Status == TransactionStatuses.Completed)
                Event(EventTypes.WalletToppedUp, walletDto.Value);
        }

        foreach (var failedId in changes.FailedPending)
        {
            var row = context!.Pending[(tenant, failedId)] with { Status = TransactionStatuses.Failed, UpdatedAt = now };
            context.Pending.Remove((tenant, failedId));
            writes.Add(
                "UPDATE wallet_transactions SET transaction_status = 'failed', updated_at = @now WHERE tenant_id = @t AND id = @id AND transaction_status = 'pending'",
                ("now", now), ("t", tenant), ("id", failedId));
            rows.Add(row);
            Event(EventTypes.TransactionUpdated, WalletDtos.Transaction(row, [], after));
        }

        var holds = new List<HoldRow>();
        foreach (var hold in changes.NewHolds)
        {
            var row = new HoldRow(tenant, hold.Id, wallet.Id, hold.Credits, 0m, HoldStatuses.Active, hold.ExpiresAt, null,
                details.Description, details.ReferenceType, details.ReferenceId, details.Metadata, now, now);
            writes.Add(
                $"""
                INSERT INTO holds ({HoldRow.Columns})
                VALUES (@t, @id, @w, @c, 0, 'active', @exp, NULL, @desc, @rtype, @rid, @meta, @now, @now)
                """,
                ("t", tenant), ("id", row.Id), ("w", wallet.Id), ("c", row.Credits), ("exp", row.ExpiresAt), ("desc", row.Description),
                ("rtype", row.ReferenceType), ("rid", row.ReferenceId), ("meta", row.Metadata), ("now", now));
            context?.Holds.TryAdd((tenant, row.Id), row);
            holds.Add(row);
            Event(EventTypes.HoldCreated, WalletDtos.Hold(row, after));
        }
        foreach (var (holdId, status, debitId, captured) in changes.EndedHolds)
        {
            var row = context!.Holds[(tenant, holdId)] with { Status = status, DebitId = debitId, CapturedCredits = captured, UpdatedAt = now };
            writes.Add(
                "UPDATE holds SET status = @s, debit_id = @d, captured_credits = @c, updated_at = @now WHERE tenant_id = @t AND id = @id AND status = 'active'",
                ("s", status), ("d", debitId), ("c", captured), ("now", now), ("t", tenant), ("id", holdId));
            holds.Add(row);
            Event(EventTypes.HoldEnded(status), WalletDtos.Hold(row, after));
        }

        if (changes.NewStatus == WalletStatuses.Closed) Event(EventTypes.WalletTerminated, walletDto.Value);
        var availableNow = AvailableNow(state, now);
        after = EvaluateAlerts(writes, after, availableNow, now, Event);
        TriggerAutoTopUp(writes, after, availableNow + state.PendingCredits.Sum(p => p.Credits), now);
        return (after with { EventSeq = events.Last }, rows, holds);
    }

    static decimal AvailableNow(WalletState state, DateTimeOffset now) =>
        Planner.AvailableToSpend(state.OpenLots, now, 0m, 0m, state.HeldAt(now)) - state.OverdraftCredits;

    /// <summary>
    /// Alerts fire on a change of state only: entering or worsening info/warning/in_alarm emits
    /// wallet.balance_low, returning to ok emits wallet.balance_recovered, and each change is logged. The value
    /// compared is the available balance in the wallet's currency (credits spendable now, less holds).
    /// </summary>
    WalletRow EvaluateAlerts(SqlBatch writes, WalletRow wallet, decimal availableCredits, DateTimeOffset now, Action<string, object> emit)
    {
        var settings = wallet.AlertSettings is null ? null : Json.Deserialize<AlertSettings>(wallet.AlertSettings);
        static AlertLevel? Level(AlertThreshold? t) => t?.Threshold is { } x ? new AlertLevel(x, t.Condition != "above") : null;
        var available = Money.AmountForCredits(availableCredits, wallet.ConversionRate);
        var state = AlertRules.Evaluate(settings?.AlertEnabled ?? false, Level(settings?.Critical), Level(settings?.Warning), Level(settings?.Info), available);
        if (state == wallet.AlertState) return wallet;
        var after = wallet with { AlertState = state };
        writes.Add(
            """
            INSERT INTO alerts (tenant_id, id, wallet_id, customer_id, previous_state, state, available_balance, currency, created_at)
            VALUES (@t, @id, @w, @c, @prev, @state, @value, @cur, @now)
            """,
            ("t", wallet.TenantId), ("id", ids.New("alert")), ("w", wallet.Id), ("c", wallet.CustomerId), ("prev", wallet.AlertState),
            ("state", state), ("value", available), ("cur", wallet.Currency), ("now", now));
        var payload = new { wallet = WalletDtos.Wallet(after), previous_state = wallet.AlertState, alert_state = state, available_balance = available };
        if (state == AlertStates.Ok) emit(EventTypes.WalletBalanceRecovered, payload);
        else if (AlertRules.Severity(state) > AlertRules.Severity(wallet.AlertState)) emit(EventTypes.WalletBalanceLow, payload);
        return after;
    }

    /// <summary>
    /// A change that leaves the wallet at or below its auto top-up threshold queues one purchase request; while
    /// one is in flight, further triggers only count as suppressed (the partial unique index decides, so a
    /// thousand debits in one second start exactly one purchase). The purchase itself runs outside this
    /// transaction, in the auto top-up worker.
    /// </summary>
    void TriggerAutoTopUp(SqlBatch writes, WalletRow wallet, decimal creditsCounted, DateTimeOffset now)
    {
        if (wallet.AutoTopup is null || wallet.Status != WalletStatuses.Active) return;
        var rule = Json.Deserialize<AutoTopupSettings>(wallet.AutoTopup);
        if (rule?.Enabled != true || rule.Threshold is not { } threshold || creditsCounted > threshold) return;
        writes.Add(
            """
            INSERT INTO auto_topup_attempts (tenant_id, id, wallet_id, status, reason, suppressed, created_at, updated_at)
            VALUES (@t, @id, @w, 'pending', 'balance at or below threshold', 0, @now, @now)
            ON CONFLICT (tenant_id, wallet_id) WHERE status IN ('pending', 'processing')
            DO UPDATE SET suppressed = auto_topup_attempts.suppressed + 1, updated_at = @now
            """,
            ("t", wallet.TenantId), ("id", ids.New("atu")), ("w", wallet.Id), ("now", now));
    }

    static string? DescribeSystemEntry(PostedEntry e) =>
        e.Reason == Reasons.CreditExpired ? $"Credits of {e.ExpiredLotId} expired" : null;

    static void InsertEntry(SqlBatch writes, TransactionRow row) =>
        writes.Add(
            $"""
            INSERT INTO wallet_transactions ({TransactionRow.Columns}, lot_open, debt_open)
            VALUES (@t, @id, @w, @cust, @type, @reason, @status, @amount, @credits, @before, @after, @avail, @unsettled,
                    @exp, @prio, @expired, @rtype, @rid, @ikey, @desc, @meta, @created, @updated, @lot_open, @debt_open)
            """,
            ("t", row.TenantId), ("id", row.Id), ("w", row.WalletId), ("cust", row.CustomerId), ("type", row.Type),
            ("reason", row.Reason), ("status", row.Status), ("amount", row.Amount), ("credits", row.CreditAmount),
            ("before", row.CreditBalanceBefore), ("after", row.CreditBalanceAfter), ("avail", row.CreditsAvailable),
            ("unsettled", row.CreditsUnsettled), ("exp", row.ExpiryDate), ("prio", row.Priority), ("expired", row.ExpiredLotId),
            ("rtype", row.ReferenceType), ("rid", row.ReferenceId), ("ikey", row.IdempotencyKey), ("desc", row.Description),
            ("meta", row.Metadata), ("created", row.CreatedAt), ("updated", row.UpdatedAt),
            ("lot_open", row.CreditsAvailable > 0), ("debt_open", row.CreditsUnsettled > 0));
}
