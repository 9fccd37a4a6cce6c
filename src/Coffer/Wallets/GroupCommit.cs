using System.Threading.Channels;
using Coffer.Hosting;
using Coffer.Storage;

namespace Coffer.Wallets;

/// <summary>
/// Group commit for wallet writes. Requests queue here; each worker takes whatever has queued (up to
/// <see cref="MaxBatch"/>) and commits it as one transaction, so the cost of a durable commit is shared by
/// every request that arrived while the previous one was being written. Nothing waits on a timer: a lone
/// request is committed at once, and batches grow only under load. Every request is answered only after
/// the commit that contains it. Each wallet always goes to the same worker, so the workers never queue
/// behind each other's row locks and a hot wallet's requests gather into large batches.
/// </summary>
public sealed class GroupCommit : IAsyncDisposable
{
    public const int MaxBatch = 256;
    const int QueueCapacity = 10_000;

    readonly Channel<Item>[] _queues;
    readonly Lock _gate = new();
    readonly ILogger<GroupCommit> _log;
    List<Task>? _running;

    /// <summary><paramref name="Trace"/>: the submitting request's span, linked from the batch's so a trace follows the write.</summary>
    sealed record Item(WalletWriter.Pending Pending, TaskCompletionSource<WriteResult> Done, System.Diagnostics.ActivityContext Trace);

    public bool Enabled { get; }

    public GroupCommit(Database db, Hosting.CofferOptions options, ILogger<GroupCommit> log)
    {
        _log = log;
        Enabled = options.GroupCommit;
        // SQLite has one writer at a time, so one worker; PostgreSQL commits batches for different wallets in parallel.
        var workers = db.Kind == DbKind.Sqlite ? 1 : Math.Max(2, Environment.ProcessorCount * 2);
        _queues = Enumerable.Range(0, workers)
            .Select(_ => Channel.CreateBounded<Item>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true }))
            .ToArray();
    }

    public async Task<WriteResult> SubmitAsync(WalletWriter.Pending pending, WalletWriter writer, CancellationToken ct)
    {
        EnsureStarted(writer);
        var done = new TaskCompletionSource<WriteResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Once queued, an operation is not cancelled: it may already be in a commit.
        var queue = _queues[(int)((uint)HashCode.Combine(pending.TenantId, pending.WalletId) % (uint)_queues.Length)];
        await queue.Writer.WriteAsync(new Item(pending, done, System.Diagnostics.Activity.Current?.Context ?? default), ct);
        return await done.Task;
    }

    void EnsureStarted(WalletWriter writer)
    {
        if (_running is not null) return;
        lock (_gate)
        {
            if (_running is not null) return;
            // The workers outlive the request that starts them: they must not carry its context (its trace span) along.
            using (ExecutionContext.SuppressFlow())
                _running = _queues.Select(q => Task.Run(() => WorkAsync(q.Reader, writer))).ToList();
        }
    }

    async Task WorkAsync(ChannelReader<Item> reader, WalletWriter writer)
    {
        var items = new List<Item>(MaxBatch);
        while (await reader.WaitToReadAsync())
        {
            items.Clear();
            while (items.Count < MaxBatch && reader.TryRead(out var item)) items.Add(item);
            if (items.Count == 0) continue;
            try
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                using var span = Telemetry.Source.HasListeners()
                    ? Telemetry.Source.StartActivity("wallet.group_commit", System.Diagnostics.ActivityKind.Internal, parentContext: default,
                        tags: [new("coffer.writes", items.Count)],
                        links: items.Where(i => i.Trace != default).Select(i => new System.Diagnostics.ActivityLink(i.Trace)))
                    : null;
                var results = await writer.ExecuteBatchAsync(items.Select(i => i.Pending).ToList(), CancellationToken.None);
                for (var i = 0; i < items.Count; i++)
                {
                    try { items[i].Done.TrySetResult(await results[i]); }
                    catch (Exception e) { items[i].Done.TrySetException(e); }
                }
                Telemetry.GroupCommitted(items.Count, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            }
            catch (Exception e)
            {
                // Nothing of the batch was applied; each caller answers its own request's error.
                _log.LogError(e, "a batch of {Count} wallet writes failed, on (tenant/wallet) {Wallets}", items.Count,
                    string.Join(", ", items.Select(i => $"{i.Pending.TenantId}/{i.Pending.WalletId}").Distinct().Take(20)));
                foreach (var item in items) item.Done.TrySetException(e);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues) queue.Writer.TryComplete();
        if (_running is not null) await Task.WhenAll(_running);
    }
}
