using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Coffer.Tenants;
using Coffer.Wallets;

namespace Coffer.Tests;

public sealed class AdjustmentTestsOnSqlite() : AdjustmentTests(Store.Sqlite);
public sealed class AdjustmentTestsOnPostgres() : AdjustmentTests(Store.Postgres);

/// <summary>
/// Every entry's <c>kind</c> (credit, debit, refund, adjustment) beside Flexprice's <c>type</c>, and manual adjustments:
/// either direction through the one write path, a required reason, the API key or operator that made them recorded.
/// </summary>
public abstract class AdjustmentTests(Store store) : ApiTest(store)
{
    Task<(int Status, JsonNode? Body)> Adjust(string wallet, string direction, string credits, string? reason = "Goodwill credit", string? key = null,
        HttpClient? api = null, object? extra = null)
    {
        var body = new JsonObject { ["direction"] = direction, ["credits"] = credits, ["reason"] = reason, ["idempotency_key"] = key ?? Guid.NewGuid().ToString("N") };
        if (extra is not null)
            foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject()) body[k] = v?.DeepClone();
        return (api ?? Api).Post($"/v1/wallets/{wallet}/adjustments", body);
    }

    async Task<decimal> CreditBalance(string wallet) => (await Wallet(wallet)).D("credit_balance");

    [Fact]
    public async Task EveryEntryHasAKindAndTransactionListsFilterByIt()
    {
        var id = (await CreateWallet()).S("id");
        var grant = (await TopUp(id, "30"))["wallet_transaction"]!;
        Assert.Equal(("credit", "credit"), (grant.S("type"), grant.S("kind")));
        Assert.Null(grant["adjustment"]);
        var customer = (await Wallet(id)).S("customer_id");
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "10", subtotal = "10", total = "10", invoice_status = "FINALIZED" })).Ok(201).S("id");
        (await Api.Post($"/v1/invoices/{invoice}/payment/attempt")).Ok();
        var payment = (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]![0]!.S("id");
        (await Api.Post($"/v1/payments/{payment}/refund", new { amount = "4" })).Ok(201);
        var usage = (await Debit(id, "3")).Ok()["wallet_transaction"]!;
        Assert.Equal(("debit", "debit"), (usage.S("type"), usage.S("kind")));
        var up = (await Adjust(id, "credit", "5")).Ok()["wallet_transaction"]!;
        var down = (await Adjust(id, "debit", "2")).Ok()["wallet_transaction"]!;
        Assert.Equal(("credit", "adjustment", "MANUAL_ADJUSTMENT"), (up.S("type"), up.S("kind"), up.S("transaction_reason")));
        Assert.Equal(("debit", "adjustment", "MANUAL_ADJUSTMENT"), (down.S("type"), down.S("kind"), down.S("transaction_reason")));

        var all = await Transactions(id);
        Assert.Equal(6, all.Count);
        var byReason = all.ToDictionary(t => t!.S("id"), t => (t!.S("transaction_reason"), t.S("kind")));
        Assert.Equal(
            new[] { ("CREDIT_NOTE", "refund"), ("FREE_CREDIT_GRANT", "credit"), ("INVOICE_PAYMENT", "debit"), ("MANUAL_ADJUSTMENT", "adjustment"),
                ("MANUAL_ADJUSTMENT", "adjustment"), ("MANUAL_BALANCE_DEBIT", "debit") },
            byReason.Values.Order());

        async Task<List<string>> Reasons(string kind) =>
            (await Transactions(id, $"&kind={kind}")).Select(t => t!.S("transaction_reason")).Order().ToList();
        Assert.Equal(["FREE_CREDIT_GRANT"], await Reasons("credit"));
        Assert.Equal(["INVOICE_PAYMENT", "MANUAL_BALANCE_DEBIT"], await Reasons("debit"));
        Assert.Equal(["CREDIT_NOTE"], await Reasons("refund"));
        Assert.Equal(["MANUAL_ADJUSTMENT", "MANUAL_ADJUSTMENT"], await Reasons("adjustment"));
        // Kind and type together: the debit adjustment only.
        Assert.Equal(down.S("id"), Assert.Single(await Transactions(id, "&kind=adjustment&type=debit"))!.S("id"));
        // A single entry, by id, says its kind too.
        Assert.Equal("refund", Assert.Single(await Transactions(id, $"&id={all.Single(t => t!.S("transaction_reason") == "CREDIT_NOTE")!.S("id")}"))!.S("kind"));

        // The search across wallets filters the same way, with its pagination total.
        var search = (await Api.Post("/v1/wallets/transactions/search", new { kind = "adjustment", limit = 1 })).Ok();
        Assert.Equal(2, search["pagination"]!["total"]!.GetValue<long>());
        Assert.Single(search["items"]!.AsArray());

        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{id}/transactions?kind=gift")).Error(400));
        Assert.Equal("validation_failed", (await Api.Post("/v1/wallets/transactions/search", new { kind = "Refund" })).Error(400));
    }

    [Fact]
    public async Task ACreditAdjustmentIsAFreeLotAndADebitAdjustmentSpendsInTheSpendOrder()
    {
        var id = (await CreateWallet()).S("id");
        var plain = (await TopUp(id, "20"))["wallet_transaction"]!.S("id");
        var response = (await Adjust(id, "credit", "50", "  Outage on 3 March  ", extra: new
        {
            priority = 1, expiry_date_utc = CofferApp.Start.AddDays(30).ToString("O"), metadata = new { ticket = "T-42" },
        })).Ok();
        Assert.Equal("70", response["wallet"]!.S("credit_balance"));
        var lot = response["wallet_transaction"]!;
        Assert.Equal(("50", "0", "50", 1), (lot.S("credit_amount"), lot.S("amount"), lot.S("credits_available"), lot["priority"]!.GetValue<int>()));
        Assert.Equal(CofferApp.Start.AddDays(30), DateTimeOffset.Parse(lot.S("expiry_date")));
        Assert.Equal("Outage on 3 March", lot["adjustment"]!.S("reason"));
        Assert.Equal("T-42", lot["metadata"]!.S("ticket"));

        // 60 credits: the prioritised adjustment's 50 first, then 10 of the plain grant.
        var debit = (await Adjust(id, "debit", "60", "Duplicate grant")).Ok();
        Assert.Equal("10", debit["wallet"]!.S("credit_balance"));
        var spent = debit["wallet_transaction"]!["allocations"]!.AsArray().ToDictionary(a => a!.S("lot_id"), a => a!.S("credits"));
        Assert.Equal(new Dictionary<string, string> { [lot.S("id")] = "50", [plain] = "10" }, spent);
        Assert.Equal(("debit", "adjustment", "60"), (debit["wallet_transaction"].S("type"), debit["wallet_transaction"].S("kind"), debit["wallet_transaction"].S("amount")));
        Assert.Equal(10m, (await Balance(id)).D("real_time_credit_balance"));

        // The same wallet transaction events as any entry, carrying the kind and the reason.
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        var payloads = await Storage.Sql.QueryAsync(c, null,
            "SELECT payload, payload_packed FROM outbox_events WHERE wallet_id = @w AND event_type = 'wallet.transaction.created' ORDER BY sequence",
            r => JsonNode.Parse(Storage.PackedJson.Read(r, "payload")!)!, ("w", id));
        var adjusted = payloads.Select(p => p["data"]!).Where(p => p.S("transaction_reason") == "MANUAL_ADJUSTMENT").ToList();
        Assert.Equal(2, adjusted.Count);
        Assert.All(adjusted, p => Assert.Equal("adjustment", p.S("kind")));
        Assert.Equal(["Outage on 3 March", "Duplicate grant"], adjusted.Select(p => p["adjustment"]!.S("reason")));
    }

    [Fact]
    public async Task AMissingEmptyOrTooLongReasonOrABadFieldIsRefusedAndChangesNothing()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var before = (await Transactions(id)).Count;
        foreach (var reason in new string?[] { null, "", "   ", new string('r', 501), "bad\u0000reason" })
            Assert.Equal("validation_failed", (await Adjust(id, "credit", "1", reason)).Error(400));
        Assert.Equal("validation_failed", (await Adjust(id, "sideways", "1")).Error(400));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{id}/adjustments", new { credits = "1", reason = "x", idempotency_key = "k" })).Error(400));
        Assert.Equal("validation_failed", (await Adjust(id, "credit", "0")).Error(400));
        Assert.Equal("validation_failed", (await Adjust(id, "credit", "-5")).Error(400));
        Assert.Equal("validation_failed", (await Adjust(id, "credit", "1.0000000000001")).Error(400));
        Assert.Equal("validation_failed", (await Adjust(id, "debit", "1", extra: new { priority = 1 })).Error(400));
        Assert.Equal("validation_failed", (await Adjust(id, "credit", "1", extra: new { expiry_date_utc = CofferApp.Start.AddDays(-1).ToString("O") })).Error(400));
        Assert.Equal("validation_failed", (await Api.Post($"/v1/wallets/{id}/adjustments", new { direction = "credit", credits = "1", reason = "x" })).Error(400));
        Assert.Equal("not_found", (await Adjust("wallet_nobody", "credit", "1")).Error(404));
        Assert.Equal(10m, await CreditBalance(id));
        Assert.Equal(before, (await Transactions(id)).Count);

        // 500 characters once trimmed is the longest reason.
        var longest = new string('r', 500);
        Assert.Equal(longest, (await Adjust(id, "credit", "1", $"  {longest}  ")).Ok()["wallet_transaction"]!["adjustment"]!.S("reason"));
    }

    [Fact]
    public async Task ADebitAdjustmentBeyondTheBalanceOrTheOverdraftLimitIsRefusedAsADebitIs()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var refused = await Adjust(id, "debit", "10.5");
        Assert.Equal("insufficient_balance", refused.Error(422));
        Assert.Equal(("10.5", "10"), (refused.Body!["error"]!["details"]!.S("requested"), refused.Body!["error"]!["details"]!.S("available")));
        Assert.Equal(10m, await CreditBalance(id));
        Assert.Single(await Transactions(id));

        var overdraft = (await CreateWallet(new { initial_credits_to_load = "10", overdraft_limit = "5" })).S("id");
        Assert.Equal("-5", (await Adjust(overdraft, "debit", "15")).Ok()["wallet"]!.S("credit_balance"));
        Assert.Equal("insufficient_balance", (await Adjust(overdraft, "debit", "0.000000001")).Error(422));
        Assert.Equal(-5m, await CreditBalance(overdraft));

        // A frozen or closed wallet refuses an adjustment as it refuses top-ups and debits.
        (await Api.Post($"/v1/wallets/{id}/freeze")).Ok();
        Assert.Equal("wallet_not_active", (await Adjust(id, "credit", "1")).Error(422));
        Assert.Equal("wallet_not_active", (await Adjust(id, "debit", "1")).Error(422));
        (await Api.Post($"/v1/wallets/{id}/unfreeze")).Ok();
        (await Api.Post($"/v1/wallets/{id}/terminate")).Ok();
        Assert.Equal("wallet_not_active", (await Adjust(id, "credit", "1")).Error(422));
    }

    [Fact]
    public async Task AReplayAnswersTheFirstAdjustmentAndADifferentRequestWithItsKeyIsRefused()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var first = await Adjust(id, "credit", "5", "Migration from the old system", key: "adj-1");
        var again = await Adjust(id, "credit", "5", "Migration from the old system", key: "adj-1");
        Assert.Equal(first.Ok().ToJsonString(), again.Ok().ToJsonString());
        Assert.Equal("idempotency_key_reused", (await Adjust(id, "credit", "6", "Migration from the old system", key: "adj-1")).Error(409));
        Assert.Equal("idempotency_key_reused", (await Adjust(id, "debit", "5", "Migration from the old system", key: "adj-1")).Error(409));
        Assert.Equal("idempotency_key_reused", (await Adjust(id, "credit", "5", "Another reason", key: "adj-1")).Error(409));
        // The header is the same one key.
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/wallets/{id}/adjustments")
        {
            Content = JsonContent.Create(new { direction = "debit", credits = "1", reason = "Header key" }),
        };
        request.Headers.Add("Idempotency-Key", "adj-1");
        Assert.Equal(409, (int)(await Api.SendAsync(request)).StatusCode);
        Assert.Equal(15m, await CreditBalance(id));
        Assert.Single(await Transactions(id, "&kind=adjustment"));
    }

    [Fact]
    public async Task TheEntryRecordsTheApiKeyOrTheOperatorThatMadeIt()
    {
        var tenants = App.Service<TenantStore>();
        var tenant = (await tenants.DefaultTenantAsync())!;
        var created = await tenants.CreateKeyAsync(tenant.Id, "ops-bot");
        using var bot = App.Api(created.Secret);
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");

        var byKey = await Adjust(id, "credit", "3", "Support ticket 981", api: bot);
        var entry = byKey.Ok()["wallet_transaction"]!;
        Assert.Equal(("api_key", created.Id, "ops-bot", "Support ticket 981"),
            (entry["adjustment"].S("actor_type"), entry["adjustment"].S("actor_id"), entry["adjustment"].S("actor_name"), entry["adjustment"].S("reason")));
        Assert.Equal(created.Id, entry.S("created_by"));
        Assert.DoesNotContain(created.Secret, byKey.Body!.ToJsonString());

        // The dashboard's operation, as its form calls it, with the signed-in operator.
        var v = new Common.Validator();
        var order = WalletAdjustments.Order(v, id, new AdjustmentRequest { Direction = "debit", Credits = 2, Reason = "Chargeback", IdempotencyKey = "op-1" }, null,
            Actor.Operator("op_123", "ops@merchant.test"), CofferApp.Start)!;
        Assert.IsType<Moved<WalletChangeResponse>.Done>(await App.Service<WalletAdjustments>().AdjustAsync(tenant.Id, id, order));

        var listed = await Transactions(id, "&kind=adjustment");
        var byOperator = listed.Single(t => t!.S("type") == "debit")!;
        Assert.Equal(("operator", "op_123", "ops@merchant.test", "Chargeback"),
            (byOperator["adjustment"].S("actor_type"), byOperator["adjustment"].S("actor_id"), byOperator["adjustment"].S("actor_name"), byOperator["adjustment"].S("reason")));
        Assert.Equal("op_123", byOperator.S("created_by"));
        Assert.Equal(created.Id, listed.Single(t => t!.S("type") == "credit")!.S("created_by"));
        Assert.Equal(11m, await CreditBalance(id));

        // Another key sending the bot's key and body is refused: the answer is the bot's, not the caller's.
        (await Adjust(id, "credit", "3", "Support ticket 981", key: "shared", api: bot)).Ok();
        Assert.Equal("idempotency_key_reused", (await Adjust(id, "credit", "3", "Support ticket 981", key: "shared")).Error(409));
        Assert.Equal(14m, await CreditBalance(id));
    }

    [Fact]
    public async Task SixteenConcurrentDebitAdjustmentsNeverOverdrawTheWallet()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Adjust(id, "debit", "10", $"Correction {i}", key: $"c-{i}")));
        Assert.Equal(10, results.Count(r => r.Status == 200));
        Assert.All(results.Where(r => r.Status != 200), r => Assert.Equal("insufficient_balance", r.Error(422)));
        Assert.Equal(0m, await CreditBalance(id));
        Assert.Equal(10, (await Transactions(id, "&kind=adjustment")).Count);
        var afters = (await Transactions(id, "&kind=adjustment")).Select(t => t!.D("credit_balance_after")).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10m), afters);
    }

    [Fact]
    public async Task AnAdjustmentOfACreditCurrencyWalletKeepsItsPrecision()
    {
        var tokens = (await Api.Post("/v1/credit-currencies", new { name = "Tokens", denomination = "unit", currency = "usd", price_per_credit = 0.002m, precision = 0 })).Ok(201).S("id");
        var customer = (await CreateCustomer()).S("id");
        var wallet = (await Api.Post($"/v1/customers/{customer}/top-up", new { credit_currency_id = tokens, credits_to_add = "100", transaction_reason = "FREE_CREDIT_GRANT" }))
            .Ok()["wallet"]!.S("id");
        Assert.Equal("validation_failed", (await Adjust(wallet, "credit", "1.5")).Error(400));
        Assert.Equal("validation_failed", (await Adjust(wallet, "debit", "0.5")).Error(400));
        Assert.Equal("99", (await Adjust(wallet, "debit", "1")).Ok()["wallet"]!.S("credit_balance"));
    }
}
