using System.Globalization;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Settings;
using Coffer.Ledger;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Wallets;

public static class WalletApi
{
    public const string IdempotencyHeader = "Idempotency-Key";
    static readonly HashSet<string> Statuses = [WalletStatuses.Active, WalletStatuses.Frozen, WalletStatuses.Closed];
    static readonly HashSet<string> SortColumns = ["created_at", "updated_at", "name"];

    public static void MapWallets(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/wallets").WithTags("Wallets");
        g.MapPost("/", Create).WithName("createWallet");
        g.MapGet("/", List).WithName("listWallets");
        g.MapPost("/search", Search).WithName("queryWallet");
        g.MapPost("/transactions/search", SearchTransactions).WithName("queryWalletTransaction");
        g.MapBatches();
        g.MapGet("/{id}", Get).WithName("getWallet");
        g.MapPut("/{id}", Update).WithName("updateWallet");
        g.MapGet("/{id}/balance/real-time", Balance).WithName("getWalletBalance");
        g.MapPost("/{id}/top-up", TopUp).WithName("topUpWallet");
        g.MapPost("/{id}/debit", Debit).WithName("debitWallet");
        g.MapTransfers();
        g.MapStatements();
        Spend.UsageApi.MapUsage(g);
        g.MapPost("/{id}/adjustments", Adjust).WithName("adjustWallet")
            .WithSummary("Coffer: a manual adjustment (MANUAL_ADJUSTMENT, kind adjustment) credit or debit, with a required reason; the entry records the API key that made it");
        g.MapPost("/{id}/terminate", Terminate).WithName("terminateWallet");
        g.MapPost("/{id}/freeze", Freeze).WithName("freezeWallet");
        g.MapPost("/{id}/unfreeze", Unfreeze).WithName("unfreezeWallet");
        g.MapGet("/{id}/transactions", Transactions).WithName("getWalletTransactions");

        var customers = v1.MapGroup("/customers").WithTags("Wallets");
        customers.MapGet("/wallets", CustomerWalletsByLookup).WithName("getCustomerWallets");
        customers.MapGet("/{id}/wallets", CustomerWallets).WithName("getWalletsByCustomerId");
    }

    static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Create(Tenant tenant, CreateWalletRequest body, WalletMoves moves,
        CreditCurrencies.CreditCurrencyStore creditCurrencies, TimeProvider clock, HttpRequest http)
    {
        var v = new Validator();
        CreditCurrencies.CreditCurrencyRow? held = null;
        if (body.CreditCurrencyId is { } ccId)
        {
            held = await creditCurrencies.GetAsync(tenant.Id, ccId);
            if (held is null) return ApiError.NotFound("credit currency");
            if (!held.Active) return CreditCurrencies.CreditCurrencyApi.ArchivedError(held);
            if (body.Currency is { } given && !string.Equals(given, held.Currency, StringComparison.OrdinalIgnoreCase))
                v.Fail($"currency must be the credit currency's ({held.Currency}) or left out");
            if (body.ConversionRate is not null || body.TopupConversionRate is not null)
                v.Fail("a wallet of a credit currency takes its rates from the credit currency's price_per_credit");
            body = body with { Currency = held.Currency };
        }
        var order = WalletOrders.Create(v, body, HeaderKey(http), clock.GetUtcNow());
        if (order is null) return v.Error();
        if (held is not null) order = CreditCurrencies.CreditCurrencyStore.ForCreditCurrency(order, held);
        return Respond(await moves.CreateAsync(tenant.Id, order));
    }

    static async Task<Results<Ok<WalletDto>, ApiError>> Get(Tenant tenant, string id, WalletStore store, string? expand)
    {
        var wallet = await store.GetAsync(tenant.Id, id);
        if (wallet is null) return ApiError.NotFound("wallet");
        CreditBreakdown? breakdown = null;
        if (expand?.Contains("credits_available_breakdown", StringComparison.Ordinal) == true)
        {
            var lots = await store.LotsAsync(tenant.Id, id);
            breakdown = new CreditBreakdown(lots.SpendableFree, lots.SpendablePurchased);
        }
        return TypedResults.Ok(WalletDtos.Wallet(wallet, breakdown));
    }

    /// <param name="at">A past instant (RFC 3339): the balance as it stood then, computed from the ledger.</param>
    static async Task<Results<Ok<WalletBalanceDto>, ApiError>> Balance(Tenant tenant, string id, WalletReads reads, TimeProvider clock, string? at = null)
    {
        var v = new Validator();
        var instant = v.Time("at", at);
        if (instant > clock.GetUtcNow()) v.Fail("at must not be in the future");
        if (!v.Ok) return v.Error();
        return await reads.BalanceAsync(tenant.Id, id, instant) is { } balance ? TypedResults.Ok(balance) : ApiError.NotFound("wallet");
    }

    static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Update(Tenant tenant, string id, UpdateWalletRequest body, WalletMoves moves,
        HttpRequest http)
    {
        var v = new Validator();
        var changes = WalletOrders.Update(v, id, body, HeaderKey(http));
        return changes is null ? v.Error() : Respond(await moves.UpdateAsync(tenant.Id, id, changes));
    }

    static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Freeze(Tenant tenant, string id, WalletMoves moves) =>
        Respond(await moves.FreezeAsync(tenant.Id, id));

    static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Unfreeze(Tenant tenant, string id, WalletMoves moves) =>
        Respond(await moves.UnfreezeAsync(tenant.Id, id));

    static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> TopUp(
        Tenant tenant, string id, TopUpRequest body, WalletMoves moves, TimeProvider clock, HttpRequest http)
    {
        var v = new Validator();
        var order = WalletOrders.TopUp(v, id, body, HeaderKey(http), clock.GetUtcNow());
        return order is null ? v.Error() : Respond(await moves.TopUpAsync(tenant.Id, id, order));
    }

    static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> Debit(Tenant tenant, string id, DebitRequest body, WalletMoves moves,
        HttpRequest http)
    {
        var v = new Validator();
        var order = WalletOrders.Debit(v, id, body, HeaderKey(http));
        return order is null ? v.Error() : Respond(await moves.DebitAsync(tenant.Id, id, order));
    }

    static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> Adjust(Tenant tenant, ApiKeyCaller key, string id, AdjustmentRequest body,
        WalletAdjustments adjustments, TimeProvider clock, HttpRequest http)
    {
        var v = new Validator();
        var order = WalletAdjustments.Order(v, id, body, HeaderKey(http), Actor.Of(key), clock.GetUtcNow());
        return order is null ? v.Error() : Respond(await adjustments.AdjustAsync(tenant.Id, id, order));
    }

    static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Terminate(Tenant tenant, string id, WalletMoves moves, HttpRequest http)
    {
        var v = new Validator();
        var key = WalletOrders.Key(v, null, HeaderKey(http), required: false);
        return !v.Ok ? v.Error() : Respond(await moves.TerminateAsync(tenant.Id, id, key));
    }

    /// <summary>An operation's outcome as the API answers it: the response, the replayed answer, or the error.</summary>
    public static Results<Ok<T>, JsonReplay, ApiError> Respond<T>(Moved<T> moved) => moved switch
    {
        Moved<T>.Done d => TypedResults.Ok(d.Response),
        Moved<T>.Replayed r => new JsonReplay(r.Answer),
        Moved<T>.Refused f => Refusal(f.Why),
        _ => throw new InvalidOperationException($"unexpected outcome {moved}"),
    };

    /// <summary>The one mapping of a wallet refusal to the error envelope; the dashboard and the portal show its message.</summary>
    public static ApiError Refusal(WalletRefusal why) => why switch
    {
        WalletRefusal.NotFound n => ApiError.NotFound(n.What),
        WalletRefusal.KeyReused k => Idempotency.Refusal(new IdempotencyCheck.Reused(k.Key))!,
        WalletRefusal.KeyInUse k => Idempotency.Refusal(new IdempotencyCheck.InProgress(k.Key))!,
        WalletRefusal.Invalid i => ApiError.Validation(i.Message),
        WalletRefusal.OutcomeUnknown u => ApiError.OutcomeUnknown(u.IdempotencyKey),
        WalletRefusal.BatchNotApplied b => ApiError.Unprocessable(ErrorCodes.BatchNotApplied,
            $"not applied: the batch is atomic and operation {b.Refused} was refused"),
        WalletRefusal.AlreadyExists e => ApiError.Conflict(ErrorCodes.AlreadyExists,
            $"customer {e.CustomerId} already has an open {e.WalletType} wallet in {e.Currency}"),
        WalletRefusal.Rejected { Outcome: CommandOutcome.InsufficientBalance i } => ApiError.Unprocessable(ErrorCodes.InsufficientBalance,
            $"insufficient balance: {i.Requested} credits requested, {i.Available} available",
            new { requested = i.Requested.ToString(CultureInfo.InvariantCulture), available = i.Available.ToString(CultureInfo.InvariantCulture) }),
        WalletRefusal.Rejected { Outcome: CommandOutcome.WalletNotActive n } =>
            ApiError.Unprocessable(ErrorCodes.WalletNotActive, $"the wallet is {n.Status}; it accepts no top-ups, debits or changes"),
        WalletRefusal.Rejected { Outcome: CommandOutcome.CaptureExceedsHold e } => ApiError.Validation($"the capture is larger than the hold's {e.Held} credits"),
        WalletRefusal.Rejected { Outcome: CommandOutcome.SpendLimitExceeded x } => ApiError.Unprocessable(ErrorCodes.SpendLimitExceeded,
            $"{x.Dimension} '{x.Value}' may spend at most {x.Limit} credits a {x.Period}: {x.Spent} spent this {x.Period}, {x.Requested} requested",
            new
            {
                dimension = x.Dimension, value = x.Value, period = x.Period, limit = x.Limit.ToString(CultureInfo.InvariantCulture),
                spent = x.Spent.ToString(CultureInfo.InvariantCulture), requested = x.Requested.ToString(CultureInfo.InvariantCulture),
            }),
        WalletRefusal.Rejected { Outcome: CommandOutcome.BalanceLimitExceeded l } => ApiError.Unprocessable(ErrorCodes.BalanceLimitExceeded,
            $"the top-up would take the wallet's balance above {l.Limit} credits"),
        _ => throw new InvalidOperationException($"unexpected wallet refusal {why}"),
    };

    /// <summary>A write's refusal (any result but an effect, a no-change or a replay) as the error envelope.</summary>
    public static ApiError Refusal(WriteResult result) =>
        result is WriteResult.Refused f ? Refusal(f.Why) : throw new InvalidOperationException($"not a refusal: {result}");

    public static ApiError NotActive(string status) => Refusal(WalletRefusal.NotActive(status));

    /// <summary>The request's <c>Idempotency-Key</c> header, if it has one.</summary>
    public static string? HeaderKey(HttpRequest http) => http.Headers[IdempotencyHeader].ToString() is { Length: > 0 } key ? key : null;

    /// <summary>The key of a request: the body's, else the header's, checked.</summary>
    public static string? IdempotencyKey(Validator v, string? bodyKey, HttpRequest http, bool required) =>
        WalletOrders.Key(v, bodyKey, HeaderKey(http), required);

    static async Task<Results<Ok<ListResponse<WalletDto>>, ApiError>> List(
        Tenant tenant, WalletStore store, int? limit, int? offset, [FromQuery(Name = "customer_id")] string? customerId,
        [FromQuery(Name = "wallet_status")] string? status, string? order) =>
        await Search(tenant, new WalletFilter { Limit = limit, Offset = offset, CustomerId = customerId, Status = status, Order = order }, store);

    static async Task<Results<Ok<ListResponse<WalletDto>>, ApiError>> Search(Tenant tenant, WalletFilter filter, WalletStore store)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(filter.Limit, filter.Offset);
        var status = v.OneOf("status", filter.Status, Statuses);
        var sort = v.OneOf("sort", filter.Sort, SortColumns) ?? "created_at";
        var ascending = v.Ascending(filter.Order);
        if (filter.WalletIds?.Count > Limits.MaxIdsPerFilter) v.Fail($"at most {Limits.MaxIdsPerFilter} wallet_ids");
        if (!v.Ok) return v.Error();
        var (items, total) = await store.ListAsync(tenant.Id, new WalletQuery(filter.CustomerId, status, filter.WalletIds, ascending, sort), limit, offset);
        return TypedResults.Ok(new ListResponse<WalletDto>(items.Select(w => WalletDtos.Wallet(w)).ToList(), new Pagination(total, limit, offset)));
    }

    static async Task<Results<Ok<List<WalletDto>>, ApiError>> CustomerWallets(Tenant tenant, string id, WalletStore store, CustomerStore customers)
    {
        if (await customers.GetAsync(tenant.Id, id) is null) return ApiError.NotFound("customer");
        return TypedResults.Ok((await store.ByCustomerAsync(tenant.Id, id)).Select(w => WalletDtos.Wallet(w)).ToList());
    }

    static async Task<Results<Ok<List<WalletDto>>, ApiError>> CustomerWalletsByLookup(
        Tenant tenant, WalletStore store, CustomerStore customers, string? id, [FromQuery(Name = "lookup_key")] string? lookupKey)
    {
        if (id is null && lookupKey is null) return ApiError.Validation("id or lookup_key query parameter is required");
        var customer = id is not null ? await customers.GetAsync(tenant.Id, id) : await customers.GetByExternalIdAsync(tenant.Id, lookupKey!);
        if (customer is null) return ApiError.NotFound("customer");
        return TypedResults.Ok((await store.ByCustomerAsync(tenant.Id, customer.Id)).Select(w => WalletDtos.Wallet(w)).ToList());
    }

    static async Task<Results<Ok<ListResponse<TransactionDto>>, ApiError>> Transactions(
        Tenant tenant, string id, WalletReads reads, [AsParameters] TransactionQueryParameters p)
    {
        var v = new Validator();
        var list = await reads.TransactionsAsync(v, tenant.Id, p.ToFilter() with { WalletId = id }, ofWallet: true);
        return !v.Ok ? v.Error() : list is null ? ApiError.NotFound("wallet") : TypedResults.Ok(list);
    }

    static async Task<Results<Ok<ListResponse<TransactionDto>>, ApiError>> SearchTransactions(Tenant tenant, TransactionFilter filter, WalletReads reads)
    {
        var v = new Validator();
        var list = await reads.TransactionsAsync(v, tenant.Id, filter, ofWallet: false);
        return v.Ok ? TypedResults.Ok(list!) : v.Error();
    }
}

/// <summary>The query string of <c>GET /v1/wallets/{id}/transactions</c>, named as Flexprice names it.</summary>
// The parameters carry no nullable annotations only because the request delegate generator writes typeof(string?)
// for them, which does not compile; their defaults say what the annotations would: each may be absent (null).
#nullable disable
public sealed record TransactionQueryParameters(
    int? Limit = null, int? Offset = null, string Order = null, string Type = null,
    [property: FromQuery(Name = "transaction_status")] string TransactionStatus = null,
    [property: FromQuery(Name = "transaction_reason")] string TransactionReason = null,
    [property: FromQuery(Name = "reference_type")] string ReferenceType = null,
    [property: FromQuery(Name = "reference_id")] string ReferenceId = null,
    int? Priority = null,
    [property: FromQuery(Name = "credits_available_gt")] decimal? CreditsAvailableGt = null,
    [property: FromQuery(Name = "start_time")] string StartTime = null,
    [property: FromQuery(Name = "end_time")] string EndTime = null,
    [property: FromQuery(Name = "expiry_date_before")] string ExpiryDateBefore = null,
    [property: FromQuery(Name = "expiry_date_after")] string ExpiryDateAfter = null,
    // Named explicitly: unnamed, it would bind the route's wallet {id} instead of the query's transaction id.
    [property: FromQuery(Name = "id")] string Id = null,
    string Kind = null)
#nullable restore
{
    public TransactionFilter ToFilter() => new()
    {
        Limit = Limit, Offset = Offset, Order = Order, Type = Type, TransactionStatus = TransactionStatus,
        TransactionReason = TransactionReason, ReferenceType = ReferenceType, ReferenceId = ReferenceId, Priority = Priority,
        CreditsAvailableGt = CreditsAvailableGt, StartTime = StartTime, EndTime = EndTime, ExpiryDateBefore = ExpiryDateBefore,
        ExpiryDateAfter = ExpiryDateAfter, Id = Id, Kind = Kind,
    };
}
