namespace Coffer.Ledger;

public static class SpendPeriods
{
    public const string Day = "day";
    public const string Month = "month";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Day, Month };

    /// <summary>The UTC day an instant falls in: spend is counted per UTC day, and a month is the sum of its days.</summary>
    public static DateTimeOffset DayOf(DateTimeOffset at) => new(at.UtcDateTime.Date, TimeSpan.Zero);

    public static DateTimeOffset MonthOf(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
    }
}

/// <summary>
/// At most <paramref name="Credits"/> spent a <paramref name="Period"/> by debits carrying <paramref name="Dimension"/>: by
/// each of its values when <paramref name="Value"/> is null (every member of a team at most 50 a day), else by that value alone.
/// </summary>
public sealed record SpendCap(string Dimension, string? Value, string Period, decimal Credits)
{
    public bool AppliesTo(string dimension, string value) => Dimension == dimension && (Value is null || Value == value);
}

/// <summary>What debits carrying one dimension value have spent in the UTC day and month of the instant the state was read at.</summary>
public sealed record SpentSoFar(decimal Day, decimal Month)
{
    public static readonly SpentSoFar None = new(0m, 0m);

    public decimal In(string period) => period == SpendPeriods.Day ? Day : Month;

    public SpentSoFar Plus(decimal credits) => new(Day + credits, Month + credits);
}

/// <summary>
/// The caps a wallet sets on what each dimension value may spend, decided with the balance in the same locked decision:
/// a debit that would take any value it carries past any cap that applies to it is refused whole.
/// </summary>
public static class SpendLimits
{
    /// <summary>The first cap the debit would exceed, or null when it may spend.</summary>
    public static CommandOutcome.SpendLimitExceeded? Refuse(WalletState state, IReadOnlyDictionary<string, string>? dimensions, decimal credits)
    {
        if (dimensions is null || state.SpendCaps.Count == 0) return null;
        foreach (var (dimension, value) in dimensions.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            var spent = state.Spent.GetValueOrDefault((dimension, value), SpentSoFar.None);
            foreach (var cap in state.SpendCaps.Where(c => c.AppliesTo(dimension, value)))
                if (spent.In(cap.Period) + credits > cap.Credits)
                    return new CommandOutcome.SpendLimitExceeded(dimension, value, cap.Period, cap.Credits, spent.In(cap.Period), credits);
        }
        return null;
    }

    /// <summary>Counts a debit that was posted, so the next decision of the same batch sees it.</summary>
    public static void Record(WalletState state, IReadOnlyDictionary<string, string>? dimensions, decimal credits)
    {
        if (dimensions is null) return;
        foreach (var (dimension, value) in dimensions)
            state.Spent[(dimension, value)] = state.Spent.GetValueOrDefault((dimension, value), SpentSoFar.None).Plus(credits);
    }
}
