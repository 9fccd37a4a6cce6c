using System.Text.Json;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Wallets;

/// <summary>One operation of <c>POST /v1/wallets/transactions/batch</c>: the fields of the single request of its type.</summary>
public sealed record BatchOperationRequest
{
    /// <summary><c>debit</c>, <c>top_up</c> or <c>capture</c>.</summary>
    public string? Type { get; init; }
    public string? WalletId { get; init; }
    public decimal? Credits { get; init; }
    public decimal? Amount { get; init; }
    /// <summary>Required for every operation: a batch retried after a lost answer replays what was applied.</summary>
    public string? IdempotencyKey { get; init; }
    public string? TransactionReason { get; init; }
    public string? Description { get; init; }
    public string? ReferenceType { get; init; }
    public string? ReferenceId { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    /// <summary>A <c>debit</c>'s spend attribution, as on <c>POST /v1/wallets/{id}/debit</c>.</summary>
    public Dictionary<string, string>? Dimensions { get; init; }
    /// <summary>The hold a <c>capture</c> captures.</summary>
    public string? HoldId { get; init; }
    /// <summary>A <c>top_up</c>'s expiry and grant priority.</summary>
    public string? ExpiryDateUtc { get; init; }
    public int? Priority { get; init; }
}

public sealed record BatchRequest
{
    public List<BatchOperationRequest?>? Operations { get; init; }
    /// <summary>When true, every operation is applied or none is.</summary>
    public bool? Atomic { get; init; }
}

/// <summary>What happened to one operation: <c>applied</c>, <c>replayed</c> (its key was used before, for the same request) or <c>refused</c>.</summary>
public sealed record BatchResultDto(
    int Index, string Status, string? WalletId, string? IdempotencyKey, string? TransactionId, decimal? CreditBalance, ErrorBody? Error);

public sealed record BatchResponse(List<BatchResultDto> Results);

/// <summary>
/// Many debits, top-ups and captures across a tenant's wallets in one request and one transaction, each decided in order
/// against the state the ones before it left, each with its own idempotency key (TigerBeetle's <c>create_transfers</c>
/// is the model). The single endpoints' operations, validation and stored answers are used unchanged, so a key sent in
/// a batch and retried on its own endpoint replays the same answer.
/// </summary>
public static class Batches
{
    public const int MaxOperations = 8_000;
    /// <summary>8,000 operations with descriptions and metadata; the rest of the API keeps the smaller global limit.</summary>
    public const long MaxBodyBytes = 8 * 1024 * 1024;

    public static class Types
    {
        public const string Debit = "debit";
        public const string TopUp = "top_up";
        public const string Capture = "capture";
    }

    static readonly HashSet<string> AllTypes = [Types.Debit, Types.TopUp, Types.Capture];

    public static void MapBatches(this RouteGroupBuilder wallets) =>
        wallets.MapPost("/transactions/batch", Execute).WithName("batchWalletTransactions")
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes))
            .WithSummary($"Coffer: up to {MaxOperations} debits, top-ups and captures across wallets in one transaction, each with its own idempotency key; results per operation in order; atomic applies all or none");

    static async Task<Results<Ok<BatchResponse>, ApiError>> Execute(Tenant tenant, BatchRequest body, WalletMoves moves, TimeProvider clock)
    {
        if (body.Operations is not { Count: > 0 } operations) return ApiError.Validation("operations is required and holds at least one operation");
        if (operations.Count > MaxOperations) return ApiError.Validation($"at most {MaxOperations} operations per batch");
        var now = clock.GetUtcNow();
        var orders = operations.Select((o, i) => Order(o, i, now)).ToList();
        var outcomes = await moves.BatchAsync(tenant.Id, orders, body.Atomic ?? false);
        return TypedResults.Ok(new BatchResponse(outcomes.Select(Render).ToList()));
    }

    /// <summary>One operation checked by the rules of its single endpoint; what fails them is refused alone.</summary>
    static BatchOrder Order(BatchOperationRequest? o, int index, DateTimeOffset now)
    {
        var v = new Validator();
        if (o is null) return new BatchOrder(index, null, null, null, ApiError.Validation($"operations[{index}] is not an operation"));
        var type = v.OneOf("type", o.Type, AllTypes);
        if (o.Type is null) v.Fail("type is required");
        var walletId = v.Text("wallet_id", o.WalletId, required: true);
        // A batch is retried whole after a lost answer: only keys make that safe.
        v.Text("idempotency_key", o.IdempotencyKey, required: true, Idempotency.MaxKeyLength);
        if (o.Dimensions is not null && type is not Types.Debit) v.Fail("dimensions attribute a debit's spend; only a debit takes them");
        if (!v.Ok) return new BatchOrder(index, walletId, o.IdempotencyKey, null, v.Error());
        object? order = type switch
        {
            Types.Debit => WalletOrders.Debit(v, walletId!, new DebitRequest
            {
                Credits = o.Credits, Amount = o.Amount, TransactionReason = o.TransactionReason, IdempotencyKey = o.IdempotencyKey,
                Description = o.Description, ReferenceType = o.ReferenceType, ReferenceId = o.ReferenceId, Metadata = o.Metadata,
                Dimensions = o.Dimensions,
            }, null),
            Types.TopUp => TopUp(v, walletId!, o, now),
            _ => WalletOrders.Capture(v, walletId!, v.Text("hold_id", o.HoldId, required: true) ?? "",
                new Holds.CaptureHoldRequest(o.Credits, o.Amount, o.TransactionReason, o.IdempotencyKey, o.Description), null),
        };
        return new BatchOrder(index, walletId, o.IdempotencyKey, v.Ok ? order : null, v.Ok ? null : v.Error());
    }

    static TopUpOrder? TopUp(Validator v, string walletId, BatchOperationRequest o, DateTimeOffset now)
    {
        // An invoiced purchase waits for its payment outside the ledger's transaction: it has its own endpoint.
        if (o.TransactionReason == Reasons.PurchasedCreditInvoiced)
            v.Fail($"a top_up in a batch cannot be {Reasons.PurchasedCreditInvoiced}: buy credits with an invoice through POST /v1/wallets/{{id}}/top-up");
        return WalletOrders.TopUp(v, walletId, new TopUpRequest
        {
            CreditsToAdd = o.Credits, Amount = o.Amount, TransactionReason = o.TransactionReason, ExpiryDateUtc = o.ExpiryDateUtc,
            Priority = o.Priority, IdempotencyKey = o.IdempotencyKey, Description = o.Description, Metadata = o.Metadata,
        }, null, now);
    }

    static BatchResultDto Render(BatchOutcome x) => x.Result switch
    {
        WriteResult.Applied a => new(x.Order.Index, "applied", x.Order.WalletId, x.Order.Key, a.Entries.Count > 0 ? a.Entries[0].Id : null,
            a.Wallet.CreditBalance, null),
        WriteResult.Replayed r => Replayed(x.Order, r.Answer),
        WriteResult.Refused f => Refused(x.Order, WalletApi.Refusal(f.Why)),
        null => Refused(x.Order, x.Order.Invalid!),
        _ => throw new InvalidOperationException($"unexpected batch result {x.Result}"),
    };

    static BatchResultDto Refused(BatchOrder order, ApiError error) =>
        new(order.Index, "refused", order.WalletId, order.Key, null, null, error.Envelope.Error);

    /// <summary>A replay names what the first request applied: its entry and the balance it left.</summary>
    static BatchResultDto Replayed(BatchOrder order, StoredAnswer answer)
    {
        string? entry = null;
        decimal? balance = null;
        using (var doc = JsonDocument.Parse(answer.Body))
        {
            var root = doc.RootElement;
            if (root.TryGetProperty("wallet_transaction", out var t) && t.ValueKind == JsonValueKind.Object && t.TryGetProperty("id", out var id))
                entry = id.GetString();
            if (root.TryGetProperty("wallet", out var w) && w.ValueKind == JsonValueKind.Object && w.TryGetProperty("credit_balance", out var b))
                balance = b.ValueKind == JsonValueKind.String ? decimal.Parse(b.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : b.GetDecimal();
        }
        return new(order.Index, "replayed", order.WalletId, order.Key, entry, balance, null);
    }
}

/// <summary>One operation of a batch as checked: its order for <see cref="WalletMoves"/>, or why it is refused before it runs.</summary>
public sealed record BatchOrder(int Index, string? WalletId, string? Key, object? Order, ApiError? Invalid);

/// <summary>An operation of a batch and what the write path answered (null when it was refused before it ran).</summary>
public sealed record BatchOutcome(BatchOrder Order, WriteResult? Result);
