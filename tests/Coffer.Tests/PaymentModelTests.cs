using System.Net;
using System.Text.Json.Nodes;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Storage;
using CsCheck;

namespace Coffer.Tests;

public sealed class PaymentModelTestsOnSqlite() : PaymentModelTests(Store.Sqlite);
public sealed class PaymentModelTestsOnPostgres() : PaymentModelTests(Store.Postgres);

/// <summary>
/// Random interleavings at the payment edges, through HTTP: invoices and invoiced purchases; card payments (one
/// card succeeds, one is declined, one is charged but its answer is lost, as a crash between the gateway call and
/// its record leaves it); payment links paid on the hosted page; offline payments; FAILED status updates; voids;
/// wallet closes; refunds; two payments racing on one invoice; and reconciliation rounds. After each run, once the
/// reconciler has settled everything in flight: <c>verify</c> is clean, the money the gateway took equals what
/// Coffer recorded as received through it, what it gave back equals the refunds Coffer made, and no invoice keeps
/// more than its total.
/// </summary>
public abstract class PaymentModelTests(Store store) : ApiTest(store)
{
    enum Kind { Invoice, Purchase, Card, LostCard, DeclinedCard, Link, Offline, Fail, Void, Close, Refund, Race, Reconcile }

    sealed record Step(Kind Kind, int Pick, int Cents);

    static readonly Gen<Step> StepGen = Gen.Select(Gen.Enum<Kind>(), Gen.Int[0, 1000], Gen.Int[1, 2000], (k, p, c) => new Step(k, p, c));

    sealed class Run
    {
        public required string Customer;
        public required string Wallet;
        public required Dictionary<string, string> Cards;
        public List<string> Invoices { get; } = [];
        public List<string> Payments { get; } = [];
    }

    static string Money(decimal amount) => amount.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task PaymentsRefundsAndCancellationsInAnyOrderKeepTheMoneyExact()
    {
        await StepGen.Array[4, 14].SampleAsync(RunAsync, iter: 20, threads: 1, seed: Environment.GetEnvironmentVariable("COFFER_MODEL_SEED"));
    }

    async Task RunAsync(Step[] steps)
    {
        var customer = (await CreateCustomer()).S("id");
        var cards = new Dictionary<string, string>();
        foreach (var (name, number) in new[] { ("good", "4242424242424242"), ("declined", "4000000000000002"), ("lost", SandboxGateway.ChargedThenTimesOutCard) })
            cards[name] = (await Api.Post($"/v1/customers/{customer}/payment-methods", new { type = "card", card_number = number })).Ok(201).S("id");
        var run = new Run { Customer = customer, Wallet = await NewWallet(customer), Cards = cards };
        foreach (var step in steps) await ApplyAsync(run, step);

        // Everything in flight settles: the lost answers are asked again, the refunds due are made.
        for (var i = 0; i < 3; i++)
        {
            App.Clock.Advance(TimeSpan.FromHours(2));
            await App.Service<PaymentReconciler>().RunOnceAsync();
        }
        await CheckAsync(customer);
    }

    async Task<string> NewWallet(string customer) =>
        (await Api.Post("/v1/wallets", new { customer_id = customer, currency = "usd" })).Ok().S("id");

    string? Pick(List<string> from, int pick) => from.Count == 0 ? null : from[pick % from.Count];

    async Task<decimal> Remaining(string invoice) => (await Api.Get($"/v1/invoices/{invoice}")).Ok().D("amount_remaining");

    Task<(int Status, JsonNode? Body)> Pay(string invoice, decimal amount, string method, string? methodId = null) =>
        Api.Post("/v1/payments", new
        {
            amount = Money(amount), currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = method,
            payment_method_id = methodId, idempotency_key = Guid.NewGuid().ToString("N"),
        });

    void Track(Run run, (int Status, JsonNode? Body) answer)
    {
        // Every answer is a result or a refusal in the error envelope: never a 5xx.
        Assert.True(answer.Status < 500, $"{answer.Status}: {answer.Body?.ToJsonString()}");
        if (answer.Status == 201 && answer.Body?["id"] is not null) run.Payments.Add(answer.Body.S("id"));
        else if (answer.Status >= 400) answer.Error(answer.Status);
    }

    async Task ApplyAsync(Run run, Step step)
    {
        var amount = step.Cents / 100m;
        var invoice = Pick(run.Invoices, step.Pick);
        switch (step.Kind)
        {
            case Kind.Invoice:
                run.Invoices.Add((await Api.Post("/v1/invoices", new
                {
                    customer_id = run.Customer, currency = "usd", amount_due = Money(amount), subtotal = Money(amount), total = Money(amount), invoice_status = "FINALIZED",
                })).Ok(201).S("id"));
                break;
            case Kind.Purchase:
                var bought = await Api.Post($"/v1/wallets/{run.Wallet}/top-up", new { credits_to_add = Money(amount), transaction_reason = "PURCHASED_CREDIT_INVOICED" });
                if (bought.Status == 200) run.Invoices.Add(bought.Body!.S("invoice_id"));
                else bought.Error(bought.Status);
                break;
            case Kind.Card or Kind.LostCard or Kind.DeclinedCard when invoice is not null:
                var card = run.Cards[step.Kind switch { Kind.Card => "good", Kind.LostCard => "lost", _ => "declined" }];
                Track(run, await Pay(invoice, Part(await Remaining(invoice), step.Pick), "CARD", card));
                break;
            case Kind.Link when invoice is not null:
                var link = await Pay(invoice, Part(await Remaining(invoice), step.Pick), "PAYMENT_LINK");
                Track(run, link);
                if (link.Status == 201 && step.Pick % 2 == 0)
                {
                    using var browser = App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
                    var paid = await browser.PostAsync(new Uri(link.Body!.S("payment_url")).AbsolutePath,
                        new FormUrlEncodedContent([new("card_number", "4242424242424242")]));
                    Assert.Contains(paid.StatusCode, new[] { HttpStatusCode.Redirect, HttpStatusCode.NotFound });
                }
                break;
            case Kind.Offline when invoice is not null:
                Track(run, await Pay(invoice, Part(await Remaining(invoice), step.Pick), "OFFLINE"));
                break;
            case Kind.Fail when invoice is not null:
                var failed = await Api.Put($"/v1/invoices/{invoice}/payment", new { payment_status = "FAILED" });
                if (failed.Status != 200) failed.Error(failed.Status);
                break;
            case Kind.Void when invoice is not null:
                var voided = await Api.Post($"/v1/invoices/{invoice}/void");
                if (voided.Status != 200) voided.Error(voided.Status);
                break;
            case Kind.Close:
                (await Api.Post($"/v1/wallets/{run.Wallet}/close", new { refund = "purchased" })).Ok();
                run.Wallet = await NewWallet(run.Customer);
                break;
            case Kind.Refund when Pick(run.Payments, step.Pick) is { } payment:
                var refund = await Api.Post($"/v1/payments/{payment}/refund", new { amount = step.Pick % 3 == 0 ? null : "0.01" });
                Assert.True(refund.Status < 500, refund.Body?.ToJsonString());
                if (refund.Status >= 400) refund.Error(refund.Status);
                break;
            case Kind.Race when invoice is not null:
                var due = await Remaining(invoice);
                var answers = await Task.WhenAll(Pay(invoice, due, "CARD", run.Cards["good"]), Pay(invoice, due, "OFFLINE"));
                foreach (var answer in answers) Track(run, answer);
                break;
            case Kind.Reconcile:
                App.Clock.Advance(TimeSpan.FromMinutes(2));
                await App.Service<PaymentReconciler>().RunOnceAsync();
                break;
        }
    }

    /// <summary>A share of what is due (all of it, or about half), never less than a cent; an amount for a paid invoice is refused anyway.</summary>
    static decimal Part(decimal remaining, int pick) =>
        remaining <= 0.01m || pick % 2 == 0 ? Math.Max(remaining, 0.01m) : Math.Round(remaining / 2, 2, MidpointRounding.ToZero);

    async Task CheckAsync(string customer)
    {
        var report = await App.VerifyAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
        await using var c = await App.Service<Database>().OpenAsync();
        var tenant = (await Api.Get($"/v1/customers/{customer}")).Ok().S("tenant_id");
        var gateway = await c.QueryAsync(null, "SELECT kind, outcome, amount FROM sandbox_charges WHERE tenant_id = @t",
            r => (Kind: r.Str("kind"), Outcome: r.Str("outcome"), Amount: r.Dec("amount")), ("t", tenant));
        var payments = await c.QueryAsync(null, $"SELECT {PaymentRow.Columns} FROM payments WHERE tenant_id = @t", PaymentRow.Read, ("t", tenant));
        var refunds = await c.QueryAsync(null, "SELECT payment_id, destination, status, amount FROM refunds WHERE tenant_id = @t AND payment_id IS NOT NULL",
            r => (Payment: r.Str("payment_id"), Destination: r.Str("destination"), Status: r.Str("status"), Amount: r.Dec("amount")), ("t", tenant));

        Assert.DoesNotContain(payments, p => p.PaymentStatus == "PROCESSING");
        var received = payments.Where(p => p.PaymentGateway is not null && p.PaymentStatus is "SUCCEEDED" or "PARTIALLY_REFUNDED" or "REFUNDED").Sum(p => p.Amount);
        Assert.Equal(gateway.Where(g => g.Kind != "refund" && g.Outcome == "succeeds").Sum(g => g.Amount), received);
        Assert.Equal(gateway.Where(g => g.Kind == "refund").Sum(g => g.Amount),
            refunds.Where(r => r.Destination == "original" && r.Status == "succeeded").Sum(r => r.Amount));
        Assert.DoesNotContain(refunds, r => r.Destination == "original" && r.Status == "pending");

        foreach (var invoice in await c.QueryAsync(null, "SELECT id, invoice_status, total, amount_paid FROM invoices WHERE tenant_id = @t",
                     r => (Id: r.Str("id"), Status: r.Str("invoice_status"), Total: r.Dec("total"), Paid: r.Dec("amount_paid")), ("t", tenant)))
        {
            var mine = payments.Where(p => p.DestinationId == invoice.Id).ToList();
            var given = refunds.Where(r => mine.Any(p => p.Id == r.Payment) && r.Status != "failed").Sum(r => r.Amount);
            Assert.True(invoice.Paid - given <= invoice.Total, $"invoice {invoice.Id} keeps {invoice.Paid - given} of a {invoice.Total} total");
            if (invoice.Status == "VOIDED") Assert.True(invoice.Paid == given, $"voided invoice {invoice.Id} keeps {invoice.Paid - given}");
        }
    }
}
