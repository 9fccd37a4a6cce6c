using System.Globalization;
using System.Text;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Wallets;

/// <summary>One entry of a statement: credits are signed (+ credit, − debit), and the balance is the one it left.</summary>
public sealed record StatementEntryDto(
    string Id, DateTimeOffset CompletedAt, string Type, string Kind, string TransactionReason, string? Description, string? ReferenceType,
    string? ReferenceId, decimal Credits, decimal Amount, decimal BalanceAfter);

/// <summary>Credits in and out of one kind or reason over the statement's period.</summary>
public sealed record StatementTotalDto(string Name, int Count, decimal CreditsIn, decimal CreditsOut);

/// <summary>
/// A wallet's statement for (<c>from</c>, <c>to</c>]: the balance at <c>from</c>, every entry completed after it and by
/// <c>to</c> in the order they completed, totals by kind and by reason, the credits that expired, and the balance at
/// <c>to</c>, which is the opening balance plus the credits in less the credits out. Currency figures are the credits
/// at the wallet's conversion rate; an entry's <c>amount</c> is its own.
/// </summary>
public sealed record StatementDto(
    string WalletId, string WalletName, string Currency, decimal ConversionRate, DateTimeOffset From, DateTimeOffset To,
    decimal OpeningBalance, decimal OpeningBalanceAmount, decimal CreditsIn, decimal CreditsOut, decimal ExpiredCredits,
    decimal ClosingBalance, decimal ClosingBalanceAmount,
    IReadOnlyList<StatementTotalDto> ByKind, IReadOnlyList<StatementTotalDto> ByReason, IReadOnlyList<StatementEntryDto> Entries);

/// <summary>
/// <c>GET /v1/wallets/{id}/statement</c>: JSON, CSV (<c>format=csv</c> or <c>Accept: text/csv</c>) or PDF (<c>format=pdf</c> or
/// <c>Accept: application/pdf</c>).
/// </summary>
public static class Statements
{
    /// <summary>At most this many entries in one statement; a longer period is asked for in parts.</summary>
    public const int MaxEntries = 100_000;

    public static void MapStatements(this RouteGroupBuilder wallets) =>
        wallets.MapGet("/{id}/statement", Get).WithName("getWalletStatement")
            .WithSummary("Coffer: the wallet's statement for (from, to]: opening balance, every entry, totals by kind and reason, expiries, closing balance; JSON, CSV or PDF")
            .Produces<StatementDto>(200, "application/json")
            // The same 200 as a CSV or PDF file (format=csv|pdf, or the Accept header).
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                if (operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content is { } content)
                {
                    content["text/csv"] = new Microsoft.OpenApi.OpenApiMediaType { Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String } };
                    content["application/pdf"] = new Microsoft.OpenApi.OpenApiMediaType
                    {
                        Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, Format = "binary" },
                    };
                }
                return Task.CompletedTask;
            });

    /// <param name="from">The period's start (RFC 3339); the opening balance is the balance at it. Default: 30 days before <c>to</c>.</param>
    /// <param name="to">The period's end (RFC 3339, not in the future). Default: now.</param>
    /// <param name="format"><c>json</c> (default), <c>csv</c> or <c>pdf</c>.</param>
    static async Task<Results<Ok<StatementDto>, FileContentHttpResult, ApiError>> Get(
        Tenant tenant, string id, WalletStore store, TimeProvider clock, HttpRequest http, string? from = null, string? to = null, string? format = null)
    {
        var v = new Validator();
        var now = clock.GetUtcNow();
        var end = v.Time("to", to) ?? now;
        var start = v.Time("from", from) ?? end.AddDays(-30);
        var accept = http.Headers.Accept.ToString();
        var kind = v.OneOf("format", format, new HashSet<string> { "json", "csv", "pdf" })
            ?? (accept.Contains("text/csv", StringComparison.OrdinalIgnoreCase) ? "csv"
                : accept.Contains("application/pdf", StringComparison.OrdinalIgnoreCase) ? "pdf" : "json");
        if (end > now) v.Fail("to must not be in the future");
        if (start >= end) v.Fail("from must be before to");
        if (!v.Ok) return v.Error();
        var (statement, tooLong) = await store.StatementAsync(tenant.Id, id, start, end);
        if (tooLong) return ApiError.Validation($"the period holds more than {MaxEntries} entries; ask for a shorter one");
        if (statement is null) return ApiError.NotFound("wallet");
        if (kind == "json") return TypedResults.Ok(statement);
        return File(statement, kind);
    }

    /// <summary>The statement as the file a download gives: <c>csv</c> or <c>pdf</c>.</summary>
    public static FileContentHttpResult File(StatementDto statement, string format)
    {
        var name = $"{statement.WalletId}-statement-{statement.From.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}-{statement.To.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}";
        return format == "csv"
            ? TypedResults.File(Encoding.UTF8.GetBytes(Csv(statement)), "text/csv; charset=utf-8", name + ".csv")
            : TypedResults.File(StatementPdf.Render(statement, statement.WalletName), "application/pdf", name + ".pdf");
    }

    /// <summary>Days of the statement the dashboard and the portal offer for download: the last 30, to now.</summary>
    public const int DownloadDays = 30;

    /// <summary>
    /// The dashboard's and the portal's download: the last <see cref="DownloadDays"/> days as CSV or PDF; null when there is
    /// no such wallet (the caller has checked who may see it).
    /// </summary>
    public static async Task<IResult?> DownloadAsync(WalletStore store, TimeProvider clock, string tenantId, string walletId, string format)
    {
        var to = clock.GetUtcNow();
        var (statement, tooLong) = await store.StatementAsync(tenantId, walletId, to.AddDays(-DownloadDays), to);
        if (tooLong) return Results.Text($"The last {DownloadDays} days hold more than {MaxEntries} entries: download them through the API in shorter periods.\r\n",
            "text/plain; charset=utf-8", statusCode: 400);
        return statement is null ? null : File(statement, format);
    }

    /// <summary>Builds a statement from the balances at both ends and the entries between; the closing balance is checked against them.</summary>
    public static StatementDto Build(WalletRow wallet, DateTimeOffset from, DateTimeOffset to, decimal opening, decimal closing,
        IReadOnlyList<(string Id, DateTimeOffset CompletedAt, string Type, string Reason, string? Description, string? ReferenceType, string? ReferenceId,
            decimal Credits, decimal Amount)> entries)
    {
        var running = opening;
        var rows = new List<StatementEntryDto>(entries.Count);
        foreach (var e in entries)
        {
            var signed = e.Type == TransactionTypes.Credit ? e.Credits : -e.Credits;
            running += signed;
            rows.Add(new StatementEntryDto(e.Id, e.CompletedAt, e.Type, TransactionKinds.Of(e.Type, e.Reason), e.Reason, e.Description, e.ReferenceType,
                e.ReferenceId, signed, e.Amount, running));
        }
        var creditsIn = rows.Where(r => r.Credits > 0).Sum(r => r.Credits);
        var creditsOut = -rows.Where(r => r.Credits < 0).Sum(r => r.Credits);
        // The two balances come from the ledger at each instant, the entries from the period: they must agree.
        if (opening + creditsIn - creditsOut != closing)
            throw new InvalidOperationException($"wallet {wallet.Id}: statement does not balance: {opening} + {creditsIn} - {creditsOut} != {closing}");
        static List<StatementTotalDto> Totals(IEnumerable<IGrouping<string, StatementEntryDto>> groups) =>
            groups.OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new StatementTotalDto(g.Key, g.Count(), g.Where(r => r.Credits > 0).Sum(r => r.Credits), -g.Where(r => r.Credits < 0).Sum(r => r.Credits)))
                .ToList();
        return new StatementDto(wallet.Id, wallet.Name, wallet.Currency, wallet.ConversionRate, from, to,
            opening, Money.AmountForCredits(opening, wallet.ConversionRate), creditsIn, creditsOut,
            -rows.Where(r => r.TransactionReason == Reasons.CreditExpired).Sum(r => r.Credits),
            closing, Money.AmountForCredits(closing, wallet.ConversionRate),
            Totals(rows.GroupBy(r => r.Kind)), Totals(rows.GroupBy(r => r.TransactionReason)), rows);
    }

    static readonly string[] CsvColumns =
        ["Completed", "Transaction id", "Type", "Kind", "Reason", "Description", "Reference type", "Reference id", "Credits", "Amount", "Currency", "Balance"];

    /// <summary>RFC 4180 CSV (CRLF, quotes doubled): an opening row, one row per entry with the balance it left, a closing row.</summary>
    public static string Csv(StatementDto s)
    {
        var currency = s.Currency.ToUpperInvariant();
        static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        static string N(decimal d) => Money.Normalize(d).ToString(CultureInfo.InvariantCulture);
        static string Signed(decimal d) => d > 0 ? "+" + N(d) : N(d);
        var sb = new StringBuilder();
        void Row(params string[] cells) => sb.Append(string.Join(",", cells.Select(Quote))).Append("\r\n");
        Row(CsvColumns);
        Row(Iso(s.From), "", "", "", "OPENING_BALANCE", "", "", "", "", N(s.OpeningBalanceAmount), currency, N(s.OpeningBalance));
        foreach (var e in s.Entries)
            Row(Iso(e.CompletedAt), e.Id, e.Type, e.Kind, e.TransactionReason, Text(e.Description), Text(e.ReferenceType), Text(e.ReferenceId),
                Signed(e.Credits), N(e.Amount), currency, N(e.BalanceAfter));
        Row(Iso(s.To), "", "", "", "CLOSING_BALANCE", "", "", "", "", N(s.ClosingBalanceAmount), currency, N(s.ClosingBalance));
        return sb.ToString();
    }

    static string Quote(string cell) => CsvCells.Quote(cell);

    static string Text(string? text) => CsvCells.Text(text);
}
