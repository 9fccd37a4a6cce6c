using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Wallets;

public sealed record CloseWalletRequest(string? Refund, string? RefundDestination, string? IdempotencyKey);

/// <summary>What closing did to one lot: expired, forfeited, or refunded at the price paid for it (credits × lot price, rounded down).</summary>
public sealed record ClosedLot(string LotId, string TransactionReason, decimal Credits, string Outcome, decimal RefundAmount);

public sealed record RefundDto(string Id, decimal Amount, string Currency, string Destination, string Status);

public sealed record CloseWalletResponse(WalletDto Wallet, IReadOnlyList<ClosedLot> Lots, RefundDto? Refund);

/// <summary>
/// Coffer's <c>POST /v1/wallets/{id}/close</c>: terminate (pending purchases failed, holds released, expired
/// lots expired, the rest debited), and either refund the remaining paid-for credits at their lot's price
/// (rounded down to the currency's minor unit) while forfeiting free credits, or forfeit everything. Refunds are recorded to be paid out offline
/// until a payment gateway exists. The response lists what happened to each lot.
/// </summary>
public static class CloseApi
{
    public const string RefundPurchased = "purchased";
    public const string RefundNone = "none";

    public static void MapWalletClose(this RouteGroupBuilder v1) =>
        v1.MapPost("/wallets/{id}/close", Close).WithTags("Wallets").WithName("closeWallet");

    static async Task<Results<Ok<CloseWalletResponse>, JsonReplay, ApiError>> Close(
        Tenant tenant, string id, CloseWalletRequest? body, WalletWriter writer, Ids ids, Invoices.InvoiceService invoices,
        HttpRequest http)
    {
        var v = new Validator();
        var refund = v.OneOf("refund", body?.Refund, new HashSet<string> { RefundPurchased, RefundNone }) ?? RefundNone;
        var destination = v.OneOf("refund_destination", body?.RefundDestination, new HashSet<string> { "offline" }) ?? "offline";
        var key = WalletApi.IdempotencyKey(v, body?.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();

        var refundId = ids.New("refund");
        var op = new WalletOperation(_ => new WalletCommand.Terminate(ids.New("wtx")), new EntryDetails("Wallet closed"),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("close", new { wallet = id, refund, destination })),
            x =>
            {
                var (lots, refundDto) = Settle(x, refund, refundId, destination);
                return new CloseWalletResponse(WalletDtos.Wallet(x.Wallet), lots, refundDto);
            })
        {
            AlsoWrite = (x, writes) =>
            {
                var (lots, refundDto) = Settle(x, refund, refundId, destination);
                if (refundDto is null) return;
                writes.Add(
                    """
                    INSERT INTO refunds (tenant_id, id, wallet_id, payment_id, amount, currency, destination, status, details, created_at)
                    VALUES (@t, @id, @w, NULL, @amount, @cur, @dest, @status, @details, @now)
                    """,
                    ("t", x.Wallet.TenantId), ("id", refundId), ("w", x.Wallet.Id), ("amount", refundDto.Amount), ("cur", x.Wallet.Currency),
                    ("dest", destination), ("status", refundDto.Status), ("details", Json.Serialize(lots)), ("now", x.Wallet.UpdatedAt));
                x.AddEvent(EventTypes.RefundCreated, refundDto);
            },
        };
        var result = await writer.ExecuteAsync(tenant.Id, id, op);
        // The invoices of the purchases this failed end with them (the reconciler repeats this after a crash here).
        if (result is WriteResult.Applied) await invoices.CancelPurchasesOfWalletAsync(tenant.Id, id);
        return result switch
        {
            WriteResult.Applied a => TypedResults.Ok((CloseWalletResponse)a.Response),
            WriteResult.NoChange => ApiError.Unprocessable(ErrorCodes.WalletNotActive, "the wallet is already closed"),
            WriteResult.Replayed r => new JsonReplay(r.Answer),
            var other => WalletApi.Refusal(other),
        };
    }

    /// <summary>
    /// What closing did to each lot, and the refund it owes, from the change as decided: the same value for the rows
    /// written and for the answer (a closed wallet's no-change has no allocations, so no lots and no refund).
    /// </summary>
    static (List<ClosedLot> Lots, RefundDto? Refund) Settle(WriteContext x, string refund, string refundId, string destination)
    {
        var minor = Currencies.MinorUnits(x.Wallet.Currency.ToUpperInvariant());
        var reasons = x.Entries.ToDictionary(e => e.Id, e => e.Reason);
        var lots = x.Allocations.Select(a =>
        {
            var lot = x.LotsBefore[a.LotId];
            if (reasons[a.DebitId] == Reasons.CreditExpired) return new ClosedLot(a.LotId, Reason(lot), a.Credits, "expired", 0m);
            // What is left of a lot is refunded at the price paid for it; free credits are worth nothing.
            var value = refund == RefundPurchased ? lot.ValueOf(a.Credits, minor) : 0m;
            return value > 0
                ? new ClosedLot(a.LotId, Reason(lot), a.Credits, "refunded", value)
                : new ClosedLot(a.LotId, Reason(lot), a.Credits, "forfeited", 0m);
        }).ToList();
        var total = lots.Sum(l => l.RefundAmount);
        return (lots, total > 0 ? new RefundDto(refundId, total, x.Wallet.Currency, destination, "pending_payout") : null);
    }

    // The lot set does not say which grant a lot came from beyond free or paid for (a purchase, or a credit note of one).
    static string Reason(Lot lot) => lot.PaidFor ? "PURCHASED" : "FREE";
}
