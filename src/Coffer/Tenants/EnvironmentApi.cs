using Coffer.Common;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Tenants;

/// <summary>Flexprice's EnvironmentResponse: <c>type</c> is development (test mode) or production (live mode).</summary>
public sealed record EnvironmentDto(string Id, string Name, string Type, string Slug, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Flexprice's ListEnvironmentsResponse.</summary>
public sealed record EnvironmentListResponse(IReadOnlyList<EnvironmentDto> Environments, long Total, int Offset, int Limit);

/// <summary>
/// Flexprice's environments, read-only. In Coffer a tenant is one environment, its id the tenant's, its type the
/// tenant's mode (<see cref="Modes"/>); a merchant's test and live environments are two tenants with a key each, so
/// test money and real money never share a ledger. An operator puts a tenant in live mode with
/// <c>coffer tenants go-live</c>.
/// </summary>
public static class EnvironmentApi
{
    public static void MapEnvironments(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/environments").WithTags("Environments");
        g.MapGet("/", List).WithName("listEnvironments").WithSummary("The API key's environment: its tenant, in test or live mode");
        g.MapGet("/{id}", Get).WithName("getEnvironment");
    }

    static async Task<Results<Ok<EnvironmentListResponse>, ApiError>> List(Tenant tenant, TenantStore tenants, int? limit, int? offset)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        var environment = await EnvironmentAsync(tenant, tenants);
        return TypedResults.Ok(new EnvironmentListResponse(o == 0 ? [environment] : [], 1, o, l));
    }

    static async Task<Results<Ok<EnvironmentDto>, ApiError>> Get(Tenant tenant, string id, TenantStore tenants) =>
        id == tenant.Id ? TypedResults.Ok(await EnvironmentAsync(tenant, tenants)) : ApiError.NotFound("environment");

    static async Task<EnvironmentDto> EnvironmentAsync(Tenant tenant, TenantStore tenants)
    {
        var (stored, createdAt) = await tenants.WithCreationAsync(tenant.Id) ?? (tenant, DateTimeOffset.UnixEpoch);
        return new EnvironmentDto(stored.Id, stored.Name, Modes.EnvironmentType(stored.Mode), stored.Mode, createdAt, createdAt);
    }
}
