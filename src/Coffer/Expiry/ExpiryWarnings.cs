using Coffer.Alerts;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Settings;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Expiry;

/// <summary>
/// Warns before credits expire. For a tenant whose <c>credit_expiry_warning</c> is on, every open lot whose expiry
/// falls within its <c>days_before</c> is warned of once, ever, through the wallet's notification channels as a
/// low-balance alert is: <c>wallet.credits_expiring</c> where the wallet keeps webhooks, and an alert of kind
/// <c>credits_expiring</c> that the alert mailer mails to whom the wallet's channels name. Safe on several nodes:
/// a lot is marked warned under its wallet's lock, and only the round whose UPDATE marked it tells anyone.
/// </summary>
public sealed class ExpiryWarnings(Database db, TenantSettings settings, OutboxWriter outbox, Ids ids, TimeProvider clock, ILogger<ExpiryWarnings> log)
    : Hosting.PollingWorker
{
    /// <summary>The lots a round warns of at most, and a tenant's share of them: one tenant's many lots wait for later rounds.</summary>
    public const int Batch = 200;
    public const int MaxPerTenantPerRound = 50;
    /// <summary>Warnings are days ahead: a minute late is on time.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMinutes(1);

    protected override TimeProvider Clock => clock;
    protected override ILogger Log => log;
    protected override TimeSpan Interval => Poll;

    /// <summary>A tenant may have used its whole share with more waiting: the next round starts at once.</summary>
    protected override bool MoreDue(int taken) => taken >= MaxPerTenantPerRound;

    public override async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var warned = 0;
        foreach (var (tenantId, daysBefore) in await settings.CreditExpiryWarningsOnAsync(ct))
        {
            if (warned >= Batch) break;
            var now = clock.GetUtcNow();
            List<(string Wallet, string Lot)> due;
            await using (var c = await db.OpenAsync(ct))
                due = await c.QueryAsync(null,
                    """
                    SELECT wallet_id, id FROM wallet_transactions
                    WHERE tenant_id = @t AND lot_open = 1 AND expiry_date IS NOT NULL AND expiry_warned_at IS NULL
                      AND expiry_date > @now AND expiry_date <= @until
                    ORDER BY expiry_date LIMIT @n
                    """,
                    r => (r.Str("wallet_id"), r.Str("id")),
                    ("t", tenantId), ("now", now), ("until", now.AddDays(daysBefore)), ("n", Math.Min(MaxPerTenantPerRound, Batch - warned)));
            foreach (var (wallet, lot) in due)
                if (await WarnAsync(tenantId, wallet, lot, daysBefore, ct)) warned++;
        }
        return warned;
    }

    /// <returns>Whether this round warned of the lot: false when another round did, or it was spent or expired since it was found.</returns>
    async Task<bool> WarnAsync(string tenantId, string walletId, string lotId, int daysBefore, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync(ct);
        var (c, tx) = (scope.Connection, scope.Transaction);
        // The wallet first, as the write path locks it before its lots: the lot read below is what the last write left.
        LockOrder.Take(tx, LockOrder.Level.Wallet, LockOrder.WalletKey(tenantId, walletId));
        var wallet = await c.QuerySingleAsync(tx, $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND id = @w{db.ForUpdate}",
            WalletRow.Read, ("t", tenantId), ("w", walletId));
        if (wallet is null) return false;
        // This UPDATE decides the race: of two rounds, on one node or two, only the one that marks the lot goes on.
        var marked = await c.QueryAsync(tx,
            """
            UPDATE wallet_transactions SET expiry_warned_at = @now
            WHERE tenant_id = @t AND wallet_id = @w AND id = @id AND lot_open = 1 AND expiry_warned_at IS NULL
              AND expiry_date > @now AND expiry_date <= @until
            RETURNING credits_available, expiry_date
            """,
            r => (Credits: r.Dec("credits_available"), Expiry: r.Time("expiry_date")),
            ("now", now), ("t", tenantId), ("w", walletId), ("id", lotId), ("until", now.AddDays(daysBefore)));
        if (marked is not [var lot]) return false;

        var amount = Money.AmountForCredits(lot.Credits, wallet.ConversionRate);
        var writes = new SqlBatch();
        // The log row is written whatever the channels (the mailer reads it and decides who hears); the event only where the wallet keeps webhooks.
        writes.Add(
            """
            INSERT INTO alerts (tenant_id, id, wallet_id, customer_id, previous_state, state, available_balance, currency, created_at,
                                kind, transaction_id, credits, expiry_date)
            VALUES (@t, @id, @w, @c, @state, @state, @value, @cur, @now, @kind, @lot, @credits, @expiry)
            """,
            ("t", tenantId), ("id", ids.New("alert")), ("w", walletId), ("c", wallet.CustomerId), ("state", wallet.AlertState), ("value", amount),
            ("cur", wallet.Currency), ("now", now), ("kind", AlertKinds.CreditsExpiring), ("lot", lotId), ("credits", lot.Credits), ("expiry", lot.Expiry));
        var alertSettings = wallet.AlertSettings is null ? null : Json.Deserialize<AlertSettings>(wallet.AlertSettings);
        if (NotificationChannels.Webhooks(alertSettings))
            await WalletEvents.AppendAsync(c, tx, outbox, writes, tenantId, walletId, EventTypes.CreditsExpiring, new
            {
                wallet_id = walletId, customer_id = wallet.CustomerId, transaction_id = lotId, credits = lot.Credits, amount, currency = wallet.Currency,
                expiry_date = lot.Expiry, days_before = daysBefore,
            });
        await writes.ExecuteAsync(c, tx, ct);
        await scope.CommitAsync(ct);
        return true;
    }
}
