using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class InvoiceTestsOnSqlite() : InvoiceTests(Store.Sqlite);
public sealed class InvoiceTestsOnPostgres() : InvoiceTests(Store.Postgres);

public abstract class InvoiceTests(Store store) : ApiTest(store)
{
    async Task<(string Wallet, string Invoice, string Transaction)> BuyWithInvoice(string credits = "100", object? wallet = null)
    {
        var id = (await CreateWallet(wallet ?? new { topup_conversion_rate = "0.5" })).S("id");
        var r = (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        return (id, r.S("invoice_id"), r["wallet_transaction"]!.S("id"));
    }

    async Task<JsonNode> Invoice(string id) => (await Api.Get($"/v1/invoices/{id}")).Ok();

    async Task<string> TransactionStatus(string wallet, string transaction) =>
        (await Transactions(wallet)).Single(t => t!.S("id") == transaction)!.S("transaction_status");

    [Fact]
    public async Task UpdatingAnInvoiceChangesWhatIsGivenAndKeepsTheRest()
    {
        var (_, invoiceId, _) = await BuyWithInvoice();
        var due = (await Invoice(invoiceId)).S("due_date");

        var tagged = (await Api.Put($"/v1/invoices/{invoiceId}", new { metadata = new { po = "PO-7" } })).Ok();
        Assert.Equal((due, "PO-7"), (tagged.S("due_date"), tagged["metadata"]!.S("po")));

        var moved = (await Api.Put($"/v1/invoices/{invoiceId}", new { due_date = "2031-01-15T00:00:00Z" })).Ok();
        Assert.Equal("PO-7", moved["metadata"]!.S("po"));
        Assert.Equal(DateTimeOffset.Parse("2031-01-15T00:00:00Z"), DateTimeOffset.Parse(moved.S("due_date")));
        Assert.Equal(moved.S("due_date"), (await Invoice(invoiceId)).S("due_date"));

        Assert.Equal("not_found", (await Api.Put("/v1/invoices/inv_nobody", new { metadata = new { po = "x" } })).Error(404));
    }

    [Fact]
    public async Task TopUpWithInvoiceStaysPendingUntilTheInvoiceIsPaid()
    {
        var (wallet, invoiceId, tx) = await BuyWithInvoice();

        var invoice = await Invoice(invoiceId);
        Assert.Equal(("CREDIT", "FINALIZED", "PENDING", "50"), (invoice.S("invoice_type"), invoice.S("invoice_status"), invoice.S("payment_status"), invoice.S("amount_due")));
        Assert.Equal("100 credits", invoice["line_items"]![0]!.S("display_name"));
        Assert.Equal("pending", await TransactionStatus(wallet, tx));
        Assert.Equal("0", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("insufficient_balance", (await Debit(wallet, "1")).Error(422));

        var paid = (await Api.Put($"/v1/invoices/{invoiceId}/payment", new { payment_status = "SUCCEEDED" })).Ok();

        Assert.Equal(("SUCCEEDED", "50", "0"), (paid.S("payment_status"), paid.S("amount_paid"), paid.S("amount_remaining")));
        Assert.Equal("completed", await TransactionStatus(wallet, tx));
        Assert.Equal("100", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("100", (await Balance(wallet))["credits_available_breakdown"]!.S("purchased"));
        (await Debit(wallet, "100")).Ok();
    }

    [Fact]
    public async Task OfflinePaymentsThatCoverTheAmountCompleteThePurchase()
    {
        var (wallet, invoiceId, tx) = await BuyWithInvoice();
        object Payment(string amount) => new
        {
            amount, currency = "usd", destination_type = "INVOICE", destination_id = invoiceId, payment_method_type = "OFFLINE",
            process_payment = true, save_card_and_make_default = false,
        };

        var first = (await Api.Post("/v1/payments", Payment("20"))).Ok(201);
        Assert.Equal("SUCCEEDED", first.S("payment_status"));
        Assert.Equal("30", (await Invoice(invoiceId)).S("amount_remaining"));
        Assert.Equal("pending", await TransactionStatus(wallet, tx));

        Assert.Equal("validation_failed", (await Api.Post("/v1/payments", Payment("31"))).Error(400));
        (await Api.Post("/v1/payments", Payment("30"))).Ok(201);
        Assert.Equal("SUCCEEDED", (await Invoice(invoiceId)).S("payment_status"));
        Assert.Equal("100", (await Wallet(wallet)).S("credit_balance"));
        var payments = (await Api.Get($"/v1/payments?destination_id={invoiceId}")).Ok();
        Assert.Equal(2, payments["pagination"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task TwoReportsOfTheSamePaymentRacingGrantTheCreditsOnce()
    {
        var (wallet, invoiceId, _) = await BuyWithInvoice();
        var reports = Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? Api.Put($"/v1/invoices/{invoiceId}/payment", new { payment_status = "SUCCEEDED" })
            : Api.Post("/v1/payments", new
            {
                amount = "50", currency = "usd", destination_type = "INVOICE", destination_id = invoiceId, payment_method_type = "OFFLINE",
            }));

        var results = await Task.WhenAll(reports);

        Assert.Equal(1, results.Count(r => r.Status is 200 or 201));
        Assert.All(results.Where(r => r.Status is not (200 or 201)), r => Assert.Equal("validation_failed", r.Error(400)));
        Assert.Equal("100", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("50", (await Invoice(invoiceId)).S("amount_paid"));
    }

    [Fact]
    public async Task VoidingTheInvoiceFailsThePendingCreditAndAPaidInvoiceCannotBeVoided()
    {
        var (wallet, invoiceId, tx) = await BuyWithInvoice();
        Assert.Equal("invoice voided successfully", (await Api.Post($"/v1/invoices/{invoiceId}/void")).Ok().S("message"));
        Assert.Equal("VOIDED", (await Invoice(invoiceId)).S("invoice_status"));
        Assert.Equal("failed", await TransactionStatus(wallet, tx));
        Assert.Equal("invoice_not_payable", (await Api.Put($"/v1/invoices/{invoiceId}/payment", new { payment_status = "SUCCEEDED" })).Error(422));

        var (_, paidInvoice, _) = await BuyWithInvoice();
        (await Api.Put($"/v1/invoices/{paidInvoice}/payment", new { payment_status = "SUCCEEDED" })).Ok();
        Assert.Equal("validation_failed", (await Api.Post($"/v1/invoices/{paidInvoice}/void")).Error(400));
    }

    [Fact]
    public async Task AFailedPaymentFailsThePurchase()
    {
        var (wallet, invoiceId, tx) = await BuyWithInvoice();
        Assert.Equal("FAILED", (await Api.Put($"/v1/invoices/{invoiceId}/payment", new { payment_status = "FAILED" })).Ok().S("payment_status"));
        Assert.Equal("failed", await TransactionStatus(wallet, tx));
        Assert.Equal("0", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task WithAutoCompleteTheCreditsArriveAtOnceAndTheInvoiceIsPaid()
    {
        (await Api.Put("/v1/settings/invoice_config", new { value = new { auto_complete_purchased_credit_transaction = true } })).Ok();
        var (wallet, invoiceId, tx) = await BuyWithInvoice("10");
        Assert.Equal("completed", await TransactionStatus(wallet, tx));
        Assert.Equal("10", (await Wallet(wallet)).S("credit_balance"));
        var invoice = await Invoice(invoiceId);
        Assert.Equal(("SUCCEEDED", "5", "0"), (invoice.S("payment_status"), invoice.S("amount_paid"), invoice.S("amount_remaining")));
    }

    [Fact]
    public async Task AnUnpaidPurchaseFailsAfterTheConfiguredTime()
    {
        (await Api.Put("/v1/settings/invoice_config", new { value = new { pending_purchase_timeout_days = 3 } })).Ok();
        var (wallet, invoiceId, tx) = await BuyWithInvoice();
        var sweeper = App.Service<Expiry.ExpirySweeper>();

        App.Clock.Advance(TimeSpan.FromDays(2));
        Assert.Equal(0, await sweeper.SweepOnceAsync());
        Assert.Equal("pending", await TransactionStatus(wallet, tx));

        App.Clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(1, await sweeper.SweepOnceAsync());
        Assert.Equal("failed", await TransactionStatus(wallet, tx));
        Assert.Equal("FAILED", (await Invoice(invoiceId)).S("payment_status"));
    }

    [Fact]
    public async Task TerminatingAWalletFailsItsPendingPurchaseAndItsInvoiceCanNoLongerBePaid()
    {
        var (wallet, invoiceId, tx) = await BuyWithInvoice();
        (await Api.Post($"/v1/wallets/{wallet}/terminate")).Ok();
        Assert.Equal("failed", await TransactionStatus(wallet, tx));
        // The purchase and its invoice end together: the invoice is voided and refuses every payment.
        Assert.Equal("VOIDED", (await Invoice(invoiceId)).S("invoice_status"));
        Assert.Equal("invoice_not_payable", (await Api.Put($"/v1/invoices/{invoiceId}/payment", new { payment_status = "SUCCEEDED" })).Error(422));
        Assert.Equal("0", (await Invoice(invoiceId)).S("amount_paid"));
    }

    async Task<JsonNode> OneOffInvoice(string customerId, string amount, string currency = "usd") =>
        (await Api.Post("/v1/invoices", new
        {
            customer_id = customerId, currency, amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED",
            line_items = new[] { new { display_name = "Usage (March)", amount, quantity = "1" } },
        })).Ok(201);

    [Fact]
    public async Task AWalletPaysWhatItCanOfAnInvoiceAndTheRestStaysDue()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "40", conversion_rate = "0.5" });
        var customer = wallet.S("customer_id");
        (await Api.Post("/v1/wallets", new { customer_id = customer, currency = "eur", initial_credits_to_load = "1000" })).Ok();
        var invoice = await OneOffInvoice(customer, "30");

        Assert.Equal("payment processed successfully", (await Api.Post($"/v1/invoices/{invoice.S("id")}/payment/attempt")).Ok().S("message"));

        var after = await Invoice(invoice.S("id"));
        Assert.Equal(("20", "10", "PENDING"), (after.S("amount_paid"), after.S("amount_remaining"), after.S("payment_status")));
        var debit = (await Transactions(wallet.S("id"), "&transaction_reason=INVOICE_PAYMENT")).Single()!;
        Assert.Equal(("40", "INVOICE", invoice.S("id")), (debit.S("credit_amount"), debit.S("reference_type"), debit.S("reference_id")));
        Assert.Equal("0", (await Wallet(wallet.S("id"))).S("credit_balance"));
        var eur = (await Api.Get($"/v1/customers/{customer}/wallets")).Ok().AsArray().Single(w => w!.S("currency") == "eur")!;
        Assert.Equal("1000", eur.S("credit_balance"));
        Assert.Equal("insufficient_balance", (await Api.Post($"/v1/invoices/{invoice.S("id")}/payment/attempt")).Error(422));
        await using (var c = await App.Service<Storage.Database>().OpenAsync())
        {
            var made = await Storage.Sql.QueryAsync(c, null, "SELECT payload, payload_packed FROM outbox_events WHERE event_type = 'wallet.payment_made' AND wallet_id = @w",
                r => Storage.PackedJson.Read(r, "payload")!, ("w", wallet.S("id")));
            Assert.Contains("\"amount\":\"20\"", Assert.Single(made));
        }
        var payment = (await Api.Get($"/v1/payments?destination_id={invoice.S("id")}")).Ok()["items"]![0]!;
        Assert.Equal("SUCCEEDED", (await Api.Post($"/v1/payments/{payment.S("id")}/process")).Ok().S("payment_status"));

        await TopUp(wallet.S("id"), "50");
        (await Api.Post($"/v1/invoices/{invoice.S("id")}/payment/attempt")).Ok();
        Assert.Equal("SUCCEEDED", (await Invoice(invoice.S("id"))).S("payment_status"));
        Assert.Equal("30", (await Wallet(wallet.S("id"))).S("credit_balance"));
    }

    [Fact]
    public async Task AnInvoiceIsNeverPaidFromAWalletOfAnotherCurrency()
    {
        var wallet = await CreateWallet(new { currency = "eur", initial_credits_to_load = "100" });
        var invoice = await OneOffInvoice(wallet.S("customer_id"), "5");
        Assert.Equal("not_found", (await Api.Post($"/v1/invoices/{invoice.S("id")}/payment/attempt")).Error(404));
        Assert.Equal("100", (await Wallet(wallet.S("id"))).S("credit_balance"));
    }

    [Fact]
    public async Task InvoicesAreCreatedFinalizedSearchedAndRenderedAsPdf()
    {
        var customer = await CreateCustomer();
        var draft = (await Api.Post("/v1/invoices", new { customer_id = customer.S("id"), currency = "usd", amount_due = "12.5", subtotal = "12.5", total = "12.5" })).Ok(201);
        Assert.Equal("DRAFT", draft.S("invoice_status"));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/invoices/{draft.S("id")}/payment/attempt")).Error(400));
        Assert.Equal("invoice finalized successfully", (await Api.Post($"/v1/invoices/{draft.S("id")}/finalize")).Ok().S("message"));
        var finalized = await Invoice(draft.S("id"));
        Assert.StartsWith("INV-", finalized.S("invoice_number"));
        Assert.Equal("FINALIZED", finalized.S("invoice_status"));

        var search = (await Api.Post("/v1/invoices/search", new { customer_id = customer.S("id"), invoice_status = new[] { "FINALIZED" } })).Ok();
        Assert.Equal(1, search["pagination"]!["total"]!.GetValue<int>());

        var pdf = await Api.GetAsync($"/v1/invoices/{draft.S("id")}/pdf");
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith("%PDF-", System.Text.Encoding.ASCII.GetString(await pdf.Content.ReadAsByteArrayAsync())[..5]);
    }

    [Fact]
    public async Task BadInvoicesAreRefused()
    {
        var customer = (await CreateCustomer()).S("id");
        Assert.Equal("validation_failed", (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "jpy", amount_due = "1.5", subtotal = "1.5", total = "1.5" })).Error(400));
        Assert.Equal("validation_failed", (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "5", subtotal = "4", total = "4" })).Error(400));
        Assert.Equal("not_found", (await Api.Post("/v1/invoices", new { customer_id = "cust_nobody", currency = "usd", amount_due = "5", subtotal = "5", total = "5" })).Error(404));
        Assert.Equal("validation_failed", (await Api.Post("/v1/payments", new { amount = "5", currency = "usd", destination_type = "INVOICE", destination_id = "inv_x", payment_method_type = "CARD" })).Error(400));
    }
}
