using Coffer.Ledger;
using Coffer.Storage;

namespace Coffer.Verify;

public sealed record VerifyReport(long Wallets, long Entries, long Allocations, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// Recomputes every wallet from its ledger entries and checks the invariants of DESIGN.md section 4, and the
/// money around the ledger (invoices, payments, refunds, event sequences) — the <c>verify</c> command, also run
/// by the tests and the benchmark after load.
/// </summary>
public sealed class Verifier(Database db)
{
    const int PageSize = 500;

    public async Task<VerifyReport> RunAsync(CancellationToken ct = default)
    {
        var problems = new List<string>();
        long wallets = 0, entries = 0, allocations = 0;
        string lastTenant = "", lastId = "";
        await using var c = await db.OpenForScansAsync(ct);
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
                    $"SELECT {Wallets.WalletStore.AllocationsOfWallet}",
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
        problems.AddRange(await CheckEventSequencesAsync(c));
        problems.AddRange(await CheckInvoicePaymentsAsync(c));
        problems.AddRange(await CheckPaymentRefundsAsync(c));
        problems.AddRange(await CheckLotPricesAsync(c));
        problems.AddRange(await CheckSecretsSealedAsync(c));
        problems.AddRange(await CheckCompletionInstantsAsync(c));
        problems.AddRange(await CheckAllocationDebitsAsync(c));
        problems.AddRange(await CheckSpendTotalsAsync(c));
        return new VerifyReport(wallets, entries, allocations, problems);
    }

    /// <summary>
    /// A completed entry records when it completed, no earlier than its creation, and only a completed one does: the
    /// balance at a past instant counts the entries completed by then.
    /// </summary>
    static Task<List<string>> CheckCompletionInstantsAsync(System.Data.Common.DbConnection c) =>
        c.QueryAsync(null,
            """
            SELECT wallet_id, id, transaction_status FROM wallet_transactions
            WHERE (transaction_status = 'completed') <> (completed_at IS NOT NULL) OR completed_at < created_at
            """,
            r => $"wallet {r.Str("wallet_id")}: entry {r.Str("id")} ({r.Str("transaction_status")}) has a completion instant that disagrees with it");

    /// <summary>
    /// Each wallet's allocations are read through its entries, so one whose debit is missing, or is another wallet's, would
    /// go unseen there: it is looked for here.
    /// </summary>
    static Task<List<string>> CheckAllocationDebitsAsync(System.Data.Common.DbConnection c) =>
        c.QueryAsync(null,
            """
            SELECT a.wallet_id, a.debit_id, a.lot_id FROM allocations a
            LEFT JOIN wallet_transactions d ON d.tenant_id = a.tenant_id AND d.id = a.debit_id
            WHERE d.id IS NULL OR d.wallet_id <> a.wallet_id
            """,
            r => $"wallet {r.Str("wallet_id")}: allocation of debit {r.Str("debit_id")} to lot {r.Str("lot_id")} has no debit of the wallet");

    /// <summary>
    /// What each dimension value spent a day (which caps and the usage report read) is exactly the debits carrying it that
    /// day: their credits, amounts and count, with no total of its own and none missing.
    /// </summary>
    static async Task<List<string>> CheckSpendTotalsAsync(System.Data.Common.DbConnection c)
    {
        var fromEntries = new Dictionary<(string Tenant, string Wallet, string Dimension, string Value, DateTimeOffset Day), (decimal Credits, decimal Amount, long Debits)>();
        var debits = await c.QueryAsync(null,
            "SELECT tenant_id, wallet_id, created_at, credit_amount, amount, dimensions FROM wallet_transactions WHERE dimensions IS NOT NULL AND type = 'debit'",
            r => (Tenant: r.Str("tenant_id"), Wallet: r.Str("wallet_id"), Day: Ledger.SpendPeriods.DayOf(r.Time("created_at")), Credits: r.Dec("credit_amount"),
                Amount: r.Dec("amount"), Dimensions: Spend.SpendAttribution.ReadDimensions(r.Str("dimensions")) ?? []));
        foreach (var d in debits)
            foreach (var (dimension, value) in d.Dimensions)
            {
                var key = (d.Tenant, d.Wallet, dimension, value, d.Day);
                var sum = fromEntries.GetValueOrDefault(key);
                fromEntries[key] = (sum.Credits + d.Credits, sum.Amount + d.Amount, sum.Debits + 1);
            }
        var problems = new List<string>();
        var stored = await c.QueryAsync(null, "SELECT tenant_id, wallet_id, dimension, value, day, credits, amount, debits FROM spend_by_dimension",
            r => (Key: (r.Str("tenant_id"), r.Str("wallet_id"), r.Str("dimension"), r.Str("value"), r.Time("day")), Total: (r.Dec("credits"), r.Dec("amount"), r.Long("debits"))));
        foreach (var (key, total) in stored)
            if (!fromEntries.Remove(key, out var expected) || expected != total)
                problems.Add($"wallet {key.Item2}: spend of {key.Item3} '{key.Item4}' on {key.Item5:yyyy-MM-dd} is {total}, but its debits add up to {expected}");
        foreach (var (key, expected) in fromEntries)
            problems.Add($"wallet {key.Wallet}: debits of {key.Dimension} '{key.Value}' on {key.Day:yyyy-MM-dd} spent {expected}, but no total counts them");
        return problems;
    }

    /// <summary>
    /// Every event about a wallet carries its own sequence number: none shared, none below 1, and none beyond
    /// the wallet's <c>event_seq</c> (the last number used), so a receiver can order them and spot a gap.
    /// </summary>
    static async Task<List<string>> CheckEventSequencesAsync(System.Data.Common.DbConnection c)
    {
        var problems = new List<string>();
        var shared = await c.QueryAsync(null,
            """
            SELECT wallet_id, sequence, COUNT(*) AS n FROM outbox_events WHERE wallet_id IS NOT NULL
            GROUP BY tenant_id, wallet_id, sequence HAVING COUNT(*) > 1
            """,
            r => $"wallet {r.Str("wallet_id")}: {r.Long("n")} events share sequence {r.Long("sequence")}");
        problems.AddRange(shared);
        var outOfRange = await c.QueryAsync(null,
            """
            SELECT e.wallet_id, MIN(e.sequence) AS lowest, MAX(e.sequence) AS highest, w.event_seq
            FROM outbox_events e JOIN wallets w ON w.tenant_id = e.tenant_id AND w.id = e.wallet_id
            GROUP BY e.tenant_id, e.wallet_id, w.event_seq
            HAVING MIN(e.sequence) < 1 OR MAX(e.sequence) > w.event_seq
            """,
            r => $"wallet {r.Str("wallet_id")}: event sequences run from {r.Long("lowest")} to {r.Long("highest")}, but the wallet's event_seq is {r.Long("event_seq")}");
        problems.AddRange(outOfRange);
        return problems;
    }

    /// <summary>
    /// Per invoice: <c>amount_paid</c> is the sum of its payments that succeeded (refunded ones included: a
    /// refund is counted in <c>refunded_amount</c>, not taken off what was paid); what it keeps (paid less the
    /// refunds of its payments that did not fail, made or due) is never above the total; no more is refunded
    /// than was paid; and an invoice that accepts no money — voided, or a credit purchase that was cancelled —
    /// keeps none: every payment it received has its refund record.
    /// </summary>
    static async Task<List<string>> CheckInvoicePaymentsAsync(System.Data.Common.DbConnection c)
    {
        var paid = await SumsAsync(c,
            """
            SELECT tenant_id, destination_id AS owner, amount FROM payments
            WHERE destination_type = 'INVOICE' AND payment_status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')
            """);
        var given = await SumsAsync(c,
            """
            SELECT r.tenant_id, p.destination_id AS owner, r.amount FROM refunds r
            JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id
            WHERE r.status <> 'failed'
            """);
        var invoices = await c.QueryAsync(null,
            """
            SELECT i.tenant_id, i.id, i.total, i.amount_paid, i.refunded_amount, i.invoice_status, t.transaction_status AS purchase
            FROM invoices i LEFT JOIN wallet_transactions t ON t.tenant_id = i.tenant_id AND t.id = i.wallet_transaction_id
            """,
            r => (Key: (r.Str("tenant_id"), r.Str("id")), Total: r.Dec("total"), Paid: r.Dec("amount_paid"), Refunded: r.Dec("refunded_amount"),
                Closed: r.Str("invoice_status") == "VOIDED" || r.NStr("purchase") == "failed"));
        var problems = new List<string>();
        foreach (var i in invoices)
        {
            var id = i.Key.Item2;
            var succeeded = paid.GetValueOrDefault(i.Key);
            var kept = i.Paid - given.GetValueOrDefault(i.Key);
            if (i.Paid != succeeded) problems.Add($"invoice {id}: amount_paid {i.Paid}, but its succeeded payments sum to {succeeded}");
            if (kept > i.Total) problems.Add($"invoice {id}: keeps {kept} of what it was paid, above its total {i.Total}");
            if (i.Refunded > i.Paid) problems.Add($"invoice {id}: refunded_amount {i.Refunded} is above amount_paid {i.Paid}");
            if (i.Closed && kept != 0) problems.Add($"invoice {id}: accepts no money (voided, or its purchase was cancelled) but keeps {kept} without a refund record");
        }
        return problems;
    }

    /// <summary>Per payment: <c>refunded_amount</c> is the sum of its refunds that did not fail (pending ones reserve), and never above the payment.</summary>
    static async Task<List<string>> CheckPaymentRefundsAsync(System.Data.Common.DbConnection c)
    {
        var refunded = await SumsAsync(c,
            "SELECT tenant_id, payment_id AS owner, amount FROM refunds WHERE payment_id IS NOT NULL AND status <> 'failed'");
        var payments = await c.QueryAsync(null, "SELECT tenant_id, id, amount, refunded_amount FROM payments",
            r => (Key: (r.Str("tenant_id"), r.Str("id")), Amount: r.Dec("amount"), Refunded: r.Dec("refunded_amount")));
        var problems = new List<string>();
        foreach (var p in payments)
        {
            var id = p.Key.Item2;
            var sum = refunded.GetValueOrDefault(p.Key);
            if (p.Refunded != sum) problems.Add($"payment {id}: refunded_amount {p.Refunded}, but its refunds that did not fail sum to {sum}");
            if (p.Refunded > p.Amount) problems.Add($"payment {id}: refunded_amount {p.Refunded} is above its amount {p.Amount}");
        }
        return problems;
    }

    /// <summary>Amounts summed per (tenant, owner) in exact decimals: SQLite stores them as text, so SQL's SUM would go through floating point.</summary>
    static async Task<Dictionary<(string, string), decimal>> SumsAsync(System.Data.Common.DbConnection c, string sql)
    {
        var sums = new Dictionary<(string, string), decimal>();
        var rows = await c.QueryAsync(null, sql, r => (Key: (r.Str("tenant_id"), r.Str("owner")), Amount: r.Dec("amount")));
        foreach (var (key, amount) in rows) sums[key] = sums.GetValueOrDefault(key) + amount;
        return sums;
    }

    /// <summary>
    /// No purchased lot is valued above its payment: the credit entries of a credit purchase (its credits and a
    /// package's bonus) are worth at most the invoice's total, and no credit is worth less than nothing. (Refunds
    /// against their payment are <see cref="CheckPaymentRefundsAsync"/>'s.)
    /// </summary>
    static async Task<List<string>> CheckLotPricesAsync(System.Data.Common.DbConnection c)
    {
        var credits = await c.QueryAsync(null, "SELECT id, amount FROM wallet_transactions WHERE type = 'credit'",
            r => (Id: r.Str("id"), Amount: r.Dec("amount")));
        var valued = await SumsAsync(c,
            """
            SELECT i.tenant_id, i.id AS owner, t.amount FROM invoices i
            JOIN wallet_transactions t ON t.tenant_id = i.tenant_id AND (t.id = i.wallet_transaction_id OR t.id = i.bonus_transaction_id)
            """);
        var totals = await c.QueryAsync(null, "SELECT tenant_id, id, total FROM invoices WHERE wallet_transaction_id IS NOT NULL",
            r => (Key: (r.Str("tenant_id"), r.Str("id")), Total: r.Dec("total")));
        return credits.Where(e => e.Amount < 0).Select(e => $"credit {e.Id}: amount {e.Amount} is negative")
            .Concat(totals.Where(i => valued.GetValueOrDefault(i.Key) > i.Total).Select(i =>
                $"invoice {i.Key.Item2}: its credits are valued above its payment ({valued[i.Key]} for a total of {i.Total})"))
            .ToList();
    }

    /// <summary>No stored secret (Stripe keys, SMTP passwords, webhook and server keys) is in plain text.</summary>
    static Task<List<string>> CheckSecretsSealedAsync(System.Data.Common.DbConnection c) => Secrets.SealedColumns.PlainTextAsync(c);

    public static void Print(VerifyReport report, TextWriter output)
    {
        output.WriteLine($"verify: {report.Wallets} wallets, {report.Entries} ledger entries, {report.Allocations} allocations checked");
        foreach (var p in report.Problems.Take(1000)) output.WriteLine($"  VIOLATION {p}");
        if (report.Problems.Count > 1000) output.WriteLine($"  … and {report.Problems.Count - 1000} more");
        output.WriteLine(report.Ok ? "verify: OK, every invariant holds" : $"verify: FAILED, {report.Problems.Count} violations");
    }
}
