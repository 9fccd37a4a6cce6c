using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class CreditCurrencyTestsOnSqlite() : CreditCurrencyTests(Store.Sqlite);
public sealed class CreditCurrencyTestsOnPostgres() : CreditCurrencyTests(Store.Postgres);

/// <summary>
/// Credit currencies: a tenant's units of credit, one wallet of each per customer (made on first use and held to one by
/// the database), top-ups addressed by customer and credit currency, and automatic top-up rules on the same engine as
/// a wallet's <c>auto_topup</c>.
/// </summary>
public abstract class CreditCurrencyTests(Store store) : ApiTest(store)
{
    async Task<JsonNode> Tokens(decimal price = 0.002m, int precision = 0, string name = "Tokens") =>
        (await Api.Post("/v1/credit-currencies", new { name, denomination = "unit", currency = "usd", price_per_credit = price, precision })).Ok(201);

    Task<(int Status, JsonNode? Body)> TopUpIn(string customer, string currency, string credits, string? key = null) =>
        Api.Post($"/v1/customers/{customer}/top-up", new
        {
            credit_currency_id = currency, credits_to_add = credits, transaction_reason = "FREE_CREDIT_GRANT", idempotency_key = key,
        });

    async Task<List<JsonNode>> WalletsOf(string customer) =>
        (await Api.Get($"/v1/customers/{customer}/wallets")).Ok().AsArray().Select(w => w!).ToList();

    [Fact]
    public async Task ACreditCurrencyIsAUnitPricedInAnIsoCurrencyOrOneMinorUnitOfItAndBadInputChangesNothing()
    {
        var tokens = await Tokens();
        Assert.Equal(("Tokens", "unit", "usd", "0.002", 0, "active"),
            (tokens.S("name"), tokens.S("denomination"), tokens.S("currency"), tokens.S("price_per_credit"), tokens["precision"]!.GetValue<int>(), tokens.S("status")));
        var cents = (await Api.Post("/v1/credit-currencies", new { name = "Dollars", denomination = "fiat", currency = "usd", precision = 2 })).Ok(201);
        Assert.Equal("0.01", cents.S("price_per_credit"));
        var yen = (await Api.Post("/v1/credit-currencies", new { name = "Yen", denomination = "fiat", currency = "jpy" })).Ok(201);
        Assert.Equal("1", yen.S("price_per_credit"));

        foreach (var bad in new object[]
        {
            new { name = "x", denomination = "gold", currency = "usd", price_per_credit = 1 },
            new { name = "x", denomination = "unit", currency = "usd" },
            new { name = "x", denomination = "unit", currency = "usd", price_per_credit = -1 },
            new { name = "x", denomination = "fiat", currency = "usd", price_per_credit = 1 },
            new { name = "x", denomination = "unit", currency = "zzz", price_per_credit = 1 },
            new { name = "x", denomination = "unit", currency = "usd", price_per_credit = 1, precision = 13 },
            new { denomination = "unit", currency = "usd", price_per_credit = 1 },
        })
            Assert.Equal("validation_failed", (await Api.Post("/v1/credit-currencies", bad)).Error(400));

        var list = (await Api.Get("/v1/credit-currencies")).Ok();
        Assert.Equal([tokens.S("id"), cents.S("id"), yen.S("id")], list["items"]!.AsArray().Select(c => c!.S("id")));
        Assert.Equal(3, list["pagination"]!["total"]!.GetValue<long>());
        Assert.Equal("Tokens", (await Api.Get($"/v1/credit-currencies/{tokens.S("id")}")).Ok().S("name"));
        Assert.Equal("API tokens", (await Api.Put($"/v1/credit-currencies/{tokens.S("id")}", new { name = "API tokens" })).Ok().S("name"));
        Assert.Equal("validation_failed", (await Api.Put($"/v1/credit-currencies/{cents.S("id")}", new { price_per_credit = 2 })).Error(400));
        Assert.Equal("not_found", (await Api.Get("/v1/credit-currencies/cc_nobody")).Error(404));

        // Another tenant sees none of them.
        using var other = await OtherTenant();
        Assert.Equal("not_found", (await other.Get($"/v1/credit-currencies/{tokens.S("id")}")).Error(404));
        Assert.Empty((await other.Get("/v1/credit-currencies")).Ok()["items"]!.AsArray());
    }

    [Fact]
    public async Task TheFirstTopUpInACreditCurrencyMakesTheCustomersOneWalletOfItEvenWhenManyArriveAtOnce()
    {
        var tokens = (await Tokens()).S("id");
        var credits = (await Tokens(0.01m, 2, "API credits")).S("id");
        var customer = (await CreateCustomer()).S("id");

        // A bad request makes no wallet.
        Assert.Equal("validation_failed", (await TopUpIn(customer, tokens, "1.5")).Error(400));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/customers/{customer}/top-up", new { credit_currency_id = tokens })).Error(400));
        Assert.Equal("not_found", (await TopUpIn(customer, "cc_nobody", "1")).Error(404));
        Assert.Equal("not_found", (await TopUpIn("cust_nobody", tokens, "1")).Error(404));
        Assert.Empty(await WalletsOf(customer));

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => TopUpIn(customer, tokens, "100", $"first-{i}")));
        Assert.All(results, r => Assert.Equal(200, r.Status));
        var wallet = Assert.Single(await WalletsOf(customer));
        Assert.Equal((tokens, "usd", "0.002", "0.002", "1600", "Tokens"), (wallet.S("credit_currency_id"), wallet.S("currency"), wallet.S("conversion_rate"),
            wallet.S("topup_conversion_rate"), wallet.S("credit_balance"), wallet.S("name")));
        Assert.Equal(wallet.S("id"), results[0].Body!["wallet"]!.S("id"));
        // A replay with its key adds nothing.
        (await TopUpIn(customer, tokens, "100", "first-0")).Ok();
        Assert.Equal("1600", (await Wallet(wallet.S("id"))).S("credit_balance"));

        // A second credit currency in the same ISO currency is a second wallet; a plain USD wallet sits beside both.
        (await TopUpIn(customer, credits, "2.25")).Ok();
        (await Api.Post("/v1/wallets", new { customer_id = customer, currency = "usd" })).Ok();
        var held = await WalletsOf(customer);
        Assert.Equal(3, held.Count);
        Assert.Equal("2.25", held.Single(w => w["credit_currency_id"]?.GetValue<string>() == credits).S("credit_balance"));

        // The database keeps one open wallet per customer and credit currency.
        Assert.Equal("already_exists", (await Api.Post("/v1/wallets", new { customer_id = customer, credit_currency_id = tokens })).Error(409));
        Assert.Equal("validation_failed",
            (await Api.Post("/v1/wallets", new { customer_id = (await CreateCustomer()).S("id"), credit_currency_id = tokens, currency = "eur" })).Error(400));

        // Its price is fixed once a wallet holds it.
        Assert.Equal("conflict", (await Api.Put($"/v1/credit-currencies/{tokens}", new { price_per_credit = 0.003 })).Error(409));
        var unused = (await Tokens(0.5m, 0, "Unused")).S("id");
        Assert.Equal("0.7", (await Api.Put($"/v1/credit-currencies/{unused}", new { price_per_credit = 0.7 })).Ok().S("price_per_credit"));

        // Archived: no new wallets, but the wallets that hold it go on working.
        Assert.Equal(204, (await Api.Delete($"/v1/credit-currencies/{tokens}")).Status);
        Assert.Equal("archived", (await Api.Get($"/v1/credit-currencies/{tokens}")).Ok().S("status"));
        (await TopUpIn(customer, tokens, "1")).Ok();
        var newcomer = (await CreateCustomer()).S("id");
        Assert.Equal("conflict", (await TopUpIn(newcomer, tokens, "1")).Error(409));
        Assert.Equal("conflict", (await Api.Post("/v1/wallets", new { customer_id = newcomer, credit_currency_id = tokens })).Error(409));
        Assert.Empty(await WalletsOf(newcomer));
        Assert.Empty((await App.VerifyAsync()).Problems);
    }

    [Fact]
    public async Task AnAutoTopUpRuleByCreditCurrencyMakesTheWalletAndRunsOnTheWalletsOwnEngine()
    {
        var tokens = (await Tokens(0.01m)).S("id");
        var customer = (await CreateCustomer()).S("id");
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);
        var path = $"/v1/customers/{customer}/auto-topup-rules/{tokens}";

        Assert.Equal("not_found", (await Api.Get(path)).Error(404));
        Assert.Equal("validation_failed", (await Api.Put(path, new { threshold = 100 })).Error(400));
        Assert.Equal("validation_failed", (await Api.Put(path, new { threshold = 100, quantity = 0.5 })).Error(400));
        Assert.Equal("validation_failed", (await Api.Put(path, new { threshold = 100, quantity = 500, max_topups_per_day = 0 })).Error(400));
        Assert.Empty(await WalletsOf(customer));

        var rule = (await Api.Put(path, new { threshold = 100, quantity = 500, max_topups_per_day = 2 })).Ok();
        var wallet = Assert.Single(await WalletsOf(customer));
        Assert.Equal((customer, tokens, wallet.S("id"), "100", "500", 2), (rule.S("customer_id"), rule.S("credit_currency_id"), rule.S("wallet_id"),
            rule.S("threshold"), rule.S("quantity"), rule["max_topups_per_day"]!.GetValue<int>()));
        Assert.Equal(rule.ToJsonString(), (await Api.Get(path)).Ok().ToJsonString());
        Assert.Equal([tokens], (await Api.Get($"/v1/customers/{customer}/auto-topup-rules")).Ok()["items"]!.AsArray().Select(r => r!.S("credit_currency_id")));
        // One engine: the wallet's own auto_topup is the rule.
        Assert.Equal(500m, (await Wallet(wallet.S("id")))["auto_topup"]!["amount"]!.GetValue<decimal>());

        // The new wallet is empty, below the threshold: the rule's first purchase is due at once, and charged to the card.
        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();
        Assert.Equal("500", (await Wallet(wallet.S("id"))).S("credit_balance"));
        (await Debit(wallet.S("id"), "450")).Ok();
        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();
        Assert.Equal("550", (await Wallet(wallet.S("id"))).S("credit_balance"));
        var attempts = (await Api.Get($"/v1/wallets/{wallet.S("id")}/auto-topup/attempts")).Ok()["items"]!.AsArray();
        Assert.Equal(["succeeded", "succeeded"], attempts.Select(a => a!.S("status")));
        // The daily limit of two holds across both addresses.
        (await Debit(wallet.S("id"), "500")).Ok();
        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();
        Assert.Equal("50", (await Wallet(wallet.S("id"))).S("credit_balance"));

        // A rule may buy a credit package instead, at the package's price and with its bonus.
        var package = (await Api.Post("/v1/credit-packages", new { name = "Bundle", credits = "1000", price = "7.50", currency = "usd", bonus_credits = "100" })).Ok(201).S("id");
        var eur = (await Api.Post("/v1/credit-packages", new { name = "Euro", credits = "1000", price = "7.50", currency = "eur" })).Ok(201).S("id");
        Assert.Equal("validation_failed", (await Api.Put(path, new { threshold = 100, package_id = package, quantity = 5 })).Error(400));
        Assert.Equal("validation_failed", (await Api.Put(path, new { threshold = 100, package_id = eur })).Error(400));
        Assert.Equal("not_found", (await Api.Put(path, new { threshold = 100, package_id = "pkg_nobody" })).Error(404));
        var byPackage = (await Api.Put(path, new { threshold = 100, package_id = package })).Ok();
        Assert.Equal((package, null), (byPackage.S("package_id"), byPackage["quantity"]?.GetValue<string>()));
        App.Clock.Advance(TimeSpan.FromDays(1));
        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();
        Assert.Equal("1150", (await Wallet(wallet.S("id"))).S("credit_balance"));
        var invoice = (await Api.Get($"/v1/wallets/{wallet.S("id")}/auto-topup/attempts")).Ok()["items"]!.AsArray().First(a => a!.S("status") == "succeeded" && a!["credits"]!.GetValue<string>() == "1000")!.S("invoice_id");
        Assert.Equal("7.5", (await Api.Get($"/v1/invoices/{invoice}")).Ok().S("amount_paid"));

        Assert.Equal(204, (await Api.Delete(path)).Status);
        Assert.Equal("not_found", (await Api.Get(path)).Error(404));
        Assert.Equal("not_found", (await Api.Delete(path)).Error(404));
        Assert.Empty((await Api.Get($"/v1/customers/{customer}/auto-topup-rules")).Ok()["items"]!.AsArray());
        Assert.Empty((await App.VerifyAsync()).Problems);
    }
}
