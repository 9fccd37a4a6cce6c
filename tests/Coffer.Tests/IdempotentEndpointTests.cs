using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class IdempotentEndpointTestsOnSqlite() : IdempotentEndpointTests(Store.Sqlite);
public sealed class IdempotentEndpointTestsOnPostgres() : IdempotentEndpointTests(Store.Postgres);

/// <summary>One idempotency rule on every mutating endpoint: same key and request replays byte for byte, another request is refused.</summary>
public abstract class IdempotentEndpointTests(Store store) : ApiTest(store)
{
    /// <summary>The answer as it is on the wire: status and the exact body.</summary>
    async Task<(int Status, string Body)> Raw(HttpMethod method, string path, object? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        using var response = await Api.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    static string Code((int Status, string Body) r) => JsonNode.Parse(r.Body)!["error"]!["code"]!.GetValue<string>();

    async Task<long> InvoiceCount(string customer) =>
        (await Api.Post("/v1/invoices/search", new { customer_id = customer })).Ok()["pagination"]!["total"]!.GetValue<long>();

    static object InvoiceBody(string customer, string amount, string key) =>
        new { customer_id = customer, currency = "usd", amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED", idempotency_key = key };

    [Fact]
    public async Task AnInvoiceKeyUsedAgainWithAnotherAmountIsRefusedAndCreatesNothing()
    {
        // Root cause: the key was only a unique index on invoices, so a repeat returned the first invoice whatever its body.
        var customer = (await CreateCustomer()).S("id");
        var first = await Raw(HttpMethod.Post, "/v1/invoices", InvoiceBody(customer, "5", "inv-1"));
        Assert.Equal(201, first.Status);

        var other = await Raw(HttpMethod.Post, "/v1/invoices", InvoiceBody(customer, "6", "inv-1"));

        Assert.Equal((409, "idempotency_key_reused"), (other.Status, Code(other)));
        Assert.Equal(1, await InvoiceCount(customer));
        var again = await Raw(HttpMethod.Post, "/v1/invoices", InvoiceBody(customer, "5", "inv-1"));
        Assert.Equal(first, again);
    }

    [Fact]
    public async Task FourParallelInvoicesWithOneKeyCreateOneAndAnswerAlike()
    {
        // Root cause: the losers of the race hit the unique index, and a unique violation was answered 503.
        var customer = (await CreateCustomer()).S("id");

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Raw(HttpMethod.Post, "/v1/invoices", InvoiceBody(customer, "7.5", "inv-par"))));

        Assert.All(answers, a => Assert.Equal(201, a.Status));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal(1, await InvoiceCount(customer));
    }

    [Fact]
    public async Task InvoiceActionsWithAKeyReplayInsteadOfFailingTheSecondTime()
    {
        var wallet = await CreateWallet();
        var customer = wallet.S("customer_id");
        var draft = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "4", subtotal = "4", total = "4" })).Ok(201).S("id");

        var finalized = await Raw(HttpMethod.Post, $"/v1/invoices/{draft}/finalize", key: "fin-1");
        Assert.Equal(finalized, await Raw(HttpMethod.Post, $"/v1/invoices/{draft}/finalize", key: "fin-1"));
        Assert.Equal(200, finalized.Status);
        Assert.Equal("validation_failed", Code(await Raw(HttpMethod.Post, $"/v1/invoices/{draft}/finalize")));

        var paid = await Raw(HttpMethod.Put, $"/v1/invoices/{draft}/payment", new { payment_status = "SUCCEEDED", amount = "1" }, "pay-1");
        Assert.Equal(200, paid.Status);
        Assert.Equal(paid, await Raw(HttpMethod.Put, $"/v1/invoices/{draft}/payment", new { payment_status = "SUCCEEDED", amount = "1" }, "pay-1"));
        var reused = await Raw(HttpMethod.Put, $"/v1/invoices/{draft}/payment", new { payment_status = "SUCCEEDED", amount = "2" }, "pay-1");
        Assert.Equal((409, "idempotency_key_reused"), (reused.Status, Code(reused)));
        Assert.Equal("1", (await Api.Get($"/v1/invoices/{draft}")).Ok().S("amount_paid"));
        Assert.Single((await Api.Get($"/v1/payments?destination_id={draft}")).Ok()["items"]!.AsArray());
        // One namespace across operations: the finalize key cannot void.
        Assert.Equal("idempotency_key_reused", Code(await Raw(HttpMethod.Post, $"/v1/invoices/{draft}/void", key: "fin-1")));
    }

    async Task<(string Wallet, string Payment)> PaidFromWallet()
    {
        var id = (await CreateWallet()).S("id");
        await TopUp(id, "30");
        var customer = (await Wallet(id)).S("customer_id");
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "25", subtotal = "25", total = "25", invoice_status = "FINALIZED" })).Ok(201).S("id");
        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();
        return (id, (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]![0]!.S("id"));
    }

    [Fact]
    public async Task ARetriedRefundWithTheSameKeyRefundsOnceAndReplays()
    {
        // Root cause: refunds took no key, so a retry after a lost answer refunded again.
        var (wallet, payment) = await PaidFromWallet();
        Assert.Equal("5", (await Wallet(wallet)).S("credit_balance"));

        var first = await Raw(HttpMethod.Post, $"/v1/payments/{payment}/refund", new { amount = "10", idempotency_key = "ref-1" });
        var again = await Raw(HttpMethod.Post, $"/v1/payments/{payment}/refund", new { amount = "10", idempotency_key = "ref-1" });

        Assert.Equal(201, first.Status);
        Assert.Equal(first, again);
        Assert.Equal("15", (await Wallet(wallet)).S("credit_balance"));
        var reused = await Raw(HttpMethod.Post, $"/v1/payments/{payment}/refund", new { amount = "5", idempotency_key = "ref-1" });
        Assert.Equal((409, "idempotency_key_reused"), (reused.Status, Code(reused)));
        // The header works where the body has no key, and an offline refund is keyed the same way.
        var offline = await Raw(HttpMethod.Post, $"/v1/payments/{payment}/refund", new { amount = "3", destination = "offline" }, "ref-2");
        Assert.Equal(offline, await Raw(HttpMethod.Post, $"/v1/payments/{payment}/refund", new { amount = "3", destination = "offline" }, "ref-2"));
        var invoice = (await Api.Get($"/v1/payments/{payment}")).Ok().S("destination_id");
        Assert.Equal("13", (await Api.Get($"/v1/invoices/{invoice}")).Ok().S("refunded_amount"));
        Assert.Equal("15", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task AConcurrentlyRetriedRefundRefundsOnce()
    {
        var (wallet, payment) = await PaidFromWallet();

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            Raw(HttpMethod.Post, $"/v1/payments/{payment}/refund", new { amount = "10", idempotency_key = "ref-par" })));

        Assert.All(answers, a => Assert.Equal(201, a.Status));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal("15", (await Wallet(wallet)).S("credit_balance"));
    }

    [Fact]
    public async Task APackagePurchaseKeyUsedForAnotherPackageIsRefused()
    {
        // Root cause: the purchase looked its key up among invoices and answered the first purchase for any body.
        var starter = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");
        var pro = (await Api.Post("/v1/credit-packages", new { name = "Pro", credits = "500", price = "45", currency = "usd" })).Ok(201).S("id");
        var wallet = await CreateWallet();

        var first = await Raw(HttpMethod.Post, $"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = starter, idempotency_key = "pkg-1" });
        Assert.Equal(200, first.Status);
        var other = await Raw(HttpMethod.Post, $"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = pro, idempotency_key = "pkg-1" });

        Assert.Equal((409, "idempotency_key_reused"), (other.Status, Code(other)));
        Assert.Equal(first, await Raw(HttpMethod.Post, $"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = starter, idempotency_key = "pkg-1" }));
        Assert.Equal(1, await InvoiceCount(wallet.S("customer_id")));
    }

    [Fact]
    public async Task APackageChargedToACardReplaysTheAnswerAfterTheCharge()
    {
        var starter = (await Api.Post("/v1/credit-packages", new { name = "Starter", credits = "100", price = "9.99", currency = "usd" })).Ok(201).S("id");
        var wallet = await CreateWallet();
        (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);

        var first = await Raw(HttpMethod.Post, $"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = starter }, "pkg-card");
        var again = await Raw(HttpMethod.Post, $"/v1/wallets/{wallet.S("id")}/purchase-package", new { package_id = starter }, "pkg-card");

        Assert.Equal(first, again);
        Assert.Equal("SUCCEEDED", JsonNode.Parse(first.Body)!["invoice"].S("payment_status"));
        Assert.Equal("100", (await Wallet(wallet.S("id"))).S("credit_balance"));
        Assert.Single((await Api.Get($"/v1/payments?destination_id={JsonNode.Parse(first.Body)!["invoice"].S("id")}")).Ok()["items"]!.AsArray());
    }

    [Fact]
    public async Task ARetriedCloseReplaysItsAnswer()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        await TopUp(id, "20", "PURCHASED_CREDIT_DIRECT");

        var first = await Raw(HttpMethod.Post, $"/v1/wallets/{id}/close", new { refund = "purchased", idempotency_key = "close-1" });
        var again = await Raw(HttpMethod.Post, $"/v1/wallets/{id}/close", new { refund = "purchased", idempotency_key = "close-1" });

        Assert.Equal(200, first.Status);
        Assert.Equal(first, again);
        Assert.Equal("wallet_not_active", Code(await Raw(HttpMethod.Post, $"/v1/wallets/{id}/close", new { refund = "purchased" })));
        Assert.Equal("idempotency_key_reused", Code(await Raw(HttpMethod.Post, $"/v1/wallets/{id}/close", new { refund = "none", idempotency_key = "close-1" })));
    }

    [Fact]
    public async Task AWalletCreatedTwiceWithOneKeyIsCreatedOnce()
    {
        var customer = (await CreateCustomer()).S("id");
        var body = new { customer_id = customer, currency = "usd", initial_credits_to_load = "3" };

        var answers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Raw(HttpMethod.Post, "/v1/wallets", body, "wal-1")));

        Assert.All(answers, a => Assert.Equal(200, a.Status));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal("already_exists", Code(await Raw(HttpMethod.Post, "/v1/wallets", body)));
        Assert.Single((await Api.Get($"/v1/customers/{customer}/wallets")).Ok().AsArray());
    }

    [Fact]
    public async Task AUniqueViolationIsAConflictNotAnOutage()
    {
        // Root cause: every DbException was answered 503 "database unavailable", a lost race on a unique index included.
        var db = App.Service<Coffer.Storage.Database>();
        await using var scope = await db.BeginWriteAsync();
        const string insert = "INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, created_at) VALUES ('t', 'k', 'h', 0)";
        await Coffer.Storage.Sql.ExecAsync(scope.Connection, scope.Transaction, insert);
        var violation = await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => Coffer.Storage.Sql.ExecAsync(scope.Connection, scope.Transaction, insert));

        var answer = Coffer.Common.ErrorHandling.Classify(violation);

        Assert.Equal((409, "conflict"), (answer.StatusCode, answer.Code));
    }

    [Fact]
    public async Task HoldsAndTheirReleaseReplayThroughTheSameRecord()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var hold = await Raw(HttpMethod.Post, $"/v1/wallets/{id}/holds", new { credits = "4", idempotency_key = "hold-1" });
        Assert.Equal(hold, await Raw(HttpMethod.Post, $"/v1/wallets/{id}/holds", new { credits = "4", idempotency_key = "hold-1" }));
        var holdId = JsonNode.Parse(hold.Body)!["hold"].S("id");

        var released = await Raw(HttpMethod.Post, $"/v1/wallets/{id}/holds/{holdId}/release", key: "rel-1");
        Assert.Equal(200, released.Status);
        Assert.Equal(released, await Raw(HttpMethod.Post, $"/v1/wallets/{id}/holds/{holdId}/release", key: "rel-1"));
        Assert.Equal("idempotency_key_reused", Code(await Raw(HttpMethod.Post, $"/v1/wallets/{id}/debit", new { credits = "1", idempotency_key = "hold-1" })));
    }
}
