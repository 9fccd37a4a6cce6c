using Coffer.Ledger;

namespace Coffer.Wallets;

/// <summary>A lot as the real-time balance shows it: what was granted and what was left of it at the balance's instant.</summary>
public sealed record BalanceLot(
    string Id, string TransactionReason, decimal Credits, decimal CreditsAvailable, DateTimeOffset? ExpiryDate, int? Priority, DateTimeOffset CreatedAt)
{
    /// <summary>Expired at that instant; the sweep may not have posted its expiry yet.</summary>
    public bool ExpiredAt(DateTimeOffset instant) => ExpiryDate is { } e && e <= instant;

    /// <summary>The spend order (DESIGN.md §4.1): priority (none last), expiry (never last), creation, id.</summary>
    public static int SpendOrder(BalanceLot a, BalanceLot b)
    {
        var c = (a.Priority ?? int.MaxValue).CompareTo(b.Priority ?? int.MaxValue);
        if (c == 0) c = (a.ExpiryDate ?? DateTimeOffset.MaxValue).CompareTo(b.ExpiryDate ?? DateTimeOffset.MaxValue);
        if (c == 0) c = a.CreatedAt.CompareTo(b.CreatedAt);
        return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
    }
}

/// <summary>A hold active at the balance's instant.</summary>
public sealed record BalanceHold(string Id, decimal Credits, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt);

/// <summary>
/// A wallet's lots, overdraft and balance at an instant, replayed from the immutable ledger: every entry completed by
/// then, and every allocation made by then. A lot is left with what it granted less what allocations took from it (spends,
/// its expiry, its termination, and the overdraft it repaid); a debit still owes what allocations have not covered.
/// The balance is then Σ lots left − Σ owed, which is Σ completed credits − Σ completed debits (DESIGN.md §4.2).
/// </summary>
public sealed class LedgerAt
{
    readonly List<(string Id, string Reason, decimal Credits, DateTimeOffset? Expiry, int? Priority, DateTimeOffset CreatedAt)> _credits = [];
    readonly List<(string Id, decimal Credits)> _debits = [];
    readonly Dictionary<string, decimal> _takenFromLot = new(StringComparer.Ordinal);
    readonly Dictionary<string, decimal> _coveredOfDebit = new(StringComparer.Ordinal);

    public List<BalanceHold> Holds { get; } = [];

    /// <summary>An entry completed at or before the instant.</summary>
    public void Entry(string id, string type, string reason, decimal credits, DateTimeOffset? expiry, int? priority, DateTimeOffset createdAt)
    {
        if (type == TransactionTypes.Credit) _credits.Add((id, reason, credits, expiry, priority, createdAt));
        else _debits.Add((id, credits));
    }

    /// <summary>An allocation made at or before the instant: <paramref name="credits"/> of lot <paramref name="lotId"/> went to debit <paramref name="debitId"/>.</summary>
    public void Allocation(string debitId, string lotId, decimal credits)
    {
        _takenFromLot[lotId] = _takenFromLot.GetValueOrDefault(lotId) + credits;
        _coveredOfDebit[debitId] = _coveredOfDebit.GetValueOrDefault(debitId) + credits;
    }

    /// <summary>A hold created by the instant and not yet ended then.</summary>
    public void Hold(BalanceHold hold) => Holds.Add(hold);

    /// <summary>The lots with credits left at the instant, what debits still owed then, and the balance.</summary>
    public (List<BalanceLot> Lots, decimal Overdraft, decimal Balance) Lots()
    {
        var lots = _credits
            .Select(c => new BalanceLot(c.Id, c.Reason, c.Credits, c.Credits - _takenFromLot.GetValueOrDefault(c.Id), c.Expiry, c.Priority, c.CreatedAt))
            .Where(l => l.CreditsAvailable > 0)
            .ToList();
        var overdraft = _debits.Sum(d => Math.Max(0m, d.Credits - _coveredOfDebit.GetValueOrDefault(d.Id)));
        return (lots, overdraft, lots.Sum(l => l.CreditsAvailable) - overdraft);
    }
}
