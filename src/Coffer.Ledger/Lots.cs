namespace Coffer.Ledger;

/// <summary>
/// A completed credit as the spend order sees it. <see cref="Available"/> is what is left of
/// <see cref="CreditAmount"/> after the debits that consumed it.
/// </summary>
/// <remarks>
/// <see cref="Amount"/> is the money paid for the whole <see cref="CreditAmount"/> (0 for free credits): the lot's
/// price per credit is Amount / CreditAmount, and its value comes only from it, never from the wallet's rate.
/// </remarks>
public sealed record Lot(
    string Id,
    decimal CreditAmount,
    decimal Available,
    DateTimeOffset? ExpiresAt,
    int? Priority,
    DateTimeOffset CreatedAt,
    decimal Amount)
{
    public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt is { } at && at <= now;

    /// <summary>Credits bought with money; free and bonus credits are worth nothing.</summary>
    public bool PaidFor => Amount > 0;

    /// <summary>
    /// What <paramref name="credits"/> of this lot were paid, truncated at <paramref name="scale"/> fractional digits: a
    /// refund of part of a lot never returns more than the money received for that part.
    /// </summary>
    public decimal ValueOf(decimal credits, int scale) => Money.ShareOf(Amount, credits, CreditAmount, scale);

    /// <summary>A lot stops being spendable at its expiry instant, not at the sweep that posts the expiry.</summary>
    public bool IsSpendableAt(DateTimeOffset now) => Available > 0 && !IsExpiredAt(now);
}

/// <summary>A debit that went into overdraft and still owes <see cref="Unsettled"/> credits.</summary>
public sealed record Debt(string DebitId, decimal Unsettled, DateTimeOffset CreatedAt);

public sealed record Allocation(string LotId, decimal Credits);

/// <summary>
/// DESIGN.md 4.1: priority ascending (none last), then expiry ascending (never last), then creation
/// time, then id. Deterministic so that two nodes replaying the same inputs consume the same lots.
/// </summary>
public sealed class SpendOrder : IComparer<Lot>
{
    public static readonly SpendOrder Instance = new();

    public int Compare(Lot? x, Lot? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        var c = CompareNullsLast(x.Priority, y.Priority);
        if (c != 0) return c;
        c = CompareNullsLast(x.ExpiresAt, y.ExpiresAt);
        if (c != 0) return c;
        c = x.CreatedAt.CompareTo(y.CreatedAt);
        if (c != 0) return c;
        return string.CompareOrdinal(x.Id, y.Id);
    }

    static int CompareNullsLast<T>(T? a, T? b) where T : struct, IComparable<T> =>
        (a, b) switch
        {
            (null, null) => 0,
            (null, _) => 1,
            (_, null) => -1,
            _ => a.Value.CompareTo(b.Value),
        };
}
