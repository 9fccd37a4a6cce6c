using System.Diagnostics;
using System.Text;
using Coffer.Storage;
using Xunit.Abstractions;

namespace Coffer.Tests;

/// <summary>
/// Real Coffer processes under load while a node or the database dies: the ledger afterwards holds exactly what was
/// acknowledged, <c>coffer verify</c> passes, and service resumes on its own. Each test writes its figures (requests in
/// flight at the fault, acknowledged and found after, seconds to recover) to the test output.
/// </summary>
public abstract class FaultTest(ITestOutputHelper output) : IDisposable
{
    protected readonly string ApiKey = "sk_fault_" + Guid.NewGuid().ToString("N");
    protected readonly string MasterKey = CofferApp.NewMasterKey();
    readonly List<Process> _processes = [];
    readonly StringBuilder _log = new();

    protected void Figure(string line)
    {
        output.WriteLine(line);
        lock (_log) _log.AppendLine("figure: " + line);
    }

    protected Dictionary<string, string> Environment(string database, params (string, string)[] more)
    {
        var environment = new Dictionary<string, string>
        {
            ["COFFER_DATABASE"] = database, ["COFFER_API_KEY"] = ApiKey, ["COFFER_MASTER_KEY"] = MasterKey,
            ["COFFER_WEBHOOKS_ALLOW_PRIVATE"] = "true",
        };
        foreach (var (name, value) in more) environment[name] = value;
        return environment;
    }

    protected (Process Process, int Port) StartNode(Dictionary<string, string> environment, string name)
    {
        var port = CofferProcess.FreePort();
        var process = CofferProcess.Start($"--urls http://127.0.0.1:{port}", environment, (_, line) => { lock (_log) _log.AppendLine($"{name}: {line}"); });
        _processes.Add(process);
        return (process, port);
    }

    protected string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>A customer and a wallet holding <paramref name="credits"/>.</summary>
    protected static async Task<string> WalletWith(HttpClient api, decimal credits)
    {
        var customer = (await api.Post("/v1/customers", new { external_id = "c-" + Guid.NewGuid().ToString("N")[..12], name = "Ada" })).Ok(201).S("id");
        var wallet = new System.Text.Json.Nodes.JsonObject { ["customer_id"] = customer, ["currency"] = "usd" };
        if (credits > 0) wallet["initial_credits_to_load"] = credits.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return (await api.Post("/v1/wallets", wallet)).Ok().S("id");
    }

    /// <summary>Every debit entry of a wallet, as its ids.</summary>
    /// <summary>
    /// One hot wallet that half the clients debit by 0.01 and twenty that the other half spread 0.25 debits over:
    /// the opening balances and the load's pick.
    /// </summary>
    protected static async Task<(Dictionary<string, decimal> Opening, Func<int, int, (string, decimal)> Pick)> HotAndTwenty(HttpClient api)
    {
        var hot = await WalletWith(api, 1_000_000m);
        var spread = new List<string>();
        for (var i = 0; i < 20; i++) spread.Add(await WalletWith(api, 10_000m));
        var opening = spread.ToDictionary(w => w, _ => 10_000m);
        opening[hot] = 1_000_000m;
        return (opening, (client, n) => client % 2 == 0 ? (hot, 0.01m) : (spread[(client + n) % 20], 0.25m));
    }

    protected static async Task<HashSet<string>> DebitIds(HttpClient api, string wallet)
    {
        var ids = new HashSet<string>();
        for (var offset = 0; ; offset += 1000)
        {
            var page = (await api.Get($"/v1/wallets/{wallet}/transactions?type=debit&limit=1000&offset={offset}")).Ok()["items"]!.AsArray();
            foreach (var t in page) ids.Add(t.S("id"));
            if (page.Count < 1000) return ids;
        }
    }

    /// <summary>
    /// Each wallet holds exactly the debits acknowledged to it, each once, and its balance is what it started with less
    /// them; every refusal the clients saw was a 503 in the error envelope or an unanswered request.
    /// </summary>
    protected async Task<int> AssertLedgerHoldsWhatWasAcknowledged(HttpClient api, DebitLoad load, IReadOnlyDictionary<string, decimal> opening)
    {
        Assert.All(load.Refusals, r => Assert.True(r is "503 service_unavailable" or "503 outcome_unknown" or "no answer", $"a client was answered {r}"));
        var found = 0;
        foreach (var (wallet, credits) in opening)
        {
            var acked = load.Acked.Where(a => a.Wallet == wallet).ToList();
            Assert.Equal(acked.Count, acked.Select(a => a.Key).Distinct().Count());
            var entries = await DebitIds(api, wallet);
            Assert.Equal(acked.Select(a => a.EntryId).Order(), entries.Order());
            found += entries.Count;
            Assert.Equal(credits - acked.Sum(a => a.Credits), (await api.Get($"/v1/wallets/{wallet}")).Ok().D("credit_balance"));
        }
        return found;
    }

    /// <summary><c>coffer verify</c> against the database, as an operator runs it: exit code 0 and OK.</summary>
    protected async Task AssertVerifies(string database)
    {
        var text = new StringBuilder();
        using var verify = CofferProcess.Start("verify", Environment(database), (_, line) => { lock (text) text.AppendLine(line); });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await verify.WaitForExitAsync(timeout.Token);
        lock (text) Assert.True(verify.ExitCode == 0 && text.ToString().Contains("OK"), text.ToString());
    }

    protected static async Task WaitFor(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var started = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(started.Elapsed < within, $"{what} did not happen within {within.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        CofferProcess.Stop(_processes);
        output.WriteLine(Log);
    }
}

/// <summary>Two Coffer processes on one PostgreSQL (through PgBouncer when the suite runs one), then one of them SIGKILLed.</summary>
public sealed class TwoNodeTests(ITestOutputHelper output) : FaultTest(output)
{
    static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task TwoNodesUnderLoadThenOneKilledKeepEveryAcknowledgedDebitAndDeliverEachWebhookOnce()
    {
        await using var database = new CofferApp(Store.Postgres);
        await using var receiver = await WebhookReceiver.StartAsync();
        var environment = Environment(database.DatabaseSetting, ("COFFER_WEBHOOK_POLL_MS", "100"),
            ("COFFER_WEBHOOK_TIMEOUT_MS", ((int)AttemptTimeout.TotalMilliseconds).ToString()), ("COFFER_AUTO_TOPUP_POLL_MS", "100"),
            // Card payments whose gateway answers only after 8 s: both nodes' reconcilers find them in flight after 1 s.
            ("COFFER_SANDBOX_SLOW_CARD_MS", "8000"), ("COFFER_RECONCILE_GRACE_SECONDS", "1"), ("COFFER_RECONCILE_POLL_MS", "100"));
        // Both start at once on an empty database: one migrates, the other waits for it, and both set up the one tenant.
        var a = StartNode(environment, "a");
        var b = StartNode(environment, "b");
        using var apiA = await CofferProcess.ApiWhenReadyAsync(a.Process, a.Port, ApiKey);
        using var apiB = await CofferProcess.ApiWhenReadyAsync(b.Process, b.Port, ApiKey);
        await using var db = Database.Open(database.DatabaseSetting);

        (await apiA.Post("/v1/webhooks/endpoints", new { url = receiver.Url, event_types = new[] { "wallet.transaction.created" } })).Ok(201);
        var opening = new Dictionary<string, decimal>();
        var hot = await WalletWith(apiA, 1_000_000m);
        opening[hot] = 1_000_000m;
        var spread = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            var wallet = await WalletWith(i % 2 == 0 ? apiA : apiB, 10_000m);
            spread.Add(wallet);
            opening[wallet] = 10_000m;
        }
        // One wallet with an automatic top-up that the load crosses once, from both nodes at once.
        var auto = (await apiB.Post("/v1/wallets", new
        {
            customer_id = (await apiB.Post("/v1/customers", new { external_id = "auto-topup", name = "Ada" })).Ok(201).S("id"),
            currency = "usd", initial_credits_to_load = "100", auto_topup = new { enabled = true, threshold = 50, amount = 200 },
        })).Ok();
        (await apiB.Post($"/v1/customers/{auto.S("customer_id")}/payment-methods", new { type = "card", card_number = "4242424242424242" })).Ok(201);
        // Ten invoices paid with the slow card, half through each node: while the calls wait for the gateway, the
        // payments are in flight for both reconcilers.
        var payer = (await apiA.Post("/v1/customers", new { external_id = "slow-card", name = "Ada" })).Ok(201).S("id");
        var slowCard = (await apiA.Post($"/v1/customers/{payer}/payment-methods", new { type = "card", card_number = Payments.Gateways.SandboxGateway.SlowCard })).Ok(201).S("id");
        var invoices = new List<string>();
        for (var i = 0; i < 10; i++)
            invoices.Add((await apiA.Post("/v1/invoices", new { customer_id = payer, currency = "usd", amount_due = "7", subtotal = "7", total = "7", invoice_status = "FINALIZED" }))
                .Ok(201).S("id"));
        var paying = invoices.Select((invoice, i) => (i % 2 == 0 ? apiA : apiB).Post("/v1/payments", new
        {
            amount = "7", currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "CARD",
            payment_method_id = slowCard, idempotency_key = $"slow-{i}",
        })).ToList();

        var load = new DebitLoad([apiA, apiB]);
        (string, decimal) Pick(int client, int n) => client % 2 == 0 ? (hot, 0.01m * (1 + n % 3)) : (spread[(client * 7 + n * 13) % 100], 0.5m);

        // Both nodes serve: 64 clients, half of them on the hot wallet, 60 debits of 1 crossing the automatic top-up.
        var crossing = Enumerable.Range(0, 60).Select(i => new DebitLoad([apiA, apiB]).RunAsync(1, 1, $"auto-{i}", (_, _) => (auto.S("id"), 1m))).ToList();
        await Task.WhenAll([load.RunAsync(64, 10, "one", Pick), .. crossing]);
        Assert.Equal(640, load.Acked.Count);
        // One purchase for the one crossing, though both nodes' workers saw it.
        await WaitFor(async () => (await apiA.Get($"/v1/wallets/{auto.S("id")}/auto-topup/attempts")).Ok()["items"]!.AsArray()
            .Any(t => t.S("status") == "succeeded"), TimeSpan.FromSeconds(30), "the automatic top-up");
        await WaitFor(async () => await Pending(db) == 0, TimeSpan.FromSeconds(60), "the deliveries of the first phase");
        var firstPhase = receiver.Received;
        Assert.Equal(firstPhase.Count, firstPhase.Select(w => w.Id).Distinct().Count());
        Assert.Equal(0, await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'"));
        // Each attempt reached the receiver at most once: no two nodes made the same one. (An attempt may be retried
        // when a loaded node's 1 s time-out runs out first; the retry is its own recorded attempt.)
        Assert.Equal(await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries"), firstPhase.Select(w => w.Id).Distinct().Count());
        Assert.Equal(0, await Unrecorded(db, firstPhase));

        // Each in-flight payment was reconciled once, by one of the nodes, and each invoice was charged and paid once.
        foreach (var answer in await Task.WhenAll(paying)) answer.Ok(201);
        await WaitFor(async () => await Scalar(db, "SELECT COUNT(*) FROM payments WHERE payment_method_id = @c AND payment_status = 'SUCCEEDED'", ("c", slowCard)) == 10,
            TimeSpan.FromSeconds(30), "the slow payments settling");
        Assert.Equal(10, await Scalar(db, "SELECT COUNT(*) FROM payments WHERE payment_method_id = @c AND reconcile_attempts = 1", ("c", slowCard)));
        var reconciledByB = await Scalar(db, "SELECT COUNT(*) FROM payments WHERE payment_method_id = @c AND leased_by LIKE @p", ("c", slowCard), ("p", $"%:{b.Process.Id}:%"));
        Assert.Equal(0, await Scalar(db, "SELECT COUNT(*) FROM payments WHERE payment_method_id = @c AND reconcile_attempts > 1", ("c", slowCard)));
        Assert.Equal(10, await Scalar(db, "SELECT COUNT(*) FROM sandbox_charges WHERE card_number = @n AND kind = 'charge'", ("n", Payments.Gateways.SandboxGateway.SlowCard)));
        foreach (var invoice in invoices)
            Assert.Equal(("7", "SUCCEEDED"), ((await apiB.Get($"/v1/invoices/{invoice}")).Ok() is var paid ? (paid.S("amount_paid"), paid.S("payment_status")) : default));

        // Twenty lots that expire in the second phase: both nodes sweep, each lot expires once.
        var expiring = await WalletWith(apiA, 0m);
        var expiry = DateTimeOffset.UtcNow.AddSeconds(3);
        for (var i = 0; i < 20; i++)
            (await apiA.Post($"/v1/wallets/{expiring}/top-up", new { credits_to_add = "1", transaction_reason = "FREE_CREDIT_GRANT", expiry_date_utc = expiry.ToString("O") })).Ok();

        // SIGKILL node b mid-load while it holds webhook deliveries (the receiver answers slowly, so they are in flight).
        receiver.Stall = TimeSpan.FromMilliseconds(400);
        var held = $"%:{b.Process.Id}:%";
        var second = load.RunAsync(64, 10, "two", Pick);
        await WaitFor(async () => load.Acked.Count >= 800 && await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND leased_by LIKE @p", ("p", held)) > 0,
            TimeSpan.FromSeconds(60), "node b holding deliveries mid-load");
        var inFlight = load.InFlight;
        var heldAtKill = await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND leased_by LIKE @p", ("p", held));
        var killedAt = Stopwatch.GetTimestamp();
        b.Process.Kill();
        receiver.Stall = TimeSpan.Zero;
        await second;
        var servedAgain = load.SecondsToFirstAckAfter(killedAt);

        // Node b's deliveries go out from node a once their lease has run out.
        var lease = Webhooks.WebhookWorker.LeaseFor(AttemptTimeout);
        await WaitFor(async () => await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND leased_by LIKE @p", ("p", held)) == 0,
            lease + TimeSpan.FromSeconds(5), "node a taking over node b's deliveries");
        var takenOver = Stopwatch.GetElapsedTime(killedAt).TotalSeconds;
        // Each expired lot is swept once (the sweep runs every 15 s on each node); its entries are the last events.
        const string expired = "SELECT COUNT(*) FROM wallet_transactions WHERE wallet_id = @w AND transaction_reason = 'CREDIT_EXPIRED'";
        await WaitFor(async () => await Scalar(db, expired, ("w", expiring)) >= 20, TimeSpan.FromSeconds(40), "the expiry sweep");
        Assert.Equal(20, await Scalar(db, expired, ("w", expiring)));
        Assert.Equal(0m, (await apiA.Get($"/v1/wallets/{expiring}")).Ok().D("credit_balance"));
        await WaitFor(async () => await Pending(db) == 0, TimeSpan.FromSeconds(60), "every delivery");
        Assert.Equal(0, await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'"));
        var all = receiver.Received;
        Assert.Equal(await Scalar(db, "SELECT COUNT(*) FROM webhook_deliveries"), all.Select(w => w.Id).Distinct().Count());
        // Only an attempt node b was making when it died (its outcome never recorded) may have reached the receiver
        // beyond the recorded attempts, at most one per delivery it held.
        var twice = await Unrecorded(db, all);
        Assert.InRange(twice, 0, heldAtKill);

        Assert.Equal(1280, load.Acked.Count);
        var found = await AssertLedgerHoldsWhatWasAcknowledged(apiA, load, opening);
        Assert.Equal(1280, found);

        var attempts = (await apiA.Get($"/v1/wallets/{auto.S("id")}/auto-topup/attempts")).Ok()["items"]!.AsArray();
        Assert.Equal("succeeded", Assert.Single(attempts)!.S("status"));
        Assert.Equal(100m - 60m + 200m, (await apiA.Get($"/v1/wallets/{auto.S("id")}")).Ok().D("credit_balance"));

        await AssertVerifies(database.DatabaseSetting);

        Figure($"two nodes, SIGKILL of one: {inFlight} debits in flight at the kill, {load.Acked.Count} acknowledged, {found} found; " +
            $"node a acknowledged again {servedAgain:0.00} s after the kill; {heldAtKill} deliveries held by node b, taken over after {takenOver:0.0} s " +
            $"(lease {lease.TotalSeconds:0} s), {twice} delivered twice; 10 slow payments reconciled once each, {reconciledByB} by node b; {load.Refusals.Count} refusals ({string.Join(", ", load.Refusals.GroupBy(r => r).Select(g => $"{g.Count()} {g.Key}"))})");
    }

    /// <summary>Receipts beyond each delivery's recorded attempts (one endpoint: an event id names one delivery).</summary>
    static async Task<long> Unrecorded(Database db, IReadOnlyCollection<ReceivedWebhook> received)
    {
        await using var c = await db.OpenAsync();
        var attempts = await Storage.Sql.QueryAsync(c, null, "SELECT event_id, attempt_count FROM webhook_deliveries",
            r => (Event: r.GetString(0), Attempts: r.GetInt64(1)));
        var receipts = received.GroupBy(w => w.Id).ToDictionary(g => g.Key, g => (long)g.Count());
        return attempts.Sum(a => Math.Max(0, receipts.GetValueOrDefault(a.Event) - a.Attempts));
    }

    static Task<long> Pending(Database db) =>
        Scalar(db, "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending') + (SELECT COUNT(*) FROM outbox_events WHERE delivered_at IS NULL)");

    static async Task<long> Scalar(Database db, string sql, params (string, object?)[] args)
    {
        await using var c = await db.OpenAsync();
        return await c.ScalarLongAsync(null, sql, args);
    }
}

/// <summary>The database stopped under load (fast, then immediate) and started again, Coffer left running.</summary>
public sealed class PostgresRestartTests(ITestOutputHelper output) : FaultTest(output)
{
    [Fact]
    public async Task APostgresRestartUnderLoadLosesNothingAppliesNothingTwiceAndServesWithinFiveSeconds()
    {
        using var pg = PostgresCluster.StartNew();
        var node = StartNode(Environment(pg.ConnectionString), "coffer");
        using var api = await CofferProcess.ApiWhenReadyAsync(node.Process, node.Port, ApiKey);
        var (opening, pick) = await HotAndTwenty(api);
        var load = new DebitLoad([api]);
        using var stop = new CancellationTokenSource();
        const int clients = 64;
        var running = load.RunAsync(clients, int.MaxValue, "restart", pick, stop.Token);
        foreach (var mode in new[] { "fast", "immediate" })
        {
            var before = Stopwatch.GetTimestamp();
            await WaitFor(() => Task.FromResult(load.AckedSince(before) >= 300), TimeSpan.FromSeconds(60), $"load before the {mode} stop");
            var inFlight = load.InFlight;
            var refusedBefore = load.Refusals.Count;
            pg.Stop(mode);
            var down = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var refusedWhileDown = load.Refusals.Count - refusedBefore;
            // Answers can still arrive for commits made before the stop (a loaded machine delivers them late); that each
            // of them is really in the ledger is checked at the end, with every other acknowledged debit.
            // Only requests sent before the stop finished can have been committed, and each client has one request
            // outstanding at a time: at most one late answer per client, nothing for what is sent during the outage.
            var lateAnswers = load.AckedSince(down);
            Assert.InRange(lateAnswers, 0, clients);
            pg.Start();
            var back = Stopwatch.GetTimestamp();
            await WaitFor(() => Task.FromResult(load.AckedSince(back) >= 100), TimeSpan.FromSeconds(5), $"service after the {mode} restart");
            Assert.True(refusedWhileDown > 0, "no request was refused during the outage: the load was not running");
            Figure($"PostgreSQL {mode} restart: {inFlight} debits in flight at the stop, {refusedWhileDown} answers 503 or unanswered while it was down " +
                $"({lateAnswers} late acknowledgements of earlier commits), " +
                $"acknowledged again {load.SecondsToFirstAckAfter(back):0.00} s after it was back");
        }
        await stop.CancelAsync();
        await running;

        var found = await AssertLedgerHoldsWhatWasAcknowledged(api, load, opening);
        Assert.Equal(load.Acked.Count, found);
        await AssertVerifies(pg.ConnectionString);
        Figure($"PostgreSQL restarts: {load.Acked.Count} acknowledged, {found} found; refusals: {string.Join(", ", load.Refusals.GroupBy(r => r).Select(g => $"{g.Count()} {g.Key}"))}");
    }
}

/// <summary>
/// A primary and a synchronous streaming replica; Coffer is given both hosts and writes only to the primary. The
/// primary is SIGKILLed under load and the replica promoted, as Patroni would.
/// </summary>
public sealed class PostgresFailoverTests(ITestOutputHelper output) : FaultTest(output)
{
    [Fact]
    public async Task AfterTheSynchronousReplicaIsPromotedCofferWritesToItWithinTenSecondsAndNoAcknowledgedDebitIsMissing()
    {
        using var primary = PostgresCluster.StartNew("wal_level = replica", "max_wal_senders = 4", "synchronous_standby_names = '*'");
        // Once promoted it has no standby of its own to wait for.
        using var replica = PostgresCluster.StartReplicaOf(primary, "synchronous_standby_names = ''");
        await using (var db = Database.Open(primary.ConnectionString))
            await WaitFor(async () =>
            {
                await using var c = await db.OpenAsync();
                return await c.ScalarLongAsync(null, "SELECT COUNT(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == 1;
            }, TimeSpan.FromSeconds(30), "the replica becoming synchronous");

        var both = $"Host=127.0.0.1:{primary.Port},127.0.0.1:{replica.Port};Username=postgres;Database=postgres;Target Session Attributes=primary;Host Recheck Seconds=1";
        var node = StartNode(Environment(both), "coffer");
        using var api = await CofferProcess.ApiWhenReadyAsync(node.Process, node.Port, ApiKey);
        var (opening, pick) = await HotAndTwenty(api);
        var load = new DebitLoad([api]);
        using var stop = new CancellationTokenSource();
        var running = load.RunAsync(64, int.MaxValue, "failover", pick, stop.Token);
        await WaitFor(() => Task.FromResult(load.Acked.Count >= 300), TimeSpan.FromSeconds(60), "load before the failover");
        var inFlight = load.InFlight;
        var ackedAtKill = load.Acked.Count;
        primary.Kill();
        await Task.Delay(TimeSpan.FromSeconds(1));
        replica.Promote();
        var promoted = Stopwatch.GetTimestamp();
        await WaitFor(() => Task.FromResult(load.AckedSince(promoted) >= 100), TimeSpan.FromSeconds(10), "writes to the promoted replica");
        var recovered = load.SecondsToFirstAckAfter(promoted);
        await stop.CancelAsync();
        await running;

        var found = await AssertLedgerHoldsWhatWasAcknowledged(api, load, opening);
        Assert.Equal(load.Acked.Count, found);
        await AssertVerifies(replica.ConnectionString);
        Figure($"failover: {inFlight} debits in flight at the primary's SIGKILL ({ackedAtKill} acknowledged before it), {load.Acked.Count} acknowledged, " +
            $"{found} found on the promoted replica; first write {recovered:0.00} s after the promotion; refusals: " +
            string.Join(", ", load.Refusals.GroupBy(r => r).Select(g => $"{g.Count()} {g.Key}")));
    }
}
