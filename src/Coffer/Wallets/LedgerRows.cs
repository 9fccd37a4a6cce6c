using System.Data.Common;
using Coffer.Alerts;
using Coffer.AutoTopUp;
using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Storage;

namespace Coffer.Wallets;

/// <summary>Rows a batch read that later decisions in the same batch need whole: pending entries and active holds.</summary>
sealed class BatchContext
{
    public Dictionary<(string Tenant, string Id), TransactionRow> Pending { get; } = [];
    public Dictionary<(string Tenant, string Id), HoldRow> Holds { get; } = [];
    public Dictionary<string, InvoiceNumbers> InvoiceNumbers { get; } = [];

    /// <summary>
    /// What each lot and debt touched in the batch is left with: written once when the batch is, not once per
    /// operation (a hot wallet's batch of 256 debits spends from the same lot 256 times).
    /// </summary>
    public Dictionary<(string Tenant, string Id), decimal> LotAvailable { get; } = [];
    public Dictionary<(string Tenant, string Id), decimal> DebtUnsettled { get; } = [];

    public void SaveLotsAndDebts(SqlBatch writes, DateTimeOffset now)
    {
        foreach (var ((tenant, lotId), available) in LotAvailable) LedgerRows.SaveLot(writes, tenant, lotId, available, now);
        foreach (var ((tenant, debitId), unsettled) in DebtUnsettled) LedgerRows.SaveDebt(writes, tenant, debitId, unsettled, now);
        LotAvailable.Clear();
        DebtUnsettled.Clear();
    }
}

/// <summary>
/// The rows behind <see cref="WalletWriter"/>: reading a wallet's state under its lock, and queueing the rows of a
/// decided change — entries, lots, debts, allocations, holds, events, and what the change sets off (alerts, an auto
/// top-up). It decides nothing: <see cref="WalletEngine"/> has decided by the time it runs.
/// </summary>
sealed class LedgerRows(Database db, Ids ids)
{
    /// <summary>
    /// How many unexpired lots of a wallet are read in the spend order, when not every lot is asked for. A batch of debits
    /// spends the first one or few; one that reaches further runs again with every lot (<see cref="EveryLotNeededException"/>).
    /// </summary>
    public const int LotsRead = 64;

    /// <summary>
    /// Locks the wallets (one statement, in one global order, so that two batches never wait on each other) and
    /// reads everything the decisions need — lots, debts, pending credits, holds, idempotency keys — after the
    /// lock, in a single round trip on PostgreSQL. Without <paramref name="everyLot"/> a wallet's lots are read in part
    /// (<see cref="WalletState.UnreadCredits"/>): every expired lot and the first <see cref="LotsRead"/> unexpired ones
    /// in the spend order at <paramref name="now"/>, so that the cost of a debit does not grow with the lots a wallet has.
    /// </summary>
    public async Task<(List<WalletRow> Wallets, List<WalletState> States, Dictionary<string, StoredResponse> Keys)> LockAndLoadAsync(
        DbConnection c, DbTransaction tx, string tenantId, IReadOnlyList<string> walletIds, IReadOnlyCollection<string> keys, BatchContext context,
        DateTimeOffset now, bool everyLot, IReadOnlyCollection<(string Wallet, IReadOnlyDictionary<string, string> Dimensions)>? attributed = null)
    {
        foreach (var id in walletIds.Order(StringComparer.Ordinal)) LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey(tenantId, id));
        // A few wallets are named one parameter each (their first lots are read one wallet at a time, see FirstLots);
        // many, as one list parameter.
        var walletArgs = new List<(string, object?)> { ("t", tenantId) };
        Func<string, string> inWallets;
        if (walletIds.Count <= WalletsReadAlongTheIndex)
        {
            var names = walletIds.Select((id, i) => { walletArgs.Add(($"w{i}", id)); return $"@w{i}"; }).ToList();
            inWallets = column => $"{column} IN ({string.Join(", ", names)})";
        }
        else
        {
            walletArgs.Add(("ws", db.ListValue(walletIds)));
            inWallets = column => db.InList(column, "ws");
        }
        var ofWallets = inWallets("id");
        var byWallet = inWallets("wallet_id");
        var args = walletArgs.ToArray();
        var statements = new List<(string, (string, object?)[])>
        {
            ($"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND {ofWallets} ORDER BY id{db.ForUpdate}", args),
            (everyLot
                ? $"SELECT {LotColumns} FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND lot_open = 1"
                : $"""
                  SELECT {LotColumns} FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND lot_open = 1 AND expiry_date <= @now
                  {FirstLots(walletIds.Count, byWallet)}
                  """, everyLot ? args : [.. args, ("now", now)]),
            ($"SELECT wallet_id, id, credits_unsettled, created_at FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND debt_open = 1", args),
            ($"SELECT {TransactionRow.Columns} FROM wallet_transactions WHERE tenant_id = @t AND {byWallet} AND transaction_status = 'pending'", args),
            ($"SELECT {HoldRow.Columns} FROM holds WHERE tenant_id = @t AND {byWallet} AND status = 'active'", args),
            (Invoices.InvoiceReserve.Select(inWallets("pay_from_wallet_id")), args),
        };
        if (keys.Count > 0)
        {
            statements.Add(($"{Idempotency.SelectStored} WHERE tenant_id = @t AND {db.InList("idempotency_key", "ks")}",
                [("t", tenantId), ("ks", db.ListValue(keys))]));
        }

        var wallets = new List<WalletRow>();
        var lots = new List<(string Wallet, Lot Lot)>();
        var debts = new List<(string Wallet, Debt Debt)>();
        var pending = new List<TransactionRow>();
        var holds = new List<HoldRow>();
        var owed = new List<(string Wallet, decimal Owed)>();
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
                case 5: owed.Add(Invoices.InvoiceReserve.Read(r)); break;
                default: stored[r.Str("idempotency_key")] = Idempotency.ReadRow(r); break;
            }
        });
        foreach (var row in pending) context.Pending[(tenantId, row.Id)] = row;
        foreach (var hold in holds) context.Holds[(tenantId, hold.Id)] = hold;
        var lotsBy = lots.ToLookup(x => x.Wallet, x => x.Lot);
        var debtsBy = debts.ToLookup(x => x.Wallet, x => x.Debt);
        var pendingBy = pending.ToLookup(r => r.WalletId);
        var holdsBy = holds.ToLookup(h => h.WalletId);
        var owedBy = owed.ToLookup(o => o.Wallet, o => o.Owed);
        var states = wallets.Select(w =>
        {
            var read = lotsBy[w.Id].ToList();
            var (unread, readUpTo) = everyLot ? (0m, null) : Unread(w, read, now);
            return new WalletState
            {
                WalletId = w.Id,
                Status = w.Status,
                CreditBalance = w.CreditBalance,
                OverdraftCredits = w.OverdraftCredits,
                OverdraftLimit = w.OverdraftLimit,
                OpenLots = read,
                UnreadCredits = unread,
                ReadUpTo = readUpTo,
                OpenDebts = debtsBy[w.Id].ToList(),
                PendingCredits = pendingBy[w.Id].Select(r => new PendingCredit(r.Id, r.CreditAmount, r.Amount, r.Reason, r.ExpiryDate, r.Priority, r.CreatedAt)).ToList(),
                Holds = holdsBy[w.Id].Select(h => new Hold(h.Id, h.Credits, h.ExpiresAt)).ToList(),
                InvoiceReserve = Invoices.InvoiceReserve.Credits(owedBy[w.Id].Sum(), w.ConversionRate),
                SpendCaps = Spend.SpendAttribution.LedgerCaps(w.SpendCaps),
            };
        }).ToList();
        await ReadSpentAsync(c, tx, tenantId, states, attributed, now);
        return (wallets, states, stored);
    }

    /// <summary>
    /// What the dimension values the batch's debits carry have spent so far, for the wallets that cap them: one more read, and
    /// only when a capped dimension is named (every other batch decides without it).
    /// </summary>
    static async Task ReadSpentAsync(DbConnection c, DbTransaction tx, string tenantId, List<WalletState> states,
        IReadOnlyCollection<(string Wallet, IReadOnlyDictionary<string, string> Dimensions)>? attributed, DateTimeOffset now)
    {
        if (attributed is null || attributed.Count == 0) return;
        var capped = states.Where(s => s.SpendCaps.Count > 0).ToDictionary(s => s.WalletId);
        if (capped.Count == 0) return;
        var pairs = attributed.Where(a => capped.ContainsKey(a.Wallet))
            .SelectMany(a => a.Dimensions.Where(d => capped[a.Wallet].SpendCaps.Any(cap => cap.AppliesTo(d.Key, d.Value))).Select(d => (a.Wallet, d.Key, d.Value)))
            .Distinct().ToList();
        if (pairs.Count == 0) return;
        foreach (var ((wallet, dimension, value), spent) in await Spend.SpendAttribution.SpentAsync(c, tx, tenantId, pairs, now))
            capped[wallet].Spent[(dimension, value)] = spent;
    }

    /// <summary>
    /// Up to this many wallets, each one's first lots are read along <c>ix_wtx_spend_order</c> (migration 073), one
    /// <c>UNION ALL</c> term per wallet; SQLite takes at most 500 terms, and planning hundreds costs more than it saves.
    /// </summary>
    const int WalletsReadAlongTheIndex = 100;

    /// <summary>What the engine's <see cref="Lot"/> is read from.</summary>
    const string LotColumns = "wallet_id, id, amount, credit_amount, credits_available, expiry_date, priority, created_at";

    /// <summary>
    /// The first unexpired lots of each of the <paramref name="wallets"/> wallets (<c>@w0</c>, <c>@w1</c>, ...) in the spend
    /// order, as <c>UNION ALL</c> terms after the expired lots. A few wallets: each one's lots read in the index's order,
    /// whose columns these terms are. Many (a batch spread over hundreds, most with a lot or two): ranked in one pass.
    /// </summary>
    string FirstLots(int wallets, string byWallet)
    {
        var spendOrder = $"priority IS NULL, priority, expiry_date IS NULL, expiry_date, created_at, id{db.OrdinalCollate}";
        const string unexpired = "lot_open = 1 AND (expiry_date IS NULL OR expiry_date > @now)";
        if (wallets > WalletsReadAlongTheIndex)
            return $"""
                UNION ALL SELECT {LotColumns} FROM (
                  SELECT {LotColumns}, ROW_NUMBER() OVER (PARTITION BY wallet_id ORDER BY {spendOrder}) AS spend_rank FROM wallet_transactions
                  WHERE tenant_id = @t AND {byWallet} AND {unexpired}) AS first_lots
                WHERE spend_rank <= {LotsRead}
                """;
        return string.Concat(Enumerable.Range(0, wallets).Select(i => $"""

            UNION ALL SELECT * FROM (
              SELECT {LotColumns} FROM wallet_transactions WHERE tenant_id = @t AND wallet_id = @w{i} AND {unexpired}
              ORDER BY {spendOrder} LIMIT {LotsRead}) AS first_lots_{i}
            """));
    }

    /// <summary>
    /// What the lots not read hold: the wallet's open lots hold its balance plus what it owes the overdraft (a ledger
    /// invariant that <c>verify</c> checks), less the lots read. When the first <see cref="LotsRead"/> were not all
    /// there were, the last of them bounds the unread ones in the spend order.
    /// </summary>
    static (decimal Unread, Lot? ReadUpTo) Unread(WalletRow wallet, List<Lot> read, DateTimeOffset now)
    {
        var unread = wallet.CreditBalance + wallet.OverdraftCredits - read.Sum(l => l.Available);
        if (unread == 0) return (0m, null);
        var unexpired = read.Where(l => !l.IsExpiredAt(now)).ToList();
        // Fewer lots than asked for were found, or more than the lots could hold: the cached balance disagrees with the
        // lots, and only all of them can say what the wallet holds.
        if (unexpired.Count < LotsRead || unread < 0) throw new EveryLotNeededException();
        return (unread, unexpired.Max(SpendOrder.Instance));
    }

    /// <summary>
    /// Queues the rows of one decided change: its entries, the lots and debts it touched, its allocations,
    /// its holds and its events. The wallet row itself is written once per batch by the caller.
    /// </summary>
    public (WalletRow Wallet, List<TransactionRow> Entries, List<HoldRow> Holds) Persist(
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
        var (rows, completedFromPending) = Entries(writes, wallet, changes, primaryEntryId, details, idempotencyKey, now, context);
        LotsDebtsAndAllocations(writes, wallet, changes, now, context);
        AnnounceEntries(events, rows, completedFromPending, changes, after);
        rows.AddRange(FailPending(writes, wallet.TenantId, changes, now, events, context!, after));
        var holds = Holds(writes, wallet, changes, details, now, events, context, after);
        if (changes.NewStatus == WalletStatuses.Closed) events.Add(EventTypes.WalletTerminated, WalletDtos.Wallet(after));
        var availableNow = AvailableNow(state, now);
        after = AlertEvaluation.Evaluate(writes, ids, after, availableNow, now, events.Add);
        AutoTopUpQueue.Trigger(writes, ids, after, availableNow + state.PendingCredits.Sum(p => p.Credits), now);
        // Funds came in while invoices wait on them: those invoices are paid first.
        if (state.InvoiceReserve > 0 && changes.Entries.Any(e => e.Type == TransactionTypes.Credit && e.Status == TransactionStatuses.Completed))
            Invoices.InvoiceReserve.Collect(writes, wallet.TenantId, wallet.Id, now);
        return (after with { EventSeq = events.Last }, rows, holds);
    }

    /// <summary>Credits spendable now, less pending charges (holds, invoices waiting on the wallet) and overdraft: what alerts compare.</summary>
    public static decimal AvailableNow(WalletState state, DateTimeOffset now) =>
        Planner.AvailableToSpend(state.OpenLots, now, 0m, 0m, state.ReservedAt(now), state.UnreadCredits) - state.OverdraftCredits;

    /// <summary>The change's entries: new rows inserted, and pending credits it completed (their one permitted edit).</summary>
    (List<TransactionRow> Rows, HashSet<string> CompletedFromPending) Entries(
        SqlBatch writes, WalletRow wallet, Changeset changes, string primaryEntryId, EntryDetails details, string? idempotencyKey,
        DateTimeOffset now, BatchContext? context)
    {
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
                        credit_balance_after = @after, credits_available = @avail, lot_open = @open, updated_at = @now, completed_at = @now
                    WHERE tenant_id = @t AND id = @id AND transaction_status = 'pending'
                    """,
                    ("before", row.CreditBalanceBefore), ("after", row.CreditBalanceAfter), ("avail", available),
                    ("open", available > 0), ("now", now), ("t", tenant), ("id", e.Id));
            }
            else
            {
                // Only the entry the caller asked for carries its description and metadata; entries the engine
                // added on its own (expiries during termination) describe themselves.
                // A transfer's arriving lots all carry the transfer's description and reference.
                var own = e.Id == primaryEntryId || e.Reason == Reasons.TransferIn ? details : new EntryDetails(Description: DescribeSystemEntry(e));
                // A credit carries the price its operation decided; a debit is valued at the spend rate.
                var amount = e.Amount ?? Money.AmountForCredits(e.Credits, wallet.ConversionRate);
                row = new TransactionRow(tenant, e.Id, wallet.Id, wallet.CustomerId, e.Type, e.Reason,
                    e.Status, amount, e.Credits, e.BalanceBefore,
                    e.BalanceAfter, available, unsettled, e.ExpiresAt, e.Priority, e.ExpiredLotId, own.ReferenceType,
                    own.ReferenceId, e.Id == primaryEntryId ? idempotencyKey : null, own.Description, own.Metadata, now, now, own.Adjustment,
                    e.Id == primaryEntryId ? Spend.SpendAttribution.Serialize(own.Dimensions) : null);
                if (e.Id == primaryEntryId && e.Type == TransactionTypes.Debit && own.Dimensions is { } dimensions)
                    Spend.SpendAttribution.Add(writes, db, tenant, wallet.Id, dimensions, e.Credits, amount, now);
                InsertEntry(writes, row);
                if (e.Status == TransactionStatuses.Pending && context is not null) context.Pending[(tenant, e.Id)] = row;
            }
            rows.Add(row);
        }
        return (rows, completedFromPending);
    }

    /// <summary>With a batch, lots and debts are saved once at its end (<see cref="BatchContext.SaveLotsAndDebts"/>); alone, now.</summary>
    static void LotsDebtsAndAllocations(SqlBatch writes, WalletRow wallet, Changeset changes, DateTimeOffset now, BatchContext? context)
    {
        var tenant = wallet.TenantId;
        foreach (var (lotId, available) in changes.LotAvailable)
            if (context is null) SaveLot(writes, tenant, lotId, available, now);
            else context.LotAvailable[(tenant, lotId)] = available;
        foreach (var (debitId, unsettled) in changes.DebtUnsettled)
            if (context is null) SaveDebt(writes, tenant, debitId, unsettled, now);
            else context.DebtUnsettled[(tenant, debitId)] = unsettled;
        foreach (var a in changes.Allocations)
            writes.Add(
                """
                INSERT INTO allocations (tenant_id, wallet_id, debit_id, lot_id, credits, created_at)
                VALUES (@t, @w, @d, @l, @c, @now)
                """,
                ("t", tenant), ("w", wallet.Id), ("d", a.DebitId), ("l", a.LotId), ("c", a.Credits), ("now", now));
    }

    static void AnnounceEntries(WalletEvents events, List<TransactionRow> rows, HashSet<string> completedFromPending, Changeset changes, WalletRow after)
    {
        // Built only when an event carries it: most debits never need the wallet snapshot.
        var walletDto = new Lazy<WalletDto>(() => WalletDtos.Wallet(after));
        foreach (var row in rows)
        {
            var transaction = WalletDtos.Transaction(row, changes.Allocations, after);
            // A debit's event carries the balance after it; a wallet snapshot per debit would make the outbox
            // twice as large for nothing. A top-up also announces the wallet (wallet.topped_up), as Flexprice does.
            events.Add(completedFromPending.Contains(row.Id) ? EventTypes.TransactionUpdated : EventTypes.TransactionCreated, transaction);
            if (row.Type == TransactionTypes.Credit && row.Status == TransactionStatuses.Completed)
                events.Add(EventTypes.WalletToppedUp, walletDto.Value);
        }
    }

    static List<TransactionRow> FailPending(
        SqlBatch writes, string tenant, Changeset changes, DateTimeOffset now, WalletEvents events, BatchContext context, WalletRow after)
    {
        var failed = new List<TransactionRow>();
        foreach (var failedId in changes.FailedPending)
        {
            var row = context.Pending[(tenant, failedId)] with { Status = TransactionStatuses.Failed, UpdatedAt = now };
            context.Pending.Remove((tenant, failedId));
            writes.Add(
                "UPDATE wallet_transactions SET transaction_status = 'failed', updated_at = @now WHERE tenant_id = @t AND id = @id AND transaction_status = 'pending'",
                ("now", now), ("t", tenant), ("id", failedId));
            failed.Add(row);
            events.Add(EventTypes.TransactionUpdated, WalletDtos.Transaction(row, [], after));
        }
        return failed;
    }

    static List<HoldRow> Holds(
        SqlBatch writes, WalletRow wallet, Changeset changes, EntryDetails details, DateTimeOffset now, WalletEvents events,
        BatchContext? context, WalletRow after)
    {
        var tenant = wallet.TenantId;
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
            events.Add(EventTypes.HoldCreated, WalletDtos.Hold(row, after));
        }
        foreach (var (holdId, status, debitId, captured) in changes.EndedHolds)
        {
            var row = context!.Holds[(tenant, holdId)] with { Status = status, DebitId = debitId, CapturedCredits = captured, UpdatedAt = now };
            writes.Add(
                "UPDATE holds SET status = @s, debit_id = @d, captured_credits = @c, updated_at = @now WHERE tenant_id = @t AND id = @id AND status = 'active'",
                ("s", status), ("d", debitId), ("c", captured), ("now", now), ("t", tenant), ("id", holdId));
            holds.Add(row);
            events.Add(EventTypes.HoldEnded(status), WalletDtos.Hold(row, after));
        }
        return holds;
    }

    public static void SaveLot(SqlBatch writes, string tenant, string lotId, decimal available, DateTimeOffset now) =>
        writes.Add("UPDATE wallet_transactions SET credits_available = @a, lot_open = @o, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("a", available), ("o", available > 0), ("now", now), ("t", tenant), ("id", lotId));

    public static void SaveDebt(SqlBatch writes, string tenant, string debitId, decimal unsettled, DateTimeOffset now) =>
        writes.Add("UPDATE wallet_transactions SET credits_unsettled = @u, debt_open = @o, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("u", unsettled), ("o", unsettled > 0), ("now", now), ("t", tenant), ("id", debitId));

    /// <summary>The balance, status, event sequence and alert state a batch left a wallet with.</summary>
    public static void SaveBalance(SqlBatch writes, WalletRow after, DateTimeOffset now) =>
        writes.Add(
            """
            UPDATE wallets SET credit_balance = @b, overdraft_credits = @o, wallet_status = @s, event_seq = @seq, alert_state = @alert,
                updated_at = @now
            WHERE tenant_id = @t AND id = @w
            """,
            ("b", after.CreditBalance), ("o", after.OverdraftCredits), ("s", after.Status), ("seq", after.EventSeq),
            ("alert", after.AlertState), ("now", now), ("t", after.TenantId), ("w", after.Id));

    /// <summary>A wallet's settings and status after an update.</summary>
    public static void SaveSettings(SqlBatch writes, WalletRow after) =>
        writes.Add(
            """
            UPDATE wallets SET name = @name, description = @desc, wallet_status = @status, overdraft_limit = @limit, metadata = @meta,
                alert_settings = @alerts, auto_topup = @auto, config = @config, spend_caps = @caps, event_seq = @seq, alert_state = @alert,
                updated_at = @now
            WHERE tenant_id = @t AND id = @w
            """,
            ("caps", after.SpendCaps), ("name", after.Name), ("desc", after.Description), ("status", after.Status), ("limit", after.OverdraftLimit),
            ("meta", after.Metadata), ("alerts", after.AlertSettings), ("auto", after.AutoTopup), ("config", after.Config),
            ("seq", after.EventSeq), ("alert", after.AlertState), ("now", after.UpdatedAt), ("t", after.TenantId), ("w", after.Id));

    public static Task InsertWalletAsync(DbConnection c, DbTransaction tx, WalletRow wallet) =>
        c.ExecAsync(tx,
            $"""
            INSERT INTO wallets ({WalletRow.Columns})
            VALUES (@t, @id, @cust, @name, @desc, @cur, @type, @status, @rate, @trate, 0, 0, @limit, @meta, @alerts,
                    @auto, @config, 1, @now, @now, 'ok', @cc, @caps)
            """,
            ("cc", wallet.CreditCurrencyId), ("caps", wallet.SpendCaps),
            ("t", wallet.TenantId), ("id", wallet.Id), ("cust", wallet.CustomerId), ("name", wallet.Name), ("desc", wallet.Description),
            ("cur", wallet.Currency), ("type", wallet.WalletType), ("status", wallet.Status), ("rate", wallet.ConversionRate),
            ("trate", wallet.TopupConversionRate), ("limit", wallet.OverdraftLimit), ("meta", wallet.Metadata),
            ("alerts", wallet.AlertSettings), ("auto", wallet.AutoTopup), ("config", wallet.Config), ("now", wallet.CreatedAt));

    static string? DescribeSystemEntry(PostedEntry e) =>
        e.Reason == Reasons.CreditExpired ? $"Credits of {e.ExpiredLotId} expired" : null;

    static void InsertEntry(SqlBatch writes, TransactionRow row) =>
        writes.Add(
            $"""
            INSERT INTO wallet_transactions ({TransactionRow.Columns}, lot_open, debt_open, completed_at)
            VALUES (@t, @id, @w, @cust, @type, @reason, @status, @amount, @credits, @before, @after, @avail, @unsettled,
                    @exp, @prio, @expired, @rtype, @rid, @ikey, @desc, @meta, @created, @updated, @adj, @atype, @aid, @aname, @dims,
                    @lot_open, @debt_open, @completed)
            """,
            ("t", row.TenantId), ("id", row.Id), ("w", row.WalletId), ("cust", row.CustomerId), ("type", row.Type),
            ("reason", row.Reason), ("status", row.Status), ("amount", row.Amount), ("credits", row.CreditAmount),
            ("before", row.CreditBalanceBefore), ("after", row.CreditBalanceAfter), ("avail", row.CreditsAvailable),
            ("unsettled", row.CreditsUnsettled), ("exp", row.ExpiryDate), ("prio", row.Priority), ("expired", row.ExpiredLotId),
            ("rtype", row.ReferenceType), ("rid", row.ReferenceId), ("ikey", row.IdempotencyKey), ("desc", row.Description),
            ("meta", row.Metadata), ("created", row.CreatedAt), ("updated", row.UpdatedAt), ("adj", row.Adjustment?.Reason),
            ("atype", row.Adjustment?.Actor.Type), ("aid", row.Adjustment?.Actor.Id), ("aname", row.Adjustment?.Actor.Name),
            ("dims", row.Dimensions), ("lot_open", row.CreditsAvailable > 0), ("debt_open", row.CreditsUnsettled > 0),
            ("completed", row.Status == TransactionStatuses.Completed ? row.CreatedAt : null));
}
