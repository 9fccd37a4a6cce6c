namespace Coffer.Ledger;

/// <summary>What a debit would do to a wallet, decided from the wallet's state read under its lock.</summary>
public abstract record DebitPlan
{
    private DebitPlan() { }

    /// <summary>The debit fits: it consumes these lots and leaves <see cref="OverdraftCredits"/> unsettled.</summary>
    public sealed record Allocated(IReadOnlyList<Allocation> Allocations, decimal OverdraftCredits) : DebitPlan;

    /// <summary>The debit is larger than the spendable credits plus the overdraft still allowed.</summary>
    public sealed record InsufficientBalance(decimal Requested, decimal Available) : DebitPlan;
}

/// <summary>How a new credit is split between repaying overdraft debts (oldest first) and a spendable lot.</summary>
public sealed record CreditPlan(IReadOnlyList<Repayment> Repayments, decimal LotAvailable);

public sealed record Repayment(string DebitId, decimal Credits);

public static class Planner
{
    /// <summary>
    /// Credits a debit may take now: spendable lots, less holds, plus the overdraft the wallet's policy
    /// still allows.
    /// </summary>
    /// <param name="unread">Credits in spendable lots that were not read (<see cref="WalletState.UnreadCredits"/>).</param>
    public static decimal AvailableToSpend(
        IEnumerable<Lot> lots, DateTimeOffset now, decimal overdraftLimit, decimal overdraftOutstanding, decimal pendingCharges = 0m, decimal unread = 0m)
    {
        var spendable = lots.Where(l => l.IsSpendableAt(now)).Sum(l => l.Available) + unread;
        return spendable - pendingCharges + Math.Max(0m, overdraftLimit - overdraftOutstanding);
    }

    /// <summary>
    /// Plans a debit against the spendable lots. <paramref name="held"/> credits are reserved by holds: they
    /// are not spendable by anything but the capture of their own hold. When lots were left unread
    /// (<paramref name="unread"/> credits, every one of them after <paramref name="readUpTo"/> in the spend order), a
    /// debit that would reach past <paramref name="readUpTo"/> throws <see cref="EveryLotNeededException"/>.
    /// </summary>
    public static DebitPlan PlanDebit(
        IEnumerable<Lot> lots, decimal credits, DateTimeOffset now, decimal overdraftLimit, decimal overdraftOutstanding, decimal held = 0m,
        decimal unread = 0m, Lot? readUpTo = null)
    {
        if (credits <= 0) throw new ArgumentOutOfRangeException(nameof(credits), credits, "a debit moves a positive amount");
        var spendable = lots.Where(l => l.IsSpendableAt(now)).ToList();
        // Exact without the unread lots: what they hold is known, only not where it lies.
        var available = AvailableToSpend(spendable, now, overdraftLimit, overdraftOutstanding, held, unread);
        if (credits > available) return new DebitPlan.InsufficientBalance(credits, Math.Max(0m, available));

        // A debit usually spends the first lot or two of a wallet that may hold thousands: a heap (built in linear time)
        // yields them in spend order without sorting the rest. SpendOrder is total, so the order is the sort's.
        var next = new PriorityQueue<Lot, Lot>(spendable.Select(l => (l, l)), SpendOrder.Instance);
        var allocations = new List<Allocation>();
        var remaining = credits;
        while (remaining > 0 && next.TryDequeue(out var lot, out _))
        {
            // An unread lot might come before this one (a lot granted in this batch may sort after them).
            if (unread > 0 && (readUpTo is null || SpendOrder.Instance.Compare(lot, readUpTo) > 0)) throw new EveryLotNeededException();
            var take = Math.Min(lot.Available, remaining);
            allocations.Add(new Allocation(lot.Id, take));
            remaining -= take;
        }
        // The rest would come from unread lots (or, once they are spent too, from the overdraft).
        if (remaining > 0 && unread > 0) throw new EveryLotNeededException();
        return new DebitPlan.Allocated(allocations, remaining);
    }

    /// <summary>
    /// A debit that takes every spendable credit (termination). Expired lots are not included: they are
    /// expired first so that the history says why they left.
    /// </summary>
    public static IReadOnlyList<Allocation> PlanDrain(IEnumerable<Lot> lots, DateTimeOffset now) =>
        lots.Where(l => l.IsSpendableAt(now))
            .OrderBy(l => l, SpendOrder.Instance)
            .Select(l => new Allocation(l.Id, l.Available))
            .ToList();

    /// <summary>New credit repays overdraft first, oldest debt first, so that no debt outlives newer credit.</summary>
    public static CreditPlan PlanCredit(decimal credits, IEnumerable<Debt> debts)
    {
        if (credits <= 0) throw new ArgumentOutOfRangeException(nameof(credits), credits, "a credit moves a positive amount");
        var repayments = new List<Repayment>();
        var left = credits;
        foreach (var debt in debts.Where(d => d.Unsettled > 0).OrderBy(d => d.CreatedAt).ThenBy(d => d.DebitId, StringComparer.Ordinal))
        {
            if (left == 0) break;
            var pay = Math.Min(debt.Unsettled, left);
            repayments.Add(new Repayment(debt.DebitId, pay));
            left -= pay;
        }
        return new CreditPlan(repayments, left);
    }

    /// <summary>The lots whose expiry has passed and that still hold credits, in spend order.</summary>
    public static IReadOnlyList<Lot> ExpiredLots(IEnumerable<Lot> lots, DateTimeOffset now) =>
        lots.Where(l => l.Available > 0 && l.IsExpiredAt(now)).OrderBy(l => l, SpendOrder.Instance).ToList();
}

/// <summary>
/// The wallet's state holds only the first of its open lots and this command needs more of them: the caller reads every
/// lot and applies the commands again. Thrown before any decision is returned, so nothing of the partial run is kept.
/// </summary>
public sealed class EveryLotNeededException() : Exception("the command needs every open lot of the wallet");
