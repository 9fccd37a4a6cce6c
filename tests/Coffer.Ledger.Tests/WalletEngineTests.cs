namespace Coffer.Ledger.Tests;

/// <summary>One behaviour of <see cref="WalletEngine"/> per test, on small hand-made wallets.</summary>
public sealed class WalletEngineTests
{
    static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A wallet plus every changeset it produced, so a test can read what storage would write.</summary>
    sealed class Wallet(decimal overdraftLimit = 0m)
    {
        int _ids;
        public WalletState State { get; } = new() { WalletId = "wallet_1", Status = WalletStatuses.Active, OverdraftLimit = overdraftLimit };
        public DateTimeOffset Now { get; set; } = T0;
        public Changeset Last { get; private set; } = new();

        public string NewId() => $"wtx_{++_ids:D4}";

        public CommandOutcome Apply(WalletCommand command)
        {
            Last = new Changeset();
            return WalletEngine.Apply(State, command, Now, Last, NewId);
        }

        public string Credit(decimal credits, int? priority = null, DateTimeOffset? expiresAt = null, string? id = null)
        {
            id ??= NewId();
            Assert.IsType<CommandOutcome.Posted>(Apply(new WalletCommand.Credit(id, credits, Reasons.FreeCreditGrant, expiresAt, priority)));
            return id;
        }

        public CommandOutcome Debit(decimal credits, string? id = null) =>
            Apply(new WalletCommand.Debit(id ?? NewId(), credits, Reasons.UsageCharge));

        public IEnumerable<(string Lot, decimal Credits)> Allocations => Last.Allocations.Select(a => (a.LotId, a.Credits));
    }

    [Fact]
    public void Debit_spends_by_priority_then_expiry_then_creation_then_id_with_none_and_never_last()
    {
        var w = new Wallet();
        var soon = T0.AddDays(1);
        var later = T0.AddDays(2);
        w.Credit(1m, priority: null, expiresAt: soon, id: "lot_no_priority");
        w.Credit(1m, priority: 2, expiresAt: null, id: "lot_p2_never");
        w.Credit(1m, priority: 2, expiresAt: later, id: "lot_p2_later");
        w.Credit(1m, priority: 2, expiresAt: soon, id: "lot_p2_soon_b");
        w.Credit(1m, priority: 2, expiresAt: soon, id: "lot_p2_soon_a"); // same priority, expiry and time: id decides
        w.Now = T0.AddMinutes(1);
        w.Credit(1m, priority: 2, expiresAt: soon, id: "lot_p2_soon_0_created_later");
        w.Credit(1m, priority: 1, expiresAt: null, id: "lot_p1_never");

        Assert.IsType<CommandOutcome.Posted>(w.Debit(7m));

        Assert.Equal(
            [
                ("lot_p1_never", 1m), ("lot_p2_soon_a", 1m), ("lot_p2_soon_b", 1m), ("lot_p2_soon_0_created_later", 1m),
                ("lot_p2_later", 1m), ("lot_p2_never", 1m), ("lot_no_priority", 1m),
            ],
            w.Allocations);
    }

    [Fact]
    public void Debit_takes_part_of_a_lot_and_leaves_the_rest_for_the_next_debit()
    {
        var w = new Wallet();
        var first = w.Credit(10m, priority: 1);
        var second = w.Credit(10m, priority: 2);

        w.Debit(4m);
        Assert.Equal([(first, 4m)], w.Allocations);
        w.Debit(7m);
        Assert.Equal([(first, 6m), (second, 1m)], w.Allocations);
        Assert.Equal(0m, w.Last.LotAvailable[first]);
        Assert.Equal(9m, w.Last.LotAvailable[second]);
    }

    [Fact]
    public void Lot_stops_being_spendable_at_exactly_its_expiry_instant()
    {
        var w = new Wallet();
        var expiry = T0.AddHours(1);
        var lot = w.Credit(10m, expiresAt: expiry);

        w.Now = expiry.AddTicks(-1);
        Assert.IsType<CommandOutcome.Posted>(w.Debit(1m));
        Assert.Equal([(lot, 1m)], w.Allocations);

        w.Now = expiry;
        var refused = Assert.IsType<CommandOutcome.InsufficientBalance>(w.Debit(1m));
        Assert.Equal(0m, refused.Available);
        Assert.Equal(9m, w.State.CreditBalance); // still on the books until CREDIT_EXPIRED is posted
    }

    [Fact]
    public void Lot_cannot_be_expired_before_its_expiry_instant()
    {
        var w = new Wallet();
        var lot = w.Credit(10m, expiresAt: T0.AddHours(1));
        w.Now = T0.AddHours(1).AddTicks(-1);

        Assert.IsType<CommandOutcome.NoChange>(w.Apply(new WalletCommand.ExpireLot(w.NewId(), lot)));
        Assert.True(w.Last.IsEmpty);
    }

    [Fact]
    public void ExpireLot_twice_posts_once()
    {
        var w = new Wallet();
        var lot = w.Credit(10m, expiresAt: T0.AddHours(1));
        w.Debit(3m);
        w.Now = T0.AddHours(1);

        var first = Assert.IsType<CommandOutcome.Posted>(w.Apply(new WalletCommand.ExpireLot("wtx_expiry_1", lot)));
        var entry = Assert.Single(first.Entries);
        Assert.Equal((Reasons.CreditExpired, 7m, lot, 7m, 0m), (entry.Reason, entry.Credits, entry.ExpiredLotId, entry.BalanceBefore, entry.BalanceAfter));
        Assert.Equal([(lot, 7m)], w.Allocations);

        Assert.IsType<CommandOutcome.NoChange>(w.Apply(new WalletCommand.ExpireLot("wtx_expiry_2", lot)));
        Assert.True(w.Last.IsEmpty);
        Assert.Equal(0m, w.State.CreditBalance);
    }

    [Fact]
    public void Terminate_expires_the_expired_lots_first_then_drains_the_rest_and_closes()
    {
        var w = new Wallet();
        var expired = w.Credit(5m, expiresAt: T0.AddHours(1));
        var live = w.Credit(7m, priority: 1, expiresAt: T0.AddDays(1));
        var forever = w.Credit(2m);
        w.Now = T0.AddHours(2);

        var posted = Assert.IsType<CommandOutcome.Posted>(w.Apply(new WalletCommand.Terminate("wtx_terminate")));

        Assert.Equal(2, posted.Entries.Count);
        Assert.Equal((Reasons.CreditExpired, 5m, expired), (posted.Entries[0].Reason, posted.Entries[0].Credits, posted.Entries[0].ExpiredLotId));
        Assert.Equal(("wtx_terminate", Reasons.WalletTermination, 9m, 0m),
            (posted.Entries[1].Id, posted.Entries[1].Reason, posted.Entries[1].Credits, posted.Entries[1].BalanceAfter));
        Assert.Equal([(expired, 5m), (live, 7m), (forever, 2m)], w.Allocations);
        Assert.Equal(WalletStatuses.Closed, w.Last.NewStatus);
        Assert.Equal(WalletStatuses.Closed, w.State.Status);
        Assert.Equal(0m, w.State.CreditBalance);
        Assert.Empty(w.State.OpenLots);
    }

    [Fact]
    public void Closed_wallet_refuses_every_command_without_changes()
    {
        var w = new Wallet();
        var lot = w.Credit(5m, expiresAt: T0.AddHours(1));
        w.Apply(new WalletCommand.Terminate(w.NewId()));
        w.Now = T0.AddHours(2);

        Assert.IsType<CommandOutcome.WalletNotActive>(w.Apply(new WalletCommand.Credit(w.NewId(), 1m, Reasons.FreeCreditGrant, null, null)));
        Assert.True(w.Last.IsEmpty);
        Assert.IsType<CommandOutcome.WalletNotActive>(w.Debit(1m));
        Assert.True(w.Last.IsEmpty);
        Assert.IsType<CommandOutcome.NoChange>(w.Apply(new WalletCommand.ExpireLot(w.NewId(), lot)));
        Assert.True(w.Last.IsEmpty);
        Assert.IsType<CommandOutcome.NoChange>(w.Apply(new WalletCommand.Terminate(w.NewId())));
        Assert.True(w.Last.IsEmpty);
    }

    [Fact]
    public void Debit_may_overdraw_only_up_to_the_limit()
    {
        var w = new Wallet(overdraftLimit: 50m);
        w.Credit(10m);

        var refused = Assert.IsType<CommandOutcome.InsufficientBalance>(w.Debit(60.000000000001m));
        Assert.Equal(60m, refused.Available);
        Assert.True(w.Last.IsEmpty);

        var entry = Assert.Single(Assert.IsType<CommandOutcome.Posted>(w.Debit(60m)).Entries);
        Assert.Equal((60m, 50m, -50m), (entry.Credits, entry.CreditsUnsettled, entry.BalanceAfter));

        var again = Assert.IsType<CommandOutcome.InsufficientBalance>(w.Debit(0.000000000001m));
        Assert.Equal(0m, again.Available);
    }

    [Fact]
    public void Credit_repays_overdraft_oldest_debt_first_before_creating_a_spendable_lot()
    {
        var w = new Wallet(overdraftLimit: 50m);
        w.Credit(10m);
        var older = Assert.Single(Assert.IsType<CommandOutcome.Posted>(w.Debit(30m, "wtx_debit_old")).Entries);
        w.Now = T0.AddMinutes(1);
        var newer = Assert.Single(Assert.IsType<CommandOutcome.Posted>(w.Debit(5m, "wtx_debit_new")).Entries);
        Assert.Equal((20m, 5m, 25m), (older.CreditsUnsettled, newer.CreditsUnsettled, w.State.OverdraftCredits));

        var partial = Assert.Single(Assert.IsType<CommandOutcome.Posted>(
            w.Apply(new WalletCommand.Credit("wtx_credit_1", 15m, Reasons.PurchasedCreditDirect, null, null))).Entries);
        Assert.Equal(0m, partial.CreditsAvailable);
        Assert.Equal([new AllocationRow("wtx_debit_old", "wtx_credit_1", 15m)], w.Last.Allocations);
        Assert.Equal(5m, w.Last.DebtUnsettled["wtx_debit_old"]);
        Assert.Empty(w.State.OpenLots);

        var rest = Assert.Single(Assert.IsType<CommandOutcome.Posted>(
            w.Apply(new WalletCommand.Credit("wtx_credit_2", 12m, Reasons.PurchasedCreditDirect, null, null))).Entries);
        Assert.Equal(
            [new AllocationRow("wtx_debit_old", "wtx_credit_2", 5m), new AllocationRow("wtx_debit_new", "wtx_credit_2", 5m)],
            w.Last.Allocations);
        Assert.Equal((2m, -10m, 2m), (rest.CreditsAvailable, rest.BalanceBefore, rest.BalanceAfter));
        Assert.Equal(0m, w.State.OverdraftCredits);
        Assert.Empty(w.State.OpenDebts);
        Assert.Equal(2m, Assert.Single(w.State.OpenLots).Available);
    }
}
