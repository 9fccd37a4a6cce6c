using Coffer.Alerts;
using Coffer.Common;
using Coffer.Hosting;
using Coffer.Payments.Gateways;
using Coffer.Settings;
using Coffer.Tenants;
using Coffer.Webhooks;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

public sealed record AlertEmailFields
{
    public string? Enabled { get; init; }
    public string? SmtpHost { get; init; }
    public string? SmtpPort { get; init; }
    public string? Security { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public string? ForgetPassword { get; init; }
    public string? From { get; init; }
    public string? To { get; init; }
}

public sealed record InvoiceConfigFields
{
    public string? AutoComplete { get; init; }
    public string? PendingPurchaseTimeoutDays { get; init; }
    public string? DueDateDays { get; init; }
}

public sealed record GatewayFields
{
    public string? Provider { get; init; }
    public string? StripeSecretKey { get; init; }
    public string? StripeWebhookSecret { get; init; }
}

public sealed record PortalConfigFields
{
    public string? AllowAutoTopup { get; init; }
    public string? MaxAutoTopupAmount { get; init; }
    public string? MaxTopupsPerDay { get; init; }
    public string? EmailSignIn { get; init; }
}

public sealed record CreditExpiryWarningFields
{
    public string? DaysBefore { get; init; }
}

/// <summary>A form of the settings screen that was refused: the message, shown in its own section, and what was typed (never a secret).</summary>
sealed record Refused(string Section, string Message, object Typed);

/// <summary>
/// The tenant's settings, one form each: alert e-mail, purchases (<c>invoice_config</c>), the payment gateway, portal
/// limits, warnings before credits expire (<c>credit_expiry_warning</c>), and the webhook endpoints' secrets. Each form
/// goes through the same checks and store as <c>PUT /v1/settings/…</c> (their <c>Parse</c> methods); a secret is never
/// written into the page, only whether it is set.
/// </summary>
public static class SettingsPages
{
    const string AlertSection = "alert-email";
    const string InvoiceSection = "invoice-config";
    const string GatewaySection = "payment-gateway";
    const string PortalSection = "portal-config";
    const string ExpirySection = "credit-expiry-warning";

    public static void MapSettingsPages(this RouteGroupBuilder g)
    {
        g.MapGet("/settings", Show);
        g.MapPost($"/settings/{AlertSection}", SaveAlertEmail);
        g.MapPost($"/settings/{InvoiceSection}", SaveInvoiceConfig);
        g.MapPost($"/settings/{GatewaySection}", SaveGateway);
        g.MapPost($"/settings/{PortalSection}", SavePortalConfig);
        g.MapPost($"/settings/{ExpirySection}", SaveCreditExpiryWarning);
        g.MapPost("/settings/webhooks/{id}/rotate-secret", Rotate);
    }

    static Task<IResult> Show(HttpContext http, string? done) =>
        RenderAsync(http, done switch
        {
            AlertSection => "Alert e-mail settings saved.",
            InvoiceSection => "Purchase settings saved.",
            GatewaySection => "Payment gateway saved.",
            PortalSection => "Portal limits saved.",
            ExpirySection => "Expiry warnings saved.",
            _ => null,
        }, "", null, 200);

    static IResult Saved(string section) => Results.Redirect($"/dashboard/settings?done={section}#{section}");

    static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    /// <summary>Problems of the typed numbers first; only numbers that parsed are worth the setting's own checks.</summary>
    static string Problems(FormErrors errors, Validator v) => errors.Any ? errors.Message : v.Error().Message;

    static async Task<IResult> RenderAsync(HttpContext http, string? notice, string secretHtml, Refused? refused, int status)
    {
        var tenant = await TenantAsync(http);
        var settings = http.RequestServices.GetRequiredService<TenantSettings>();
        string ErrorOf(string section) => refused?.Section == section ? Alert($"Not saved: {refused.Message}") : "";
        T TypedOr<T>(T stored) where T : class => refused?.Typed as T ?? stored;

        var mail = await settings.AlertEmailAsync(tenant.Id);
        var m = TypedOr(new AlertEmailFields
        {
            Enabled = mail.Enabled ? "true" : null, SmtpHost = mail.SmtpHost, SmtpPort = Field(mail.SmtpPort), Security = mail.Security,
            Username = mail.Username, From = mail.From, To = string.Join("\n", mail.To ?? []),
        });
        var invoice = await settings.InvoiceConfigAsync(tenant.Id);
        var i = TypedOr(new InvoiceConfigFields
        {
            AutoComplete = invoice.AutoCompletePurchasedCreditTransaction ? "true" : null,
            PendingPurchaseTimeoutDays = Field(invoice.PendingPurchaseTimeoutDays), DueDateDays = Field(invoice.DueDateDays),
        });
        var gateway = await settings.GatewayConfigAsync(tenant.Id);
        var gw = TypedOr(new GatewayFields { Provider = gateway.Provider });
        var providers = http.RequestServices.GetRequiredService<GatewayRegistry>().Providers;
        var portal = await settings.PortalConfigAsync(tenant.Id);
        var p = TypedOr(new PortalConfigFields
        {
            AllowAutoTopup = portal.AllowAutoTopup ? "true" : null, MaxAutoTopupAmount = Field(portal.MaxAutoTopupAmount), MaxTopupsPerDay = Field(portal.MaxTopupsPerDay),
            EmailSignIn = portal.EmailSignIn ? "true" : null,
        });
        var expiry = TypedOr(new CreditExpiryWarningFields { DaysBefore = Field((await settings.CreditExpiryWarningAsync(tenant.Id)).DaysBefore) });
        var endpoints = (await http.RequestServices.GetRequiredService<WebhookStore>().EndpointsAsync(tenant.Id)).Select(e => EndpointDto.From(e)).ToList();

        static string IsSet(bool set) => set ? "<strong>set</strong>" : "not set";
        var securities = string.Join("", AlertEmailSettingsApi.Securities.Order().Select(s => $"<option value=\"{E(s)}\"{Selected(m.Security == s)}>{E(s)}</option>"));
        var providerOptions = string.Join("", providers.Select(x => $"<option value=\"{E(x)}\"{Selected(gw.Provider == x)}>{E(x)}</option>"));
        var endpointRows = string.Join("", endpoints.Select(e => $"""
            <tr><td><code class="url">{E(e.Url)}</code></td><td>{Status(e.Enabled ? "enabled" : "disabled")}</td>
            <td><form class="inline" method="post" action="/dashboard/settings/webhooks/{U(e.Id)}/rotate-secret">{Antiforgery(http)}
              <button type="submit" class="secondary" aria-label="Rotate secret of {E(e.Url)}">Rotate secret</button></form></td></tr>
            """));
        var liveKeys = tenant.Mode == Modes.Live ? "live keys (<code>sk_live_…</code>)" : "test keys (<code>sk_test_…</code>)";

        return Page("Settings", $"""
            {Notice(notice)}{secretHtml}
            <div class="panels">
            <section class="panel" id="{AlertSection}" aria-labelledby="alert-email-h"><h2 id="alert-email-h">Low-balance alert e-mail</h2>
            <p class="hint">Alerts of a wallet's balance going low, and recovering, are mailed through your own SMTP server.</p>
            {ErrorOf(AlertSection)}
            <form method="post" action="/dashboard/settings/{AlertSection}">{Antiforgery(http)}
              <label class="choice"><input type="checkbox" name="Enabled" value="true"{CheckedAttr(Checked(m.Enabled))}> Send alert e-mails</label>
              <label for="ae-host">SMTP host</label><input id="ae-host" name="SmtpHost" maxlength="{SmtpPolicy.MaxHostLength}" value="{E(m.SmtpHost)}">
              <label for="ae-port">SMTP port</label><input id="ae-port" name="SmtpPort" inputmode="numeric" value="{E(m.SmtpPort)}">
              <label for="ae-security">Security</label><select id="ae-security" name="Security">{securities}</select>
              <label for="ae-username">SMTP username</label><input id="ae-username" name="Username" autocomplete="off" value="{E(m.Username)}">
              <label for="ae-password">SMTP password</label>
              <input id="ae-password" name="Password" type="password" autocomplete="new-password" aria-describedby="ae-password-hint">
              <p class="hint" id="ae-password-hint">Stored password: {IsSet(mail.Password is not null)}. Leave blank to keep it.</p>
              <label class="choice"><input type="checkbox" name="ForgetPassword" value="true"> Remove the stored SMTP password</label>
              <label for="ae-from">From</label><input id="ae-from" name="From" inputmode="email" value="{E(m.From)}">
              <label for="ae-to">To</label><textarea id="ae-to" name="To" rows="3" style="width:100%;max-width:24rem;font:inherit" aria-describedby="ae-to-hint">{E(m.To)}</textarea>
              <p class="hint" id="ae-to-hint">One address a line (or separated by commas), at most {AlertEmailSettingsApi.MaxRecipients}.</p>
              <div class="actions"><button type="submit">Save alert e-mail</button></div>
            </form></section>

            <section class="panel" id="{InvoiceSection}" aria-labelledby="invoice-config-h"><h2 id="invoice-config-h">Purchases</h2>
            {ErrorOf(InvoiceSection)}
            <form method="post" action="/dashboard/settings/{InvoiceSection}">{Antiforgery(http)}
              <label class="choice"><input type="checkbox" name="AutoComplete" value="true"{CheckedAttr(Checked(i.AutoComplete))}> Auto-complete purchases</label>
              <p class="hint">On: purchased credits are granted at once and their invoice is marked paid. Off: they wait for the invoice's payment.</p>
              <label for="ic-timeout">Pending purchase timeout (days)</label>
              <input id="ic-timeout" name="PendingPurchaseTimeoutDays" inputmode="numeric" value="{E(i.PendingPurchaseTimeoutDays)}" aria-describedby="ic-timeout-hint">
              <p class="hint" id="ic-timeout-hint">An unpaid purchase fails after this many days (1 to {InvoiceConfig.MaxTimeoutDays}).</p>
              <label for="ic-due">Invoice due date (days)</label>
              <input id="ic-due" name="DueDateDays" inputmode="numeric" value="{E(i.DueDateDays)}">
              <div class="actions"><button type="submit">Save purchases</button></div>
            </form></section>

            <section class="panel" id="{GatewaySection}" aria-labelledby="payment-gateway-h"><h2 id="payment-gateway-h">Payment gateway</h2>
            <p class="hint">This tenant is in {E(tenant.Mode)} mode: {(tenant.Mode == Modes.Live ? "the sandbox takes no money here" : "the sandbox takes its test cards")}, and Stripe takes {liveKeys} only.</p>
            {ErrorOf(GatewaySection)}
            <form method="post" action="/dashboard/settings/{GatewaySection}">{Antiforgery(http)}
              <label for="pg-provider">Gateway</label><select id="pg-provider" name="Provider">{providerOptions}</select>
              <label for="pg-secret">Stripe secret key</label>
              <input id="pg-secret" name="StripeSecretKey" type="password" autocomplete="off" aria-describedby="pg-secret-hint">
              <p class="hint" id="pg-secret-hint">Stored key: {IsSet(gateway.StripeSecretKey is not null)}.</p>
              <label for="pg-webhook">Stripe webhook secret</label>
              <input id="pg-webhook" name="StripeWebhookSecret" type="password" autocomplete="off" aria-describedby="pg-webhook-hint">
              <p class="hint" id="pg-webhook-hint">Stored secret: {IsSet(gateway.StripeWebhookSecret is not null)}. With Stripe, a blank field keeps what is stored; choosing the sandbox removes both.</p>
              <div class="actions"><button type="submit">Save gateway</button></div>
            </form></section>

            <section class="panel" id="{PortalSection}" aria-labelledby="portal-config-h"><h2 id="portal-config-h">Portal limits</h2>
            <p class="hint">What your customers may set themselves in the customer portal.</p>
            {ErrorOf(PortalSection)}
            <form method="post" action="/dashboard/settings/{PortalSection}">{Antiforgery(http)}
              <label class="choice"><input type="checkbox" name="AllowAutoTopup" value="true"{CheckedAttr(Checked(p.AllowAutoTopup))}> Allow automatic top-up</label>
              <label class="choice"><input type="checkbox" name="EmailSignIn" value="true"{CheckedAttr(Checked(p.EmailSignIn))}> Customers may sign in by e-mail link (at /portal/sign-in/{E(tenant.Id)})</label>
              <label for="pc-amount">Max automatic top-up (credits)</label>
              <input id="pc-amount" name="MaxAutoTopupAmount" inputmode="decimal" value="{E(p.MaxAutoTopupAmount)}" aria-describedby="pc-hint">
              <label for="pc-per-day">Max top-ups per day</label>
              <input id="pc-per-day" name="MaxTopupsPerDay" inputmode="numeric" value="{E(p.MaxTopupsPerDay)}" aria-describedby="pc-hint">
              <p class="hint" id="pc-hint">Blank: no limit of the portal's own.</p>
              <div class="actions"><button type="submit">Save portal limits</button></div>
            </form></section>

            <section class="panel" id="{ExpirySection}" aria-labelledby="credit-expiry-warning-h"><h2 id="credit-expiry-warning-h">Expiry warnings</h2>
            <p class="hint">Each lot of credits is warned of once before it expires (event <code>wallet.credits_expiring</code>), through the wallet's alert channels.</p>
            {ErrorOf(ExpirySection)}
            <form method="post" action="/dashboard/settings/{ExpirySection}">{Antiforgery(http)}
              <label for="ew-days">Warn days before expiry</label>
              <input id="ew-days" name="DaysBefore" inputmode="numeric" value="{E(expiry.DaysBefore)}" aria-describedby="ew-hint">
              <p class="hint" id="ew-hint">1 to {CreditExpiryWarning.MaxDaysBefore}; blank or 0: no warnings.</p>
              <div class="actions"><button type="submit">Save expiry warnings</button></div>
            </form></section>
            </div>

            <section id="webhook-secrets" aria-labelledby="webhook-secrets-h"><h2 id="webhook-secrets-h">Webhook signing secrets</h2>
            <p class="hint">A rotated endpoint signs with both secrets for 24 hours. Endpoints are added, enabled and disabled on <a href="/dashboard/webhooks">Webhooks</a>.</p>
            <div class="table-wrap"><table><thead><tr><th scope="col">URL</th><th scope="col">Status</th><th scope="col">Secret</th></tr></thead>
            <tbody>{(endpointRows.Length == 0 ? "<tr><td colspan=\"3\" class=\"muted\">No endpoints yet.</td></tr>" : endpointRows)}</tbody></table></div>
            </section>
            """, DashboardPages.Nav(http.User, http), status);
    }

    static async Task<IResult> SaveAlertEmail([FromForm] AlertEmailFields form, HttpContext http, TenantSettings settings, SmtpPolicy smtp)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var port = errors.Int("SMTP port", form.SmtpPort);
        var current = await settings.AlertEmailAsync(tenant.Id);
        // The page never shows the stored password, so a blank field keeps it rather than removing it.
        var password = Checked(form.ForgetPassword) ? null : string.IsNullOrEmpty(form.Password) ? current.Password : form.Password;
        var to = (form.To ?? "").Split(['\n', '\r', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var v = new Validator();
        var config = AlertEmailSettingsApi.Parse(v, new AlertEmailValue(Checked(form.Enabled), Blank(form.SmtpHost), port, Blank(form.Security), Blank(form.Username),
            password, Blank(form.From), to), smtp);
        if (errors.Any || !v.Ok)
            return await RenderAsync(http, null, "", new Refused(AlertSection, Problems(errors, v), form with { Password = null }), 400);
        await settings.SaveAlertEmailAsync(tenant.Id, config);
        return Saved(AlertSection);
    }

    static async Task<IResult> SaveInvoiceConfig([FromForm] InvoiceConfigFields form, HttpContext http, TenantSettings settings)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var value = new InvoiceConfigValue(Checked(form.AutoComplete), errors.Int("Pending purchase timeout", form.PendingPurchaseTimeoutDays),
            errors.Int("Invoice due date", form.DueDateDays));
        var v = new Validator();
        var config = SettingsApi.Parse(v, value, await settings.InvoiceConfigAsync(tenant.Id));
        if (errors.Any || !v.Ok) return await RenderAsync(http, null, "", new Refused(InvoiceSection, Problems(errors, v), form), 400);
        await settings.SaveInvoiceConfigAsync(tenant.Id, config);
        return Saved(InvoiceSection);
    }

    static async Task<IResult> SaveGateway([FromForm] GatewayFields form, HttpContext http, TenantSettings settings, GatewayRegistry gateways, CofferOptions options)
    {
        var tenant = await TenantAsync(http);
        var provider = Blank(form.Provider);
        var current = await settings.GatewayConfigAsync(tenant.Id);
        // The stored secrets are never shown, so with Stripe a blank field keeps them; the sandbox needs none and drops them.
        var keep = provider == StripeGateway.GatewayName && current.Provider == provider;
        var value = new GatewayConfigValue(provider, Blank(form.StripeSecretKey) ?? (keep ? current.StripeSecretKey : null),
            Blank(form.StripeWebhookSecret) ?? (keep ? current.StripeWebhookSecret : null), keep ? current.StripeApiBase : null);
        var v = new Validator();
        var typed = form with { StripeSecretKey = null, StripeWebhookSecret = null };
        if (GatewaySettingsApi.Parse(v, value, gateways, options) is not { } config)
            return await RenderAsync(http, null, "", new Refused(GatewaySection, v.Error().Message, typed), 400);
        if (await gateways.ConfigureAsync(tenant.Id, config) is { } why)
            return await RenderAsync(http, null, "", new Refused(GatewaySection, why, typed), 422);
        return Saved(GatewaySection);
    }

    static async Task<IResult> SavePortalConfig([FromForm] PortalConfigFields form, HttpContext http, TenantSettings settings)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var value = new PortalConfigValue(Checked(form.AllowAutoTopup), errors.Decimal("Max automatic top-up", form.MaxAutoTopupAmount),
            errors.Int("Max top-ups per day", form.MaxTopupsPerDay), Checked(form.EmailSignIn));
        var v = new Validator();
        var config = PortalConfigSettingsApi.Parse(v, value);
        if (errors.Any || !v.Ok) return await RenderAsync(http, null, "", new Refused(PortalSection, Problems(errors, v), form), 400);
        await settings.SavePortalConfigAsync(tenant.Id, config);
        return Saved(PortalSection);
    }

    static async Task<IResult> SaveCreditExpiryWarning([FromForm] CreditExpiryWarningFields form, HttpContext http, TenantSettings settings)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var value = new CreditExpiryWarning(errors.Int("Warn days before expiry", form.DaysBefore));
        var v = new Validator();
        var warning = CreditExpiryWarningSettingsApi.Parse(v, value);
        if (errors.Any || !v.Ok) return await RenderAsync(http, null, "", new Refused(ExpirySection, Problems(errors, v), form), 400);
        await settings.SaveCreditExpiryWarningAsync(tenant.Id, warning);
        return Saved(ExpirySection);
    }

    static async Task<IResult> Rotate(string id, [FromForm] ActionFields form, HttpContext http, WebhookEndpoints endpoints) =>
        await endpoints.RotateAsync((await TenantAsync(http)).Id, id) switch
        {
            // Rendered, not redirected: the new secret exists in this response only.
            EndpointOutcome.Done d => await RenderAsync(http, null, WebhookPages.RotatedOnce(http, d.Endpoint), null, 200),
            _ => NotFoundPage(http, "webhook endpoint"),
        };
}
