using Coffer.Common;
using Coffer.Ledger;
using Coffer.Outbox;
using Coffer.Payments;
using Coffer.Payments.Gateways;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Wallets;

public sealed record CloseWalletRequest(string? Refund, string? RefundDestination, string? IdempotencyKey);

/// <summary>
/// What closing did to one lot: expired, forfeited, or refunded at the price paid for it (credits × lot price, rounded
/// down), and the refunds (of <see cref="CloseWalletResponse.Refunds"/>) that carry its value.
/// </summary>
public sealed record ClosedLot(string LotId, string TransactionReason, decimal Credits, string Outcome, decimal RefundAmount, IReadOnlyList<string> RefundIds);

/// <summary>
/// One refund of a close: to the payment that bought the lots (<c>original</c>: pending, then succeeded or failed as the
/// gateway answers) or to be paid out offline (<c>offline</c>, <c>pending_payout</c>).
/// </summary>
public sealed record RefundDto(string Id, decimal Amount, string Currency, string Destination, string Status, string? PaymentId, IReadOnlyList<string> LotIds);

/// <param name="Refund">The offline payout of the close, if any (every refund when the destination is offline).</param>
/// <param name="Refunds">Every refund of the close: one per payment refunded to its original method, and the offline payout.</param>
public sealed record CloseWalletResponse(WalletDto Wallet, IReadOnlyList<ClosedLot> Lots, RefundDto? Refund, IReadOnlyList<RefundDto> Refunds);

/// <summary>
/// Coffer's <c>POST /v1/wallets/{id}/close</c>: terminate (pending purchases failed, holds released, expired
/// lots expired, the rest debited), and either refund the remaining paid-for credits at their lot's price
/// (rounded down to the currency's minor unit) while forfeiting free credits, or forfeit everything. Refunds go offline
/// (recorded to be paid out elsewhere) or, with <c>refund_destination: original</c>, back through the gateway to the
/// card or payment-link payment that bought each lot: one refund per payment, reserved in the close's transaction and
/// asked of the gateway after its commit; lots with no such payment fall back to an offline payout. The response
/// lists what happened to each lot and each refund.
/// </summary>
public static class CloseApi
{
    public const string RefundPurchased = "purchased";
    public const string RefundNone = "none";

    public static void MapWalletClose(this RouteGroupBuilder v1) =>
        v1.MapPost("/wallets/{id}/close", Close).WithTags("Wallets").WithName("closeWallet")
            .WithSummary("Close a wallet, refunding purchased credits offline or to the payments that bought them")
            .WithDescription("refund: purchased | none. refund_destination: offline (default) | original. With original, each remaining purchased " +
                "lot is refunded through the gateway to the card or payment-link payment that bought it (one refund per payment, never more than it " +
                "has left); lots paid offline or not traceable to a payment are paid out offline. `refunds` lists each refund with its status " +
                "(pending, succeeded, failed, pending_payout); a replay answers the statuses as of the close's commit.");

    sealed record Plan(List<ClosedLot> Lots, RefundDto? Offline, List<(RefundDto Refund, PurchasePayment Payment)> ToPayments)
    {
        public List<RefundDto> All => [.. ToPayments.Select(p => p.Refund), .. Offline is null ? [] : new[] { Offline }];
    }

    static async Task<Results<Ok<CloseWalletResponse>, JsonReplay, ApiError>> Close(
        Tenant tenant, string id, CloseWalletRequest? body, WalletWriter writer, Ids ids, Invoices.InvoiceService invoices,
        RefundService refunds, GatewayRegistry gateways, HttpRequest http)
    {
        var v = new Validator();
        var refund = v.OneOf("refund", body?.Refund, new HashSet<string> { RefundPurchased, RefundNone }) ?? RefundNone;
        var destination = v.OneOf("refund_destination", body?.RefundDestination,
            new HashSet<string> { RefundDestinations.Offline, RefundDestinations.Original }) ?? RefundDestinations.Offline;
        var key = WalletApi.IdempotencyKey(v, body?.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();

        var offlineId = ids.New("refund");
        // One refund id per payment, the same each time the plan is made (for the rows and for the answer).
        var paymentRefundIds = new Dictionary<string, string>();
        IReadOnlyDictionary<string, IReadOnlyList<PurchasePayment>> byLot = new Dictionary<string, IReadOnlyList<PurchasePayment>>();
        Plan Decide(WriteContext x) => Settle(x, refund, destination, offlineId, byLot, p => paymentRefundIds.TryGetValue(p, out var r) ? r : paymentRefundIds[p] = ids.New("refund"));
        var op = new WalletOperation(_ => new WalletCommand.Terminate(ids.New("wtx")), new EntryDetails("Wallet closed"),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("close", new { wallet = id, refund, destination })),
            x =>
            {
                var plan = Decide(x);
                return new CloseWalletResponse(WalletDtos.Wallet(x.Wallet), plan.Lots, plan.Offline, plan.All);
            })
        {
            AlsoWrite = (x, writes) =>
            {
                var plan = Decide(x);
                if (plan.Offline is { } offline)
                    writes.Add(
                        """
                        INSERT INTO refunds (tenant_id, id, wallet_id, payment_id, amount, currency, destination, status, details, created_at)
                        VALUES (@t, @id, @w, NULL, @amount, @cur, @dest, @status, @details, @now)
                        """,
                        ("t", x.Wallet.TenantId), ("id", offline.Id), ("w", x.Wallet.Id), ("amount", offline.Amount), ("cur", x.Wallet.Currency),
                        ("dest", RefundDestinations.Offline), ("status", offline.Status),
                        ("details", Json.Serialize(plan.Lots.Where(l => l.RefundIds.Contains(offline.Id)))), ("now", x.Wallet.UpdatedAt));
                foreach (var (r, payment) in plan.ToPayments)
                    RefundService.ReserveForClose(writes, x.Wallet.TenantId, x.Wallet.Id, payment, r.Id, r.Amount, x.Wallet.Currency, r.LotIds, x.Wallet.UpdatedAt);
                foreach (var r in plan.All) x.AddEvent(EventTypes.RefundCreated, r);
            },
        };
        WriteResult result;
        if (refund == RefundPurchased && destination == RefundDestinations.Original)
        {
            var gateway = await gateways.ForTenantAsync(tenant.Id, http);
            // The invoices of the wallet's purchases are locked before the wallet, in the close's own transaction.
            result = await writer.ExecuteAfterAsync(tenant.Id, id,
                async (c, tx) => byLot = await refunds.LockPurchasePaymentsAsync(c, tx, tenant.Id, id, gateway?.Name), op);
        }
        else result = await writer.ExecuteAsync(tenant.Id, id, op);
        // The invoices of the purchases this failed end with them (the reconciler repeats this after a crash here).
        if (result is WriteResult.Applied) await invoices.CancelPurchasesOfWalletAsync(tenant.Id, id);
        return result switch
        {
            WriteResult.Applied a => TypedResults.Ok(await SendAsync(tenant.Id, (CloseWalletResponse)a.Response, refunds)),
            WriteResult.NoChange => ApiError.Unprocessable(ErrorCodes.WalletNotActive, "the wallet is already closed"),
            WriteResult.Replayed r => new JsonReplay(r.Answer),
            var other => WalletApi.Refusal(other),
        };
    }

    /// <summary>
    /// After the commit, with no lock held: each refund to a payment is asked of the gateway, its refund id the key. A crash
    /// before or during this leaves the refunds pending, and the payment reconciler asks again.
    /// </summary>
    static async Task<CloseWalletResponse> SendAsync(string tenantId, CloseWalletResponse closed, RefundService refunds)
    {
        List<RefundDto> sent = [];
        foreach (var r in closed.Refunds)
            sent.Add(r.Destination == RefundDestinations.Original ? r with { Status = await refunds.SendAsync(tenantId, r.Id) } : r);
        return closed with { Refunds = sent };
    }

    /// <summary>
    /// What closing did to each lot, and the refunds it owes, from the change as decided: the same value for the rows
    /// written and for the answer (a closed wallet's no-change has no allocations, so no lots and no refund). Refunded to
    /// the original method, a lot's value goes to the payments that bought it, each no further than it has left; what
    /// no payment can take is paid out offline.
    /// </summary>
    static Plan Settle(WriteContext x, string refund, string destination, string offlineId,
        IReadOnlyDictionary<string, IReadOnlyList<PurchasePayment>> byLot, Func<string, string> refundIdOf)
    {
        var minor = Currencies.MinorUnits(x.Wallet.Currency.ToUpperInvariant());
        var reasons = x.Entries.ToDictionary(e => e.Id, e => e.Reason);
        var left = byLot.Values.SelectMany(p => p).DistinctBy(p => p.PaymentId).ToDictionary(p => p.PaymentId, p => p.Left);
        var toPayments = new Dictionary<string, (decimal Amount, List<string> Lots, PurchasePayment Payment)>();
        var offline = 0m;
        var lots = x.Allocations.Select(a =>
        {
            var lot = x.LotsBefore[a.LotId];
            if (reasons[a.DebitId] == Reasons.CreditExpired) return new ClosedLot(a.LotId, Reason(lot), a.Credits, "expired", 0m, []);
            // What is left of a lot is refunded at the price paid for it; free credits are worth nothing.
            var value = refund == RefundPurchased ? lot.ValueOf(a.Credits, minor) : 0m;
            if (value <= 0) return new ClosedLot(a.LotId, Reason(lot), a.Credits, "forfeited", 0m, []);
            List<string> refundIds = [];
            var owed = value;
            foreach (var p in destination == RefundDestinations.Original ? byLot.GetValueOrDefault(a.LotId) ?? [] : [])
            {
                var take = Math.Min(owed, left[p.PaymentId]);
                if (take <= 0) continue;
                left[p.PaymentId] -= take;
                owed -= take;
                var sofar = toPayments.GetValueOrDefault(p.PaymentId, (0m, [], p));
                sofar.Lots.Add(a.LotId);
                toPayments[p.PaymentId] = (sofar.Amount + take, sofar.Lots, p);
                refundIds.Add(refundIdOf(p.PaymentId));
            }
            if (owed > 0)
            {
                offline += owed;
                refundIds.Add(offlineId);
            }
            return new ClosedLot(a.LotId, Reason(lot), a.Credits, "refunded", value, refundIds);
        }).ToList();
        var currency = x.Wallet.Currency;
        return new Plan(lots,
            offline > 0 ? new RefundDto(offlineId, offline, currency, RefundDestinations.Offline, "pending_payout", null,
                [.. lots.Where(l => l.RefundIds.Contains(offlineId)).Select(l => l.LotId)]) : null,
            [.. toPayments.Values.Select(t => (new RefundDto(refundIdOf(t.Payment.PaymentId), t.Amount, currency, RefundDestinations.Original, "pending",
                t.Payment.PaymentId, t.Lots), t.Payment))]);
    }

    // The lot set does not say which grant a lot came from beyond free or paid for (a purchase, or a credit note of one).
    static string Reason(Lot lot) => lot.PaidFor ? "PURCHASED" : "FREE";
}
