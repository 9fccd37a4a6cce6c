using Coffer.Common;
using Coffer.Customers;
using Coffer.Hosting;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Payments;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.AutoTopUp;

public static class AttemptStatuses
{
    public const string Pending = "pending";
    public const string Processing = "processing";
    public const string Succeeded = "succeeded";
    public const string Invoiced = "invoiced";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
}

public sealed record AutoTopUpAttemptDto(string Id, string WalletId, string Status, string? Reason, decimal? Credits, string? InvoiceId, string? PaymentId,
    string? Error, int Suppressed, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// Runs the purchases that the write path queued, outside any wallet transaction: re-checks the rule against
/// the balance now (pending purchases counted), the limits (per day and month, in count and credits), the
/// cooldown and the back-off after failures; then either creates an invoiced purchase or charges the saved
/// card and grants the credits once the charge succeeds. Every outcome, skips included, is recorded with its
/// reason. A failed charge emits <c>wallet.auto_top_up_failed</c>; enough failures in a row disable the rule.
/// </summary>
public static class AutoTopUpApi
{
    public static void MapAutoTopUp(this RouteGroupBuilder v1) =>
        v1.MapGet("/wallets/{id}/auto-topup/attempts", Attempts).WithTags("Wallets").WithName("listAutoTopUpAttempts")
            .WithSummary("One page of the wallet's automatic top-up attempts (skips, purchases, failures), newest first");

    static async Task<Microsoft.AspNetCore.Http.HttpResults.Results<Microsoft.AspNetCore.Http.HttpResults.Ok<ListResponse<AutoTopUpAttemptDto>>, ApiError>> Attempts(
        Tenants.Tenant tenant, string id, AutoTopUpWorker worker, WalletStore store, int? limit, int? offset)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        if (await store.GetAsync(tenant.Id, id) is null) return ApiError.NotFound("wallet");
        return TypedResults.Ok((await worker.AttemptsPageAsync(tenant.Id, id, l, o)).Response());
    }
}

public sealed class AutoTopUpWorker(
    Database db, WalletStore wallets, WalletWriter writer, CreditPurchases purchases, InvoiceService invoices, PaymentService payments,
    PaymentMethodStore methods, CustomerStore customers, Packages.CreditPackages packages, OutboxWriter outbox, TimeProvider clock, Hosting.CofferOptions options, Leases leases,
    ILogger<AutoTopUpWorker> log)
    : Hosting.PollingWorker
{
    public const int Batch = 20;
    public const int DefaultMaxConsecutiveFailures = 3;
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(6);

    /// <summary>
    /// The lease of an attempt being run. One whose lease ran out was interrupted (a crash mid-charge): it is failed, not
    /// run again (its purchase may exist and its charge may have been made; the reconciler settles those), so the wallet
    /// is not stuck behind it.
    /// </summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(15);

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.AutoTopUpPoll;

    protected override bool MoreDue(int taken) => taken >= Batch;

    const string Columns = "tenant_id, id, wallet_id, status, reason, credits, invoice_id, payment_id, error, suppressed, created_at, updated_at";

    static AutoTopUpAttemptDto Read(System.Data.Common.DbDataReader r) => new(r.Str("id"), r.Str("wallet_id"), r.Str("status"), r.NStr("reason"),
        r.IsDBNull(r.GetOrdinal("credits")) ? null : r.Dec("credits"), r.NStr("invoice_id"), r.NStr("payment_id"), r.NStr("error"),
        r.NInt("suppressed") ?? 0, r.Time("created_at"), r.Time("updated_at"));

    /// <summary>One page of the wallet's attempts, newest first.</summary>
    public async Task<Page<AutoTopUpAttemptDto>> AttemptsPageAsync(string tenantId, string walletId, int limit, int offset)
    {
        await using var c = await db.OpenAsync();
        return await c.PageAsync(Columns, "auto_topup_attempts", Where.Tenant(tenantId).Eq("wallet_id", "w", walletId), Sql.OrderBy("created_at", ascending: false),
            limit, offset, Read);
    }

    public async Task<List<AutoTopUpAttemptDto>> AttemptsAsync(string tenantId, string walletId, int limit)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null,
            $"SELECT {Columns} FROM auto_topup_attempts WHERE tenant_id = @t AND wallet_id = @w ORDER BY created_at DESC, id DESC LIMIT @n",
            Read, ("t", tenantId), ("w", walletId), ("n", limit));
    }

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        List<(string Tenant, AutoTopUpAttemptDto Attempt)> leased;
        await using (var scope = await db.BeginWriteAsync(ct))
        {
            await scope.Connection.ExecAsync(scope.Transaction,
                $"""
                UPDATE auto_topup_attempts SET status = 'failed', error = 'interrupted', updated_at = @now, {Leases.Release}
                WHERE status = 'processing' AND leased_until <= @now
                """,
                ("now", now));
            (_, leased) = await leases.TakeAsync(scope, db.Kind, "auto_topup_attempts", "status = 'pending'", "created_at", Batch, Batch, now, Lease,
                "status = 'processing', updated_at = @now", Columns, r => (r.Str("tenant_id"), Read(r)));
            await scope.CommitAsync(ct);
        }
        foreach (var (tenant, attempt) in leased)
        {
            try
            {
                await RunAsync(tenant, attempt, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogError(e, "auto top-up {Attempt} of wallet {Wallet} of tenant {Tenant} failed", attempt.Id, attempt.WalletId, tenant);
                await FinishAsync(tenant, attempt.Id, AttemptStatuses.Failed, null, null, null, null, e.Message);
            }
        }
        return leased.Count;
    }

    async Task RunAsync(string tenantId, AutoTopUpAttemptDto attempt, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var wallet = await wallets.GetAsync(tenantId, attempt.WalletId);
        var rule = wallet?.AutoTopup is null ? null : Json.Deserialize<AutoTopupSettings>(wallet.AutoTopup);
        async Task Skip(string reason) => await FinishAsync(tenantId, attempt.Id, AttemptStatuses.Skipped, reason, null, null, null, null);
        if (wallet is null || wallet.Status != WalletStatuses.Active) { await Skip("wallet not active"); return; }
        if (rule?.Enabled != true || rule.Threshold is not { } threshold) { await Skip("auto top-up disabled"); return; }

        var (counted, pending) = await wallets.CountedForTopUpAsync(wallet);
        if (counted > threshold) { await Skip(pending > 0 ? "a pending top-up already covers the threshold" : "balance above threshold"); return; }
        // A rule may buy a credit package (at its price, with its bonus) rather than a number of credits.
        var package = rule.PackageId is { } packageId ? await packages.FindAsync(tenantId, packageId) : null;
        if (rule.PackageId is not null && (package is not { Status: "active" } || !string.Equals(package.Currency, wallet.Currency, StringComparison.OrdinalIgnoreCase)))
        { await Skip($"credit package {rule.PackageId} is not on sale in {wallet.Currency}"); return; }
        var credits = package?.Credits ?? (rule.TargetBalance is { } target ? target - counted : rule.Amount ?? 0m);
        if (credits <= 0 || credits > Money.MaxAmount) { await Skip("nothing to buy: set amount or a target_balance above the threshold"); return; }
        credits = Math.Round(credits, Money.CreditScale, Money.CreditRounding);

        var history = await HistoryAsync(tenantId, wallet.Id, now);
        if (rule.CooldownSeconds is { } cooldown && history.LastPurchase is { } last && now - last < TimeSpan.FromSeconds(cooldown))
        { await Skip($"cooldown: last top-up at {Json.Format(last)}"); return; }
        if (rule.MaxTopupsPerDay is { } perDay && history.CountToday >= perDay) { await Skip($"daily limit of {perDay} top-ups reached"); return; }
        if (rule.MaxAmountPerDay is { } dayAmount && history.CreditsToday + credits > dayAmount) { await Skip($"daily limit of {dayAmount} credits reached"); return; }
        if (rule.MaxAmountPerMonth is { } monthAmount && history.CreditsThisMonth + credits > monthAmount)
        {
            // The limit stops this top-up: that is 100 % reached, told once a month (unless a purchase already took it there).
            var told = history.LimitReachedThisMonth || history.CreditsThisMonth >= monthAmount;
            await FinishAsync(tenantId, attempt.Id, AttemptStatuses.Skipped, $"{MonthlyLimitReached} of {monthAmount} credits reached", null, null, null, null,
                told ? null : (c, tx, writes) => LimitWarningAsync(c, tx, writes, wallet, 100, monthAmount, history.CreditsThisMonth, now));
            return;
        }
        if (history.ConsecutiveFailures > 0 && history.LastFailure is { } failedAt && now - failedAt < Backoff(history.ConsecutiveFailures))
        { await Skip($"backing off after {history.ConsecutiveFailures} failed charges"); return; }

        PaymentMethodRow? card = null;
        if (ChargesCard(rule, (await customers.GetAsync(tenantId, wallet.CustomerId))?.CollectionMethod))
        {
            var cards = (await methods.ForCustomerAsync(tenantId, wallet.CustomerId)).Where(m => m.Type == PaymentMethodKinds.Card).ToList();
            card = rule.PaymentMethodId is null ? cards.FirstOrDefault() : cards.FirstOrDefault(m => m.Id == rule.PaymentMethodId);
            if (card is null) { await Skip("no saved card to charge"); return; }
        }

        // The purchase: a pending credit and its invoice, then (when charging) the card. The credits wait for the
        // invoice's payment whatever the tenant's auto-complete setting says.
        var created = await purchases.BuyAsync(new PurchaseRequest(tenantId, wallet.Id,
            package is null ? new Purchased.Credits(credits, null, null, null) : Purchased.Package.Of(package, now),
            new EntryDetails(package is null ? "Automatic top-up" : $"Automatic top-up: credit package {package.Name}"),
            new IdempotencyClaim($"auto_topup_{attempt.Id}", attempt.Id), PaymentFirst: true), ct);
        string invoiceId;
        switch (created)
        {
            case BuyOutcome.PendingInvoice bought:
                invoiceId = bought.Purchase.InvoiceId;
                break;
            case BuyOutcome.KeyReplayed replayed:
                // This attempt bought before (the node stopped before recording it): that purchase is the attempt's.
                invoiceId = CreditPurchases.InvoiceOf(replayed.Answer);
                break;
            default:
                await FinishAsync(tenantId, attempt.Id, AttemptStatuses.Failed, "the purchase could not be created", credits, null, null, created.ToString());
                return;
        }
        // 80, 90 and 100 % of the monthly limit, each told by the purchase that takes the month's total across it.
        var warn = Warnings(wallet, rule, history.CreditsThisMonth, credits, now);
        if (card is null)
        {
            await FinishAsync(tenantId, attempt.Id, AttemptStatuses.Invoiced, "invoice created; credits arrive when it is paid", credits, invoiceId, null, null, warn);
            return;
        }
        var invoice = (await invoices.GetAsync(tenantId, invoiceId))!;
        // Never the shutdown token: once the card is asked, the answer must be recorded, however the node is stopping.
        var outcome = await payments.ChargeSavedMethodAsync(invoice, card, invoice.AmountDue, null, null);
        var payment = outcome is InvoiceOutcome.Done { Payment: { } p } ? p : null;
        if (payment?.PaymentStatus == PaymentStatuses.Succeeded)
        {
            await FinishAsync(tenantId, attempt.Id, AttemptStatuses.Succeeded, "charged the saved card", credits, invoiceId, payment.Id, null, warn);
            return;
        }
        if (payment?.PaymentStatus == PaymentStatuses.Processing)
        {
            // The gateway gave no answer: the reconciler settles the payment, and the invoice grants the credits if it was charged.
            await FinishAsync(tenantId, attempt.Id, AttemptStatuses.Invoiced, "the charge's outcome is not known yet; it is being reconciled with the gateway",
                credits, invoiceId, payment.Id, null, warn);
            return;
        }
        var error = payment?.ErrorMessage ?? (outcome as InvoiceOutcome.Refused)?.Reason.Message ?? "the charge failed";
        await invoices.VoidAsync(tenantId, invoiceId);
        await FailedAsync(tenantId, attempt.Id, wallet, rule, history.ConsecutiveFailures + 1, credits, invoiceId, payment?.Id, error);
    }

    /// <summary>
    /// Whether a rule (or, with none yet, a new one) charges a card rather than raising an invoice: <c>invoicing: true</c>
    /// invoices and a rule that names its card charges it; otherwise the customer's <c>collection_method</c> decides, and
    /// without one a card is charged. A send_invoice customer is never charged by a rule that did not ask for a card by name,
    /// as Stripe does not charge a send_invoice customer. <c>invoicing: false</c> is no such ask: it is Flexprice's default
    /// and what the dashboard's unticked box sends.
    /// </summary>
    public static bool ChargesCard(AutoTopupSettings? rule, string? customerMethod) =>
        rule?.Invoicing != true && (rule?.PaymentMethodId is not null || customerMethod != CollectionMethods.SendInvoice);

    static TimeSpan Backoff(int failures) =>
        TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, TimeSpan.FromMinutes(1).Ticks << Math.Min(failures, 20)));

    sealed record History(DateTimeOffset? LastPurchase, int CountToday, decimal CreditsToday, decimal CreditsThisMonth, int ConsecutiveFailures,
        DateTimeOffset? LastFailure, bool LimitReachedThisMonth);

    /// <summary>The start of a skip's reason when the monthly limit stopped a top-up (and the 100 % warning was told).</summary>
    const string MonthlyLimitReached = "monthly limit";

    /// <summary>The warnings a purchase of <paramref name="credits"/> gives, writing them with its record; null when it crosses none.</summary>
    Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, SqlBatch, Task>? Warnings(
        WalletRow wallet, AutoTopupSettings rule, decimal before, decimal credits, DateTimeOffset now)
    {
        if (rule.MaxAmountPerMonth is not { } limit || limit <= 0) return null;
        var crossed = new[] { 80, 90, 100 }.Where(p => before < limit * p / 100m && before + credits >= limit * p / 100m).ToList();
        if (crossed.Count == 0) return null;
        return async (c, tx, writes) =>
        {
            foreach (var percent in crossed) await LimitWarningAsync(c, tx, writes, wallet, percent, limit, before + credits, now);
        };
    }

    Task LimitWarningAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, SqlBatch writes, WalletRow wallet, int percent,
        decimal limit, decimal used, DateTimeOffset now) =>
        WalletEvents.AppendAsync(c, tx, outbox, writes, wallet.TenantId, wallet.Id, EventTypes.AutoTopUpLimitWarning, new
        {
            wallet_id = wallet.Id, customer_id = wallet.CustomerId, percent, max_amount_per_month = limit, credits_this_month = used,
            month = now.UtcDateTime.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture),
        });

    async Task<History> HistoryAsync(string tenantId, string walletId, DateTimeOffset now)
    {
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync(null,
            "SELECT status, credits, reason, created_at FROM auto_topup_attempts WHERE tenant_id = @t AND wallet_id = @w AND status IN ('succeeded', 'invoiced', 'failed', 'skipped') AND created_at >= @since ORDER BY created_at DESC",
            r => (Status: r.Str("status"), Credits: r.IsDBNull(r.GetOrdinal("credits")) ? 0m : r.Dec("credits"), Reason: r.NStr("reason"), At: r.Time("created_at")),
            ("t", tenantId), ("w", walletId), ("since", monthStart < now.AddDays(-1) ? monthStart : now.AddDays(-1)));
        var limitReached = rows.Any(r => r.Status == AttemptStatuses.Skipped && r.At >= monthStart && r.Reason?.StartsWith(MonthlyLimitReached, StringComparison.Ordinal) == true);
        rows = rows.Where(r => r.Status != AttemptStatuses.Skipped).ToList();
        var bought = rows.Where(r => r.Status != AttemptStatuses.Failed).ToList();
        var today = bought.Where(r => r.At > now.AddDays(-1)).ToList();
        var failures = rows.TakeWhile(r => r.Status == AttemptStatuses.Failed).ToList();
        return new History(bought.FirstOrDefault().At is var at && at != default ? at : null, today.Count, today.Sum(r => r.Credits),
            bought.Where(r => r.At >= monthStart).Sum(r => r.Credits), failures.Count, failures.FirstOrDefault().At is var f && f != default ? f : null,
            limitReached);
    }

    async Task FinishAsync(string tenantId, string id, string status, string? reason, decimal? credits, string? invoiceId, string? paymentId, string? error,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, SqlBatch, Task>? alsoWrite = null)
    {
        await using var scope = await db.BeginWriteAsync();
        if (alsoWrite is not null)
        {
            var writes = new SqlBatch();
            await alsoWrite(scope.Connection, scope.Transaction, writes);
            await writes.ExecuteAsync(scope.Connection, scope.Transaction);
        }
        // Whatever the lease: this is what happened, and it is truer than an 'interrupted' written after the lease ran out.
        await scope.Connection.ExecAsync(scope.Transaction,
            $"""
            UPDATE auto_topup_attempts SET status = @s, reason = COALESCE(@r, reason), credits = @c, invoice_id = @i, payment_id = @p, error = @e, updated_at = @now,
                {Leases.Release}
            WHERE tenant_id = @t AND id = @id
            """,
            ("s", status), ("r", reason), ("c", credits), ("i", invoiceId), ("p", paymentId), ("e", error), ("now", clock.GetUtcNow()),
            ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        Telemetry.AutoTopUp(status);
    }

    /// <summary>Tells the merchant (wallet.auto_top_up_failed, with the gateway's reason) and disables the rule after too many failures.</summary>
    async Task FailedAsync(string tenantId, string attemptId, WalletRow wallet, AutoTopupSettings rule, int consecutive, decimal credits,
        string invoiceId, string? paymentId, string error)
    {
        var limit = rule.MaxConsecutiveFailures ?? DefaultMaxConsecutiveFailures;
        var disable = consecutive >= limit;
        if (disable)
            await writer.UpdateAsync(tenantId, wallet.Id, w => new UpdateDecision(w with { AutoTopup = Json.Serialize(rule with { Enabled = false }) }));
        // The failure record and its event commit together: a crash cannot leave one without the other.
        await FinishAsync(tenantId, attemptId, AttemptStatuses.Failed, "the charge failed", credits, invoiceId, paymentId, error,
            (c, tx, writes) => WalletEvents.AppendAsync(c, tx, outbox, writes, tenantId, wallet.Id, EventTypes.AutoTopUpFailed, new
            {
                wallet_id = wallet.Id, customer_id = wallet.CustomerId, reason = error, consecutive_failures = consecutive, rule_disabled = disable,
            }));
    }
}
