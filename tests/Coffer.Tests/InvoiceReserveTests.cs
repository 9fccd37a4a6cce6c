namespace Coffer.Tests;

public sealed class InvoiceReserveTestsOnSqlite() : InvoiceReserveTests(Store.Sqlite);
public sealed class InvoiceReserveTestsOnPostgres() : InvoiceReserveTests(Store.Postgres);

/// <summary>
/// Invoices a wallet pays (auto-pay, or partly paid from it) are the wallet's pending charges until paid: new charges
/// cannot spend what they are owed, and new funds pay them first, oldest due date first.
/// </summary>
public abstract class InvoiceReserveTests(Store store) : ApiTest(store)
{
    /// <summary>A customer whose wallet (holding <paramref name="credits"/>) is their first payment method: invoices are auto-paid from it.</summary>
    async Task<(string Customer, string Wallet)> AutoPayWallet(string credits)
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = credits });
        var customer = wallet.S("customer_id");
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "wallet", wallet_id = wallet.S("id"), priority = 1 })).Ok(201);
        return (customer, wallet.S("id"));
    }

    async Task<string> Invoice(string customer, string amount, string? dueDate = null) =>
        (await Api.Post("/v1/invoices", new
        {
            customer_id = customer, currency = "usd", amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED", due_date = dueDate,
        })).Ok(201).S("id");

    async Task<(string Paid, string Remaining, string Status)> InvoiceState(string id)
    {
        var i = (await Api.Get($"/v1/invoices/{id}")).Ok();
        return (i.S("amount_paid"), i.S("amount_remaining"), i.S("payment_status"));
    }

    Task<int> Collect() => App.Service<Invoices.InvoiceCollector>().RunOnceAsync();

    [Fact]
    public async Task WhatAnAutoPaidInvoiceStillOwesIsPendingAndNewFundsPayItFirst()
    {
        var (customer, wallet) = await AutoPayWallet("30");
        var invoice = await Invoice(customer, "100");
        Assert.Equal(("30", "70", "PENDING"), await InvoiceState(invoice));

        var balance = await Balance(wallet);
        Assert.Equal("70", balance.S("pending_charges"));
        Assert.Equal("0", balance.S("real_time_credit_balance"));
        Assert.Equal("-70", balance.S("available_balance"));

        // Funds arrive: they are reserved for the invoice at once, so a charge cannot take them before the collector runs.
        await TopUp(wallet, "50");
        Assert.Equal("-20", (await Balance(wallet)).S("available_balance"));
        Assert.Equal("insufficient_balance", (await Debit(wallet, "1")).Error(422));
        Assert.Equal("insufficient_balance", (await Api.Post($"/v1/wallets/{wallet}/holds", new { credits = "1" })).Error(422));

        Assert.Equal(1, await Collect());
        Assert.Equal(("80", "20", "PENDING"), await InvoiceState(invoice));
        Assert.Equal("0", (await Balance(wallet)).S("real_time_credit_balance"));

        await TopUp(wallet, "100");
        Assert.Equal(1, await Collect());
        Assert.Equal(("100", "0", "SUCCEEDED"), await InvoiceState(invoice));
        var after = await Balance(wallet);
        Assert.Equal(("80", "0", "80"), (after.S("real_time_credit_balance"), after.S("pending_charges"), after.S("available_balance")));
        (await Debit(wallet, "80")).Ok();
        Assert.Equal(0, await Collect());
    }

    [Fact]
    public async Task NewFundsPayTheWaitingInvoicesInDueDateOrder()
    {
        var (customer, wallet) = await AutoPayWallet("0");
        var later = await Invoice(customer, "40", "2027-03-01T00:00:00Z");
        var sooner = await Invoice(customer, "40", "2027-02-01T00:00:00Z");
        Assert.Equal("80", (await Balance(wallet)).S("pending_charges"));

        await TopUp(wallet, "50");
        await Collect();
        Assert.Equal(("40", "0", "SUCCEEDED"), await InvoiceState(sooner));
        Assert.Equal(("10", "30", "PENDING"), await InvoiceState(later));
        Assert.Equal("30", (await Balance(wallet)).S("pending_charges"));
    }

    [Fact]
    public async Task APartPaymentFromAWalletLeavesTheRestWaitingOnIt()
    {
        // Not an auto-pay customer: the merchant asks for a payment from the wallet, which covers part.
        var wallet = await CreateWallet(new { initial_credits_to_load = "10" });
        var invoice = await Invoice(wallet.S("customer_id"), "25");
        Assert.Equal("0", (await Balance(wallet.S("id"))).S("pending_charges"));
        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();
        Assert.Equal(("10", "15", "PENDING"), await InvoiceState(invoice));
        Assert.Equal("15", (await Balance(wallet.S("id"))).S("pending_charges"));

        // Paid another way, it stops counting; the collector then has nothing to pay.
        (await Api.Post("/v1/payments", new
        {
            amount = "15", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "OFFLINE", process_payment = true,
        })).Ok(201);
        Assert.Equal(("25", "0", "SUCCEEDED"), await InvoiceState(invoice));
        Assert.Equal("0", (await Balance(wallet.S("id"))).S("pending_charges"));
        await TopUp(wallet.S("id"), "5");
        Assert.Equal(0, await Collect());
        Assert.Equal("5", (await Balance(wallet.S("id"))).S("available_balance"));
    }

    [Fact]
    public async Task TwoCollectorsAtOncePayEachInvoiceOnce()
    {
        var (customer, wallet) = await AutoPayWallet("0");
        var invoices = new List<string>();
        for (var i = 0; i < 5; i++) invoices.Add(await Invoice(customer, "10"));
        await TopUp(wallet, "45");
        // A second node's collector, with its own lease owner, on the same database.
        await using var second = new CofferApp(App);
        await Task.WhenAll(Collect(), second.Service<Invoices.InvoiceCollector>().RunOnceAsync(), Collect());
        await Collect();
        var states = new List<(string Paid, string Remaining, string Status)>();
        foreach (var i in invoices) states.Add(await InvoiceState(i));
        Assert.Equal(45m, states.Sum(s => decimal.Parse(s.Paid, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(4, states.Count(s => s.Status == "SUCCEEDED"));
        Assert.Equal("0", (await Balance(wallet)).S("real_time_credit_balance"));
        Assert.Equal("5", (await Balance(wallet)).S("pending_charges"));
    }
}
