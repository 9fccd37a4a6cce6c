using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class GrantPriorityTestsOnSqlite() : GrantPriorityTests(Store.Sqlite);
public sealed class GrantPriorityTestsOnPostgres() : GrantPriorityTests(Store.Postgres);

/// <summary>
/// <c>grant_priorities</c>: a tenant's default priority per grant source, for grants made without one. A tenant that
/// never sets it grants without a priority, as Flexprice does.
/// </summary>
public abstract class GrantPriorityTests(Store store) : ApiTest(store)
{
    static readonly object Convention = new { plan = 10, promotional = 30, package = 50, purchased = 50 };

    Task<(int Status, JsonNode? Body)> SetPriorities(object value) => Api.Put("/v1/settings/grant_priorities", new { value });

    async Task<JsonNode> Priorities() => (await Api.Get("/v1/settings/grant_priorities")).Ok();

    static int? Priority(JsonNode? transaction) => transaction!["priority"]?.GetValue<int>();

    async Task<JsonNode> Credit(string wallet, string reason) =>
        (await Transactions(wallet, "&type=credit")).Single(t => t!.S("transaction_reason") == reason)!;

    [Fact]
    public async Task ThePrioritiesAreUnsetUntilSetAndAPutReplacesTheWholeMap()
    {
        var empty = await Priorities();
        Assert.Equal("grant_priorities", empty.S("key"));
        Assert.Equal("""{"plan":null,"promotional":null,"package":null,"purchased":null}""", empty["value"]!.ToJsonString());

        var set = (await SetPriorities(Convention)).Ok();
        Assert.Equal("""{"plan":10,"promotional":30,"package":50,"purchased":50}""", set["value"]!.ToJsonString());
        Assert.Equal(set.ToJsonString(), (await Priorities()).ToJsonString());
        Assert.Equal(empty.S("tenant_id"), set.S("tenant_id"));

        (await SetPriorities(new { promotional = 20 })).Ok();
        Assert.Equal("""{"plan":null,"promotional":20,"package":null,"purchased":null}""", (await Priorities())["value"]!.ToJsonString());
    }

    [Fact]
    public async Task BadPrioritiesAreRefusedAndChangeNothing()
    {
        (await SetPriorities(Convention)).Ok();
        var before = (await Priorities()).ToJsonString();

        Assert.Equal("validation_failed", (await SetPriorities(new { bonus = 5 })).Error(400));
        Assert.Equal("validation_failed", (await SetPriorities(new { promotional = -1 })).Error(400));
        Assert.Equal("validation_failed", (await SetPriorities(new { purchased = 1_000_001 })).Error(400));
        Assert.Equal("validation_failed", (await Api.Put("/v1/settings/grant_priorities", new { })).Error(400));
        Assert.Equal(400, (await Api.Put("/v1/settings/grant_priorities", new { value = "convention" })).Status);
        Assert.Equal(400, (await Api.Put("/v1/settings/grant_priorities", new { value = new { promotional = "first" } })).Status);
        var unknown = await SetPriorities(new { promotional = 30, bonus = 5 });
        Assert.Contains("'bonus' is not a grant source", unknown.Body!["error"]!.S("message"));

        Assert.Equal(before, (await Priorities()).ToJsonString());
    }

    [Fact]
    public async Task AGrantWithoutAPriorityTakesItsSourcesDefaultAndAnExplicitOneWins()
    {
        (await SetPriorities(Convention)).Ok();
        var wallet = (await CreateWallet(new { initial_credits_to_load = "5" })).S("id");
        Assert.Equal(30, Priority(await Credit(wallet, "FREE_CREDIT_GRANT")));

        Assert.Equal(30, Priority((await TopUp(wallet, "10"))["wallet_transaction"]));
        Assert.Equal(7, Priority((await TopUp(wallet, "10", priority: 7))["wallet_transaction"]));
        Assert.Equal(0, Priority((await TopUp(wallet, "10", priority: 0))["wallet_transaction"]));
        Assert.Equal(50, Priority((await TopUp(wallet, "10", "PURCHASED_CREDIT_DIRECT"))["wallet_transaction"]));

        var invoiced = (await TopUp(wallet, "10", "PURCHASED_CREDIT_INVOICED"))["wallet_transaction"]!;
        Assert.Equal(("pending", 50), (invoiced.S("transaction_status"), Priority(invoiced)));
        (await Api.Put($"/v1/invoices/{(await TopUp(wallet, "1", "PURCHASED_CREDIT_INVOICED", priority: 3)).S("invoice_id")}/payment",
            new { payment_status = "SUCCEEDED" })).Ok();
        Assert.Contains(await Transactions(wallet, "&type=credit"), t => t!.S("credit_amount") == "1" && Priority(t) == 3 && t.S("transaction_status") == "completed");
    }

    [Fact]
    public async Task UnderTheConventionADebitSpendsThePromotionalCreditsBeforeThePurchasedOnes()
    {
        (await SetPriorities(Convention)).Ok();
        var wallet = (await CreateWallet()).S("id");
        var purchased = (await TopUp(wallet, "10", "PURCHASED_CREDIT_DIRECT"))["wallet_transaction"]!.S("id");
        var promotional = (await TopUp(wallet, "10"))["wallet_transaction"]!.S("id");

        var debit = (await Debit(wallet, "15")).Ok()["wallet_transaction"]!;

        Assert.Equal([(promotional, "10"), (purchased, "5")], debit["allocations"]!.AsArray().Select(a => (a!.S("lot_id"), a.S("credits"))).ToList());
    }

    [Fact]
    public async Task APackageTakesTheTenantsPackageDefaultWhenCreatedUnlessItHasItsOwn()
    {
        var before = (await Api.Post("/v1/credit-packages", new { name = "Old", credits = "10", price = "1", currency = "usd" })).Ok(201);
        (await SetPriorities(new { package = 40, promotional = 30 })).Ok();
        var defaulted = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd", bonus_credits = "20" })).Ok(201);
        var own = (await Api.Post("/v1/credit-packages", new { name = "Own", credits = "10", price = "1", currency = "usd", priority = 5 })).Ok(201);
        Assert.Equal((50, 40, 5), (before["priority"]!.GetValue<int>(), defaulted["priority"]!.GetValue<int>(), own["priority"]!.GetValue<int>()));

        var wallet = await CreateWallet();
        (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);
        (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = defaulted.S("id") })).Ok();
        var credits = await Transactions(wallet.S("id"), "&type=credit");
        // The bonus is a free grant of the package: the package's priority, not the promotional default.
        Assert.Equal(new int?[] { 40, 40 }, credits.Select(Priority));
        (await Api.Post($"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = own.S("id") })).Ok();
        Assert.Contains(await Transactions(wallet.S("id"), "&type=credit"), t => t!.S("credit_amount") == "10" && Priority(t) == 5);
    }

    [Fact]
    public async Task AutomaticTopUpGrantsAtThePurchasedDefault()
    {
        (await SetPriorities(new { purchased = 70 })).Ok();
        var wallet = await CreateWallet(new { initial_credits_to_load = "60", auto_topup = new { enabled = true, threshold = 50, amount = 100 } });
        (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);
        (await Debit(wallet.S("id"), "20")).Ok();
        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();

        var bought = await Credit(wallet.S("id"), "PURCHASED_CREDIT_INVOICED");
        Assert.Equal(("completed", 70), (bought.S("transaction_status"), Priority(bought)));
        Assert.Null(Priority(await Credit(wallet.S("id"), "FREE_CREDIT_GRANT")));
    }

    [Fact]
    public async Task ATenantThatNeverSetsPrioritiesGrantsWithoutOneAsBefore()
    {
        Assert.All((await Priorities())["value"]!.AsObject(), p => Assert.Null(p.Value));
        var wallet = (await CreateWallet(new { initial_credits_to_load = "5" })).S("id");
        Assert.Null(Priority((await TopUp(wallet, "10"))["wallet_transaction"]));
        Assert.Null(Priority((await TopUp(wallet, "10", "PURCHASED_CREDIT_DIRECT"))["wallet_transaction"]));
        Assert.Null(Priority((await TopUp(wallet, "10", "PURCHASED_CREDIT_INVOICED"))["wallet_transaction"]));
        Assert.All(await Transactions(wallet, "&type=credit"), t => Assert.Null(Priority(t)));
        Assert.Equal(50, (await Api.Post("/v1/credit-packages", new { name = "P", credits = "1", price = "1", currency = "usd" })).Ok(201)["priority"]!.GetValue<int>());
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesTheSetting()
    {
        using var http = App.CreateClient();
        var doc = (await http.Get("/openapi/v1.json")).Ok();
        Assert.NotNull(doc["paths"]!["/v1/settings/grant_priorities"]!["put"]);
        var value = doc["components"]!["schemas"]!["GrantPriorities"]!["properties"]!.AsObject();
        Assert.Equal(["plan", "promotional", "package", "purchased"], value.Select(p => p.Key));
    }

    [Fact]
    public async Task ATopUpAskedAgainWithItsKeyReplaysAfterThePrioritiesChanged()
    {
        var wallet = (await CreateWallet()).S("id");
        var body = new { credits_to_add = "10", transaction_reason = "FREE_CREDIT_GRANT", idempotency_key = "grant-1" };
        var first = (await Api.Post($"/v1/wallets/{wallet}/top-up", body)).Ok();
        Assert.Null(Priority(first["wallet_transaction"]));

        (await SetPriorities(Convention)).Ok();
        var again = (await Api.Post($"/v1/wallets/{wallet}/top-up", body)).Ok();

        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        Assert.Single(await Transactions(wallet, "&type=credit"));
    }
}
