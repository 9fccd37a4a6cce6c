using Coffer.Common;
using Coffer.Ledger;
using Coffer.Tenants;
using Coffer.Wallets;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Holds;

public sealed record CreateHoldRequest(
    decimal? Credits, decimal? Amount, string? ExpiresAt, string? IdempotencyKey, string? Description, string? ReferenceType,
    string? ReferenceId, Dictionary<string, string>? Metadata);

public sealed record CaptureHoldRequest(decimal? Credits, decimal? Amount, string? TransactionReason, string? IdempotencyKey, string? Description);

/// <summary>
/// Coffer's holds (pending charges): reserve credits now, capture all or part later, or release them. An
/// expired hold releases itself. Debits and new holds are checked against the balance less what holds reserve.
/// </summary>
public static class HoldApi
{
    public static readonly TimeSpan MaxHoldLifetime = TimeSpan.FromDays(31);

    public static void MapHolds(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/wallets/{id}/holds").WithTags("Holds");
        g.MapPost("/", Create).WithName("createHold");
        g.MapGet("/", List).WithName("listHolds");
        g.MapPost("/{hold_id}/capture", Capture).WithName("captureHold");
        g.MapPost("/{hold_id}/release", Release).WithName("releaseHold");
    }

    // A no-change (the hold is not active) renders nothing: it answers 404 and claims no idempotency key.
    static object Render(WriteContext x) => x.Holds.Count == 0
        ? new { }
        : new HoldResponse(WalletDtos.Hold(x.Holds.Single(), x.Wallet), WalletDtos.Wallet(x.Wallet),
            x.Entries.Count == 0 ? null : WalletDtos.Transaction(x.Entries[0], x.Allocations, x.Wallet));

    static async Task<Results<Ok<HoldResponse>, JsonReplay, ApiError>> Create(
        Tenant tenant, string id, CreateHoldRequest body, WalletWriter writer, Ids ids, TimeProvider clock, HttpRequest http)
    {
        var v = new Validator();
        var credits = v.Amount("credits", body.Credits);
        var amount = v.Amount("amount", body.Amount);
        if (credits is null && amount is null) v.Fail("credits or amount is required");
        var now = clock.GetUtcNow();
        var expires = v.Time("expires_at", body.ExpiresAt);
        if (expires is not null && (expires <= now || expires > now + MaxHoldLifetime)) v.Fail($"expires_at must be in the next {MaxHoldLifetime.TotalDays} days");
        var description = v.Text("description", body.Description, max: Limits.MaxDescriptionLength);
        var referenceType = v.Text("reference_type", body.ReferenceType);
        var referenceId = v.Text("reference_id", body.ReferenceId);
        v.Metadata("metadata", body.Metadata);
        var key = WalletApi.IdempotencyKey(v, body.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();

        var holdId = ids.New("hold");
        var request = new { wallet = id, credits, amount, expires, description, referenceType, referenceId, metadata = body.Metadata };
        var op = new WalletOperation(
            w => WalletApi.ToCredits(credits, amount, w.ConversionRate) is { } c
                ? new WalletCommand.PlaceHold(holdId, c, expires)
                : new CommandOrRefusal(null, WalletApi.ConversionRefusal),
            new EntryDetails(description, Json.Serialize(body.Metadata ?? []), referenceType, referenceId),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("hold", request)),
            Render);
        return Respond(await writer.ExecuteAsync(tenant.Id, id, op), "hold");
    }

    static async Task<Results<Ok<HoldResponse>, JsonReplay, ApiError>> Capture(
        Tenant tenant, string id, [FromRoute(Name = "hold_id")] string holdId, CaptureHoldRequest? body, WalletWriter writer, Ids ids, HttpRequest http)
    {
        var v = new Validator();
        var credits = v.Amount("credits", body?.Credits);
        var amount = v.Amount("amount", body?.Amount);
        var reason = v.OneOf("transaction_reason", body?.TransactionReason, Reasons.ApiDebit) ?? Reasons.UsageCharge;
        var description = v.Text("description", body?.Description, max: Limits.MaxDescriptionLength);
        var key = WalletApi.IdempotencyKey(v, body?.IdempotencyKey, http, required: false);
        if (!v.Ok) return v.Error();

        var request = new { wallet = id, hold = holdId, credits, amount, reason, description };
        var op = new WalletOperation(
            w => credits is null && amount is null
                ? new WalletCommand.CaptureHold(ids.New("wtx"), holdId, null, reason)
                : WalletApi.ToCredits(credits, amount, w.ConversionRate) is { } c
                    ? new WalletCommand.CaptureHold(ids.New("wtx"), holdId, c, reason)
                    : new CommandOrRefusal(null, WalletApi.ConversionRefusal),
            new EntryDetails(description, ReferenceType: "HOLD", ReferenceId: holdId),
            key is null ? null : new IdempotencyClaim(key, Idempotency.Fingerprint("capture", request)),
            Render);
        return Respond(await writer.ExecuteAsync(tenant.Id, id, op), "active hold");
    }

    static async Task<Results<Ok<HoldResponse>, JsonReplay, ApiError>> Release(
        Tenant tenant, string id, [FromRoute(Name = "hold_id")] string holdId, WalletWriter writer, HttpRequest http)
    {
        var v = new Validator();
        var key = WalletApi.IdempotencyKey(v, null, http, required: false);
        if (!v.Ok) return v.Error();
        // With a key, a retried release replays its answer instead of finding the hold ended (404).
        var op = new WalletOperation(_ => new WalletCommand.ReleaseHold(holdId), new EntryDetails(),
            IdempotencyClaim.For(key, "release", new { wallet = id, hold = holdId }), Render);
        return Respond(await writer.ExecuteAsync(tenant.Id, id, op), "active hold");
    }

    static Results<Ok<HoldResponse>, JsonReplay, ApiError> Respond(WriteResult result, string what) => result switch
    {
        WriteResult.Applied a => TypedResults.Ok((HoldResponse)a.Response),
        // Capturing or releasing a hold that is not active (never was, already ended, or expired) names it plainly.
        WriteResult.NoChange => ApiError.NotFound(what),
        WriteResult.Replayed r => new JsonReplay(r.Answer),
        var other => WalletApi.Refusal(other),
    };

    static async Task<Results<Ok<ListResponse<HoldDto>>, ApiError>> List(
        Tenant tenant, string id, WalletStore store, int? limit, int? offset, string? status)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        v.OneOf("status", status, new HashSet<string> { HoldStatuses.Active, HoldStatuses.Captured, HoldStatuses.Released, HoldStatuses.Expired });
        if (!v.Ok) return v.Error();
        var wallet = await store.GetAsync(tenant.Id, id);
        if (wallet is null) return ApiError.NotFound("wallet");
        var (items, total) = await store.HoldsAsync(tenant.Id, id, status, l, o);
        return TypedResults.Ok(new ListResponse<HoldDto>(items.Select(h => WalletDtos.Hold(h, wallet)).ToList(), new Pagination(total, l, o)));
    }
}
