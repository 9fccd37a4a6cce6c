using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;

namespace Coffer.Wallets;

public sealed record WalletQuery(string? CustomerId, string? Status, IReadOnlyList<string>? WalletIds, bool Ascending, string SortColumn);

public sealed record TransactionQuery(
    string? WalletId, string? Id, string? Type, string? Status, string? Reason, string? ReferenceType, string? ReferenceId,
    int? Priority, decimal? CreditsAvailableGreaterThan, DateTimeOffset? CreatedFrom, DateTimeOffset? CreatedTo,
    DateTimeOffset? ExpiryAfter, DateTimeOffset? ExpiryBefore, bool Ascending)
{
    /// <summary>One of <see cref="TransactionKinds"/>: credit, debit, refund or adjustment.</summary>
    public string? Kind { get; init; }

    /// <summary>Keyset paging, newest first: only entries older than this one (by creation, then id).</summary>
    public (DateTimeOffset At, string Id)? Before { get; init; }
}

/// <summary>What the wallet's lots say right now: spendable credits by kind, and credits that have expired but not yet been swept.</summary>
/// <param name="Owed">What invoices waiting on the wallet still owe, in its currency (<see cref="Invoices.InvoiceReserve"/>).</param>
public sealed record LotSummary(decimal SpendableFree, decimal SpendablePurchased, decimal ExpiredUnswept, decimal Held, decimal Owed = 0m);

/// <summary>
/// A wallet's credits this instant: what could be spent (live lots less any overdraft; expired lots are gone before
/// the sweep posts them), the pending charges (what active holds reserve and what invoices waiting on the wallet still
/// owe), and what new charges can use once those are paid: below zero while the invoices owe more than the wallet holds.
/// </summary>
public sealed record RealTimeCredits(decimal Balance, decimal PendingCharges, decimal Available)
{
    public static RealTimeCredits Of(WalletRow wallet, LotSummary lots)
    {
        var balance = lots.SpendableFree + lots.SpendablePurchased - wallet.OverdraftCredits;
        var pending = lots.Held + Invoices.InvoiceReserve.Credits(lots.Owed, wallet.ConversionRate);
        return new RealTimeCredits(balance, pending, balance - pending);
    }
}

/// <summary>Reads of wallets and their ledger. Writes go through <see cref="WalletWriter"/> only.</summary>
public sealed class WalletStore(Database db, TimeProvider clock)
{
    public async Task<WalletRow?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @id",
            WalletRow.Read, ("t", tenantId), ("id", id));
    }

    public async Task<List<WalletRow>> ByCustomerAsync(string tenantId, string customerId)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null,
            $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND customer_id = @c ORDER BY created_at, id",
            WalletRow.Read, ("t", tenantId), ("c", customerId));
    }

    public async Task<(List<WalletRow> Items, long Total)> ListAsync(string tenantId, WalletQuery q, int limit, int offset)
    {
        var where = Where.Tenant(tenantId).Eq("customer_id", "c", q.CustomerId).Eq("wallet_status", "s", q.Status).In("id", "wid", q.WalletIds);
        await using var c = await db.OpenAsync();
        var page = await c.PageAsync(WalletRow.Columns, "wallets", where, Sql.OrderBy(q.SortColumn, q.Ascending), limit, offset, WalletRow.Read);
        return (page.Items, page.Total);
    }

    public async Task<LotSummary> LotsAsync(string tenantId, string walletId)
    {
        await using var c = await db.OpenAsync();
        var read = new LotsRead();
        await c.ReadManyAsync(null, read.Statements(tenantId, walletId), read.Row);
        return read.Summary(clock.GetUtcNow());
    }

    /// <summary>
    /// What the real-time balance shows, read in one round trip on one connection: the wallet, its lots, holds and the
    /// invoices waiting on it, and what its customer owes on invoices in its currency. Null when there is no such wallet.
    /// </summary>
    public async Task<(WalletRow Wallet, LotSummary Lots, decimal UnpaidInvoices, IReadOnlyList<BalanceLot> LotsLeft, IReadOnlyList<BalanceHold> Holds)?> BalanceAsync(
        string tenantId, string walletId)
    {
        await using var c = await db.OpenAsync();
        var read = new LotsRead();
        WalletRow? wallet = null;
        var unpaid = 0m;
        (string, (string, object?)[]) ofWallet = ($"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w", [("t", tenantId), ("w", walletId)]);
        (string, (string, object?)[]) invoices = ($"""
            SELECT amount_due, amount_paid FROM invoices
            WHERE tenant_id = @t AND {Invoices.InvoiceReserve.Unpaid}
              AND EXISTS (SELECT 1 FROM wallets w WHERE w.tenant_id = @t AND w.id = @w AND w.customer_id = invoices.customer_id AND w.currency = invoices.currency)
            """, [("t", tenantId), ("w", walletId)]);
        var lots = read.Statements(tenantId, walletId);
        await c.ReadManyAsync(null, [ofWallet, invoices, .. lots], (i, r) =>
        {
            switch (i)
            {
                case 0: wallet = WalletRow.Read(r); break;
                case 1: unpaid += Math.Max(0m, r.Dec("amount_due") - r.Dec("amount_paid")); break;
                default: read.Row(i - 2, r); break;
            }
        });
        return wallet is null ? null : (wallet, read.Summary(clock.GetUtcNow()), unpaid, read.Lots, read.Holds);
    }

    /// <summary>
    /// The wallet's balance at a past instant, computed from the ledger alone: the entries completed by then, the
    /// allocations made by then (spends, expiries and repaid overdraft), and the holds active then. Wallet settings
    /// (name, rates, status) are today's. Null when there is no such wallet. Reads every entry up to the instant.
    /// </summary>
    public async Task<(WalletRow Wallet, LotSummary Lots, IReadOnlyList<BalanceLot> LotsLeft, IReadOnlyList<BalanceHold> Holds)?> BalanceAtAsync(
        string tenantId, string walletId, DateTimeOffset at)
    {
        // One snapshot for the entries, allocations and holds: at an instant near now, a write committing between two of
        // those reads would otherwise be half in the figures.
        var (c, tx) = await db.BeginSnapshotAsync();
        await using var _ = c;
        await using var __ = tx;
        return await BalanceAtAsync(c, tx, tenantId, walletId, at);
    }

    /// <summary>
    /// The columns and source of the allocations of the wallet <c>@w</c> of tenant <c>@t</c>, found through its entries along
    /// <c>ix_wtx_wallet_created</c> and then by the allocations' own key: allocations keep no index by wallet (migration 078).
    /// The CROSS JOIN is SQLite's way of fixing that order: with a plain join its planner scans every allocation of the
    /// tenant and looks each debit up, once per wallet.
    /// </summary>
    public const string AllocationsOfWallet = """
        a.debit_id, a.lot_id, a.credits FROM wallet_transactions d
        CROSS JOIN allocations a
        WHERE d.tenant_id = @t AND d.wallet_id = @w AND a.tenant_id = d.tenant_id AND a.debit_id = d.id
        """;

    static async Task<(WalletRow Wallet, LotSummary Lots, IReadOnlyList<BalanceLot> LotsLeft, IReadOnlyList<BalanceHold> Holds)?> BalanceAtAsync(
        System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx, string tenantId, string walletId, DateTimeOffset at)
    {
        WalletRow? wallet = null;
        var history = new LedgerAt();
        (string, object?)[] args = [("t", tenantId), ("w", walletId), ("at", at)];
        await c.ReadManyAsync(tx,
        [
            ($"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w", args),
            ("""
             SELECT id, type, transaction_reason, credit_amount, expiry_date, priority, created_at FROM wallet_transactions
             WHERE tenant_id = @t AND wallet_id = @w AND transaction_status = 'completed' AND completed_at <= @at
             """, args),
            ($"SELECT {AllocationsOfWallet} AND a.created_at <= @at", args),
            ("""
             SELECT id, credits, expires_at, created_at FROM holds
             WHERE tenant_id = @t AND wallet_id = @w AND created_at <= @at AND (status = 'active' OR updated_at > @at)
             """, args),
        ], (i, r) =>
        {
            switch (i)
            {
                case 0: wallet = WalletRow.Read(r); break;
                case 1:
                    history.Entry(r.Str("id"), r.Str("type"), r.Str("transaction_reason"), r.Dec("credit_amount"), r.NTime("expiry_date"),
                        r.NInt("priority"), r.Time("created_at"));
                    break;
                case 2: history.Allocation(r.Str("debit_id"), r.Str("lot_id"), r.Dec("credits")); break;
                default: history.Hold(new BalanceHold(r.Str("id"), r.Dec("credits"), r.NTime("expires_at"), r.Time("created_at"))); break;
            }
        });
        if (wallet is null) return null;
        var (lots, overdraft, balance) = history.Lots();
        var read = new LotsRead();
        read.Lots.AddRange(lots);
        read.Holds.AddRange(history.Holds);
        return (wallet with { CreditBalance = balance, OverdraftCredits = overdraft }, read.Summary(at), read.Lots, read.Holds);
    }

    /// <summary>
    /// The wallet's statement for (<paramref name="from"/>, <paramref name="to"/>]; null when there is no such wallet, and
    /// <c>TooLong</c> when the period holds more than <see cref="Statements.MaxEntries"/> entries.
    /// </summary>
    public async Task<(StatementDto? Statement, bool TooLong)> StatementAsync(string tenantId, string walletId, DateTimeOffset from, DateTimeOffset to)
    {
        // One snapshot for both balances and the entries between: a write committing meanwhile is in all three or in none.
        var (c, tx) = await db.BeginSnapshotAsync();
        await using var _ = c;
        await using var __ = tx;
        if (await BalanceAtAsync(c, tx, tenantId, walletId, from) is not var (opening, _, _, _)) return (null, false);
        if (await BalanceAtAsync(c, tx, tenantId, walletId, to) is not var (closing, _, _, _)) return (null, false);
        // Entries completed in the same instant are in the order they were written (ids are time-ordered).
        var entries = await c.QueryAsync(tx,
            $"""
             SELECT id, completed_at, type, transaction_reason, description, reference_type, reference_id, credit_amount, amount
             FROM wallet_transactions
             WHERE tenant_id = @t AND wallet_id = @w AND transaction_status = 'completed' AND completed_at > @from AND completed_at <= @to
             ORDER BY completed_at, id{db.OrdinalCollate} LIMIT @n
             """,
            r => (r.Str("id"), r.Time("completed_at"), r.Str("type"), r.Str("transaction_reason"), r.NStr("description"), r.NStr("reference_type"),
                r.NStr("reference_id"), r.Dec("credit_amount"), r.Dec("amount")),
            ("t", tenantId), ("w", walletId), ("from", from), ("to", to), ("n", Statements.MaxEntries + 1));
        if (entries.Count > Statements.MaxEntries) return (null, true);
        return (Statements.Build(closing, from, to, opening.CreditBalance, closing.CreditBalance, entries), false);
    }

    /// <summary>The reads behind a <see cref="LotSummary"/>: open lots, active holds, invoices waiting on the wallet.</summary>
    sealed class LotsRead
    {
        public List<BalanceLot> Lots { get; } = [];
        public List<BalanceHold> Holds { get; } = [];
        readonly List<decimal> _owed = [];

        public List<(string, (string, object?)[])> Statements(string tenantId, string walletId)
        {
            (string, object?)[] args = [("t", tenantId), ("w", walletId)];
            return
            [
                ("""
                 SELECT id, transaction_reason, credit_amount, credits_available, expiry_date, priority, created_at FROM wallet_transactions
                 WHERE tenant_id = @t AND wallet_id = @w AND lot_open = 1
                 """, args),
                ("SELECT id, credits, expires_at, created_at FROM holds WHERE tenant_id = @t AND wallet_id = @w AND status = 'active'", args),
                (Invoices.InvoiceReserve.Select("pay_from_wallet_id = @w"), args),
            ];
        }

        public void Row(int statement, System.Data.Common.DbDataReader r)
        {
            switch (statement)
            {
                case 0:
                    Lots.Add(new BalanceLot(r.Str("id"), r.Str("transaction_reason"), r.Dec("credit_amount"), r.Dec("credits_available"),
                        r.NTime("expiry_date"), r.NInt("priority"), r.Time("created_at")));
                    break;
                case 1: Holds.Add(new BalanceHold(r.Str("id"), r.Dec("credits"), r.NTime("expires_at"), r.Time("created_at"))); break;
                default: _owed.Add(Invoices.InvoiceReserve.Read(r).Owed); break;
            }
        }

        /// <summary>The sums at <paramref name="now"/>; also leaves the lots in spend order and only the holds active then, as the balance lists them.</summary>
        public LotSummary Summary(DateTimeOffset now)
        {
            var live = Lots.Where(l => !l.ExpiredAt(now)).ToList();
            Lots.Sort(BalanceLot.SpendOrder);
            Holds.RemoveAll(h => !new Hold(h.Id, h.Credits, h.ExpiresAt).IsActiveAt(now));
            Holds.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : string.CompareOrdinal(a.Id, b.Id));
            return new LotSummary(
                live.Where(l => !Reasons.IsPurchased(l.TransactionReason)).Sum(l => l.CreditsAvailable),
                live.Where(l => Reasons.IsPurchased(l.TransactionReason)).Sum(l => l.CreditsAvailable),
                Lots.Where(l => l.ExpiredAt(now)).Sum(l => l.CreditsAvailable),
                Holds.Sum(h => h.Credits),
                _owed.Sum());
        }
    }

    /// <summary>The wallet's open lots, by priority, then expiry, then age.</summary>
    public async Task<List<(TransactionRow Lot, bool Purchased)>> OpenLotsAsync(string tenantId, string walletId)
    {
        await using var c = await db.OpenAsync();
        var lots = await c.QueryAsync(null,
            $"SELECT {TransactionRow.Columns} FROM wallet_transactions WHERE tenant_id = @t AND wallet_id = @w AND lot_open = 1",
            TransactionRow.Read, ("t", tenantId), ("w", walletId));
        return lots.OrderBy(l => l.Priority ?? int.MaxValue).ThenBy(l => l.ExpiryDate ?? DateTimeOffset.MaxValue).ThenBy(l => l.CreatedAt)
            .Select(l => (l, Reasons.IsPurchased(l.Reason))).ToList();
    }

    /// <summary>
    /// What automatic top-up compares with its threshold: the credits available now (less holds and overdraft), plus
    /// purchases still waiting for their payment, which will arrive without another top-up.
    /// </summary>
    public async Task<(decimal Counted, decimal Pending)> CountedForTopUpAsync(WalletRow wallet)
    {
        var lots = await LotsAsync(wallet.TenantId, wallet.Id);
        await using var c = await db.OpenAsync();
        var pending = (await c.QueryAsync(null,
            "SELECT credit_amount FROM wallet_transactions WHERE tenant_id = @t AND wallet_id = @w AND transaction_status = 'pending'",
            r => r.Dec("credit_amount"), ("t", wallet.TenantId), ("w", wallet.Id))).Sum();
        return (RealTimeCredits.Of(wallet, lots).Available + pending, pending);
    }

    public async Task<(List<HoldRow> Items, long Total)> HoldsAsync(string tenantId, string walletId, string? status, int limit, int offset)
    {
        var where = Where.Tenant(tenantId).Eq("wallet_id", "w", walletId).Eq("status", "s", status);
        await using var c = await db.OpenAsync();
        var page = await c.PageAsync(HoldRow.Columns, "holds", where, Sql.OrderBy("created_at", ascending: false), limit, offset, HoldRow.Read);
        return (page.Items, page.Total);
    }

    public async Task<(List<TransactionDto> Items, long Total)> TransactionsAsync(
        string tenantId, TransactionQuery q, int limit, int offset, IReadOnlyDictionary<string, WalletRow>? wallets = null)
    {
        var where = Where.Tenant(tenantId)
            .Eq("wallet_id", "w", q.WalletId)
            .Eq("id", "id", q.Id)
            .Eq("type", "type", q.Type)
            .Eq("transaction_status", "status", q.Status)
            .Eq("transaction_reason", "reason", q.Reason)
            .Eq("reference_type", "rtype", q.ReferenceType)
            .Eq("reference_id", "rid", q.ReferenceId)
            .Eq("priority", "prio", q.Priority);
        // A kind is a condition on type and reason, which every list query already narrows by wallet or time first; a stored
        // kind column would say nothing these two do not, and would need a backfill and an index to stay as cheap.
        if (q.Kind is { } kind && TransactionKinds.Filter(kind) is var (kindType, kindReasons, exclude))
        {
            where.Eq("type", "ktype", kindType);
            if (exclude) where.NotIn("transaction_reason", "kreason", kindReasons);
            else where.In("transaction_reason", "kreason", kindReasons);
        }
        if (q.CreatedFrom is not null) where.Add("created_at >= @from", ("from", q.CreatedFrom));
        if (q.CreatedTo is not null) where.Add("created_at < @to", ("to", q.CreatedTo));
        if (q.ExpiryAfter is not null) where.Add("expiry_date > @eafter", ("eafter", q.ExpiryAfter));
        if (q.ExpiryBefore is not null) where.Add("expiry_date < @ebefore", ("ebefore", q.ExpiryBefore));
        if (q.Before is { } before) where.Add("(created_at < @bat OR (created_at = @bat AND id < @bid))", ("bat", before.At), ("bid", before.Id));
        // Decimals are TEXT on SQLite, so a numeric comparison there would compare strings; the open flag
        // answers "has credits left", and a threshold above zero is applied after reading.
        if (q.CreditsAvailableGreaterThan is not null) where.Add("lot_open = 1");
        var order = Sql.OrderBy("created_at", q.Ascending);

        await using var c = await db.OpenAsync();
        List<TransactionRow> rows;
        long total;
        if (q.CreditsAvailableGreaterThan is > 0 and var threshold)
        {
            var all = (await c.QueryAsync(null,
                $"SELECT {TransactionRow.Columns} FROM wallet_transactions WHERE {where.Sql} ORDER BY {order}",
                TransactionRow.Read, where.Args)).Where(r => r.CreditsAvailable > threshold).ToList();
            total = all.Count;
            rows = all.Skip(offset).Take(limit).ToList();
        }
        else
        {
            (rows, total, _, _) = await c.PageAsync(TransactionRow.Columns, "wallet_transactions", where, order, limit, offset, TransactionRow.Read);
        }

        var debitIds = rows.Where(r => r.Type == TransactionTypes.Debit).Select(r => r.Id).ToList();
        var allocations = new List<AllocationRow>();
        if (debitIds.Count > 0)
        {
            var ofDebits = Where.Tenant(tenantId).In("debit_id", "d", debitIds);
            allocations = await c.QueryAsync(null,
                $"SELECT debit_id, lot_id, credits FROM allocations WHERE {ofDebits.Sql} ORDER BY created_at, lot_id",
                r => new AllocationRow(r.Str("debit_id"), r.Str("lot_id"), r.Dec("credits")), ofDebits.Args);
        }
        if (wallets is null && rows.Count > 0)
        {
            // A search across wallets still reports each transaction's currency and rates, as Flexprice does.
            var ofWallets = Where.Tenant(tenantId).In("id", "wl", rows.Select(r => r.WalletId).Distinct().ToList());
            wallets = (await c.QueryAsync(null, $"SELECT {WalletRow.Columns} FROM wallets WHERE {ofWallets.Sql}",
                WalletRow.Read, ofWallets.Args)).ToDictionary(w => w.Id);
        }
        var byDebit = allocations.ToLookup(a => a.DebitId);
        var items = rows.Select(r => WalletDtos.Transaction(r, byDebit[r.Id], wallets?.GetValueOrDefault(r.WalletId))).ToList();
        return (items, total);
    }
}
