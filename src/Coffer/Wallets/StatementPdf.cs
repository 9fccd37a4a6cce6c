using System.Globalization;
using Coffer.Ledger;
using static Coffer.Common.PdfWriter;

namespace Coffer.Wallets;

/// <summary>A statement as an A4 PDF: the period, the balances, then every entry with the balance it left, paginated.</summary>
public static class StatementPdf
{
    const int DateRight = 140, ReasonX = 150, CreditsRight = 440, DescriptionWidth = 170;
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static byte[] Render(StatementDto s, string walletName)
    {
        var currency = s.Currency.ToUpperInvariant();
        static string Credits(decimal d) => Money.Normalize(d).ToString("#,0." + new string('#', 12), Inv);
        static string Signed(decimal d) => d > 0 ? "+" + Credits(d) : Credits(d);
        static string When(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv);
        string Amount(decimal d) => $"{currency} {Money.RoundToMinorUnit(d, currency).ToString("N" + Currencies.MinorUnits(currency).ToString(Inv), Inv)}";

        var doc = new Layout();
        doc.Paragraph(Font.Bold, 18, "Wallet statement", 24);
        doc.Paragraph(Font.Regular, 10, $"{walletName} ({s.WalletId}), {currency}", 14);
        doc.Paragraph(Font.Regular, 10, $"Period: after {When(s.From)} to {When(s.To)} UTC", 14);
        doc.Space(10);
        foreach (var (label, credits, font) in new[] {
            ("Opening balance", s.OpeningBalance, Font.Bold), ("Credits in", s.CreditsIn, Font.Regular), ("Credits out", s.CreditsOut, Font.Regular),
            ("of which expired", s.ExpiredCredits, Font.Regular), ("Closing balance", s.ClosingBalance, Font.Bold) })
        {
            var y = doc.Next(15);
            doc.Text(font, 10, Margin, y, label);
            doc.TextRight(font, 10, CreditsRight, y, Credits(credits) + " credits");
            if (label.EndsWith("balance", StringComparison.Ordinal))
                doc.TextRight(font, 10, Right, y, Amount(Money.AmountForCredits(credits, s.ConversionRate)));
        }
        doc.Space(14);

        void TableHeader()
        {
            var y = doc.Next(16);
            doc.Text(Font.Bold, 9, Margin, y, "Completed (UTC)");
            doc.Text(Font.Bold, 9, ReasonX, y, "Entry");
            doc.TextRight(Font.Bold, 9, CreditsRight, y, "Credits");
            doc.TextRight(Font.Bold, 9, Right, y, "Balance");
            doc.Rule(y - 4);
            doc.Space(4);
        }
        TableHeader();
        doc.OnNewPage = TableHeader;
        foreach (var e in s.Entries)
        {
            var what = e.Description is { Length: > 0 } d ? $"{e.TransactionReason}: {d}" : e.TransactionReason;
            var rows = Wrap(Encode(what), Font.Regular, 9, DescriptionWidth + 60);
            doc.Keep(Math.Min(rows.Count, 3) * RowLeading);
            for (var i = 0; i < rows.Count; i++)
            {
                var y = doc.Next(RowLeading);
                doc.Text(Font.Regular, 9, ReasonX, y, rows[i], encoded: true);
                if (i > 0) continue;
                doc.TextRight(Font.Regular, 9, DateRight, y, When(e.CompletedAt));
                doc.TextRight(Font.Regular, 9, CreditsRight, y, Signed(e.Credits));
                doc.TextRight(Font.Regular, 9, Right, y, Credits(e.BalanceAfter));
            }
        }
        if (s.Entries.Count == 0) doc.Paragraph(Font.Regular, 9, "No entry in this period.", 14);
        doc.OnNewPage = null;

        var pages = doc.Pages;
        for (var p = 0; p < pages.Count; p++)
        {
            var footer = Encode($"Statement of {s.WalletId} - page {p + 1} of {pages.Count}");
            pages[p].Append(TextOp(Font.Regular, 8, Right - Width(footer, Font.Regular, 8), 35, footer));
        }
        return Write(pages, Encode($"Statement of {s.WalletId}"));
    }
}
