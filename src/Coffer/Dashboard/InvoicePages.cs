using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Payments;
using Coffer.Common;
using Coffer.Wallets;
using Microsoft.AspNetCore.Mvc;
using static Coffer.Dashboard.DashboardKit;
using static Coffer.Pages.Html;

namespace Coffer.Dashboard;

public sealed record RecordPaymentFields
{
    public string? Method { get; init; }
    public string? Amount { get; init; }
    public string? IdempotencyKey { get; init; }
}

public sealed record PaymentStatusFields
{
    public string? PaymentStatus { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>Invoices: the list by status, one invoice with its lines and payments, recording a payment, and its PDF.</summary>
public static class InvoicePages
{
    public const string Offline = "offline";
    public const string Link = "link";

    static readonly string[] PaymentStatusFilter =
    [
        PaymentStatuses.Pending, PaymentStatuses.Processing, PaymentStatuses.Succeeded, PaymentStatuses.Failed, PaymentStatuses.Overpaid,
        PaymentStatuses.Refunded, PaymentStatuses.PartiallyRefunded,
    ];

    static readonly string[] InvoiceStatusFilter = [InvoiceStatuses.Draft, InvoiceStatuses.Finalized, InvoiceStatuses.Voided];

    /// <summary>What an operator may report by hand; the invoice service decides whether it is allowed.</summary>
    static readonly string[] SettableStatuses = [PaymentStatuses.Succeeded, PaymentStatuses.Failed, PaymentStatuses.Pending];

    public static void MapInvoicePages(this RouteGroupBuilder g)
    {
        g.MapGet("/invoices", List);
        g.MapGet("/invoices/{id}", Show);
        g.MapGet("/invoices/{id}/pdf", Pdf);
        g.MapPost("/invoices/{id}/payments", RecordPayment);
        g.MapPost("/invoices/{id}/payment-status", SetPaymentStatus);
    }

    static async Task<IResult> List(HttpContext http, InvoiceService invoices, CustomerStore customers,
        [FromQuery(Name = "payment_status")] string? paymentStatus, [FromQuery(Name = "invoice_status")] string? invoiceStatus, string? page)
    {
        var tenant = await TenantAsync(http);
        var number = int.TryParse(page, out var p) && p >= 1 ? Math.Min(p, 100_000) : 1;
        paymentStatus = PaymentStatusFilter.Contains(paymentStatus) ? paymentStatus : null;
        invoiceStatus = InvoiceStatusFilter.Contains(invoiceStatus) ? invoiceStatus : null;
        var found = await invoices.SearchAsync(tenant.Id, new InvoiceQuery(PageSize, (number - 1) * PageSize, false, null, null, null, null,
            invoiceStatus is null ? null : [invoiceStatus], paymentStatus is null ? null : [paymentStatus], SkipLineItems: true));
        var items = found.Items;
        var names = items.Count == 0 ? [] : (await customers.SearchAsync(tenant.Id,
                new CustomerQuery(items.Select(i => i.CustomerId).Distinct().ToList(), null, null, "published", [], false), PageSize, 0))
            .Items.ToDictionary(c => c.Id, c => c.Name);
        var rows = string.Join("", items.Select(i => $"""
            <tr><td><a href="/dashboard/invoices/{U(i.Id)}">{E(i.InvoiceNumber ?? i.Id)}</a></td>
            <td><a href="/dashboard/customers/{U(i.CustomerId)}">{E(names.GetValueOrDefault(i.CustomerId, i.CustomerId))}</a></td>
            <td>{E(i.InvoiceType)}</td><td>{Status(i.InvoiceStatus)}</td><td>{Status(i.PaymentStatus)}</td>
            <td class="num">{Money(i.AmountDue, i.Currency)}</td><td class="num">{Money(i.AmountRemaining, i.Currency)}</td><td>{Date(i.CreatedAt)}</td></tr>
            """));
        static string Options(string? current, string[] values) =>
            "<option value=\"\">All</option>" + string.Join("", values.Select(v => $"<option value=\"{E(v)}\"{Selected(v == current)}>{E(v)}</option>"));
        var total = found.Pagination.Total;
        string Link(int to, string text, string rel) =>
            $"<a rel=\"{rel}\" href=\"/dashboard/invoices?payment_status={E(Uri.EscapeDataString(paymentStatus ?? ""))}&amp;invoice_status={E(Uri.EscapeDataString(invoiceStatus ?? ""))}&amp;page={to}\">{text}</a>";
        var pager = (number > 1 ? Link(number - 1, "Newer", "prev") : "") + ((long)number * PageSize < total ? Link(number + 1, "Older", "next") : "");
        return Page("Invoices", $"""
            <form method="get" class="filters" aria-label="Filter invoices">
              <div><label for="f-ps">Payment status</label><select id="f-ps" name="payment_status">{Options(paymentStatus, PaymentStatusFilter)}</select></div>
              <div><label for="f-is">Invoice status</label><select id="f-is" name="invoice_status">{Options(invoiceStatus, InvoiceStatusFilter)}</select></div>
              <div class="actions"><button type="submit">Filter</button><a href="/dashboard/invoices">Clear</a></div>
            </form>
            <p class="muted">{total} invoices</p>
            <div class="table-wrap"><table><thead><tr><th scope="col">Number</th><th scope="col">Customer</th><th scope="col">Type</th>
              <th scope="col">Status</th><th scope="col">Payment</th><th scope="col" class="num">Amount due</th><th scope="col" class="num">Remaining</th>
              <th scope="col">Created</th></tr></thead>
            <tbody>{(rows.Length == 0 ? "<tr><td colspan=\"8\" class=\"muted\">No invoices match.</td></tr>" : rows)}</tbody></table></div>
            <nav class="actions" aria-label="Invoice pages">{pager}</nav>
            """, DashboardPages.Nav(http.User, http));
    }

    static Task<IResult> Show(string id, HttpContext http, string? done, string? payment) =>
        RenderAsync(http, id, done switch
        {
            "paid" => "Payment recorded.",
            "status" => "Payment status updated.",
            "link" => "Payment link created: send it to the customer. The invoice is paid when they complete the checkout.",
            _ => null,
        }, payment, null, 200);

    static async Task<IResult> RenderAsync(HttpContext http, string id, string? notice, string? highlightPayment, string? error, int status,
        RecordPaymentFields? typed = null)
    {
        var services = http.RequestServices;
        var tenant = await TenantAsync(http);
        if (await services.GetRequiredService<InvoiceService>().DtoAsync(tenant.Id, id) is not { } i) return NotFoundPage(http, "invoice");
        var payments = (await services.GetRequiredService<PaymentService>().ListAsync(tenant.Id, Common.Limits.MaxPageSize, 0, true, id, null, null)).Items;

        var lines = string.Join("", (i.LineItems ?? []).Select(l => $"""
            <tr><td>{E(l.DisplayName)}</td><td class="num">{Credits(l.Quantity)}</td><td class="num">{Money(l.Amount, i.Currency)}</td></tr>
            """));
        var paymentRows = string.Join("", payments.Select(p => $"""
            <tr{(p.Id == highlightPayment ? " class=\"highlight\"" : "")}><td class="wrap" data-label="Payment"><code>{E(p.Id)}</code></td>
            <td class="wrap" data-label="Method">{E(p.PaymentMethodType)}</td>
            <td class="num nowrap" data-label="Amount">{Money(p.Amount, p.Currency)}</td><td data-label="Status">{Status(p.PaymentStatus)}</td>
            <td class="nowrap" data-label="Created">{Date(p.CreatedAt)}</td>
            <td class="wrap" data-label="Payment link">{(p.PaymentUrl is { } url ? $"<a href=\"{E(url)}\" class=\"payment-url\">{E(url)}</a>" : "--")}</td></tr>
            """));
        var link = highlightPayment is not null && payments.FirstOrDefault(p => p.Id == highlightPayment)?.PaymentUrl is { } created
            ? $"""<p class="flash-ok">Payment link: <a href="{E(created)}" id="payment-link">{E(created)}</a></p>""" : "";
        // The same rule the payment operation applies under the lock; a void or failed invoice offers nothing to record.
        var closed = i.InvoiceStatus == InvoiceStatuses.Voided || i.PaymentStatus == PaymentStatuses.Failed;
        var payable = !closed && i.InvoiceStatus == InvoiceStatuses.Finalized && i.AmountRemaining > 0;
        var statusOptions = string.Join("", SettableStatuses.Select(s => $"<option value=\"{s}\"{Selected(s == i.PaymentStatus)}>{s}</option>"));
        var method = typed?.Method ?? Offline;

        return Page($"Invoice {i.InvoiceNumber ?? i.Id}", $"""
            <p><a href="/dashboard/invoices">← Invoices</a>{(i.WalletId is { } w ? $" · <a href=\"/dashboard/wallets/{U(w)}\">Back to the wallet</a>" : "")}</p>
            {Notice(notice)}{link}{Alert(error)}
            <div class="panels">
            <section class="panel" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>
            <dl class="facts">
              <dt>Customer</dt><dd><a href="/dashboard/customers/{U(i.CustomerId)}">{E(i.Customer?.Name ?? i.CustomerId)}</a></dd>
              <dt>Type</dt><dd>{E(i.InvoiceType)}</dd>
              <dt>Status</dt><dd>{Status(i.InvoiceStatus)}</dd>
              <dt>Payment status</dt><dd id="payment-status">{Status(i.PaymentStatus)}</dd>
              <dt>Created</dt><dd>{Date(i.CreatedAt)}</dd>
              <dt>Due</dt><dd>{Date(i.DueDate)}</dd>
              <dt>Paid</dt><dd>{Date(i.PaidAt)}</dd>
              {(i.Description is null ? "" : $"<dt>Description</dt><dd>{E(i.Description)}</dd>")}
            </dl>
            <p><a href="/dashboard/invoices/{U(i.Id)}/pdf">Download PDF</a></p>
            </section>
            <section class="panel" aria-labelledby="lines-h"><h2 id="lines-h">Lines</h2>
            <div class="table-wrap"><table><thead><tr><th scope="col">Item</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Amount</th></tr></thead>
            <tbody>{lines}</tbody>
            <tfoot>
              <tr><th scope="row" colspan="2">Subtotal</th><td class="num">{Money(i.Subtotal, i.Currency)}</td></tr>
              <tr><th scope="row" colspan="2">Total</th><td class="num">{Money(i.Total, i.Currency)}</td></tr>
              <tr><th scope="row" colspan="2">Paid</th><td class="num" id="amount-paid">{Money(i.AmountPaid, i.Currency)}</td></tr>
              <tr><th scope="row" colspan="2">Remaining</th><td class="num" id="amount-remaining">{Money(i.AmountRemaining, i.Currency)}</td></tr>
            </tfoot></table></div>
            </section>
            </div>
            <section aria-labelledby="payments-h"><h2 id="payments-h">Payments</h2>
            {(payments.Count == 0 ? "<p class=\"muted\">No payments yet.</p>" : $"""
              <div class="table-wrap"><table class="payments stack"><thead><tr><th scope="col">Payment</th><th scope="col">Method</th><th scope="col" class="num">Amount</th>
                <th scope="col">Status</th><th scope="col">Created</th><th scope="col">Payment link</th></tr></thead><tbody>{paymentRows}</tbody></table></div>
              """)}
            </section>
            <div class="panels">
            <section class="panel" aria-labelledby="record-h"><h2 id="record-h">Record Payment</h2>
            {(!payable ? (closed ? "<p class=\"muted\">This invoice is closed and accepts no payment.</p>" : "<p class=\"muted\">Nothing is due on this invoice.</p>") : $"""
              <form method="post" action="/dashboard/invoices/{U(i.Id)}/payments">{Antiforgery(http)}
                <input type="hidden" name="IdempotencyKey" value="{E(typed?.IdempotencyKey ?? NewKey())}">
                <fieldset class="group"><legend>How</legend>
                  <label class="choice"><input type="radio" name="Method" value="{Offline}"{CheckedAttr(method != Link)}> Received offline (bank transfer, cash…)</label>
                  <label class="choice"><input type="radio" name="Method" value="{Link}"{CheckedAttr(method == Link)}> Create a payment link</label>
                </fieldset>
                <label for="pay-amount">Amount ({E(i.Currency.ToUpperInvariant())})</label>
                <input id="pay-amount" name="Amount" type="number" step="any" inputmode="decimal" required value="{E(typed?.Amount ?? Field(i.AmountRemaining))}">
                <div class="actions"><button type="submit">Record Payment</button></div>
              </form>
              """)}
            </section>
            <section class="panel" aria-labelledby="status-h"><h2 id="status-h">Update Payment Status</h2>
            <form method="post" action="/dashboard/invoices/{U(i.Id)}/payment-status">{Antiforgery(http)}
              <input type="hidden" name="IdempotencyKey" value="{E(NewKey())}">
              <label for="ps-status">Payment status</label>
              <select id="ps-status" name="PaymentStatus">{statusOptions}</select>
              <p class="hint">SUCCEEDED records the remaining amount as paid offline; FAILED cancels a pending credit purchase.</p>
              <div class="actions"><button type="submit" class="secondary">Update Payment Status</button></div>
            </form>
            </section>
            </div>
            """, DashboardPages.Nav(http.User, http), status);
    }

    static async Task<IResult> Pdf(string id, HttpContext http, InvoiceService invoices) =>
        await invoices.PdfAsync(await TenantAsync(http), id) is { } file ? Results.File(file.Pdf, "application/pdf", file.FileName) : NotFoundPage(http, "invoice");

    static async Task<IResult> RecordPayment(string id, [FromForm] RecordPaymentFields form, HttpContext http, InvoiceService invoices,
        PaymentService payments, PaymentMethodStore methods, TimeProvider clock)
    {
        var tenant = await TenantAsync(http);
        var invoice = await invoices.GetAsync(tenant.Id, id);
        if (invoice is null) return NotFoundPage(http, "invoice");
        var errors = new FormErrors();
        var amount = errors.Decimal("Amount", form.Amount, required: true);
        if (form.Method is not (Offline or Link)) errors.Fail("Choose how the payment is made.");
        if (errors.Any) return await RenderAsync(http, id, null, null, errors.Message, 400, form);
        var (order, invalid) = PaymentApi.Order(new CreatePaymentRequest
        {
            Amount = amount, Currency = invoice.Currency, DestinationType = "INVOICE", DestinationId = id,
            PaymentMethodType = form.Method == Link ? PaymentMethodTypes.PaymentLink : PaymentMethodTypes.Offline,
            IdempotencyKey = string.IsNullOrEmpty(form.IdempotencyKey) ? null : form.IdempotencyKey,
        });
        if (invalid is not null) return await RenderAsync(http, id, null, null, $"The payment was not recorded: {invalid.Message}", invalid.StatusCode, form);
        string paymentId;
        switch (await payments.PayAsync(tenant.Id, order!, http.Request))
        {
            case PaymentOutcome.Made made:
                paymentId = made.Payment.Id;
                break;
            case PaymentOutcome.Replayed replayed:
                // The same form sent twice records one payment: the second post is answered from the first.
                paymentId = System.Text.Json.Nodes.JsonNode.Parse(replayed.Answer.Body)!["id"]!.GetValue<string>();
                break;
            case PaymentOutcome.Refused { Reason.Code: Common.ErrorCodes.NotFound }:
                return NotFoundPage(http, "invoice");
            case var refused:
                var error = (ApiError)PaymentApi.ToHttp(refused).Result;
                return await RenderAsync(http, id, null, null, $"The payment was not recorded: {error.Message}", error.StatusCode, form);
        }
        var done = form.Method == Link ? "link" : "paid";
        return Results.Redirect($"/dashboard/invoices/{Uri.EscapeDataString(id)}?done={done}&payment={Uri.EscapeDataString(paymentId)}");
    }

    static async Task<IResult> SetPaymentStatus(string id, [FromForm] PaymentStatusFields form, HttpContext http, InvoiceService invoices)
    {
        var tenant = await TenantAsync(http);
        if (!SettableStatuses.Contains(form.PaymentStatus))
            return await RenderAsync(http, id, null, null, "Choose SUCCEEDED, FAILED or PENDING.", 400);
        var (outcome, _) = await invoices.ReportPaymentStatusAsync(tenant.Id, id, form.PaymentStatus!, null, FormKey(form.IdempotencyKey));
        switch (outcome)
        {
            case InvoiceOutcome.NotFound:
                return NotFoundPage(http, "invoice");
            case InvoiceOutcome.Refused { Reason: var reason }:
                return await RenderAsync(http, id, null, null, $"The payment status was not changed: {reason.Message}", reason.ToHttp().StatusCode);
            case InvoiceOutcome.KeyUsed { Check: var check and not IdempotencyCheck.Replay }:
                var refusal = Wallets.Idempotency.Refusal(check)!;
                return await RenderAsync(http, id, null, null, $"The payment status was not changed: {refusal.Message}", refusal.StatusCode);
        }
        return Results.Redirect($"/dashboard/invoices/{Uri.EscapeDataString(id)}?done=status");
    }
}
