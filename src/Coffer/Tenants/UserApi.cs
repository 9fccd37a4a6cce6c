using System.Security.Claims;
using Coffer.Common;
using Coffer.Dashboard;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Tenants;

/// <summary>Flexprice's UserResponse: who is calling, and their tenant.</summary>
public sealed record UserDto(string Id, string Email, string Type, IReadOnlyList<string> Roles, TenantDto Tenant)
{
    /// <summary>Flexprice's user types.</summary>
    public const string User = "user", ServiceAccount = "service_account";
}

/// <summary>
/// <c>GET /v1/users/me</c> (the Flexprice SDK's <c>users.getUserInfo</c>). A dashboard operator's session is a user:
/// the operator, with their e-mail. An API key is a service account, as Flexprice's keys for service accounts are: the
/// user is the key itself (its id, an empty e-mail), since a Coffer key belongs to its tenant, not to a person.
/// </summary>
public static class UserApi
{
    public static void MapUsers(this RouteGroupBuilder v1) =>
        v1.MapGet("/users/me", Me).WithTags("Users").WithName("getUserInfo").AcceptsOperatorSession()
            .WithSummary("Who is calling: the API key (a service account) or the signed-in dashboard operator, with their tenant")
            .WithDescription("Answers an API key, and also a signed-in dashboard operator's session cookie.");

    static async Task<Results<Ok<UserDto>, ApiError>> Me(Tenant tenant, ApiKeyCaller? key, TenantStore tenants, HttpContext http)
    {
        var tenantDto = await TenantApi.DtoAsync(tenant, tenants);
        if (ApiKeyAuth.Operator(http) is { } op)
            return TypedResults.Ok(new UserDto(op.FindFirstValue(ClaimTypes.NameIdentifier)!, op.FindFirstValue(ClaimTypes.Name) ?? "", UserDto.User, [], tenantDto));
        if (key is null) return new ApiError(401, ErrorCodes.Unauthorized, "invalid API key");
        return TypedResults.Ok(new UserDto(key.KeyId, "", UserDto.ServiceAccount, [], tenantDto));
    }
}
