namespace Coffer.Hosting;

/// <summary>
/// The loop of every background worker: a round (<see cref="RunOnceAsync"/>), then a pause of the worker's poll
/// interval, until the app stops. A round that finds more work waiting is followed at once by the next. A round that
/// fails is logged and the pause doubles with each failure in a row (at most <see cref="MaxPause"/>), so a database
/// outage is not hammered and does not flood the log; the first good round brings the interval back.
/// </summary>
public abstract class PollingWorker : BackgroundService
{
    public static readonly TimeSpan MaxPause = TimeSpan.FromMinutes(5);

    /// <summary>The worker's clock (a test's fake one pauses until it is advanced) and log.</summary>
    protected abstract TimeProvider Clock { get; }
    protected abstract ILogger Log { get; }

    /// <summary>The pause between rounds when no more work is waiting.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>One round; returns how many rows it took.</summary>
    public abstract Task<int> RunOnceAsync(CancellationToken ct = default);

    /// <summary>Whether a round that took <paramref name="taken"/> rows leaves more waiting (then the next starts at once).</summary>
    protected abstract bool MoreDue(int taken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            var pause = Interval;
            try
            {
                var taken = await RunOnceAsync(stoppingToken);
                failures = 0;
                if (MoreDue(taken)) continue;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                failures++;
                pause = Backoff(Interval, failures);
                Log.LogWarning(e, "{Worker} round failed ({Failures} in a row); next round in {Pause}", GetType().Name, failures, pause);
            }
            try { await Task.Delay(pause, Clock, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    static TimeSpan Backoff(TimeSpan interval, int failures) =>
        TimeSpan.FromTicks(Math.Max(interval.Ticks, Math.Min(MaxPause.Ticks, interval.Ticks << Math.Min(failures - 1, 16))));
}
