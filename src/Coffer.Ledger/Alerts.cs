namespace Coffer.Ledger;

/// <summary>One alert level: a threshold and whether the alert is for the value falling to it or rising to it.</summary>
public sealed record AlertLevel(decimal Threshold, bool Below);

public static class AlertStates
{
    public const string Ok = "ok";
    public const string Info = "info";
    public const string Warning = "warning";
    public const string InAlarm = "in_alarm";
}

/// <summary>
/// Flexprice's alert states from a wallet's available balance: critical → in_alarm, then warning, then info,
/// else ok. "below" fires at or below the threshold, "above" at or above it. Pure, so the write path and the
/// tests evaluate it the same way.
/// </summary>
public static class AlertRules
{
    public static string Evaluate(bool enabled, AlertLevel? critical, AlertLevel? warning, AlertLevel? info, decimal value)
    {
        if (!enabled) return AlertStates.Ok;
        if (Hit(critical, value)) return AlertStates.InAlarm;
        if (Hit(warning, value)) return AlertStates.Warning;
        if (Hit(info, value)) return AlertStates.Info;
        return AlertStates.Ok;
    }

    static bool Hit(AlertLevel? level, decimal value) => level is not null && (level.Below ? value <= level.Threshold : value >= level.Threshold);

    /// <summary>How bad a state is, to tell a worsening from a recovery.</summary>
    public static int Severity(string state) => state switch
    {
        AlertStates.InAlarm => 3,
        AlertStates.Warning => 2,
        AlertStates.Info => 1,
        _ => 0,
    };
}
