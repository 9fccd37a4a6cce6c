using Coffer.Common;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Tenants;

/// <summary>
/// Flexprice's tenant billing details. Coffer keeps none on the tenant (its invoices name no issuer yet), so every
/// field is null: present, as Flexprice's clients require the keys, and blank.
/// </summary>
public sealed record TenantBillingDetailsDto(object? Address, string? Email, string? HelpEmail, string? Phone)
{
    public static readonly TenantBillingDetailsDto None = new(null, null, null, null);
}

/// <summary>Flexprice's TenantResponse. A tenant that exists is active: Coffer has no suspended tenants.</summary>
public sealed record TenantDto(string Id, string Name, string Status, TenantBillingDetailsDto BillingDetails, Dictionary<string, string> Metadata,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Active = "active";
}

/// <summary>
/// <c>GET /v1/tenants/{id}</c>: the caller's own tenant. Any other id is not found, whether or not it exists, so a
/// caller cannot probe for other tenants.
/// </summary>
public static class TenantApi
{
    public static void MapTenants(this RouteGroupBuilder v1) =>
        v1.MapGet("/tenants/{id}", Get).WithTags("Tenants").WithName("getTenantById").AcceptsOperatorSession()
            .WithSummary("The caller's own tenant; another tenant's id is not found")
            .WithDescription("Answers an API key, and also a signed-in dashboard operator's session cookie.");

    static async Task<Results<Ok<TenantDto>, ApiError>> Get(Tenant tenant, string id, TenantStore tenants) =>
        id == tenant.Id ? TypedResults.Ok(await DtoAsync(tenant, tenants)) : ApiError.NotFound("tenant");

    /// <summary>The tenant as stored now (a name or mode changed since the key's lookup was cached shows at once).</summary>
    public static async Task<TenantDto> DtoAsync(Tenant tenant, TenantStore tenants)
    {
        var (stored, createdAt) = await tenants.WithCreationAsync(tenant.Id) ?? (tenant, DateTimeOffset.UnixEpoch);
        // Tenants are not edited through the API; their last change is their creation.
        return new TenantDto(stored.Id, stored.Name, TenantDto.Active, TenantBillingDetailsDto.None, [], createdAt, createdAt);
    }
}
