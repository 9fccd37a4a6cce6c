namespace Coffer.Common;

/// <summary>Cells of the CSV files Coffer writes (the dashboard's transactions, statements): RFC 4180, safe to open in a spreadsheet.</summary>
public static class CsvCells
{
    public static string Quote(string cell) =>
        cell.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;

    /// <summary>
    /// Free text a merchant's API calls wrote: a leading = + - @ would make a spreadsheet run it as a formula,
    /// so such a cell starts with an apostrophe (OWASP's advice for CSV injection).
    /// </summary>
    public static string Text(string? text) =>
        text is { Length: > 0 } s && s[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + s : text ?? "";
}
