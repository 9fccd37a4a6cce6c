namespace Coffer.Ledger.Tests;

/// <summary>
/// An in-memory stand-in for the wallet's ledger tables: the rows the storage layer would write from each
/// <see cref="Changeset"/>. It knows nothing of the engine's <see cref="WalletState"/>, so comparing the two finds
/// drift between what the engine believes and what it told storage to write.
/// </summary>
sealed class LedgerStore
{
    public sealed class Row
    {
        public required string Id { get; init; }
        public required long Seq { get; init; }
        public required string Type { get; init; }
        public required string Reason { get; init; }
        public required decimal CreditAmount { get; init; }

        /// <summary>When the row was inserted; completing a pending credit updates the row and keeps this.</summary>
        public required DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? ExpiresAt { get; init; }
        public int? Priority { get; init; }
        public required string Status { get; set; }
        public decimal BalanceBefore { get; set; }
        public decimal BalanceAfter { get; set; }
        public decimal CreditsAvailable { get; set; }
        public decimal CreditsUnsettled { get; set; }

        /// <summary>Every status the row has had, oldest first.</summary>
        public List<string> StatusHistory { get; } = [];

        public bool IsCredit => Type == TransactionTypes.Credit;
        public bool IsCompleted => Status == TransactionStatuses.Completed;
        public bool IsPending => Status == TransactionStatuses.Pending;
        public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt is { } at && at <= now;

        public override string ToString() =>
            $"{Id} {Type} {Status} {Reason} amount={CreditAmount} available={CreditsAvailable} unsettled={CreditsUnsettled} " +
            $"priority={Priority?.ToString() ?? "none"} expires={ExpiresAt?.ToString("O") ?? "never"} created={CreatedAt:O}";
    }

    public sealed class HoldRow
    {
        public required string Id { get; init; }
        public required decimal Credits { get; init; }
        public DateTimeOffset? ExpiresAt { get; init; }
        public string Status { get; set; } = HoldStatuses.Active;
        public string? DebitId { get; set; }
        public decimal Captured { get; set; }

        /// <summary>Placed and not ended; it reserves credits only until its expiry instant.</summary>
        public bool IsOpen => Status == HoldStatuses.Active;
        public bool ReservesAt(DateTimeOffset now) => IsOpen && (ExpiresAt is not { } at || at > now);

        public override string ToString() =>
            $"hold {Id} {Status} credits={Credits} expires={ExpiresAt?.ToString("O") ?? "never"} debit={DebitId ?? "-"} captured={Captured}";
    }

    readonly List<Row> _rows = [];
    readonly Dictionary<string, Row> _byId = new(StringComparer.Ordinal);
    readonly List<HoldRow> _holds = [];
    readonly Dictionary<string, HoldRow> _holdById = new(StringComparer.Ordinal);
    long _seq;

    public List<AllocationRow> Allocations { get; } = [];

    /// <summary>The balance after the last posted entry, to check the before/after chain.</summary>
    public decimal RunningBalance { get; private set; }

    public IReadOnlyList<Row> Rows => _rows;
    public Row Get(string id) => _byId[id];
    public Row? Find(string id) => _byId.GetValueOrDefault(id);

    public IReadOnlyList<HoldRow> Holds => _holds;
    public HoldRow? FindHold(string id) => _holdById.GetValueOrDefault(id);

    /// <summary>Holds not yet ended, including those whose expiry passed but that no sweep has ended yet.</summary>
    public IEnumerable<HoldRow> OpenHolds => _holds.Where(h => h.IsOpen);

    /// <summary>Credits reserved by holds that have neither ended nor expired.</summary>
    public decimal HeldAt(DateTimeOffset now) => _holds.Where(h => h.ReservesAt(now)).Sum(h => h.Credits);

    public IEnumerable<Row> Credits => _rows.Where(r => r.IsCredit);
    public IEnumerable<Row> Pending => _rows.Where(r => r.IsPending);
    public decimal PendingCredits => Pending.Sum(r => r.CreditAmount);
    public IEnumerable<Row> Lots => _rows.Where(r => r.IsCredit && r.IsCompleted);
    public IEnumerable<Row> OpenLots => Lots.Where(r => r.CreditsAvailable > 0);

    /// <summary>Debits still owing overdraft, oldest first (creation time, then posting order).</summary>
    public IEnumerable<Row> OpenDebts =>
        _rows.Where(r => !r.IsCredit && r.CreditsUnsettled > 0).OrderBy(r => r.CreatedAt).ThenBy(r => r.Seq);

    public decimal Outstanding => _rows.Where(r => !r.IsCredit).Sum(r => r.CreditsUnsettled);

    /// <summary>Σ completed credits − Σ completed debits: pending and failed entries count for nothing.</summary>
    public decimal CompletedBalance =>
        _rows.Where(r => r.IsCompleted).Sum(r => r.IsCredit ? r.CreditAmount : -r.CreditAmount);

    public List<Row> SpendableInOrder(DateTimeOffset now) =>
        OpenLots.Where(l => !l.IsExpiredAt(now)).OrderBy(l => l, SpecSpendOrder.Instance).ToList();

    /// <summary>
    /// Writes one changeset the way the storage layer does: new rows (a completion updates its pending row instead),
    /// then updates to earlier rows, then failed pending entries and holds. Refuses anything storage would refuse or
    /// that no rule allows: a second insert of an id, a status change other than pending → completed/failed, a hold
    /// ended twice.
    /// </summary>
    public void Apply(Changeset changes, DateTimeOffset now)
    {
        foreach (var e in changes.Entries)
        {
            if (e.WasPending) Complete(e);
            else Insert(e, now);
        }
        foreach (var (lotId, available) in changes.LotAvailable)
        {
            if (!_byId.TryGetValue(lotId, out var lot) || !lot.IsCredit || !lot.IsCompleted)
                throw new InvalidOperationException($"changeset updates lot {lotId}, which is not a stored completed credit");
            lot.CreditsAvailable = available;
        }
        foreach (var (debitId, unsettled) in changes.DebtUnsettled)
        {
            if (!_byId.TryGetValue(debitId, out var debit) || debit.IsCredit)
                throw new InvalidOperationException($"changeset updates debt {debitId}, which is not a stored debit");
            debit.CreditsUnsettled = unsettled;
        }
        Allocations.AddRange(changes.Allocations);

        foreach (var id in changes.FailedPending)
        {
            var row = _byId.GetValueOrDefault(id) ?? throw new InvalidOperationException($"changeset fails {id}, which is not stored");
            SetStatus(row, TransactionStatuses.Failed);
        }

        foreach (var hold in changes.NewHolds)
        {
            if (_holdById.ContainsKey(hold.Id)) throw new InvalidOperationException($"hold {hold.Id} placed twice");
            if (hold.Credits <= 0) throw new InvalidOperationException($"hold {hold.Id} reserves {hold.Credits}");
            var row = new HoldRow { Id = hold.Id, Credits = hold.Credits, ExpiresAt = hold.ExpiresAt };
            _holds.Add(row);
            _holdById.Add(row.Id, row);
        }
        foreach (var (holdId, status, debitId, captured) in changes.EndedHolds)
        {
            var hold = _holdById.GetValueOrDefault(holdId) ?? throw new InvalidOperationException($"changeset ends {holdId}, which is not a stored hold");
            if (!hold.IsOpen) throw new InvalidOperationException($"hold {holdId} ended again ({hold.Status} -> {status})");
            if (status == HoldStatuses.Captured)
            {
                var debit = changes.Entries.FirstOrDefault(e => e.Id == debitId);
                if (debit is null || debit.Type != TransactionTypes.Debit || debit.Credits != captured)
                    throw new InvalidOperationException($"hold {holdId} captured {captured} by {debitId ?? "no debit"}, which is not a debit of that amount in the same changeset");
                if (captured <= 0 || captured > hold.Credits)
                    throw new InvalidOperationException($"hold {holdId} of {hold.Credits} captured {captured}");
            }
            else if (status is HoldStatuses.Released or HoldStatuses.Expired)
            {
                if (debitId is not null || captured != 0)
                    throw new InvalidOperationException($"hold {holdId} {status} yet names debit {debitId} of {captured}");
            }
            else
            {
                throw new InvalidOperationException($"hold {holdId} ended with unknown status {status}");
            }
            (hold.Status, hold.DebitId, hold.Captured) = (status, debitId, captured);
        }
    }

    void Insert(PostedEntry e, DateTimeOffset now)
    {
        if (_byId.ContainsKey(e.Id)) throw new InvalidOperationException($"entry {e.Id} posted twice");
        if (e.Status == TransactionStatuses.Pending)
        {
            if (e.Type != TransactionTypes.Credit) throw new InvalidOperationException($"pending entry {e.Id} is a {e.Type}");
            if (e.BalanceBefore != RunningBalance || e.BalanceAfter != RunningBalance)
                throw new InvalidOperationException($"pending entry {e.Id} moves the balance {e.BalanceBefore} -> {e.BalanceAfter} (running {RunningBalance})");
            if (e.CreditsAvailable != 0 || e.CreditsUnsettled != 0)
                throw new InvalidOperationException($"pending entry {e.Id} is spendable ({e.CreditsAvailable}) or owes ({e.CreditsUnsettled})");
        }
        else if (e.Status == TransactionStatuses.Completed)
        {
            CheckChain(e);
        }
        else
        {
            throw new InvalidOperationException($"entry {e.Id} inserted as {e.Status}");
        }
        var row = new Row
        {
            Id = e.Id, Seq = ++_seq, Type = e.Type, Reason = e.Reason, CreditAmount = e.Credits, CreatedAt = now,
            ExpiresAt = e.ExpiresAt, Priority = e.Priority, Status = e.Status, BalanceBefore = e.BalanceBefore,
            BalanceAfter = e.BalanceAfter, CreditsAvailable = e.CreditsAvailable, CreditsUnsettled = e.CreditsUnsettled,
        };
        row.StatusHistory.Add(e.Status);
        _rows.Add(row);
        _byId.Add(row.Id, row);
    }

    /// <summary>pending → completed: an update of the existing row, never a new one.</summary>
    void Complete(PostedEntry e)
    {
        var row = _byId.GetValueOrDefault(e.Id) ?? throw new InvalidOperationException($"entry {e.Id} completes a pending entry that is not stored");
        if (e.Status != TransactionStatuses.Completed) throw new InvalidOperationException($"completion of {e.Id} has status {e.Status}");
        if (e.Type != row.Type || e.Credits != row.CreditAmount || e.Reason != row.Reason || e.ExpiresAt != row.ExpiresAt || e.Priority != row.Priority)
            throw new InvalidOperationException($"completion of {e.Id} changes the entry: {e.Type} {e.Credits} {e.Reason} vs stored {row}");
        if (e.CreditsUnsettled != 0) throw new InvalidOperationException($"completed credit {e.Id} owes {e.CreditsUnsettled}");
        CheckChain(e);
        SetStatus(row, TransactionStatuses.Completed);
        (row.BalanceBefore, row.BalanceAfter, row.CreditsAvailable) = (e.BalanceBefore, e.BalanceAfter, e.CreditsAvailable);
    }

    void CheckChain(PostedEntry e)
    {
        if (e.BalanceBefore != RunningBalance)
            throw new InvalidOperationException($"entry {e.Id}: balance before {e.BalanceBefore} != running balance {RunningBalance}");
        var delta = e.Type == TransactionTypes.Credit ? e.Credits : -e.Credits;
        if (e.BalanceAfter != e.BalanceBefore + delta)
            throw new InvalidOperationException($"entry {e.Id}: balance after {e.BalanceAfter} != {e.BalanceBefore} {delta:+0.############;-0.############}");
        RunningBalance = e.BalanceAfter;
    }

    /// <summary>The only status change a ledger entry may receive: pending → completed or pending → failed, once.</summary>
    static void SetStatus(Row row, string status)
    {
        if (!row.IsPending) throw new InvalidOperationException($"entry {row.Id} changed {row.Status} -> {status}; only a pending entry may change");
        if (status is not (TransactionStatuses.Completed or TransactionStatuses.Failed))
            throw new InvalidOperationException($"pending entry {row.Id} changed to {status}");
        row.Status = status;
        row.StatusHistory.Add(status);
    }

    public WalletAudit Audit(WalletState state) =>
        new(state.WalletId, state.CreditBalance, state.OverdraftCredits, state.OverdraftLimit,
            _rows.Select(r => new LedgerEntry(r.Id, r.Type, r.Status, r.Reason, r.CreditAmount,
                r.CreditsAvailable, r.CreditsUnsettled)).ToList(),
            Allocations.ToList());
}

/// <summary>
/// DESIGN.md 4.1 written out again, independently of <see cref="SpendOrder"/>: priority ascending (none last),
/// expiry ascending (never last), creation time, id.
/// </summary>
sealed class SpecSpendOrder : IComparer<LedgerStore.Row>
{
    public static readonly SpecSpendOrder Instance = new();

    public int Compare(LedgerStore.Row? x, LedgerStore.Row? y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var kx = (x.Priority is null ? 1 : 0, x.Priority ?? 0, x.ExpiresAt is null ? 1 : 0, x.ExpiresAt ?? default);
        var ky = (y.Priority is null ? 1 : 0, y.Priority ?? 0, y.ExpiresAt is null ? 1 : 0, y.ExpiresAt ?? default);
        var c = kx.CompareTo(ky);
        if (c != 0) return c;
        c = x.CreatedAt.CompareTo(y.CreatedAt);
        return c != 0 ? c : string.CompareOrdinal(x.Id, y.Id);
    }
}
