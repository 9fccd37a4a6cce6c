using Coffer.Ledger;
using Coffer.Storage;

namespace Coffer.Wallets;

/// <param name="Dimensions">A debit's spend attribution (<see cref="Spend.SpendAttribution"/>): kept on its entry, added to the
/// totals per dimension value, and read under the lock for the wallet's caps.</param>
public sealed record EntryDetails(string? Description = null, string Metadata = "{}", string? ReferenceType = null, string? ReferenceId = null,
    EntryAdjustment? Adjustment = null, IReadOnlyDictionary<string, string>? Dimensions = null);

/// <summary>
/// The command, built from the wallet as read under the lock (an amount converts at the wallet's current
/// rate), or why the request cannot become one.
/// </summary>
public sealed record CommandOrRefusal(WalletCommand? Command, string? Refusal = null)
{
    public static implicit operator CommandOrRefusal(WalletCommand command) => new(command);
}

/// <summary>
/// One money movement against one wallet. <see cref="Render"/> builds the response from the wallet and the
/// entries after the change; with an idempotency key that exact response is stored in the same transaction
/// and replayed for a retry.
/// </summary>
public sealed record WalletOperation(
    Func<WalletRow, CommandOrRefusal> Build,
    EntryDetails Details,
    IdempotencyClaim? Idempotency,
    Func<WriteContext, object> Render)
{
    /// <summary>What the operation is, for its metrics (<see cref="Hosting.Telemetry.WalletWrite"/>).</summary>
    public string Name { get; init; } = "other";

    /// <summary>Rows of the caller's own to write in the same transaction when the operation takes effect.</summary>
    public Action<WriteContext, SqlBatch>? AlsoWrite { get; init; }

    /// <summary>The operation creates an invoice: it takes the tenant's next invoice number when, and only when, it takes effect.</summary>
    public bool TakesInvoiceNumber { get; init; }
}

/// <summary>What a response is built from: the wallet and entries after the change, and the engine's outcome.</summary>
public sealed record WriteContext(
    WalletRow Wallet, IReadOnlyList<TransactionRow> Entries, IReadOnlyList<AllocationRow> Allocations, CommandOutcome Outcome,
    IReadOnlyList<HoldRow> Holds)
{
    /// <summary>The wallet's lots as they were before the operation; filled only for operations with <c>AlsoWrite</c>.</summary>
    public IReadOnlyDictionary<string, Lot> LotsBefore { get; init; } = new Dictionary<string, Lot>();

    internal WalletEvents? Events { get; init; }

    /// <summary>The invoice number taken for an operation with <c>TakesInvoiceNumber</c>.</summary>
    public string? InvoiceNumber { get; init; }

    /// <summary>An event of the caller's own about this wallet (from <c>AlsoWrite</c>), numbered after the operation's.</summary>
    public void AddEvent(string type, object payload) =>
        (Events ?? throw new InvalidOperationException("wallet events are written only with an effect, from AlsoWrite")).Add(type, payload);
}

/// <summary>
/// Why a wallet write did not happen, in the wallet's own words. <see cref="WalletApi.Refusal"/> turns it into the
/// HTTP error once, at the edge; pages and workers read it as it is.
/// </summary>
public abstract record WalletRefusal
{
    private WalletRefusal() { }
    public sealed record NotFound(string What = "wallet") : WalletRefusal;
    /// <summary>The ledger refused the command: insufficient balance, wallet not active, balance limit, capture above the hold.</summary>
    public sealed record Rejected(CommandOutcome Outcome) : WalletRefusal;
    public sealed record Invalid(string Message) : WalletRefusal;
    public sealed record KeyReused(string Key) : WalletRefusal;
    /// <summary>The customer already has an open wallet of this type in this currency.</summary>
    public sealed record AlreadyExists(string CustomerId, string WalletType, string Currency) : WalletRefusal;
    public sealed record KeyInUse(string Key) : WalletRefusal;

    /// <summary>
    /// The commit of the operation's batch failed: it may or may not have taken effect. It is never retried;
    /// a retry by the client with <paramref name="IdempotencyKey"/> replays it if it did.
    /// </summary>
    public sealed record OutcomeUnknown(string? IdempotencyKey) : WalletRefusal;

    /// <summary>An operation of an atomic batch that would have applied, undone because operation <paramref name="Refused"/> of the batch was refused.</summary>
    public sealed record BatchNotApplied(int Refused) : WalletRefusal;

    public static WalletRefusal NotActive(string status) => new Rejected(new CommandOutcome.WalletNotActive(status));

    /// <summary>A key used before that does not replay: reused for another request, or still in progress.</summary>
    public static WalletRefusal Of(IdempotencyCheck check) => check switch
    {
        IdempotencyCheck.InProgress p => new KeyInUse(p.Key),
        IdempotencyCheck.Reused r => new KeyReused(r.Key),
        _ => throw new ArgumentOutOfRangeException(nameof(check), check, "a replay is not a refusal"),
    };
}

public abstract record WriteResult
{
    private WriteResult() { }

    public sealed record Applied(WalletRow Wallet, IReadOnlyList<TransactionRow> Entries, object Response) : WriteResult;
    public sealed record NoChange(WalletRow Wallet, string Why, object Response) : WriteResult;
    public sealed record Replayed(StoredAnswer Answer) : WriteResult;
    public sealed record Refused(WalletRefusal Why) : WriteResult;
}

/// <summary>A settings change decided under the wallet's lock: the new row, or why it is refused.</summary>
public sealed record UpdateDecision(WalletRow? After, WalletRefusal? Refusal = null);

public abstract record UpdateResult
{
    private UpdateResult() { }
    public sealed record Updated(WalletRow Wallet) : UpdateResult;
    public sealed record Replayed(StoredAnswer Answer) : UpdateResult;
    public sealed record Refused(WalletRefusal Why) : UpdateResult;
}

public abstract record CreateResult
{
    private CreateResult() { }
    public sealed record Created(WalletRow Wallet, TransactionRow? Initial) : CreateResult;
    public sealed record Replayed(StoredAnswer Answer) : CreateResult;
    public sealed record Refused(WalletRefusal Why) : CreateResult;
}
