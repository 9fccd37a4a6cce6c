using System.Data.Common;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Storage;
using Coffer.Tenants;
using Coffer.Wallets;

namespace Coffer.Invoices;

public abstract record InvoiceOutcome
{
    private InvoiceOutcome() { }
    public sealed record Done(InvoiceRow Invoice, PaymentRow? Payment = null) : InvoiceOutcome;
    public sealed record NotFound : InvoiceOutcome;
    public sealed record Refused(Refusal Reason) : InvoiceOutcome;
    /// <summary>The request's idempotency key was used before: replay or refuse (<see cref="Idempotency.Answer"/>); nothing changed.</summary>
    public sealed record KeyUsed(IdempotencyCheck Check) : InvoiceOutcome;
}

/// <summary>What a decision under the invoice's lock produced: the invoice after it, a payment, or a refusal.</summary>
sealed record InvoiceDecision(InvoiceRow? After, PaymentRow? Payment = null, Refusal? Refusal = null)
{
    /// <summary>Hosted checkouts to close at the gateway once the decision has committed.</summary>
    public IReadOnlyList<string> ExpiredCheckouts { get; init; } = [];
}

/// <summary>How the start of a gateway payment was decided under the invoice's lock.</summary>
public abstract record PaymentStart
{
    private PaymentStart() { }
    /// <summary>Recorded (PROCESSING, or INITIATED for a link): the gateway may now be asked.</summary>
    public sealed record Started(InvoiceRow Invoice, PaymentRow Payment) : PaymentStart;
    /// <summary>The same request came before (its key, or the link already open for this amount): nothing new starts.</summary>
    public sealed record Existing(InvoiceRow Invoice, PaymentRow Payment) : PaymentStart;
    public sealed record Refused(Refusal Reason) : PaymentStart;
    public sealed record NotFound : PaymentStart;
    /// <summary>The request's key was used before: a replay, a refusal, or a payment still in flight.</summary>
    public sealed record KeyUsed(IdempotencyCheck Check) : PaymentStart;
}

public sealed record PaymentInput(
    decimal? Amount, string MethodType, string? MethodId, string? IdempotencyKey, string Metadata, string? Source = null);

/// <summary>
/// Every change to an invoice happens under its row lock, in one transaction with whatever it does to a
/// wallet: a payment that completes a credit purchase grants the credits exactly once, because the second
/// report of the same payment finds the invoice already paid. Invoice locks are always taken before wallet
/// locks, never after.
/// </summary>
/// <summary>A validated invoice search: the page, and the filters (a customer by external id is resolved by the search).</summary>
public sealed record InvoiceQuery(int Limit, int Offset, bool Ascending, string? CustomerId, string? ExternalCustomerId, string? InvoiceType,
    IReadOnlyList<string>? InvoiceIds, IReadOnlyList<string>? InvoiceStatuses, IReadOnlyList<string>? PaymentStatuses, bool SkipLineItems);

/// <summary>An invoice as a PDF file.</summary>
public sealed record InvoiceFile(byte[] Pdf, string FileName);

public sealed class InvoiceService(Database db, WalletWriter writer, Ids ids, TimeProvider clock, OutboxWriter outbox, GatewayRegistry gateways,
    Customers.CustomerStore customers, TenantStore tenants, ILogger<InvoiceService> log)
{
    public async Task<InvoiceRow?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {InvoiceRow.Columns} FROM invoices WHERE tenant_id = @t AND id = @id",
            InvoiceRow.Read, ("t", tenantId), ("id", id));
    }

    /// <summary>The invoice as the API shows it, with its lines and its customer.</summary>
    public async Task<InvoiceDto?> DtoAsync(string tenantId, string id) =>
        await GetAsync(tenantId, id) is { } i ? await DtoAsync(i) : null;

    public async Task<InvoiceDto> DtoAsync(InvoiceRow i) =>
        InvoiceDtos.Invoice(i, await LinesAsync(i.TenantId, [i.Id]), await customers.GetAsync(i.TenantId, i.CustomerId));

    /// <summary>A page of the tenant's invoices, newest first unless asked otherwise, with their lines unless skipped.</summary>
    public async Task<ListResponse<InvoiceDto>> SearchAsync(string tenantId, InvoiceQuery q)
    {
        var customerId = q.CustomerId;
        if (q.ExternalCustomerId is not null)
        {
            var c = await customers.GetByExternalIdAsync(tenantId, q.ExternalCustomerId);
            if (c is null) return new ListResponse<InvoiceDto>([], new Pagination(0, q.Limit, q.Offset));
            customerId = c.Id;
        }
        var where = Where.Tenant(tenantId)
            .Eq("customer_id", "c", customerId)
            .Eq("invoice_type", "type", q.InvoiceType)
            .In("id", "id", q.InvoiceIds)
            .In("invoice_status", "is", q.InvoiceStatuses)
            .In("payment_status", "ps", q.PaymentStatuses);
        await using var conn = await db.OpenAsync();
        var page = await conn.PageAsync(InvoiceRow.Columns, "invoices", where, Sql.OrderBy("created_at", q.Ascending), q.Limit, q.Offset, InvoiceRow.Read);
        var lines = q.SkipLineItems ? null : (await LinesAsync(tenantId, page.Items.Select(r => r.Id).ToList())).ToLookup(l => l.InvoiceId);
        return page.Response(r => InvoiceDtos.Invoice(r, lines?[r.Id]));
    }

    /// <summary>The invoice as a PDF, issued by <paramref name="tenant"/>.</summary>
    public async Task<InvoiceFile?> PdfAsync(Tenants.Tenant tenant, string id)
    {
        var invoice = await GetAsync(tenant.Id, id);
        if (invoice is null) return null;
        var customer = await customers.GetAsync(tenant.Id, invoice.CustomerId);
        var lines = await LinesAsync(tenant.Id, [id]);
        var address = customer is null ? null : string.Join(", ", new[]
        {
            customer.AddressLine1, customer.AddressLine2, customer.AddressCity, customer.AddressState, customer.AddressPostalCode, customer.AddressCountry,
        }.Where(p => !string.IsNullOrWhiteSpace(p)));
        var model = new InvoicePdfModel(tenant.Name, invoice.InvoiceNumber ?? invoice.Id, invoice.InvoiceStatus, invoice.PaymentStatus,
            invoice.Currency, customer?.Name ?? invoice.CustomerId, customer?.Email, string.IsNullOrEmpty(address) ? null : address,
            invoice.FinalizedAt ?? invoice.CreatedAt, invoice.DueDate,
            lines.Select(l => new InvoicePdfLine(l.DisplayName ?? "", l.Quantity, l.Amount)).ToList(),
            invoice.Subtotal, invoice.Total, invoice.AmountPaid, invoice.AmountRemaining);
        return new InvoiceFile(InvoicePdf.Render(model), $"{invoice.InvoiceNumber ?? invoice.Id}.pdf");
    }

    /// <summary>
    /// A payment status reported by the merchant, answered with the invoice as it then stands. With a key, that answer
    /// is rendered before the commit and stored with the change it reports.
    /// </summary>
    public async Task<(InvoiceOutcome Outcome, InvoiceDto? Answer)> ReportPaymentStatusAsync(
        string tenantId, string id, string status, decimal? amount, string? key)
    {
        InvoiceDto? answered = null;
        var keyed = IdempotencyClaim.For(key, "invoice-payment-status", new { invoice = id, status, amount }) is { } claim
            ? new Keyed<InvoiceOutcome.Done>(claim, async d => StoredAnswer.Of(200, answered = await DtoAsync(d.Invoice)))
            : null;
        var outcome = await SetPaymentStatusAsync(tenantId, id, status, amount, keyed);
        return (outcome, outcome is InvoiceOutcome.Done d ? answered ?? await DtoAsync(d.Invoice) : null);
    }

    public async Task<List<LineItemRow>> LinesAsync(string tenantId, IReadOnlyList<string> invoiceIds)
    {
        if (invoiceIds.Count == 0) return [];
        var where = new List<string>();
        var args = new List<(string, object?)> { ("t", tenantId) };
        Sql.In(where, args, "invoice_id", "i", invoiceIds);
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null, $"SELECT {LineItemRow.Columns} FROM invoice_line_items WHERE tenant_id = @t AND {where[0]} ORDER BY created_at, id",
            LineItemRow.Read, args.ToArray());
    }

    /// <summary>Changes an invoice's due date and metadata (what is not given stays); false when there is no such invoice.</summary>
    public async Task<bool> UpdateAsync(string tenantId, string id, DateTimeOffset? dueDate, Dictionary<string, string>? metadata)
    {
        await using var scope = await db.BeginWriteAsync();
        var changed = await scope.Connection.ExecAsync(scope.Transaction,
            """
            UPDATE invoices SET due_date = COALESCE(@d, due_date), metadata = COALESCE(@m, metadata), version = version + 1, updated_at = @now
            WHERE tenant_id = @t AND id = @id
            """,
            ("d", dueDate), ("m", metadata is null ? null : Json.Serialize(metadata)), ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return changed > 0;
    }

    /// <summary>
    /// Inserts an invoice with its lines, numbered in the same transaction when it is created FINALIZED. With a key,
    /// the key is claimed first (a replay or a refusal takes no number) and the answer rendered from the invoice as
    /// inserted is stored in the same transaction; a key used before comes back as <see cref="InvoiceOutcome.KeyUsed"/>.
    /// </summary>
    public async Task<InvoiceOutcome> CreateAsync(InvoiceRow invoice, IReadOnlyList<LineItemRow> lines, IdempotencyClaim? claim,
        Func<InvoiceRow, StoredAnswer> answer)
    {
        await using var scope = await db.BeginWriteAsync();
        if (claim is not null &&
            await Idempotency.ClaimAsync(scope.Connection, scope.Transaction, invoice.TenantId, claim, clock.GetUtcNow()) is not IdempotencyCheck.Claimed and var used)
            return new InvoiceOutcome.KeyUsed(used);
        if (invoice.InvoiceStatus == InvoiceStatuses.Finalized && invoice.InvoiceNumber is null)
            invoice = invoice with { InvoiceNumber = await InvoiceNumbers.NextAsync(scope.Connection, scope.Transaction, invoice.TenantId) };
        var writes = new SqlBatch();
        InvoiceRow.Insert(writes, invoice);
        foreach (var line in lines) LineItemRow.Insert(writes, line);
        outbox.Created(writes, invoice, lines);
        if (claim is not null) Idempotency.Complete(writes, invoice.TenantId, claim, answer(invoice));
        await writes.ExecuteAsync(scope.Connection, scope.Transaction);
        await scope.CommitAsync();
        return new InvoiceOutcome.Done(invoice);
    }

    /// <summary>A DRAFT invoice becomes FINALIZED and takes its number, under its lock.</summary>
    public Task<InvoiceOutcome> FinalizeAsync(string tenantId, string id, Keyed<InvoiceOutcome.Done>? keyed = null) =>
        WithInvoiceAsync(tenantId, id, async (i, c, tx, _, now) => i.InvoiceStatus switch
        {
            InvoiceStatuses.Draft => new InvoiceDecision(i with
            {
                InvoiceStatus = InvoiceStatuses.Finalized, FinalizedAt = now, InvoiceNumber = i.InvoiceNumber ?? await InvoiceNumbers.NextAsync(c, tx, tenantId),
            }),
            _ => new InvoiceDecision(null, Refusal: Refusal.Invalid($"only a DRAFT invoice can be finalized; this one is {i.InvoiceStatus}")),
        }, EventTypes.InvoiceFinalized, keyed);

    public Task<InvoiceOutcome> VoidAsync(string tenantId, string id, Keyed<InvoiceOutcome.Done>? keyed = null) =>
        WithInvoiceAsync(tenantId, id, async (i, c, tx, writes, now) =>
        {
            if (i.InvoiceStatus == InvoiceStatuses.Voided) return new InvoiceDecision(i);
            if (i.AmountPaid > 0)
                return new InvoiceDecision(null, Refusal: Refusal.Invalid("an invoice with payments cannot be voided; refund the payments first"));
            if (await ChargingAsync(i, c, tx) is { Count: > 0 } charging) return new InvoiceDecision(null, Refusal: InProgress(charging));
            await FailPurchaseAsync(i, c, tx);
            return await CancelAsync(i, "the invoice was voided", c, tx, writes, now);
        }, EventTypes.InvoiceVoided, keyed);

    /// <summary>
    /// A credit purchase that can no longer complete (its wallet was closed) ends with its invoice: voided, open
    /// links closed, and the money already received recorded as refunds due. Safe to run again: an invoice that
    /// is not a cancelled purchase, or is voided already, is left alone.
    /// </summary>
    public Task<InvoiceOutcome> CancelPurchaseAsync(string tenantId, string id) =>
        WithInvoiceAsync(tenantId, id, async (i, c, tx, writes, now) =>
            i.InvoiceStatus != InvoiceStatuses.Finalized || !await PurchaseCancelledAsync(i, c, tx)
                ? new InvoiceDecision(i)
                : await CancelAsync(i, "the credit purchase was cancelled (its wallet was closed)", c, tx, writes, now),
            EventTypes.InvoiceVoided);

    /// <summary>
    /// After a wallet is closed: the invoices of its purchases that the close failed are cancelled, one by one under
    /// each invoice's lock (never inside the wallet's, which comes after invoice locks). Until this has run they
    /// already refuse payment, since payability reads the purchase itself.
    /// </summary>
    public async Task CancelPurchasesOfWalletAsync(string tenantId, string walletId)
    {
        List<string> open;
        await using (var c = await db.OpenAsync())
            open = await c.QueryAsync(null,
                "SELECT id FROM invoices WHERE tenant_id = @t AND wallet_id = @w AND invoice_status = 'FINALIZED' AND wallet_transaction_id IS NOT NULL",
                r => r.Str("id"), ("t", tenantId), ("w", walletId));
        foreach (var id in open) await CancelPurchaseAsync(tenantId, id);
    }

    /// <summary>A payment status reported by the merchant (<c>PUT /invoices/{id}/payment</c>).</summary>
    public Task<InvoiceOutcome> SetPaymentStatusAsync(string tenantId, string id, string status, decimal? amount, Keyed<InvoiceOutcome.Done>? keyed = null) =>
        WithInvoiceAsync(tenantId, id, async (i, c, tx, writes, now) =>
        {
            switch (status)
            {
                case PaymentStatuses.Succeeded:
                    return await PayAsync(i, new PaymentInput(amount ?? i.AmountRemaining, PaymentMethodTypes.Offline, null, null, "{}",
                        "payment_status_update"), c, tx, writes, now);
                case PaymentStatuses.Failed:
                    if (PaymentStatuses.IsPaid(i.PaymentStatus) || i.AmountPaid > 0)
                        return new InvoiceDecision(null, Refusal: Refusal.Invalid("a paid invoice cannot be marked FAILED; refund it instead"));
                    // A charge in flight may still succeed: failing now would take the money and cancel what it paid for.
                    if (await ChargingAsync(i, c, tx) is { Count: > 0 } charging) return new InvoiceDecision(null, Refusal: InProgress(charging));
                    if (i.WalletTransactionId is null) return new InvoiceDecision(i with { PaymentStatus = PaymentStatuses.Failed });
                    // A failed credit purchase ends with its invoice, in this same transaction.
                    await FailPurchaseAsync(i, c, tx);
                    var cancelled = await CancelAsync(i, "the credit purchase failed", c, tx, writes, now);
                    return cancelled with { After = cancelled.After! with { PaymentStatus = PaymentStatuses.Failed } };
                case PaymentStatuses.Pending or PaymentStatuses.Processing or PaymentStatuses.Initiated:
                    if (PaymentStatuses.IsPaid(i.PaymentStatus))
                        return new InvoiceDecision(null, Refusal: Refusal.Invalid($"a paid invoice cannot go back to {status}"));
                    if (Closed(i) is { } closed) return new InvoiceDecision(null, Refusal: closed);
                    return new InvoiceDecision(i with { PaymentStatus = status });
                default:
                    return new InvoiceDecision(null, Refusal: Refusal.Invalid(
                        $"payment_status {status} cannot be set here; use SUCCEEDED, FAILED, PENDING, PROCESSING or INITIATED"));
            }
        }, EventTypes.InvoicePaymentUpdated, keyed);

    /// <summary>A payment recorded against the invoice (offline, or from a wallet with method CREDITS).</summary>
    public Task<InvoiceOutcome> RecordPaymentAsync(string tenantId, string id, PaymentInput payment, Keyed<InvoiceOutcome.Done>? keyed = null) =>
        WithInvoiceAsync(tenantId, id, (i, c, tx, writes, now) => payment.MethodType == PaymentMethodTypes.Credits
            ? PayFromWalletAsync(i, payment, c, tx, writes, now)
            : PayAsync(i, payment, c, tx, writes, now), EventTypes.InvoicePaymentUpdated, keyed);

    /// <summary>
    /// Pays what the customer's wallet in the invoice's currency can cover, up to what is due and not already on
    /// its way through a gateway: never from a wallet of another currency. What it cannot cover stays due.
    /// </summary>
    async Task<InvoiceDecision> PayFromWalletAsync(InvoiceRow i, PaymentInput payment, DbConnection c, DbTransaction tx, SqlBatch writes, DateTimeOffset now)
    {
        var inFlight = await InFlightAsync(i, c, tx);
        if (await UnpayableAsync(i, c, tx) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);
        var open = i.AmountRemaining - inFlight.Sum(p => p.Amount);
        if (open <= 0) return new InvoiceDecision(null, Refusal: InProgress(inFlight));
        var due = Math.Min(payment.Amount ?? open, open);
        var wallet = payment.MethodId is not null
            ? await c.QuerySingleAsync(tx, $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w",
                WalletRow.Read, ("t", i.TenantId), ("w", payment.MethodId))
            : await c.QuerySingleAsync(tx,
                $"""
                SELECT {WalletRow.Columns} FROM wallets
                WHERE tenant_id = @t AND customer_id = @c AND currency = @cur AND wallet_status = 'active'
                ORDER BY CASE WHEN credit_currency_id IS NULL THEN 0 ELSE 1 END, CASE wallet_type WHEN 'PRE_PAID' THEN 0 ELSE 1 END, created_at LIMIT 1
                """,
                WalletRow.Read, ("t", i.TenantId), ("c", i.CustomerId), ("cur", i.Currency));
        if (wallet is null || wallet.CustomerId != i.CustomerId)
            return new InvoiceDecision(null, Refusal: Refusal.NotFound($"active {i.Currency} wallet of the invoice's customer"));
        if (wallet.Currency != i.Currency)
            return new InvoiceDecision(null, Refusal: Refusal.Invalid($"a {wallet.Currency} wallet cannot pay a {i.Currency} invoice"));

        var minor = Currencies.MinorUnits(i.Currency.ToUpperInvariant());
        var rate = wallet.ConversionRate;
        var op = new WalletOperation(
            _ => new WalletCommand.DebitUpTo(ids.New("wtx"), Money.CreditsToCover(due, rate), Reasons.InvoicePayment, rate, minor),
            new EntryDetails($"Payment of invoice {i.InvoiceNumber ?? i.Id}", ReferenceType: "INVOICE", ReferenceId: i.Id), null, _ => new { })
        {
            // Numbered with the wallet's other events of this payment.
            AlsoWrite = (x, _) => x.AddEvent(EventTypes.WalletPaymentMade, new
            {
                wallet_id = wallet.Id, invoice_id = i.Id, invoice_number = i.InvoiceNumber, amount = Money.AmountCovered(x.Entries[0].CreditAmount, rate, minor),
                currency = i.Currency, credits = x.Entries[0].CreditAmount, wallet_transaction_id = x.Entries[0].Id,
            }),
        };
        var (results, _) = await writer.ExecuteInAsync(c, tx, [new WalletWriter.Pending(i.TenantId, wallet.Id, op)], CancellationToken.None);
        // Asked to pay all it can and unable to pay all: the rest waits on this wallet's next funds (not a purchase of credits for it).
        var waits = payment.Amount is null && wallet.Status == WalletStatuses.Active && i.WalletId != wallet.Id;
        if (results[0] is not WriteResult.Applied applied)
        {
            if (results[0] is WriteResult.Refused { Why: WalletRefusal.Rejected { Outcome: CommandOutcome.WalletNotActive n } })
                return new InvoiceDecision(null, Refusal: Refusal.OfWallet(WalletRefusal.NotActive(n.Status)));
            if (waits) InvoiceReserve.Wait(writes, i, wallet.Id);
            return new InvoiceDecision(null, Refusal: new Refusal(ErrorCodes.InsufficientBalance, "the wallet has nothing spendable to pay this invoice with"));
        }
        var debit = applied.Entries[0];
        var paid = Money.AmountCovered(debit.CreditAmount, rate, minor);
        if (waits && paid < open) InvoiceReserve.Wait(writes, i, wallet.Id);
        return await PayAsync(i, payment with { Amount = paid, MethodId = wallet.Id }, c, tx, writes, now, debit.Id, inFlight);
    }

    /// <summary>
    /// Records a gateway payment before the gateway is asked, under the invoice's lock, so that a crash mid-call
    /// leaves a payment to reconcile and two requests can never both charge for the same remainder: at most one
    /// gateway payment is in flight per invoice. A payment link asked for again while one is open for the same
    /// amount is that same link.
    /// </summary>
    public async Task<PaymentStart> BeginGatewayPaymentAsync(string tenantId, string invoiceId, string methodType, string? methodId, string gateway,
        decimal amount, IdempotencyClaim? claim, bool saveCard = false)
    {
        PaymentStart? start = null;
        // The claim stays in progress until the payment settles; the settling transaction stores its answer.
        var outcome = await WithInvoiceAsync(tenantId, invoiceId, async (i, c, tx, writes, now) =>
        {
            var inFlight = await InFlightAsync(i, c, tx);
            if (methodType == PaymentMethodTypes.PaymentLink &&
                inFlight.FirstOrDefault(p => p.PaymentMethodType == PaymentMethodTypes.PaymentLink && p.Amount == amount &&
                    p.PaymentStatus == PaymentStatuses.Pending) is { } open)
            {
                if (claim is not null) Idempotency.Complete(writes, tenantId, claim, StoredAnswer.Of(201, PaymentDto.From(open, i.InvoiceNumber)));
                start = new PaymentStart.Existing(i, open);
                return new InvoiceDecision(i, open);
            }
            if (await RefuseAsync(i, amount, inFlight, c, tx) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);
            if (inFlight.Count > 0) return new InvoiceDecision(null, Refusal: InProgress(inFlight));
            // A test payment never starts in a tenant going live at this instant: either going live sees this payment
            // (and is refused), or this sees live mode.
            if (gateway == SandboxGateway.GatewayName && await tenants.ModeWhileWritingAsync(c, tx, tenantId) == Modes.Live)
                return new InvoiceDecision(null, Refusal: new Refusal(ErrorCodes.GatewayNotConfigured, GatewayRegistry.SandboxInLiveMode));
            var status = methodType == PaymentMethodTypes.PaymentLink ? PaymentStatuses.Initiated : PaymentStatuses.Processing;
            var row = new PaymentRow(i.TenantId, ids.New("pay"), claim?.Key, "INVOICE", i.Id, methodType, methodId, gateway, null, amount,
                i.Currency, status, "{}", null, null, null, null, null, now, now, SaveCardAndMakeDefault: saveCard);
            PaymentRow.Insert(writes, row);
            start = new PaymentStart.Started(i, row);
            return new InvoiceDecision(i, row);
        }, EventTypes.InvoicePaymentUpdated, claim is null ? null : new Keyed<InvoiceOutcome.Done>(claim, null));
        return outcome switch
        {
            InvoiceOutcome.Refused r => new PaymentStart.Refused(r.Reason),
            InvoiceOutcome.NotFound => new PaymentStart.NotFound(),
            InvoiceOutcome.KeyUsed k => new PaymentStart.KeyUsed(k.Check),
            _ => start!,
        };
    }

    /// <summary>
    /// A payment link's hosted checkout was created: the link opens, unless the invoice stopped being payable while
    /// the gateway was asked (then the checkout is closed again, and nothing can be paid through it).
    /// </summary>
    public async Task<InvoiceOutcome> OpenPaymentLinkAsync(PaymentRow payment, string url, string gatewaySessionId, string? successUrl, string? cancelUrl,
        string description)
    {
        return await WithInvoiceAsync(payment.TenantId, payment.DestinationId, async (i, c, tx, writes, now) =>
        {
            var current = await LoadPaymentAsync(payment.TenantId, payment.Id, c, tx);
            var open = current.PaymentStatus == PaymentStatuses.Initiated;
            writes.Add(
                """
                INSERT INTO checkout_sessions (tenant_id, id, payment_id, gateway, gateway_session_id, url, status, amount, currency, description,
                    success_url, cancel_url, created_at, expires_at)
                VALUES (@t, @id, @p, @gw, @gs, @url, @status, @amount, @cur, @desc, @ok, @cancel, @now, @exp)
                """,
                ("t", payment.TenantId), ("id", ids.New("cs")), ("p", payment.Id), ("gw", payment.PaymentGateway), ("gs", gatewaySessionId),
                ("url", url), ("status", open ? "open" : "expired"), ("amount", payment.Amount), ("cur", payment.Currency), ("desc", description),
                ("ok", successUrl), ("cancel", cancelUrl), ("now", now), ("exp", now.Add(CheckoutLifetime)));
            if (!open)
            {
                // Answered with this refusal, the request leaves no key behind: a retry meets the same refusal afresh.
                if (payment.IdempotencyKey is { } key) Idempotency.ReleaseInProgress(writes, payment.TenantId, key);
                return new InvoiceDecision(null, Refusal: new Refusal(ErrorCodes.InvoiceNotPayable,
                    "the invoice stopped accepting payments while the link was made; nothing can be paid through it"))
                    { ExpiredCheckouts = [gatewaySessionId] };
            }
            var linked = current with { PaymentStatus = PaymentStatuses.Pending, PaymentUrl = url, UpdatedAt = now };
            PaymentRow.UpdateState(writes, linked);
            if (linked.IdempotencyKey is { } claimed)
                Idempotency.CompleteInProgress(writes, linked.TenantId, claimed, StoredAnswer.Of(201, PaymentDto.From(linked, i.InvoiceNumber)));
            return new InvoiceDecision(i, linked);
        }, EventTypes.InvoicePaymentUpdated);
    }

    /// <summary>How long a payment link stays open.</summary>
    public static readonly TimeSpan CheckoutLifetime = TimeSpan.FromDays(1);

    /// <summary>
    /// Settles a gateway payment once the gateway has answered (or a reconciliation asked it again). Safe to call
    /// any number of times: a settled payment is left alone. Money the gateway says it took is always recorded,
    /// even for a payment already failed here (a link paid in the instant its purchase was cancelled): what the
    /// invoice cannot keep — more than was due, or anything for a voided invoice or a cancelled purchase — becomes
    /// a refund due in the same transaction, never kept silently.
    /// </summary>
    public Task<InvoiceOutcome> SettleAsync(string tenantId, string invoiceId, string paymentId, bool succeeded, string? gatewayPaymentId, string? error,
        bool answersKey = true) =>
        WithInvoiceAsync(tenantId, invoiceId, async (i, c, tx, writes, now) =>
        {
            var decision = await SettleDecisionAsync(i, paymentId, succeeded, gatewayPaymentId, error, c, tx, writes, now);
            // The request that started the payment is answered by its settlement: a retry with its key replays this.
            if (decision.Payment is { IdempotencyKey: { } key } settled && decision.Refusal is null)
            {
                if (answersKey) Idempotency.CompleteInProgress(writes, tenantId, key, StoredAnswer.Of(201, PaymentDto.From(settled, i.InvoiceNumber)));
                else Idempotency.ReleaseInProgress(writes, tenantId, key);
            }
            return decision;
        }, EventTypes.InvoicePaymentUpdated);

    async Task<InvoiceDecision> SettleDecisionAsync(InvoiceRow i, string paymentId, bool succeeded, string? gatewayPaymentId, string? error,
        DbConnection c, DbTransaction tx, SqlBatch writes, DateTimeOffset now)
    {
            var tenantId = i.TenantId;
            var payment = await c.QuerySingleAsync(tx, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
                PaymentRow.Read, ("t", tenantId), ("id", paymentId));
            if (payment is null || payment.DestinationId != i.Id) return new InvoiceDecision(null, Refusal: Refusal.NotFound("payment"));
            var inFlight = payment.PaymentStatus is PaymentStatuses.Processing or PaymentStatuses.Pending or PaymentStatuses.Initiated;
            if (!succeeded)
            {
                if (!inFlight) return new InvoiceDecision(i, payment);
                var failed = payment with { PaymentStatus = PaymentStatuses.Failed, FailedAt = now, ErrorMessage = error, GatewayPaymentId = gatewayPaymentId, UpdatedAt = now };
                PaymentRow.UpdateState(writes, failed);
                outbox.Add(writes, tenantId, EventTypes.PaymentFailed, null, 1, PaymentDto.From(failed, i.InvoiceNumber));
                return new InvoiceDecision(i, failed);
            }
            if (!inFlight && payment.PaymentStatus != PaymentStatuses.Failed) return new InvoiceDecision(i, payment);

            var settled = payment with
            {
                PaymentStatus = PaymentStatuses.Succeeded, SucceededAt = now, FailedAt = null, ErrorMessage = null,
                GatewayPaymentId = gatewayPaymentId ?? payment.GatewayPaymentId, UpdatedAt = now,
            };
            outbox.Add(writes, tenantId, EventTypes.PaymentSucceeded, null, 1, PaymentDto.From(settled, i.InvoiceNumber));
            var cancelled = i.InvoiceStatus != InvoiceStatuses.Finalized || await PurchaseCancelledAsync(i, c, tx);
            var kept = cancelled ? 0m : Math.Min(settled.Amount, i.AmountRemaining);
            var paidNow = i.AmountPaid + settled.Amount;
            var after = i with { AmountPaid = paidNow };
            if (kept > 0 && i.AmountPaid + kept >= i.AmountDue)
            {
                after = after with { PaymentStatus = PaymentStatuses.Succeeded, PaidAt = i.PaidAt ?? now };
                // The purchase is still pending here: PurchaseCancelledAsync said so under this same lock.
                await CompletePurchaseAsync(i, c, tx);
            }
            else if (kept > 0) after = after with { PaymentStatus = PaymentStatuses.Pending };
            if (kept < settled.Amount)
            {
                var why = cancelled ? (i.InvoiceStatus == InvoiceStatuses.Voided ? "the invoice was voided" : "the credit purchase was cancelled")
                    : "more than the invoice's remaining amount";
                settled = RefundDue(writes, settled, settled.Amount - kept, why, now);
            }
            else PaymentRow.UpdateState(writes, settled);
            return new InvoiceDecision(after, settled);
    }

    /// <summary>
    /// Voids the invoice in this transaction: links still open stop working (their payments fail, their sessions
    /// expire here, and at the gateway once this commits), and every payment already received and not refunded
    /// becomes a refund due, so money for something cancelled is never kept silently. A charge still in flight
    /// is refunded when it settles (see <see cref="SettleAsync"/>).
    /// </summary>
    async Task<InvoiceDecision> CancelAsync(InvoiceRow i, string why, DbConnection c, DbTransaction tx, SqlBatch writes, DateTimeOffset now)
    {
        var expired = new List<string>();
        foreach (var p in await PaymentsAsync(i, c, tx))
        {
            if (p.PaymentMethodType == PaymentMethodTypes.PaymentLink && p.PaymentStatus is PaymentStatuses.Pending or PaymentStatuses.Initiated)
            {
                var failed = p with { PaymentStatus = PaymentStatuses.Failed, FailedAt = now, ErrorMessage = $"cancelled: {why}", UpdatedAt = now };
                PaymentRow.UpdateState(writes, failed);
                outbox.Add(writes, i.TenantId, EventTypes.PaymentFailed, null, 1, PaymentDto.From(failed, i.InvoiceNumber));
                expired.AddRange(await c.QueryAsync(tx,
                    "SELECT gateway_session_id FROM checkout_sessions WHERE tenant_id = @t AND payment_id = @p AND status = 'open'",
                    r => r.Str("gateway_session_id"), ("t", i.TenantId), ("p", p.Id)));
                writes.Add("UPDATE checkout_sessions SET status = 'expired' WHERE tenant_id = @t AND payment_id = @p AND status = 'open'",
                    ("t", i.TenantId), ("p", p.Id));
            }
            else if (p.PaymentStatus is PaymentStatuses.Succeeded or PaymentStatuses.PartiallyRefunded && p.Amount > p.RefundedAmount)
            {
                RefundDue(writes, p, p.Amount - p.RefundedAmount, why, now);
            }
        }
        return new InvoiceDecision(i with { InvoiceStatus = InvoiceStatuses.Voided, VoidedAt = now }) { ExpiredCheckouts = expired };
    }

    /// <summary>
    /// Money received that the invoice cannot keep is recorded as a refund due, in the caller's transaction: back
    /// to the card through the gateway for a gateway payment (status <c>pending</c>; the reconciler asks the
    /// gateway, keyed by the refund's id), or for payout elsewhere otherwise (<c>pending_payout</c>). The
    /// payment's refunded amount reserves it at once, so nothing can refund it twice.
    /// </summary>
    PaymentRow RefundDue(SqlBatch writes, PaymentRow p, decimal amount, string why, DateTimeOffset now)
    {
        var viaGateway = p.PaymentGateway is not null;
        var (destination, status) = viaGateway ? ("original", "pending") : ("offline", "pending_payout");
        var refundId = ids.New("refund");
        var reason = $"refund due: {why}";
        writes.Add(
            """
            INSERT INTO refunds (tenant_id, id, wallet_id, payment_id, amount, currency, destination, status, details, created_at, reason)
            VALUES (@t, @id, NULL, @p, @amount, @cur, @dest, @status, '[]', @now, @reason)
            """,
            ("t", p.TenantId), ("id", refundId), ("p", p.Id), ("amount", amount), ("cur", p.Currency), ("dest", destination),
            ("status", status), ("now", now), ("reason", reason));
        var after = p with { RefundedAmount = p.RefundedAmount + amount, UpdatedAt = now };
        PaymentRow.UpdateState(writes, after);
        outbox.Add(writes, p.TenantId, EventTypes.PaymentRefundDue, null, 1, new
        {
            id = refundId, payment_id = p.Id, invoice_id = p.DestinationId, amount, currency = p.Currency, destination, status, reason, created_at = now,
        });
        return after;
    }

    static Refusal? Closed(InvoiceRow i) =>
        i.InvoiceStatus == InvoiceStatuses.Voided || i.PaymentStatus == PaymentStatuses.Failed
            ? new Refusal(ErrorCodes.InvoiceNotPayable,
                i.WalletTransactionId is not null
                    ? $"the credit purchase of this invoice was cancelled (the invoice is {(i.InvoiceStatus == InvoiceStatuses.Voided ? "VOIDED" : "FAILED")}); it accepts no payment"
                    : $"the invoice is {(i.InvoiceStatus == InvoiceStatuses.Voided ? "VOIDED" : "FAILED")} and accepts no payment")
            : null;

    /// <summary>Whether the invoice accepts a payment at all: finalized, not void or failed, its purchase still pending, something due.</summary>
    async Task<Refusal?> UnpayableAsync(InvoiceRow i, DbConnection c, DbTransaction tx) =>
        Closed(i)
        ?? (await PurchaseCancelledAsync(i, c, tx)
            ? new Refusal(ErrorCodes.InvoiceNotPayable, "the credit purchase of this invoice was cancelled (its wallet was closed); it accepts no payment")
            : null)
        ?? (i.InvoiceStatus != InvoiceStatuses.Finalized ? Refusal.Invalid($"only a FINALIZED invoice can be paid; this one is {i.InvoiceStatus}")
            : i.AmountRemaining <= 0 ? Refusal.Invalid("the invoice is already paid")
            : null);

    /// <summary>
    /// The rule for an amount, read under the invoice's lock: what can be paid now is the total less what was paid
    /// less what is on its way through a gateway.
    /// </summary>
    async Task<Refusal?> RefuseAsync(InvoiceRow i, decimal amount, IReadOnlyList<PaymentRow> inFlight, DbConnection c, DbTransaction tx)
    {
        if (await UnpayableAsync(i, c, tx) is { } refusal) return refusal;
        if (amount <= 0) return inFlight.Count > 0 ? InProgress(inFlight) : Refusal.Invalid("amount must be greater than zero");
        var open = i.AmountRemaining - inFlight.Sum(p => p.Amount);
        if (amount > open)
            return inFlight.Count > 0 && amount <= i.AmountRemaining
                ? InProgress(inFlight)
                : Refusal.Invalid($"amount {amount} is more than the {i.AmountRemaining} {i.Currency} remaining");
        if (Money.Scale(amount) > Currencies.MinorUnits(i.Currency.ToUpperInvariant()))
            return Refusal.Invalid($"amount has more decimal places than {i.Currency} allows");
        return null;
    }

    static Refusal InProgress(IReadOnlyList<PaymentRow> inFlight) => new Refusal(ErrorCodes.PaymentInProgress,
        $"payment {inFlight[0].Id} of {inFlight[0].Amount} {inFlight[0].Currency} is in progress on this invoice; wait for it to settle " +
        $"(POST /v1/payments/{inFlight[0].Id}/process asks the gateway now)");

    static async Task<PaymentRow> LoadPaymentAsync(string tenantId, string id, DbConnection c, DbTransaction tx) =>
        await c.QuerySingleAsync(tx, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND id = @id",
            PaymentRow.Read, ("t", tenantId), ("id", id)) ?? throw new InvalidOperationException($"payment {id} vanished");

    static Task<List<PaymentRow>> PaymentsAsync(InvoiceRow i, DbConnection c, DbTransaction tx) =>
        c.QueryAsync(tx, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t AND destination_id = @i ORDER BY created_at, id",
            PaymentRow.Read, ("t", i.TenantId), ("i", i.Id));

    /// <summary>Gateway payments of the invoice whose outcome is not known yet; read under the invoice's lock.</summary>
    static async Task<List<PaymentRow>> InFlightAsync(InvoiceRow i, DbConnection c, DbTransaction tx) =>
        (await PaymentsAsync(i, c, tx)).Where(p => p.PaymentStatus is PaymentStatuses.Initiated or PaymentStatuses.Pending or PaymentStatuses.Processing).ToList();

    /// <summary>
    /// Charges whose money may be moving right now: these hold off a cancellation, which would take the money and
    /// cancel what it pays for. An open payment link does not: cancelling closes it.
    /// </summary>
    static async Task<List<PaymentRow>> ChargingAsync(InvoiceRow i, DbConnection c, DbTransaction tx) =>
        (await InFlightAsync(i, c, tx)).Where(p => p.PaymentStatus == PaymentStatuses.Processing).ToList();

    /// <summary>A credit purchase whose pending credit has failed (its wallet was closed, or the purchase was failed) can never complete.</summary>
    static async Task<bool> PurchaseCancelledAsync(InvoiceRow i, DbConnection c, DbTransaction tx) =>
        i.WalletTransactionId is not null &&
        await c.QuerySingleAsync(tx, "SELECT transaction_status FROM wallet_transactions WHERE tenant_id = @t AND id = @id",
            r => r.Str("transaction_status"), ("t", i.TenantId), ("id", i.WalletTransactionId)) == TransactionStatuses.Failed;

    async Task<InvoiceDecision> PayAsync(
        InvoiceRow i, PaymentInput payment, DbConnection c, DbTransaction tx, SqlBatch writes, DateTimeOffset now, string? walletTransactionId = null,
        IReadOnlyList<PaymentRow>? inFlight = null)
    {
        inFlight ??= await InFlightAsync(i, c, tx);
        var amount = payment.Amount ?? i.AmountRemaining - inFlight.Sum(p => p.Amount);
        if (await RefuseAsync(i, amount, inFlight, c, tx) is { } refusal) return new InvoiceDecision(null, Refusal: refusal);

        var metadata = payment.Source is null ? payment.Metadata : Json.Serialize(new Dictionary<string, string> { ["source"] = payment.Source });
        var row = new PaymentRow(i.TenantId, ids.New("pay"), payment.IdempotencyKey, "INVOICE", i.Id, payment.MethodType, payment.MethodId,
            null, null, amount, i.Currency, PaymentStatuses.Succeeded, metadata, now, null, null, null, walletTransactionId, now, now);
        PaymentRow.Insert(writes, row);
        var paidNow = i.AmountPaid + amount;
        var after = i with { AmountPaid = paidNow };
        if (paidNow >= i.AmountDue)
        {
            after = after with { PaymentStatus = PaymentStatuses.Succeeded, PaidAt = now };
            // Still pending: UnpayableAsync read the purchase under this lock.
            await CompletePurchaseAsync(i, c, tx);
        }
        else after = after with { PaymentStatus = PaymentStatuses.Pending };
        outbox.Add(writes, i.TenantId, EventTypes.PaymentSucceeded, null, 1, PaymentDto.From(row, i.InvoiceNumber));
        return new InvoiceDecision(after, row);
    }

    /// <summary>
    /// The paid invoice of a credit purchase grants its credits, in this same transaction. The caller has read,
    /// under the invoice's lock, that the purchase is still pending; anything else is a bug, never a silent no-op.
    /// </summary>
    async Task CompletePurchaseAsync(InvoiceRow i, DbConnection c, DbTransaction tx)
    {
        if (i.WalletId is null || i.WalletTransactionId is null) return;
        var results = await OnPurchaseAsync(i, c, tx, id => new WalletCommand.CompletePending(id));
        if (results.FirstOrDefault(r => r is not WriteResult.Applied) is { } failed)
            throw new InvalidOperationException($"the purchase of invoice {i.Id} could not be completed: {failed}");
    }

    /// <summary>The purchase's pending credits (the credits, and a package's bonus) move together.</summary>
    async Task<WriteResult[]> OnPurchaseAsync(InvoiceRow i, DbConnection c, DbTransaction tx, Func<string, WalletCommand> command)
    {
        var pending = new[] { i.WalletTransactionId, i.BonusTransactionId }.OfType<string>()
            .Select(id => new WalletWriter.Pending(i.TenantId, i.WalletId!, new WalletOperation(_ => command(id), new EntryDetails(), null, _ => new { })))
            .ToList();
        var (results, _) = await writer.ExecuteInAsync(c, tx, pending, CancellationToken.None);
        return results;
    }

    async Task FailPurchaseAsync(InvoiceRow i, DbConnection c, DbTransaction tx)
    {
        if (i.WalletId is null || i.WalletTransactionId is null) return;
        await OnPurchaseAsync(i, c, tx, id => new WalletCommand.FailPending(id));
    }

    /// <summary>
    /// Locks the invoice, decides, writes. With <paramref name="keyed"/>, the key is claimed right after the lock
    /// (a replay or a refusal changes nothing) and the answer stored in the same transaction.
    /// </summary>
    internal async Task<InvoiceOutcome> WithInvoiceAsync(
        string tenantId, string id, Func<InvoiceRow, DbConnection, DbTransaction, SqlBatch, DateTimeOffset, Task<InvoiceDecision>> decide,
        string eventType, Keyed<InvoiceOutcome.Done>? keyed = null)
    {
        InvoiceDecision decision;
        InvoiceOutcome.Done done;
        await using (var scope = await db.BeginWriteAsync())
        {
            var c = scope.Connection;
            var tx = scope.Transaction;
            LockOrder.Take(tx, LockOrder.Level.Invoice, id);
            var invoice = await c.QuerySingleAsync(tx,
                $"SELECT {InvoiceRow.Columns} FROM invoices WHERE tenant_id = @t AND id = @id{db.ForUpdate}",
                InvoiceRow.Read, ("t", tenantId), ("id", id));
            if (invoice is null) return new InvoiceOutcome.NotFound();
            var now = clock.GetUtcNow();
            if (keyed is not null && await Idempotency.ClaimAsync(c, tx, tenantId, keyed.Claim, now) is not IdempotencyCheck.Claimed and var used)
                return new InvoiceOutcome.KeyUsed(used);
            var writes = new SqlBatch();
            decision = await decide(invoice, c, tx, writes, now);
            if (decision.Refusal is { } refusal)
            {
                // A refusal changes nothing but may still record what it found (a checkout made too late, closed again).
                if (writes.Count > 0)
                {
                    // The refused request's key must not outlive it.
                    if (keyed is not null) Idempotency.Release(writes, tenantId, keyed.Claim);
                    await writes.ExecuteAsync(c, tx);
                    await scope.CommitAsync();
                    await ExpireCheckoutsAsync(tenantId, decision.ExpiredCheckouts);
                }
                return new InvoiceOutcome.Refused(refusal);
            }
            var after = decision.After!;
            if (after != invoice)
            {
                after = after with { Version = invoice.Version + 1, UpdatedAt = now };
                InvoiceRow.UpdateState(writes, after);
                outbox.Add(writes, tenantId, eventType, null, after.Version, InvoiceDtos.Invoice(after, null));
            }
            done = new InvoiceOutcome.Done(after, decision.Payment);
            if (keyed?.Answer is { } answer) Idempotency.Complete(writes, tenantId, keyed.Claim, await answer(done));
            await writes.ExecuteAsync(c, tx);
            await scope.CommitAsync();
        }
        await ExpireCheckoutsAsync(tenantId, decision.ExpiredCheckouts);
        return done;
    }

    /// <summary>
    /// Closes at the gateway the hosted checkouts of an invoice that no longer accepts money. Best effort: a
    /// checkout paid anyway is settled as a refund due when its report arrives (webhook or reconciler).
    /// </summary>
    async Task ExpireCheckoutsAsync(string tenantId, IReadOnlyList<string> sessions)
    {
        if (sessions.Count == 0) return;
        var gateway = await gateways.ForTenantAsync(tenantId);
        if (gateway is null)
        {
            log.LogWarning("tenant {Tenant} has no usable gateway to expire {Count} checkout session(s); a payment through one becomes a refund due", tenantId, sessions.Count);
            return;
        }
        foreach (var session in sessions)
        {
            try { await gateway.ExpireCheckoutAsync(session, CancellationToken.None); }
            catch (Exception e)
            {
                log.LogWarning(e, "could not expire checkout session {Session} at {Gateway}; a payment through it becomes a refund due", session, gateway.Name);
            }
        }
    }
}
