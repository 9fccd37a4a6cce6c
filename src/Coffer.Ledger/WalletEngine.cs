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

    /// <summary>Completed credits with credits left, in any order: every one of them, or the first ones (see <see cref="UnreadCredits"/>).</summary>
    public List<Lot> OpenLots { get; init; } = [];

    /// <summary>
    /// A wallet with many open lots may be read in part: every expired lot, and the first unexpired ones in the spend
    /// order up to <see cref="ReadUpTo"/>. The others hold these credits, all of them spendable at the instant the state
    /// was read (the instant its commands are applied at) and after <see cref="ReadUpTo"/> in the spend order. A command
    /// that needs one of them throws <see cref="EveryLotNeededException"/>. 0: every open lot was read.
    /// </summary>
    public decimal UnreadCredits { get; init; }

    /// <summary>The last lot read in the spend order when <see cref="UnreadCredits"/> is above 0; null: none was read.</summary>
    public Lot? ReadUpTo { get; init; }

    /// <summary>Completed debits that still owe part of their amount to the overdraft.</summary>
    public List<Debt> OpenDebts { get; init; } = [];

    /// <summary>Credits bought but not yet paid for: no lot, no balance, until completed.</summary>
    public List<PendingCredit> PendingCredits { get; init; } = [];

    /// <summary>Active holds: credits reserved for a later capture.</summary>
    public List<Hold> Holds { get; init; } = [];

    /// <summary>
    /// Credits owed to unpaid invoices this wallet pays (auto-pay, or partly paid from it and waiting for funds). New
    /// charges cannot spend them; only an invoice payment can. It may exceed what the wallet holds.
    /// </summary>
    public decimal InvoiceReserve { get; init; }

    /// <summary>The wallet's caps on what each dimension value may spend a day or a month.</summary>
    public IReadOnlyList<SpendCap> SpendCaps { get; init; } = [];

    /// <summary>
    /// What the dimension values the batch's debits carry have spent in the day and month of the instant the state was read
    /// at (read only for wallets with caps: the decision needs nothing else).
    /// </summary>
    public Dictionary<(string Dimension, string Value), SpentSoFar> Spent { get; init; } = [];

    /// <summary>Credits reserved by holds that have not expired by <paramref name="now"/>.</summary>
    public decimal HeldAt(DateTimeOffset now) => Holds.Where(h => h.IsActiveAt(now)).Sum(h => h.Credits);

    /// <summary>What new charges must leave alone: active holds and the invoice reserve (the wallet's pending charges).</summary>
    public decimal ReservedAt(DateTimeOffset now) => HeldAt(now) + InvoiceReserve;
}

/// <remarks>
/// <see cref="Amount"/> is what the purchase costs (the lot's price once completed). <see cref="CreatedAt"/> is when
/// the pending entry was written: completing it updates that row, so the lot keeps this creation time in the spend
/// order (null: unknown, the completion time is used).
/// </remarks>
public sealed record PendingCredit(
    string Id, decimal Credits, decimal Amount, string Reason, DateTimeOffset? ExpiresAt, int? Priority, DateTimeOffset? CreatedAt = null);

/// <summary>A reservation of credits; it stops reserving at its expiry instant, like a lot stops being spendable.</summary>
public sealed record Hold(string Id, decimal Credits, DateTimeOffset? ExpiresAt)
{
    public bool IsActiveAt(DateTimeOffset now) => ExpiresAt is not { } at || at > now;
}

public abstract record WalletCommand(string EntryId)
{
    /// <summary>
    /// Grants credits. <c>Amount</c> is the money paid for them (0 for free credits), decided by the operation that
    /// knows the price: it becomes the entry's currency amount and the lot's value, never re-derived from a rate.
    /// </summary>
    public sealed record Credit(string EntryId, decimal Credits, decimal Amount, string Reason, DateTimeOffset? ExpiresAt, int? Priority)
        : WalletCommand(EntryId);

    /// <summary>
    /// Spends credits in the spend order; <c>AllowOverdraft</c> false spends only what the lots hold (a transfer moves lots).
    /// <c>Dimensions</c> attribute the spend (member, project…) and are held to the wallet's <see cref="WalletState.SpendCaps"/>.
    /// </summary>
    public sealed record Debit(string EntryId, decimal Credits, string Reason, bool AllowOverdraft = true,
        IReadOnlyDictionary<string, string>? Dimensions = null) : WalletCommand(EntryId);

    /// <summary>Grants several lots at once, all or none (a transfer's arriving credits); each is posted as a <see cref="Credit"/>.</summary>
    public sealed record CreditLots(string EntryId, IReadOnlyList<Credit> Lots) : WalletCommand(EntryId);

    /// <summary>Posts CREDIT_EXPIRED for what is left of one lot, once its expiry has passed.</summary>
    public sealed record ExpireLot(string EntryId, string LotId) : WalletCommand(EntryId);

    /// <summary>
    /// Fails what is pending, releases the holds, expires what has expired, debits the rest
    /// (WALLET_TERMINATION) and closes the wallet.
    /// </summary>
    public sealed record Terminate(string EntryId) : WalletCommand(EntryId);

    /// <summary>Records a purchase awaiting payment: a pending credit entry that moves nothing yet; <c>Amount</c> as for <see cref="Credit"/>.</summary>
    public sealed record PendingCredit(string EntryId, decimal Credits, decimal Amount, string Reason, DateTimeOffset? ExpiresAt, int? Priority)
        : WalletCommand(EntryId);

    /// <summary>Pending becomes completed: the credits become a spendable lot (the only other way out is failed).</summary>
    public sealed record CompletePending(string EntryId) : WalletCommand(EntryId);

    public sealed record FailPending(string EntryId) : WalletCommand(EntryId);

    /// <summary>
    /// Pays up to <c>MaxCredits</c> from what is spendable (no overdraft): the amount is the largest whole
    /// minor unit of currency the credits cover, and the debit is the fewest credits that cover it.
    /// </summary>
    public sealed record DebitUpTo(string EntryId, decimal MaxCredits, string Reason, decimal Rate, int MinorUnits) : WalletCommand(EntryId);

    /// <summary>Reserves credits; <c>EntryId</c> is the hold's id.</summary>
    public sealed record PlaceHold(string EntryId, decimal Credits, DateTimeOffset? ExpiresAt) : WalletCommand(EntryId);

    /// <summary>Ends a hold and debits up to its amount; the rest of the reservation is released.</summary>
    public sealed record CaptureHold(string EntryId, string HoldId, decimal? Credits, string Reason) : WalletCommand(EntryId);

    /// <summary>Ends a hold without spending anything; <c>Expired</c> says the clock ended it rather than a caller.</summary>
    public sealed record ReleaseHold(string EntryId, bool Expired = false) : WalletCommand(EntryId);
}

/// <summary>
/// A new ledger entry decided by the engine; the storage layer adds descriptions and metadata. <see cref="Amount"/>
/// is a credit's price (what was paid for it); null for a debit, which storage values at the wallet's spend rate.
/// </summary>
public sealed record PostedEntry(
    string Id,
    string Type,
    string Reason,
    decimal Credits,
    decimal? Amount,
    decimal BalanceBefore,
    decimal BalanceAfter,
    decimal CreditsAvailable,
    decimal CreditsUnsettled,
    DateTimeOffset? ExpiresAt,
    int? Priority,
    string? ExpiredLotId,
    string Status = TransactionStatuses.Completed,
    bool WasPending = false);

public abstract record CommandOutcome
{
    private CommandOutcome() { }

    public sealed record Posted(IReadOnlyList<PostedEntry> Entries) : CommandOutcome;
    public sealed record InsufficientBalance(decimal Requested, decimal Available) : CommandOutcome;
    public sealed record WalletNotActive(string Status) : CommandOutcome;
    public sealed record BalanceLimitExceeded(decimal Limit) : CommandOutcome;
    public sealed record HoldPlaced(Hold Hold) : CommandOutcome;
    public sealed record HoldEnded(string HoldId, string Status, IReadOnlyList<PostedEntry> Entries) : CommandOutcome;
    public sealed record CaptureExceedsHold(decimal Held) : CommandOutcome;

    /// <summary>The debit would take <paramref name="Value"/> of <paramref name="Dimension"/> past its cap for the period.</summary>
    public sealed record SpendLimitExceeded(string Dimension, string Value, string Period, decimal Limit, decimal Spent, decimal Requested) : CommandOutcome;

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

    /// <summary>Pending entries that became failed (completed ones appear in <see cref="Entries"/>).</summary>
    public List<string> FailedPending { get; } = [];

    public List<Hold> NewHolds { get; } = [];

    /// <summary>Holds that ended: captured, released or expired, with the debit of a capture.</summary>
    public List<(string HoldId, string Status, string? DebitId, decimal Captured)> EndedHolds { get; } = [];

    public string? NewStatus { get; set; }
    public bool IsEmpty => Entries.Count == 0 && NewStatus is null && FailedPending.Count == 0 && NewHolds.Count == 0 && EndedHolds.Count == 0;
}

public static class WalletEngine
{
    public static CommandOutcome Apply(
        WalletState state, WalletCommand command, DateTimeOffset now, Changeset changes, Func<string> newId) =>
        command switch
        {
            WalletCommand.Credit c => ApplyCredit(state, c, now, changes),
            WalletCommand.Debit d => ApplyDebit(state, d, now, changes),
            WalletCommand.CreditLots c => ApplyCreditLots(state, c, now, changes),
            WalletCommand.ExpireLot e => ApplyExpiry(state, e.EntryId, e.LotId, now, changes),
            WalletCommand.Terminate t => ApplyTerminate(state, t, now, changes, newId),
            WalletCommand.PendingCredit p => ApplyPendingCredit(state, p, now, changes),
            WalletCommand.CompletePending c => ApplyCompletePending(state, c, now, changes),
            WalletCommand.FailPending f => ApplyFailPending(state, f.EntryId, changes),
            WalletCommand.PlaceHold h => ApplyPlaceHold(state, h, now, changes),
            WalletCommand.DebitUpTo d => ApplyDebitUpTo(state, d, now, changes),
            WalletCommand.CaptureHold c => ApplyCapture(state, c, now, changes),
            WalletCommand.ReleaseHold r => ApplyRelease(state, r.EntryId, r.Expired ? HoldStatuses.Expired : HoldStatuses.Released, changes),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown command"),
        };

    /// <summary>Whether a credit (granted now or pending) may enter the wallet: null when it may, else the refusal.</summary>
    static CommandOutcome? RefuseCredit(WalletState state, WalletCommand command, decimal credits, decimal amount)
    {
        if (credits <= 0) throw new ArgumentOutOfRangeException(nameof(command), credits, "credit must be positive");
        if (amount < 0) throw new ArgumentOutOfRangeException(nameof(command), amount, "a credit's price is never negative");
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);
        // Pending purchases keep their room under the limit, so completing one never exceeds it.
        if (state.CreditBalance + state.PendingCredits.Sum(p => p.Credits) + credits > Money.MaxBalance)
            return new CommandOutcome.BalanceLimitExceeded(Money.MaxBalance);
        return null;
    }

    static CommandOutcome ApplyCredit(WalletState state, WalletCommand.Credit c, DateTimeOffset now, Changeset changes)
    {
        if (RefuseCredit(state, c, c.Credits, c.Amount) is { } refused) return refused;
        return PostCredit(state, c, now, changes, wasPending: false);
    }

    static CommandOutcome ApplyCreditLots(WalletState state, WalletCommand.CreditLots c, DateTimeOffset now, Changeset changes)
    {
        if (c.Lots.Count == 0) throw new ArgumentOutOfRangeException(nameof(c), "a grant of lots holds at least one lot");
        // Checked for the whole grant before any lot is posted: all of them enter, or none.
        if (RefuseCredit(state, c, c.Lots.Sum(l => l.Credits), c.Lots.Min(l => l.Amount)) is { } refused) return refused;
        var entries = new List<PostedEntry>();
        foreach (var lot in c.Lots) entries.AddRange(((CommandOutcome.Posted)PostCredit(state, lot, now, changes, wasPending: false)).Entries);
        return new CommandOutcome.Posted(entries);
    }

    static CommandOutcome PostCredit(WalletState state, WalletCommand.Credit c, DateTimeOffset now, Changeset changes, bool wasPending)
    {
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
        var entry = new PostedEntry(c.EntryId, TransactionTypes.Credit, c.Reason, c.Credits, c.Amount, before, state.CreditBalance,
            plan.LotAvailable, 0m, c.ExpiresAt, c.Priority, null, WasPending: wasPending);
        if (plan.LotAvailable > 0)
            state.OpenLots.Add(new Lot(c.EntryId, c.Credits, plan.LotAvailable, c.ExpiresAt, c.Priority, now, c.Amount));
        changes.Entries.Add(entry);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyDebit(WalletState state, WalletCommand.Debit d, DateTimeOffset now, Changeset changes)
    {
        if (d.Credits <= 0) throw new ArgumentOutOfRangeException(nameof(d), d.Credits, "debit must be positive");
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);
        if (SpendLimits.Refuse(state, d.Dimensions, d.Credits) is { } capped) return capped;

        var plan = Planner.PlanDebit(state.OpenLots, d.Credits, now, d.AllowOverdraft ? state.OverdraftLimit : 0m, state.OverdraftCredits, state.ReservedAt(now),
            state.UnreadCredits, state.ReadUpTo);
        if (plan is DebitPlan.InsufficientBalance insufficient)
            return new CommandOutcome.InsufficientBalance(insufficient.Requested, insufficient.Available);
        var allocated = (DebitPlan.Allocated)plan;
        var entry = PostDebit(state, d.EntryId, d.Reason, d.Credits, allocated.Allocations, allocated.OverdraftCredits, null, now, changes);
        SpendLimits.Record(state, d.Dimensions, d.Credits);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyExpiry(WalletState state, string entryId, string lotId, DateTimeOffset now, Changeset changes)
    {
        var lot = state.OpenLots.FirstOrDefault(l => l.Id == lotId);
        // Every expired lot is read; one not read has not expired, which only the whole state can say.
        if (lot is null && state.UnreadCredits > 0) throw new EveryLotNeededException();
        if (lot is null || lot.Available == 0) return new CommandOutcome.NoChange("lot has nothing left to expire");
        if (!lot.IsExpiredAt(now)) return new CommandOutcome.NoChange("lot has not expired");
        var entry = PostDebit(state, entryId, Reasons.CreditExpired, lot.Available, [new Allocation(lot.Id, lot.Available)], 0m, lot.Id, now, changes);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyTerminate(WalletState state, WalletCommand.Terminate t, DateTimeOffset now, Changeset changes, Func<string> newId)
    {
        if (state.Status == WalletStatuses.Closed) return new CommandOutcome.NoChange("wallet is already closed");
        // Closing drains every lot.
        if (state.UnreadCredits > 0) throw new EveryLotNeededException();

        foreach (var pending in state.PendingCredits.ToList()) ApplyFailPending(state, pending.Id, changes);
        foreach (var hold in state.Holds.ToList()) ApplyRelease(state, hold.Id, HoldStatuses.Released, changes);
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

    static CommandOutcome ApplyPendingCredit(WalletState state, WalletCommand.PendingCredit p, DateTimeOffset now, Changeset changes)
    {
        if (RefuseCredit(state, p, p.Credits, p.Amount) is { } refused) return refused;
        state.PendingCredits.Add(new PendingCredit(p.EntryId, p.Credits, p.Amount, p.Reason, p.ExpiresAt, p.Priority, now));
        var entry = new PostedEntry(p.EntryId, TransactionTypes.Credit, p.Reason, p.Credits, p.Amount, state.CreditBalance, state.CreditBalance,
            0m, 0m, p.ExpiresAt, p.Priority, null, TransactionStatuses.Pending);
        changes.Entries.Add(entry);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyCompletePending(WalletState state, WalletCommand.CompletePending c, DateTimeOffset now, Changeset changes)
    {
        var pending = state.PendingCredits.FirstOrDefault(p => p.Id == c.EntryId);
        if (pending is null) return new CommandOutcome.NoChange("no pending credit with this id");
        // A purchase that was paid for is granted even to a frozen wallet; only a closed wallet refuses it,
        // and closing fails every pending purchase first.
        if (state.Status == WalletStatuses.Closed) return new CommandOutcome.WalletNotActive(state.Status);
        state.PendingCredits.Remove(pending);
        // Storage completes the pending row in place, keeping its created_at: the lot's place in the spend order.
        return PostCredit(state, new WalletCommand.Credit(pending.Id, pending.Credits, pending.Amount, pending.Reason, pending.ExpiresAt, pending.Priority),
            pending.CreatedAt ?? now, changes, wasPending: true);
    }

    static CommandOutcome ApplyFailPending(WalletState state, string entryId, Changeset changes)
    {
        var pending = state.PendingCredits.FirstOrDefault(p => p.Id == entryId);
        if (pending is null) return new CommandOutcome.NoChange("no pending credit with this id");
        state.PendingCredits.Remove(pending);
        changes.FailedPending.Add(entryId);
        return new CommandOutcome.Posted([]);
    }

    /// <summary>An invoice payment: it may spend the invoice reserve (that is what the reserve is for), never a hold's credits.</summary>
    static CommandOutcome ApplyDebitUpTo(WalletState state, WalletCommand.DebitUpTo d, DateTimeOffset now, Changeset changes)
    {
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);
        var spendable = Planner.AvailableToSpend(state.OpenLots, now, 0m, 0m, state.HeldAt(now), state.UnreadCredits) - state.OverdraftCredits;
        var max = Math.Min(d.MaxCredits, spendable);
        var amount = Money.AmountCovered(Math.Max(0m, max), d.Rate, d.MinorUnits);
        if (amount <= 0) return new CommandOutcome.NoChange("nothing spendable covers a minor unit");
        var credits = Math.Min(Money.CreditsToCover(amount, d.Rate), max);
        var plan = (DebitPlan.Allocated)Planner.PlanDebit(state.OpenLots, credits, now, 0m, 0m, state.HeldAt(now), state.UnreadCredits, state.ReadUpTo);
        var entry = PostDebit(state, d.EntryId, d.Reason, credits, plan.Allocations, 0m, null, now, changes);
        return new CommandOutcome.Posted([entry]);
    }

    static CommandOutcome ApplyPlaceHold(WalletState state, WalletCommand.PlaceHold h, DateTimeOffset now, Changeset changes)
    {
        if (h.Credits <= 0) throw new ArgumentOutOfRangeException(nameof(h), h.Credits, "a hold reserves a positive amount");
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);
        var available = Planner.AvailableToSpend(state.OpenLots, now, state.OverdraftLimit, state.OverdraftCredits, state.ReservedAt(now), state.UnreadCredits);
        if (h.Credits > available) return new CommandOutcome.InsufficientBalance(h.Credits, Math.Max(0m, available));
        var hold = new Hold(h.EntryId, h.Credits, h.ExpiresAt);
        state.Holds.Add(hold);
        changes.NewHolds.Add(hold);
        return new CommandOutcome.HoldPlaced(hold);
    }

    static CommandOutcome ApplyCapture(WalletState state, WalletCommand.CaptureHold c, DateTimeOffset now, Changeset changes)
    {
        if (c.Credits <= 0) throw new ArgumentOutOfRangeException(nameof(c), c.Credits, "a capture moves a positive amount");
        var hold = state.Holds.FirstOrDefault(h => h.Id == c.HoldId);
        if (hold is null || !hold.IsActiveAt(now)) return new CommandOutcome.NoChange("no active hold with this id");
        if (c.Credits > hold.Credits) return new CommandOutcome.CaptureExceedsHold(hold.Credits);
        var credits = c.Credits ?? hold.Credits;
        // A capture is a debit: a frozen wallet refuses it as it refuses any other; the hold stays to be captured after unfreezing.
        if (state.Status != WalletStatuses.Active) return new CommandOutcome.WalletNotActive(state.Status);

        // The hold's own reservation is what pays for the capture, so plan without it.
        state.Holds.Remove(hold);
        var plan = Planner.PlanDebit(state.OpenLots, credits, now, state.OverdraftLimit, state.OverdraftCredits, state.ReservedAt(now),
            state.UnreadCredits, state.ReadUpTo);
        if (plan is DebitPlan.InsufficientBalance insufficient)
        {
            // Lots under the hold expired before the capture: the reservation could not outlive its credits.
            state.Holds.Add(hold);
            return new CommandOutcome.InsufficientBalance(insufficient.Requested, insufficient.Available);
        }
        var allocated = (DebitPlan.Allocated)plan;
        var entry = PostDebit(state, c.EntryId, c.Reason, credits, allocated.Allocations, allocated.OverdraftCredits, null, now, changes);
        changes.EndedHolds.Add((hold.Id, HoldStatuses.Captured, entry.Id, credits));
        return new CommandOutcome.HoldEnded(hold.Id, HoldStatuses.Captured, [entry]);
    }

    static CommandOutcome ApplyRelease(WalletState state, string holdId, string status, Changeset changes)
    {
        var hold = state.Holds.FirstOrDefault(h => h.Id == holdId);
        if (hold is null) return new CommandOutcome.NoChange("no active hold with this id");
        state.Holds.Remove(hold);
        changes.EndedHolds.Add((hold.Id, status, null, 0m));
        return new CommandOutcome.HoldEnded(hold.Id, status, []);
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
        var entry = new PostedEntry(entryId, TransactionTypes.Debit, reason, credits, null, before, state.CreditBalance,
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
