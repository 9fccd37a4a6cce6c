using Coffer.Settings;
using Coffer.Storage;
using MimeKit;

namespace Coffer.Alerts;

/// <summary>
/// Mails each alert to the tenant's recipients through the tenant's SMTP server (MailKit), when the tenant has
/// alert email on. Alerts are leased (<see cref="Leases"/>: a lease that runs out, so a node that dies mid-send
/// strands nothing); a failure is retried a few times, then recorded. Tenants are mailed in
/// parallel, each over one SMTP session with one time-out, so a tenant's slow or silent server delays only its own mail.
/// </summary>
public sealed class AlertMailer(Database db, TenantSettings settings, SmtpPolicy policy, TimeProvider clock, Hosting.CofferOptions options, Leases leases,
    ILogger<AlertMailer> log)
    : Hosting.PollingWorker
{
    public const int Batch = 50;
    public const int MaxAttempts = 3;
    /// <summary>A tenant's share of one round; its mails beyond it wait for the next round.</summary>
    public const int MaxPerTenantPerRound = 10;
    public const int MaxParallelTenants = 4;
    public static readonly TimeSpan DefaultSessionTimeout = TimeSpan.FromSeconds(20);
    /// <summary>Longer than any session, so a live node keeps what it took; a dead node's alerts are taken again after it.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    readonly TimeSpan _sessionTimeout = options.AlertEmailTimeout;

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.AlertEmailPoll;

    /// <summary>Mail is not urgent to the second: whatever a round left waits for the next poll.</summary>
    protected override bool MoreDue(int taken) => false;

    sealed record DueAlert(string Tenant, string Id, string Wallet, string Previous, string State, decimal Value, string Currency, int Attempts);

    /// <summary>Pending, or left 'sending' by a node whose lease ran out.</summary>
    const string Due = "email_status IN ('pending', 'sending')";

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        LeaseToken lease;
        List<DueAlert> due;
        await using (var scope = await db.BeginWriteAsync(ct))
        {
            (lease, due) = await leases.TakeAsync(scope, db.Kind, "alerts", Due, "created_at", MaxPerTenantPerRound, Batch, clock.GetUtcNow(), Lease,
                "email_status = 'sending', email_attempts = email_attempts + 1",
                "tenant_id, id, wallet_id, previous_state, state, available_balance, currency, email_attempts",
                r => new DueAlert(r.Str("tenant_id"), r.Str("id"), r.Str("wallet_id"), r.Str("previous_state"), r.Str("state"), r.Dec("available_balance"),
                    r.Str("currency"), r.NInt("email_attempts") ?? 1));
            await scope.CommitAsync(ct);
        }
        await Parallel.ForEachAsync(due.GroupBy(d => d.Tenant), new ParallelOptions { MaxDegreeOfParallelism = MaxParallelTenants, CancellationToken = ct },
            async (tenant, token) =>
            {
                try { await MailTenantAsync(tenant.Key, [.. tenant.OrderBy(a => a.Id)], lease, token); }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    // Its lease runs out and the alerts are taken again; the other tenants go on.
                    log.LogWarning(e, "alert email of tenant {Tenant} could not be recorded", tenant.Key);
                }
            });
        return due.Count;
    }

    async Task MailTenantAsync(string tenantId, List<DueAlert> alerts, LeaseToken lease, CancellationToken ct)
    {
        var mail = await settings.AlertEmailAsync(tenantId);
        if (!mail.Enabled || mail.SmtpHost is null || mail.From is null || mail.To is not { Count: > 0 })
        {
            foreach (var alert in alerts) await MarkAsync(alert, lease, "not_configured", null);
            return;
        }
        // Taken again after its lease ran out more often than it may be tried (a node dying on it each time): given up.
        foreach (var alert in alerts.Where(a => a.Attempts > MaxAttempts))
            await MarkAsync(alert, lease, "failed", $"given up after {MaxAttempts} attempts");
        var left = new Queue<DueAlert>(alerts.Where(a => a.Attempts <= MaxAttempts));
        if (left.Count == 0) return;

        string? error = null;
        using var session = CancellationTokenSource.CreateLinkedTokenSource(ct);
        session.CancelAfter(_sessionTimeout);
        try
        {
            using var smtp = await policy.OpenAsync(mail, _sessionTimeout, session.Token);
            while (left.TryPeek(out var alert))
            {
                await smtp.Client.SendAsync(Message(mail, alert), session.Token);
                await MarkAsync(left.Dequeue(), lease, "sent", null);
            }
            await smtp.Client.DisconnectAsync(true, session.Token);
        }
        // MailKit's per-operation time-out (the same length) may fire before the session's own.
        catch (Exception e) when ((e is TimeoutException || (e is OperationCanceledException && session.IsCancellationRequested)) && !ct.IsCancellationRequested)
        {
            error = $"the SMTP server did not finish within {(int)_sessionTimeout.TotalMilliseconds} ms";
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            error = e.Message;
        }
        if (error is null) return;
        log.LogWarning("alert email of tenant {Tenant} failed: {Error}", tenantId, error);
        foreach (var alert in left) await MarkAsync(alert, lease, alert.Attempts >= MaxAttempts ? "failed" : "pending", error);
    }

    static MimeMessage Message(AlertEmailConfig mail, DueAlert alert)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(mail.From!));
        foreach (var to in mail.To!) message.To.Add(MailboxAddress.Parse(to));
        var recovered = alert.State == Ledger.AlertStates.Ok;
        message.Subject = recovered ? $"Wallet {alert.Wallet}: balance recovered" : $"Wallet {alert.Wallet}: balance low ({alert.State})";
        message.Body = new TextPart("plain")
        {
            Text = $"Wallet {alert.Wallet} went from {alert.Previous} to {alert.State}.\nAvailable balance: {alert.Value} {alert.Currency.ToUpperInvariant()}.\n",
        };
        return message;
    }

    /// <summary>Only while the lease is still this round's: after it ran out the alert may be another node's.</summary>
    async Task MarkAsync(DueAlert alert, LeaseToken lease, string status, string? error)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            $"""
            UPDATE alerts SET email_status = @s, email_error = @e, {Leases.Release}
            WHERE tenant_id = @t AND id = @id AND email_status = 'sending' AND {LeaseToken.Held}
            """,
            [("s", status), ("e", error), ("t", alert.Tenant), ("id", alert.Id), .. lease.Args]);
        await scope.CommitAsync();
    }
}
