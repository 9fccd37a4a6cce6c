using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class LotPriceTestsOnSqlite() : LotPriceTests(Store.Sqlite);
public sealed class LotPriceTestsOnPostgres() : LotPriceTests(Store.Postgres);

/// <summary>
/// A lot's currency value is the money paid for it: packages at their price, invoiced purchases at the invoice's
/// price, free and bonus credits at zero. Closing refunds and refunds to the wallet follow the lot's price, never
/// the wallet's top-up rate.
/// </summary>
public abstract class LotPriceTests(Store store) : ApiTest(store)
{
    async Task<string> Package(string credits, string price, string? bonus = null) =>
        (await Api.Post("/v1/credit-packages", new { name = "Pack", credits, price, currency = "usd", bonus_credits = bonus })).Ok(201).S("id");

    /// <summary>Buys the package on an invoice and records its payment, so the credits and the bonus become lots.</summary>
    async Task<JsonNode> BuyAndPay(string wallet, string package)
    {
        var invoice = (await Api.Post($"/v1/wallets/{wallet}/purchase-package", new { package_id = package, collection_method = "send_invoice" })).Ok()["invoice"]!;
        (await Api.Put($"/v1/invoices/{invoice.S("id")}/payment", new { payment_status = "SUCCEEDED" })).Ok();
        return invoice;
    }

    static Dictionary<string, (string Outcome, string Credits, string Refund)> Lots(JsonNode closed) =>
        closed["lots"]!.AsArray().ToDictionary(l => l!.S("lot_id"), l => (l!.S("outcome"), l.S("credits"), l.S("refund_amount")));

    [Fact]
    public async Task APackageLotIsWorthItsPriceNotTheTopUpRate()
    {
        // Root cause: every credit entry was valued at credits × topup_conversion_rate, so 1000 credits sold for 8 USD read as 1000 USD.
        var wallet = (await CreateWallet(new { topup_conversion_rate = "1" })).S("id");
        await BuyAndPay(wallet, await Package("1000", "8", bonus: "200"));
        var credits = await Transactions(wallet, "&type=credit");
        var main = credits.Single(t => t!.S("transaction_reason") == "PURCHASED_CREDIT_INVOICED")!;
        var bonus = credits.Single(t => t!.S("transaction_reason") == "FREE_CREDIT_GRANT")!;
        Assert.Equal(("1000", "8"), (main.S("credit_amount"), main.S("amount")));
        Assert.Equal(("200", "0"), (bonus.S("credit_amount"), bonus.S("amount")));
        // The wallet's balance stays Flexprice's: credits × conversion_rate.
        Assert.Equal("1200", (await Wallet(wallet)).S("balance"));

        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();

        Assert.Equal("8", closed["refund"]!.S("amount"));
        var lots = Lots(closed);
        Assert.Equal(("refunded", "1000", "8"), lots[main.S("id")]);
        Assert.Equal(("forfeited", "200", "0"), lots[bonus.S("id")]);
    }

    [Fact]
    public async Task WithPartOfAPackageSpentTheClosingRefundIsProportionalAndRoundsDown()
    {
        var wallet = (await CreateWallet()).S("id");
        await BuyAndPay(wallet, await Package("1000", "8"));
        (await Debit(wallet, "333")).Ok();

        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();

        // 667 credits at 0.008 are worth 5.336: the refund never exceeds what was paid for them.
        Assert.Equal("5.33", closed["refund"]!.S("amount"));
        Assert.Equal(("refunded", "667", "5.33"), Assert.Single(Lots(closed).Values));
    }

    [Fact]
    public async Task FreeCreditsAreWorthNothingAndAreForfeitedOnClose()
    {
        var wallet = (await CreateWallet(new { topup_conversion_rate = "2", initial_credits_to_load = "10" })).S("id");
        await TopUp(wallet, "5");
        Assert.All(await Transactions(wallet, "&type=credit"), t => Assert.Equal("0", t!.S("amount")));

        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();

        Assert.Null(closed["refund"]);
        Assert.Equal([("forfeited", "0"), ("forfeited", "0")], Lots(closed).Values.Select(l => (l.Outcome, l.Refund)));
    }

    [Fact]
    public async Task AnInvoicedPurchaseIsWorthItsInvoicePrice()
    {
        // 10 credits at 0.3335 is 3.335, invoiced as 3.34: the lot is worth what the invoice charged.
        var wallet = (await CreateWallet(new { conversion_rate = "1", topup_conversion_rate = "0.3335" })).S("id");
        var bought = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "10", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        var invoice = (await Api.Get($"/v1/invoices/{bought.S("invoice_id")}")).Ok();
        Assert.Equal("3.34", invoice.S("total"));
        Assert.Equal("3.34", bought["wallet_transaction"]!.S("amount"));
        (await Api.Put($"/v1/invoices/{invoice.S("id")}/payment", new { payment_status = "SUCCEEDED" })).Ok();
        var lot = (await Transactions(wallet, "&type=credit")).Single()!;
        Assert.Equal(("completed", "3.34"), (lot.S("transaction_status"), lot.S("amount")));

        // With auto-complete the credits are granted at once, at the same price.
        (await Api.Put("/v1/settings/invoice_config", new { value = new { auto_complete_purchased_credit_transaction = true } })).Ok();
        var instant = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { amount = "1", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        Assert.Equal((await Api.Get($"/v1/invoices/{instant.S("invoice_id")}")).Ok().S("total"), instant["wallet_transaction"]!.S("amount"));

        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();
        Assert.Equal(("refunded", "10", "3.34"), Lots(closed)[lot.S("id")]);
    }

    [Fact]
    public async Task ACreditNoteFromARefundToTheWalletIsPricedLikeTheLotItReplaces()
    {
        var wallet = (await CreateWallet(new { conversion_rate = "1", topup_conversion_rate = "1" })).S("id");
        await BuyAndPay(wallet, await Package("1000", "8"));
        var customer = (await Wallet(wallet)).S("customer_id");
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "5", subtotal = "5", total = "5", invoice_status = "FINALIZED" })).Ok(201).S("id");
        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();
        var payment = (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]![0]!.S("id");

        (await Api.Post($"/v1/payments/{payment}/refund", new { })).Ok(201);

        // The 5 credits came from the package lot, bought at 0.008 each.
        var note = (await Transactions(wallet, "&transaction_reason=CREDIT_NOTE")).Single()!;
        Assert.Equal(("5", "0.04"), (note.S("credit_amount"), note.S("amount")));
        var closed = (await Api.Post($"/v1/wallets/{wallet}/close", new { refund = "purchased" })).Ok();
        Assert.Equal(("refunded", "5", "0.04"), Lots(closed)[note.S("id")]);
        Assert.Equal("8", closed["refund"]!.S("amount"));
    }

    [Fact]
    public async Task VerifyReportsAPurchasedLotValuedAboveItsInvoice()
    {
        var wallet = (await CreateWallet()).S("id");
        await BuyAndPay(wallet, await Package("1000", "8"));
        var lot = (await Transactions(wallet, "&type=credit")).Single()!.S("id");
        Assert.True((await App.VerifyAsync()).Ok);

        await SetAmount(lot, 1000m);
        var report = await App.VerifyAsync();
        await SetAmount(lot, 8m);

        Assert.Contains(report.Problems, p => p.Contains("valued above", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VerifyReportsAnAllocationWhoseDebitIsMissingOrAnotherWallets()
    {
        // Allocations are read by wallet through its debits (migration 078 dropped their own wallet index), so a stray one is
        // looked for on its own.
        var wallet = (await CreateWallet()).S("id");
        var other = (await CreateWallet()).S("id");
        await TopUp(wallet, "100");
        (await Api.Post($"/v1/wallets/{wallet}/debit", new { credits = "10", idempotency_key = "stray-1" })).Ok();
        Assert.True((await App.VerifyAsync()).Ok);

        foreach (var (set, undo) in new[]
        {
            ("wallet_id = @other", "wallet_id = @wallet"),
            ("debit_id = 'wtx_missing'", "debit_id = (SELECT id FROM wallet_transactions WHERE wallet_id = @wallet AND type = 'debit')"),
        })
        {
            await OnAllocations(wallet, other, set);
            var report = await App.VerifyAsync();
            await OnAllocations(wallet, other, undo);
            Assert.Contains(report.Problems, p => p.Contains("has no debit of the wallet", StringComparison.Ordinal));
        }
        Assert.True((await App.VerifyAsync()).Ok);
    }

    async Task OnAllocations(string wallet, string other, string set)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        await Storage.Sql.ExecAsync(c, null, $"UPDATE allocations SET {set} WHERE wallet_id IN (@wallet, @other)", ("wallet", wallet), ("other", other));
    }

    async Task SetAmount(string entryId, decimal amount)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        await Storage.Sql.ExecAsync(c, null, "UPDATE wallet_transactions SET amount = @a WHERE id = @id", ("a", amount), ("id", entryId));
    }
}
