using System.Data.Common;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Customers;

/// <summary>A customer's fields as a request sets them; null keeps what an update finds, and a <see cref="CollectionMethod"/> of "" unsets it.</summary>
public sealed record CustomerFields(
    string? ExternalId, string? Name, string? Email, string? AddressLine1, string? AddressLine2, string? AddressCity,
    string? AddressState, string? AddressPostalCode, string? AddressCountry, Dictionary<string, string>? Metadata, string? CollectionMethod);

public abstract record UpdateOutcome
{
    private UpdateOutcome() { }
    public sealed record Updated(CustomerDto Customer) : UpdateOutcome;
    public sealed record ExternalIdTaken : UpdateOutcome;
    public sealed record NotFound : UpdateOutcome;
}

public enum DeleteOutcome { Deleted, HasOpenWallets, NotFound }

/// <summary>The customer search, reduced to the conditions Coffer supports; anything else is refused at the edge.</summary>
public sealed record CustomerQuery(
    IReadOnlyList<string>? Ids, IReadOnlyList<string>? ExternalIds, string? Email, string Status,
    IReadOnlyList<(string Column, string Op, string Value)> Conditions, bool Ascending)
{
    static readonly Dictionary<string, string> Columns = new()
    {
        ["name"] = "name", ["email"] = "email", ["external_id"] = "external_id", ["id"] = "id",
    };

    public static CustomerQuery From(Validator v, CustomerFilter f)
    {
        var conditions = new List<(string, string, string)>();
        foreach (var c in f.Filters ?? [])
        {
            if (c.Field is null || !Columns.TryGetValue(c.Field, out var column)) { v.Fail($"filters: field '{c.Field}' is not supported"); continue; }
            if (c.Operator is not ("eq" or "contains")) { v.Fail($"filters: operator '{c.Operator}' is not supported on {c.Field}"); continue; }
            var value = v.Text($"filters.{c.Field}", c.Value?.String, required: true);
            if (value is not null) conditions.Add((column, c.Operator, value));
        }
        if (f.CustomerIds?.Count > Limits.MaxIdsPerFilter || f.ExternalIds?.Count > Limits.MaxIdsPerFilter)
            v.Fail($"at most {Limits.MaxIdsPerFilter} ids per filter");
        var status = f.Status ?? "published";
        if (status is not ("published" or "deleted")) v.Fail("status must be published or deleted");
        var externalIds = f.ExternalIds ?? (f.ExternalId is null ? null : [f.ExternalId]);
        var ascending = f.Order == "asc" || f.Sort?.FirstOrDefault()?.Direction == "asc";
        return new CustomerQuery(f.CustomerIds, externalIds, f.Email, status, conditions, ascending);
    }
}

public sealed class CustomerStore(Database db, Ids ids, TimeProvider clock)
{
    const string Columns =
        "tenant_id, id, external_id, name, email, address_line1, address_line2, address_city, address_state, " +
        "address_postal_code, address_country, metadata, status, created_at, updated_at, collection_method";

    static CustomerDto Read(DbDataReader r) => new(
        r.Str("id"), r.Str("external_id"), r.Str("name"), r.NStr("email"), r.NStr("address_line1"), r.NStr("address_line2"),
        r.NStr("address_city"), r.NStr("address_state"), r.NStr("address_postal_code"), r.NStr("address_country"),
        Json.Deserialize<Dictionary<string, string>>(r.Str("metadata")) ?? [], null, null, r.Str("status"), r.Str("tenant_id"),
        null, r.Time("created_at"), null, r.Time("updated_at"), null, r.NStr("collection_method"));

    public async Task<CustomerDto?> CreateAsync(string tenantId, CustomerFields f)
    {
        var id = ids.New("cust");
        var now = clock.GetUtcNow();
        await using var scope = await db.BeginWriteAsync();
        try
        {
            await scope.Connection.ExecAsync(scope.Transaction,
                $"""
                INSERT INTO customers ({Columns})
                VALUES (@t, @id, @ext, @name, @email, @l1, @l2, @city, @state, @zip, @country, @meta, 'published', @now, @now, @collection)
                """,
                ("t", tenantId), ("id", id), ("ext", f.ExternalId), ("name", f.Name ?? f.ExternalId), ("email", f.Email),
                ("l1", f.AddressLine1), ("l2", f.AddressLine2), ("city", f.AddressCity), ("state", f.AddressState),
                ("zip", f.AddressPostalCode), ("country", f.AddressCountry), ("meta", Json.Serialize(f.Metadata ?? [])), ("now", now),
                ("collection", string.IsNullOrEmpty(f.CollectionMethod) ? null : f.CollectionMethod));
            await scope.CommitAsync();
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            return null;
        }
        return await GetAsync(tenantId, id);
    }

    public async Task<CustomerDto?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {Columns} FROM customers WHERE tenant_id = @t AND id = @id AND status <> 'deleted'",
            Read, ("t", tenantId), ("id", id));
    }

    public async Task<CustomerDto?> GetByExternalIdAsync(string tenantId, string externalId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {Columns} FROM customers WHERE tenant_id = @t AND external_id = @e AND status <> 'deleted'",
            Read, ("t", tenantId), ("e", externalId));
    }

    /// <summary>The customers with this e-mail address (compared without case), at most a few.</summary>
    public async Task<List<CustomerDto>> ByEmailAsync(string tenantId, string email)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null, $"SELECT {Columns} FROM customers WHERE tenant_id = @t AND LOWER(email) = @e AND status <> 'deleted' ORDER BY created_at LIMIT 5",
            Read, ("t", tenantId), ("e", email.ToLowerInvariant()));
    }

    public async Task<UpdateOutcome> UpdateAsync(string tenantId, string id, CustomerFields f)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        var current = await c.QuerySingleAsync(scope.Transaction,
            $"SELECT {Columns} FROM customers WHERE tenant_id = @t AND id = @id AND status <> 'deleted'{db.ForUpdate}", Read, ("t", tenantId), ("id", id));
        if (current is null) return new UpdateOutcome.NotFound();
        var metadata = current.Metadata;
        if (f.Metadata is not null) metadata = f.Metadata;
        try
        {
            await c.ExecAsync(scope.Transaction,
                """
                UPDATE customers SET external_id = @ext, name = @name, email = @email, address_line1 = @l1, address_line2 = @l2,
                    address_city = @city, address_state = @state, address_postal_code = @zip, address_country = @country,
                    metadata = @meta, collection_method = @collection, updated_at = @now
                WHERE tenant_id = @t AND id = @id
                """,
                ("ext", f.ExternalId ?? current.ExternalId), ("name", f.Name ?? current.Name), ("email", f.Email ?? current.Email),
                ("l1", f.AddressLine1 ?? current.AddressLine1), ("l2", f.AddressLine2 ?? current.AddressLine2),
                ("city", f.AddressCity ?? current.AddressCity), ("state", f.AddressState ?? current.AddressState),
                ("zip", f.AddressPostalCode ?? current.AddressPostalCode), ("country", f.AddressCountry ?? current.AddressCountry),
                ("meta", Json.Serialize(metadata)),
                ("collection", f.CollectionMethod is null ? current.CollectionMethod : f.CollectionMethod.Length == 0 ? null : f.CollectionMethod),
                ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
            await scope.CommitAsync();
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            return new UpdateOutcome.ExternalIdTaken();
        }
        return new UpdateOutcome.Updated((await GetAsync(tenantId, id))!);
    }

    public async Task<DeleteOutcome> DeleteAsync(string tenantId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        var exists = await c.ScalarLongAsync(scope.Transaction,
            $"SELECT COUNT(*) FROM customers WHERE tenant_id = @t AND id = @id AND status <> 'deleted'", ("t", tenantId), ("id", id));
        if (exists == 0) return DeleteOutcome.NotFound;
        var open = await c.ScalarLongAsync(scope.Transaction,
            "SELECT COUNT(*) FROM wallets WHERE tenant_id = @t AND customer_id = @id AND wallet_status <> 'closed'", ("t", tenantId), ("id", id));
        if (open > 0) return DeleteOutcome.HasOpenWallets;
        await c.ExecAsync(scope.Transaction, "UPDATE customers SET status = 'deleted', updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return DeleteOutcome.Deleted;
    }

    public async Task<ListResponse<CustomerDto>> SearchAsync(string tenantId, CustomerQuery q, int limit, int offset)
    {
        var where = Where.Tenant(tenantId)
            .Add(q.Status == "deleted" ? "status = 'deleted'" : "status <> 'deleted'")
            .In("id", "cid", q.Ids)
            .In("external_id", "ext", q.ExternalIds)
            .Eq("email", "email", q.Email);
        for (var i = 0; i < q.Conditions.Count; i++)
        {
            var (column, op, value) = q.Conditions[i];
            where.Add(op == "eq" ? $"{column} = @f{i}" : $"{column} {db.CaseInsensitiveLike} @f{i}",
                ($"f{i}", op == "eq" ? value : "%" + value.Replace("%", "").Replace("_", "") + "%"));
        }
        await using var c = await db.OpenAsync();
        return (await c.PageAsync(Columns, "customers", where, Sql.OrderBy("created_at", q.Ascending), limit, offset, Read)).Response();
    }
}
