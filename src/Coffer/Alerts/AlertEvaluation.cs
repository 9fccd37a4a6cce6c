using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.Alerts;

/// <summary>
/// Low-balance alerts, decided in the transaction of the change that moved the balance (or the settings). Alerts
/// fire on a change of state only: entering or worsening info/warning/in_alarm emits wallet.balance_low, returning
/// to ok emits wallet.balance_recovered, and each change is logged in <c>alerts</c> (which the alert mailer reads).
/// The value compared is the available balance in the wallet's currency (credits spendable now, less holds).
/// </summary>
public static class AlertEvaluation
{
    /// <returns>The wallet with its new alert state (the caller writes the wallet row).</returns>
    public static WalletRow Evaluate(SqlBatch writes, Ids ids, WalletRow wallet, decimal availableCredits, DateTimeOffset now, Action<string, object> emit)
    {
        var settings = wallet.AlertSettings is null ? null : Json.Deserialize<AlertSettings>(wallet.AlertSettings);
        static AlertLevel? Level(AlertThreshold? t) => t?.Threshold is { } x ? new AlertLevel(x, t.Condition != "above") : null;
        var available = Money.AmountForCredits(availableCredits, wallet.ConversionRate);
        var state = AlertRules.Evaluate(settings?.AlertEnabled ?? false, Level(settings?.Critical), Level(settings?.Warning), Level(settings?.Info), available);
        if (state == wallet.AlertState) return wallet;
        var after = wallet with { AlertState = state };
        writes.Add(
            """
            INSERT INTO alerts (tenant_id, id, wallet_id, customer_id, previous_state, state, available_balance, currency, created_at)
            VALUES (@t, @id, @w, @c, @prev, @state, @value, @cur, @now)
            """,
            ("t", wallet.TenantId), ("id", ids.New("alert")), ("w", wallet.Id), ("c", wallet.CustomerId), ("prev", wallet.AlertState),
            ("state", state), ("value", available), ("cur", wallet.Currency), ("now", now));
        var payload = new { wallet = WalletDtos.Wallet(after), previous_state = wallet.AlertState, alert_state = state, available_balance = available };
        // The log row is written either way (the mailer and the alert search read it); webhooks only where the wallet wants them.
        if (!NotificationChannels.Webhooks(settings)) return after;
        if (state == AlertStates.Ok) emit(EventTypes.WalletBalanceRecovered, payload);
        else if (AlertRules.Severity(state) > AlertRules.Severity(wallet.AlertState)) emit(EventTypes.WalletBalanceLow, payload);
        return after;
    }
}
