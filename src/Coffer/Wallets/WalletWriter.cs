using System.Data.Common;
using Coffer.Common;
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

/// <summary>An idempotency key with the fingerprint of the request that first used it.</summary>
public sealed record IdempotencyClaim(string Key, string RequestHash);

/// <summary>
/// One money movement against one wallet. <see cref="Render"/> builds the response from the wallet and the
/// entries after the change; with an idempotency key that exact response is stored in the same transaction
/// and replayed for a retry.
/// </summary>
public sealed record WalletOperation(
    Func<WalletRow, CommandOrRefusal> Build,
    EntryDetails Details,
    IdempotencyClaim? Idempotency,
    Func<WalletRow, IReadOnlyList<TransactionRow>, IReadOnlyList<AllocationRow>, object> Render);

/// <summary>A settings change decided under the wallet's lock: the new row, or why it is refused.</summary>
public sealed record UpdateDecision(WalletRow? After, ApiError? Refusal = null);

public abstract record UpdateResult
{
    private UpdateResult() { }
    public sealed record Updated(WalletRow Wallet) : UpdateResult;
    public sealed record Refused(WalletRow Wallet, ApiError Error) : UpdateResult;
    public sealed record NotFound : UpdateResult;
}

public abstract record WriteResult
{
    private WriteResult() { }

    public sealed record Applied(WalletRow Wallet, IReadOnlyList<TransactionRow> Entries, object Response) : WriteResult;
    public sealed record NoChange(WalletRow Wallet, string Why, object Response) : WriteResult;
    public sealed record Replayed(string Body) : WriteResult;
    public sealed record KeyReused(string Key) : WriteResult;
    public sealed record WalletNotFound : WriteResult;
    public sealed record InsufficientBalance(decimal Requested, decimal Available) : WriteResult;
    public sealed record WalletNotActive(string Status) : WriteResult;
    public sealed record Invalid(string Message) : WriteResult;
}

/// <summary>
/// The one write path for a wallet's money. It locks the wallet inside the database transaction, reads
/// every input after the lock, lets the pure <see cref="WalletEngine"/> decide, and writes the entries,
/// lots, allocations, cached balance, outbox events and idempotency record in that same transaction.
/// The engine works on a batch, so several operations on one wallet can share one commit (group commit)
/// without changing any caller.
/// </summary>
public sealed class WalletWriter(Database db, Ids ids, TimeProvider clock, OutboxWriter outbox)
{
    const int MaxAttempts = 3;

    public async Task<WriteResult> ExecuteAsync(string tenantId, string walletId, WalletOperation op, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await TryExecuteAsync(tenantId, walletId, op, ct);
            }
            catch (Exception e) when (attempt < MaxAttempts && op.Idempotency is not null && db.IsUniqueViolation(e))
            {
                // The same key was claimed concurrently through another wallet; the next attempt sees the
                // claim and replays or refuses it.
            }
        }
    }

    async Task<WriteResult> TryExecuteAsync(string tenantId, string walletId, WalletOperation op, CancellationToken ct)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        var tx = scope.Transaction;

        var wallet = await c.QuerySingleAsync(tx,
            $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w{db.ForUpdate}",
            WalletRow.Read, ("t", tenantId), ("w", walletId));
        if (wallet is null) return new WriteResult.WalletNotFound();

        if (op.Idempotency is { } claim)
        {
            var prior = await Idempotency.FindAsync(c, tx, tenantId, claim.Key);
            if (prior is not null)
                return prior.RequestHash == claim.RequestHash ? new WriteResult.Replayed(prior.Response) : new WriteResult.KeyReused(claim.Key);
        }

        var built = op.Build(wallet);
        if (built.Command is not { } command) return new WriteResult.Invalid(built.Refusal ?? "invalid request");
        var now = clock.GetUtcNow();
        var state = await LoadStateAsync(c, tx, wallet);
        var changes = new Changeset();
        var outcome = WalletEngine.Apply(state, command, now, changes, () => ids.New("wtx"));

        switch (outcome)
        {
            case CommandOutcome.InsufficientBalance i:
                return new WriteResult.InsufficientBalance(i.Requested, i.Available);
            case CommandOutcome.WalletNotActive n:
                return new WriteResult.WalletNotActive(n.Status);
            case CommandOutcome.NoChange none:
            {
                var response = op.Render(wallet, [], []);
                await RememberAsync(c, tx, tenantId, op, response, now);
                await scope.CommitAsync(ct);
                return new WriteResult.NoChange(wallet, none.Why, response);
            }
        }

        var (after, entries) = await PersistAsync(c, tx, wallet, state, changes, command.EntryId, op.Details, op.Idempotency?.Key, now);
        var rendered = op.Render(after, entries, changes.Allocations);
        await RememberAsync(c, tx, tenantId, op, rendered, now);
        await scope.CommitAsync(ct);
        return new WriteResult.Applied(after, entries, rendered);
    }

    /// <summary>
    /// Inserts a wallet and, when asked, its initial FREE_CREDIT_GRANT in one transaction. The partial unique
    /// index on open wallets decides the race between two creations for one customer, currency and type.
    /// </summary>
    public async Task<(WalletRow Wallet, TransactionRow? Initial)?> CreateAsync(
        WalletRow wallet, WalletCommand.Credit? initial, EntryDetails details, CancellationToken ct = default)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        var tx = scope.Transaction;
        try
        {
            await c.ExecAsync(tx,
                $"""
                INSERT INTO wallets ({WalletRow.Columns})
                VALUES (@t, @id, @cust, @name, @desc, @cur, @type, @status, @rate, @trate, 0, 0, @limit, @meta, @alerts,
                        @auto, @config, 1, @now, @now)
                """,
                ("t", wallet.TenantId), ("id", wallet.Id), ("cust", wallet.CustomerId), ("name", wallet.Name), ("desc", wallet.Description),
                ("cur", wallet.Currency), ("type", wallet.WalletType), ("status", wallet.Status), ("rate", wallet.ConversionRate),
                ("trate", wallet.TopupConversionRate), ("limit", wallet.OverdraftLimit), ("meta", wallet.Metadata),
                ("alerts", wallet.AlertSettings), ("auto", wallet.AutoTopup), ("config", wallet.Config), ("now", wallet.CreatedAt));
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            return null;
        }
        var created = wallet with { EventSeq = 1 };
        await outbox.AddAsync(c, tx, wallet.TenantId, EventTypes.WalletCreated, wallet.Id, 1, WalletDtos.Wallet(created));
        TransactionRow? initialRow = null;
        if (initial is not null)
        {
            var state = new WalletState { WalletId = wallet.Id, Status = wallet.Status, OverdraftLimit = wallet.OverdraftLimit };
            var changes = new Changeset();
            WalletEngine.Apply(state, initial, wallet.CreatedAt, changes, () => ids.New("wtx"));
            (created, var rows) = await PersistAsync(c, tx, created, state, changes, initial.EntryId, details, null, wallet.CreatedAt);
            initialRow = rows[0];
        }
        await scope.CommitAsync(ct);
        return (created, initialRow);
    }

    /// <summary>Changes a wallet's settings or status under its lock, with a <c>wallet.updated</c> event.</summary>
    public async Task<UpdateResult> UpdateAsync(string tenantId, string walletId, Func<WalletRow, UpdateDecision> decide, CancellationToken ct = default)
    {
        await using var scope = await db.BeginWriteAsync(ct);
        var c = scope.Connection;
        var tx = scope.Transaction;
        var wallet = await c.QuerySingleAsync(tx,
            $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w{db.ForUpdate}",
            WalletRow.Read, ("t", tenantId), ("w", walletId));
        if (wallet is null) return new UpdateResult.NotFound();
        var decision = decide(wallet);
        if (decision.Refusal is { } refusal) return new UpdateResult.Refused(wallet, refusal);
        if (decision.After is null || decision.After == wallet) return new UpdateResult.Updated(wallet);
        var after = decision.After with { UpdatedAt = clock.GetUtcNow(), EventSeq = wallet.EventSeq + 1 };
        await c.ExecAsync(tx,
            """
            UPDATE wallets SET name = @name, description = @desc, wallet_status = @status, overdraft_limit = @limit, metadata = @meta,
                alert_settings = @alerts, auto_topup = @auto, config = @config, event_seq = @seq, updated_at = @now
            WHERE tenant_id = @t AND id = @w
            """,
            ("name", after.Name), ("desc", after.Description), ("status", after.Status), ("limit", after.OverdraftLimit),
            ("meta", after.Metadata), ("alerts", after.AlertSettings), ("auto", after.AutoTopup), ("config", after.Config),
            ("seq", after.EventSeq), ("now", after.UpdatedAt), ("t", tenantId), ("w", walletId));
        await outbox.AddAsync(c, tx, tenantId, EventTypes.WalletUpdated, walletId, after.EventSeq, WalletDtos.Wallet(after));
        await scope.CommitAsync(ct);
        return new UpdateResult.Updated(after);
    }

    async Task RememberAsync(DbConnection c, DbTransaction tx, string tenantId, WalletOperation op, object response, DateTimeOffset now)
    {
        if (op.Idempotency is { } claim)
            await Idempotency.SaveAsync(c, tx, tenantId, claim, Json.Serialize(response), now);
    }

    static async Task<WalletState> LoadStateAsync(DbConnection c, DbTransaction tx, WalletRow wallet)
    {
        var lots = await c.QueryAsync(tx,
            """
            SELECT id, credit_amount, credits_available, expiry_date, priority, created_at, transaction_reason
            FROM wallet_transactions WHERE tenant_id = @t AND wallet_id = @w AND lot_open = 1
            """,
            r => new Lot(r.Str("id"), r.Dec("credit_amount"), r.Dec("credits_available"), r.NTime("expiry_date"),
                r.NInt("priority"), r.Time("created_at"), Reasons.IsPurchased(r.Str("transaction_reason"))),
            ("t", wallet.TenantId), ("w", wallet.Id));
        var debts = wallet.OverdraftCredits == 0
            ? []
            : await c.QueryAsync(tx,
                "SELECT id, credits_unsettled, created_at FROM wallet_transactions WHERE tenant_id = @t AND wallet_id = @w AND debt_open = 1",
                r => new Debt(r.Str("id"), r.Dec("credits_unsettled"), r.Time("created_at")),
                ("t", wallet.TenantId), ("w", wallet.Id));
        return new WalletState
        {
            WalletId = wallet.Id,
            Status = wallet.Status,
            CreditBalance = wallet.CreditBalance,
            OverdraftCredits = wallet.OverdraftCredits,
            OverdraftLimit = wallet.OverdraftLimit,
            OpenLots = lots,
            OpenDebts = debts,
        };
    }

    async Task<(WalletRow Wallet, List<TransactionRow> Entries)> PersistAsync(
        DbConnection c, DbTransaction tx, WalletRow wallet, WalletState state, Changeset changes, string primaryEntryId,
        EntryDetails details, string? idempotencyKey, DateTimeOffset now)
    {
        var rows = new List<TransactionRow>();
        var seq = wallet.EventSeq;
        foreach (var e in changes.Entries)
        {
            // Only the entry the caller asked for carries its description and metadata; entries the engine
            // added on its own (expiries during termination) describe themselves.
            var own = e.Id == primaryEntryId ? details : new EntryDetails(Description: DescribeSystemEntry(e));
            var available = changes.LotAvailable.Remove(e.Id, out var a) ? a : e.CreditsAvailable;
            var unsettled = changes.DebtUnsettled.Remove(e.Id, out var u) ? u : e.CreditsUnsettled;
            var rate = e.Type == TransactionTypes.Credit ? wallet.TopupConversionRate : wallet.ConversionRate;
            var row = new TransactionRow(wallet.TenantId, e.Id, wallet.Id, wallet.CustomerId, e.Type, e.Reason,
                TransactionStatuses.Completed, Money.AmountForCredits(e.Credits, rate), e.Credits, e.BalanceBefore,
                e.BalanceAfter, available, unsettled, e.ExpiresAt, e.Priority, e.ExpiredLotId, own.ReferenceType,
                own.ReferenceId, e.Id == primaryEntryId ? idempotencyKey : null, own.Description, own.Metadata, now, now);
            rows.Add(row);
            await InsertEntryAsync(c, tx, row);
        }

        foreach (var (lotId, available) in changes.LotAvailable)
            await c.ExecAsync(tx,
                "UPDATE wallet_transactions SET credits_available = @a, lot_open = @o, updated_at = @now WHERE tenant_id = @t AND id = @id",
                ("a", available), ("o", available > 0), ("now", now), ("t", wallet.TenantId), ("id", lotId));
        foreach (var (debitId, unsettled) in changes.DebtUnsettled)
            await c.ExecAsync(tx,
                "UPDATE wallet_transactions SET credits_unsettled = @u, debt_open = @o, updated_at = @now WHERE tenant_id = @t AND id = @id",
                ("u", unsettled), ("o", unsettled > 0), ("now", now), ("t", wallet.TenantId), ("id", debitId));
        foreach (var a in changes.Allocations)
            await c.ExecAsync(tx,
                """
                INSERT INTO allocations (tenant_id, wallet_id, debit_id, lot_id, credits, created_at)
                VALUES (@t, @w, @d, @l, @c, @now)
                """,
                ("t", wallet.TenantId), ("w", wallet.Id), ("d", a.DebitId), ("l", a.LotId), ("c", a.Credits), ("now", now));

        var after = wallet with
        {
            CreditBalance = state.CreditBalance,
            OverdraftCredits = state.OverdraftCredits,
            Status = changes.NewStatus ?? wallet.Status,
            UpdatedAt = now,
        };
        foreach (var row in rows)
        {
            var allocations = changes.Allocations.Where(a => a.DebitId == row.Id).ToList();
            await outbox.AddAsync(c, tx, wallet.TenantId, EventTypes.TransactionCreated, wallet.Id, ++seq, WalletDtos.Transaction(row, allocations));
            var walletEvent = row.Type == TransactionTypes.Credit ? EventTypes.WalletToppedUp : EventTypes.WalletUpdated;
            await outbox.AddAsync(c, tx, wallet.TenantId, walletEvent, wallet.Id, ++seq, WalletDtos.Wallet(after));
        }
        if (changes.NewStatus == WalletStatuses.Closed)
            await outbox.AddAsync(c, tx, wallet.TenantId, EventTypes.WalletTerminated, wallet.Id, ++seq, WalletDtos.Wallet(after));

        after = after with { EventSeq = seq };
        await c.ExecAsync(tx,
            """
            UPDATE wallets SET credit_balance = @b, overdraft_credits = @o, wallet_status = @s, event_seq = @seq, updated_at = @now
            WHERE tenant_id = @t AND id = @w
            """,
            ("b", after.CreditBalance), ("o", after.OverdraftCredits), ("s", after.Status), ("seq", after.EventSeq),
            ("now", now), ("t", wallet.TenantId), ("w", wallet.Id));
        return (after, rows);
    }

    static string? DescribeSystemEntry(PostedEntry e) =>
        e.Reason == Reasons.CreditExpired ? $"Credits of {e.ExpiredLotId} expired" : null;

    public static Task InsertEntryAsync(DbConnection c, DbTransaction tx, TransactionRow row) =>
        c.ExecAsync(tx,
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
