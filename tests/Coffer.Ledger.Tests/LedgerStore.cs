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
        public required DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? ExpiresAt { get; init; }
        public int? Priority { get; init; }
        public decimal CreditsAvailable { get; set; }
        public decimal CreditsUnsettled { get; set; }

        public bool IsCredit => Type == TransactionTypes.Credit;
        public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt is { } at && at <= now;

        public override string ToString() =>
            $"{Id} {Type} {Reason} amount={CreditAmount} available={CreditsAvailable} unsettled={CreditsUnsettled} " +
            $"priority={Priority?.ToString() ?? "none"} expires={ExpiresAt?.ToString("O") ?? "never"} created={CreatedAt:O}";
    }

    readonly List<Row> _rows = [];
    readonly Dictionary<string, Row> _byId = new(StringComparer.Ordinal);
    long _seq;

    public List<AllocationRow> Allocations { get; } = [];

    /// <summary>The balance after the last posted entry, to check the before/after chain.</summary>
    public decimal RunningBalance { get; private set; }

    public IReadOnlyList<Row> Rows => _rows;
    public Row Get(string id) => _byId[id];

    public IEnumerable<Row> Lots => _rows.Where(r => r.IsCredit);
    public IEnumerable<Row> OpenLots => Lots.Where(r => r.CreditsAvailable > 0);

    /// <summary>Debits still owing overdraft, oldest first (creation time, then posting order).</summary>
    public IEnumerable<Row> OpenDebts =>
        _rows.Where(r => !r.IsCredit && r.CreditsUnsettled > 0).OrderBy(r => r.CreatedAt).ThenBy(r => r.Seq);

    public decimal Outstanding => _rows.Where(r => !r.IsCredit).Sum(r => r.CreditsUnsettled);

    public List<Row> SpendableInOrder(DateTimeOffset now) =>
        OpenLots.Where(l => !l.IsExpiredAt(now)).OrderBy(l => l, SpecSpendOrder.Instance).ToList();

    /// <summary>Writes one changeset the way the storage layer does: new rows, then updates to earlier rows.</summary>
    public void Apply(Changeset changes, DateTimeOffset now)
    {
        foreach (var e in changes.Entries)
        {
            if (_byId.ContainsKey(e.Id)) throw new InvalidOperationException($"entry {e.Id} posted twice");
            if (e.BalanceBefore != RunningBalance)
                throw new InvalidOperationException($"entry {e.Id}: balance before {e.BalanceBefore} != running balance {RunningBalance}");
            var delta = e.Type == TransactionTypes.Credit ? e.Credits : -e.Credits;
            if (e.BalanceAfter != e.BalanceBefore + delta)
                throw new InvalidOperationException($"entry {e.Id}: balance after {e.BalanceAfter} != {e.BalanceBefore} {delta:+0.############;-0.############}");
            RunningBalance = e.BalanceAfter;
            var row = new Row
            {
                Id = e.Id, Seq = ++_seq, Type = e.Type, Reason = e.Reason, CreditAmount = e.Credits, CreatedAt = now,
                ExpiresAt = e.ExpiresAt, Priority = e.Priority, CreditsAvailable = e.CreditsAvailable,
                CreditsUnsettled = e.CreditsUnsettled,
            };
            _rows.Add(row);
            _byId.Add(row.Id, row);
        }
        foreach (var (lotId, available) in changes.LotAvailable)
        {
            if (!_byId.TryGetValue(lotId, out var lot) || !lot.IsCredit)
                throw new InvalidOperationException($"changeset updates lot {lotId}, which is not a stored credit");
            lot.CreditsAvailable = available;
        }
        foreach (var (debitId, unsettled) in changes.DebtUnsettled)
        {
            if (!_byId.TryGetValue(debitId, out var debit) || debit.IsCredit)
                throw new InvalidOperationException($"changeset updates debt {debitId}, which is not a stored debit");
            debit.CreditsUnsettled = unsettled;
        }
        Allocations.AddRange(changes.Allocations);
    }

    public WalletAudit Audit(WalletState state) =>
        new(state.WalletId, state.CreditBalance, state.OverdraftCredits, state.OverdraftLimit,
            _rows.Select(r => new LedgerEntry(r.Id, r.Type, TransactionStatuses.Completed, r.Reason, r.CreditAmount,
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
