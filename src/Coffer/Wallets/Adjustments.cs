using Coffer.Common;
using Coffer.CreditCurrencies;
using Coffer.Ledger;
using Coffer.Tenants;

namespace Coffer.Wallets;

public static class ActorTypes
{
    public const string ApiKey = "api_key";
    public const string Operator = "operator";
}

/// <summary>Who made an entry by hand: an API key (its id and name, never its secret) or a dashboard operator (id and e-mail).</summary>
public sealed record Actor(string Type, string Id, string? Name)
{
    public static Actor Of(ApiKeyCaller key) => new(ActorTypes.ApiKey, key.KeyId, key.KeyName);

    public static Actor Operator(string id, string email) => new(ActorTypes.Operator, id, email);
}

/// <summary>What a manual adjustment's entry records beyond the ledger's own columns: why, and who made it.</summary>
public sealed record EntryAdjustment(string Reason, Actor Actor);

public static class AdjustmentDirections
{
    public const string Credit = "credit";
    public const string Debit = "debit";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Credit, Debit };
}

/// <summary>Coffer's <c>POST /v1/wallets/{id}/adjustments</c>: a correction by hand, in either direction, with its reason.</summary>
public sealed record AdjustmentRequest
{
    public string? Direction { get; init; }
    public decimal? Credits { get; init; }
    public string? Reason { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? ExpiryDateUtc { get; init; }
    public int? Priority { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>An adjustment as validated; <see cref="Details"/> carries the reason and the actor into the entry.</summary>
public sealed record AdjustmentOrder(string Direction, decimal Credits, DateTimeOffset? Expiry, int? Priority, EntryDetails Details, IdempotencyClaim Claim);

/// <summary>
/// Manual adjustments: the operation the API and the dashboard call. It checks what only the wallet can say (a credit
/// currency's precision) and hands the change to <see cref="WalletMoves.AdjustAsync"/>, the one write path's way in.
/// </summary>
public sealed class WalletAdjustments(WalletMoves moves, WalletStore wallets, CreditCurrencyStore currencies)
{
    public const int MaxReasonLength = 500;

    public static AdjustmentOrder? Order(Validator v, string walletId, AdjustmentRequest body, string? headerKey, Actor actor, DateTimeOffset now)
    {
        if (body.Direction is null) v.Fail("direction is required");
        var direction = v.OneOf("direction", body.Direction, AdjustmentDirections.All);
        var credits = v.Amount("credits", body.Credits, required: true);
        // Trimmed before its length is counted: a reason of spaces is no reason.
        var reason = v.Text("reason", body.Reason?.Trim(), required: true, max: MaxReasonLength);
        var expiry = v.Time("expiry_date_utc", body.ExpiryDateUtc);
        if (expiry is not null && expiry <= now) v.Fail("expiry_date_utc must be in the future");
        var priority = v.Priority("priority", body.Priority);
        if (direction == AdjustmentDirections.Debit && (expiry is not null || priority is not null))
            v.Fail("expiry_date_utc and priority are for credit adjustments: a debit spends lots in the spend order");
        v.Metadata("metadata", body.Metadata);
        var key = WalletOrders.Key(v, body.IdempotencyKey, headerKey, required: true);
        if (!v.Ok) return null;
        // The actor is part of the request: another key or operator sending the same key is refused, not shown this answer.
        var request = new { wallet = walletId, direction, credits, reason, expiry, priority, metadata = body.Metadata, actor = new { actor.Type, actor.Id } };
        return new AdjustmentOrder(direction!, credits!.Value, expiry, priority,
            new EntryDetails(Metadata: Json.Serialize(body.Metadata ?? []), Adjustment: new EntryAdjustment(reason!, actor)),
            new IdempotencyClaim(key!, Idempotency.Fingerprint("adjustment", request)));
    }

    public async Task<Moved<WalletChangeResponse>> AdjustAsync(string tenantId, string walletId, AdjustmentOrder order)
    {
        // A wallet's credit currency never changes, so it may be read before the lock; the balance is read under it.
        if (await wallets.GetAsync(tenantId, walletId) is not { } wallet) return new Moved<WalletChangeResponse>.Refused(new WalletRefusal.NotFound());
        if (wallet.CreditCurrencyId is { } id && await currencies.GetAsync(tenantId, id) is { } currency &&
            CreditCurrencyStore.TooFine("credits", order.Credits, currency) is { } tooFine)
            return new Moved<WalletChangeResponse>.Refused(new WalletRefusal.Invalid(tooFine));
        return await moves.AdjustAsync(tenantId, walletId, order);
    }
}
