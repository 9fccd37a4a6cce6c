using Coffer.Ledger;
using Coffer.Storage;

namespace Coffer.Verify;

public sealed record VerifyReport(long Wallets, long Entries, long Allocations, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// Recomputes every wallet from its ledger entries and checks the invariants of DESIGN.md section 4 — the
/// <c>verify</c> command, also run by the tests and the benchmark after load.
/// </summary>
public sealed class Verifier(Database db)
{
    const int PageSize = 500;

    public async Task<VerifyReport> RunAsync(CancellationToken ct = default)
    {
        var problems = new List<string>();
        long wallets = 0, entries = 0, allocations = 0;
        string lastTenant = "", lastId = "";
        await using var c = await db.OpenAsync(ct);
        while (true)
        {
            var page = await c.QueryAsync(null,
                """
                SELECT tenant_id, id, credit_balance, overdraft_credits, overdraft_limit, wallet_status FROM wallets
                WHERE tenant_id > @lt OR (tenant_id = @lt AND id > @li) ORDER BY tenant_id, id LIMIT @n
                """,
                r => (Tenant: r.Str("tenant_id"), Id: r.Str("id"), Balance: r.Dec("credit_balance"),
                    Overdraft: r.Dec("overdraft_credits"), Limit: r.Dec("overdraft_limit"), Status: r.Str("wallet_status")),
                ("lt", lastTenant), ("li", lastId), ("n", PageSize));
            if (page.Count == 0) break;
            foreach (var w in page)
            {
                var rows = await c.QueryAsync(null,
                    """
                    SELECT id, type, transaction_status, transaction_reason, credit_amount, credits_available, credits_unsettled,
                           lot_open, debt_open
                    FROM wallet_transactions WHERE tenant_id = @t AND wallet_id = @w
                    """,
                    r => (Entry: new LedgerEntry(r.Str("id"), r.Str("type"), r.Str("transaction_status"), r.Str("transaction_reason"),
                        r.Dec("credit_amount"), r.Dec("credits_available"), r.Dec("credits_unsettled")),
                        LotOpen: r.Long("lot_open") == 1, DebtOpen: r.Long("debt_open") == 1),
                    ("t", w.Tenant), ("w", w.Id));
                var allocs = await c.QueryAsync(null,
                    "SELECT debit_id, lot_id, credits FROM allocations WHERE tenant_id = @t AND wallet_id = @w",
                    r => new AllocationRow(r.Str("debit_id"), r.Str("lot_id"), r.Dec("credits")), ("t", w.Tenant), ("w", w.Id));

                problems.AddRange(Invariants.Check(new WalletAudit(w.Id, w.Balance, w.Overdraft, w.Limit, rows.Select(x => x.Entry).ToList(), allocs)));
                foreach (var (e, lotOpen, debtOpen) in rows)
                {
                    if (lotOpen != (e.CreditsAvailable > 0)) problems.Add($"wallet {w.Id}: lot {e.Id} open flag disagrees with its available credits");
                    if (debtOpen != (e.CreditsUnsettled > 0)) problems.Add($"wallet {w.Id}: debit {e.Id} debt flag disagrees with its unsettled credits");
                }
                if (w.Status is not (WalletStatuses.Active or WalletStatuses.Frozen or WalletStatuses.Closed))
                    problems.Add($"wallet {w.Id}: unknown status {w.Status}");
                wallets++;
                entries += rows.Count;
                allocations += allocs.Count;
            }
            (lastTenant, lastId) = (page[^1].Tenant, page[^1].Id);
        }
        return new VerifyReport(wallets, entries, allocations, problems);
    }

    public static void Print(VerifyReport report, TextWriter output)
    {
        output.WriteLine($"verify: {report.Wallets} wallets, {report.Entries} ledger entries, {report.Allocations} allocations checked");
        foreach (var p in report.Problems.Take(1000)) output.WriteLine($"  VIOLATION {p}");
        if (report.Problems.Count > 1000) output.WriteLine($"  … and {report.Problems.Count - 1000} more");
        output.WriteLine(report.Ok ? "verify: OK, every invariant holds" : $"verify: FAILED, {report.Problems.Count} violations");
    }
}
