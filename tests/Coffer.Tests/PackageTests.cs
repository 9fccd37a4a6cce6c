namespace Coffer.Tests;

public sealed class PackageTestsOnSqlite() : PackageTests(Store.Sqlite);
public sealed class PackageTestsOnPostgres() : PackageTests(Store.Postgres);

public abstract class PackageTests(Store store) : ApiTest(store)
{
    async Task<string> Package(string currency = "usd") =>
        (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency, bonus_credits = "20", bonus_expiry_days = 30 })).Ok(201).S("id");

    [Fact]
    public async Task BuyingAPackageWithASavedCardGrantsCreditsAndBonusOnceTheChargeSucceeds()
    {
        var package = await Package();
        var wallet = await CreateWallet();
        (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);

        var bought = (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = package })).Ok();

        Assert.Equal(("SUCCEEDED", "9.99", "CREDIT"), (bought["invoice"]!.S("payment_status"), bought["invoice"]!.S("amount_paid"), bought["invoice"]!.S("invoice_type")));
        Assert.Equal("120", bought["wallet"]!.S("credit_balance"));
        var credits = await Transactions(wallet.S("id"), "&type=credit");
        var main = credits.Single(t => t!.S("transaction_reason") == "PURCHASED_CREDIT_INVOICED")!;
        var bonus = credits.Single(t => t!.S("transaction_reason") == "FREE_CREDIT_GRANT")!;
        Assert.Equal(("100", 50, "completed"), (main.S("credit_amount"), main["priority"]!.GetValue<int>(), main.S("transaction_status")));
        Assert.Equal(CofferApp.Start.AddDays(30), DateTimeOffset.Parse(bonus.S("expiry_date")));
        var breakdown = (await Balance(wallet.S("id")))["credits_available_breakdown"]!;
        Assert.Equal(("20", "100"), (breakdown.S("free"), breakdown.S("purchased")));
    }

    [Fact]
    public async Task WithoutACardThePackageIsInvoicedAndGrantedWhenPaid()
    {
        var package = await Package();
        var wallet = await CreateWallet();

        var bought = (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = package, idempotency_key = "pkg-1" })).Ok();
        Assert.Equal("PENDING", bought["invoice"]!.S("payment_status"));
        Assert.Equal("0", bought["wallet"]!.S("credit_balance"));
        var again = (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = package, idempotency_key = "pkg-1" })).Ok();
        Assert.Equal(bought["invoice"]!.S("id"), again["invoice"]!.S("id"));

        (await Api.Put($"/v1/invoices/{bought["invoice"]!.S("id")}/payment", new { payment_status = "SUCCEEDED" })).Ok();
        Assert.Equal("120", (await Wallet(wallet.S("id"))).S("credit_balance"));
    }

    [Fact]
    public async Task ADeclinedCardGrantsNothingAndLeavesTheInvoiceToPay()
    {
        var package = await Package();
        var wallet = await CreateWallet();
        (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = "4000000000000002" })).Ok(201);

        var bought = (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = package })).Ok();

        Assert.Equal("PENDING", bought["invoice"]!.S("payment_status"));
        Assert.Equal("0", bought["wallet"]!.S("credit_balance"));
        (await Api.Post($"/v1/invoices/{bought["invoice"]!.S("id")}/void")).Ok();
        Assert.All(await Transactions(wallet.S("id")), t => Assert.Equal("failed", t!.S("transaction_status")));
    }

    [Fact]
    public async Task APackageInAnotherCurrencyOrAnArchivedOneCannotBeBought()
    {
        var eur = await Package("eur");
        var wallet = await CreateWallet();
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = eur })).Error(400));
        Assert.Equal(204, (await Api.Delete($"/v1/credit-packages/{eur}")).Status);
        Assert.Equal("not_found", (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = eur })).Error(404));
        Assert.Equal("validation_failed", (await Api.Post("/v1/credit-packages", new { name = "x", credits = "1", price = "1.999", currency = "usd" })).Error(400));
    }
}
