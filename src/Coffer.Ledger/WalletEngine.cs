namespace Coffer.Ledger;

/// <summary>
/// The wallet's ledger-relevant state, read under the wallet's lock. <see cref="WalletEngine"/> mutates it
/// as it applies commands, so a batch of commands against one wallet (group commit) sees each earlier one.
/// </summary>
public sealed class WalletState
{
    public required string WalletId { get; init; }
    public required string Status { get; set; }
    public decimal CreditBalance { get; set; }
    public decimal OverdraftCredits { get; set; }
    public decimal OverdraftLimit { get; set; }

    /// <summary>Completed credits with credits left, in any order.</summary>
    public List<Lot> OpenLots { get; init; } = [];

    /// <summary>Completed debits that still owe part of their amount to the overdraft.</summary>
    public List<Debt> OpenDebts { get; init; } = [];
}

public abstract record WalletCommand(string EntryId)
{
    public sealed record Credit(string EntryId, decimal Credits, string Reason, DateTimeOffset? ExpiresAt, int? Priority)
        : WalletCommand(EntryId);

    public sealed record Debit(string EntryId, decimal Credits, string Reason) : WalletCommand(EntryId);

    /// <summary>Posts CREDIT_EXPIRED for what is left of one lot, once its expiry has passed.</summary>
    public sealed record ExpireLot(string EntryId, string LotId) : WalletCommand(EntryId);

    /// <summary>Expires what has expired, debits the rest (WALLET_TERMINATION) and closes the wallet.</summary>
    public sealed record Terminate(string EntryId) : WalletCommand(EntryId);
}

/// <summary>A new ledger entry decided by the engine; the storage layer adds descriptions and metadata.</summary>
public sealed record PostedEntry(
    string Id,
    string Type,
    string Reason,
    decimal Credits,
    decimal BalanceBefore,
    decimal BalanceAfter,
    decimal CreditsAvailable,
    decimal CreditsUnsettled,
    DateTimeOffset? ExpiresAt,
    int? Priority,
    string? ExpiredLotId);

public abstract record CommandOutcome
{
    private CommandOutcome() { }

    public sealed record Posted(IReadOnlyList<PostedEntry> Entries) : CommandOutcome;
    public sealed record InsufficientBalance(decimal Requested, decimal Available) : CommandOutcome;
    public sealed record WalletNotActive(string Status) : CommandOutcome;
    public sealed record BalanceLimitExceeded(decimal Limit) : CommandOutcome;

    /// <summary>Nothing to do: the lot is already expired and empty, or the wallet is already closed.</summary>
    public sealed record NoChange(string Why) : CommandOutcome;
}

/// <summary>Every row the storage layer must write so that the database matches the engine's state.</summary>
public sealed class Changeset
{
    public List<PostedEntry> Entries { get; } = [];
    public List<AllocationRow> Allocations { get; } = [];
    public Dictionary<string, decimal> LotAvailable { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, decimal> DebtUnsettled { get; } = new(StringComparer.Ordinal);
    public string? NewStatus { get; set; }
    public bool IsEmpty => Entries.Count == 0 && NewStatus is null;
}

public static class WalletEngine
{
    public static CommandOutcome Apply(
        WalletState state, WalletCommand command, DateTimeOffset now, Changeset changes, Func<string> newId) =>
        command switch
        {
            WalletCommand.Credit c => ApplyCredit(state, c, now, changes),
            WalletCommand.Debit d => ApplyDebit(state, d, now, changes),
            WalletCommand.ExpireLot e => ApplyExpiry(state, e.EntryId, e.LotId, now, changes),
            WalletCommand.Terminate t => ApplyTerminate(state, t, now, changes, newId),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown command"),
        };

    static CommandOutcome ApplyCredit(WalletState state, WalletCommand.Credit c, DateTimeOffset now, Changeset changes)
    {
        if (c.Credits <= 0) throw new ArgumentOutOfRangeException(nameof(c), c.Credits, "credit must be positive");
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);
        if (state.CreditBalance + c.Credits > Money.MaxBalance) return new CommandOutcome.BalanceLimitExceeded(Money.MaxBalance);

        var plan = Planner.PlanCredit(c.Credits, state.OpenDebts);
        foreach (var repayment in plan.Repayments)
        {
            var debt = state.OpenDebts.First(d => d.DebitId == repayment.DebitId);
            var left = debt.Unsettled - repayment.Credits;
            Replace(state.OpenDebts, debt, left > 0 ? debt with { Unsettled = left } : null);
            changes.DebtUnsettled[debt.DebitId] = left;
            changes.Allocations.Add(new AllocationRow(debt.DebitId, c.EntryId, repayment.Credits));
            state.OverdraftCredits -= repayment.Credits;
        }

        var before = state.CreditBalance;
        state.CreditBalance += c.Credits;
        var entry = new PostedEntry(c.EntryId, TransactionTypes.Credit, c.Reason, c.Credits, before, state.CreditBalance,
            plan.LotAvailable, 0m, c.ExpiresAt, c.Priority, null);
        if (plan.LotAvailable > 0)
            state.OpenLots.Add(new Lot(c.EntryId, c.Credits, plan.LotAvailable, c.ExpiresAt, c.Priority, now, Reasons.IsPurchased(c.Reason)));
        changes.Entries.Add(entry);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyDebit(WalletState state, WalletCommand.Debit d, DateTimeOffset now, Changeset changes)
    {
        if (d.Credits <= 0) throw new ArgumentOutOfRangeException(nameof(d), d.Credits, "debit must be positive");
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);

        var plan = Planner.PlanDebit(state.OpenLots, d.Credits, now, state.OverdraftLimit, state.OverdraftCredits);
        if (plan is DebitPlan.InsufficientBalance insufficient)
            return new CommandOutcome.InsufficientBalance(insufficient.Requested, insufficient.Available);
        var allocated = (DebitPlan.Allocated)plan;
        var entry = PostDebit(state, d.EntryId, d.Reason, d.Credits, allocated.Allocations, allocated.OverdraftCredits, null, now, changes);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyExpiry(WalletState state, string entryId, string lotId, DateTimeOffset now, Changeset changes)
    {
        var lot = state.OpenLots.FirstOrDefault(l => l.Id == lotId);
        if (lot is null || lot.Available == 0) return new CommandOutcome.NoChange("lot has nothing left to expire");
        if (!lot.IsExpiredAt(now)) return new CommandOutcome.NoChange("lot has not expired");
        var entry = PostDebit(state, entryId, Reasons.CreditExpired, lot.Available, [new Allocation(lot.Id, lot.Available)], 0m, lot.Id, now, changes);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyTerminate(WalletState state, WalletCommand.Terminate t, DateTimeOffset now, Changeset changes, Func<string> newId)
    {
        if (state.Status == WalletStatuses.Closed) return new CommandOutcome.NoChange("wallet is already closed");

        var posted = new List<PostedEntry>();
        foreach (var lot in Planner.ExpiredLots(state.OpenLots, now))
        {
            if (ApplyExpiry(state, newId(), lot.Id, now, changes) is CommandOutcome.Posted p) posted.AddRange(p.Entries);
        }
        var drain = Planner.PlanDrain(state.OpenLots, now);
        var total = drain.Sum(a => a.Credits);
        if (total > 0)
            posted.Add(PostDebit(state, t.EntryId, Reasons.WalletTermination, total, drain, 0m, null, now, changes));

        state.Status = WalletStatuses.Closed;
        changes.NewStatus = WalletStatuses.Closed;
        return new CommandOutcome.Posted(posted);
    }

    static PostedEntry PostDebit(
        WalletState state, string entryId, string reason, decimal credits, IReadOnlyList<Allocation> allocations,
        decimal overdraft, string? expiredLotId, DateTimeOffset now, Changeset changes)
    {
        foreach (var a in allocations)
        {
            var lot = state.OpenLots.First(l => l.Id == a.LotId);
            var left = lot.Available - a.Credits;
            if (left < 0) throw new InvalidOperationException($"allocation overdraws lot {lot.Id}");
            Replace(state.OpenLots, lot, left > 0 ? lot with { Available = left } : null);
            changes.LotAvailable[lot.Id] = left;
            changes.Allocations.Add(new AllocationRow(entryId, a.LotId, a.Credits));
        }
        var before = state.CreditBalance;
        state.CreditBalance -= credits;
        if (overdraft > 0)
        {
            state.OverdraftCredits += overdraft;
            state.OpenDebts.Add(new Debt(entryId, overdraft, now));
        }
        var entry = new PostedEntry(entryId, TransactionTypes.Debit, reason, credits, before, state.CreditBalance,
            0m, overdraft, null, null, expiredLotId);
        changes.Entries.Add(entry);
        return entry;
    }

    static void Replace<T>(List<T> list, T old, T? replacement) where T : class
    {
        var i = list.IndexOf(old);
        if (replacement is null) list.RemoveAt(i);
        else list[i] = replacement;
    }
}
