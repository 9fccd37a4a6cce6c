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
    public static void MapHolds(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/wallets/{id}/holds").WithTags("Holds");
        g.MapPost("/", Create).WithName("createHold");
        g.MapGet("/", List).WithName("listHolds");
        g.MapPost("/{hold_id}/capture", Capture).WithName("captureHold");
        g.MapPost("/{hold_id}/release", Release).WithName("releaseHold");
    }

    static async Task<Results<Ok<HoldResponse>, JsonReplay, ApiError>> Create(
        Tenant tenant, string id, CreateHoldRequest body, WalletMoves moves, TimeProvider clock,
        HttpRequest http)
    {
        var v = new Validator();
        var order = WalletOrders.Hold(v, id, body, WalletApi.HeaderKey(http), clock.GetUtcNow());
        return order is null ? v.Error() : WalletApi.Respond(await moves.HoldAsync(tenant.Id, id, order));
    }

    static async Task<Results<Ok<HoldResponse>, JsonReplay, ApiError>> Capture(
        Tenant tenant, string id, [FromRoute(Name = "hold_id")] string holdId, CaptureHoldRequest? body, WalletMoves moves,
        HttpRequest http)
    {
        var v = new Validator();
        var order = WalletOrders.Capture(v, id, holdId, body, WalletApi.HeaderKey(http));
        return order is null ? v.Error() : WalletApi.Respond(await moves.CaptureAsync(tenant.Id, id, order));
    }

    static async Task<Results<Ok<HoldResponse>, JsonReplay, ApiError>> Release(
        Tenant tenant, string id, [FromRoute(Name = "hold_id")] string holdId, WalletMoves moves,
        HttpRequest http)
    {
        var v = new Validator();
        var checkedKey = WalletOrders.Key(v, null, WalletApi.HeaderKey(http), required: false);
        return !v.Ok ? v.Error() : WalletApi.Respond(await moves.ReleaseAsync(tenant.Id, id, holdId, checkedKey));
    }

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
