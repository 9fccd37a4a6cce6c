using System.Net.Mail;
using System.Security.Cryptography;
using Coffer.Alerts;
using Coffer.Common;
using Coffer.Dashboard;
using Coffer.Pages;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Mvc;
using MimeKit;

namespace Coffer.Portal;

public sealed record PortalSignInForm
{
    public string? Email { get; init; }
}

/// <summary>
/// Sign-in by e-mail link, for tenants whose <c>portal_config</c> turns it on: the customer enters their address on the
/// tenant's portal page (<c>/portal/sign-in/{tenant_id}</c>) and receives a single-use portal link through the tenant's
/// SMTP settings. The page answers the same whether or not the address belongs to a customer, and every request leaves
/// the same one row for the mailer, so neither the answer nor its time tells who has an account. Requests are limited
/// per client address (the sign-in limit) and per e-mail address (<see cref="MaxPerAddressPerHour"/>).
/// </summary>
public static class PortalSignIn
{
    public const int MaxPerAddressPerHour = 3;
    public static readonly TimeSpan LinkLifetime = PortalSessions.DefaultLifetime;

    public static void MapPortalSignIn(this WebApplication app)
    {
        app.MapGet("/portal/sign-in/{tenant_id}", Show).ExcludeFromDescription();
        app.MapPost("/portal/sign-in/{tenant_id}", Ask).ExcludeFromDescription().RequireRateLimiting(SignInLimits.PerAddressPolicy);
    }

    static async Task<bool> OfferedAsync(string tenantId, TenantStore tenants, TenantSettings settings) =>
        await tenants.GetAsync(tenantId) is not null && (await settings.PortalConfigAsync(tenantId)).EmailSignIn;

    static IResult NotOffered() => Html.Page("Sign-in", "<p>Ask the company that runs your account for a link to this portal.</p>", null, 404);

    static IResult Form(HttpContext http, string tenantId, string? error, int status = 200) => Html.Page("Sign in", $"""
        {(error is null ? "" : $"<p class=\"error\" role=\"alert\">{Html.E(error)}</p>")}
        <form method="post" action="/portal/sign-in/{Html.E(tenantId)}">{Html.Antiforgery(http)}
          <label for="email">Your e-mail address</label>
          <input id="email" name="Email" type="email" autocomplete="email" required>
          <p><button type="submit">Send me a sign-in link</button></p>
        </form>
        """, null, status);

    static async Task<IResult> Show([FromRoute(Name = "tenant_id")] string tenantId, HttpContext http, TenantStore tenants, TenantSettings settings) =>
        await OfferedAsync(tenantId, tenants, settings) ? Form(http, tenantId, null) : NotOffered();

    static async Task<IResult> Ask([FromRoute(Name = "tenant_id")] string tenantId, [FromForm] PortalSignInForm form, HttpContext http, TenantStore tenants,
        TenantSettings settings, Database db, Customers.CustomerStore customers, Ids ids, TimeProvider clock, Hosting.CofferOptions options)
    {
        if (!await OfferedAsync(tenantId, tenants, settings)) return NotOffered();
        var email = (form.Email ?? "").Trim().ToLowerInvariant();
        if (email.Length > Limits.MaxTextLength || !MailAddress.TryCreate(email, out _)) return Form(http, tenantId, "Enter your e-mail address.", 400);
        var now = clock.GetUtcNow();
        var matches = await customers.ByEmailAsync(tenantId, email);
        await using (var scope = await db.BeginWriteAsync())
        {
            var recent = await scope.Connection.ScalarLongAsync(scope.Transaction,
                "SELECT COUNT(*) FROM portal_sign_in_mails WHERE tenant_id = @t AND email = @e AND created_at > @since",
                ("t", tenantId), ("e", email), ("since", now.AddHours(-1)));
            // Beyond the limit nothing more is queued, and the answer stays the same.
            if (recent < MaxPerAddressPerHour)
                foreach (var customer in matches.Cast<Customers.CustomerDto?>().DefaultIfEmpty())
                    await scope.Connection.ExecAsync(scope.Transaction,
                        """
                        INSERT INTO portal_sign_in_mails (tenant_id, id, email, customer_id, base_url, status, created_at)
                        VALUES (@t, @id, @e, @c, @url, @s, @now)
                        """,
                        ("t", tenantId), ("id", ids.New("psm")), ("e", email), ("c", customer?.Id), ("url", PublicUrl.Of(options, http.Request)),
                        ("s", customer is null ? "no_customer" : "pending"), ("now", now));
            await scope.CommitAsync();
        }
        return Html.Page("Check your e-mail",
            "<p role=\"status\">If that address belongs to an account here, a sign-in link is on its way to it. The link works once, for " +
            $"{(int)LinkLifetime.TotalMinutes} minutes.</p>");
    }

    /// <summary>The single-use portal link a sign-in mail carries, made when it is sent.</summary>
    internal static async Task<string> LinkAsync(ServerKeys keys, string baseUrl, string tenantId, string customerId, DateTimeOffset now) =>
        $"{baseUrl}/portal/enter?token={await PortalSessions.SignAsync(keys, tenantId, customerId, now + LinkLifetime,
            PortalSessions.Base64Url(RandomNumberGenerator.GetBytes(16)))}";
}

/// <summary>
/// Mails the sign-in links customers asked for, through each tenant's SMTP server (leased rows, as the alert mailer's:
/// a node that dies mid-send strands nothing; a failure is tried again a few times, then recorded).
/// </summary>
public sealed class PortalSignInMailer(Database db, TenantSettings settings, SmtpPolicy policy, ServerKeys keys, TimeProvider clock,
    Hosting.CofferOptions options, Leases leases, ILogger<PortalSignInMailer> log) : Hosting.PollingWorker
{
    public const int Batch = 50;
    public const int MaxAttempts = 3;
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => options.AlertEmailPoll;
    protected override bool MoreDue(int taken) => false;

    sealed record Due(string Tenant, string Id, string Email, string Customer, string BaseUrl, int Attempts);

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        LeaseToken lease;
        List<Due> due;
        await using (var scope = await db.BeginWriteAsync(ct))
        {
            (lease, due) = await leases.TakeAsync(scope, db.Kind, "portal_sign_in_mails", "status IN ('pending', 'sending')", "created_at", 10, Batch,
                clock.GetUtcNow(), Lease, "status = 'sending', attempts = attempts + 1", "tenant_id, id, email, customer_id, base_url, attempts",
                r => new Due(r.Str("tenant_id"), r.Str("id"), r.Str("email"), r.Str("customer_id"), r.Str("base_url"), r.NInt("attempts") ?? 1));
            await scope.CommitAsync(ct);
        }
        foreach (var tenant in due.GroupBy(d => d.Tenant))
        {
            try { await MailTenantAsync(tenant.Key, [.. tenant], lease, ct); }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Its lease runs out and the mails are taken again.
                log.LogWarning(e, "sign-in mail of tenant {Tenant} could not be recorded", tenant.Key);
            }
        }
        return due.Count;
    }

    async Task MailTenantAsync(string tenantId, List<Due> mails, LeaseToken lease, CancellationToken ct)
    {
        var mail = await settings.AlertEmailAsync(tenantId);
        if (mail.SmtpHost is null || mail.From is null)
        {
            foreach (var m in mails) await MarkAsync(m, lease, "not_configured", "the tenant has no SMTP settings (alert_email)");
            return;
        }
        var left = new Queue<Due>(mails.Where(m => m.Attempts <= MaxAttempts));
        foreach (var m in mails.Where(m => m.Attempts > MaxAttempts)) await MarkAsync(m, lease, "failed", $"given up after {MaxAttempts} attempts");
        if (left.Count == 0) return;
        string? error = null;
        using var session = CancellationTokenSource.CreateLinkedTokenSource(ct);
        session.CancelAfter(options.AlertEmailTimeout);
        try
        {
            using var smtp = await policy.OpenAsync(mail, options.AlertEmailTimeout, session.Token);
            while (left.TryPeek(out var m))
            {
                var message = new MimeMessage();
                message.From.Add(MailboxAddress.Parse(mail.From));
                message.To.Add(MailboxAddress.Parse(m.Email));
                message.Subject = "Your sign-in link";
                message.Body = new TextPart("plain")
                {
                    Text = $"Open this link to see your balance and history. It works once, for {(int)PortalSignIn.LinkLifetime.TotalMinutes} minutes:\n\n" +
                           $"{await PortalSignIn.LinkAsync(keys, m.BaseUrl, tenantId, m.Customer, clock.GetUtcNow())}\n\n" +
                           "If you did not ask for it, ignore this message.\n",
                };
                await smtp.Client.SendAsync(message, session.Token);
                await MarkAsync(left.Dequeue(), lease, "sent", null);
            }
            await smtp.Client.DisconnectAsync(true, session.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            error = e is OperationCanceledException or TimeoutException ? "the SMTP server did not answer in time" : e.Message;
        }
        if (error is null) return;
        log.LogWarning("sign-in mail of tenant {Tenant} failed: {Error}", tenantId, error);
        foreach (var m in left) await MarkAsync(m, lease, m.Attempts >= MaxAttempts ? "failed" : "pending", error);
    }

    /// <summary>Only while the lease is still this round's.</summary>
    async Task MarkAsync(Due m, LeaseToken lease, string status, string? error)
    {
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            $"""
            UPDATE portal_sign_in_mails SET status = @s, error = @e, {Leases.Release}
            WHERE tenant_id = @t AND id = @id AND status = 'sending' AND {LeaseToken.Held}
            """,
            [("s", status), ("e", error), ("t", m.Tenant), ("id", m.Id), .. lease.Args]);
        await scope.CommitAsync();
    }
}
