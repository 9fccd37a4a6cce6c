using System.Text.Json.Nodes;
using Coffer.Ledger;

namespace Coffer.Tests;

public sealed class WalletLedgerTestsOnSqlite() : WalletLedgerTests(Store.Sqlite);
public sealed class WalletLedgerTestsOnPostgres() : WalletLedgerTests(Store.Postgres);

public abstract class WalletLedgerTests(Store store) : ApiTest(store)
{
    [Fact]
    public async Task CreateWalletWithInitialCreditsGrantsFreeCreditsThatExpire()
    {
        var expiry = CofferApp.Start.AddDays(30);
        var wallet = await CreateWallet(new { conversion_rate = "2", initial_credits_to_load = "100", initial_credits_expiry_date_utc = expiry.ToString("O") });

        Assert.Equal("100", wallet.S("credit_balance"));
        Assert.Equal("200", wallet.S("balance"));
        Assert.Equal("active", wallet.S("wallet_status"));
        var tx = Assert.Single(await Transactions(wallet.S("id")));
        Assert.Equal("credit", tx!.S("type"));
        Assert.Equal("FREE_CREDIT_GRANT", tx.S("transaction_reason"));
        Assert.Equal("100", tx.S("credit_amount"));
        Assert.Equal("completed", tx.S("transaction_status"));
        Assert.Equal(expiry, DateTimeOffset.Parse(tx.S("expiry_date")));
    }

    [Fact]
    public async Task TopUpByAmountConvertsWithTheTopUpRate()
    {
        var wallet = await CreateWallet(new { conversion_rate = "1", topup_conversion_rate = "0.5" });
        var r = (await Api.Post($"/v1/wallets/{wallet.S("id")}/top-up", new { amount = "10", transaction_reason = "PURCHASED_CREDIT_DIRECT" })).Ok();

        Assert.Equal("20", r["wallet_transaction"]!.S("credit_amount"));
        Assert.Equal("10", r["wallet_transaction"]!.S("amount"));
        Assert.Equal("0", r["wallet_transaction"]!.S("credit_balance_before"));
        Assert.Equal("20", r["wallet_transaction"]!.S("credit_balance_after"));
        Assert.Equal("20", r["wallet"]!.S("credit_balance"));
        Assert.Null(r["invoice_id"]);
        var breakdown = (await Balance(wallet.S("id")))["credits_available_breakdown"]!;
        Assert.Equal("0", breakdown.S("free"));
        Assert.Equal("20", breakdown.S("purchased"));
    }

    [Fact]
    public async Task DebitConsumesLotsInSpendOrderAndListsItsAllocations()
    {
        var id = (await CreateWallet()).S("id");
        var noPriorityNoExpiry = (await TopUp(id, "10"))["wallet_transaction"]!.S("id");
        var laterExpiry = (await TopUp(id, "10", priority: 5, expiry: CofferApp.Start.AddDays(20)))["wallet_transaction"]!.S("id");
        var soonerExpiry = (await TopUp(id, "10", priority: 5, expiry: CofferApp.Start.AddDays(10)))["wallet_transaction"]!.S("id");
        var topPriority = (await TopUp(id, "10", priority: 1))["wallet_transaction"]!.S("id");

        var debit = (await Debit(id, "25")).Ok()["wallet_transaction"]!;

        var allocations = debit["allocations"]!.AsArray().Select(a => (a!.S("lot_id"), a.S("credits"))).ToList();
        Assert.Equal([(topPriority, "10"), (soonerExpiry, "10"), (laterExpiry, "5")], allocations);
        var lots = (await Transactions(id, "&type=credit")).ToDictionary(t => t!.S("id"), t => t!.S("credits_available"));
        Assert.Equal("0", lots[topPriority]);
        Assert.Equal("0", lots[soonerExpiry]);
        Assert.Equal("5", lots[laterExpiry]);
        Assert.Equal("10", lots[noPriorityNoExpiry]);
    }

    [Fact]
    public async Task DebitLargerThanTheBalanceIsRefusedAndChangesNothing()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");

        var code = (await Debit(id, "10.000000000001")).Error(422);

        Assert.Equal("insufficient_balance", code);
        Assert.Equal("10", (await Wallet(id)).S("credit_balance"));
        Assert.Single(await Transactions(id));
    }

    [Fact]
    public async Task OverdraftLimitAllowsANegativeBalanceAndNewCreditRepaysItFirst()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10", overdraft_limit = "5" })).S("id");

        (await Debit(id, "14")).Ok();
        Assert.Equal("insufficient_balance", (await Debit(id, "2")).Error(422));
        Assert.Equal("-4", (await Wallet(id)).S("credit_balance"));

        var credit = (await TopUp(id, "6"))["wallet_transaction"]!;
        Assert.Equal("2", credit.S("credits_available"));
        Assert.Equal("2", (await Wallet(id)).S("credit_balance"));
        var debit = (await Transactions(id, "&type=debit")).Single()!;
        Assert.Equal("0", debit.S("credits_unsettled"));
        Assert.Contains(debit["allocations"]!.AsArray(), a => a!.S("lot_id") == credit.S("id") && a.S("credits") == "4");
    }

    [Fact]
    public async Task TheRealTimeBalanceCountsWhatItsCustomerOwesOnFinalizedInvoicesInItsCurrencyOnly()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "10" });
        var customer = wallet.S("customer_id");
        async Task Invoice(string currency, string amount, string status, string? customerId = null) =>
            (await Api.Post("/v1/invoices", new
            {
                customer_id = customerId ?? customer, currency, amount_due = amount, subtotal = amount, total = amount, invoice_status = status,
            })).Ok(201);
        await Invoice("usd", "7", "FINALIZED");
        await Invoice("usd", "2.5", "FINALIZED");
        await Invoice("usd", "100", "DRAFT");
        await Invoice("eur", "40", "FINALIZED");
        await Invoice("usd", "50", "FINALIZED", (await CreateCustomer()).S("id"));

        var balance = await Balance(wallet.S("id"));
        Assert.Equal(9.5m, balance.D("unpaid_invoices_amount"));
        Assert.Equal(10m, balance.D("real_time_credit_balance"));
    }

    [Fact]
    public async Task ExpiredCreditsStopBeingSpendableAtExpiryAndTheSweepPostsOneExpiryPerLot()
    {
        var expiry = CofferApp.Start.AddHours(1);
        var id = (await CreateWallet(new { initial_credits_to_load = "10", initial_credits_expiry_date_utc = expiry.ToString("O") })).S("id");
        await TopUp(id, "5");
        (await Debit(id, "3")).Ok();

        App.Clock.SetUtcNow(expiry);
        var balance = await Balance(id);
        Assert.Equal("5", balance.S("real_time_credit_balance"));
        Assert.Equal("7", balance.S("expired_unswept_credits"));
        Assert.Equal("insufficient_balance", (await Debit(id, "6")).Error(422));

        var sweeper = App.Service<Expiry.ExpirySweeper>();
        Assert.Equal(1, await sweeper.SweepOnceAsync());
        Assert.Equal(0, await sweeper.SweepOnceAsync());

        var expired = Assert.Single(await Transactions(id, "&transaction_reason=CREDIT_EXPIRED"));
        Assert.Equal("7", expired!.S("credit_amount"));
        Assert.Equal("5", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task ATopUpThatWouldTakeTheBalanceAboveTheLimitIsRefused()
    {
        var id = (await CreateWallet()).S("id");
        for (var i = 0; i < 10; i++) await TopUp(id, "1000000000000000");

        var code = (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = "0.000000000001", transaction_reason = "FREE_CREDIT_GRANT" })).Error(422);

        Assert.Equal("balance_limit_exceeded", code);
        Assert.Equal("10000000000000000", (await Wallet(id)).S("credit_balance"));
        (await Debit(id, "0.000000000001")).Ok();
        Assert.Equal("9999999999999999.999999999999", (await Wallet(id)).S("credit_balance"));
    }

    [Fact]
    public async Task FrozenWalletRefusesTopUpsAndDebitsUntilUnfrozen()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        Assert.Equal("frozen", (await Api.Post($"/v1/wallets/{id}/freeze")).Ok().S("wallet_status"));

        Assert.Equal("wallet_not_active", (await Debit(id, "1")).Error(422));
        Assert.Equal("wallet_not_active", (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = "1", transaction_reason = "FREE_CREDIT_GRANT" })).Error(422));
        Assert.Equal("10", (await Wallet(id)).S("credit_balance"));

        Assert.Equal("active", (await Api.Post($"/v1/wallets/{id}/unfreeze")).Ok().S("wallet_status"));
        (await Debit(id, "1")).Ok();
    }

    [Fact]
    public async Task TerminateExpiresWhatExpiredDebitsTheRestClosesAndIsIdempotent()
    {
        var expiry = CofferApp.Start.AddHours(1);
        var id = (await CreateWallet(new { initial_credits_to_load = "10", initial_credits_expiry_date_utc = expiry.ToString("O") })).S("id");
        await TopUp(id, "4", "PURCHASED_CREDIT_DIRECT");
        App.Clock.SetUtcNow(expiry.AddMinutes(1));

        var closed = (await Api.Post($"/v1/wallets/{id}/terminate")).Ok();
        Assert.Equal("closed", closed.S("wallet_status"));
        Assert.Equal("0", closed.S("credit_balance"));
        var debits = await Transactions(id, "&type=debit");
        Assert.Equal("10", debits.Single(t => t!.S("transaction_reason") == "CREDIT_EXPIRED")!.S("credit_amount"));
        Assert.Equal("4", debits.Single(t => t!.S("transaction_reason") == "WALLET_TERMINATION")!.S("credit_amount"));

        Assert.Equal("closed", (await Api.Post($"/v1/wallets/{id}/terminate")).Ok().S("wallet_status"));
        Assert.Equal(2, (await Transactions(id, "&type=debit")).Count);
        Assert.Equal("wallet_not_active", (await Api.Post($"/v1/wallets/{id}/top-up", new { credits_to_add = "1", transaction_reason = "FREE_CREDIT_GRANT" })).Error(422));
    }

    [Fact]
    public async Task ASecondOpenWalletForTheSameCustomerAndCurrencyIsRefusedButAnotherCurrencyIsNot()
    {
        var customer = await CreateCustomer();
        (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd" })).Ok();
        Assert.Equal("already_exists", (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "USD" })).Error(409));
        (await Api.Post("/v1/wallets", new { external_customer_id = customer.S("external_id"), currency = "eur" })).Ok();

        var wallets = (await Api.Get($"/v1/customers/{customer.S("id")}/wallets")).Ok().AsArray();
        Assert.Equal(["eur", "usd"], wallets.Select(w => w!.S("currency")).Order());
        var byLookup = (await Api.Get($"/v1/customers/wallets?lookup_key={customer.S("external_id")}")).Ok().AsArray();
        Assert.Equal(2, byLookup.Count);
    }

    [Fact]
    public async Task UpdateWalletChangesSettingsButNotMoney()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "3" })).S("id");
        var updated = (await Api.Put($"/v1/wallets/{id}", new
        {
            name = "Main",
            description = "credits",
            metadata = new Dictionary<string, string> { ["plan"] = "pro" },
            alert_settings = new { alert_enabled = true, critical = new { threshold = 1, condition = "below" } },
            auto_topup = new { enabled = true, threshold = 5, amount = 50, invoicing = false },
        })).Ok();

        Assert.Equal("Main", updated.S("name"));
        Assert.Equal("pro", updated["metadata"]!.S("plan"));
        Assert.Equal(1, updated["alert_settings"]!["critical"]!["threshold"]!.GetValue<decimal>());
        Assert.Equal(50, updated["auto_topup"]!["amount"]!.GetValue<decimal>());
        Assert.Equal("3", updated.S("credit_balance"));
    }

    [Fact]
    public async Task TransactionsFilterByTypeReasonAndCreatedRangeNewestFirst()
    {
        var id = (await CreateWallet()).S("id");
        await TopUp(id, "5");
        App.Clock.Advance(TimeSpan.FromHours(1));
        await TopUp(id, "6", "PURCHASED_CREDIT_DIRECT");
        App.Clock.Advance(TimeSpan.FromHours(1));
        (await Debit(id, "1")).Ok();

        var all = await Transactions(id);
        Assert.Equal(["debit", "credit", "credit"], all.Select(t => t!.S("type")));
        Assert.Single(await Transactions(id, "&type=debit"));
        Assert.Equal("6", (await Transactions(id, "&transaction_reason=PURCHASED_CREDIT_DIRECT")).Single()!.S("credit_amount"));
        var from = Uri.EscapeDataString(CofferApp.Start.AddMinutes(30).ToString("O"));
        var to = Uri.EscapeDataString(CofferApp.Start.AddMinutes(90).ToString("O"));
        Assert.Equal("6", (await Transactions(id, $"&start_time={from}&end_time={to}")).Single()!.S("credit_amount"));

        var page = (await Api.Get($"/v1/wallets/{id}/transactions?limit=2&offset=1")).Ok();
        Assert.Equal(3, page["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(2, page["items"]!.AsArray().Count);
        Assert.Equal("6", page["items"]![0]!.S("credit_amount"));
    }

    [Fact]
    public async Task TransactionSearchAcrossWalletsFiltersByWallet()
    {
        var a = (await CreateWallet(new { initial_credits_to_load = "1" })).S("id");
        var b = (await CreateWallet(new { initial_credits_to_load = "2" })).S("id");

        var all = (await Api.Post("/v1/wallets/transactions/search", new { limit = 10 })).Ok();
        Assert.Equal(2, all["pagination"]!["total"]!.GetValue<int>());
        var onlyB = (await Api.Post("/v1/wallets/transactions/search", new
        {
            filters = new[] { new { field = "wallet_id", @operator = "eq", data_type = "string", value = new { @string = b } } },
        })).Ok();
        Assert.Equal(b, onlyB["items"]!.AsArray().Single()!.S("wallet_id"));
        Assert.NotEqual(a, b);
    }

    [Fact]
    public async Task WalletSearchAndListPaginate()
    {
        for (var i = 0; i < 3; i++) await CreateWallet();
        var search = (await Api.Post("/v1/wallets/search", new { limit = 2, status = "active" })).Ok();
        Assert.Equal(3, search["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(2, search["items"]!.AsArray().Count);
        var list = (await Api.Get("/v1/wallets?limit=5")).Ok();
        Assert.Equal(3, list["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task WalletEventsAreWrittenToTheOutboxWithTheChangeAndNotForARefusal()
    {
        var id = (await CreateWallet(new { initial_credits_to_load = "1" })).S("id");
        (await Debit(id, "5")).Error(422);
        (await Api.Post($"/v1/wallets/{id}/terminate")).Ok();

        var db = App.Service<Storage.Database>();
        await using var c = await db.OpenAsync();
        var events = await Storage.Sql.QueryAsync(c, null,
            "SELECT event_type, sequence FROM outbox_events WHERE wallet_id = @w ORDER BY sequence",
            r => (Type: r.GetString(0), Seq: Convert.ToInt64(r.GetValue(1))), ("w", id));
        Assert.Equal(
            ["wallet.created", "wallet.transaction.created", "wallet.topped_up", "wallet.transaction.created", "wallet.terminated"],
            events.Select(e => e.Type));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Seq));
    }
}
