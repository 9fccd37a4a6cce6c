using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class RefundTestsOnSqlite() : RefundTests(Store.Sqlite);
public sealed class RefundTestsOnPostgres() : RefundTests(Store.Postgres);

public abstract class RefundTests(Store store) : ApiTest(store)
{
    async Task<(string Wallet, string Payment, string Invoice, string Early, string Plain)> PaidFromWallet()
    {
        var id = (await CreateWallet()).S("id");
        var early = (await TopUp(id, "10", priority: 1, expiry: CofferApp.Start.AddDays(10)))["wallet_transaction"]!.S("id");
        var plain = (await TopUp(id, "20"))["wallet_transaction"]!.S("id");
        var customer = (await Wallet(id)).S("customer_id");
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "25", subtotal = "25", total = "25", invoice_status = "FINALIZED" })).Ok(201).S("id");
        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();
        var payment = (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]![0]!.S("id");
        return (id, payment, invoice, early, plain);
    }

    [Fact]
    public async Task RefundingAWalletPaymentReturnsItsCreditsAsLotsThatKeepExpiryAndPriority()
    {
        var (wallet, payment, invoice, early, plain) = await PaidFromWallet();
        Assert.Equal("5", (await Wallet(wallet)).S("credit_balance"));

        var refund = (await Api.Post($"/v1/payments/{payment}/refund", new { })).Ok(201);

        Assert.Equal(("wallet", "succeeded", "25"), (refund["refund"]!.S("destination"), refund["refund"]!.S("status"), refund["refund"]!.S("amount")));
        var lots = refund["refund"]!["lots"]!.AsArray().ToDictionary(l => l!.S("lot_id"));
        Assert.Equal("10", lots[early]!.S("credits"));
        Assert.Equal(1, lots[early]!["priority"]!.GetValue<int>());
        Assert.Equal(CofferApp.Start.AddDays(10), DateTimeOffset.Parse(lots[early]!.S("expiry_date")));
        Assert.Equal("15", lots[plain]!.S("credits"));
        Assert.Null(lots[plain]!["expiry_date"]);
        Assert.Equal("REFUNDED", refund["payment"]!.S("payment_status"));
        Assert.Equal(("REFUNDED", "25"), ((await Api.Get($"/v1/invoices/{invoice}")).Ok().S("payment_status"), (await Api.Get($"/v1/invoices/{invoice}")).Ok().S("refunded_amount")));
        Assert.Equal("30", (await Wallet(wallet)).S("credit_balance"));
        Assert.Equal(2, (await Transactions(wallet, "&transaction_reason=CREDIT_NOTE")).Count);
    }

    [Fact]
    public async Task PartialRefundsNeverGiveBackMoreThanWasPaid()
    {
        var (wallet, payment, _, _, _) = await PaidFromWallet();

        Assert.Equal("PARTIALLY_REFUNDED", (await Api.Post($"/v1/payments/{payment}/refund", new { amount = "5" })).Ok(201)["payment"]!.S("payment_status"));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/payments/{payment}/refund", new { amount = "20.01" })).Error(400));
        Assert.Equal("REFUNDED", (await Api.Post($"/v1/payments/{payment}/refund", new { amount = "20" })).Ok(201)["payment"]!.S("payment_status"));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/payments/{payment}/refund", new { amount = "0.01" })).Error(400));
        Assert.Equal("30", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task CreditsWhoseLotHasExpiredComeBackWithoutExpiry()
    {
        var (wallet, payment, _, early, _) = await PaidFromWallet();
        App.Clock.Advance(TimeSpan.FromDays(11));
        var refund = (await Api.Post($"/v1/payments/{payment}/refund", new { })).Ok(201);
        var returned = refund["refund"]!["lots"]!.AsArray().Single(l => l!.S("lot_id") == early)!;
        Assert.Null(returned["expiry_date"]);
        Assert.Equal("30", (await Balance(wallet)).S("real_time_credit_balance"));
    }

    [Fact]
    public async Task AWalletPaymentCanBeRefundedOfflineInsteadAndACardPaymentGoesBackToTheCard()
    {
        var (wallet, payment, _, _, _) = await PaidFromWallet();
        var offline = (await Api.Post($"/v1/payments/{payment}/refund", new { destination = "offline", amount = "3" })).Ok(201);
        Assert.Equal("offline", offline["refund"]!.S("destination"));
        Assert.Equal("5", (await Wallet(wallet)).S("credit_balance"));

        var customer = (await CreateCustomer()).S("id");
        var card = (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201).S("id");
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "9", subtotal = "9", total = "9", invoice_status = "FINALIZED" })).Ok(201).S("id");
        var paid = (await Api.Post("/v1/payments", new { amount = "9", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "CARD", payment_method_id = card })).Ok(201);
        var toCard = (await Api.Post($"/v1/payments/{paid.S("id")}/refund", new { amount = "4" })).Ok(201);
        Assert.Equal(("original", "succeeded"), (toCard["refund"]!.S("destination"), toCard["refund"]!.S("status")));
        Assert.Equal("PARTIALLY_REFUNDED", toCard["payment"]!.S("payment_status"));
        // Store credit needs a wallet of the customer's in the payment's currency; this customer has none.
        Assert.Equal("no_active_wallet", (await Api.Post($"/v1/payments/{paid.S("id")}/refund", new { destination = "wallet" })).Error(422));
    }

    [Fact]
    public async Task ACreditPurchaseIsNotRefundedThroughItsPayment()
    {
        var id = (await CreateWallet()).S("id");
        var invoice = (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = "10", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok().S("invoice_id");
        var payment = (await Api.Post("/v1/payments", new { amount = "10", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "OFFLINE" })).Ok(201).S("id");
        Assert.Equal("validation_failed", (await Api.Post($"/v1/payments/{payment}/refund", new { })).Error(400));
        Assert.Equal("10", (await Wallet(id)).S("credit_balance"));
    }
}
