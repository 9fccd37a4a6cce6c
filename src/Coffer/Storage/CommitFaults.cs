namespace Coffer.Storage;

/// <summary>
/// The commit of a write transaction failed in a way that leaves its outcome unknown: the connection was lost
/// while the commit was in flight, so the database may have committed it or not. Nothing that depends on the
/// transaction may be retried blindly; a caller answers "outcome unknown" and lets an idempotency key decide.
/// </summary>
public sealed class CommitOutcomeUnknownException(Exception inner)
    : Exception("the commit was sent but its outcome is unknown", inner);

/// <summary>What a simulated connection loss at commit did before the connection went.</summary>
public enum CommitFault
{
    /// <summary>The commit never reached the database: nothing was applied.</summary>
    LostBeforeCommit,

    /// <summary>The database committed, then the connection was lost before the answer arrived.</summary>
    LostAfterCommit,
}

/// <summary>
/// A test's way to lose the connection at the next commit. Only tests register it; without it (in every
/// deployment) commits are never touched.
/// </summary>
public sealed class CommitFaults
{
    readonly Lock _gate = new();
    CommitFault? _next;

    public void LoseNextCommit(CommitFault fault)
    {
        lock (_gate) _next = fault;
    }

    internal CommitFault? Take()
    {
        lock (_gate)
        {
            var fault = _next;
            _next = null;
            return fault;
        }
    }
}
