using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class SpendAttributionTestsOnSqlite() : SpendAttributionTests(Store.Sqlite);
public sealed class SpendAttributionTestsOnPostgres() : SpendAttributionTests(Store.Postgres);

/// <summary>
/// Debits that carry dimensions (member, project…), the usage report by dimension, and the wallet's caps per dimension value
/// per UTC day or month, decided under the wallet's lock with the balance.
/// </summary>
public abstract class SpendAttributionTests(Store store) : ApiTest(store)
{
    Task<(int Status, JsonNode? Body)> Spend(string wallet, string credits, object? dimensions, string? key = null) =>
        Api.Post($"/v1/wallets/{wallet}/debit", new { credits, dimensions, idempotency_key = key ?? Guid.NewGuid().ToString("N") });

    async Task<JsonNode> Usage(string wallet, string query) => (await Api.Get($"/v1/wallets/{wallet}/usage?{query}")).Ok();

    static List<(string Value, string Credits, string Amount, long Debits)> Groups(JsonNode usage) =>
        usage["items"]!.AsArray().Select(g => (g.S("value"), g.S("credits"), g.S("amount"), g!["debits"]!.GetValue<long>())).ToList();

    static object DailyCap(string dimension, string credits, string? value = null, string period = "day") =>
        new { dimension, value, period, credits };

    [Fact]
    public async Task DebitsCarryTheirDimensionsAndTheReportGroupsTheirSpendByDay()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "1000", conversion_rate = "2" })).S("id");
        var first = (await Spend(id, "10", new { member = "alice", project = "x" })).Ok();
        Assert.Equal("alice", first["wallet_transaction"]!["dimensions"]!.S("member"));
        (await Spend(id, "5", new { member = "bob", project = "x" })).Ok();
        App.Clock.Advance(TimeSpan.FromDays(1));                     // 2026-01-02
        (await Spend(id, "3.5", new { member = "alice", project = "y" })).Ok();
        (await Debit(id, "7")).Ok();                                  // no dimensions: in no group

        var listed = await Transactions(id);
        Assert.Equal("y", listed.Single(t => t!.S("credit_amount") == "3.5")!["dimensions"]!.S("project"));
        Assert.Null(listed.Single(t => t!.S("credit_amount") == "7")!["dimensions"]);

        var byMember = await Usage(id, "group_by=member&from=2026-01-01&to=2026-01-02");
        Assert.Equal([("alice", "13.5", "27", 2L), ("bob", "5", "10", 1L)], Groups(byMember));
        Assert.Equal(("18.5", "37", 3L), (byMember.S("total_credits"), byMember.S("total_amount"), byMember["total_debits"]!.GetValue<long>()));
        Assert.Equal(("member", "usd"), (byMember.S("group_by"), byMember.S("currency")));

        Assert.Equal([("x", "15", "30", 2L)], Groups(await Usage(id, "group_by=project&from=2026-01-01&to=2026-01-01")));
        Assert.Equal([("y", "3.5", "7", 1L)], Groups(await Usage(id, "group_by=project&from=2026-01-02&to=2026-01-02")));
        // The default: this month to today.
        Assert.Equal([("alice", "13.5", "27", 2L), ("bob", "5", "10", 1L)], Groups(await Usage(id, "group_by=member")));
        Assert.Empty(Groups(await Usage(id, "group_by=api_key")));
        Assert.Equal("974.5", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task AMemberCapPerDayRefusesTheDebitThatWouldPassItAndChangesNothing()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "1000", spend_caps = new[] { DailyCap("member", "50") } })).S("id");
        Assert.Equal("50", (await Wallet(id))["spend_caps"]![0]!.S("credits"));
        (await Spend(id, "30", new { member = "alice" })).Ok();
        (await Spend(id, "20", new { member = "alice" })).Ok();       // exactly the cap
        var refused = await Spend(id, "0.5", new { member = "alice" }, key: "over");
        Assert.Equal("spend_limit_exceeded", refused.Error(422));
        var details = refused.Body!["error"]!["details"]!;
        Assert.Equal(("member", "alice", "day", "50", "50", "0.5"),
            (details.S("dimension"), details.S("value"), details.S("period"), details.S("limit"), details.S("spent"), details.S("requested")));
        (await Spend(id, "50", new { member = "bob" })).Ok();         // every member has a cap of their own
        (await Debit(id, "100")).Ok();                                 // a debit without the dimension is not capped
        Assert.Equal("800", (await Wallet(id)).S("credit_balance"));
        Assert.Equal(5, (await Transactions(id)).Count);               // the grant and four debits: the refusal wrote nothing

        App.Clock.Advance(TimeSpan.FromDays(1));
        // A refused key was never claimed: the same request goes through once the cap allows it.
        (await Spend(id, "0.5", new { member = "alice" }, key: "over")).Ok();
    }

    [Fact]
    public async Task AMonthlyCapOnOneValueCountsEveryDayOfTheMonthAndStartsAgainNextMonth()
    {
        var caps = new[] { DailyCap("project", "100", value: "p1", period: "month") };
        var id = (await CreateWallet(new { initial_credits_to_load = "1000" })).S("id");
        Assert.Equal("p1", (await Api.Put($"/v1/wallets/{id}", new { spend_caps = caps })).Ok()["spend_caps"]![0]!.S("value"));
        for (var day = 0; day < 4; day++)
        {
            (await Spend(id, "25", new { project = "p1" })).Ok();
            App.Clock.Advance(TimeSpan.FromDays(1));
        }
        Assert.Equal("spend_limit_exceeded", (await Spend(id, "1", new { project = "p1" })).Error(422));
        (await Spend(id, "300", new { project = "p2" })).Ok();        // another value is not capped
        App.Clock.Advance(TimeSpan.FromDays(28));                     // February
        (await Spend(id, "100", new { project = "p1" })).Ok();

        // An empty list removes the caps.
        Assert.Null((await Api.Put($"/v1/wallets/{id}", new { spend_caps = Array.Empty<object>() })).Ok()["spend_caps"]);
        (await Spend(id, "100", new { project = "p1" })).Ok();
    }

    [Fact]
    public async Task ConcurrentDebitsNeverSpendPastTheCap()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "1000", spend_caps = new[] { DailyCap("member", "50") } })).S("id");
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Spend(id, "5", new { member = "alice" })));
        Assert.Equal(10, results.Count(r => r.Status == 200));
        Assert.All(results.Where(r => r.Status != 200), r => Assert.Equal("spend_limit_exceeded", r.Error(422)));
        Assert.Equal([("alice", "50", "50", 10L)], Groups(await Usage(id, "group_by=member")));
        Assert.Equal("950", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task ABatchCountsItsOwnDebitsAgainstTheCap()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "1000", spend_caps = new[] { DailyCap("member", "20") } })).S("id");
        (await Spend(id, "5", new { member = "alice" })).Ok();
        var operations = Enumerable.Range(0, 6).Select(i => new
        {
            type = "debit", wallet_id = id, credits = "5", idempotency_key = $"b{i}", dimensions = new { member = i % 2 == 0 ? "alice" : "bob" },
        }).ToArray();
        var results = (await Api.Post("/v1/wallets/transactions/batch", new { operations })).Ok()["results"]!.AsArray();
        // alice had 5: three more of 5 reach 20; bob's three all fit.
        Assert.Equal(["applied", "applied", "applied", "applied", "applied", "applied"], results.Select(r => r!.S("status")));
        var more = (await Api.Post("/v1/wallets/transactions/batch", new
        {
            operations = new[]
            {
                new { type = "debit", wallet_id = id, credits = "5", idempotency_key = "c0", dimensions = new { member = "bob" } },
                new { type = "debit", wallet_id = id, credits = "5", idempotency_key = "c1", dimensions = new { member = "bob" } },
            },
        })).Ok()["results"]!.AsArray();
        Assert.Equal(["applied", "refused"], more.Select(r => r!.S("status")));
        Assert.Equal("spend_limit_exceeded", more[1]!["error"]!.S("code"));
        Assert.Equal([("alice", "20", "20", 4L), ("bob", "20", "20", 4L)], Groups(await Usage(id, "group_by=member")));
    }

    [Fact]
    public async Task AKeyReplaysItsDebitAndRefusesOtherDimensions()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");
        var first = (await Spend(id, "10", new { member = "alice" }, key: "k1")).Ok();
        var again = (await Spend(id, "10", new { member = "alice" }, key: "k1")).Ok();
        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        Assert.Equal("idempotency_key_reused", (await Spend(id, "10", new { member = "bob" }, key: "k1")).Error(409));
        Assert.Equal([("alice", "10", "10", 1L)], Groups(await Usage(id, "group_by=member")));
    }

    [Fact]
    public async Task BadDimensionsCapsAndReportsAre400AndChangeNothing()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "100" })).S("id");
        object[] badDimensions =
        [
            new { a = "1", b = "2", c = "3", d = "4", e = "5", f = "6" },
            new Dictionary<string, string> { ["Member"] = "alice" },
            new Dictionary<string, string> { ["member"] = "" },
            new Dictionary<string, string> { ["member"] = new string('x', 201) },
            new Dictionary<string, string> { ["member"] = "al\nice" },
        ];
        foreach (var dimensions in badDimensions) Assert.Equal("validation_failed", (await Spend(id, "1", dimensions)).Error(400));
        object[][] badCaps =
        [
            [new { dimension = "member", period = "week", credits = "5" }],
            [new { dimension = "member", period = "day", credits = "-5" }],
            [new { dimension = "member", period = "day" }],
            [new { dimension = "Member", period = "day", credits = "5" }],
            [new { dimension = "member", period = "day", credits = "5" }, new { dimension = "member", period = "day", credits = "6" }],
            [.. Enumerable.Range(0, 21).Select(i => new { dimension = "member", value = $"m{i}", period = "day", credits = "5" })],
        ];
        foreach (var caps in badCaps) Assert.Equal("validation_failed", (await Api.Put($"/v1/wallets/{id}", new { spend_caps = caps })).Error(400));
        Assert.Null((await Wallet(id))["spend_caps"]);
        var topUp = await Api.Post("/v1/wallets/transactions/batch", new
        {
            operations = new[] { new { type = "top_up", wallet_id = id, credits = "5", transaction_reason = "FREE_CREDIT_GRANT", idempotency_key = "t", dimensions = new { member = "a" } } },
        });
        Assert.Equal("refused", topUp.Ok()["results"]![0]!.S("status"));
        foreach (var query in new[] { "", "group_by=Member", "group_by=member&from=2026-1-1", "group_by=member&from=2026-01-05&to=2026-01-01", "group_by=member&from=2024-01-01&to=2026-01-01" })
            Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{id}/usage?{query}")).Error(400));
        Assert.Equal("not_found", (await Api.Get("/v1/wallets/wallet_missing/usage?group_by=member")).Error(404));
        Assert.Equal("100", (await Wallet(id)).S("credit_balance"));
        Assert.Single(await Transactions(id));
    }
}
