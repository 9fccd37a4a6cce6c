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

    static SecretDto Read(System.Data.Common.DbDataReader r) => new(
        r.Str("id"), r.Str("name"), "private_key", "flexprice", r.Str("display_id"), ["read", "write"], "user", r.Str("status"),
        r.NTime("expires_at"), null, r.Time("created_at"), r.Time("updated_at"));

    const string Columns = "id, name, display_id, status, expires_at, created_at, updated_at";

    static async Task<Results<Created<CreateApiKeyResponse>, ApiError>> Create(
        Tenant tenant, CreateApiKeyRequest body, TenantStore tenants, Database db, TimeProvider clock)
    {
        var v = new Validator();
        var name = v.Text("name", body.Name, required: true);
        if (body.Type is not null && body.Type != "private_key") v.Fail("type must be private_key");
        var expires = v.Time("expires_at", body.ExpiresAt);
        if (expires is not null && expires <= clock.GetUtcNow()) v.Fail("expires_at must be in the future");
        if (!v.Ok) return v.Error();
        var key = await tenants.CreateKeyAsync(tenant.Id, name!, expiresAt: expires);
        await using var c = await db.OpenAsync();
        var secret = await c.QuerySingleAsync(null, $"SELECT {Columns} FROM api_keys WHERE tenant_id = @t AND id = @id", Read, ("t", tenant.Id), ("id", key.Id));
        return TypedResults.Created($"/v1/secrets/api/keys/{key.Id}", new CreateApiKeyResponse(key.Secret, secret!));
    }

    static async Task<Results<Ok<ListResponse<SecretDto>>, ApiError>> List(Tenant tenant, Database db, int? limit, int? offset, string? status)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (status is not (null or "published" or "deleted")) v.Fail("status must be published or deleted");
        if (!v.Ok) return v.Error();
        await using var c = await db.OpenAsync();
        var where = Where.Tenant(tenant.Id).Eq("status", "s", status ?? "published");
        return TypedResults.Ok((await c.PageAsync(Columns, "api_keys", where, Sql.OrderBy("created_at", ascending: false), l, o, Read)).Response());
    }

    static async Task<Results<NoContent, ApiError>> Delete(Tenant tenant, string id, Database db, TenantStore tenants, TimeProvider clock)
    {
        await using var scope = await db.BeginWriteAsync();
        var hash = await scope.Connection.QuerySingleAsync(scope.Transaction,
            "SELECT key_hash FROM api_keys WHERE tenant_id = @t AND id = @id AND status = 'published'", r => r.Str("key_hash"),
            ("t", tenant.Id), ("id", id));
        if (hash is null) return ApiError.NotFound("API key");
        await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE api_keys SET status = 'deleted', updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("now", clock.GetUtcNow()), ("t", tenant.Id), ("id", id));
        await scope.CommitAsync();
        tenants.Forget(hash);
        return TypedResults.NoContent();
    }
}
