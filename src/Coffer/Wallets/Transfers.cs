using Coffer.Common;
using Coffer.Ledger;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Wallets;

public sealed record TransferRequest
{
    /// <summary>The wallet that receives the credits: the same tenant, the same currency and credit currency.</summary>
    public string? ToWalletId { get; init; }
    public decimal? Credits { get; init; }
    /// <summary>Required, in the body or the <c>Idempotency-Key</c> header.</summary>
    public string? IdempotencyKey { get; init; }
    public string? Description { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>A transfer as checked: credits from one wallet to another of the same tenant.</summary>
public sealed record TransferOrder(string ToWalletId, decimal Credits, EntryDetails Details, IdempotencyClaim Claim, string TransferId);

/// <summary>One lot that arrived: the lot it came from, with that lot's expiry, priority and price for the credits moved.</summary>
public sealed record TransferredLotDto(string TransactionId, string FromLotId, decimal Credits, decimal Amount, DateTimeOffset? ExpiryDate, int? Priority);

/// <summary>
/// The transfer: the sending wallet after it and its TRANSFER_OUT entry, and the TRANSFER_IN entries on the receiving
/// wallet. Every entry of a transfer has <c>reference_type</c> <c>wallet_transfer</c> and <c>reference_id</c> the transfer's id.
/// </summary>
public sealed record TransferResponse(string TransferId, WalletDto Wallet, TransactionDto WalletTransaction, string ToWalletId,
    IReadOnlyList<TransferredLotDto> ToTransactions);

/// <summary>
/// <c>POST /v1/wallets/{id}/transfer</c>: moves credits between two wallets of a tenant in one transaction, both wallets
/// locked. The sending wallet spends its lots in the spend order, with no overdraft and around its holds, as a debit
/// would; the receiving wallet gets one lot per lot spent, keeping its expiry, its priority and its price for the
/// credits moved, so the credits are worth, expire and are spent as they would have been. All or nothing.
/// </summary>
public static class Transfers
{
    public const string ReferenceType = "wallet_transfer";

    public static void MapTransfers(this RouteGroupBuilder wallets) =>
        wallets.MapPost("/{id}/transfer", Transfer).WithName("transferWalletCredits")
            .WithSummary("Coffer: moves credits to another wallet of the tenant in the same currency, atomically; the moved credits keep their expiry, priority and price");

    static async Task<Results<Ok<TransferResponse>, JsonReplay, ApiError>> Transfer(
        Tenant tenant, string id, TransferRequest body, WalletMoves moves, WalletStore store, Ids ids, HttpRequest http)
    {
        var v = new Validator();
        var to = v.Text("to_wallet_id", body.ToWalletId, required: true);
        var credits = v.Amount("credits", body.Credits);
        if (body.Credits is null) v.Fail("credits is required");
        if (to == id) v.Fail("to_wallet_id is the wallet the credits leave");
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        v.Metadata("metadata", body.Metadata);
        var key = WalletApi.IdempotencyKey(v, body.IdempotencyKey, http, required: true);
        if (!v.Ok) return v.Error();

        // Currencies never change, so they are compared before the locks.
        if (await store.GetAsync(tenant.Id, id) is not { } from) return ApiError.NotFound("wallet");
        if (await store.GetAsync(tenant.Id, to!) is not { } receiving) return ApiError.NotFound("to_wallet");
        if (from.Currency != receiving.Currency || from.CreditCurrencyId != receiving.CreditCurrencyId)
            return ApiError.Unprocessable(ErrorCodes.CurrencyMismatch,
                $"credits move only between wallets of one currency: {from.Id} holds {Unit(from)}, {receiving.Id} holds {Unit(receiving)}");

        var transferId = ids.New("wtr");
        var request = new { wallet = id, to, credits, description, metadata = body.Metadata };
        var order = new TransferOrder(to!, credits!.Value,
            new EntryDetails(description, Json.Serialize(body.Metadata ?? []), ReferenceType, transferId),
            new IdempotencyClaim(key!, Idempotency.Fingerprint("transfer", request)), transferId);
        return WalletApi.Respond(await moves.TransferAsync(tenant.Id, id, order));
    }

    static string Unit(WalletRow w) => w.CreditCurrencyId is { } cc ? $"credit currency {cc}" : w.Currency;
}
