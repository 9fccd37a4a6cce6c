using System.Text.Json.Serialization;
using Coffer.Common;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Customers;

public sealed record CustomerRequest
{
    public string? ExternalId { get; init; }
    public string? Name { get; init; }
    public string? Email { get; init; }
    [JsonPropertyName("address_line1")] public string? AddressLine1 { get; init; }
    [JsonPropertyName("address_line2")] public string? AddressLine2 { get; init; }
    public string? AddressCity { get; init; }
    public string? AddressState { get; init; }
    public string? AddressPostalCode { get; init; }
    public string? AddressCountry { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }

    /// <summary>
    /// Coffer's: how this customer's purchases are paid when a call does not say, <c>charge_automatically</c> or
    /// <c>send_invoice</c>. Unset (null) is a saved card when there is one, else an invoice. An update with
    /// <c>""</c> unsets it; one without it keeps it.
    /// </summary>
    public string? CollectionMethod { get; init; }
}

public sealed record CustomerFilter
{
    public int? Limit { get; init; }
    public int? Offset { get; init; }
    public string? Order { get; init; }
    public List<SortCondition>? Sort { get; init; }
    public List<FilterCondition>? Filters { get; init; }
    public List<string>? CustomerIds { get; init; }
    public string? ExternalId { get; init; }
    public List<string>? ExternalIds { get; init; }
    public string? Email { get; init; }
    public string? Status { get; init; }
}

/// <summary>
/// Flexprice's DtoCustomerResponse: every key always present, null when empty; with Coffer's <c>collection_method</c>
/// (null: a saved card when there is one, else an invoice).
/// </summary>
public sealed record CustomerDto(
    string Id,
    string ExternalId,
    string Name,
    string? Email,
    [property: JsonPropertyName("address_line1")] string? AddressLine1,
    [property: JsonPropertyName("address_line2")] string? AddressLine2,
    string? AddressCity,
    string? AddressState,
    string? AddressPostalCode,
    string? AddressCountry,
    Dictionary<string, string> Metadata,
    string? ParentCustomerId,
    CustomerDto? ParentCustomer,
    string Status,
    string TenantId,
    string? EnvironmentId,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset UpdatedAt,
    string? UpdatedBy,
    string? CollectionMethod);

public static class CustomerApi
{
    public static RouteGroupBuilder MapCustomers(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/customers").WithTags("Customers");
        g.MapPost("/", Create).WithName("createCustomer");
        g.MapGet("/", List).WithName("listCustomers");
        g.MapPut("/", Update).WithName("updateCustomer");
        g.MapPost("/search", Search).WithName("queryCustomer");
        g.MapGet("/external/{external_id}", GetByExternalId).WithName("getCustomerByExternalId");
        g.MapGet("/{id}", Get).WithName("getCustomer");
        g.MapDelete("/{id}", Delete).WithName("deleteCustomer");
        return g;
    }

    static async Task<Results<Created<CustomerDto>, ApiError>> Create(Tenant tenant, CustomerRequest body, CustomerStore store)
    {
        var v = new Validator();
        var fields = Fields(v, body, creating: true);
        if (!v.Ok) return v.Error();
        var result = await store.CreateAsync(tenant.Id, fields);
        return result is null ? ExternalIdTaken(fields) : TypedResults.Created($"/v1/customers/{result.Id}", result);
    }

    static async Task<Results<Ok<CustomerDto>, ApiError>> Get(Tenant tenant, string id, CustomerStore store) =>
        await store.GetAsync(tenant.Id, id) is { } c ? TypedResults.Ok(c) : ApiError.NotFound("customer");

    static async Task<Results<Ok<CustomerDto>, ApiError>> GetByExternalId(Tenant tenant, [FromRoute(Name = "external_id")] string externalId, CustomerStore store) =>
        await store.GetByExternalIdAsync(tenant.Id, externalId) is { } c ? TypedResults.Ok(c) : ApiError.NotFound("customer");

    static async Task<Results<Ok<CustomerDto>, ApiError>> Update(
        Tenant tenant, CustomerRequest body, CustomerStore store, [FromQuery] string? id, [FromQuery(Name = "external_customer_id")] string? externalCustomerId)
    {
        if (id is null && externalCustomerId is null) return ApiError.Validation("id or external_customer_id query parameter is required");
        var v = new Validator();
        var fields = Fields(v, body, creating: false);
        if (!v.Ok) return v.Error();
        var customer = id is not null ? await store.GetAsync(tenant.Id, id) : await store.GetByExternalIdAsync(tenant.Id, externalCustomerId!);
        if (customer is null) return ApiError.NotFound("customer");
        return await store.UpdateAsync(tenant.Id, customer.Id, fields) switch
        {
            UpdateOutcome.Updated u => TypedResults.Ok(u.Customer),
            UpdateOutcome.ExternalIdTaken => ExternalIdTaken(fields),
            _ => ApiError.NotFound("customer"),
        };
    }

    static async Task<Results<NoContent, ApiError>> Delete(Tenant tenant, string id, CustomerStore store) =>
        await store.DeleteAsync(tenant.Id, id) switch
        {
            DeleteOutcome.Deleted => TypedResults.NoContent(),
            DeleteOutcome.HasOpenWallets => ApiError.Conflict(ErrorCodes.Conflict, "the customer still has open wallets; terminate them first"),
            _ => ApiError.NotFound("customer"),
        };

    static Task<Results<Ok<ListResponse<CustomerDto>>, ApiError>> List(
        Tenant tenant, CustomerStore store, int? limit, int? offset, [FromQuery(Name = "external_id")] string? externalId, string? email) =>
        Search(tenant, new CustomerFilter { Limit = limit, Offset = offset, ExternalId = externalId, Email = email }, store);

    static async Task<Results<Ok<ListResponse<CustomerDto>>, ApiError>> Search(Tenant tenant, CustomerFilter filter, CustomerStore store)
    {
        var v = new Validator();
        var (limit, offset) = v.Page(filter.Limit, filter.Offset);
        var query = CustomerQuery.From(v, filter);
        if (!v.Ok) return v.Error();
        return TypedResults.Ok(await store.SearchAsync(tenant.Id, query, limit, offset));
    }

    /// <summary>The refusal of a customer whose external id another customer of the tenant already has.</summary>
    public static ApiError ExternalIdTaken(CustomerFields fields) =>
        ApiError.Conflict(ErrorCodes.AlreadyExists, $"a customer with external_id '{fields.ExternalId}' already exists");

    /// <summary>A customer request checked field by field; the dashboard's form is checked here too, so it refuses what the API refuses.</summary>
    public static CustomerFields Fields(Validator v, CustomerRequest b, bool creating)
    {
        // "" is how an update unsets the method (back to the default); a new customer simply leaves it out.
        var unset = !creating && b.CollectionMethod == "";
        var collection = unset ? "" : v.OneOf("collection_method", b.CollectionMethod, CollectionMethods.All);
        var email = v.Text("email", b.Email);
        if (email is not null && (!email.Contains('@') || email.Length < 3)) v.Fail("email is not an email address");
        v.Metadata("metadata", b.Metadata);
        var externalId = v.Text("external_id", b.ExternalId, required: creating);
        return new CustomerFields(
            externalId,
            v.Text("name", b.Name),
            email,
            v.Text("address_line1", b.AddressLine1),
            v.Text("address_line2", b.AddressLine2),
            v.Text("address_city", b.AddressCity),
            v.Text("address_state", b.AddressState),
            v.Text("address_postal_code", b.AddressPostalCode),
            v.Text("address_country", b.AddressCountry),
            b.Metadata,
            collection);
    }
}
