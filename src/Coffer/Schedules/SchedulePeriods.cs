namespace Coffer.Schedules;

/// <summary>The units a schedule repeats in, as the API spells them.</summary>
public static class ScheduleIntervals
{
    public const string Day = "day";
    public const string Week = "week";
    public const string Month = "month";
    public const string Year = "year";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Day, Week, Month, Year };

    public const int MaxCount = 12;
}

/// <summary>
/// When a schedule's periods start: pure, no clock, no I/O. Period <c>n</c> starts at <c>start + n × count</c> units,
/// always counted from the start and never from the period before, so a monthly schedule starting on the 31st runs
/// on the last day of every shorter month and returns to the 31st afterwards (Jan 31, Feb 28, Mar 31, Apr 30, ...)
/// instead of drifting to the 28th for good. A yearly schedule starting on Feb 29 runs on Feb 28 in other years.
/// The time of day is the start's, in UTC.
/// </summary>
public static class SchedulePeriods
{
    /// <summary>The start of period <paramref name="index"/> (0 is the first).</summary>
    public static DateTimeOffset Start(DateTimeOffset start, string interval, int count, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var utc = start.ToUniversalTime();
        if (!ScheduleIntervals.All.Contains(interval)) throw new ArgumentOutOfRangeException(nameof(interval), interval, "not a schedule interval");
        try
        {
            var steps = checked(count * index);
            return interval switch
            {
                ScheduleIntervals.Day => utc.AddDays(steps),
                ScheduleIntervals.Week => utc.AddDays(checked(7 * steps)),
                // AddMonths clamps to the month's last day; counting from the start keeps the clamp from accumulating.
                ScheduleIntervals.Month => utc.AddMonths(steps),
                _ => utc.AddYears(steps),
            };
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            // Past the calendar's last day (year 9999): a period that never comes, so the schedule ends before it.
            return DateTimeOffset.MaxValue;
        }
    }

    /// <summary>Period <paramref name="index"/> as [start, end): it ends where the next one starts.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) Period(DateTimeOffset start, string interval, int count, int index) =>
        (Start(start, interval, count, index), Start(start, interval, count, index + 1));

    /// <summary>Whether period <paramref name="index"/> runs at all: it starts before the schedule's end (none: always) and within the calendar.</summary>
    public static bool Runs(DateTimeOffset start, string interval, int count, int index, DateTimeOffset? end) =>
        Start(start, interval, count, index) is var s && s != DateTimeOffset.MaxValue && (end is not { } e || s < e);
}
