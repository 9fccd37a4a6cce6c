using Coffer.Settings;
using Coffer.Storage;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Coffer.Alerts;

/// <summary>
/// Mails each alert to the tenant's recipients through the tenant's SMTP server (MailKit), when the tenant has
/// alert email on. Alerts are taken with <c>FOR UPDATE SKIP LOCKED</c> on PostgreSQL so that two nodes never
/// mail the same one; a failure is retried a few times, then recorded.
/// </summary>
public sealed class AlertMailer(Database db, TenantSettings settings, TimeProvider clock, IConfiguration config, ILogger<AlertMailer> log) : BackgroundService
{
    public const int Batch = 50;
    public const int MaxAttempts = 3;
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(15);

    public async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var skipLocked = db.Kind == DbKind.Postgres ? " FOR UPDATE SKIP LOCKED" : "";
        List<(string Tenant, string Id, string Wallet, string Previous, string State, decimal Value, string Currency, int Attempts)> due;
        await using (var scope = await db.BeginWriteAsync(ct))
        {
            due = await scope.Connection.QueryAsync(scope.Transaction,
                $"""
                UPDATE alerts SET email_status = 'sending', email_attempts = email_attempts + 1
                WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM alerts WHERE email_status = 'pending' ORDER BY created_at LIMIT @n{skipLocked})
                RETURNING tenant_id, id, wallet_id, previous_state, state, available_balance, currency, email_attempts
                """,
                r => (r.Str("tenant_id"), r.Str("id"), r.Str("wallet_id"), r.Str("previous_state"), r.Str("state"), r.Dec("available_balance"),
                    r.Str("currency"), r.NInt("email_attempts") ?? 1),
                ("n", Batch));
            await scope.CommitAsync(ct);
        }
        foreach (var tenant in due.GroupBy(d => d.Tenant))
        {
            var mail = await settings.AlertEmailAsync(tenant.Key);
            foreach (var alert in tenant)
            {
                if (!mail.Enabled || mail.SmtpHost is null || mail.From is null || mail.To is not { Count: > 0 })
                {
                    await MarkAsync(alert.Tenant, alert.Id, "not_configured", null);
                    continue;
                }
                try
                {
                    await SendAsync(mail, alert.Wallet, alert.Previous, alert.State, alert.Value, alert.Currency, ct);
                    await MarkAsync(alert.Tenant, alert.Id, "sent", null);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    log.LogWarning(e, "alert email {Alert} failed (attempt {Attempt})", alert.Id, alert.Attempts);
                    await MarkAsync(alert.Tenant, alert.Id, alert.Attempts >= MaxAttempts ? "failed" : "pending", e.Message);
                }
            }
        }
        return due.Count;
    }

    static async Task SendAsync(AlertEmailConfig mail, string wallet, string previous, string state, decimal value, string currency, CancellationToken ct)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(mail.From!));
        foreach (var to in mail.To!) message.To.Add(MailboxAddress.Parse(to));
        var recovered = state == Ledger.AlertStates.Ok;
        message.Subject = recovered ? $"Wallet {wallet}: balance recovered" : $"Wallet {wallet}: balance low ({state})";
        message.Body = new TextPart("plain")
        {
            Text = $"Wallet {wallet} went from {previous} to {state}.\nAvailable balance: {value} {currency.ToUpperInvariant()}.\n",
        };
        using var smtp = new SmtpClient { Timeout = (int)SendTimeout.TotalMilliseconds };
        var security = mail.Security switch
        {
            "ssl" => SecureSocketOptions.SslOnConnect,
            "none" => SecureSocketOptions.None,
            _ => SecureSocketOptions.StartTls,
        };
        await smtp.ConnectAsync(mail.SmtpHost!, mail.SmtpPort, security, ct);
        if (mail.Username is not null) await smtp.AuthenticateAsync(mail.Username, mail.Password ?? "", ct);
        await smtp.SendAsync(message, ct);
        await smtp.DisconnectAsync(true, ct);
    }

    async Task MarkAsync(string tenantId, string id, string status, string? error)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction, "UPDATE alerts SET email_status = @s, email_error = @e WHERE tenant_id = @t AND id = @id",
            ("s", status), ("e", error), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(int.TryParse(config["COFFER_ALERT_EMAIL_POLL_MS"], out var ms) ? Math.Clamp(ms, 50, 60_000) : 5000);
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RunOnceAsync(stoppingToken); }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested) { log.LogWarning(e, "alert email round failed"); }
            try { await Task.Delay(interval, clock, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }
}
