using System.Net;
using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class SandboxPaymentTestsOnSqlite() : SandboxPaymentTests(Store.Sqlite);
public sealed class SandboxPaymentTestsOnPostgres() : SandboxPaymentTests(Store.Postgres);

/// <summary>Cards, payment links and backup payment methods through the built-in sandbox gateway.</summary>
public abstract class SandboxPaymentTests(Store store) : ApiTest(store)
{
    async Task<string> SaveCard(string customer, string number, int? priority = null) =>
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = number, priority })).Ok(201).S("id");

    async Task<JsonNode> Finalized(string customer, string amount) =>
        (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED" })).Ok(201);

    Task<(int Status, JsonNode? Body)> Pay(string invoice, string amount, string method, string? methodId = null) =>
        Api.Post("/v1/payments", new
        {
            amount, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = method, payment_method_id = methodId,
        });

    async Task<JsonNode> Invoice(string id) => (await Api.Get($"/v1/invoices/{id}")).Ok();

    [Fact]
    public async Task ASavedCardPaysAnInvoiceAndADeclinedOneLeavesItUnpaid()
    {
        var customer = (await CreateCustomer()).S("id");
        var good = await SaveCard(customer, "4242424242424242");
        var declined = await SaveCard(customer, "4000000000000002");
        var invoice = (await Finalized(customer, "25")).S("id");

        var failed = (await Pay(invoice, "25", "CARD", declined)).Ok(201);
        Assert.Equal("FAILED", failed.S("payment_status"));
        Assert.Contains("card_declined", failed.S("error_message"));
        Assert.Equal("PENDING", (await Invoice(invoice)).S("payment_status"));

        var paid = (await Pay(invoice, "25", "CARD", good)).Ok(201);
        Assert.Equal(("SUCCEEDED", "sandbox"), (paid.S("payment_status"), paid.S("payment_gateway")));
        Assert.Equal("SUCCEEDED", (await Invoice(invoice)).S("payment_status"));

        var methods = (await Api.Get($"/v1/customers/{customer}/payment-methods")).Ok()["items"]!.AsArray();
        Assert.Equal(["4242", "0002"], methods.Select(m => m!.S("last4")));
        Assert.DoesNotContain("sandbox_card_", methods.ToJsonString());
    }

    [Fact]
    public async Task APaymentLinkIsPaidOnTheHostedPageAndNeverCreditsAWalletForAnOrdinaryInvoice()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "5" });
        var invoice = (await Finalized(wallet.S("customer_id"), "12.5")).S("id");

        var link = (await Pay(invoice, "12.5", "PAYMENT_LINK")).Ok(201);
        Assert.Equal("PENDING", link.S("payment_status"));
        var path = new Uri(link.S("payment_url")).AbsolutePath;
        using var browser = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var page = await browser.GetStringAsync(path);
        Assert.Contains("USD 12.5", page);

        var declined = await browser.PostAsync(path, new FormUrlEncodedContent([new("card_number", "4000 0000 0000 0002")]));
        Assert.Equal(HttpStatusCode.PaymentRequired, declined.StatusCode);
        Assert.Equal("PENDING", (await Invoice(invoice)).S("payment_status"));

        var ok = await browser.PostAsync(path, new FormUrlEncodedContent([new("card_number", "4242 4242 4242 4242")]));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal("SUCCEEDED", (await Invoice(invoice)).S("payment_status"));
        Assert.Equal("SUCCEEDED", (await Api.Get($"/v1/payments/{link.S("id")}")).Ok().S("payment_status"));
        Assert.Equal("5", (await Wallet(wallet.S("id"))).S("credit_balance"));

        // A second submission (a double click) finds the link paid and charges nothing more.
        var again = await browser.PostAsync(path, new FormUrlEncodedContent([new("card_number", "4242 4242 4242 4242")]));
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        Assert.Equal("12.5", (await Invoice(invoice)).S("amount_paid"));
    }

    [Fact]
    public async Task ACreditPurchasePaidThroughALinkGrantsItsCredits()
    {
        var id = (await CreateWallet()).S("id");
        var invoice = (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = "40", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok().S("invoice_id");
        var link = (await Pay(invoice, "40", "PAYMENT_LINK")).Ok(201);
        using var browser = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        await browser.PostAsync(new Uri(link.S("payment_url")).AbsolutePath, new FormUrlEncodedContent([new("card_number", "4242424242424242")]));
        Assert.Equal("40", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task TheWalletPaysWhatItCanAndTheBackupCardPaysTheRest()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "10" });
        var customer = wallet.S("customer_id");
        await SaveCard(customer, "4000000000009995", priority: 2);
        await SaveCard(customer, "4242424242424242", priority: 3);
        var invoice = (await Finalized(customer, "25")).S("id");

        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();

        var after = await Invoice(invoice);
        Assert.Equal(("25", "0", "SUCCEEDED"), (after.S("amount_paid"), after.S("amount_remaining"), after.S("payment_status")));
        var payments = (await Api.Get($"/v1/payments?destination_id={invoice}&order=asc")).Ok()["items"]!.AsArray();
        Assert.Equal([("CREDITS", "10", "SUCCEEDED"), ("CARD", "15", "FAILED"), ("CARD", "15", "SUCCEEDED")],
            payments.Select(p => (p!.S("payment_method_type"), p.S("amount"), p.S("payment_status"))));
        Assert.Equal("0", (await Wallet(wallet.S("id"))).S("credit_balance"));
    }

    [Fact]
    public async Task WithoutABackupAPartlyPaidInvoiceKeepsItsRemainder()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "10" });
        var invoice = (await Finalized(wallet.S("customer_id"), "25")).S("id");
        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();
        var after = await Invoice(invoice);
        Assert.Equal(("10", "15", "PENDING"), (after.S("amount_paid"), after.S("amount_remaining"), after.S("payment_status")));
    }

    [Fact]
    public async Task AnInvoiceIsPaidAtFinalizationWhenTheWalletComesFirst()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "30" });
        var customer = wallet.S("customer_id");
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "wallet", wallet_id = wallet.S("id"), priority = 1 })).Ok(201);

        var invoice = await Finalized(customer, "12");

        // The creation answers the invoice as created (the answer its key stores); the payment follows it.
        Assert.Equal("SUCCEEDED", (await Invoice(invoice.S("id"))).S("payment_status"));
        Assert.Equal("18", (await Wallet(wallet.S("id"))).S("credit_balance"));

        var draft = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "3", subtotal = "3", total = "3" })).Ok(201);
        Assert.Equal("PENDING", draft.S("payment_status"));
        (await Api.Post($"/v1/invoices/{draft.S("id")}/finalize")).Ok();
        Assert.Equal("SUCCEEDED", (await Invoice(draft.S("id"))).S("payment_status"));
    }

    [Fact]
    public async Task OnlySandboxTestCardsCanBeSaved()
    {
        var customer = (await CreateCustomer()).S("id");
        Assert.Equal("validation_failed", (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = "1234" })).Error(400));
        Assert.Equal("not_found", (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "wallet", wallet_id = "wallet_x" })).Error(404));
    }
}
