using System.Text.Json.Nodes;
using Coffer.Expiry;
using CsCheck;

namespace Coffer.Tests;

public sealed class BalanceAtTestsOnSqlite() : BalanceAtTests(Store.Sqlite);
public sealed class BalanceAtTestsOnPostgres() : BalanceAtTests(Store.Postgres);

/// <summary>
/// <c>GET /v1/wallets/{id}/balance/real-time?at=</c>: the balance at a past instant, computed from the ledger, equals
/// what the real-time balance answered at that instant, on random histories of grants (some expiring, some with a
/// priority), purchases that wait for their invoice and are paid later, debits into an overdraft, holds captured,
/// released or left to expire, and expiry sweeps, with the clock moving between them.
/// </summary>
public abstract class BalanceAtTests(Store store) : ApiTest(store)
{
    enum Kind { Grant, ExpiringGrant, Purchase, InvoicedPurchase, PayInvoice, Debit, Hold, Capture, Release, Sweep }

    sealed record Step(Kind Kind, int Credits, int Minutes, int Pick);

    static readonly Gen<Step> StepGen = Gen.Select(Gen.Enum<Kind>(), Gen.Int[1, 40], Gen.Int[0, 90], Gen.Int[0, 1000],
        (k, c, m, p) => new Step(k, c, m, p));

    /// <summary>The fields of the real-time balance that are the ledger's (the wallet's settings are today's either way).</summary>
    static readonly string[] Figures =
    [
        "credit_balance", "balance", "real_time_credit_balance", "real_time_balance", "pending_charge_credits", "available_credit_balance",
        "expired_unswept_credits", "overdraft_credits", "credits_available_breakdown", "lots", "holds",
    ];

    [Fact]
    public async Task TheBalanceAtAnyPastInstantIsWhatTheRealTimeBalanceSaidThen()
    {
        await StepGen.Array[6, 24].SampleAsync(RunAsync, iter: 12, threads: 1, seed: Environment.GetEnvironmentVariable("COFFER_MODEL_SEED"));
    }

    [Fact]
    public async Task AnInstantThatIsNotADateOrIsInTheFutureIsRefused()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "5" })).S("id");
        var later = Uri.EscapeDataString(App.Clock.GetUtcNow().AddMinutes(1).ToString("O"));

        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/balance/real-time?at=yesterday")).Error(400));
        Assert.Equal("validation_failed", (await Api.Get($"/v1/wallets/{wallet}/balance/real-time?at={later}")).Error(400));
        Assert.Equal("not_found", (await Api.Get($"/v1/wallets/wallet_none/balance/real-time?at=2025-01-01T00:00:00Z")).Error(404));
        // Before the wallet's first credit: nothing in it.
        var before = (await Api.Get($"/v1/wallets/{wallet}/balance/real-time?at=2025-01-01T00:00:00Z")).Ok();
        Assert.Equal("0", before.S("credit_balance"));
        Assert.Empty(before["lots"]!.AsArray());
    }

    async Task RunAsync(Step[] steps)
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "5", overdraft_limit = "15" })).S("id");
        var holds = new List<string>();
        var invoices = new List<string>();
        // What the real-time balance said, by instant: the last answer at each instant is the state once it ended.
        var said = new SortedDictionary<DateTimeOffset, JsonNode> { [App.Clock.GetUtcNow()] = await Balance(wallet) };
        foreach (var step in steps)
        {
            App.Clock.Advance(TimeSpan.FromMinutes(step.Minutes));
            await ApplyAsync(wallet, step, holds, invoices);
            said[App.Clock.GetUtcNow()] = await Balance(wallet);
        }
        App.Clock.Advance(TimeSpan.FromMinutes(1));

        foreach (var (instant, then) in said)
        {
            var at = (await Api.Get($"/v1/wallets/{wallet}/balance/real-time?at={Uri.EscapeDataString(instant.ToString("O"))}")).Ok();
            Assert.Equal(instant, DateTimeOffset.Parse(at.S("as_of"), System.Globalization.CultureInfo.InvariantCulture));
            foreach (var field in Figures)
                Assert.True(JsonNode.DeepEquals(then[field], at[field]),
                    $"{field} at {instant:O}: the real-time balance said {then[field]?.ToJsonString()}, ?at= says {at[field]?.ToJsonString()}");
        }
    }

    async Task ApplyAsync(string wallet, Step step, List<string> holds, List<string> invoices)
    {
        var credits = step.Credits.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var now = App.Clock.GetUtcNow();
        switch (step.Kind)
        {
            case Kind.Grant:
                await TopUp(wallet, credits, priority: step.Pick % 3 == 0 ? step.Pick % 4 + 1 : null);
                break;
            case Kind.ExpiringGrant:
                await TopUp(wallet, credits, expiry: now.AddMinutes(10 + step.Pick % 200));
                break;
            case Kind.Purchase:
                await TopUp(wallet, credits, reason: "PURCHASED_CREDIT_DIRECT");
                break;
            case Kind.InvoicedPurchase:
                var bought = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = credits, transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
                invoices.Add(bought.S("invoice_id"));
                break;
            case Kind.PayInvoice when invoices.Count > 0:
                var invoice = invoices[step.Pick % invoices.Count];
                invoices.Remove(invoice);
                var due = (await Api.Get($"/v1/invoices/{invoice}")).Ok().S("amount_remaining");
                var paid = await Api.Post("/v1/payments", new
                {
                    amount = due, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "OFFLINE",
                    idempotency_key = Guid.NewGuid().ToString("N"),
                });
                if (paid.Status != 201) paid.Error(paid.Status);
                break;
            case Kind.Debit:
                var debit = await Debit(wallet, credits);
                if (debit.Status != 200) Assert.Equal("insufficient_balance", debit.Error(422));
                break;
            case Kind.Hold:
                var hold = await Api.Post($"/v1/wallets/{wallet}/holds",
                    new { credits, expires_at = step.Pick % 2 == 0 ? now.AddMinutes(5 + step.Pick % 120).ToString("O") : null });
                if (hold.Status == 200) holds.Add(hold.Body!["hold"]!.S("id"));
                else Assert.Equal("insufficient_balance", hold.Error(422));
                break;
            case Kind.Capture or Kind.Release when holds.Count > 0:
                var id = holds[step.Pick % holds.Count];
                holds.Remove(id);
                var ended = step.Kind == Kind.Capture
                    ? await Api.Post($"/v1/wallets/{wallet}/holds/{id}/capture", new { credits = "1" })
                    : await Api.Post($"/v1/wallets/{wallet}/holds/{id}/release");
                // A hold that has expired (or a capture beyond what is left) is refused and changes nothing.
                if (ended.Status != 200) ended.Error(ended.Status);
                break;
            case Kind.Sweep:
                await App.Service<ExpirySweeper>().SweepOnceAsync();
                break;
        }
    }
}
