using CsCheck;

namespace Coffer.Ledger.Tests;

/// <summary>
/// Model-based property test: random wallet histories are applied to <see cref="WalletEngine"/>, every changeset is
/// written to an in-memory <see cref="LedgerStore"/>, and after every step the stored rows must satisfy
/// <see cref="Invariants.Check"/> and the step must have done what DESIGN.md section 4 says.
/// </summary>
public sealed class WalletModelTests
{
    static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Random_histories_keep_every_ledger_rule_after_every_step() =>
        Generators.History.Sample(Run, iter: 1000, print: Print);

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

        public string Describe() =>
            $"state: status={_state.Status} balance={_state.CreditBalance} overdraft={_state.OverdraftCredits} limit={_state.OverdraftLimit}" +
            Environment.NewLine + string.Join(Environment.NewLine, _store.Rows.Select(r => "  " + r)) +
            Environment.NewLine + string.Join(Environment.NewLine, _store.Allocations.Select(a => $"  alloc {a.DebitId} <- {a.LotId}: {a.Credits}"));

        public void Apply(Step step)
        {
            var closedBefore = _state.Status == WalletStatuses.Closed;
            var changes = new Changeset();
            CommandOutcome? outcome = null;

            switch (step)
            {
                case Step.Advance a:
                    var next = _store.OpenLots.Where(l => l.ExpiresAt > Now).Select(l => l.ExpiresAt!.Value).DefaultIfEmpty().Min();
                    Now = a.ToNextExpiry && next != default ? next : Now.AddMinutes(a.Minutes);
                    break;

                case Step.SetOverdraftLimit l:
                    // Storage refuses a limit below what is already owed.
                    _state.OverdraftLimit = Math.Max(l.Limit, _state.OverdraftCredits);
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
            }

            if (outcome is not null)
            {
                if (closedBefore)
                {
                    Assert.True(outcome is CommandOutcome.WalletNotActive or CommandOutcome.NoChange,
                        $"a closed wallet answered {outcome}");
                    Assert.True(changes.IsEmpty, "a closed wallet changed");
                }
                if (outcome is CommandOutcome.Posted posted)
                    Assert.Equal(posted.Entries.Select(e => e.Id), changes.Entries.Select(e => e.Id));
                else
                    Assert.True(changes.IsEmpty && changes.Allocations.Count == 0 && changes.LotAvailable.Count == 0 &&
                                changes.DebtUnsettled.Count == 0, $"{outcome} left a non-empty changeset");
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
            Assert.Equal(
                _store.OpenLots.Select(l => (l.Id, l.CreditsAvailable, l.ExpiresAt, l.Priority, l.CreatedAt)).OrderBy(x => x.Id, StringComparer.Ordinal),
                _state.OpenLots.Select(l => (l.Id, l.Available, l.ExpiresAt, l.Priority, l.CreatedAt)).OrderBy(x => x.Id, StringComparer.Ordinal));
            Assert.Equal(
                _store.OpenDebts.Select(d => (d.Id, d.CreditsUnsettled)).OrderBy(x => x.Id, StringComparer.Ordinal),
                _state.OpenDebts.Select(d => (d.DebitId, d.Unsettled)).OrderBy(x => x.DebitId, StringComparer.Ordinal));
            Assert.True(_state.OverdraftCredits <= _state.OverdraftLimit,
                $"owes {_state.OverdraftCredits}, more than the limit {_state.OverdraftLimit}");
        }

        CommandOutcome Credit(Step.Credit c, Changeset changes)
        {
            var id = NewId();
            var reason = c.Purchased ? Reasons.PurchasedCreditDirect : Reasons.FreeCreditGrant;
            DateTimeOffset? expires = c.ExpiresInMinutes is { } m ? Now.AddMinutes(m) : null;

            // Oldest debt first, each repaid as far as the credit goes.
            var repayments = new List<AllocationRow>();
            var left = c.Amount;
            foreach (var debt in _store.OpenDebts)
            {
                if (left == 0) break;
                var pay = Math.Min(left, debt.CreditsUnsettled);
                repayments.Add(new AllocationRow(debt.Id, id, pay));
                left -= pay;
            }

            var outcome = WalletEngine.Apply(_state, new WalletCommand.Credit(id, c.Amount, reason, expires, c.Priority), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;
            if (outcome is CommandOutcome.BalanceLimitExceeded)
            {
                Assert.True(_state.CreditBalance + c.Amount > Money.MaxBalance, "a credit within the balance limit was refused");
                Assert.True(changes.IsEmpty);
                return outcome;
            }

            var posted = Assert.IsType<CommandOutcome.Posted>(outcome);
            var entry = Assert.Single(posted.Entries);
            Assert.Equal((id, TransactionTypes.Credit, reason, c.Amount), (entry.Id, entry.Type, entry.Reason, entry.Credits));
            Assert.Equal((expires, c.Priority), (entry.ExpiresAt, entry.Priority));
            Assert.Equal(repayments, changes.Allocations);
            Assert.Equal(left, entry.CreditsAvailable);
            Assert.Equal(0m, entry.CreditsUnsettled);
            return outcome;
        }

        CommandOutcome Debit(Step.Debit d, Changeset changes)
        {
            var id = NewId();
            var reason = d.Usage ? Reasons.UsageCharge : Reasons.ManualBalanceDebit;
            var spendable = _store.SpendableInOrder(Now);
            var room = _state.OverdraftLimit - _store.Outstanding;
            var canSpend = spendable.Sum(l => l.CreditsAvailable) + room;
            var amount = d.Absolute ?? Math.Round(canSpend * d.Fraction, Money.CreditScale, MidpointRounding.ToZero) + d.Nudge;
            if (amount <= 0) amount = 0.000000000001m;

            var balanceBefore = _state.CreditBalance;
            var outcome = WalletEngine.Apply(_state, new WalletCommand.Debit(id, amount, reason), Now, changes, NewId);
            if (_state.Status != WalletStatuses.Active && outcome is CommandOutcome.WalletNotActive) return outcome;

            if (amount > canSpend)
            {
                var refused = Assert.IsType<CommandOutcome.InsufficientBalance>(outcome);
                Assert.Equal((amount, canSpend), (refused.Requested, refused.Available));
                Assert.Equal(balanceBefore, _state.CreditBalance);
                return outcome;
            }

            var posted = Assert.IsType<CommandOutcome.Posted>(outcome);
            var entry = Assert.Single(posted.Entries);
            Assert.Equal((id, TransactionTypes.Debit, reason, amount), (entry.Id, entry.Type, entry.Reason, entry.Credits));
            Assert.All(changes.Allocations, a => Assert.Equal(id, a.DebitId));

            // The debit takes lots greedily in spend order: a lot is touched only once every spendable lot before
            // it is emptied, expired lots never, and overdraft only once every spendable lot is emptied.
            var taken = changes.Allocations.ToDictionary(a => a.LotId, a => a.Credits);
            Assert.Equal(taken.Count, changes.Allocations.Count);
            var remaining = amount;
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
            return outcome;
        }

        CommandOutcome Expire(Step.ExpireLot e, Changeset changes)
        {
            var candidates = e.AnyLot
                ? _store.Lots.ToList()
                : _store.OpenLots.Where(l => l.IsExpiredAt(Now)).OrderBy(l => l, SpecSpendOrder.Instance).ToList();
            var lot = candidates.Count == 0 ? null : candidates[e.Pick % candidates.Count];
            var id = NewId();
            var outcome = WalletEngine.Apply(_state, new WalletCommand.ExpireLot(id, lot?.Id ?? "wtx_missing"), Now, changes, NewId);

            if (lot is null || lot.CreditsAvailable == 0 || !lot.IsExpiredAt(Now))
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
            var spendable = _store.SpendableInOrder(Now);
            var expectedExpiries = expired.Select(l => (l.Id, l.CreditsAvailable)).ToList();
            var expectedDrain = spendable.Select(l => (l.Id, l.CreditsAvailable)).ToList();
            var id = NewId();

            var outcome = WalletEngine.Apply(_state, new WalletCommand.Terminate(id), Now, changes, NewId);
            if (wasClosed)
            {
                Assert.IsType<CommandOutcome.NoChange>(outcome);
                return outcome;
            }

            var entries = Assert.IsType<CommandOutcome.Posted>(outcome).Entries;
            Assert.Equal(WalletStatuses.Closed, _state.Status);
            Assert.Equal(WalletStatuses.Closed, changes.NewStatus);

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
            return outcome;
        }
    }
}
