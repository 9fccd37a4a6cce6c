using Coffer.Common;
using Coffer.Ledger;

namespace Coffer.Wallets;

/// <summary>What the API, the dashboard and the portal read about a wallet: its real-time balance and its ledger.</summary>
public sealed class WalletReads(WalletStore store, TimeProvider clock)
{
    /// <summary>
    /// The wallet with what it can spend now, what holds and pending charges take, and unpaid invoices; null when there is
    /// none. With <paramref name="at"/> (a past instant), the same computed from the ledger as it stood then: invoices are
    /// not replayed, so the invoices' part of pending charges and <c>unpaid_invoices_amount</c> are 0.
    /// </summary>
    public async Task<WalletBalanceDto?> BalanceAsync(string tenantId, string id, DateTimeOffset? at = null)
    {
        WalletRow w;
        LotSummary lots;
        decimal unpaid = 0m;
        IReadOnlyList<BalanceLot> left;
        IReadOnlyList<BalanceHold> holds;
        if (at is { } instant)
        {
            if (await store.BalanceAtAsync(tenantId, id, instant) is not var (wallet, summary, lotsLeft, held)) return null;
            (w, lots, left, holds) = (wallet, summary, lotsLeft, held);
        }
        else
        {
            if (await store.BalanceAsync(tenantId, id) is not var (wallet, summary, owed, lotsLeft, held)) return null;
            (w, lots, unpaid, left, holds) = (wallet, summary, owed, lotsLeft, held);
        }
        var asOf = at ?? clock.GetUtcNow();
        var realTime = RealTimeCredits.Of(w, lots);
        var dto = WalletDtos.Wallet(w, new CreditBreakdown(lots.SpendableFree, lots.SpendablePurchased));
        return new WalletBalanceDto(dto)
        {
            RealTimeCreditBalance = realTime.Balance,
            RealTimeBalance = Money.AmountForCredits(realTime.Balance, w.ConversionRate),
            UnpaidInvoicesAmount = unpaid,
            BalanceUpdatedAt = w.UpdatedAt,
            PendingCharges = Money.AmountForCredits(realTime.PendingCharges, w.ConversionRate),
            PendingChargeCredits = realTime.PendingCharges,
            AvailableCreditBalance = realTime.Available,
            AvailableBalance = Money.AmountForCredits(realTime.Available, w.ConversionRate),
            ExpiredUnsweptCredits = lots.ExpiredUnswept,
            OverdraftCredits = w.OverdraftCredits,
            AsOf = asOf,
            Lots = left.Select(l => new BalanceLotDto(l.Id, l.TransactionReason, l.Credits, l.CreditsAvailable, l.ExpiryDate, l.Priority,
                l.CreatedAt, l.ExpiredAt(asOf))).ToList(),
            Holds = holds.Select(h => new BalanceHoldDto(h.Id, h.Credits, h.ExpiresAt, h.CreatedAt)).ToList(),
        };
    }

    /// <summary>
    /// A page of ledger entries matching the filter. Problems with the filter go to <paramref name="v"/> (and nothing is
    /// read); with <paramref name="ofWallet"/> the filter's wallet must exist, else the answer is null (checked first).
    /// </summary>
    public async Task<ListResponse<TransactionDto>?> TransactionsAsync(Validator v, string tenantId, TransactionFilter f, bool ofWallet)
    {
        Dictionary<string, WalletRow>? wallets = null;
        if (ofWallet)
        {
            if (await store.GetAsync(tenantId, f.WalletId!) is not { } wallet) return null;
            wallets = new Dictionary<string, WalletRow> { [wallet.Id] = wallet };
        }
        var (limit, offset) = v.Page(f.Limit, f.Offset);
        var walletId = f.WalletId;
        foreach (var c in f.Filters ?? [])
        {
            if (c.Field == "wallet_id" && c.Operator == "eq" && c.Value?.String is { } w) walletId = w;
            else v.Fail($"filters: only wallet_id eq is supported, not {c.Field} {c.Operator}");
        }
        v.OneOf("type", f.Type, new HashSet<string> { TransactionTypes.Credit, TransactionTypes.Debit });
        v.OneOf("kind", f.Kind, TransactionKinds.All);
        v.OneOf("transaction_status", f.TransactionStatus,
            new HashSet<string> { TransactionStatuses.Pending, TransactionStatuses.Completed, TransactionStatuses.Failed });
        if (f.CreditsAvailableGt is < 0) v.Fail("credits_available_gt must be zero or more");
        var query = new TransactionQuery(walletId, f.Id, f.Type, f.TransactionStatus, f.TransactionReason, f.ReferenceType, f.ReferenceId,
            f.Priority, f.CreditsAvailableGt, v.Time("start_time", f.StartTime), v.Time("end_time", f.EndTime),
            v.Time("expiry_date_after", f.ExpiryDateAfter), v.Time("expiry_date_before", f.ExpiryDateBefore),
            v.Ascending(f.Order) || f.Sort?.FirstOrDefault()?.Direction == "asc") { Kind = f.Kind };
        if (!v.Ok) return null;
        var (items, total) = await store.TransactionsAsync(tenantId, query, limit, offset, wallets);
        return new ListResponse<TransactionDto>(items, new Pagination(total, limit, offset));
    }
}
