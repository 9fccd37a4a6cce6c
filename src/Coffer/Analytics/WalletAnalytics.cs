using System.Data.Common;
using System.Globalization;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Analytics;

public static class Intervals
{
    public const string Day = "day";
    public const string Week = "week";
    public const string Month = "month";
    public static readonly IReadOnlySet<string> All = new HashSet<string> { Day, Week, Month };
}

/// <summary>How old a purchase still waiting for its payment is, in the buckets the report counts them in.</summary>
public static class PendingAges
{
    public const string UnderOneDay = "under_1_day";
    public const string OneToSevenDays = "1_to_7_days";
    public const string SevenToThirtyDays = "7_to_30_days";
    public const string OverThirtyDays = "over_30_days";
    public static readonly IReadOnlyList<string> InOrder = [UnderOneDay, OneToSevenDays, SevenToThirtyDays, OverThirtyDays];
}

/// <summary>
/// A validated analytics request: the tenant (and perhaps one wallet or one ISO currency), the range [From, To) and its
/// buckets, whose edges are UTC midnights, Mondays or firsts of the month, the first and last clipped to the range.
/// </summary>
public sealed record AnalyticsRequest(string TenantId, string? WalletId, string? Currency, DateTimeOffset From, DateTimeOffset To, string Interval,
    IReadOnlyList<DateTimeOffset> Edges)
{
    /// <summary>A report has at most this many buckets (a year of days), so one request bounds its own work.</summary>
    public const int MaxBuckets = 366;

    public static readonly TimeSpan DefaultRange = TimeSpan.FromDays(30);

    static readonly DateTimeOffset Earliest = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);
    static readonly DateTimeOffset Latest = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Checks the query as the API and the dashboard receive it. Without <paramref name="to"/> the range ends at the next
    /// UTC midnight (today included); without <paramref name="from"/> it starts 30 days before its end.
    /// </summary>
    public static AnalyticsRequest? Parse(Validator v, string tenantId, string? walletId, string? from, string? to, string? interval, string? currency,
        DateTimeOffset now)
    {
        var start = v.Time("from", from);
        var end = v.Time("to", to);
        var every = v.OneOf("interval", string.IsNullOrWhiteSpace(interval) ? Intervals.Day : interval.Trim(), Intervals.All);
        var code = string.IsNullOrWhiteSpace(currency) ? null : v.Currency("currency", currency);
        if (!v.Ok) return null;
        var until = end ?? Floor(now, Intervals.Day).AddDays(1);
        var since = start ?? until - DefaultRange;
        if (since < Earliest || since > Latest || until < Earliest || until > Latest)
            v.Fail("from and to must lie between 1970-01-01 and 9000-01-01");
        else if (until <= since)
            v.Fail("to must be later than from");
        if (!v.Ok) return null;
        var edges = EdgesOf(since, until, every!);
        if (edges is null)
        {
            v.Fail($"the range holds more than {MaxBuckets} {every} buckets: shorten it or choose a longer interval");
            return null;
        }
        return new AnalyticsRequest(tenantId, walletId, code, since, until, every!, edges);
    }

    /// <summary>The bucket edges from <paramref name="from"/> to <paramref name="to"/>, or null past <see cref="MaxBuckets"/>.</summary>
    static List<DateTimeOffset>? EdgesOf(DateTimeOffset from, DateTimeOffset to, string interval)
    {
        var edges = new List<DateTimeOffset> { from };
        for (var next = Next(Floor(from, interval), interval); next < to; next = Next(next, interval))
        {
            edges.Add(next);
            if (edges.Count > MaxBuckets) return null;
        }
        edges.Add(to);
        return edges;
    }

    /// <summary>The start of the UTC day, ISO week (Monday) or month holding <paramref name="t"/>.</summary>
    public static DateTimeOffset Floor(DateTimeOffset t, string interval)
    {
        var day = new DateTimeOffset(t.UtcDateTime.Date, TimeSpan.Zero);
        return interval switch
        {
            Intervals.Week => day.AddDays(-(((int)day.DayOfWeek + 6) % 7)),
            Intervals.Month => new DateTimeOffset(day.Year, day.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => day,
        };
    }

    static DateTimeOffset Next(DateTimeOffset start, string interval) => interval switch
    {
        Intervals.Week => start.AddDays(7),
        Intervals.Month => start.AddMonths(1),
        _ => start.AddDays(1),
    };
}

public sealed record TopUpKind(long Count, decimal Credits)
{
    public static readonly TopUpKind None = new(0, 0m);
    public TopUpKind Plus(TopUpKind other) => new(Count + other.Count, Credits + other.Credits);
}

public sealed record TopUpFigures(TopUpKind FreeGrant, TopUpKind PurchasedDirect, TopUpKind PurchasedInvoiced)
{
    public static readonly TopUpFigures None = new(TopUpKind.None, TopUpKind.None, TopUpKind.None);

    public TopUpFigures Plus(TopUpFigures o) =>
        new(FreeGrant.Plus(o.FreeGrant), PurchasedDirect.Plus(o.PurchasedDirect), PurchasedInvoiced.Plus(o.PurchasedInvoiced));

    public TopUpFigures With(string reason, TopUpKind kind) => reason switch
    {
        Reasons.FreeCreditGrant => this with { FreeGrant = kind },
        Reasons.PurchasedCreditDirect => this with { PurchasedDirect = kind },
        Reasons.PurchasedCreditInvoiced => this with { PurchasedInvoiced = kind },
        _ => this,
    };
}

/// <summary>
/// One bucket's figures. Consumption is every completed debit but expiries and terminations, valued by the lots its
/// allocations drew from (a purchased lot is a PURCHASED_CREDIT_DIRECT or PURCHASED_CREDIT_INVOICED credit; every other
/// lot is free); what a debit took beyond the lots is overdraft still owed. Expiry is counted apart, never as consumption.
/// </summary>
public sealed record AnalyticsFigures(decimal CreditsConsumed, decimal CreditsConsumedFree, decimal CreditsConsumedPurchased,
    decimal CreditsConsumedOverdraft, decimal CreditsExpired, TopUpFigures TopUps)
{
    public static readonly AnalyticsFigures None = new(0m, 0m, 0m, 0m, 0m, TopUpFigures.None);

    public AnalyticsFigures Plus(AnalyticsFigures o) => new(CreditsConsumed + o.CreditsConsumed, CreditsConsumedFree + o.CreditsConsumedFree,
        CreditsConsumedPurchased + o.CreditsConsumedPurchased, CreditsConsumedOverdraft + o.CreditsConsumedOverdraft, CreditsExpired + o.CreditsExpired,
        TopUps.Plus(o.TopUps));
}

public sealed record AnalyticsBucket(DateTimeOffset Start, DateTimeOffset End, decimal CreditsConsumed, decimal CreditsConsumedFree,
    decimal CreditsConsumedPurchased, decimal CreditsConsumedOverdraft, decimal CreditsExpired, TopUpFigures TopUps)
{
    public static AnalyticsBucket Of(DateTimeOffset start, DateTimeOffset end, AnalyticsFigures f) =>
        new(start, end, f.CreditsConsumed, f.CreditsConsumedFree, f.CreditsConsumedPurchased, f.CreditsConsumedOverdraft, f.CreditsExpired, f.TopUps);
}

/// <summary>
/// Seconds from an invoiced purchase's invoice to its payment, over the purchases paid in the range: the median (the
/// mean of the two middle values when their number is even) and the 90th percentile by nearest rank.
/// </summary>
public sealed record TimeToPayment(long Count, decimal? MedianSeconds, decimal? P90Seconds)
{
    public static readonly TimeToPayment None = new(0, null, null);
}

/// <summary>Purchases still waiting for their payment when the report was made, by age.</summary>
public sealed record PendingPurchases(string Age, long Count, decimal Credits, decimal Amount);

/// <summary>One unit of credit's figures: a wallet currency, or a credit currency priced in it. Units are never added together.</summary>
public sealed record AnalyticsSeries(string Currency, string? CreditCurrencyId, IReadOnlyList<AnalyticsBucket> Buckets, AnalyticsFigures Totals,
    TimeToPayment TimeToPayment, IReadOnlyList<PendingPurchases> PendingPurchases);

public sealed record AnalyticsReport(string? WalletId, string? Currency, DateTimeOffset From, DateTimeOffset To, string Interval,
    DateTimeOffset GeneratedAt, IReadOnlyList<AnalyticsSeries> Series);

public abstract record AnalyticsOutcome
{
    private AnalyticsOutcome() { }
    public sealed record Report(AnalyticsReport Value) : AnalyticsOutcome;
    public sealed record WalletNotFound : AnalyticsOutcome;
}

/// <summary>
/// Usage, top-ups and payment behaviour of a tenant or one wallet over a range, for the API and the dashboard. Every
/// figure is summed by the database per bucket (exactly: NUMERIC on PostgreSQL, an exact decimal aggregate on SQLite,
/// whose own SUM would add TEXT as floating point), filtered by tenant first, so a long range never loads its entries.
/// </summary>
public sealed class WalletAnalytics(Database db, WalletStore wallets, TimeProvider clock)
{
    static readonly string TopUpReasons = Quoted(Reasons.FreeCreditGrant, Reasons.PurchasedCreditDirect, Reasons.PurchasedCreditInvoiced);
    static readonly string PurchasedReasons = Quoted(Reasons.PurchasedCreditDirect, Reasons.PurchasedCreditInvoiced);

    static string Quoted(params string[] values) => string.Join(", ", values.Select(v => $"'{v}'"));

    public async Task<AnalyticsOutcome> ReportAsync(AnalyticsRequest request)
    {
        WalletRow? wallet = null;
        if (request.WalletId is { } walletId && (wallet = await wallets.GetAsync(request.TenantId, walletId)) is null)
            return new AnalyticsOutcome.WalletNotFound();
        var now = clock.GetUtcNow();
        await using var c = await db.OpenAsync();

        var buckets = new Dictionary<(string, string?), AnalyticsFigures[]>();
        AnalyticsFigures[] Of(string currency, string? cc)
        {
            if (!buckets.TryGetValue((currency, cc), out var row))
                buckets[(currency, cc)] = row = Enumerable.Repeat(AnalyticsFigures.None, request.Edges.Count - 1).ToArray();
            return row;
        }
        if (wallet is not null) Of(wallet.Currency, wallet.CreditCurrencyId);

        foreach (var r in await ConsumedAsync(c, request))
        {
            var row = Of(r.Currency, r.CreditCurrencyId);
            var f = row[r.Bucket];
            row[r.Bucket] = r.Expired
                ? f with { CreditsExpired = f.CreditsExpired + r.Credits }
                : f with { CreditsConsumed = f.CreditsConsumed + r.Credits, CreditsConsumedOverdraft = f.CreditsConsumedOverdraft + r.Credits };
        }
        foreach (var r in await AllocatedAsync(c, request))
        {
            if (r.Expired) continue;
            var row = Of(r.Currency, r.CreditCurrencyId);
            var f = row[r.Bucket];
            // What the lots paid for is no longer owed: the overdraft is what is left once they are taken away.
            f = f with { CreditsConsumedOverdraft = f.CreditsConsumedOverdraft - r.Credits };
            row[r.Bucket] = r.Purchased
                ? f with { CreditsConsumedPurchased = f.CreditsConsumedPurchased + r.Credits }
                : f with { CreditsConsumedFree = f.CreditsConsumedFree + r.Credits };
        }
        foreach (var r in await TopUpsAsync(c, request))
        {
            var row = Of(r.Currency, r.CreditCurrencyId);
            row[r.Bucket] = row[r.Bucket] with { TopUps = row[r.Bucket].TopUps.With(r.Reason, new TopUpKind(r.Count, r.Credits)) };
        }
        var paid = await TimeToPaymentAsync(c, request);
        var pending = await PendingAsync(c, request, now);
        foreach (var key in paid.Keys.Concat(pending.Keys)) Of(key.Item1, key.Item2);

        var series = buckets.OrderBy(b => b.Key.Item1, StringComparer.Ordinal).ThenBy(b => b.Key.Item2 ?? "", StringComparer.Ordinal)
            .Select(b => new AnalyticsSeries(b.Key.Item1, b.Key.Item2,
                b.Value.Select((f, i) => AnalyticsBucket.Of(request.Edges[i], request.Edges[i + 1], f)).ToList(),
                b.Value.Aggregate(AnalyticsFigures.None, (sum, f) => sum.Plus(f)),
                paid.GetValueOrDefault(b.Key, TimeToPayment.None),
                PendingAges.InOrder.Select(age => pending.GetValueOrDefault(b.Key)?.FirstOrDefault(p => p.Age == age) ?? new PendingPurchases(age, 0, 0m, 0m))
                    .ToList()))
            .ToList();
        return new AnalyticsOutcome.Report(new AnalyticsReport(request.WalletId, request.Currency, request.From, request.To, request.Interval, now, series));
    }

    string Sum(string expression) => db.ExactSum(expression);

    /// <summary>The buckets as a table (index, start, end) the queries join to; their edges are parameters, never text.</summary>
    static (string Cte, List<(string, object?)> Args) Buckets(AnalyticsRequest request)
    {
        var args = new List<(string, object?)> { ("t", request.TenantId) };
        var rows = new List<string>();
        for (var i = 0; i < request.Edges.Count; i++) args.Add(($"e{i}", request.Edges[i]));
        for (var i = 0; i + 1 < request.Edges.Count; i++) rows.Add($"({i}, @e{i}, @e{i + 1})");
        if (request.WalletId is not null) args.Add(("w", request.WalletId));
        if (request.Currency is not null) args.Add(("cur", request.Currency));
        return ($"WITH b (i, lo, hi) AS (VALUES {string.Join(", ", rows)})", args);
    }

    /// <summary>The wallet and currency conditions on <paramref name="entry"/> and the wallet row <c>w</c> it belongs to.</summary>
    static string Filters(AnalyticsRequest request, string entry) =>
        (request.WalletId is null ? "" : $" AND {entry}.wallet_id = @w") + (request.Currency is null ? "" : " AND LOWER(w.currency) = @cur");

    sealed record Consumed(int Bucket, string Currency, string? CreditCurrencyId, bool Expired, bool Purchased, decimal Credits);

    const string ExpiredCase = $"CASE WHEN d.transaction_reason = '{Reasons.CreditExpired}' THEN 1 ELSE 0 END";

    /// <summary>Completed debits per bucket, expiries apart; terminations (a closed wallet's forfeited credits) are not usage.</summary>
    async Task<List<Consumed>> ConsumedAsync(DbConnection c, AnalyticsRequest request)
    {
        var (cte, args) = Buckets(request);
        return await c.QueryAsync(null, $"""
            {cte}
            SELECT bucket, currency, cc, expired, {Sum("credits")} AS credits FROM (
                SELECT b.i AS bucket, w.currency AS currency, w.credit_currency_id AS cc, {ExpiredCase} AS expired, d.credit_amount AS credits
                FROM b
                JOIN wallet_transactions d ON d.tenant_id = @t AND d.created_at >= b.lo AND d.created_at < b.hi
                JOIN wallets w ON w.tenant_id = d.tenant_id AND w.id = d.wallet_id
                WHERE d.type = '{TransactionTypes.Debit}' AND d.transaction_status = '{TransactionStatuses.Completed}'
                  AND d.transaction_reason <> '{Reasons.WalletTermination}'{Filters(request, "d")}
            ) x GROUP BY bucket, currency, cc, expired
            """, r => new Consumed(Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture), r.Str("currency"), r.NStr("cc"), r.Long("expired") == 1,
                false, r.Dec("credits")), args.ToArray());
    }

    /// <summary>The same debits' allocations, split by the lot each drew from (overdraft settled later included).</summary>
    async Task<List<Consumed>> AllocatedAsync(DbConnection c, AnalyticsRequest request)
    {
        var (cte, args) = Buckets(request);
        return await c.QueryAsync(null, $"""
            {cte}
            SELECT bucket, currency, cc, expired, purchased, {Sum("credits")} AS credits FROM (
                SELECT b.i AS bucket, w.currency AS currency, w.credit_currency_id AS cc, {ExpiredCase} AS expired,
                    CASE WHEN l.transaction_reason IN ({PurchasedReasons}) THEN 1 ELSE 0 END AS purchased, a.credits AS credits
                FROM b
                JOIN wallet_transactions d ON d.tenant_id = @t AND d.created_at >= b.lo AND d.created_at < b.hi
                JOIN allocations a ON a.tenant_id = d.tenant_id AND a.debit_id = d.id
                JOIN wallet_transactions l ON l.tenant_id = a.tenant_id AND l.id = a.lot_id
                JOIN wallets w ON w.tenant_id = d.tenant_id AND w.id = d.wallet_id
                WHERE d.type = '{TransactionTypes.Debit}' AND d.transaction_status = '{TransactionStatuses.Completed}'
                  AND d.transaction_reason <> '{Reasons.WalletTermination}'{Filters(request, "d")}
            ) x GROUP BY bucket, currency, cc, expired, purchased
            """, r => new Consumed(Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture), r.Str("currency"), r.NStr("cc"), r.Long("expired") == 1,
                r.Long("purchased") == 1, r.Dec("credits")), args.ToArray());
    }

    sealed record TopUps(int Bucket, string Currency, string? CreditCurrencyId, string Reason, long Count, decimal Credits);

    /// <summary>
    /// Completed top-ups per bucket by reason, counted when their credits arrived: at creation, or for a purchase (and a
    /// package's bonus) that waited for its invoice, when the invoice was paid.
    /// </summary>
    async Task<List<TopUps>> TopUpsAsync(DbConnection c, AnalyticsRequest request)
    {
        var (cte, args) = Buckets(request);
        var credit = $"t.type = '{TransactionTypes.Credit}' AND t.transaction_status = '{TransactionStatuses.Completed}' AND t.transaction_reason IN ({TopUpReasons})";
        return await c.QueryAsync(null, $"""
            {cte}
            SELECT bucket, currency, cc, reason, COUNT(*) AS n, {Sum("credits")} AS credits FROM (
                SELECT b.i AS bucket, w.currency AS currency, w.credit_currency_id AS cc, t.transaction_reason AS reason, t.credit_amount AS credits
                FROM b
                JOIN wallet_transactions t ON t.tenant_id = @t AND t.created_at >= b.lo AND t.created_at < b.hi
                JOIN wallets w ON w.tenant_id = t.tenant_id AND w.id = t.wallet_id
                LEFT JOIN invoices i ON i.tenant_id = t.tenant_id AND t.reference_type = 'INVOICE' AND i.id = t.reference_id
                    AND (i.wallet_transaction_id = t.id OR i.bonus_transaction_id = t.id) AND i.paid_at > t.created_at
                WHERE {credit} AND i.id IS NULL{Filters(request, "t")}
                UNION ALL
                SELECT b.i, w.currency, w.credit_currency_id, t.transaction_reason, t.credit_amount
                FROM b
                JOIN invoices i ON i.tenant_id = @t AND i.paid_at >= b.lo AND i.paid_at < b.hi
                JOIN wallet_transactions t ON t.tenant_id = i.tenant_id AND (t.id = i.wallet_transaction_id OR t.id = i.bonus_transaction_id)
                JOIN wallets w ON w.tenant_id = t.tenant_id AND w.id = t.wallet_id
                WHERE {credit} AND t.created_at < i.paid_at{Filters(request, "t")}
            ) x GROUP BY bucket, currency, cc, reason
            """, r => new TopUps(Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture), r.Str("currency"), r.NStr("cc"), r.Str("reason"), r.Long("n"),
                r.Dec("credits")), args.ToArray());
    }

    /// <summary>
    /// Median and p90 of invoice-to-payment seconds per unit over the invoiced purchases paid in the range. The database
    /// ranks the durations and returns only the two middle ranks and the p90 rank, so no range loads every invoice.
    /// </summary>
    async Task<Dictionary<(string, string?), TimeToPayment>> TimeToPaymentAsync(DbConnection c, AnalyticsRequest request)
    {
        var args = new List<(string, object?)> { ("t", request.TenantId), ("from", request.From), ("to", request.To) };
        if (request.WalletId is not null) args.Add(("w", request.WalletId));
        if (request.Currency is not null) args.Add(("cur", request.Currency));
        var rows = await c.QueryAsync(null, $"""
            SELECT currency, cc, n, rn, micros FROM (
                SELECT w.currency AS currency, w.credit_currency_id AS cc, i.paid_at - i.created_at AS micros,
                    ROW_NUMBER() OVER (PARTITION BY w.currency, w.credit_currency_id ORDER BY i.paid_at - i.created_at, i.id) AS rn,
                    COUNT(*) OVER (PARTITION BY w.currency, w.credit_currency_id) AS n
                FROM invoices i
                JOIN wallet_transactions t ON t.tenant_id = i.tenant_id AND t.id = i.wallet_transaction_id
                JOIN wallets w ON w.tenant_id = i.tenant_id AND w.id = i.wallet_id
                WHERE i.tenant_id = @t AND i.paid_at >= @from AND i.paid_at < @to
                  AND t.transaction_reason = '{Reasons.PurchasedCreditInvoiced}'{Filters(request, "i")}
            ) x WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 OR rn = (9 * n + 9) / 10
            """, r => (Key: (r.Str("currency"), r.NStr("cc")), N: r.Long("n"), Rank: r.Long("rn"), Micros: r.Long("micros")), args.ToArray());
        return rows.GroupBy(r => r.Key).ToDictionary(g => g.Key, g =>
        {
            var n = g.First().N;
            decimal At(long rank) => g.First(r => r.Rank == rank).Micros / 1_000_000m;
            return new TimeToPayment(n, Money.Normalize((At((n + 1) / 2) + At((n + 2) / 2)) / 2m), Money.Normalize(At((9 * n + 9) / 10)));
        });
    }

    /// <summary>Purchases pending now (not as of the range's end: what is still unpaid is a present fact), by age.</summary>
    async Task<Dictionary<(string, string?), List<PendingPurchases>>> PendingAsync(DbConnection c, AnalyticsRequest request, DateTimeOffset now)
    {
        var args = new List<(string, object?)>
        {
            ("t", request.TenantId), ("d1", now.AddDays(-1)), ("d7", now.AddDays(-7)), ("d30", now.AddDays(-30)),
        };
        if (request.WalletId is not null) args.Add(("w", request.WalletId));
        if (request.Currency is not null) args.Add(("cur", request.Currency));
        var rows = await c.QueryAsync(null, $"""
            SELECT currency, cc, age, COUNT(*) AS n, {Sum("credits")} AS credits, {Sum("amount")} AS amount FROM (
                SELECT w.currency AS currency, w.credit_currency_id AS cc, t.credit_amount AS credits, t.amount AS amount,
                    CASE WHEN t.created_at > @d1 THEN 0 WHEN t.created_at > @d7 THEN 1 WHEN t.created_at > @d30 THEN 2 ELSE 3 END AS age
                FROM wallet_transactions t
                JOIN wallets w ON w.tenant_id = t.tenant_id AND w.id = t.wallet_id
                WHERE t.tenant_id = @t AND t.transaction_status = '{TransactionStatuses.Pending}' AND t.type = '{TransactionTypes.Credit}'
                  AND t.transaction_reason IN ({PurchasedReasons}){Filters(request, "t")}
            ) x GROUP BY currency, cc, age
            """, r => (Key: (r.Str("currency"), r.NStr("cc")),
                Row: new PendingPurchases(PendingAges.InOrder[(int)r.Long("age")], r.Long("n"), r.Dec("credits"), r.Dec("amount"))), args.ToArray());
        return rows.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Select(r => r.Row).ToList());
    }
}
