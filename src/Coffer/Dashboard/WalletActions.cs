using System.Security.Claims;
using Coffer.Alerts;
using Coffer.Common;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Settings;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

public sealed record TopUpFields
{
    public string? CreditType { get; init; }
    public string? Credits { get; init; }
    public string? ExpiryDate { get; init; }
    public string? Priority { get; init; }
    public string? GenerateInvoice { get; init; }
    public string? Description { get; init; }
    public string? IdempotencyKey { get; init; }
}

public sealed record DebitFields
{
    public string? Credits { get; init; }
    public string? Reason { get; init; }
    public string? Description { get; init; }
    public string? IdempotencyKey { get; init; }
}

public sealed record AdjustFields
{
    public string? Direction { get; init; }
    public string? Credits { get; init; }
    public string? Reason { get; init; }
    public string? IdempotencyKey { get; init; }
}

public sealed record ConfirmFields
{
    public string? Confirm { get; init; }
}

/// <summary>A form whose only field is the antiforgery token; binding it is what makes the token checked.</summary>
public sealed record ActionFields
{
    public string? Note { get; init; }
}

public sealed record AutoTopUpFields
{
    public string? Enabled { get; init; }
    public string? Threshold { get; init; }
    public string? Amount { get; init; }
    public string? Invoicing { get; init; }
    public string? MaxTopupsPerDay { get; init; }
    public string? MaxAmountPerDay { get; init; }
    public string? MaxAmountPerMonth { get; init; }
    public string? CooldownSeconds { get; init; }
    public string? IdempotencyKey { get; init; }
}

public sealed record AlertFields
{
    public string? Enabled { get; init; }
    public string? CriticalThreshold { get; init; }
    public string? CriticalCondition { get; init; }
    public string? WarningThreshold { get; init; }
    public string? WarningCondition { get; init; }
    public string? InfoThreshold { get; init; }
    public string? InfoCondition { get; init; }
    /// <summary>"own" when the wallet chooses its channels below, else the tenant's default.</summary>
    public string? Channels { get; init; }
    public string? Webhook { get; init; }
    public string? MerchantEmail { get; init; }
    public string? CustomerEmail { get; init; }
    public string? MerchantEmails { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>
/// The wallet's forms and what their posts do: each one calls the wallet API's handler for the operator's
/// tenant and shows its answer. A refusal (insufficient balance, a wallet not active, a bad value) comes back
/// as a message on the page.
/// </summary>
public static class WalletActions
{
    public const string Free = "free";
    public const string Purchased = "purchased";

    static readonly TransactionFilterQuery NoFilter = new(null, null, null, null, null, null);

    public static void MapWalletActions(this RouteGroupBuilder g)
    {
        g.MapGet("/wallets/{id}/top-up", TopUpPage);
        g.MapPost("/wallets/{id}/top-up", TopUp);
        g.MapPost("/wallets/{id}/debit", Debit);
        g.MapGet("/wallets/{id}/adjust", AdjustPage);
        g.MapPost("/wallets/{id}/adjust", Adjust);
        g.MapPost("/wallets/{id}/freeze", Freeze);
        g.MapPost("/wallets/{id}/unfreeze", Unfreeze);
        g.MapGet("/wallets/{id}/terminate", TerminatePage);
        g.MapPost("/wallets/{id}/terminate", Terminate);
        g.MapPost("/wallets/{id}/auto-top-up", SaveAutoTopUp);
        g.MapPost("/wallets/{id}/alerts", SaveAlerts);
    }

    static IResult Back(string id, string done, string extra = "") =>
        Results.Redirect($"/dashboard/wallets/{Uri.EscapeDataString(id)}?done={done}{extra}");

    static Task<IResult> Refused(HttpContext http, string id, string what, string error, int status, DebitFields? debit = null) =>
        WalletPage.RenderAsync(http, id, NoFilter, null, "", $"{what}: {error}", status, debit);

    // ---- Top-up ----

    /// <summary>A dialog's form closes the dialog; the same form on its own page goes back to the wallet.</summary>
    static string Cancel(WalletDto w, bool inDialog) => inDialog
        ? """<button type="button" class="secondary" data-close>Cancel</button>"""
        : $"""<a href="/dashboard/wallets/{U(w.Id)}">Cancel</a>""";

    public static string TopUpForm(HttpContext http, WalletDto w, TopUpFields? f, string p, bool inDialog)
    {
        var purchased = f?.CreditType == Purchased;
        var cur = w.Currency.ToUpperInvariant();
        var cancel = Cancel(w, inDialog);
        return $"""
            <form method="post" action="/dashboard/wallets/{U(w.Id)}/top-up">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(f?.IdempotencyKey ?? NewKey())}">
              <fieldset class="group"><legend>Credit type</legend>
                <label class="choice"><input type="radio" name="CreditType" value="{Free}"{CheckedAttr(!purchased)}> Free</label>
                <label class="choice"><input type="radio" name="CreditType" value="{Purchased}"{CheckedAttr(purchased)}> Purchased</label>
              </fieldset>
              <label for="{p}-credits">Amount (credits)</label>
              <input id="{p}-credits" name="Credits" type="number" step="any" inputmode="decimal" required value="{E(f?.Credits)}" aria-describedby="{p}-credits-hint">
              <p class="hint" id="{p}-credits-hint">Bought at 1 credit = {Credits(w.TopupConversionRate)} {E(cur)}.</p>
              <label for="{p}-expiry">Expiry date (optional)</label>
              <input id="{p}-expiry" name="ExpiryDate" type="date" value="{E(f?.ExpiryDate)}" aria-describedby="{p}-expiry-hint">
              <p class="hint" id="{p}-expiry-hint">The credits can be spent through the end of this day (UTC). Empty: they never expire.</p>
              <label for="{p}-priority">Priority (optional)</label>
              <input id="{p}-priority" name="Priority" type="number" min="0" step="1" inputmode="numeric" value="{E(f?.Priority)}" aria-describedby="{p}-priority-hint">
              <p class="hint" id="{p}-priority-hint">Lower numbers are spent first. Empty: spent after every prioritised lot.</p>
              <label class="choice"><input type="checkbox" name="GenerateInvoice" value="true" aria-describedby="{p}-invoice-hint"{CheckedAttr(Checked(f?.GenerateInvoice))}> Generate Invoice</label>
              <p class="hint" id="{p}-invoice-hint">Purchased credits only: an invoice is created and the credits stay pending until it is paid.</p>
              <label for="{p}-description">Description (optional)</label>
              <input id="{p}-description" name="Description" maxlength="1000" value="{E(f?.Description)}">
              <div class="actions"><button type="submit">Add credits</button>{cancel}</div>
            </form>
            """;
    }

    static async Task<IResult> TopUpPage(string id, HttpContext http, WalletReads reads) =>
        await RenderTopUpPage(http, id, reads, null, null, 200);

    static Task<IResult> RenderTopUpPage(HttpContext http, string id, WalletReads reads, TopUpFields? f, string? error, int status) =>
        RenderFormPage(http, id, reads, "Top-up Wallet", w => TopUpForm(http, w, f, "pg", inDialog: false), error, status);

    /// <summary>A wallet form on a page of its own: where it opens without script, and where a refusal shows what was typed.</summary>
    static async Task<IResult> RenderFormPage(HttpContext http, string id, WalletReads reads, string title, Func<WalletDto, string> form, string? error, int status)
    {
        var tenant = await TenantAsync(http);
        var w = await reads.BalanceAsync(tenant.Id, id);
        if (w is null) return NotFoundPage(http, "wallet");
        return Page(title, $"""
            <p><a href="/dashboard/wallets/{U(id)}">← {E(w.Name)}</a> · balance {Credits(w.RealTimeCreditBalance)} credits</p>
            {Alert(error)}
            <div class="panel">{form(w)}</div>
            """, DashboardPages.Nav(http.User, http), status);
    }

    static async Task<IResult> TopUp(string id, [FromForm] TopUpFields form, HttpContext http, WalletReads reads, WalletMoves moves, TimeProvider clock)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var credits = errors.Decimal("Amount", form.Credits, required: true);
        var priority = errors.Int("Priority", form.Priority);
        var expiry = Day(errors, "Expiry date", form.ExpiryDate, endOfDay: true);
        if (form.CreditType is not (Free or Purchased)) errors.Fail("Choose free or purchased credits.");
        var invoice = Checked(form.GenerateInvoice);
        if (invoice && form.CreditType == Free) errors.Fail("Generate Invoice is for purchased credits only.");
        if (errors.Any) return await RenderTopUpPage(http, id, reads, form, errors.Message, 400);

        var reason = form.CreditType == Free ? Reasons.FreeCreditGrant : invoice ? Reasons.PurchasedCreditInvoiced : Reasons.PurchasedCreditDirect;
        var request = new TopUpRequest
        {
            CreditsToAdd = credits, TransactionReason = reason, ExpiryDateUtc = expiry, Priority = priority,
            Description = string.IsNullOrWhiteSpace(form.Description) ? null : form.Description, IdempotencyKey = form.IdempotencyKey,
        };
        var v = new Validator();
        var result = WalletOrders.TopUp(v, id, request, null, clock.GetUtcNow()) is { } order
            ? Shown(await moves.TopUpAsync(tenant.Id, id, order))
            : Invalid<WalletChangeResponse>(v);
        if (result.NotFound) return NotFoundPage(http, "wallet");
        if (result.Error is { } error) return await RenderTopUpPage(http, id, reads, form, $"The top-up was refused: {error}", result.Status);
        if (result.Replayed) return Back(id, "replayed");
        return result.Value?.InvoiceId is { } invoiceId
            ? Back(id, "invoiced", $"&invoice={Uri.EscapeDataString(invoiceId)}")
            : Back(id, "topup");
    }

    // ---- Debit ----

    public static string DebitForm(HttpContext http, WalletDto w, DebitFields? f)
    {
        var reasons = string.Join("", Reasons.ApiDebit.Order(StringComparer.Ordinal)
            .Select(r => $"<option value=\"{E(r)}\"{Selected(r == (f?.Reason ?? Reasons.ManualBalanceDebit))}>{E(WalletTransactions.Label(r))}</option>"));
        return $"""
            <form method="post" action="/dashboard/wallets/{U(w.Id)}/debit">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(f?.IdempotencyKey ?? NewKey())}">
              <label for="debit-credits">Debit amount (credits)</label>
              <input id="debit-credits" name="Credits" type="number" step="any" inputmode="decimal" required value="{E(f?.Credits)}">
              <label for="debit-reason">Reason</label><select id="debit-reason" name="Reason">{reasons}</select>
              <label for="debit-description">Description (optional)</label>
              <input id="debit-description" name="Description" maxlength="1000" value="{E(f?.Description)}">
              <div class="actions"><button type="submit">Debit</button></div>
            </form>
            """;
    }

    static async Task<IResult> Debit(string id, [FromForm] DebitFields form, HttpContext http, WalletMoves moves)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var credits = errors.Decimal("Debit amount", form.Credits, required: true);
        if (errors.Any) return await Refused(http, id, "The debit was not recorded", errors.Message, 400, form);
        var request = new DebitRequest
        {
            Credits = credits, TransactionReason = form.Reason, IdempotencyKey = string.IsNullOrEmpty(form.IdempotencyKey) ? NewKey() : form.IdempotencyKey,
            Description = string.IsNullOrWhiteSpace(form.Description) ? null : form.Description,
        };
        var v = new Validator();
        var result = WalletOrders.Debit(v, id, request, null) is { } order
            ? Shown(await moves.DebitAsync(tenant.Id, id, order))
            : Invalid<WalletChangeResponse>(v);
        if (result.NotFound) return NotFoundPage(http, "wallet");
        if (result.Error is { } error) return await Refused(http, id, "The debit was refused", error, result.Status, form);
        return Back(id, result.Replayed ? "replayed" : "debited");
    }

    // ---- Manual adjustment ----

    public static string AdjustForm(HttpContext http, WalletDto w, AdjustFields? f, string p, bool inDialog)
    {
        var debit = f?.Direction == AdjustmentDirections.Debit;
        var cancel = Cancel(w, inDialog);
        return $"""
            <form method="post" action="/dashboard/wallets/{U(w.Id)}/adjust">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(f?.IdempotencyKey ?? NewKey())}">
              <fieldset class="group"><legend>Direction</legend>
                <label class="choice"><input type="radio" name="Direction" value="{AdjustmentDirections.Credit}"{CheckedAttr(!debit)}> Add credits</label>
                <label class="choice"><input type="radio" name="Direction" value="{AdjustmentDirections.Debit}"{CheckedAttr(debit)}> Remove credits</label>
              </fieldset>
              <label for="{p}-credits">Credits</label>
              <input id="{p}-credits" name="Credits" type="number" step="any" min="0" inputmode="decimal" required value="{E(f?.Credits)}">
              <label for="{p}-reason">Reason</label>
              <textarea id="{p}-reason" name="Reason" rows="3" style="width:100%;max-width:24rem;font:inherit" required maxlength="{WalletAdjustments.MaxReasonLength}" aria-describedby="{p}-reason-hint">{E(f?.Reason)}</textarea>
              <p class="hint" id="{p}-reason-hint">Recorded on the transaction with your e-mail. A removal spends lots in the usual order and cannot overdraw the wallet beyond its overdraft limit.</p>
              <div class="actions"><button type="submit">Adjust balance</button>{cancel}</div>
            </form>
            """;
    }

    static Task<IResult> AdjustPage(string id, HttpContext http, WalletReads reads) => RenderAdjustPage(http, id, reads, null, null, 200);

    static Task<IResult> RenderAdjustPage(HttpContext http, string id, WalletReads reads, AdjustFields? f, string? error, int status) =>
        RenderFormPage(http, id, reads, "Adjust balance", w => AdjustForm(http, w, f, "pg", inDialog: false), error, status);

    static async Task<IResult> Adjust(string id, [FromForm] AdjustFields form, HttpContext http, WalletReads reads, WalletAdjustments adjustments,
        TimeProvider clock)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        var credits = errors.Decimal("Credits", form.Credits, required: true);
        if (errors.Any) return await RenderAdjustPage(http, id, reads, form, errors.Message, 400);
        var request = new AdjustmentRequest { Direction = form.Direction, Credits = credits, Reason = form.Reason, IdempotencyKey = FormKey(form.IdempotencyKey) ?? NewKey() };
        var actor = Actor.Operator(http.User.FindFirstValue(ClaimTypes.NameIdentifier)!, http.User.FindFirstValue(ClaimTypes.Name)!);
        var v = new Validator();
        var result = WalletAdjustments.Order(v, id, request, null, actor, clock.GetUtcNow()) is { } order
            ? Shown(await adjustments.AdjustAsync(tenant.Id, id, order))
            : Invalid<WalletChangeResponse>(v);
        if (result.NotFound) return NotFoundPage(http, "wallet");
        if (result.Error is { } error) return await RenderAdjustPage(http, id, reads, form, $"The adjustment was refused: {error}", result.Status);
        return Back(id, result.Replayed ? "replayed" : "adjusted");
    }

    // ---- Freeze, unfreeze, terminate ----

    static async Task<IResult> Freeze(string id, [FromForm] ActionFields form, HttpContext http, WalletMoves moves)
    {
        var result = Shown(await moves.FreezeAsync((await TenantAsync(http)).Id, id));
        if (result.NotFound) return NotFoundPage(http, "wallet");
        return result.Error is { } error ? await Refused(http, id, "The wallet was not frozen", error, result.Status) : Back(id, "frozen");
    }

    static async Task<IResult> Unfreeze(string id, [FromForm] ActionFields form, HttpContext http, WalletMoves moves)
    {
        var result = Shown(await moves.UnfreezeAsync((await TenantAsync(http)).Id, id));
        if (result.NotFound) return NotFoundPage(http, "wallet");
        return result.Error is { } error ? await Refused(http, id, "The wallet was not unfrozen", error, result.Status) : Back(id, "unfrozen");
    }

    static Task<IResult> TerminatePage(string id, HttpContext http, WalletReads reads) => RenderTerminatePage(http, id, reads, null, 200);

    static async Task<IResult> RenderTerminatePage(HttpContext http, string id, WalletReads reads, string? error, int status)
    {
        var tenant = await TenantAsync(http);
        var w = await reads.BalanceAsync(tenant.Id, id);
        if (w is null) return NotFoundPage(http, "wallet");
        if (w.WalletStatus == WalletStatuses.Closed)
            return Page("Terminate wallet", $"""<p>This wallet is already closed.</p><p><a href="/dashboard/wallets/{U(id)}">← {E(w.Name)}</a></p>""",
                DashboardPages.Nav(http.User, http));
        return Page("Terminate wallet", $"""
            <p><a href="/dashboard/wallets/{U(id)}">← {E(w.Name)}</a></p>
            {Alert(error)}
            <div class="panel">
            <p>Terminating <strong>{E(w.Name)}</strong> debits its remaining <strong>{Credits(w.RealTimeCreditBalance)} credits</strong>
              ({Money(w.RealTimeBalance, w.Currency)}), fails purchases still waiting for payment and releases its holds.
              A terminated wallet accepts no top-ups or debits and cannot be reopened.</p>
            <form method="post" action="/dashboard/wallets/{U(id)}/terminate">{Antiforgery(http)}
              <label class="choice"><input type="checkbox" name="Confirm" value="yes" required>
                I understand that the remaining balance is forfeited and the wallet cannot be reopened.</label>
              <div class="actions"><button type="submit" class="danger">Terminate wallet</button>
                <a href="/dashboard/wallets/{U(id)}">Keep the wallet</a></div>
            </form></div>
            """, DashboardPages.Nav(http.User, http), status);
    }

    static async Task<IResult> Terminate(string id, [FromForm] ConfirmFields form, HttpContext http, WalletReads reads, WalletMoves moves)
    {
        if (form.Confirm != "yes")
            return await RenderTerminatePage(http, id, reads, "Tick the box to confirm that you understand what terminating does.", 400);
        var result = Shown(await moves.TerminateAsync((await TenantAsync(http)).Id, id, null));
        if (result.NotFound) return NotFoundPage(http, "wallet");
        return result.Error is { } error ? await RenderTerminatePage(http, id, reads, $"The wallet was not terminated: {error}", result.Status) : Back(id, "terminated");
    }

    // ---- Automatic top-up ----

    public static string AutoTopUpForm(HttpContext http, WalletDto w)
    {
        var a = w.AutoTopup;
        return $"""
            <form method="post" action="/dashboard/wallets/{U(w.Id)}/auto-top-up">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(NewKey())}">
              <label class="choice"><input type="checkbox" name="Enabled" value="true"{CheckedAttr(a?.Enabled == true)}> Enabled</label>
              <label for="at-threshold">Threshold (credits)</label>
              <input id="at-threshold" name="Threshold" type="number" step="any" inputmode="decimal" value="{Field(a?.Threshold)}" aria-describedby="at-threshold-hint">
              <p class="hint" id="at-threshold-hint">A top-up starts when the available credits fall to this.</p>
              <label for="at-amount">Amount (credits)</label>
              <input id="at-amount" name="Amount" type="number" step="any" inputmode="decimal" value="{Field(a?.Amount)}">
              <label class="choice"><input type="checkbox" name="Invoicing" value="true" aria-describedby="at-invoicing-hint"{CheckedAttr(a?.Invoicing == true)}> Invoice the top-up</label>
              <p class="hint" id="at-invoicing-hint">Credits arrive when the invoice is paid. Unticked: the customer's saved card is charged.</p>
              <label for="at-per-day">Most top-ups per day (optional)</label>
              <input id="at-per-day" name="MaxTopupsPerDay" type="number" min="1" step="1" inputmode="numeric" value="{Field(a?.MaxTopupsPerDay)}">
              <label for="at-day-amount">Most credits per day (optional)</label>
              <input id="at-day-amount" name="MaxAmountPerDay" type="number" step="any" inputmode="decimal" value="{Field(a?.MaxAmountPerDay)}">
              <label for="at-month-amount">Most credits per month (optional)</label>
              <input id="at-month-amount" name="MaxAmountPerMonth" type="number" step="any" inputmode="decimal" value="{Field(a?.MaxAmountPerMonth)}">
              <label for="at-cooldown">Cooldown between top-ups (seconds, optional)</label>
              <input id="at-cooldown" name="CooldownSeconds" type="number" min="0" step="1" inputmode="numeric" value="{Field(a?.CooldownSeconds)}">
              <div class="actions"><button type="submit">Save automatic top-up</button></div>
            </form>
            """;
    }

    static async Task<IResult> SaveAutoTopUp(string id, [FromForm] AutoTopUpFields form, HttpContext http, WalletStore store, WalletMoves moves)
    {
        var tenant = await TenantAsync(http);
        var wallet = await store.GetAsync(tenant.Id, id);
        if (wallet is null) return NotFoundPage(http, "wallet");
        var errors = new FormErrors();
        var threshold = errors.Decimal("Threshold", form.Threshold);
        var amount = errors.Decimal("Amount", form.Amount);
        var perDay = errors.Int("Most top-ups per day", form.MaxTopupsPerDay);
        var dayAmount = errors.Decimal("Most credits per day", form.MaxAmountPerDay);
        var monthAmount = errors.Decimal("Most credits per month", form.MaxAmountPerMonth);
        var cooldown = errors.Int("Cooldown", form.CooldownSeconds);
        if (errors.Any) return await Refused(http, id, "The automatic top-up settings were not saved", errors.Message, 400);
        // Settings this form does not show (a target balance, a chosen card, the failure limit) are kept as they are.
        var current = wallet.AutoTopup is null ? null : Json.Deserialize<AutoTopupSettings>(wallet.AutoTopup);
        var rule = new AutoTopupSettings(Checked(form.Enabled), threshold, amount, Checked(form.Invoicing), current?.TargetBalance,
            current?.PaymentMethodId, perDay, dayAmount, monthAmount, cooldown, current?.MaxConsecutiveFailures);
        var result = await UpdateAsync(moves, tenant.Id, id, new UpdateWalletRequest { AutoTopup = rule }, form.IdempotencyKey);
        if (result.NotFound) return NotFoundPage(http, "wallet");
        return result.Error is { } error ? await Refused(http, id, "The automatic top-up settings were not saved", error, result.Status) : Back(id, "auto");
    }

    // ---- Alerts ----

    public static string AlertForm(HttpContext http, WalletDto w)
    {
        var s = w.AlertSettings;
        var cur = E(w.Currency.ToUpperInvariant());
        string Level(string key, string name, AlertThreshold? t)
        {
            var below = t?.Condition != "above";
            return $"""
                <fieldset class="group"><legend>{name}</legend>
                  <label for="al-{key}">Threshold ({cur}, optional)</label>
                  <input id="al-{key}" name="{name}Threshold" type="number" step="any" inputmode="decimal" value="{Field(t?.Threshold)}">
                  <label for="al-{key}-when">Fires when the available balance is</label>
                  <select id="al-{key}-when" name="{name}Condition"><option value="below"{Selected(below)}>at or below</option>
                    <option value="above"{Selected(!below)}>at or above</option></select>
                </fieldset>
                """;
        }
        return $"""
            <form method="post" action="/dashboard/wallets/{U(w.Id)}/alerts">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(NewKey())}">
              <label class="choice"><input type="checkbox" name="Enabled" value="true"{CheckedAttr(s?.AlertEnabled == true)}> Alerts enabled</label>
              {Level("critical", "Critical", s?.Critical)}{Level("warning", "Warning", s?.Warning)}{Level("info", "Info", s?.Info)}
              {ChannelFields(s)}
              <div class="actions"><button type="submit">Save alerts</button></div>
            </form>
            """;
    }

    /// <summary>Where the alerts go: the tenant's default, or the wallet's own choice of channels and merchant addresses.</summary>
    static string ChannelFields(AlertSettings? s)
    {
        var own = s?.NotificationChannels is not null;
        bool On(string channel) => s?.NotificationChannels is { } chosen ? chosen.Contains(channel) : channel == NotificationChannels.Webhook;
        return $"""
            <fieldset class="group"><legend>Notification channels</legend>
              <label class="choice"><input type="radio" name="Channels" value="default"{CheckedAttr(!own)}> The tenant's default (webhooks, and the merchant e-mail list when alert e-mail is on in Settings)</label>
              <label class="choice"><input type="radio" name="Channels" value="own"{CheckedAttr(own)}> This wallet's own:</label>
              <label class="choice"><input type="checkbox" name="Webhook" value="true"{CheckedAttr(On(NotificationChannels.Webhook))}> Webhook events</label>
              <label class="choice"><input type="checkbox" name="MerchantEmail" value="true"{CheckedAttr(On(NotificationChannels.MerchantEmail))}> E-mail to the merchant</label>
              <label for="al-merchant-emails">Merchant addresses (optional; empty: the list in Settings)</label>
              <input id="al-merchant-emails" name="MerchantEmails" type="text" value="{E(string.Join(", ", s?.MerchantEmails ?? []))}" aria-describedby="al-merchant-hint">
              <p class="hint" id="al-merchant-hint">Separated by commas.</p>
              <label class="choice"><input type="checkbox" name="CustomerEmail" value="true"{CheckedAttr(On(NotificationChannels.CustomerEmail))}> E-mail to the customer (their address on file)</label>
            </fieldset>
            """;
    }

    static async Task<IResult> SaveAlerts(string id, [FromForm] AlertFields form, HttpContext http, WalletMoves moves)
    {
        var tenant = await TenantAsync(http);
        var errors = new FormErrors();
        AlertThreshold? Level(string name, string? threshold, string? condition) =>
            errors.Decimal($"{name} threshold", threshold) is { } t ? new AlertThreshold(t, condition == "above" ? "above" : "below") : null;
        List<string>? channels = form.Channels != "own" ? null :
            [.. new[] { (form.Webhook, NotificationChannels.Webhook), (form.MerchantEmail, NotificationChannels.MerchantEmail), (form.CustomerEmail, NotificationChannels.CustomerEmail) }
                .Where(c => Checked(c.Item1)).Select(c => c.Item2)];
        var emails = form.MerchantEmails?.Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var settings = new AlertSettings(Checked(form.Enabled), Level("Critical", form.CriticalThreshold, form.CriticalCondition),
            Level("Warning", form.WarningThreshold, form.WarningCondition), Level("Info", form.InfoThreshold, form.InfoCondition),
            channels, channels is null || emails is not { Count: > 0 } ? null : emails);
        if (errors.Any) return await Refused(http, id, "The alert settings were not saved", errors.Message, 400);
        var result = await UpdateAsync(moves, tenant.Id, id, new UpdateWalletRequest { AlertSettings = settings }, form.IdempotencyKey);
        if (result.NotFound) return NotFoundPage(http, "wallet");
        return result.Error is { } error ? await Refused(http, id, "The alert settings were not saved", error, result.Status) : Back(id, "alerts");
    }

    /// <summary>A settings form, checked and saved as <c>PUT /v1/wallets/{id}</c> does; the form's key makes a second submission a replay.</summary>
    static async Task<Outcome<WalletDto>> UpdateAsync(WalletMoves moves, string tenantId, string id, UpdateWalletRequest request, string? formKey)
    {
        var v = new Validator();
        return WalletOrders.Update(v, id, request, FormKey(formKey)) is { } changes ? Shown(await moves.UpdateAsync(tenantId, id, changes)) : Invalid<WalletDto>(v);
    }
}
