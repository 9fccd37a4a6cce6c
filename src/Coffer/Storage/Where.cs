using System.Data.Common;
using Coffer.Common;

namespace Coffer.Storage;

/// <summary>
/// A list query's WHERE clause, built from the filters a request gave: each condition with its parameters, joined
/// with AND. Tenant id leads every query, so a builder starts from it.
/// </summary>
public sealed class Where
{
    readonly List<string> _conditions = [];
    readonly List<(string, object?)> _args = [];

    Where() { }

    public static Where Tenant(string tenantId) => new Where().Add("tenant_id = @t", ("t", tenantId));

    public Where Add(string condition, params (string Name, object? Value)[] args)
    {
        _conditions.Add(condition);
        _args.AddRange(args);
        return this;
    }

    /// <summary><c>column = @name</c> when the filter was given; nothing when it was not.</summary>
    public Where Eq(string column, string name, object? value) => value is null ? this : Add($"{column} = @{name}", (name, value));

    /// <summary>See <see cref="Storage.Sql.In"/>.</summary>
    public Where In(string column, string prefix, IReadOnlyList<string>? values)
    {
        Storage.Sql.In(_conditions, _args, column, prefix, values);
        return this;
    }

    /// <summary><c>NOT (column IN (...))</c>: the rows whose value is none of these.</summary>
    public Where NotIn(string column, string prefix, IReadOnlyList<string> values)
    {
        var inList = new List<string>();
        Storage.Sql.In(inList, _args, column, prefix, values);
        _conditions.Add($"NOT ({inList[0]})");
        return this;
    }

    public string Sql => string.Join(" AND ", _conditions);

    public (string, object?)[] Args => [.. _args];
}

/// <summary>One page of a list, how many rows the whole list holds, and the page asked for.</summary>
public sealed record Page<T>(List<T> Items, long Total, int Limit, int Offset)
{
    public ListResponse<T> Response() => new(Items, new Pagination(Total, Limit, Offset));

    public ListResponse<TOut> Response<TOut>(Func<T, TOut> map) => new(Items.Select(map).ToList(), new Pagination(Total, Limit, Offset));
}

public static class Paging
{
    /// <summary>
    /// The count of every matching row, then one page of them. <paramref name="orderBy"/> must end in a unique column
    /// (see <see cref="Sql.OrderBy"/>) so that pages neither overlap nor skip rows.
    /// </summary>
    public static async Task<Page<T>> PageAsync<T>(this DbConnection c, string columns, string table, Where where, string orderBy,
        int limit, int offset, Func<DbDataReader, T> read)
    {
        var args = where.Args;
        var total = await c.ScalarLongAsync(null, $"SELECT COUNT(*) FROM {table} WHERE {where.Sql}", args);
        var items = await c.QueryAsync(null,
            $"SELECT {columns} FROM {table} WHERE {where.Sql} ORDER BY {orderBy} LIMIT @page_limit OFFSET @page_offset",
            read, [.. args, ("page_limit", limit), ("page_offset", offset)]);
        return new Page<T>(items, total, limit, offset);
    }
}
