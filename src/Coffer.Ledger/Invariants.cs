namespace Coffer.Ledger;

/// <summary>One ledger entry as stored, with its bookkeeping columns.</summary>
public sealed record LedgerEntry(
    string Id,
    string Type,
    string Status,
    string Reason,
    decimal CreditAmount,
    decimal CreditsAvailable,
    decimal CreditsUnsettled);

public sealed record AllocationRow(string DebitId, string LotId, decimal Credits);

/// <summary>Everything the invariants need to know about one wallet, cached columns included.</summary>
public sealed record WalletAudit(
    string WalletId,
    decimal CachedCreditBalance,
    decimal CachedOverdraftCredits,
    decimal OverdraftLimit,
    IReadOnlyList<LedgerEntry> Entries,
    IReadOnlyList<AllocationRow> Allocations);

/// <summary>
/// The rules of DESIGN.md section 4 that can be checked from stored rows alone. Used by the property tests
/// after every step and by the <c>verify</c> command over a whole database.
/// </summary>
public static class Invariants
{
    public static IReadOnlyList<string> Check(WalletAudit w)
    {
        var problems = new List<string>();
        void Fail(string message) => problems.Add($"wallet {w.WalletId}: {message}");

        var completed = w.Entries.Where(e => e.Status == TransactionStatuses.Completed).ToList();
        var credits = completed.Where(e => e.Type == TransactionTypes.Credit).ToList();
        var debits = completed.Where(e => e.Type == TransactionTypes.Debit).ToList();

        var recomputed = credits.Sum(e => e.CreditAmount) - debits.Sum(e => e.CreditAmount);
        if (recomputed != w.CachedCreditBalance)
            Fail($"cached credit balance {w.CachedCreditBalance} != completed credits - completed debits {recomputed}");

        var unsettled = debits.Sum(e => e.CreditsUnsettled);
        if (unsettled != w.CachedOverdraftCredits)
            Fail($"cached overdraft {w.CachedOverdraftCredits} != unsettled debits {unsettled}");

        var lotsAvailable = credits.Sum(e => e.CreditsAvailable);
        if (lotsAvailable - unsettled != recomputed)
            Fail($"lots available {lotsAvailable} - overdraft {unsettled} != balance {recomputed}");

        if (recomputed < -w.OverdraftLimit)
            Fail($"balance {recomputed} is below the overdraft limit -{w.OverdraftLimit}");

        var byId = w.Entries.ToDictionary(e => e.Id);
        var toDebit = w.Allocations.GroupBy(a => a.DebitId).ToDictionary(g => g.Key, g => g.Sum(a => a.Credits));
        var fromLot = w.Allocations.GroupBy(a => a.LotId).ToDictionary(g => g.Key, g => g.Sum(a => a.Credits));

        foreach (var a in w.Allocations)
        {
            if (a.Credits <= 0) Fail($"allocation {a.DebitId}<-{a.LotId} moves {a.Credits}");
            if (!byId.TryGetValue(a.DebitId, out var d) || d.Type != TransactionTypes.Debit || d.Status != TransactionStatuses.Completed)
                Fail($"allocation names {a.DebitId}, which is not a completed debit of this wallet");
            if (!byId.TryGetValue(a.LotId, out var l) || l.Type != TransactionTypes.Credit || l.Status != TransactionStatuses.Completed)
                Fail($"allocation names {a.LotId}, which is not a completed credit of this wallet");
        }

        foreach (var d in debits)
        {
            var allocated = toDebit.GetValueOrDefault(d.Id);
            if (d.CreditsUnsettled < 0) Fail($"debit {d.Id} has negative unsettled {d.CreditsUnsettled}");
            if (allocated + d.CreditsUnsettled != d.CreditAmount)
                Fail($"debit {d.Id}: allocations {allocated} + unsettled {d.CreditsUnsettled} != {d.CreditAmount}");
        }

        foreach (var l in credits)
        {
            if (l.CreditsAvailable < 0 || l.CreditsAvailable > l.CreditAmount)
                Fail($"lot {l.Id}: available {l.CreditsAvailable} outside 0..{l.CreditAmount}");
            var consumed = fromLot.GetValueOrDefault(l.Id);
            if (l.CreditAmount - l.CreditsAvailable != consumed)
                Fail($"lot {l.Id}: amount {l.CreditAmount} - available {l.CreditsAvailable} != allocations {consumed}");
        }

        foreach (var e in w.Entries.Where(e => e.Status != TransactionStatuses.Completed))
        {
            if (e.CreditsAvailable != 0 || e.CreditsUnsettled != 0 || toDebit.ContainsKey(e.Id) || fromLot.ContainsKey(e.Id))
                Fail($"{e.Status} entry {e.Id} holds credits or allocations");
        }

        foreach (var e in w.Entries)
        {
            if (e.CreditAmount <= 0) Fail($"entry {e.Id} moves {e.CreditAmount}");
            if (Money.Scale(e.CreditAmount) > Money.CreditScale) Fail($"entry {e.Id} is finer than {Money.CreditScale} digits");
        }

        return problems;
    }
}
