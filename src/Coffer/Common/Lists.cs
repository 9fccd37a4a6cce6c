namespace Coffer.Common;

// The list and search shapes every feature shares, as Flexprice's API spells them.

public sealed record FilterValue(string? String, decimal? Number, bool? Boolean, string? Date, List<string>? Array);

public sealed record FilterCondition(string? Field, string? Operator, string? DataType, FilterValue? Value);

public sealed record SortCondition(string? Field, string? Direction);

public sealed record Pagination(long Total, int Limit, int Offset);

public sealed record ListResponse<T>(IReadOnlyList<T> Items, Pagination Pagination);
