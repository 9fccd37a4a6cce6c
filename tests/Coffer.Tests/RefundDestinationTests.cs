using System.Text.Json.Nodes;
using Coffer.Payments;

namespace Coffer.Tests;

public sealed class RefundDestinationTestsOnSqlite() : RefundDestinationTests(Store.Sqlite);
public sealed class RefundDestinationTestsOnPostgres() : RefundDestinationTests(Store.Postgres);

/// <summary>Where refunds go: a card payment as store credit in the wallet, and a wallet's purchased credits back to the cards that bought them.</summary>
public abstract class RefundDestinationTests(Store store) : ApiTest(store)
{
    protected async Task<string> SaveCard(string customer, string number = "4242424242424242") =>
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = number })).Ok(201).S("id");

    protected Task<(int Status, JsonNode? Body)> Pay(string invoice, string amount, string method, string? methodId = null) =>
        Api.Post("/v1/payments", new
        {
            amount, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = method, payment_method_id = methodId,
        });

    async Task<(string Wallet, string Customer, JsonNode Payment)> CardPaidInvoice(string amount)
    {
        var wallet = await CreateWallet(new { topup_conversion_rate = "0.5" });
        var customer = wallet.S("customer_id");
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED" })).Ok(201).S("id");
        var paid = (await Pay(invoice, amount, "CARD", await SaveCard(customer))).Ok(201);
        return (wallet.S("id"), customer, paid);
    }

    /// <summary>Buys credits on an invoice and pays it with the given method: the lot and the payment that bought it.</summary>
    protected async Task<(string Lot, string Payment)> Buy(string wallet, string credits, string method, string? methodId = null)
    {
        var bought = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        var invoice = (await Api.Get($"/v1/invoices/{bought.S("invoice_id")}")).Ok();
        var payment = (await Pay(invoice.S("id"), invoice.S("amount_due"), method, methodId)).Ok(201);
        return (bought["wallet_transaction"]!.S("id"), payment.S("id"));
    }

    protected async Task<List<(string Key, decimal Amount)>> SandboxRefunds()
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        return await Storage.Sql.QueryAsync(c, null, "SELECT idempotency_key, amount FROM sandbox_charges WHERE kind = 'refund' ORDER BY amount",
            r => (r.GetString(0), r.GetDecimal(1)));
    }

    [Fact]
    public async Task StoreCreditForACardPaymentBecomesCreditsAtTheWalletsPriceAndNothingGoesBackToTheCard()
    {
        var (wallet, _, paid) = await CardPaidInvoice("9");

        var refund = (await Api.Post($"/v1/payments/{paid.S("id")}/refund", new { destination = "wallet", amount = "4" })).Ok(201);

        Assert.Equal(("wallet", "succeeded", "4"), (refund["refund"]!.S("destination"), refund["refund"]!.S("status"), refund["refund"]!.S("amount")));
        Assert.Equal("PARTIALLY_REFUNDED", refund["payment"]!.S("payment_status"));
        var lot = Assert.Single(refund["refund"]!["lots"]!.AsArray())!;
        Assert.Equal("8", lot.S("credits"));
        Assert.Equal("8", (await Wallet(wallet)).S("credit_balance"));
        var note = Assert.Single(await Transactions(wallet, "&transaction_reason=CREDIT_NOTE"))!;
        Assert.Equal((lot.S("new_lot_id"), "4", "8"), (note.S("id"), note.S("amount"), note.S("credit_amount")));
        Assert.Empty(await SandboxRefunds());

        // The new lot keeps the price the credits were given at: closing pays back exactly what was refunded into it.
        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();
        Assert.Equal("4", closed["refund"]!.S("amount"));
    }

    [Fact]
    public async Task StoreCreditNeverExceedsWhatIsLeftOfThePayment()
    {
        var (wallet, _, paid) = await CardPaidInvoice("9");
        var id = paid.S("id");

        Assert.Equal("validation_failed", (await Api.Post($"/v1/payments/{id}/refund", new { destination = "wallet", amount = "9.01" })).Error(400));
        (await Api.Post($"/v1/payments/{id}/refund", new { destination = "wallet", amount = "5" })).Ok(201);
        Assert.Equal("validation_failed", (await Api.Post($"/v1/payments/{id}/refund", new { destination = "wallet", amount = "4.01" })).Error(400));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/payments/{id}/refund", new { amount = "4.01" })).Error(400));
        Assert.Equal("REFUNDED", (await Api.Post($"/v1/payments/{id}/refund", new { destination = "wallet" })).Ok(201)["payment"]!.S("payment_status"));
        Assert.Equal("18", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal(2, (await Transactions(wallet, "&transaction_reason=CREDIT_NOTE")).Count);
    }

    [Fact]
    public async Task StoreCreditSubmittedTwiceWithOneKeyIsGivenOnceAndAnotherRequestWithTheKeyIsRefused()
    {
        var (wallet, _, paid) = await CardPaidInvoice("9");
        var path = $"/v1/payments/{paid.S("id")}/refund";
        var body = new { destination = "wallet", amount = "3", idempotency_key = "store-credit-1" };

        var both = await Task.WhenAll(Api.Post(path, body), Api.Post(path, body));
        var again = (await Api.Post(path, body)).Ok(201);

        var ids = both.Select(r => r.Ok(201)["refund"]!.S("id")).Append(again["refund"]!.S("id")).Distinct();
        Assert.Single(ids);
        Assert.Equal("6", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal("idempotency_key_reused", (await Api.Post(path, new { destination = "wallet", amount = "4", idempotency_key = "store-credit-1" })).Error(409));
        Assert.Single(await Transactions(wallet, "&transaction_reason=CREDIT_NOTE"));
        Assert.Equal("PARTIALLY_REFUNDED", (await Api.Get($"/v1/payments/{paid.S("id")}")).Ok().S("payment_status"));
    }

    [Fact]
    public async Task StoreCreditNeedsAnActiveWalletInThePaymentsCurrency()
    {
        var (wallet, _, paid) = await CardPaidInvoice("9");
        (await Api.Post($"/v1/wallets/{wallet}/close", new { })).Ok();

        Assert.Equal("no_active_wallet", (await Api.Post($"/v1/payments/{paid.S("id")}/refund", new { destination = "wallet" })).Error(422));
        Assert.Equal("SUCCEEDED", (await Api.Get($"/v1/payments/{paid.S("id")}")).Ok().S("payment_status"));
    }

    [Fact]
    public async Task ClosingToTheOriginalMethodRefundsEachCardPaymentOnceAndPaysOutTheRestOffline()
    {
        var id = (await CreateWallet(new { topup_conversion_rate = "0.5" })).S("id");
        var customer = (await Wallet(id)).S("customer_id");
        var card = await SaveCard(customer);
        var (first, firstPayment) = await Buy(id, "20", "CARD", card);     // $10
        var (second, secondPayment) = await Buy(id, "10", "CARD", card);   // $5
        var (offline, _) = await Buy(id, "6", "OFFLINE");                  // $3, paid elsewhere
        await TopUp(id, "4");
        (await Debit(id, "5")).Ok(); // from the first lot: 15 credits ($7.50) of it remain

        var closed = (await Api.Post($"/v1/wallets/{id}/close", new { refund = "purchased", refund_destination = "original" })).Ok();

        var refunds = closed["refunds"]!.AsArray().ToDictionary(r => r!["payment_id"]?.GetValue<string>() ?? "offline");
        Assert.Equal(3, refunds.Count);
        Assert.Equal(("original", "succeeded", "7.5"), (refunds[firstPayment]!.S("destination"), refunds[firstPayment]!.S("status"), refunds[firstPayment]!.S("amount")));
        Assert.Equal(("succeeded", "5"), (refunds[secondPayment]!.S("status"), refunds[secondPayment]!.S("amount")));
        Assert.Equal(("offline", "pending_payout", "3"), (refunds["offline"]!.S("destination"), refunds["offline"]!.S("status"), refunds["offline"]!.S("amount")));
        Assert.Equal(closed["refund"]!.S("id"), refunds["offline"]!.S("id"));
        var lots = closed["lots"]!.AsArray().Where(l => l!.S("outcome") == "refunded")
            .ToDictionary(l => l!.S("lot_id"), l => l!["refund_ids"]!.AsArray().Select(x => x!.GetValue<string>()).Single());
        Assert.Equal((refunds[firstPayment]!.S("id"), refunds[secondPayment]!.S("id"), refunds["offline"]!.S("id")), (lots[first], lots[second], lots[offline]));

        Assert.Equal([("refund_" + refunds[secondPayment]!.S("id"), 5m), ("refund_" + refunds[firstPayment]!.S("id"), 7.5m)], await SandboxRefunds());
        var p1 = (await Api.Get($"/v1/payments/{firstPayment}")).Ok();
        var p2 = (await Api.Get($"/v1/payments/{secondPayment}")).Ok();
        Assert.Equal(("PARTIALLY_REFUNDED", "REFUNDED"), (p1.S("payment_status"), p2.S("payment_status")));

        // The reconciler finds nothing left to ask: no second refund.
        App.Clock.Advance(TimeSpan.FromMinutes(2));
        await App.Service<PaymentReconciler>().RunOnceAsync();
        Assert.Equal(2, (await SandboxRefunds()).Count);
    }

    [Fact]
    public async Task AClosingReplayedWithItsKeyRefundsNothingAgain()
    {
        var id = (await CreateWallet()).S("id");
        var (_, payment) = await Buy(id, "8", "CARD", await SaveCard((await Wallet(id)).S("customer_id")));
        var body = new { refund = "purchased", refund_destination = "original", idempotency_key = "close-1" };

        var closed = (await Api.Post($"/v1/wallets/{id}/close", body)).Ok();
        var replayed = (await Api.Post($"/v1/wallets/{id}/close", body)).Ok();

        Assert.Equal(closed["refunds"]![0]!.S("id"), replayed["refunds"]![0]!.S("id"));
        Assert.Single(await SandboxRefunds());
        Assert.Equal("REFUNDED", (await Api.Get($"/v1/payments/{payment}")).Ok().S("payment_status"));
    }

    [Fact]
    public async Task AnUnknownRefundDestinationIsRefusedAndTheWalletStaysOpen()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{id}/close", new { refund = "purchased", refund_destination = "card" })).Error(400));
        Assert.Equal("active", (await Wallet(id)).S("wallet_status"));
    }
}

/// <summary>Closing to the original method through Stripe (the stand-in): a refund Stripe refuses, and one whose answer is lost.</summary>
public sealed class RefundDestinationStripeTests() : ApiTest(Store.Sqlite)
{
    async Task<StripeStandIn> UseStripe()
    {
        var stripe = await StripeStandIn.StartAsync();
        (await Api.Put("/v1/settings/payment_gateway", new
        {
            value = new { provider = "stripe", stripe_secret_key = "sk_test_x", stripe_webhook_secret = "whsec_test", stripe_api_base = stripe.Url },
        })).Ok();
        return stripe;
    }

    async Task<(string Wallet, string Payment)> BoughtByCard(string credits)
    {
        var id = (await CreateWallet()).S("id");
        var card = (await Api.Post($"/v1/customers/{(await Wallet(id)).S("customer_id")}/payment-methods", new { type = "card", token = "pm_card_visa" })).Ok(201).S("id");
        var bought = (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        var payment = (await Api.Post("/v1/payments", new
        {
            amount = credits, currency = "usd", destination_type = "INVOICE", destination_id = bought.S("invoice_id"), payment_method_type = "CARD", payment_method_id = card,
        })).Ok(201);
        return (id, payment.S("id"));
    }

    [Fact]
    public async Task ARefundStripeRefusesStaysVisibleAsFailedAndThePaymentKeepsItsMoney()
    {
        await using var stripe = await UseStripe();
        var (wallet, payment) = await BoughtByCard("6");
        await using (var c = await App.Service<Storage.Database>().OpenAsync())
            await Storage.Sql.ExecAsync(c, null, "UPDATE payments SET gateway_payment_id = @g WHERE id = @p", ("g", StripeStandIn.AlreadyRefunded), ("p", payment));

        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased", refund_destination = "original" })).Ok();

        var refund = Assert.Single(closed["refunds"]!.AsArray())!;
        Assert.Equal(("original", "failed", "6", payment), (refund.S("destination"), refund.S("status"), refund.S("amount"), refund.S("payment_id")));
        Assert.Null(closed["refund"]);
        Assert.Equal("SUCCEEDED", (await Api.Get($"/v1/payments/{payment}")).Ok().S("payment_status"));
        Assert.Single(stripe.Calls, c => c.Path == "/v1/refunds");
        await using var db = await App.Service<Storage.Database>().OpenAsync();
        Assert.Equal("failed", await Storage.Sql.QuerySingleAsync(db, null, "SELECT status FROM refunds WHERE id = @id", r => r.GetString(0), ("id", refund.S("id"))));
    }

    [Fact]
    public async Task ARefundWhoseAnswerIsLostStaysPendingAndTheReconcilerFinishesItOnce()
    {
        await using var stripe = await UseStripe();
        var (wallet, payment) = await BoughtByCard("6");
        stripe.RefundAnswerLost = true;

        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased", refund_destination = "original" })).Ok();

        var refund = Assert.Single(closed["refunds"]!.AsArray())!;
        Assert.Equal("pending", refund.S("status"));
        Assert.Equal("SUCCEEDED", (await Api.Get($"/v1/payments/{payment}")).Ok().S("payment_status"));
        stripe.RefundAnswerLost = false;
        App.Clock.Advance(TimeSpan.FromMinutes(2));
        await Task.WhenAll(App.Service<Coffer.Payments.PaymentReconciler>().RunOnceAsync(), App.Service<Coffer.Payments.PaymentReconciler>().RunOnceAsync());
        App.Clock.Advance(TimeSpan.FromHours(2));
        await App.Service<Coffer.Payments.PaymentReconciler>().RunOnceAsync();

        Assert.Equal("REFUNDED", (await Api.Get($"/v1/payments/{payment}")).Ok().S("payment_status"));
        var calls = stripe.Calls.Where(c => c.Path == "/v1/refunds").ToList();
        Assert.Equal(2, calls.Count);
        Assert.All(calls, c => Assert.Equal(("refund_" + refund.S("id"), "600"), (c.IdempotencyKey, c.Form["amount"])));
    }
}
