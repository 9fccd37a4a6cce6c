using System.Net;
using System.Text.Json.Nodes;
using Coffer.Expiry;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Storage;

namespace Coffer.Tests;

public sealed class PaymentEdgeTestsOnSqlite() : PaymentEdgeTests(Store.Sqlite);
public sealed class PaymentEdgeTestsOnPostgres() : PaymentEdgeTests(Store.Postgres);

/// <summary>
/// Money at the payment edges: payments racing each other, purchases cancelled while money is in flight, a
/// gateway whose answer is lost. Each test also checks that what the (sandbox) gateway took equals what Coffer
/// recorded as received less what it refunded or owes back.
/// </summary>
public abstract class PaymentEdgeTests(Store store) : ApiTest(store)
{
    const string GoodCard = "4242424242424242";

    async Task<string> SaveCard(string customer, string number) =>
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = number })).Ok(201).S("id");

    async Task<string> Finalized(string customer, string amount) =>
        (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED" }))
        .Ok(201).S("id");

    Task<(int Status, JsonNode? Body)> Pay(string invoice, string amount, string method, string? methodId = null, string? key = null) =>
        Api.Post("/v1/payments", new
        {
            amount, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = method,
            payment_method_id = methodId, idempotency_key = key ?? Guid.NewGuid().ToString("N"),
        });

    async Task<JsonNode> Invoice(string id) => (await Api.Get($"/v1/invoices/{id}")).Ok();

    async Task<(string Wallet, string Invoice)> BuyWithInvoice(string credits, string customer)
    {
        var wallet = (await Api.Post("/v1/wallets", new { customer_id = customer, currency = "usd" })).Ok().S("id");
        var invoice = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok().S("invoice_id");
        return (wallet, invoice);
    }

    /// <summary>What the sandbox gateway moved: charges (cards and hosted checkouts) and refunds.</summary>
    async Task<(decimal Charged, decimal Refunded)> GatewayTotals()
    {
        await using var c = await App.Service<Database>().OpenAsync();
        var rows = await c.QueryAsync(null, "SELECT kind, outcome, amount FROM sandbox_charges", r => (Kind: r.Str("kind"), Outcome: r.Str("outcome"), Amount: r.Dec("amount")));
        return (rows.Where(r => r.Kind != "refund" && r.Outcome == "succeeds").Sum(r => r.Amount), rows.Where(r => r.Kind == "refund").Sum(r => r.Amount));
    }

    async Task<List<(string Status, string Destination, decimal Amount)>> Refunds(string payment)
    {
        await using var c = await App.Service<Database>().OpenAsync();
        return await c.QueryAsync(null, "SELECT status, destination, amount FROM refunds WHERE payment_id = @p ORDER BY created_at",
            r => (r.Str("status"), r.Str("destination"), r.Dec("amount")), ("p", payment));
    }

    [Fact]
    public async Task ParallelCardPaymentsOnOneInvoiceChargeTheAmountDueOnce()
    {
        // Root cause: the remaining-amount check ran outside the invoice's lock and ignored payments in flight.
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, GoodCard);
        var invoice = await Finalized(customer, "5");

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Pay(invoice, "5", "CARD", card)));

        Assert.Single(answers, a => a.Status == 201);
        Assert.All(answers.Where(a => a.Status != 201), a => Assert.Contains(a.Error(a.Status), new[] { "payment_in_progress", "validation_failed" }));
        var after = await Invoice(invoice);
        Assert.Equal(("5", "SUCCEEDED"), (after.S("amount_paid"), after.S("payment_status")));
        Assert.Equal((5m, 0m), await GatewayTotals());
    }

    [Fact]
    public async Task ParallelPaymentLinksForOneRemainderAreOneLink()
    {
        var invoice = await Finalized((await CreateCustomer()).S("id"), "6");

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Pay(invoice, "6", "PAYMENT_LINK")));

        // Each answer is the one open link, or a refusal while it was still being made; never a second link.
        var links = answers.Where(a => a.Status == 201).Select(a => a.Body!.S("id")).Distinct().ToList();
        Assert.Single(links);
        Assert.All(answers.Where(a => a.Status != 201), a => Assert.Equal("payment_in_progress", a.Error(409)));
        var payments = (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]!.AsArray();
        Assert.Single(payments);
        // While the link is open a card cannot pay the same remainder.
        var card = await SaveCard((await Invoice(invoice)).S("customer_id"), GoodCard);
        Assert.Equal("payment_in_progress", (await Pay(invoice, "6", "CARD", card)).Error(409));
    }

    [Fact]
    public async Task AChargeWhoseAnswerWasLostIsReconciledOnceAndNeverChargedAgain()
    {
        // Root cause: a payment left PROCESSING stayed there; a retry with a new key charged the card again, and the
        // purchase time-out later failed the purchase although the card had been charged.
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, SandboxGateway.ChargedThenTimesOutCard);
        var (wallet, invoice) = await BuyWithInvoice("30", customer);

        var first = (await Pay(invoice, "30", "CARD", card)).Ok(201);
        Assert.Equal("PROCESSING", first.S("payment_status"));
        Assert.Equal("0", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("payment_in_progress", (await Pay(invoice, "30", "CARD", card)).Error(409));
        Assert.Equal("payment_in_progress", (await Pay(invoice, "30", "OFFLINE")).Error(409));
        Assert.Equal("payment_in_progress", (await Api.Put($"/v1/invoices/{invoice}/payment", new { payment_status = "FAILED" })).Error(409));

        // Long past the purchase time-out, the sweep leaves a purchase with money in flight alone.
        App.Clock.Advance(TimeSpan.FromDays(31));
        await App.Service<ExpirySweeper>().SweepOnceAsync();
        Assert.Equal("FINALIZED", (await Invoice(invoice)).S("invoice_status"));

        var settled = (await Api.Post($"/v1/payments/{first.S("id")}/process")).Ok();
        Assert.Equal("SUCCEEDED", settled.S("payment_status"));
        Assert.Equal("30", (await Wallet(wallet)).S("credit_balance"));
        // Asking again, by hand or by the reconciler, changes nothing more.
        (await Api.Post($"/v1/payments/{first.S("id")}/process")).Ok();
        await App.Service<PaymentReconciler>().RunOnceAsync();
        Assert.Equal("30", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal(("30", "SUCCEEDED"), ((await Invoice(invoice)).S("amount_paid"), (await Invoice(invoice)).S("payment_status")));
        Assert.Equal((30m, 0m), await GatewayTotals());
    }

    [Fact]
    public async Task TheReconcilerSettlesAPaymentLeftInFlightAfterItsGracePeriod()
    {
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, SandboxGateway.ChargedThenTimesOutCard);
        var invoice = await Finalized(customer, "12");
        var payment = (await Pay(invoice, "12", "CARD", card)).Ok(201).S("id");

        await App.Service<PaymentReconciler>().RunOnceAsync();
        Assert.Equal("PROCESSING", (await Api.Get($"/v1/payments/{payment}")).Ok().S("payment_status"));

        App.Clock.Advance(TimeSpan.FromMinutes(2));
        // Two nodes at once: the lease gives the payment to one of them, and either way it settles once.
        await Task.WhenAll(App.Service<PaymentReconciler>().RunOnceAsync(), App.Service<PaymentReconciler>().RunOnceAsync());
        Assert.Equal("SUCCEEDED", (await Api.Get($"/v1/payments/{payment}")).Ok().S("payment_status"));
        Assert.Equal("12", (await Invoice(invoice)).S("amount_paid"));
        Assert.Equal((12m, 0m), await GatewayTotals());
    }

    [Fact]
    public async Task AFailedPurchaseVoidsItsInvoiceAndRefusesEveryPaymentMethod()
    {
        // Root cause: after FAILED an OFFLINE payment was refused, but a payment link was still issued and paid.
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, GoodCard);
        var (wallet, invoice) = await BuyWithInvoice("6", customer);

        (await Api.Put($"/v1/invoices/{invoice}/payment", new { payment_status = "FAILED" })).Ok();

        Assert.Equal(("VOIDED", "FAILED"), ((await Invoice(invoice)).S("invoice_status"), (await Invoice(invoice)).S("payment_status")));
        foreach (var (method, id) in new[] { ("PAYMENT_LINK", (string?)null), ("OFFLINE", null), ("CARD", card), ("CREDITS", null) })
            Assert.Equal("invoice_not_payable", (await Pay(invoice, "6", method, id)).Error(422));
        Assert.Equal("invoice_not_payable", (await Api.Put($"/v1/invoices/{invoice}/payment", new { payment_status = "SUCCEEDED" })).Error(422));
        Assert.Equal(("0", "0"), ((await Invoice(invoice)).S("amount_paid"), (await Wallet(wallet)).S("credit_balance")));
        Assert.Equal((0m, 0m), await GatewayTotals());
    }

    [Fact]
    public async Task AnOpenLinkStopsWorkingWhenItsWalletIsClosedAndMoneyPaidInThatInstantIsRefunded()
    {
        var customer = (await CreateCustomer()).S("id");
        var (wallet, invoice) = await BuyWithInvoice("6", customer);
        var link = (await Pay(invoice, "6", "PAYMENT_LINK")).Ok(201);
        var path = new Uri(link.S("payment_url")).AbsolutePath;
        var session = path.Split('/')[^1];

        (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();

        Assert.Equal("VOIDED", (await Invoice(invoice)).S("invoice_status"));
        Assert.Equal("FAILED", (await Api.Get($"/v1/payments/{link.S("id")}")).Ok().S("payment_status"));
        using var browser = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(path)).StatusCode);
        var refused = await browser.PostAsync(path, new FormUrlEncodedContent([new("card_number", GoodCard)]));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);

        // The customer's card went through at the very instant of the close (the gateway reports it afterwards):
        // the money is recorded and owed back, never kept and never granted to the closed wallet.
        var payments = App.Service<PaymentService>();
        await App.Service<GatewayRegistry>().Sandbox(link.S("tenant_id")).PayCheckoutAsync(GoodCard, link.S("id"), 6m, "usd");
        await payments.CompleteCheckoutAsync((await payments.FindCheckoutAsync("sandbox", session))!, true, "sbx_ch_" + link.S("id"), null);
        var paid = (await Api.Get($"/v1/payments/{link.S("id")}")).Ok();
        Assert.Equal("SUCCEEDED", paid.S("payment_status"));
        Assert.Equal([("pending", "original", 6m)], await Refunds(link.S("id")));
        Assert.Equal("0", (await Wallet(wallet)).S("credit_balance"));

        App.Clock.Advance(TimeSpan.FromMinutes(2));
        await App.Service<PaymentReconciler>().RunOnceAsync();
        Assert.Equal([("succeeded", "original", 6m)], await Refunds(link.S("id")));
        Assert.Equal("REFUNDED", (await Api.Get($"/v1/payments/{link.S("id")}")).Ok().S("payment_status"));
        Assert.Equal((6m, 6m), await GatewayTotals());
    }

    [Fact]
    public async Task APartialPaymentMadeBeforeACloseBecomesARefundDue()
    {
        // Root cause: the close left a partial payment out of the closing refund and the invoice payable for the rest.
        var customer = (await CreateCustomer()).S("id");
        var (wallet, invoice) = await BuyWithInvoice("6", customer);
        var partial = (await Pay(invoice, "2", "OFFLINE")).Ok(201).S("id");

        (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();

        Assert.Equal("VOIDED", (await Invoice(invoice)).S("invoice_status"));
        Assert.Equal([("pending_payout", "offline", 2m)], await Refunds(partial));
        Assert.Equal("invoice_not_payable", (await Pay(invoice, "4", "OFFLINE")).Error(422));
    }

    [Fact]
    public async Task APaymentRetriedWithItsKeyReplaysItsFirstAnswerAndAnotherRequestWithTheKeyIsRefused()
    {
        var customer = (await CreateCustomer()).S("id");
        var invoice = await Finalized(customer, "10");
        var body = new { amount = "4", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "OFFLINE", idempotency_key = "pay-once" };
        using var first = await Api.PostAsync("/v1/payments", System.Net.Http.Json.JsonContent.Create(body));
        using var again = await Api.PostAsync("/v1/payments", System.Net.Http.Json.JsonContent.Create(body));
        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (first.StatusCode, again.StatusCode));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.Equal("idempotency_key_reused", (await Pay(invoice, "5", "OFFLINE", key: "pay-once")).Error(409));
        Assert.Equal("4", (await Invoice(invoice)).S("amount_paid"));

        // A card whose answer was lost: the retry with its key reconciles the first payment instead of charging again.
        var card = await SaveCard(customer, SandboxGateway.ChargedThenTimesOutCard);
        var lost = (await Pay(invoice, "6", "CARD", card, key: "card-once")).Ok(201);
        Assert.Equal("PROCESSING", lost.S("payment_status"));
        var retried = (await Pay(invoice, "6", "CARD", card, key: "card-once")).Ok(201);
        Assert.Equal((lost.S("id"), "SUCCEEDED"), (retried.S("id"), retried.S("payment_status")));
        var replayed = await Pay(invoice, "6", "CARD", card, key: "card-once");
        Assert.Equal(retried.ToJsonString(), replayed.Ok(201).ToJsonString());
        Assert.Equal(("10", "SUCCEEDED"), ((await Invoice(invoice)).S("amount_paid"), (await Invoice(invoice)).S("payment_status")));
        Assert.Equal((6m, 0m), await GatewayTotals());
    }

    [Fact]
    public async Task ACardRefundWhoseAnswerWasLostIsFinishedByTheReconciler()
    {
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, GoodCard);
        var invoice = await Finalized(customer, "10");
        var payment = (await Pay(invoice, "10", "CARD", card)).Ok(201).S("id");
        // A refund reserved but never asked of the gateway: what a crash right after the reservation leaves.
        await using (var scope = await App.Service<Database>().BeginWriteAsync())
        {
            await scope.Connection.ExecAsync(scope.Transaction,
                """
                INSERT INTO refunds (tenant_id, id, wallet_id, payment_id, amount, currency, destination, status, details, created_at)
                SELECT tenant_id, 'refund_stuck', NULL, id, 4, currency, 'original', 'pending', '[]', created_at FROM payments WHERE id = @p
                """, ("p", payment));
            await scope.Connection.ExecAsync(scope.Transaction, "UPDATE payments SET refunded_amount = 4 WHERE id = @p", ("p", payment));
            await scope.CommitAsync();
        }

        App.Clock.Advance(TimeSpan.FromMinutes(2));
        await App.Service<PaymentReconciler>().RunOnceAsync();
        await App.Service<PaymentReconciler>().RunOnceAsync();

        Assert.Equal([("succeeded", "original", 4m)], await Refunds(payment));
        var after = (await Api.Get($"/v1/payments/{payment}")).Ok();
        Assert.Equal("PARTIALLY_REFUNDED", after.S("payment_status"));
        Assert.Equal("4", (await Invoice(invoice)).S("refunded_amount"));
        Assert.Equal((10m, 4m), await GatewayTotals());
    }
}
