using System.Numerics;
using CsCheck;

namespace Coffer.Ledger.Tests;

/// <summary>
/// Model-based property test: random wallet histories are applied to <see cref="WalletEngine"/>, every changeset is
/// written to an in-memory <see cref="LedgerStore"/>, and after every step the stored rows must satisfy
/// <see cref="Invariants.Check"/> and the step must have done what DESIGN.md section 4 says. Histories mix credits,
/// debits, expiry, overdraft, pending credits (completed, failed or left pending), holds (placed, captured, released,
/// expired) and pay-what-you-can debits (<see cref="WalletCommand.DebitUpTo"/>).
/// </summary>
public sealed class WalletModelTests
{
    static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    const decimal Unit = 0.000000000001m;

    /// <summary>What the model pays for purchased credits: each grant carries its price, which the engine never changes.</summary>
    static decimal Price(decimal credits) => credits * 0.25m;

    [Fact]
    public void Random_histories_keep_every_ledger_rule_after_every_step() =>
        Generators.History.Sample(Run, iter: 1000, print: Print);

    /// <summary>
    /// The writer reads a wallet with many lots in part (<see cref="WalletState.UnreadCredits"/>). Every command of every
    /// history is also applied to the state read with only its first 0 to 3 unexpired lots: it must decide exactly as the
    /// whole state does, or ask for every lot before deciding anything.
    /// </summary>
    [Fact]
    public void A_state_read_in_part_decides_as_the_whole_state_or_asks_for_every_lot()
    {
        var (sameBefore, askedBefore) = (Interlocked.Read(ref _decidedInPart), Interlocked.Read(ref _askedForEveryLot));
        Generators.History.Sample(Run, iter: 1000, print: Print);
        // Both happen, often: the comparison is not vacuous.
        Assert.True(Interlocked.Read(ref _decidedInPart) - sameBefore > 1000, "few commands were decided on a state read in part");
        Assert.True(Interlocked.Read(ref _askedForEveryLot) - askedBefore > 100, "a state read in part never asked for every lot");
    }

    static long _decidedInPart;
    static long _askedForEveryLot;

    /// <summary>The state as the writer reads it in part: every expired lot and the first <paramref name="first"/> unexpired ones.</summary>
    static WalletState? ReadInPart(WalletState whole, DateTimeOffset now, int first)
    {
        var unexpired = whole.OpenLots.Where(l => !l.IsExpiredAt(now)).OrderBy(l => l, SpendOrder.Instance).ToList();
        if (unexpired.Count <= first) return null;
        // What the writer computes the unread credits from: the open lots hold the balance plus the overdraft owed.
        Assert.Equal(whole.CreditBalance + whole.OverdraftCredits, whole.OpenLots.Sum(l => l.Available));
        return new WalletState
        {
            WalletId = whole.WalletId, Status = whole.Status, CreditBalance = whole.CreditBalance,
            OverdraftCredits = whole.OverdraftCredits, OverdraftLimit = whole.OverdraftLimit,
            OpenLots = [.. whole.OpenLots.Where(l => l.IsExpiredAt(now)), .. unexpired.Take(first)],
            OpenDebts = [.. whole.OpenDebts], PendingCredits = [.. whole.PendingCredits], Holds = [.. whole.Holds],
            InvoiceReserve = whole.InvoiceReserve,
            UnreadCredits = unexpired.Skip(first).Sum(l => l.Available),
            ReadUpTo = first > 0 ? unexpired[first - 1] : null,
        };
    }

    static string Render(CommandOutcome outcome, Changeset c) => string.Join(Environment.NewLine,
        outcome switch
        {
            CommandOutcome.Posted p => "posted " + string.Join("; ", p.Entries),
            CommandOutcome.HoldEnded h => $"hold ended {h.HoldId} {h.Status} " + string.Join("; ", h.Entries),
            _ => outcome.ToString(),
        },
        string.Join("; ", c.Entries), string.Join("; ", c.Allocations),
        string.Join("; ", c.LotAvailable.OrderBy(x => x.Key, StringComparer.Ordinal)),
        string.Join("; ", c.DebtUnsettled.OrderBy(x => x.Key, StringComparer.Ordinal)),
        string.Join("; ", c.FailedPending), string.Join("; ", c.NewHolds), string.Join("; ", c.EndedHolds), c.NewStatus ?? "-");

    static string Print(List<Step> steps) =>
        $"{steps.Count} steps:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", steps);

    /// <summary>Applies one history; throws with the step number and the stored rows on the first broken rule.</summary>
    internal static void Run(IReadOnlyList<Step> steps)
    {
        var run = new HistoryRun();
        for (var i = 0; i < steps.Count; i++)
        {
            try
            {
                run.Apply(steps[i]);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new StepFailed($"step {i + 1} ({steps[i]}) at {run.Now:O}: {e.Message}{Environment.NewLine}{run.Describe()}", e);
            }
        }
    }

    sealed class StepFailed(string message, Exception inner) : Exception(message, inner);

    sealed class HistoryRun
    {
        readonly WalletState _state = new() { WalletId = "wallet_model", Status = WalletStatuses.Active };
        readonly LedgerStore _store = new();
        int _ids;

        public DateTimeOffset Now { get; private set; } = Start;

        string NewId() => $"wtx_{++_ids:D6}";

        /// <summary>
        /// Applies a command to the state and to a state read in part (see above). The part lives on across commands at one
        /// instant, as in a batch, so lots granted after it was read (which may sort after its last lot) are spent from it too.
        /// </summary>
        CommandOutcome Engine(WalletCommand command, DateTimeOffset now, Changeset changes, Func<string> newId)
        {
            if (_part is null || _partAt != now)
            {
                _part = ReadInPart(_state, now, _reads++ % 4);
                _partAt = now;
            }
            if (_part is not null)
            {
                var ids = _ids;
                var partChanges = new Changeset();
                var whole = new Changeset();
                var wholeIds = _ids;
                var expected = WalletEngine.Apply(Copy(_state), command, now, whole, () => $"wtx_{++wholeIds:D6}");
                try
                {
                    var decided = WalletEngine.Apply(_part, command, now, partChanges, () => $"wtx_{++ids:D6}");
                    Assert.Equal(Render(expected, whole), Render(decided, partChanges));
                    Interlocked.Increment(ref _decidedInPart);
                }
                catch (EveryLotNeededException)
                {
                    Interlocked.Increment(ref _askedForEveryLot);
                    _part = null;
                }
            }
            return WalletEngine.Apply(_state, command, now, changes, newId);
        }

        WalletState? _part;
        DateTimeOffset _partAt;
        int _reads;

        static WalletState Copy(WalletState s) => new()
        {
            WalletId = s.WalletId, Status = s.Status, CreditBalance = s.CreditBalance, OverdraftCredits = s.OverdraftCredits,
            OverdraftLimit = s.OverdraftLimit, OpenLots = [.. s.OpenLots], OpenDebts = [.. s.OpenDebts], PendingCredits = [.. s.PendingCredits],
            Holds = [.. s.Holds], InvoiceReserve = s.InvoiceReserve,
        };

        public string Describe() =>
            $"state: status={_state.Status} balance={_state.CreditBalance} overdraft={_state.OverdraftCredits} limit={_state.OverdraftLimit}" +
            Environment.NewLine + string.Join(Environment.NewLine, _store.Rows.Select(r => "  " + r)) +
            Environment.NewLine + string.Join(Environment.NewLine, _store.Allocations.Select(a => $"  alloc {a.DebitId} <- {a.LotId}: {a.Credits}")) +
            Environment.NewLine + string.Join(Environment.NewLine, _store.Holds.Select(h => "  " + h));

        public void Apply(Step step)
        {
            var closedBefore = _state.Status == WalletStatuses.Closed;
            var changes = new Changeset();
            CommandOutcome? outcome = null;

            switch (step)
            {
                case Step.Advance a:
                    var next = _store.OpenLots.Select(l => l.ExpiresAt)
                        .Concat(_store.OpenHolds.Select(h => h.ExpiresAt))
                        .Where(at => at > Now).Select(at => at!.Value).DefaultIfEmpty().Min();
                    Now = a.ToNextExpiry && next != default ? next : Now.AddMinutes(a.Minutes);
                    break;

                case Step.SetOverdraftLimit l:
                    // Storage refuses a limit below what is already owed.
                    _state.OverdraftLimit = Math.Max(l.Limit, _state.OverdraftCredits);
                    _part = null;
                    break;

                case Step.Credit c:
                    outcome = Credit(c, changes);
                    break;

                case Step.Debit d:
                    outcome = Debit(d, changes);
                    break;

                case Step.ExpireLot e:
                    outcome = Expire(e, changes);
                    break;

                case Step.Terminate:
                    outcome = Terminate(changes);
                    break;

                case Step.PendingCredit p:
                    outcome = PendingCredit(p, changes);
                    break;

                case Step.SettlePending s:
                    outcome = SettlePending(s, changes);
                    break;

                case Step.PlaceHold h:
                    outcome = PlaceHold(h, changes);
                    break;

                case Step.CaptureHold c:
                    outcome = CaptureHold(c, changes);
                    break;

                case Step.ReleaseHold r:
                    outcome = ReleaseHold(r, changes);
                    break;

                case Step.DebitUpTo u:
                    outcome = DebitUpTo(u, changes);
                    break;
            }

            if (outcome is not null)
            {
                if (closedBefore)
                {
                    Assert.True(outcome is CommandOutcome.WalletNotActive or CommandOutcome.NoChange,
                        $"a closed wallet answered {outcome}");
                    Assert.True(changes.IsEmpty, "a closed wallet changed");
                }
                switch (outcome)
                {
                    case CommandOutcome.Posted posted:
                        Assert.Equal(posted.Entries.Select(e => e.Id), changes.Entries.Select(e => e.Id));
                        break;
                    case CommandOutcome.HoldEnded ended:
                        Assert.Equal(ended.Entries.Select(e => e.Id), changes.Entries.Select(e => e.Id));
                        break;
                    case CommandOutcome.HoldPlaced placed:
                        Assert.Equal([placed.Hold], changes.NewHolds);
                        Assert.Empty(changes.Entries);
                        break;
                    default:
                        Assert.True(changes.IsEmpty && changes.Allocations.Count == 0 && changes.LotAvailable.Count == 0 &&
                                    changes.DebtUnsettled.Count == 0, $"{outcome} left a non-empty changeset");
                        break;
                }
            }

            _store.Apply(changes, Now);
            CheckStoreMatchesState();
        }

        /// <summary>Invariants over the stored rows, and the engine's in-memory state equal to what was stored.</summary>
        void CheckStoreMatchesState()
        {
            var problems = Invariants.Check(_store.Audit(_state));
            Assert.True(problems.Count == 0, "invariants broken:" + Environment.NewLine + string.Join(Environment.NewLine, problems));

            Assert.Equal(_store.RunningBalance, _state.CreditBalance);
            // Pending (and failed) entries never count in the balance.
            Assert.Equal(_store.CompletedBalance, _state.CreditBalance);
            Same(
                _store.OpenLots.Select(l => (l.Id, l.CreditsAvailable, l.ExpiresAt, l.Priority, l.CreatedAt)).OrderBy(x => x.Id, StringComparer.Ordinal),
                _state.OpenLots.Select(l => (l.Id, l.Available, l.ExpiresAt, l.Priority, l.CreatedAt)).OrderBy(x => x.Id, StringComparer.Ordinal));
            Same(
                _store.OpenDebts.Select(d => (d.Id, d.CreditsUnsettled)).OrderBy(x => x.Id, StringComparer.Ordinal),
                _state.OpenDebts.Select(d => (d.DebitId, d.Unsettled)).OrderBy(x => x.DebitId, StringComparer.Ordinal));
            Assert.True(_state.OverdraftCredits <= _state.OverdraftLimit,
                $"owes {_state.OverdraftCredits}, more than the limit {_state.OverdraftLimit}");

            Same(
                _store.Pending.Select(r => (r.Id, r.CreditAmount, r.Reason, r.ExpiresAt, r.Priority)).OrderBy(x => x.Id, StringComparer.Ordinal),
                _state.PendingCredits.Select(p => (p.Id, p.Credits, p.Reason, p.ExpiresAt, p.Priority)).OrderBy(x => x.Id, StringComparer.Ordinal));
            Same(
                _store.OpenHolds.Select(h => (h.Id, h.Credits, h.ExpiresAt)).OrderBy(x => x.Id, StringComparer.Ordinal),
                _state.Holds.Select(h => (h.Id, h.Credits, h.ExpiresAt)).OrderBy(x => x.Id, StringComparer.Ordinal));
            Assert.Equal(_store.HeldAt(Now), _state.HeldAt(Now));

            // A pending entry only ever becomes completed or failed, once; every other entry is completed from the start.
            foreach (var row in _store.Rows)
            {
                var h = row.StatusHistory;
                var allowed = h is [TransactionStatuses.Completed]
                    || (row.IsCredit && h is [TransactionStatuses.Pending] or [TransactionStatuses.Pending, TransactionStatuses.Completed or TransactionStatuses.Failed]);
                Assert.True(allowed, $"entry {row.Id} ({row.Type}) went {string.Join(" > ", h)}");
            }

            // New credit repays debts before it becomes spendable, so no debt is open beside spendable credits.
            Assert.False(_store.Outstanding > 0 && _store.SpendableInOrder(Now).Count > 0,
                $"a debt of {_store.Outstanding} is open while lots are spendable");

            if (_state.Status == WalletStatuses.Closed)
            {
                Assert.Empty(_store.Pending);
                Assert.Empty(_store.OpenHolds);
                Assert.Empty(_store.SpendableInOrder(Now));
            }
        }

        /// <summary>Asserts two sequences equal; xunit's slower Assert.Equal runs only when they differ, for its message.</summary>
        static void Same<T>(IEnumerable<T> expected, IEnumerable<T> actual)
        {
            var e = expected.ToList();
            var a = actual.ToList();
            if (!e.SequenceEqual(a)) Assert.Equal(e, a);
        }

        decimal Room => _state.OverdraftLimit - _store.Outstanding;

        /// <summary>Spendable lot credits now, in spend order, and what they add up to.</summary>
        (List<LedgerStore.Row> Lots, decimal Credits) Spendable()
        {
            var lots = _store.SpendableInOrder(Now);
            return (lots, lots.Sum(l => l.CreditsAvailable));
        }

        CommandOutcome Credit(Step.Credit c, Changeset changes)
        {
            var id = NewId();
            var reason = c.Purchased ? Reasons.PurchasedCreditDirect : Reasons.FreeCreditGrant;
            DateTimeOffset? expires = c.ExpiresInMinutes is { } m ? Now.AddMinutes(m) : null;
            var repayments = Repayments(id, c.Amount, out var left);
            var pendingBefore = _store.PendingCredits;

            var price = c.Purchased ? Price(c.Amount) : 0m;
            var outcome = Engine( new WalletCommand.Credit(id, c.Amount, price, reason, expires, c.Priority), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;
            // Pending purchases keep their room under the balance limit.
            if (outcome is CommandOutcome.BalanceLimitExceeded)
            {
                Assert.True(_state.CreditBalance + pendingBefore + c.Amount > Money.MaxBalance, "a credit within the balance limit was refused");
                Assert.True(changes.IsEmpty);
                return outcome;
            }
            Assert.True(_state.CreditBalance <= Money.MaxBalance, $"balance {_state.CreditBalance} went over the limit");

            var posted = Assert.IsType<CommandOutcome.Posted>(outcome);
            var entry = Assert.Single(posted.Entries);
            Assert.Equal((id, TransactionTypes.Credit, reason, c.Amount, price), (entry.Id, entry.Type, entry.Reason, entry.Credits, entry.Amount));
            Assert.Equal((expires, c.Priority), (entry.ExpiresAt, entry.Priority));
            Assert.Equal((TransactionStatuses.Completed, false), (entry.Status, entry.WasPending));
            if (left > 0) Assert.Equal(price, _state.OpenLots.Single(l => l.Id == id).Amount);
            Assert.Equal(repayments, changes.Allocations);
            Assert.Equal(left, entry.CreditsAvailable);
            Assert.Equal(0m, entry.CreditsUnsettled);
            return outcome;
        }

        /// <summary>Oldest debt first, each repaid as far as the credit goes; <paramref name="left"/> becomes the lot.</summary>
        List<AllocationRow> Repayments(string creditId, decimal credits, out decimal left)
        {
            var repayments = new List<AllocationRow>();
            left = credits;
            foreach (var debt in _store.OpenDebts)
            {
                if (left == 0) break;
                var pay = Math.Min(left, debt.CreditsUnsettled);
                repayments.Add(new AllocationRow(debt.Id, creditId, pay));
                left -= pay;
            }
            return repayments;
        }

        CommandOutcome Debit(Step.Debit d, Changeset changes)
        {
            var id = NewId();
            var reason = d.Usage ? Reasons.UsageCharge : Reasons.ManualBalanceDebit;
            var (spendable, lots) = Spendable();
            // Credits that holds reserve are not for other debits.
            var canSpend = lots + Room - _store.HeldAt(Now);
            var amount = d.Absolute ?? Math.Round(Math.Max(0m, canSpend) * d.Fraction, Money.CreditScale, MidpointRounding.ToZero) + d.Nudge;
            if (amount <= 0) amount = Unit;

            var balanceBefore = _state.CreditBalance;
            var outcome = Engine( new WalletCommand.Debit(id, amount, reason), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;

            if (amount > canSpend)
            {
                var refused = Assert.IsType<CommandOutcome.InsufficientBalance>(outcome);
                Assert.Equal((amount, Math.Max(0m, canSpend)), (refused.Requested, refused.Available));
                Assert.Equal(balanceBefore, _state.CreditBalance);
                return outcome;
            }

            var posted = Assert.IsType<CommandOutcome.Posted>(outcome);
            var entry = Assert.Single(posted.Entries);
            Assert.Equal((id, TransactionTypes.Debit, reason, amount), (entry.Id, entry.Type, entry.Reason, entry.Credits));
            AssertGreedy(entry, spendable, changes);
            return outcome;
        }

        /// <summary>
        /// The debit takes lots greedily in spend order: a lot is touched only once every spendable lot before it is
        /// emptied, expired lots never, and overdraft only once every spendable lot is emptied.
        /// </summary>
        void AssertGreedy(PostedEntry entry, List<LedgerStore.Row> spendable, Changeset changes)
        {
            var id = entry.Id;
            Assert.All(changes.Allocations, a => Assert.Equal(id, a.DebitId));
            var taken = changes.Allocations.ToDictionary(a => a.LotId, a => a.Credits);
            Assert.Equal(taken.Count, changes.Allocations.Count);
            var remaining = entry.Credits;
            var expected = new List<AllocationRow>();
            foreach (var lot in spendable)
            {
                if (remaining == 0) break;
                var take = Math.Min(remaining, lot.CreditsAvailable);
                expected.Add(new AllocationRow(id, lot.Id, take));
                remaining -= take;
            }
            foreach (var a in changes.Allocations)
            {
                var lot = _store.Get(a.LotId);
                Assert.False(lot.IsExpiredAt(Now), $"debit {id} consumed expired lot {lot.Id}");
                var position = spendable.FindIndex(l => l.Id == a.LotId);
                Assert.True(position >= 0, $"debit {id} consumed {a.LotId}, which was not spendable");
                foreach (var earlier in spendable.Take(position))
                    Assert.True(taken.GetValueOrDefault(earlier.Id) == earlier.CreditsAvailable,
                        $"debit {id} consumed {lot.Id} while {earlier.Id}, earlier in spend order, kept credits");
            }
            Assert.Equal(expected, changes.Allocations);
            Assert.Equal(remaining, entry.CreditsUnsettled);
        }

        CommandOutcome Expire(Step.ExpireLot e, Changeset changes)
        {
            var candidates = e.AnyLot
                ? _store.Credits.ToList()
                : _store.OpenLots.Where(l => l.IsExpiredAt(Now)).OrderBy(l => l, SpecSpendOrder.Instance).ToList();
            var lot = candidates.Count == 0 ? null : candidates[e.Pick % candidates.Count];
            var id = NewId();
            var outcome = Engine( new WalletCommand.ExpireLot(id, lot?.Id ?? "wtx_missing"), Now, changes, NewId);

            // A pending or failed credit is no lot: nothing to expire.
            if (lot is null || !lot.IsCompleted || lot.CreditsAvailable == 0 || !lot.IsExpiredAt(Now))
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                return outcome;
            }
            var entry = Assert.Single(Assert.IsType<CommandOutcome.Posted>(outcome).Entries);
            Assert.Equal((id, TransactionTypes.Debit, Reasons.CreditExpired, lot.CreditsAvailable, lot.Id, 0m),
                (entry.Id, entry.Type, entry.Reason, entry.Credits, entry.ExpiredLotId, entry.CreditsUnsettled));
            Assert.Equal([new AllocationRow(id, lot.Id, lot.CreditsAvailable)], changes.Allocations);
            return outcome;
        }

        CommandOutcome Terminate(Changeset changes)
        {
            var wasClosed = _state.Status == WalletStatuses.Closed;
            var expired = _store.OpenLots.Where(l => l.IsExpiredAt(Now)).OrderBy(l => l, SpecSpendOrder.Instance).ToList();
            var (spendable, _) = Spendable();
            var expectedExpiries = expired.Select(l => (l.Id, l.CreditsAvailable)).ToList();
            // Every spendable credit is drained: holds are released first, so they reserve nothing from the drain.
            var expectedDrain = spendable.Select(l => (l.Id, l.CreditsAvailable)).ToList();
            var pending = _store.Pending.Select(r => r.Id).Order(StringComparer.Ordinal).ToList();
            var holds = _store.OpenHolds.Select(h => h.Id).Order(StringComparer.Ordinal).ToList();
            var id = NewId();

            var outcome = Engine( new WalletCommand.Terminate(id), Now, changes, NewId);
            if (wasClosed)
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                return outcome;
            }

            var entries = Assert.IsType<CommandOutcome.Posted>(outcome).Entries;
            Assert.Equal(WalletStatuses.Closed, _state.Status);
            Assert.Equal(WalletStatuses.Closed, changes.NewStatus);

            // Every pending credit fails and every hold (expired or not) is released; none is captured.
            Assert.Equal(pending, changes.FailedPending.Order(StringComparer.Ordinal));
            Assert.Equal(holds.Select(h => (h, HoldStatuses.Released, (string?)null, 0m)),
                changes.EndedHolds.OrderBy(h => h.HoldId, StringComparer.Ordinal));
            Assert.Empty(changes.NewHolds);
            Assert.All(entries, e => Assert.False(e.WasPending, $"termination completed pending credit {e.Id}"));

            // Expired lots are expired first, each by its own CREDIT_EXPIRED entry, then one WALLET_TERMINATION
            // debit drains every spendable lot.
            var expiries = entries.TakeWhile(e => e.Reason == Reasons.CreditExpired).ToList();
            Assert.Equal(expectedExpiries, expiries.Select(e => (e.ExpiredLotId!, e.Credits)));
            var rest = entries.Skip(expiries.Count).ToList();
            if (expectedDrain.Count == 0)
            {
                Assert.Empty(rest);
            }
            else
            {
                var drain = Assert.Single(rest);
                Assert.Equal((id, Reasons.WalletTermination, expectedDrain.Sum(x => x.CreditsAvailable), 0m),
                    (drain.Id, drain.Reason, drain.Credits, drain.CreditsUnsettled));
                Assert.Equal(expectedDrain, changes.Allocations.Where(a => a.DebitId == id).Select(a => (a.LotId, a.Credits)));
            }
            Assert.Empty(_state.OpenLots);
            Assert.Empty(_state.PendingCredits);
            Assert.Empty(_state.Holds);
            return outcome;
        }

        CommandOutcome PendingCredit(Step.PendingCredit p, Changeset changes)
        {
            var id = NewId();
            DateTimeOffset? expires = p.ExpiresInMinutes is { } m ? Now.AddMinutes(m) : null;
            var balance = _state.CreditBalance;
            var pendingBefore = _store.PendingCredits;

            var outcome = Engine(
                new WalletCommand.PendingCredit(id, p.Amount, Price(p.Amount), Reasons.PurchasedCreditInvoiced, expires, p.Priority), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;
            if (balance + pendingBefore + p.Amount > Money.MaxBalance)
            {
                Assert.IsType<CommandOutcome.BalanceLimitExceeded>(outcome);
                Assert.True(changes.IsEmpty);
                return outcome;
            }

            var entry = Assert.Single(Assert.IsType<CommandOutcome.Posted>(outcome).Entries);
            Assert.Equal((id, TransactionTypes.Credit, Reasons.PurchasedCreditInvoiced, p.Amount, Price(p.Amount), TransactionStatuses.Pending, false),
                (entry.Id, entry.Type, entry.Reason, entry.Credits, entry.Amount, entry.Status, entry.WasPending));
            Assert.Equal((expires, p.Priority), (entry.ExpiresAt, entry.Priority));
            // Nothing moves until it is paid: no balance, no lot, no repayment.
            Assert.Equal((balance, balance, 0m, 0m), (entry.BalanceBefore, entry.BalanceAfter, entry.CreditsAvailable, entry.CreditsUnsettled));
            Assert.Equal(balance, _state.CreditBalance);
            Assert.Empty(changes.Allocations);
            Assert.Empty(changes.LotAvailable);
            Assert.Empty(changes.DebtUnsettled);
            return outcome;
        }

        CommandOutcome SettlePending(Step.SettlePending s, Changeset changes)
        {
            var candidates = s.AnyCredit ? _store.Credits.ToList() : _store.Pending.ToList();
            var row = candidates.Count == 0 ? null : candidates[s.Pick % candidates.Count];
            var id = row?.Id ?? "wtx_missing";
            var balance = _state.CreditBalance;
            var left = 0m;
            var repayments = row is null ? [] : Repayments(id, row.CreditAmount, out left);

            var outcome = Engine(
                s.Complete ? new WalletCommand.CompletePending(id) : new WalletCommand.FailPending(id), Now, changes, NewId);

            if (row is null || !row.IsPending)
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                return outcome;
            }
            var posted = Assert.IsType<CommandOutcome.Posted>(outcome);
            if (!s.Complete)
            {
                Assert.Empty(posted.Entries);
                Assert.Equal([id], changes.FailedPending);
                Assert.Empty(changes.Allocations);
                Assert.Equal(balance, _state.CreditBalance);
                return outcome;
            }

            // Completed: exactly the pending credit, now counted, and it repays debts first like any credit.
            var entry = Assert.Single(posted.Entries);
            // The price decided when it was bought carries through the completion.
            Assert.Equal((id, TransactionTypes.Credit, row.Reason, row.CreditAmount, Price(row.CreditAmount), TransactionStatuses.Completed, true),
                (entry.Id, entry.Type, entry.Reason, entry.Credits, entry.Amount, entry.Status, entry.WasPending));
            Assert.Equal((row.ExpiresAt, row.Priority), (entry.ExpiresAt, entry.Priority));
            Assert.Equal((balance, balance + row.CreditAmount), (entry.BalanceBefore, entry.BalanceAfter));
            Assert.Equal(repayments, changes.Allocations);
            Assert.Equal((left, 0m), (entry.CreditsAvailable, entry.CreditsUnsettled));
            Assert.Empty(changes.FailedPending);
            return outcome;
        }

        CommandOutcome PlaceHold(Step.PlaceHold h, Changeset changes)
        {
            var id = "hold_" + NewId();
            DateTimeOffset? expires = h.ExpiresInMinutes is { } m ? Now.AddMinutes(m) : null;
            var (_, lots) = Spendable();
            var room = Room;
            var held = _store.HeldAt(Now);
            var canHold = lots + room - held;
            var amount = h.Absolute ?? Math.Round(Math.Max(0m, canHold) * h.Fraction, Money.CreditScale, MidpointRounding.ToZero) + h.Nudge;
            if (amount <= 0) amount = Unit;
            var balance = _state.CreditBalance;

            var outcome = Engine( new WalletCommand.PlaceHold(id, amount, expires), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;
            if (amount > canHold)
            {
                var refused = Assert.IsType<CommandOutcome.InsufficientBalance>(outcome);
                Assert.Equal((amount, Math.Max(0m, canHold)), (refused.Requested, refused.Available));
                return outcome;
            }

            var placed = Assert.IsType<CommandOutcome.HoldPlaced>(outcome);
            Assert.Equal(new Hold(id, amount, expires), placed.Hold);
            Assert.Equal(balance, _state.CreditBalance);
            // The active holds together never reserve more than was spendable (with overdraft room) when this one was placed.
            Assert.True(_state.HeldAt(Now) <= lots + room, $"holds reserve {_state.HeldAt(Now)} of {lots} spendable + {room} room");
            return outcome;
        }

        CommandOutcome CaptureHold(Step.CaptureHold c, Changeset changes)
        {
            var candidates = c.AnyHold ? _store.Holds.ToList() : _store.OpenHolds.ToList();
            var hold = candidates.Count == 0 ? null : candidates[c.Pick % candidates.Count];
            decimal? requested = hold is null ? null : c.Amount switch
            {
                Step.CaptureAmount.Full => null,
                Step.CaptureAmount.Exact => hold.Credits,
                Step.CaptureAmount.Part => Math.Max(Unit, Math.Round(hold.Credits * c.Fraction, Money.CreditScale, MidpointRounding.ToZero)),
                _ => hold.Credits + (c.Fraction < 0.5m ? Unit : Math.Max(Unit, Math.Round(hold.Credits * c.Fraction, Money.CreditScale, MidpointRounding.ToZero))),
            };
            var reason = c.Usage ? Reasons.UsageCharge : Reasons.ManualBalanceDebit;
            var id = NewId();
            var (spendable, lots) = Spendable();
            var held = _store.HeldAt(Now);
            var balance = _state.CreditBalance;

            var outcome = Engine( new WalletCommand.CaptureHold(id, hold?.Id ?? "hold_missing", requested, reason), Now, changes, NewId);

            // Ended, expired or unknown holds capture nothing.
            if (hold is null || !hold.ReservesAt(Now))
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                return outcome;
            }
            if (requested > hold.Credits)
            {
                Assert.Equal(hold.Credits, Assert.IsType<CommandOutcome.CaptureExceedsHold>(outcome).Held);
                Assert.Contains(_state.Holds, h => h.Id == hold.Id);
                return outcome;
            }

            var credits = requested ?? hold.Credits;
            // The hold's own reservation pays for the capture; the other holds keep theirs.
            var canSpend = lots + Room - (held - hold.Credits);
            if (credits > canSpend)
            {
                var refused = Assert.IsType<CommandOutcome.InsufficientBalance>(outcome);
                Assert.Equal((credits, Math.Max(0m, canSpend)), (refused.Requested, refused.Available));
                Assert.Contains(_state.Holds, h => h.Id == hold.Id);
                Assert.Equal(balance, _state.CreditBalance);
                return outcome;
            }

            // A capture debits at most its hold and ends it; the rest of the reservation is released with it.
            var ended = Assert.IsType<CommandOutcome.HoldEnded>(outcome);
            Assert.Equal((hold.Id, HoldStatuses.Captured), (ended.HoldId, ended.Status));
            var entry = Assert.Single(ended.Entries);
            Assert.Equal((id, TransactionTypes.Debit, reason, credits), (entry.Id, entry.Type, entry.Reason, entry.Credits));
            Assert.True(entry.Credits <= hold.Credits, $"capture of {entry.Credits} from a hold of {hold.Credits}");
            Assert.Equal([(hold.Id, HoldStatuses.Captured, (string?)id, credits)], changes.EndedHolds);
            Assert.DoesNotContain(_state.Holds, h => h.Id == hold.Id);
            AssertGreedy(entry, spendable, changes);
            return outcome;
        }

        CommandOutcome ReleaseHold(Step.ReleaseHold r, Changeset changes)
        {
            // The expiry sweep only ever ends holds whose expiry has passed (or ones that already ended meanwhile).
            var candidates = (r.Expired, r.AnyHold) switch
            {
                (true, true) => _store.Holds.Where(h => !h.ReservesAt(Now)).ToList(),
                (true, false) => _store.OpenHolds.Where(h => !h.ReservesAt(Now)).ToList(),
                (false, true) => _store.Holds.ToList(),
                (false, false) => _store.OpenHolds.ToList(),
            };
            var hold = candidates.Count == 0 ? null : candidates[r.Pick % candidates.Count];
            var balance = _state.CreditBalance;

            var outcome = Engine( new WalletCommand.ReleaseHold(hold?.Id ?? "hold_missing", r.Expired), Now, changes, NewId);

            if (hold is null || !hold.IsOpen)
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                return outcome;
            }
            var status = r.Expired ? HoldStatuses.Expired : HoldStatuses.Released;
            var ended = Assert.IsType<CommandOutcome.HoldEnded>(outcome);
            Assert.Equal((hold.Id, status), (ended.HoldId, ended.Status));
            Assert.Empty(ended.Entries);
            Assert.Equal([(hold.Id, status, (string?)null, 0m)], changes.EndedHolds);
            Assert.Equal(balance, _state.CreditBalance);
            return outcome;
        }

        CommandOutcome DebitUpTo(Step.DebitUpTo u, Changeset changes)
        {
            var id = NewId();
            var (spendable, lots) = Spendable();
            // Never overdraft and never what holds reserve: only the spendable credits left, net of what is owed.
            var budget = lots - _store.HeldAt(Now) - _store.Outstanding;
            var maxCredits = u.Absolute ?? Math.Round(Math.Max(0m, budget) * u.Fraction, Money.CreditScale, MidpointRounding.ToZero) + u.Nudge;
            if (maxCredits <= 0) maxCredits = Unit;
            var balance = _state.CreditBalance;

            var outcome = Engine(
                new WalletCommand.DebitUpTo(id, maxCredits, Reasons.InvoicePayment, u.Rate, u.MinorUnits), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;

            var cap = Math.Min(maxCredits, budget);
            // The largest whole number of minor units that the credits it may take are worth, exactly.
            var amount = cap <= 0 ? BigInteger.Zero : Exact.MinorUnitsCovered(cap, u.Rate, u.MinorUnits);
            if (amount == 0)
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                Assert.Equal(balance, _state.CreditBalance);
                return outcome;
            }

            var entry = Assert.Single(Assert.IsType<CommandOutcome.Posted>(outcome).Entries);
            Assert.Equal((id, TransactionTypes.Debit, Reasons.InvoicePayment, 0m), (entry.Id, entry.Type, entry.Reason, entry.CreditsUnsettled));
            Assert.True(entry.Credits > 0 && entry.Credits <= cap, $"paid {entry.Credits} credits with at most {cap} to spend");
            Assert.Equal(amount, Exact.MinorUnitsCovered(entry.Credits, u.Rate, u.MinorUnits));

            // The fewest credits that cover the amount, exactly: one credit step less would not.
            var amountDecimal = Exact.FromUnits(amount, u.MinorUnits);
            var owed = amount * BigInteger.Pow(10, Money.CreditScale + Money.RateScale - u.MinorUnits);
            var credits = Exact.Units(entry.Credits, Money.CreditScale);
            var rate = Exact.Units(u.Rate, Money.RateScale);
            Assert.True(credits * rate >= owed, $"{entry.Credits} credits at {u.Rate} are worth less than {amountDecimal}");
            Assert.True((credits - 1) * rate < owed, $"{entry.Credits} credits at {u.Rate} are more than the fewest that cover {amountDecimal}");
            Assert.True(entry.Credits == cap || entry.Credits == Money.CreditsToCover(amountDecimal, u.Rate),
                $"paid {entry.Credits}, neither the cap {cap} nor CreditsToCover({amountDecimal}, {u.Rate}) = {Money.CreditsToCover(amountDecimal, u.Rate)}");
            AssertGreedy(entry, spendable, changes);
            return outcome;
        }
    }
}
