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
    static readonly HashSet<string> WalletTypes = ["PRE_PAID", "POST_PAID"];
    static readonly HashSet<string> Statuses = [WalletStatuses.Active, WalletStatuses.Frozen, WalletStatuses.Closed];
    static readonly HashSet<string> SortColumns = ["created_at", "updated_at", "name"];

    public static void MapWallets(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/wallets").WithTags("Wallets");
        g.MapPost("/", Create).WithName("createWallet");
        g.MapGet("/", List).WithName("listWallets");
        g.MapPost("/search", Search).WithName("queryWallet");
        g.MapPost("/transactions/search", SearchTransactions).WithName("queryWalletTransaction");
        g.MapGet("/{id}", Get).WithName("getWallet");
        g.MapPut("/{id}", Update).WithName("updateWallet");
        g.MapGet("/{id}/balance/real-time", Balance).WithName("getWalletBalance");
        g.MapPost("/{id}/top-up", TopUp).WithName("topUpWallet");
        g.MapPost("/{id}/debit", Debit).WithName("debitWallet");
        g.MapPost("/{id}/terminate", Terminate).WithName("terminateWallet");
        g.MapPost("/{id}/freeze", Freeze).WithName("freezeWallet");
        g.MapPost("/{id}/unfreeze", Unfreeze).WithName("unfreezeWallet");
        g.MapGet("/{id}/transactions", Transactions).WithName("getWalletTransactions");

        var customers = v1.MapGroup("/customers").WithTags("Wallets");
        customers.MapGet("/wallets", CustomerWalletsByLookup).WithName("getCustomerWallets");
        customers.MapGet("/{id}/wallets", CustomerWallets).WithName("getWalletsByCustomerId");
    }

    internal static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Create(
        Tenant tenant, CreateWalletRequest body, CustomerStore customers, WalletWriter writer, Ids ids, TimeProvider clock,
        [FromHeader(Name = IdempotencyHeader)] string? idempotencyKey = null)
    {
        var v = new Validator();
        var key = v.Text("idempotency_key", string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey, max: Idempotency.MaxKeyLength);
        var currency = v.Currency("currency", body.Currency);
        var rate = v.Rate("conversion_rate", body.ConversionRate) ?? 1m;
        var topupRate = v.Rate("topup_conversion_rate", body.TopupConversionRate) ?? rate;
        var initial = v.Amount("initial_credits_to_load", body.InitialCreditsToLoad, allowZero: true) ?? 0m;
        var overdraft = v.Amount("overdraft_limit", body.OverdraftLimit, allowZero: true) ?? 0m;
        var name = v.Text("name", body.Name);
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var walletType = v.OneOf("wallet_type", body.WalletType?.ToUpperInvariant(), WalletTypes) ?? "PRE_PAID";
        v.Metadata("metadata", body.Metadata);
        CheckSettings(v, body.AutoTopup, body.AlertSettings);
        var now = clock.GetUtcNow();
        var expiry = InitialExpiry(v, body, now);
        if (body.CustomerId is null && body.ExternalCustomerId is null) v.Fail("customer_id or external_customer_id is required");
        if (!v.Ok) return v.Error();

        var customer = body.CustomerId is not null
            ? await customers.GetAsync(tenant.Id, body.CustomerId)
            : await customers.GetByExternalIdAsync(tenant.Id, body.ExternalCustomerId!);
        if (customer is null) return ApiError.NotFound("customer");

        var wallet = new WalletRow(tenant.Id, ids.New("wallet"), customer.Id, name ?? $"{currency!.ToUpperInvariant()} wallet", description,
            currency!, walletType, WalletStatuses.Active, rate, topupRate, 0m, 0m, overdraft, Json.Serialize(body.Metadata ?? []),
            body.AlertSettings is null ? null : Json.Serialize(body.AlertSettings),
            body.AutoTopup is null ? null : Json.Serialize(body.AutoTopup),
            body.Config is null ? null : Json.Serialize(body.Config), 0, now, now);
        var grant = initial > 0 ? new WalletCommand.Credit(ids.New("wtx"), initial, 0m, Reasons.FreeCreditGrant, expiry, null) : null;
        return await writer.CreateAsync(wallet, grant, new EntryDetails("Initial credits"), IdempotencyClaim.For(key, "create-wallet", body)) switch
        {
            CreateResult.Created c => TypedResults.Ok(WalletDtos.Wallet(c.Wallet)),
            CreateResult.KeyUsed k => KeyUsed(k.Check),
            _ => ApiError.Conflict(ErrorCodes.AlreadyExists, $"customer {customer.Id} already has an open {walletType} wallet in {currency}"),
        };
    }

    static DateTimeOffset? InitialExpiry(Validator v, CreateWalletRequest body, DateTimeOffset now)
    {
        var expiry = v.Time("initial_credits_expiry_date_utc", body.InitialCreditsExpiryDateUtc);
        if (expiry is null && body.InitialCreditsToLoadExpiryDate is { } yyyymmdd)
        {
            if (DateTime.TryParseExact(yyyymmdd.ToString(CultureInfo.InvariantCulture), "yyyyMMdd", CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var day))
                // A date means "through the end of that day" in UTC.
                expiry = new DateTimeOffset(day.Date.AddDays(1), TimeSpan.Zero);
            else v.Fail("initial_credits_to_load_expiry_date must be a date written YYYYMMDD");
        }
        if (expiry is not null && expiry <= now) v.Fail("the initial credits' expiry must be in the future");
        return expiry;
    }

    /// <summary>The bounds on auto top-up and alert settings, for the update API and the customer portal alike.</summary>
    public static void CheckSettings(Validator v, AutoTopupSettings? auto, AlertSettings? alerts)
    {
        if (auto is not null)
        {
            if (auto.Threshold is < 0 || auto.Threshold > Money.MaxAmount) v.Fail("auto_topup.threshold must be between 0 and 10^15");
            if (auto.Enabled == true && auto.TargetBalance is null) v.Amount("auto_topup.amount", auto.Amount, required: true);
            else if (auto.Amount is not null) v.Amount("auto_topup.amount", auto.Amount);
            if (auto.TargetBalance is { } target && (v.Amount("auto_topup.target_balance", target) is null || target <= (auto.Threshold ?? 0m)))
                v.Fail("auto_topup.target_balance must be above the threshold");
            if (auto.MaxTopupsPerDay is < 1 or > 1000) v.Fail("auto_topup.max_topups_per_day must be between 1 and 1000");
            v.Amount("auto_topup.max_amount_per_day", auto.MaxAmountPerDay);
            v.Amount("auto_topup.max_amount_per_month", auto.MaxAmountPerMonth);
            if (auto.CooldownSeconds is < 0 or > 2_678_400) v.Fail("auto_topup.cooldown_seconds must be between 0 and 31 days");
            if (auto.MaxConsecutiveFailures is < 1 or > 100) v.Fail("auto_topup.max_consecutive_failures must be between 1 and 100");
            v.Text("auto_topup.payment_method_id", auto.PaymentMethodId);
        }
        foreach (var (name, t) in new[] { ("critical", alerts?.Critical), ("warning", alerts?.Warning), ("info", alerts?.Info) })
        {
            if (t is null) continue;
            if (t.Condition is not (null or "above" or "below")) v.Fail($"alert_settings.{name}.condition must be above or below");
            if (t.Threshold is { } x && (x < -Money.MaxAmount || x > Money.MaxAmount)) v.Fail($"alert_settings.{name}.threshold is out of range");
        }
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

    internal static async Task<Results<Ok<WalletBalanceDto>, ApiError>> Balance(Tenant tenant, string id, WalletStore store)
    {
        var w = await store.GetAsync(tenant.Id, id);
        if (w is null) return ApiError.NotFound("wallet");
        var lots = await store.LotsAsync(tenant.Id, id);
        var realTime = RealTimeCredits.Of(w, lots);
        var realTimeCredits = realTime.Balance;
        var pendingCharges = realTime.PendingCharges;
        var dto = WalletDtos.Wallet(w, new CreditBreakdown(lots.SpendableFree, lots.SpendablePurchased));
        return TypedResults.Ok(new WalletBalanceDto(dto)
        {
            RealTimeCreditBalance = realTimeCredits,
            RealTimeBalance = Money.AmountForCredits(realTimeCredits, w.ConversionRate),
            UnpaidInvoicesAmount = await store.UnpaidInvoicesAsync(tenant.Id, w.CustomerId, w.Currency),
            BalanceUpdatedAt = w.UpdatedAt,
            PendingCharges = Money.AmountForCredits(pendingCharges, w.ConversionRate),
            PendingChargeCredits = pendingCharges,
            AvailableCreditBalance = realTime.Available,
            AvailableBalance = Money.AmountForCredits(realTime.Available, w.ConversionRate),
            ExpiredUnsweptCredits = lots.ExpiredUnswept,
            OverdraftCredits = w.OverdraftCredits,
        });
    }

    internal static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Update(Tenant tenant, string id, UpdateWalletRequest body, WalletWriter writer,
        [FromHeader(Name = IdempotencyHeader)] string? idempotencyKey = null)
    {
        var v = new Validator();
        var key = v.Text("idempotency_key", string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey, max: Idempotency.MaxKeyLength);
        var name = v.Text("name", body.Name);
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var overdraft = v.Amount("overdraft_limit", body.OverdraftLimit, allowZero: true);
        v.Metadata("metadata", body.Metadata);
        CheckSettings(v, body.AutoTopup, body.AlertSettings);
        if (!v.Ok) return v.Error();
        var result = await writer.UpdateAsync(tenant.Id, id, w =>
        {
            if (w.Status == WalletStatuses.Closed) return new UpdateDecision(null, NotActive(w.Status));
            if (overdraft is { } limit && w.CreditBalance < -limit)
                return new UpdateDecision(null, ApiError.Validation($"overdraft_limit {limit} is below the wallet's current overdraft {-w.CreditBalance}"));
            return new UpdateDecision(w with
            {
                Name = name ?? w.Name,
                Description = description ?? w.Description,
                Metadata = body.Metadata is null ? w.Metadata : Json.Serialize(body.Metadata),
                AutoTopup = body.AutoTopup is null ? w.AutoTopup : Json.Serialize(body.AutoTopup),
                AlertSettings = body.AlertSettings is null ? w.AlertSettings : Json.Serialize(body.AlertSettings),
                Config = body.Config is null ? w.Config : Json.Serialize(body.Config),
                OverdraftLimit = overdraft ?? w.OverdraftLimit,
            });
        }, IdempotencyClaim.For(key, "update-wallet", new { wallet = id, body }));
        return Respond(result);
    }

    static Results<Ok<WalletDto>, JsonReplay, ApiError> Respond(UpdateResult result) => result switch
    {
        UpdateResult.Updated u => TypedResults.Ok(WalletDtos.Wallet(u.Wallet)),
        UpdateResult.Refused r => r.Error,
        UpdateResult.KeyUsed k => KeyUsed(k.Check),
        _ => ApiError.NotFound("wallet"),
    };

    /// <summary>A key used before, as a result any handler here can return: the stored answer, or the refusal.</summary>
    public static Results<Ok<WalletDto>, JsonReplay, ApiError> KeyUsed(IdempotencyCheck check) => check switch
    {
        IdempotencyCheck.Replay r => new JsonReplay(r.Answer),
        _ => Idempotency.Refusal(check)!,
    };

    public static ApiError NotActive(string status) =>
        ApiError.Unprocessable(ErrorCodes.WalletNotActive, $"the wallet is {status}; it accepts no top-ups, debits or changes");

    internal static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Freeze(Tenant tenant, string id, WalletWriter writer) =>
        Respond(await writer.UpdateAsync(tenant.Id, id, w => w.Status == WalletStatuses.Closed
            ? new UpdateDecision(null, NotActive(w.Status))
            : new UpdateDecision(w with { Status = WalletStatuses.Frozen })));

    internal static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Unfreeze(Tenant tenant, string id, WalletWriter writer) =>
        Respond(await writer.UpdateAsync(tenant.Id, id, w => w.Status == WalletStatuses.Closed
            ? new UpdateDecision(null, NotActive(w.Status))
            : new UpdateDecision(w with { Status = WalletStatuses.Active })));

    internal static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> TopUp(
        Tenant tenant, string id, TopUpRequest body, WalletWriter writer, Ids ids, TimeProvider clock, HttpRequest http,
        TenantSettings settings)
    {
        var v = new Validator();
        var reason = body.TransactionReason;
        if (reason is null) v.Fail("transaction_reason is required");
        else v.OneOf("transaction_reason", reason, Reasons.TopUp);
        var credits = v.Amount("credits_to_add", body.CreditsToAdd);
        var amount = v.Amount("amount", body.Amount);
        if (credits is null && amount is null) v.Fail("credits_to_add or amount is required");
        var expiry = v.Time("expiry_date_utc", body.ExpiryDateUtc);
        if (expiry is not null && expiry <= clock.GetUtcNow()) v.Fail("expiry_date_utc must be in the future");
        var priority = v.Priority("priority", body.Priority);
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        v.Metadata("metadata", body.Metadata);
        var key = IdempotencyKey(v, body.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();

        var entryId = ids.New("wtx");
        var request = new { wallet = id, credits, amount, reason, expiry, priority, description, metadata = body.Metadata };
        var details = new EntryDetails(description, Json.Serialize(body.Metadata ?? []));
        var claim = key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("top-up", request));
        if (reason == Reasons.PurchasedCreditInvoiced)
            return await PurchaseWithInvoice(tenant, id, credits, amount, expiry, priority, entryId, details, claim, writer, ids, settings);

        var op = new WalletOperation(
            // Converting an amount needs the wallet's top-up rate, read under the lock like every other input.
            w => ToCredits(credits, amount, w.TopupConversionRate) is { } c
                ? new WalletCommand.Credit(entryId, c, DirectPrice(reason!, credits, amount, c, w.TopupConversionRate), reason!, expiry, priority)
                : new CommandOrRefusal(null, ConversionRefusal),
            details, claim, ChangeResponse);
        return Respond(await writer.ExecuteAsync(tenant.Id, id, op));
    }

    /// <summary>
    /// The money a top-up without an invoice took: nothing for free credits; for a direct purchase the amount the
    /// merchant says was received, or (when credits were given) credits × top-up rate.
    /// </summary>
    static decimal DirectPrice(string reason, decimal? credits, decimal? amount, decimal converted, decimal topupRate) =>
        reason == Reasons.FreeCreditGrant ? 0m : credits is null ? amount!.Value : Money.AmountForCredits(converted, topupRate);

    /// <summary>
    /// PURCHASED_CREDIT_INVOICED: in one transaction, a pending credit and a finalized CREDIT invoice for it
    /// (credits × top-up rate, rounded to the currency's minor unit). The credits become spendable when the
    /// invoice is paid; with the tenant's auto-complete setting they are granted now and the invoice is paid.
    /// </summary>
    static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> PurchaseWithInvoice(
        Tenant tenant, string id, decimal? credits, decimal? amount, DateTimeOffset? expiry, int? priority, string entryId,
        EntryDetails details, IdempotencyClaim? claim, WalletWriter writer, Ids ids, TenantSettings settings)
    {
        var config = await settings.InvoiceConfigAsync(tenant.Id);
        var invoiceId = ids.New("inv");
        var op = CreditPurchases.Operation(invoiceId, entryId, credits, amount, expiry, priority, config, details, claim, ids,
            x => new WalletChangeResponse(invoiceId, WalletDtos.Wallet(x.Wallet),
                x.Entries.Count == 0 ? null : WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet)));
        return Respond(await writer.ExecuteAsync(tenant.Id, id, op));
    }

    internal static async Task<Results<Ok<WalletChangeResponse>, JsonReplay, ApiError>> Debit(
        Tenant tenant, string id, DebitRequest body, WalletWriter writer, Ids ids, HttpRequest http)
    {
        var v = new Validator();
        var reason = v.OneOf("transaction_reason", body.TransactionReason, Reasons.ApiDebit) ?? Reasons.ManualBalanceDebit;
        var credits = v.Amount("credits", body.Credits);
        var amount = v.Amount("amount", body.Amount);
        if (credits is null && amount is null) v.Fail("credits or amount is required");
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var referenceType = v.Text("reference_type", body.ReferenceType);
        var referenceId = v.Text("reference_id", body.ReferenceId);
        v.Metadata("metadata", body.Metadata);
        var key = IdempotencyKey(v, body.IdempotencyKey, http, required: true);
        if (!v.Ok) return v.Error();

        var request = new { wallet = id, credits, amount, reason, description, referenceType, referenceId, metadata = body.Metadata };
        var op = new WalletOperation(
            w => ToCredits(credits, amount, w.ConversionRate) is { } c
                ? new WalletCommand.Debit(ids.New("wtx"), c, reason)
                : new CommandOrRefusal(null, ConversionRefusal),
            new EntryDetails(description, Json.Serialize(body.Metadata ?? []), referenceType, referenceId),
            new IdempotencyClaim(key!, Idempotency.Fingerprint("debit", request)),
            ChangeResponse);
        return Respond(await writer.ExecuteAsync(tenant.Id, id, op));
    }

    internal static async Task<Results<Ok<WalletDto>, JsonReplay, ApiError>> Terminate(Tenant tenant, string id, WalletWriter writer, Ids ids,
        InvoiceService invoices, HttpRequest http)
    {
        var v = new Validator();
        var key = IdempotencyKey(v, null, http, required: false);
        if (!v.Ok) return v.Error();
        var op = new WalletOperation(_ => new WalletCommand.Terminate(ids.New("wtx")), new EntryDetails("Wallet terminated"),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("terminate", new { wallet = id })),
            x => WalletDtos.Wallet(x.Wallet));
        var result = await writer.ExecuteAsync(tenant.Id, id, op);
        if (result is WriteResult.Applied) await invoices.CancelPurchasesOfWalletAsync(tenant.Id, id);
        return result switch
        {
            WriteResult.Applied a => TypedResults.Ok((WalletDto)a.Response),
            // Terminating a closed wallet is not an error: the caller's intent already holds.
            WriteResult.NoChange n => TypedResults.Ok((WalletDto)n.Response),
            WriteResult.Replayed r => new JsonReplay(r.Answer),
            var other => Refusal(other),
        };
    }

    static Results<Ok<WalletChangeResponse>, JsonReplay, ApiError> Respond(WriteResult result) => result switch
    {
        WriteResult.Applied a => TypedResults.Ok((WalletChangeResponse)a.Response),
        WriteResult.NoChange n => TypedResults.Ok((WalletChangeResponse)n.Response),
        WriteResult.Replayed r => new JsonReplay(r.Answer),
        var other => Refusal(other),
    };

    public static ApiError Refusal(WriteResult result) => result switch
    {
        WriteResult.KeyReused k => Idempotency.Refusal(new IdempotencyCheck.Reused(k.Key))!,
        WriteResult.KeyInUse k => Idempotency.Refusal(new IdempotencyCheck.InProgress(k.Key))!,
        WriteResult.WalletNotFound => ApiError.NotFound("wallet"),
        WriteResult.InsufficientBalance i => ApiError.Unprocessable(ErrorCodes.InsufficientBalance,
            $"insufficient balance: {i.Requested} credits requested, {i.Available} available",
            new { requested = i.Requested.ToString(CultureInfo.InvariantCulture), available = i.Available.ToString(CultureInfo.InvariantCulture) }),
        WriteResult.WalletNotActive n => NotActive(n.Status),
        WriteResult.Invalid i => ApiError.Validation(i.Message),
        WriteResult.CaptureExceedsHold e => ApiError.Validation($"the capture is larger than the hold's {e.Held} credits"),
        WriteResult.BalanceLimitExceeded l => ApiError.Unprocessable(ErrorCodes.BalanceLimitExceeded,
            $"the top-up would take the wallet's balance above {l.Limit} credits"),
        WriteResult.OutcomeUnknown u => ApiError.OutcomeUnknown(u.IdempotencyKey),
        _ => throw new InvalidOperationException($"unexpected write result {result}"),
    };

    static object ChangeResponse(WriteContext x) =>
        new WalletChangeResponse(null, WalletDtos.Wallet(x.Wallet), x.Entries.Count == 0 ? null : WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet));

    public const string ConversionRefusal = "amount converts to zero credits or to more than 10^15 credits at the wallet's rate";

    /// <summary>Explicit credits win over an amount, as in Flexprice; an amount converts at the given rate.</summary>
    public static decimal? ToCredits(decimal? credits, decimal? amount, decimal rate)
    {
        var c = credits ?? Money.CreditsForAmount(amount!.Value, rate);
        return c > 0 && c <= Money.MaxAmount ? c : null;
    }

    public static string? IdempotencyKey(Validator v, string? bodyKey, HttpRequest http, bool required)
    {
        var header = http.Headers[IdempotencyHeader].ToString();
        var key = !string.IsNullOrEmpty(bodyKey) ? bodyKey : string.IsNullOrEmpty(header) ? null : header;
        return v.Text("idempotency_key", key, required, Idempotency.MaxKeyLength);
    }

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

    internal static async Task<Results<Ok<ListResponse<TransactionDto>>, ApiError>> Transactions(
        Tenant tenant, string id, WalletStore store, [AsParameters] TransactionQueryParameters p)
    {
        var wallet = await store.GetAsync(tenant.Id, id);
        if (wallet is null) return ApiError.NotFound("wallet");
        var filter = p.ToFilter() with { WalletId = id };
        return await RunTransactionQuery(tenant, filter, store, new Dictionary<string, WalletRow> { [id] = wallet });
    }

    static Task<Results<Ok<ListResponse<TransactionDto>>, ApiError>> SearchTransactions(Tenant tenant, TransactionFilter filter, WalletStore store) =>
        RunTransactionQuery(tenant, filter, store, null);

    static async Task<Results<Ok<ListResponse<TransactionDto>>, ApiError>> RunTransactionQuery(
        Tenant tenant, TransactionFilter f, WalletStore store, Dictionary<string, WalletRow>? wallets)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(f.Limit, f.Offset);
        var walletId = f.WalletId;
        foreach (var c in f.Filters ?? [])
        {
            if (c.Field == "wallet_id" && c.Operator == "eq" && c.Value?.String is { } w) walletId = w;
            else v.Fail($"filters: only wallet_id eq is supported, not {c.Field} {c.Operator}");
        }
        v.OneOf("type", f.Type, new HashSet<string> { TransactionTypes.Credit, TransactionTypes.Debit });
        v.OneOf("transaction_status", f.TransactionStatus,
            new HashSet<string> { TransactionStatuses.Pending, TransactionStatuses.Completed, TransactionStatuses.Failed });
        if (f.CreditsAvailableGt is < 0) v.Fail("credits_available_gt must be zero or more");
        var query = new TransactionQuery(walletId, f.Id, f.Type, f.TransactionStatus, f.TransactionReason, f.ReferenceType, f.ReferenceId,
            f.Priority, f.CreditsAvailableGt, v.Time("start_time", f.StartTime), v.Time("end_time", f.EndTime),
            v.Time("expiry_date_after", f.ExpiryDateAfter), v.Time("expiry_date_before", f.ExpiryDateBefore),
            v.Ascending(f.Order) || f.Sort?.FirstOrDefault()?.Direction == "asc");
        if (!v.Ok) return v.Error();
        var (items, total) = await store.TransactionsAsync(tenant.Id, query, limit, offset, wallets);
        return TypedResults.Ok(new ListResponse<TransactionDto>(items, new Pagination(total, limit, offset)));
    }
}

/// <summary>The query string of <c>GET /v1/wallets/{id}/transactions</c>, named as Flexprice names it.</summary>
public sealed record TransactionQueryParameters(
    int? Limit, int? Offset, string? Order, string? Type,
    [property: FromQuery(Name = "transaction_status")] string? TransactionStatus,
    [property: FromQuery(Name = "transaction_reason")] string? TransactionReason,
    [property: FromQuery(Name = "reference_type")] string? ReferenceType,
    [property: FromQuery(Name = "reference_id")] string? ReferenceId,
    int? Priority,
    [property: FromQuery(Name = "credits_available_gt")] decimal? CreditsAvailableGt,
    [property: FromQuery(Name = "start_time")] string? StartTime,
    [property: FromQuery(Name = "end_time")] string? EndTime,
    [property: FromQuery(Name = "expiry_date_before")] string? ExpiryDateBefore,
    [property: FromQuery(Name = "expiry_date_after")] string? ExpiryDateAfter,
    // Named explicitly: unnamed, it would bind the route's wallet {id} instead of the query's transaction id.
    [property: FromQuery(Name = "id")] string? Id)
{
    public TransactionFilter ToFilter() => new()
    {
        Limit = Limit, Offset = Offset, Order = Order, Type = Type, TransactionStatus = TransactionStatus,
        TransactionReason = TransactionReason, ReferenceType = ReferenceType, ReferenceId = ReferenceId, Priority = Priority,
        CreditsAvailableGt = CreditsAvailableGt, StartTime = StartTime, EndTime = EndTime, ExpiryDateBefore = ExpiryDateBefore,
        ExpiryDateAfter = ExpiryDateAfter, Id = Id,
    };
}
