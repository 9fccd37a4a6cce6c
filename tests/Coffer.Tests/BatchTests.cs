using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class BatchTestsOnSqlite() : BatchTests(Store.Sqlite);
public sealed class BatchTestsOnPostgres() : BatchTests(Store.Postgres);

/// <summary>
/// <c>POST /v1/wallets/transactions/batch</c>: debits, top-ups and captures across wallets in one request, each decided in
/// order with its own key and answered in order; atomic batches apply all or none; retries replay.
/// </summary>
public abstract class BatchTests(Store store) : ApiTest(store)
{
    static object Op(string type, string wallet, string? credits, string? key = null, object? extra = null)
    {
        var op = new JsonObject { ["type"] = type, ["wallet_id"] = wallet, ["idempotency_key"] = key ?? Guid.NewGuid().ToString("N") };
        if (credits is not null) op["credits"] = credits;
        if (extra is not null)
            foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject()) op[k] = v?.DeepClone();
        return op;
    }

    Task<(int Status, JsonNode? Body)> Batch(IEnumerable<object> operations, bool? atomic = null) =>
        Api.Post("/v1/wallets/transactions/batch", atomic is null ? new { operations } : new { operations, atomic });

    static List<JsonNode> Results((int Status, JsonNode? Body) r) => r.Ok()["results"]!.AsArray().Select(x => x!).ToList();

    static string? Code(JsonNode result) => result["error"] is JsonObject e ? e["code"]!.GetValue<string>() : null;

    async Task<decimal> CreditBalance(string wallet) => (await Wallet(wallet)).D("credit_balance");

    [Fact]
    public async Task OperationsAreDecidedInOrderAcrossWalletsAndAnsweredOneByOne()
    {
        var a = (await CreateWallet()).S("id");
        var b = (await CreateWallet()).S("id");
        await TopUp(a, "10");
        var hold = (await Api.Post($"/v1/wallets/{a}/holds", new { credits = "3" })).Ok()["hold"]!.S("id");

        var results = Results(await Batch([
            Op("debit", a, "4", "k-0"),
            Op("debit", b, "1", "k-1"),                       // nothing in b yet
            Op("top_up", b, "5", "k-2", new { transaction_reason = "PURCHASED_CREDIT_DIRECT" }),
            Op("debit", b, "1", "k-3"),                       // the top-up before it pays for it
            Op("capture", a, "2", "k-4", new { hold_id = hold }),
            Op("debit", a, "-1", "k-5"),
            Op("debit", "wallet_missing", "1", "k-6"),
            Op("debit", a, "4", "k-0"),                       // the same request again: its first answer
            Op("debit", a, "5", "k-0"),                       // the same key for another request
            Op("capture", a, null, "k-9", new { hold_id = hold }), // the hold ended with the capture above
            Op("debit", a, "1", null, new { type = "refund" }),
        ]));

        Assert.Equal(Enumerable.Range(0, 11), results.Select(r => r["index"]!.GetValue<int>()));
        Assert.Equal(
            ["applied", "refused", "applied", "applied", "applied", "refused", "refused", "replayed", "refused", "refused", "refused"],
            results.Select(r => r.S("status")));
        Assert.Equal(
            [null, "insufficient_balance", null, null, null, "validation_failed", "not_found", null, "idempotency_key_reused", "not_found", "validation_failed"],
            results.Select(Code));
        // Each applied operation reports its entry and the balance it left; a replay names the first one's.
        Assert.Equal(6m, results[0].D("credit_balance"));
        Assert.Equal(5m, results[2].D("credit_balance"));
        Assert.Equal(4m, results[3].D("credit_balance"));
        Assert.Equal(4m, results[4].D("credit_balance"));
        Assert.Equal(results[0].S("transaction_id"), results[7].S("transaction_id"));
        Assert.Equal(6m, results[7].D("credit_balance"));
        Assert.Equal(["k-0", "k-1"], results.Take(2).Select(r => r.S("idempotency_key")));
        Assert.Equal(b, results[1].S("wallet_id"));

        Assert.Equal(4m, await CreditBalance(a));
        Assert.Equal(4m, await CreditBalance(b));
        var entries = await Transactions(a);
        Assert.Contains(entries, t => t!.S("id") == results[0].S("transaction_id") && t.D("credit_amount") == 4m);
        Assert.Contains(entries, t => t!.S("id") == results[4].S("transaction_id") && t.S("reference_id") == hold);
        Assert.Equal(5m, (await Transactions(b)).Single(t => t!.S("transaction_reason") == "PURCHASED_CREDIT_DIRECT")!.D("credit_amount"));
    }

    [Fact]
    public async Task ARetriedBatchReplaysAndItsKeysReplayOnTheirOwnEndpoints()
    {
        var wallets = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            wallets.Add((await CreateWallet()).S("id"));
            await TopUp(wallets[i], "100");
        }
        var operations = wallets.SelectMany((w, i) => new[] { Op("debit", w, "2", $"d-{i}"), Op("top_up", w, "1", $"t-{i}", new { transaction_reason = "FREE_CREDIT_GRANT" }) }).ToList();
        var first = Results(await Batch(operations));
        Assert.All(first, r => Assert.Equal("applied", r.S("status")));

        var again = Results(await Batch(operations));
        Assert.All(again, r => Assert.Equal("replayed", r.S("status")));
        Assert.Equal(first.Select(r => r.S("transaction_id")), again.Select(r => r.S("transaction_id")));
        Assert.Equal(first.Select(r => r.D("credit_balance")), again.Select(r => r.D("credit_balance")));
        foreach (var w in wallets) Assert.Equal(99m, await CreditBalance(w));

        // The single debit endpoint knows the batch's key: the same request replays the batch's entry.
        var replay = (await Debit(wallets[1], "2", "d-1")).Ok();
        Assert.Equal(first[2].S("transaction_id"), replay["wallet_transaction"]!.S("id"));
        Assert.Equal("idempotency_key_reused", (await Debit(wallets[1], "3", "d-1")).Error(409));
        Assert.Equal(99m, await CreditBalance(wallets[1]));
    }

    [Fact]
    public async Task AnAtomicBatchAppliesAllOrNone()
    {
        var a = (await CreateWallet()).S("id");
        var b = (await CreateWallet()).S("id");
        await TopUp(a, "10");
        await TopUp(b, "1");

        var refused = Results(await Batch([Op("debit", a, "3", "x-0"), Op("debit", b, "2", "x-1"), Op("top_up", b, "1", "x-2", new { transaction_reason = "FREE_CREDIT_GRANT" })], atomic: true));
        Assert.Equal(["refused", "refused", "refused"], refused.Select(r => r.S("status")));
        Assert.Equal(["batch_not_applied", "insufficient_balance", "batch_not_applied"], refused.Select(Code));
        Assert.Contains("operation 1", refused[0]["error"]!.S("message"));
        Assert.Equal((10m, 1m), (await CreditBalance(a), await CreditBalance(b)));

        // A request that fails validation stops an atomic batch before anything runs.
        var invalid = Results(await Batch([Op("debit", a, "3", "x-0"), Op("debit", b, "-2", "x-1")], atomic: true));
        Assert.Equal(["batch_not_applied", "validation_failed"], invalid.Select(Code));
        Assert.Equal(10m, await CreditBalance(a));

        // Nothing claimed the keys: the corrected batch applies under them, all of it.
        var applied = Results(await Batch([Op("debit", a, "3", "x-0"), Op("debit", b, "1", "x-1"), Op("top_up", b, "1", "x-2", new { transaction_reason = "FREE_CREDIT_GRANT" })], atomic: true));
        Assert.Equal(["applied", "applied", "applied"], applied.Select(r => r.S("status")));
        Assert.Equal((7m, 1m), (await CreditBalance(a), await CreditBalance(b)));
    }

    [Fact]
    public async Task ABadBatchIsRefusedWholeAndChangesNothing()
    {
        var a = (await CreateWallet()).S("id");
        await TopUp(a, "10");
        Assert.Equal("validation_failed", (await Api.Post("/v1/wallets/transactions/batch", new { })).Error(400));
        Assert.Equal("validation_failed", (await Batch([])).Error(400));
        Assert.Equal("validation_failed", (await Batch(Enumerable.Range(0, 8001).Select(i => Op("debit", a, "1", $"many-{i}")))).Error(400));
        Assert.Equal("validation_failed", (await Api.Send(HttpMethod.Post, "/v1/wallets/transactions/batch", rawBody: """{"operations": {"type": "debit"}}""")).Error(400));
        Assert.Equal(10m, await CreditBalance(a));
    }

    [Fact]
    public async Task EightThousandDebitsAcrossWalletsLandExactlyWhileSingleDebitsRun()
    {
        var wallets = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            wallets.Add((await CreateWallet(new { initial_credits_to_load = "100000" })).S("id"));
        }
        // Far above the 256 KB every other endpoint takes.
        var big = Enumerable.Range(0, 8000).Select(i => Op("debit", wallets[i % wallets.Count], "1", $"big-{i}", new { description = new string('x', 40) })).ToList();
        var singles = Enumerable.Range(0, 40).Select(i => Debit(wallets[i % wallets.Count], "1")).ToList();
        var concurrent = Enumerable.Range(0, 3).Select(j => Batch(Enumerable.Range(0, 200).Select(i => Op("debit", wallets[(i + j) % wallets.Count], "1", $"small-{j}-{i}")))).ToList();
        var results = Results(await Batch(big));
        Assert.Equal(8000, results.Count(r => r.S("status") == "applied"));
        foreach (var s in singles) (await s).Ok();
        foreach (var c in concurrent) Assert.All(Results(await c), r => Assert.Equal("applied", r.S("status")));
        var expected = 100000m - (8000 + 40 + 600) / wallets.Count;
        foreach (var w in wallets) Assert.Equal(expected, await CreditBalance(w));
    }

    [Fact]
    public async Task ABatchOverMoreWalletsThanTheListLimitReadsEachOnesReserveAndKeys()
    {
        // Past 100 wallets the batch names its wallets and keys as one list parameter: every input must still be read.
        var owing = await CreateWallet(new { initial_credits_to_load = "30" });
        var customer = owing.S("customer_id");
        (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "wallet", wallet_id = owing.S("id"), priority = 1 })).Ok(201);
        (await Api.Post("/v1/invoices", new { customer_id = customer, currency = "usd", amount_due = "100", subtotal = "100", total = "100", invoice_status = "FINALIZED" }))
            .Ok(201);
        await TopUp(owing.S("id"), "50");   // 50 credits held, all of them reserved for the invoice's 70 left
        var wallets = new List<string> { owing.S("id") };
        for (var i = 0; i < 110; i++) wallets.Add((await CreateWallet(new { initial_credits_to_load = "10" })).S("id"));
        var operations = wallets.Select((w, i) => Op("debit", w, "1", $"wide-{i}")).ToList();

        var first = Results(await Batch(operations));
        // The invoice still owes 70: the owing wallet's 50 credits are all reserved and its debit is refused; every other one applies.
        Assert.Equal("insufficient_balance", first[0]["error"]!.S("code"));
        Assert.All(first.Skip(1), r => Assert.Equal("applied", r.S("status")));
        var again = Results(await Batch(operations));
        Assert.Equal("refused", again[0].S("status"));
        Assert.All(again.Skip(1), r => Assert.Equal("replayed", r.S("status")));
        foreach (var w in wallets.Skip(1)) Assert.Equal(9m, await CreditBalance(w));
    }
}
