using Coffer.Settings;
using Coffer.Storage;
using MimeKit;

namespace Coffer.Alerts;

/// <summary>
/// Mails each alert (a balance alert, or a warning of credits expiring) to the tenant's recipients through the
/// tenant's SMTP server (MailKit), when the tenant has alert email on. Alerts are leased (<see cref="Leases"/>: a
/// lease that runs out, so a node that dies mid-send strands nothing); a failure is retried a few times, then
/// recorded. Tenants are mailed in parallel, each over one SMTP session with one time-out, so a tenant's slow or
/// silent server delays only its own mail.
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

    /// <param name="Lot">A credits_expiring alert's lot, with its <paramref name="Credits"/> and <paramref name="Expiry"/>; null for a balance alert.</param>
    sealed record DueAlert(string Tenant, string Id, string Wallet, string Previous, string State, decimal Value, string Currency, int Attempts,
        string Kind = AlertKinds.Balance, string? Lot = null, decimal? Credits = null, DateTimeOffset? Expiry = null);

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
                "tenant_id, id, wallet_id, previous_state, state, available_balance, currency, email_attempts, kind, transaction_id, credits, expiry_date",
                r => new DueAlert(r.Str("tenant_id"), r.Str("id"), r.Str("wallet_id"), r.Str("previous_state"), r.Str("state"), r.Dec("available_balance"),
                    r.Str("currency"), r.NInt("email_attempts") ?? 1, r.Str("kind"), r.NStr("transaction_id"),
                    r.IsDBNull(r.GetOrdinal("credits")) ? null : r.Dec("credits"), r.NTime("expiry_date")));
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

    /// <summary>One alert's mail: the messages to send (to the merchant, to the customer) and everyone they go to.</summary>
    sealed record Mail(DueAlert Alert, List<MimeMessage> Messages, List<string> Recipients);

    async Task MailTenantAsync(string tenantId, List<DueAlert> alerts, LeaseToken lease, CancellationToken ct)
    {
        var mail = await settings.AlertEmailAsync(tenantId);
        if (mail.SmtpHost is null || mail.From is null)
        {
            foreach (var alert in alerts) await MarkAsync(alert, lease, "not_configured", null);
            return;
        }
        // Taken again after its lease ran out more often than it may be tried (a node dying on it each time): given up.
        foreach (var alert in alerts.Where(a => a.Attempts > MaxAttempts))
            await MarkAsync(alert, lease, "failed", $"given up after {MaxAttempts} attempts");
        var trying = alerts.Where(a => a.Attempts <= MaxAttempts).ToList();
        if (trying.Count == 0) return;

        // The wallet's channels as they are now, and its customer's address: who each alert goes to.
        var wallets = await WalletsAsync(tenantId, trying.Select(a => a.Wallet).Distinct().ToList());
        var left = new Queue<Mail>();
        foreach (var alert in trying)
        {
            var (alertSettings, customerEmail) = wallets.GetValueOrDefault(alert.Wallet);
            var messages = new List<MimeMessage>();
            var merchant = NotificationChannels.MerchantRecipients(alertSettings, mail.Enabled, mail.To);
            if (merchant.Count > 0) messages.Add(Message(mail.From, merchant, alert));
            if (NotificationChannels.MailsCustomer(alertSettings) && customerEmail is not null && SmtpPolicy.IsAddress(customerEmail))
                messages.Add(CustomerMessage(mail.From, customerEmail, alert));
            if (messages.Count == 0) await MarkAsync(alert, lease, "not_configured", null);
            else left.Enqueue(new Mail(alert, messages, [.. messages.SelectMany(m => m.To.Mailboxes.Select(b => b.Address))]));
        }
        if (left.Count == 0) return;

        string? error = null;
        using var session = CancellationTokenSource.CreateLinkedTokenSource(ct);
        session.CancelAfter(_sessionTimeout);
        try
        {
            using var smtp = await policy.OpenAsync(mail, _sessionTimeout, session.Token);
            while (left.TryPeek(out var next))
            {
                // A mail is recorded sent once all its messages are; a failure between them sends the merchant's again on the retry.
                foreach (var message in next.Messages) await smtp.Client.SendAsync(message, session.Token);
                await MarkAsync(left.Dequeue().Alert, lease, "sent", null, next.Recipients);
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
        foreach (var m in left) await MarkAsync(m.Alert, lease, m.Alert.Attempts >= MaxAttempts ? "failed" : "pending", error);
    }

    async Task<Dictionary<string, (Wallets.AlertSettings? Settings, string? CustomerEmail)>> WalletsAsync(string tenantId, List<string> walletIds)
    {
        List<string> where = ["w.tenant_id = @t"];
        List<(string, object?)> args = [("t", tenantId)];
        Sql.In(where, args, "w.id", "w", walletIds);
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync(null,
            $"""
            SELECT w.id, w.alert_settings, cu.email FROM wallets w
            LEFT JOIN customers cu ON cu.tenant_id = w.tenant_id AND cu.id = w.customer_id
            WHERE {string.Join(" AND ", where)}
            """,
            r => (Id: r.Str("id"), Settings: r.NStr("alert_settings") is { } json ? Common.Json.Deserialize<Wallets.AlertSettings>(json) : null, Email: r.NStr("email")),
            [.. args]);
        return rows.ToDictionary(r => r.Id, r => (r.Settings, r.Email));
    }

    static MimeMessage Message(string from, IReadOnlyList<string> to, DueAlert alert)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        foreach (var address in to) message.To.Add(MailboxAddress.Parse(address));
        if (alert.Kind == AlertKinds.CreditsExpiring)
        {
            message.Subject = $"Wallet {alert.Wallet}: {alert.Credits} credits expire on {Pages.Html.ExpiresOn(alert.Expiry)}";
            message.Body = new TextPart("plain")
            {
                Text = $"{alert.Credits} credits of wallet {alert.Wallet} (lot {alert.Lot}, worth {Value(alert)}) expire on {Expires(alert)}.\n",
            };
            return message;
        }
        var recovered = alert.State == Ledger.AlertStates.Ok;
        message.Subject = recovered ? $"Wallet {alert.Wallet}: balance recovered" : $"Wallet {alert.Wallet}: balance low ({alert.State})";
        message.Body = new TextPart("plain")
        {
            Text = $"Wallet {alert.Wallet} went from {alert.Previous} to {alert.State}.\nAvailable balance: {Value(alert)}.\n",
        };
        return message;
    }

    /// <summary>The customer's own words: their balance, not the merchant's alert states.</summary>
    static MimeMessage CustomerMessage(string from, string to, DueAlert alert)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse(to));
        if (alert.Kind == AlertKinds.CreditsExpiring)
        {
            message.Subject = "Your credits expire soon";
            message.Body = new TextPart("plain")
            {
                Text = $"{alert.Credits} of your credits (worth {Value(alert)}) expire on {Expires(alert)}. Use them before then.\n",
            };
            return message;
        }
        var recovered = alert.State == Ledger.AlertStates.Ok;
        var balance = Value(alert);
        message.Subject = recovered ? "Your balance is back up" : "Your balance is running low";
        message.Body = new TextPart("plain")
        {
            Text = recovered
                ? $"Your available balance is {balance} again.\n"
                : $"Your available balance is down to {balance}. Add funds to keep your service running.\n",
        };
        return message;
    }

    /// <summary>An alert's value in its currency: the available balance, or the worth of the credits expiring.</summary>
    static string Value(DueAlert alert) => $"{alert.Value} {alert.Currency.ToUpperInvariant()}";

    /// <summary>When an expiry warning's credits expire: the day as the dashboard shows it, and the exact instant.</summary>
    static string Expires(DueAlert alert) => $"{Pages.Html.ExpiresOn(alert.Expiry)} ({Common.Json.Format(alert.Expiry!.Value)})";

    /// <summary>Only while the lease is still this round's: after it ran out the alert may be another node's.</summary>
    async Task MarkAsync(DueAlert alert, LeaseToken lease, string status, string? error, List<string>? recipients = null)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            $"""
            UPDATE alerts SET email_status = @s, email_error = @e, email_recipients = @r, {Leases.Release}
            WHERE tenant_id = @t AND id = @id AND email_status = 'sending' AND {LeaseToken.Held}
            """,
            [("s", status), ("e", error), ("r", recipients is null ? null : Common.Json.Serialize(recipients)), ("t", alert.Tenant), ("id", alert.Id), .. lease.Args]);
        await scope.CommitAsync();
    }
}
