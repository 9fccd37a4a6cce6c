using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Ledger;
using Coffer.Settings;

namespace Coffer.Wallets;

/// <summary>What a wallet operation answers: its response, the stored answer of an earlier request with the same key, or a refusal.</summary>
public abstract record Moved<T>
{
    private Moved() { }
    public sealed record Done(T Response) : Moved<T>;
    public sealed record Replayed(StoredAnswer Answer) : Moved<T>;
    public sealed record Refused(WalletRefusal Why) : Moved<T>;

    /// <param name="noChange">What a change that changed nothing means for this operation: its own answer (null), or a refusal.</param>
    internal static Moved<T> Of(WriteResult result, WalletRefusal? noChange = null) => result switch
    {
        WriteResult.Applied a => new Done((T)a.Response),
        WriteResult.NoChange n => noChange is null ? new Done((T)n.Response) : new Refused(noChange),
        WriteResult.Replayed r => new Replayed(r.Answer),
        WriteResult.Refused f => new Refused(f.Why),
        _ => throw new InvalidOperationException($"unexpected write result {result}"),
    };

    internal static Moved<T> Of(UpdateResult result, Func<WalletRow, T> render) => result switch
    {
        UpdateResult.Updated u => new Done(render(u.Wallet)),
        UpdateResult.Replayed r => new Replayed(r.Answer),
        UpdateResult.Refused f => new Refused(f.Why),
        _ => throw new InvalidOperationException($"unexpected update result {result}"),
    };
}

/// <summary>
/// The operations on one wallet's money and settings: top up, debit, hold, capture, release, freeze, unfreeze,
/// update, terminate. The API's handlers, the dashboard, the portal and the workers all call these, each with an
/// order already checked (<see cref="WalletOrders"/>); none of them builds a <see cref="WalletOperation"/> itself.
/// </summary>
public sealed class WalletMoves(WalletWriter writer, Ids ids, TimeProvider clock, CreditPurchases purchases, InvoiceService invoices, CustomerStore customers,
    TenantSettings settings)
{
    /// <summary>A wallet for a customer, with its initial credits granted free in the same transaction.</summary>
    public async Task<Moved<WalletDto>> CreateAsync(string tenantId, NewWalletOrder order)
    {
        var customer = order.CustomerId is not null
            ? await customers.GetAsync(tenantId, order.CustomerId)
            : await customers.GetByExternalIdAsync(tenantId, order.ExternalCustomerId!);
        if (customer is null) return new Moved<WalletDto>.Refused(new WalletRefusal.NotFound("customer"));
        var now = clock.GetUtcNow();
        var wallet = new WalletRow(tenantId, ids.New("wallet"), customer.Id, order.Name ?? $"{order.Currency.ToUpperInvariant()} wallet",
            order.Description, order.Currency, order.WalletType, WalletStatuses.Active, order.Rate, order.TopupRate, 0m, 0m, order.OverdraftLimit,
            Json.Serialize(order.Metadata ?? []),
            order.AlertSettings is null ? null : Json.Serialize(order.AlertSettings),
            order.AutoTopup is null ? null : Json.Serialize(order.AutoTopup),
            order.Config is null ? null : Json.Serialize(order.Config), 0, now, now, CreditCurrencyId: order.CreditCurrencyId,
            SpendCaps: Spend.SpendAttribution.SerializeCaps(order.SpendCaps));
        var grant = order.InitialCredits > 0
            ? new WalletCommand.Credit(ids.New("wtx"), order.InitialCredits, 0m, Reasons.FreeCreditGrant, order.InitialExpiry,
                await settings.GrantPriorityAsync(tenantId, GrantSources.Promotional, null))
            : null;
        return await writer.CreateAsync(wallet, grant, new EntryDetails("Initial credits"), order.Claim) switch
        {
            CreateResult.Created c => new Moved<WalletDto>.Done(WalletDtos.Wallet(c.Wallet)),
            CreateResult.Replayed r => new Moved<WalletDto>.Replayed(r.Answer),
            CreateResult.Refused f => new Moved<WalletDto>.Refused(f.Why),
            _ => throw new InvalidOperationException("unexpected create result"),
        };
    }

    public async Task<Moved<WalletChangeResponse>> TopUpAsync(string tenantId, string walletId, TopUpOrder order)
    {
        if (order.Reason == Reasons.PurchasedCreditInvoiced)
            return AsTopUp(await purchases.BuyAsync(new PurchaseRequest(tenantId, walletId,
                new Invoices.Purchased.Credits(order.Credits, order.Amount, order.Expiry, order.Priority), order.Details, order.Claim)));
        return Moved<WalletChangeResponse>.Of(await writer.ExecuteAsync(tenantId, walletId, await TopUpOperationAsync(tenantId, order)));
    }

    /// <summary>A top-up that needs no invoice, as the single request and the batch both apply it.</summary>
    async Task<WalletOperation> TopUpOperationAsync(string tenantId, TopUpOrder order)
    {
        var entryId = ids.New("wtx");
        var priority = await settings.GrantPriorityAsync(tenantId, GrantSources.OfTopUp(order.Reason), order.Priority);
        return new WalletOperation(
            // Converting an amount needs the wallet's top-up rate, read under the lock like every other input.
            w => WalletOrders.ToCredits(order.Credits, order.Amount, w.TopupConversionRate) is { } c
                ? new WalletCommand.Credit(entryId, c, DirectPrice(order, c, w.TopupConversionRate), order.Reason, order.Expiry, priority)
                : new CommandOrRefusal(null, WalletOrders.ConversionRefusal),
            order.Details, order.Claim, ChangeResponse) { Name = "top_up" };
    }

    /// <summary>An invoiced purchase answers as a top-up does: its stored answer is the top-up's response.</summary>
    static Moved<WalletChangeResponse> AsTopUp(BuyOutcome outcome) => outcome switch
    {
        BuyOutcome.Granted g => new Moved<WalletChangeResponse>.Done((WalletChangeResponse)g.Purchase.Answer),
        BuyOutcome.PendingInvoice p => new Moved<WalletChangeResponse>.Done((WalletChangeResponse)p.Purchase.Answer),
        BuyOutcome.KeyReplayed r => new Moved<WalletChangeResponse>.Replayed(r.Answer),
        BuyOutcome.KeyReused k => new Moved<WalletChangeResponse>.Refused(WalletRefusal.Of(k.Check)),
        BuyOutcome.WalletNotFound => new Moved<WalletChangeResponse>.Refused(new WalletRefusal.NotFound()),
        BuyOutcome.OutcomeUnknown u => new Moved<WalletChangeResponse>.Refused(new WalletRefusal.OutcomeUnknown(u.IdempotencyKey)),
        BuyOutcome.Refused r => new Moved<WalletChangeResponse>.Refused(r.Why),
        _ => throw new InvalidOperationException($"unexpected purchase outcome {outcome}"),
    };

    /// <summary>
    /// The money a top-up without an invoice took: nothing for free credits; for a direct purchase the amount the
    /// merchant says was received, or (when credits were given) credits × top-up rate.
    /// </summary>
    static decimal DirectPrice(TopUpOrder order, decimal converted, decimal topupRate) =>
        order.Reason == Reasons.FreeCreditGrant ? 0m : order.Credits is null ? order.Amount!.Value : Money.AmountForCredits(converted, topupRate);

    public async Task<Moved<WalletChangeResponse>> DebitAsync(string tenantId, string walletId, DebitOrder order) =>
        Moved<WalletChangeResponse>.Of(await writer.ExecuteAsync(tenantId, walletId, DebitOperation(order)));

    WalletOperation DebitOperation(DebitOrder order) => new(
        w => WalletOrders.ToCredits(order.Credits, order.Amount, w.ConversionRate) is { } c
            ? new WalletCommand.Debit(ids.New("wtx"), c, order.Reason, Dimensions: order.Details.Dimensions)
            : new CommandOrRefusal(null, WalletOrders.ConversionRefusal),
        order.Details, order.Claim, ChangeResponse) { Name = "debit" };

    /// <summary>
    /// A correction by hand (MANUAL_ADJUSTMENT): a credit is a new lot that cost nothing, so refunds and closing payouts
    /// value it at zero as they do free credits; a debit spends lots in the spend order within the overdraft policy,
    /// refused as any debit is when the balance is short or the wallet is not active.
    /// </summary>
    public async Task<Moved<WalletChangeResponse>> AdjustAsync(string tenantId, string walletId, AdjustmentOrder order)
    {
        var entryId = ids.New("wtx");
        WalletCommand command = order.Direction == AdjustmentDirections.Credit
            ? new WalletCommand.Credit(entryId, order.Credits, 0m, Reasons.ManualAdjustment, order.Expiry, order.Priority)
            : new WalletCommand.Debit(entryId, order.Credits, Reasons.ManualAdjustment);
        var op = new WalletOperation(_ => command, order.Details, order.Claim, ChangeResponse) { Name = "adjustment" };
        return Moved<WalletChangeResponse>.Of(await writer.ExecuteAsync(tenantId, walletId, op));
    }

    /// <summary>
    /// Moves credits to another wallet of the tenant (<see cref="Transfers"/>): the sending wallet's TRANSFER_OUT and the
    /// receiving wallet's TRANSFER_IN lots are decided in one atomic batch, so either both wallets change or neither does.
    /// The sending side is decided first and holds the key; the receiving side grants the lots the sending side spent.
    /// </summary>
    public async Task<Moved<TransferResponse>> TransferAsync(string tenantId, string walletId, TransferOrder order)
    {
        var spent = new List<(WalletCommand.Credit Lot, string FromLotId)>();
        var sending = new WalletOperation(
            _ =>
            {
                // Decided again when the writer retries the batch: the lots spent are those of this decision.
                spent.Clear();
                return new WalletCommand.Debit(ids.New("wtx"), order.Credits, Reasons.TransferOut, AllowOverdraft: false);
            },
            order.Details, order.Claim,
            x => new TransferResponse(order.TransferId, WalletDtos.Wallet(x.Wallet), WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet),
                order.ToWalletId, spent.Select(s => new TransferredLotDto(s.Lot.EntryId, s.FromLotId, s.Lot.Credits, s.Lot.Amount, s.Lot.ExpiresAt,
                    s.Lot.Priority)).ToList()))
        {
            Name = "transfer",
            // Reads the lots the debit spent (with AlsoWrite the writer keeps them as they were before it).
            AlsoWrite = (x, _) =>
            {
                foreach (var a in x.Allocations.Where(a => a.DebitId == x.Entries[0].Id))
                {
                    var lot = x.LotsBefore[a.LotId];
                    var price = lot.Amount == 0 ? 0m : Money.ShareOf(lot.Amount, a.Credits, lot.CreditAmount, Money.CreditScale);
                    spent.Add((new WalletCommand.Credit(ids.New("wtx"), a.Credits, price, Reasons.TransferIn, lot.ExpiresAt, lot.Priority), lot.Id));
                }
            },
        };
        var receiving = new WalletOperation(
            _ => spent.Count > 0
                ? new WalletCommand.CreditLots(spent[0].Lot.EntryId, spent.Select(s => s.Lot).ToList())
                : new CommandOrRefusal(null, "the sending wallet's debit was not applied"),
            order.Details, null, _ => new object()) { Name = "transfer" };
        var (results, committed) = await writer.ExecuteTogetherAsync(
            [new WalletWriter.Pending(tenantId, walletId, sending), new WalletWriter.Pending(tenantId, order.ToWalletId, receiving)], atomic: true);
        if (results[0] is not WriteResult.Applied || committed) return Moved<TransferResponse>.Of(results[0]);
        return Moved<TransferResponse>.Of(results[1] is WriteResult.Refused { Why: WalletRefusal.NotFound } ? new WriteResult.Refused(new WalletRefusal.NotFound("to_wallet")) : results[1]);
    }

    static object ChangeResponse(WriteContext x) =>
        new WalletChangeResponse(null, WalletDtos.Wallet(x.Wallet), x.Entries.Count == 0 ? null : WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet));

    /// <summary>
    /// Debits what is left, fails purchases still waiting for payment and releases holds; the wallet accepts nothing
    /// afterwards. Terminating a closed wallet is not a refusal: the caller's intent already holds.
    /// </summary>
    public async Task<Moved<WalletDto>> TerminateAsync(string tenantId, string walletId, string? key)
    {
        var op = new WalletOperation(_ => new WalletCommand.Terminate(ids.New("wtx")), new EntryDetails("Wallet terminated"),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("terminate", new { wallet = walletId })),
            x => WalletDtos.Wallet(x.Wallet)) { Name = "terminate" };
        var result = await writer.ExecuteAsync(tenantId, walletId, op);
        if (result is WriteResult.Applied) await invoices.CancelPurchasesOfWalletAsync(tenantId, walletId);
        return Moved<WalletDto>.Of(result);
    }

    public async Task<Moved<WalletDto>> FreezeAsync(string tenantId, string walletId) =>
        Moved<WalletDto>.Of(await writer.UpdateAsync(tenantId, walletId, w => w.Status == WalletStatuses.Closed
            ? new UpdateDecision(null, WalletRefusal.NotActive(w.Status))
            : new UpdateDecision(w with { Status = WalletStatuses.Frozen })), w => WalletDtos.Wallet(w));

    public async Task<Moved<WalletDto>> UnfreezeAsync(string tenantId, string walletId) =>
        Moved<WalletDto>.Of(await writer.UpdateAsync(tenantId, walletId, w => w.Status == WalletStatuses.Closed
            ? new UpdateDecision(null, WalletRefusal.NotActive(w.Status))
            : new UpdateDecision(w with { Status = WalletStatuses.Active })), w => WalletDtos.Wallet(w));

    /// <summary>Changes the wallet's settings; a request without a key changes them again if sent again.</summary>
    public async Task<Moved<WalletDto>> UpdateAsync(string tenantId, string walletId, WalletChanges changes)
    {
        var result = await writer.UpdateAsync(tenantId, walletId, w =>
        {
            if (w.Status == WalletStatuses.Closed) return new UpdateDecision(null, WalletRefusal.NotActive(w.Status));
            if (changes.OverdraftLimit is { } limit && w.CreditBalance < -limit)
                return new UpdateDecision(null, new WalletRefusal.Invalid($"overdraft_limit {limit} is below the wallet's current overdraft {-w.CreditBalance}"));
            return new UpdateDecision(w with
            {
                Name = changes.Name ?? w.Name,
                Description = changes.Description ?? w.Description,
                Metadata = changes.Metadata is null ? w.Metadata : Json.Serialize(changes.Metadata),
                AutoTopup = changes.AutoTopup is null ? w.AutoTopup : Json.Serialize(changes.AutoTopup),
                AlertSettings = changes.AlertSettings is null ? w.AlertSettings : Json.Serialize(changes.AlertSettings),
                Config = changes.Config is null ? w.Config : Json.Serialize(changes.Config),
                SpendCaps = changes.SpendCaps is null ? w.SpendCaps : Spend.SpendAttribution.SerializeCaps(changes.SpendCaps),
                OverdraftLimit = changes.OverdraftLimit ?? w.OverdraftLimit,
            });
        }, changes.Claim);
        return Moved<WalletDto>.Of(result, w => WalletDtos.Wallet(w));
    }

    // A no-change (the hold is not active) renders nothing: it answers as a refusal and claims no idempotency key.
    static object HoldResponse(WriteContext x) => x.Holds.Count == 0
        ? new { }
        : new HoldResponse(WalletDtos.Hold(x.Holds.Single(), x.Wallet), WalletDtos.Wallet(x.Wallet),
            x.Entries.Count == 0 ? null : WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet));

    /// <summary>Reserves credits now, to capture all or part of later or to release.</summary>
    public async Task<Moved<HoldResponse>> HoldAsync(string tenantId, string walletId, HoldOrder order)
    {
        var holdId = ids.New("hold");
        var op = new WalletOperation(
            w => WalletOrders.ToCredits(order.Credits, order.Amount, w.ConversionRate) is { } c
                ? new WalletCommand.PlaceHold(holdId, c, order.ExpiresAt)
                : new CommandOrRefusal(null, WalletOrders.ConversionRefusal),
            order.Details, order.Claim, HoldResponse) { Name = "hold" };
        return Moved<HoldResponse>.Of(await writer.ExecuteAsync(tenantId, walletId, op), new WalletRefusal.NotFound("hold"));
    }

    /// <summary>Capturing or releasing a hold that is not active (never was, already ended, or expired) is refused as not found.</summary>
    public async Task<Moved<HoldResponse>> CaptureAsync(string tenantId, string walletId, CaptureOrder order) =>
        Moved<HoldResponse>.Of(await writer.ExecuteAsync(tenantId, walletId, CaptureOperation(order)), HoldNotActive);

    static readonly WalletRefusal HoldNotActive = new WalletRefusal.NotFound("active hold");

    WalletOperation CaptureOperation(CaptureOrder order) => new(
        w => order.Credits is null && order.Amount is null
            ? new WalletCommand.CaptureHold(ids.New("wtx"), order.HoldId, null, order.Reason)
            : WalletOrders.ToCredits(order.Credits, order.Amount, w.ConversionRate) is { } c
                ? new WalletCommand.CaptureHold(ids.New("wtx"), order.HoldId, c, order.Reason)
                : new CommandOrRefusal(null, WalletOrders.ConversionRefusal),
        new EntryDetails(order.Description, ReferenceType: "HOLD", ReferenceId: order.HoldId), order.Claim, HoldResponse) { Name = "capture" };

    /// <summary>With a key, a retried release replays its answer instead of finding the hold ended.</summary>
    public async Task<Moved<HoldResponse>> ReleaseAsync(string tenantId, string walletId, string holdId, string? key)
    {
        var op = new WalletOperation(_ => new WalletCommand.ReleaseHold(holdId), new EntryDetails(),
            IdempotencyClaim.For(key, "release", new { wallet = walletId, hold = holdId }), HoldResponse) { Name = "release" };
        return Moved<HoldResponse>.Of(await writer.ExecuteAsync(tenantId, walletId, op), HoldNotActive);
    }

    /// <summary>
    /// Debits, top-ups and captures of one request, applied in one transaction with the single endpoints' operations.
    /// Atomic: an operation refused before it runs, or by the ledger, leaves every other one unapplied.
    /// </summary>
    public async Task<IReadOnlyList<BatchOutcome>> BatchAsync(string tenantId, IReadOnlyList<BatchOrder> orders, bool atomic)
    {
        if (atomic && orders.FirstOrDefault(o => o.Invalid is not null) is { } invalid)
            return orders.Select(o => new BatchOutcome(o, o.Invalid is null ? new WriteResult.Refused(new WalletRefusal.BatchNotApplied(invalid.Index)) : null)).ToList();
        var runnable = orders.Where(o => o.Invalid is null).ToList();
        var pending = new List<WalletWriter.Pending>(runnable.Count);
        foreach (var o in runnable)
            pending.Add(new WalletWriter.Pending(tenantId, o.WalletId!, o.Order switch
            {
                DebitOrder d => DebitOperation(d),
                TopUpOrder t => await TopUpOperationAsync(tenantId, t),
                CaptureOrder c => CaptureOperation(c),
                _ => throw new InvalidOperationException($"unexpected batch order {o.Order}"),
            }));
        var (results, committed) = await writer.ExecuteTogetherAsync(pending, atomic);
        // Only a capture of a hold that is no longer active changes nothing; in a batch it is refused as on its own endpoint.
        var answered = results.Select(r => r is WriteResult.NoChange ? new WriteResult.Refused(HoldNotActive) : r).ToList();
        if (!committed)
        {
            var refused = runnable[answered.FindIndex(r => r is WriteResult.Refused)].Index;
            answered = answered.Select(r => r is WriteResult.Applied ? new WriteResult.Refused(new WalletRefusal.BatchNotApplied(refused)) : r).ToList();
        }
        var byIndex = runnable.Select((o, i) => (o.Index, Result: answered[i])).ToDictionary(x => x.Index, x => x.Result);
        return orders.Select(o => new BatchOutcome(o, byIndex.GetValueOrDefault(o.Index))).ToList();
    }
}
