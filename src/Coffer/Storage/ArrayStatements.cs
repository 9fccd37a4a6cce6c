using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Coffer.Storage;

/// <summary>
/// PostgreSQL: the rows one statement text writes many times in a batch (an entry, an allocation, an event and a key
/// record per debit; a balance and a lot per wallet) go as one statement over arrays: <c>INSERT … SELECT … FROM
/// unnest(@a0, @a1, …)</c>, or <c>UPDATE … FROM unnest(…) WHERE …</c>. PostgreSQL runs each statement of a pipelined
/// batch through its own bind, plan and executor start; at two thousand debits a batch that was most of its write time.
/// The text does not depend on the number of rows, so it is prepared once.
/// <para>
/// Rows only move later, to the place of the next statement that names their table (or the batch's end), so every
/// statement that reads or writes a table sees the rows written before it, as it did. No table has triggers or foreign
/// keys, so a statement that does not name a table cannot observe it. An UPDATE's rows merge only when their WHERE is
/// equalities of columns to parameters (and terms without parameters) and no two rows give the same parameters: then
/// no row of the table is matched by two of them, and the order they ran in could not matter.
/// </para>
/// </summary>
public static partial class ArrayStatements
{
    /// <summary>
    /// A plain single-row <c>INSERT INTO t (…) VALUES (…)</c> (Values: each value's expression), or an
    /// <c>UPDATE t SET … WHERE …</c> (Set and Where as written; Keys: the parameters its WHERE compares columns to).
    /// </summary>
    sealed record Shape(string Table, Regex NamesTable, string? Columns, string[] Values, string? Set, string? Where, string[] Keys);

    static readonly ConcurrentDictionary<string, Shape?> Shapes = new(StringComparer.Ordinal);

    /// <summary>Texts whose shape is kept; past it a text is parsed each time (texts that vary, as a list of ids, stay few).</summary>
    const int MaxShapes = 1024;

    /// <summary>Rows below this go as they are: two statements cost less than building arrays.</summary>
    const int MinRows = 2;

    [GeneratedRegex(@"^\s*INSERT\s+INTO\s+(\w+)\s*\(([^()]*)\)\s*VALUES\s*\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InsertHead();

    [GeneratedRegex(@"^\s*UPDATE\s+(\w+)\s+SET\s+(.+?)\s+WHERE\s+(.+?)\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex UpdateShape();

    [GeneratedRegex(@"\b(SELECT|FROM|RETURNING|OR|WITH)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NotPlain();

    [GeneratedRegex(@"^\s*(\w+)\s*=\s*@(\w+)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex ColumnEqualsParameter();

    [GeneratedRegex(@"\s+AND\s+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex And();

    [GeneratedRegex(@"@(\w+)", RegexOptions.CultureInvariant)]
    private static partial Regex Parameter();

    /// <summary>The statements to send, rows of one text merged where that keeps every statement's view of its tables.</summary>
    public static List<(string Sql, (string, object?)[] Args)> Merge(IReadOnlyList<(string Sql, (string, object?)[] Args)> statements)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (sql, _) in statements)
            if (ShapeOf(sql) is not null) counts[sql] = counts.GetValueOrDefault(sql) + 1;
        if (!counts.Values.Any(n => n >= MinRows)) return [.. statements];

        var output = new List<(string, (string, object?)[])>(statements.Count);
        // Rows waiting, by text, in the order their first row came.
        var waiting = new List<(string Sql, Shape Shape, List<(string, object?)[]> Rows)>();
        foreach (var statement in statements)
        {
            var shape = counts.GetValueOrDefault(statement.Sql) >= MinRows ? ShapeOf(statement.Sql) : null;
            for (var i = 0; i < waiting.Count; i++)
            {
                var w = waiting[i];
                if (w.Sql == statement.Sql || !w.Shape.NamesTable.IsMatch(statement.Sql)) continue;
                Emit(output, w.Sql, w.Shape, w.Rows);
                waiting.RemoveAt(i--);
            }
            if (shape is null) { output.Add(statement); continue; }
            var index = waiting.FindIndex(w => w.Sql == statement.Sql);
            if (index < 0) waiting.Add((statement.Sql, shape, [statement.Args]));
            else waiting[index].Rows.Add(statement.Args);
        }
        foreach (var w in waiting) Emit(output, w.Sql, w.Shape, w.Rows);
        return output;
    }

    static void Emit(List<(string, (string, object?)[])> output, string sql, Shape shape, List<(string, object?)[]> rows)
    {
        if (rows.Count >= MinRows && Unnest(shape, rows) is { } merged) output.Add(merged);
        else foreach (var args in rows) output.Add((sql, args));
    }

    /// <summary>
    /// One statement for all the rows, each parameter an array of its values. A parameter null in every row is written
    /// as <c>NULL</c> (an array needs an element type, and a null has none). Null for rows that do not fit an array
    /// (a parameter whose values differ in type, names that differ between rows, two UPDATE rows on the same key),
    /// which then go one by one.
    /// </summary>
    static (string, (string, object?)[])? Unnest(Shape shape, List<(string Name, object? Value)[]> rows)
    {
        var names = rows[0].Select(a => a.Name).ToArray();
        foreach (var row in rows)
        {
            if (row.Length != names.Length) return null;
            for (var p = 0; p < names.Length; p++)
                if (row[p].Name != names[p]) return null;
        }
        if (shape.Set is not null && !KeysAreDistinct(shape, names, rows)) return null;
        var arrays = new (string, object?)[names.Length];
        var column = new Dictionary<string, string>(StringComparer.Ordinal);
        var used = 0;
        for (var p = 0; p < names.Length; p++)
        {
            var values = rows.Select(r => Sql.ToDb(r[p].Value, sqlite: false)).ToArray();
            var array = ArrayOf(values);
            if (array is null)
            {
                if (values.Any(v => v is not DBNull)) return null;
                column[names[p]] = "NULL";
                continue;
            }
            column[names[p]] = "u.c" + used;
            arrays[used] = ("a" + used, array);
            used++;
        }
        if (used == 0) return null;
        string Bound(string expression) =>
            Parameter().Replace(expression, m => column.TryGetValue(m.Groups[1].Value, out var c) ? c : m.Value);

        var text = new StringBuilder();
        if (shape.Set is null)
            text.Append("INSERT INTO ").Append(shape.Table).Append(" (").Append(shape.Columns).Append(") SELECT ")
                .AppendJoin(", ", shape.Values.Select(Bound));
        else text.Append("UPDATE ").Append(shape.Table).Append(" SET ").Append(Bound(shape.Set));
        text.Append(" FROM unnest(");
        for (var a = 0; a < used; a++) text.Append(a > 0 ? ", @a" : "@a").Append(a);
        text.Append(") AS u(");
        for (var a = 0; a < used; a++) text.Append(a > 0 ? ", c" : "c").Append(a);
        text.Append(')');
        if (shape.Where is not null) text.Append(" WHERE ").Append(Bound(shape.Where));
        return (text.ToString(), arrays[..used]);
    }

    static bool KeysAreDistinct(Shape shape, string[] names, List<(string Name, object? Value)[]> rows)
    {
        var positions = shape.Keys.Select(k => Array.IndexOf(names, k)).ToArray();
        if (positions.Any(p => p < 0)) return false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            // Values as the database receives them, separated by a character no id holds.
            var key = string.Join('\u0001', positions.Select(p => Convert.ToString(Sql.ToDb(row[p].Value, sqlite: false), System.Globalization.CultureInfo.InvariantCulture)));
            if (!seen.Add(key)) return false;
        }
        return true;
    }

    /// <summary>The values as a typed array (nulls kept), or null when they are all null or not of one supported type.</summary>
    static Array? ArrayOf(object[] values)
    {
        var type = values.FirstOrDefault(v => v is not DBNull)?.GetType();
        if (type is null || values.Any(v => v is not DBNull && v.GetType() != type)) return null;
        if (type == typeof(string)) return values.Select(v => v as string).ToArray();
        if (type == typeof(long)) return values.Select(v => v is long x ? x : (long?)null).ToArray();
        if (type == typeof(int)) return values.Select(v => v is int x ? x : (int?)null).ToArray();
        if (type == typeof(decimal)) return values.Select(v => v is decimal x ? x : (decimal?)null).ToArray();
        if (type == typeof(byte[])) return values.Select(v => v as byte[]).ToArray();
        return null;
    }

    static Shape? ShapeOf(string sql) =>
        Shapes.TryGetValue(sql, out var shape) ? shape : Shapes.Count < MaxShapes ? Shapes.GetOrAdd(sql, Parse) : Parse(sql);

    static Shape? Parse(string sql) => ParseInsert(sql) ?? ParseUpdate(sql);

    static Regex Names(string table) => new($@"\b{Regex.Escape(table)}\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>The shape of a single-row INSERT with nothing after its values (no ON CONFLICT, no RETURNING); else null.</summary>
    static Shape? ParseInsert(string sql)
    {
        var head = InsertHead().Match(sql);
        if (!head.Success) return null;
        var values = new List<string>();
        var depth = 0;
        var start = head.Length;
        var quoted = false;
        for (var i = head.Length; i < sql.Length; i++)
        {
            var ch = sql[i];
            if (quoted) { if (ch == '\'') quoted = false; continue; }
            if (ch == '\'') quoted = true;
            else if (ch == '(') depth++;
            else if (ch == ')' && depth > 0) depth--;
            else if (ch == ',' && depth == 0) { values.Add(sql[start..i].Trim()); start = i + 1; }
            else if (ch == ')')
            {
                values.Add(sql[start..i].Trim());
                if (sql[(i + 1)..].Trim().Length > 0) return null;
                var table = head.Groups[1].Value;
                var columns = head.Groups[2].Value.Trim();
                if (columns.Split(',').Length != values.Count || values.Any(v => NotPlain().IsMatch(v))) return null;
                return new Shape(table, Names(table), columns, [.. values], null, null, []);
            }
        }
        return null;
    }

    /// <summary>
    /// The shape of an <c>UPDATE t SET … WHERE …</c> whose WHERE is terms joined by AND, each either a column equal to
    /// a parameter or free of parameters, with no subquery, FROM, OR or RETURNING anywhere; else null.
    /// </summary>
    static Shape? ParseUpdate(string sql)
    {
        var m = UpdateShape().Match(sql);
        if (!m.Success || NotPlain().IsMatch(sql)) return null;
        var keys = new List<string>();
        foreach (var term in And().Split(m.Groups[3].Value))
        {
            if (term.Contains('(') || term.Contains(')')) return null;
            if (ColumnEqualsParameter().Match(term) is { Success: true } equal) keys.Add(equal.Groups[2].Value);
            else if (Parameter().IsMatch(term)) return null;
        }
        if (keys.Count == 0) return null;
        var table = m.Groups[1].Value;
        return new Shape(table, Names(table), null, [], m.Groups[2].Value.Trim(), m.Groups[3].Value.Trim(), [.. keys]);
    }
}
