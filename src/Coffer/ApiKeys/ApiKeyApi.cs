using Coffer.Common;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.ApiKeys;

public sealed record CreateApiKeyRequest(string? Name, string? Type, string? ExpiresAt, string? ServiceAccountId);

/// <summary>Flexprice's DtoSecretResponse. The secret itself is never stored or shown again, only its hash.</summary>
public sealed record SecretDto(
    string Id, string Name, string Type, string Provider, string DisplayId, IReadOnlyList<string> Roles, string UserType,
    string Status, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record CreateApiKeyResponse(string ApiKey, SecretDto Secret);

public static class ApiKeyApi
{
    public static void MapApiKeys(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/secrets/api/keys").WithTags("API keys");
        g.MapPost("/", Create).WithName("createApiKey");
        g.MapGet("/", List).WithName("listApiKeys");
        g.MapDelete("/{id}", Delete).WithName("deleteApiKey");
    }

    static async Task<Results<Created<CreateApiKeyResponse>, ApiError>> Create(
        Tenant tenant, CreateApiKeyRequest body, TenantStore tenants, ApiKeyStore keys, TimeProvider clock)
    {
        var v = new Validator();
        var name = v.Text("name", body.Name, required: true);
        if (body.Type is not null && body.Type != "private_key") v.Fail("type must be private_key");
        var expires = v.Time("expires_at", body.ExpiresAt);
        if (expires is not null && expires <= clock.GetUtcNow()) v.Fail("expires_at must be in the future");
        if (!v.Ok) return v.Error();
        var key = await tenants.CreateKeyAsync(tenant.Id, name!, expiresAt: expires);
        return TypedResults.Created($"/v1/secrets/api/keys/{key.Id}", new CreateApiKeyResponse(key.Secret, (await keys.GetAsync(tenant.Id, key.Id))!));
    }

    static async Task<Results<Ok<ListResponse<SecretDto>>, ApiError>> List(Tenant tenant, ApiKeyStore keys, int? limit, int? offset, string? status)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (status is not (null or "published" or "deleted")) v.Fail("status must be published or deleted");
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await keys.ListAsync(tenant.Id, status ?? "published", l, o));
    }

    static async Task<Results<NoContent, ApiError>> Delete(Tenant tenant, string id, ApiKeyStore keys) =>
        await keys.DeleteAsync(tenant.Id, id) ? TypedResults.NoContent() : ApiError.NotFound("API key");
}
