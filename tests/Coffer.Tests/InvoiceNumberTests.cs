namespace Coffer.Tests;

public sealed class InvoiceNumberTestsOnSqlite() : InvoiceNumberTests(Store.Sqlite);
public sealed class InvoiceNumberTestsOnPostgres() : InvoiceNumberTests(Store.Postgres);

/// <summary>
/// Invoice numbers run without gaps. Root cause of the gaps: a number was taken in a transaction of its own
/// before the purchase or finalize was decided, so a refusal or a replay used one up.
/// </summary>
public abstract class InvoiceNumberTests(Store store) : ApiTest(store)
{
    Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> Purchase(string wallet, string credits, string? key = null) =>
        Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED", idempotency_key = key });

    async Task<string> Number(string invoiceId) => (await Api.Get($"/v1/invoices/{invoiceId}")).Ok().S("invoice_number");

    async Task<List<string>> AllNumbers()
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        return await Storage.Sql.QueryAsync(c, null, "SELECT invoice_number FROM invoices WHERE invoice_number IS NOT NULL ORDER BY invoice_number",
            r => r.GetString(0));
    }

    object OneOff(string customer, string status, string? key = null) => new
    {
        customer_id = customer, currency = "usd", amount_due = "5", subtotal = "5", total = "5", invoice_status = status, idempotency_key = key,
    };

    [Fact]
    public async Task RefusedAndReplayedPurchasesAndARefusedFinalizeTakeNoInvoiceNumber()
    {
        var wallet = await CreateWallet();
        var id = wallet.S("id");
        var closed = (await CreateWallet()).S("id");
        (await Api.Post($"/v1/wallets/{closed}/terminate")).Ok();

        var first = (await Purchase(id, "10", key: "buy-1")).Ok();
        Assert.Equal("INV-000001", await Number(first.S("invoice_id")));
        Assert.Equal(first.S("invoice_id"), (await Purchase(id, "10", key: "buy-1")).Ok().S("invoice_id"));
        Assert.Equal("wallet_not_active", (await Purchase(closed, "10")).Error(422));
        Assert.Equal("validation_failed", (await Purchase(id, "0.000000001")).Error(400));

        var second = (await Purchase(id, "20")).Ok();
        Assert.Equal("INV-000002", await Number(second.S("invoice_id")));

        var customer = wallet.S("customer_id");
        var finalized = (await Api.Post("/v1/invoices", OneOff(customer, "FINALIZED", key: "one-off-1"))).Ok(201);
        Assert.Equal("INV-000003", finalized.S("invoice_number"));
        Assert.Equal("INV-000003", (await Api.Post("/v1/invoices", OneOff(customer, "FINALIZED", key: "one-off-1"))).Ok(201).S("invoice_number"));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/invoices/{finalized.S("id")}/finalize")).Error(400));

        var draft = (await Api.Post("/v1/invoices", OneOff(customer, "DRAFT"))).Ok(201);
        Assert.Null(draft["invoice_number"]?.GetValue<string>());
        (await Api.Post($"/v1/invoices/{draft.S("id")}/finalize")).Ok();
        Assert.Equal("INV-000004", await Number(draft.S("id")));

        Assert.Equal(["INV-000001", "INV-000002", "INV-000003", "INV-000004"], await AllNumbers());
    }

    [Fact]
    public async Task ARefusedPackagePurchaseTakesNoInvoiceNumber()
    {
        var package = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");
        var closed = (await CreateWallet()).S("id");
        (await Api.Post($"/v1/wallets/{closed}/terminate")).Ok();
        var open = (await CreateWallet()).S("id");

        Assert.Equal("wallet_not_active", (await Api.Post($"/v1/wallets/{closed}/purchase-package", new { package_id = package })).Error(422));
        var bought = (await Api.Post($"/v1/wallets/{open}/purchase-package", new { package_id = package })).Ok();

        Assert.Equal("INV-000001", bought["invoice"]!.S("invoice_number"));
        Assert.Equal(["INV-000001"], await AllNumbers());
    }

    [Fact]
    public async Task ConcurrentPurchasesTakeConsecutiveNumbers()
    {
        var wallets = new List<string>();
        for (var i = 0; i < 4; i++) wallets.Add((await CreateWallet()).S("id"));

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Purchase(wallets[i % wallets.Count], "1")));

        Assert.All(results, r => r.Ok());
        Assert.Equal(Enumerable.Range(1, 16).Select(n => $"INV-{n:D6}"), await AllNumbers());
    }
}
