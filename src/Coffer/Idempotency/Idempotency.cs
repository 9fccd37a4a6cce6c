using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Wallets;

/// <summary>An idempotency key with the fingerprint of the request that first used it.</summary>
public sealed record IdempotencyClaim(string Key, string RequestHash)
{
    /// <summary>The claim of a request, or null when it carries no key.</summary>
    public static IdempotencyClaim? For(string? key, string operation, object normalizedRequest) =>
        key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint(operation, normalizedRequest));
}

/// <summary>
/// A response as it is stored and replayed: the HTTP status and the exact body. An answer made to be stored is kept in
/// its stored form (<see cref="PackedJson"/>) and its text is made only if it is replayed: most answers of the write path
/// never are.
/// </summary>
public sealed class StoredAnswer
{
    string? _body;
    byte[]? _packed;

    public StoredAnswer(int statusCode, string body) => (StatusCode, _body) = (statusCode, body);

    StoredAnswer(int statusCode, byte[] packed) => (StatusCode, _packed) = (statusCode, packed);

    public int StatusCode { get; }

    /// <summary>The body's JSON, byte for byte as first answered.</summary>
    public string Body => _body ??= PackedJson.Unpack(_packed!);

    /// <summary>The body as <c>response_packed</c> stores it.</summary>
    public byte[] Packed => _packed ??= PackedJson.Pack(_body!);

    /// <summary><paramref name="body"/> serialized as the API answers it (<see cref="Json.Options"/>).</summary>
    public static StoredAnswer Of(int statusCode, object body) => new(statusCode, PackedJson.PackJson(body));
}

/// <summary>One row of <c>idempotency_keys</c>; <see cref="Answer"/> is null while the claim is in progress.</summary>
public sealed record StoredResponse(string RequestHash, StoredAnswer? Answer);

/// <summary>What a key says about a request that carries it.</summary>
public abstract record IdempotencyCheck
{
    private IdempotencyCheck() { }

    /// <summary>No record yet (from a lookup), or, from a claim, the key now belongs to the caller's transaction.</summary>
    public sealed record Claimed : IdempotencyCheck;

    /// <summary>The same request was answered before: answer it again, byte for byte, with the same status.</summary>
    public sealed record Replay(StoredAnswer Answer) : IdempotencyCheck;

    /// <summary>The key was used for another request (another body or another operation): refuse, change nothing.</summary>
    public sealed record Reused(string Key) : IdempotencyCheck;

    /// <summary>The same request was claimed and is still waiting for its effect to settle (a gateway call).</summary>
    public sealed record InProgress(string Key) : IdempotencyCheck;
}

/// <summary>
/// DESIGN.md 4.5 and 7: the one idempotency mechanism. A key (per tenant, one namespace across operations) is
/// claimed with the fingerprint of its request, and the response (status and exact body) is stored in the
/// transaction that makes the effect, so a crash cannot leave an effect without its key or a key without its
/// effect. The same key with the same request replays the stored response; with another request it is refused
/// (409 <c>idempotency_key_reused</c>). A refused or failed request stores nothing: its transaction rolls back,
/// so the client may retry it once the refusal no longer holds.
/// <para>
/// Claiming inside a transaction the caller owns (<see cref="ClaimAsync"/>, then <see cref="Complete"/> in the
/// same transaction): on PostgreSQL the claim is <c>INSERT ... ON CONFLICT DO NOTHING</c> and then a read, so a
/// concurrent duplicate waits for the first transaction and then replays its answer instead of aborting; on
/// SQLite writers are serialized already. Claim after the caller's own row locks (invoice, wallet): the key is
/// always the last lock a transaction takes, so keys never take part in a lock cycle.
/// </para>
/// <para>
/// Flows whose effect spans a gateway call (a card payment recorded PROCESSING, the gateway asked, then
/// settled): call <see cref="ClaimAsync"/> in the first transaction (the one that records the payment or refund)
/// and commit it with the answer still missing; a retry meanwhile gets <see cref="IdempotencyCheck.InProgress"/>
/// (409 <c>idempotency_key_in_use</c>, see <see cref="Refusal"/>). In the settling transaction call
/// <see cref="Complete"/> with the answer the first request gives, or <see cref="Release"/> when nothing took
/// effect (the gateway refused), so that a retry may try again. <see cref="LookupAsync"/> reads a key without
/// claiming it, and tells "in progress" from "done"; a reconciler that settles the payment later completes the
/// claim the same way, in its settling transaction.
/// </para>
/// </summary>
public static class Idempotency
{
    /// <summary>Keys are kept at least this long; the sweeper removes older ones.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(7);

    public const int MaxKeyLength = 255;

    /// <summary>The fingerprint covers the operation and its normalized body, so whitespace or field order do not matter.</summary>
    public static string Fingerprint(string operation, object normalizedRequest) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(operation + "\n" + Json.Serialize(normalizedRequest))));

    /// <summary>
    /// A request that may also ask to keep the card paid at the checkout: the ask is part of what its key stands for, and
    /// only when made, so keys used before the option existed still replay.
    /// </summary>
    public static object WithSavedCard(object request, bool saveCard) => saveCard ? new { request, save_card_and_make_default = true } : request;

    /// <summary>The replay-or-refuse rule: what a stored record (or none) means for a request with <paramref name="claim"/>.</summary>
    public static IdempotencyCheck Judge(StoredResponse? stored, IdempotencyClaim claim) => stored switch
    {
        null => new IdempotencyCheck.Claimed(),
        { RequestHash: var h } when h != claim.RequestHash => new IdempotencyCheck.Reused(claim.Key),
        { Answer: null } => new IdempotencyCheck.InProgress(claim.Key),
        { Answer: { } answer } => new IdempotencyCheck.Replay(answer),
    };

    /// <summary>
    /// Claims the key inside the caller's transaction. <see cref="IdempotencyCheck.Claimed"/>: the key is the
    /// caller's until its transaction ends; go on and <see cref="Complete"/> it (or, for a gateway flow, commit
    /// it in progress). Anything else: answer that and roll back.
    /// </summary>
    public static async Task<IdempotencyCheck> ClaimAsync(DbConnection c, DbTransaction tx, string tenantId, IdempotencyClaim claim, DateTimeOffset now)
    {
        var inserted = await c.ExecAsync(tx,
            """
            INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, created_at)
            VALUES (@t, @k, @h, @now)
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            """,
            ("t", tenantId), ("k", claim.Key), ("h", claim.RequestHash), ("now", now));
        if (inserted == 1) return new IdempotencyCheck.Claimed();
        // A new statement: on PostgreSQL (read committed) it sees the row the conflicting transaction committed.
        return Judge(await ReadAsync(c, tx, tenantId, claim.Key)
            ?? throw new InvalidOperationException($"idempotency key {claim.Key} conflicted but cannot be read"), claim);
    }

    /// <summary>Stores the answer of a claim made with <see cref="ClaimAsync"/> (in this transaction or an earlier one).</summary>
    public static void Complete(SqlBatch writes, string tenantId, IdempotencyClaim claim, StoredAnswer answer) =>
        writes.Add(
            $"""
            UPDATE idempotency_keys SET status_code = @s, response_packed = @r
            WHERE tenant_id = @t AND idempotency_key = @k AND request_hash = @h AND {Unanswered}
            """,
            ("s", answer.StatusCode), ("r", answer.Packed), ("t", tenantId), ("k", claim.Key), ("h", claim.RequestHash));

    /// <summary>
    /// Completes the in-progress claim of <paramref name="key"/>, whatever request made it: for a flow that settles
    /// later from a row that carries only its key (a payment settled by the gateway's answer, a webhook or the
    /// reconciler). A completed claim is left as it is, so the first settlement's answer is the one replayed.
    /// </summary>
    public static void CompleteInProgress(SqlBatch writes, string tenantId, string key, StoredAnswer answer) =>
        writes.Add(
            $"UPDATE idempotency_keys SET status_code = @s, response_packed = @r WHERE tenant_id = @t AND idempotency_key = @k AND {Unanswered}",
            ("s", answer.StatusCode), ("r", answer.Packed), ("t", tenantId), ("k", key));

    /// <summary>Gives up the in-progress claim of <paramref name="key"/> (the effect it waited for did not happen).</summary>
    public static void ReleaseInProgress(SqlBatch writes, string tenantId, string key) =>
        writes.Add($"DELETE FROM idempotency_keys WHERE tenant_id = @t AND idempotency_key = @k AND {Unanswered}", ("t", tenantId), ("k", key));

    /// <summary>Gives up an in-progress claim whose effect did not happen, so a retry with the key starts afresh.</summary>
    public static void Release(SqlBatch writes, string tenantId, IdempotencyClaim claim) =>
        writes.Add(
            $"DELETE FROM idempotency_keys WHERE tenant_id = @t AND idempotency_key = @k AND request_hash = @h AND {Unanswered}",
            ("t", tenantId), ("k", claim.Key), ("h", claim.RequestHash));

    /// <summary>
    /// Claims and completes in one statement, for the wallet writer, whose one-round-trip lock-and-load has read
    /// the key already (<see cref="SelectStored"/>). A concurrent claim of the same key through another wallet
    /// fails this insert with a unique violation, and the writer retries the operation, which then replays.
    /// </summary>
    public static void Save(SqlBatch writes, string tenantId, IdempotencyClaim claim, StoredAnswer answer, DateTimeOffset now) =>
        writes.Add(
            """
            INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, status_code, response_packed, created_at)
            VALUES (@t, @k, @h, @s, @r, @now)
            """,
            ("t", tenantId), ("k", claim.Key), ("h", claim.RequestHash), ("s", answer.StatusCode), ("r", answer.Packed), ("now", now));

    /// <summary>What the key says about the request, without claiming it.</summary>
    public static async Task<IdempotencyCheck> LookupAsync(DbConnection c, DbTransaction? tx, string tenantId, IdempotencyClaim claim) =>
        Judge(await ReadAsync(c, tx, tenantId, claim.Key), claim);

    /// <summary>The columns <see cref="ReadRow"/> reads, for a caller that loads keys in its own statement.</summary>
    public const string SelectStored = "SELECT idempotency_key, request_hash, status_code, response, response_packed FROM idempotency_keys";

    /// <summary>A claim still in progress: no answer yet, in either column (answers written before packing are text).</summary>
    const string Unanswered = "response IS NULL AND response_packed IS NULL";

    public static StoredResponse ReadRow(DbDataReader r) =>
        new(r.Str("request_hash"), PackedJson.Read(r, "response") is { } body ? new StoredAnswer(r.NInt("status_code") ?? 200, body) : null);

    static Task<StoredResponse?> ReadAsync(DbConnection c, DbTransaction? tx, string tenantId, string key) =>
        c.QuerySingleAsync(tx, $"{SelectStored} WHERE tenant_id = @t AND idempotency_key = @k", ReadRow, ("t", tenantId), ("k", key));

    /// <summary>The error for a key that cannot be used for this request; null for a claim or a replay.</summary>
    public static ApiError? Refusal(IdempotencyCheck check) => check switch
    {
        IdempotencyCheck.Reused r => ApiError.Conflict(ErrorCodes.IdempotencyKeyReused,
            $"idempotency key '{r.Key}' was already used for a different request"),
        IdempotencyCheck.InProgress p => ApiError.Conflict(ErrorCodes.IdempotencyKeyInUse,
            $"the first request with idempotency key '{p.Key}' is still being processed; retry it later"),
        _ => null,
    };

    /// <summary>The HTTP answer for a key that is not the caller's to use: the replay, or the refusal.</summary>
    public static IResult Answer(IdempotencyCheck check) => check switch
    {
        IdempotencyCheck.Replay r => new JsonReplay(r.Answer),
        _ => Refusal(check) ?? throw new InvalidOperationException("a claimed key has no answer of its own"),
    };
}

/// <summary>
/// A stored answer replayed as it was stored, with its status, and <c>Idempotent-Replayed: true</c>. The first
/// answer is the same value serialized with the same options (<see cref="Json.Options"/>), so both are the same bytes.
/// </summary>
public sealed class JsonReplay(StoredAnswer answer) : IResult, IStatusCodeHttpResult
{
    public JsonReplay(string body) : this(new StoredAnswer(200, body)) { }

    public StoredAnswer Answer { get; } = answer;
    public int? StatusCode => Answer.StatusCode;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = Answer.StatusCode;
        httpContext.Response.Headers["Idempotent-Replayed"] = "true";
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        return httpContext.Response.WriteAsync(Answer.Body);
    }
}

/// <summary>
/// A request's claim for a flow that owns its transaction and decides under its own lock (an invoice's): the
/// flow claims the key after its lock and stores <see cref="Answer"/>'s result before it commits. Without an
/// answer the claim is committed in progress, to be completed by the transaction that settles the effect.
/// </summary>
public sealed record Keyed<T>(IdempotencyClaim Claim, Func<T, Task<StoredAnswer>>? Answer);
