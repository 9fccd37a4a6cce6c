using System.Globalization;
using Coffer.Ledger;
using static Coffer.Common.PdfWriter;

namespace Coffer.Invoices;

public sealed record InvoicePdfLine(string Description, decimal Quantity, decimal Amount);

public sealed record InvoicePdfModel(
    string MerchantName, string InvoiceNumber, string InvoiceStatus, string PaymentStatus, string Currency,
    string CustomerName, string? CustomerEmail, string? CustomerAddress, DateTimeOffset IssuedAt, DateTimeOffset? DueDate,
    IReadOnlyList<InvoicePdfLine> Lines, decimal Subtotal, decimal Total, decimal AmountPaid, decimal AmountRemaining);

/// <summary>Renders an invoice as an A4 PDF using the built-in Helvetica fonts (WinAnsiEncoding), paginating long tables.</summary>
public static class InvoicePdf
{
    const int DescriptionWidth = 300, QuantityRight = 420, SummaryLabelX = 330;
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static byte[] Render(InvoicePdfModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var currency = (model.Currency ?? "").Trim().ToUpperInvariant();
        var units = Currencies.MinorUnits(currency);
        string Amount(decimal value) =>
            $"{currency} {Money.RoundToMinorUnit(value, currency).ToString("N" + units.ToString(Inv), Inv)}";
        static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", Inv);

        var doc = new Layout();
        doc.Paragraph(Font.Bold, 18, model.MerchantName, 24);
        doc.Paragraph(Font.Bold, 14, $"Invoice {model.InvoiceNumber}", 20);
        doc.Space(6);
        doc.Paragraph(Font.Regular, 10, $"Status: {model.InvoiceStatus}      Payment status: {model.PaymentStatus}", 14);
        doc.Paragraph(Font.Regular, 10, $"Issued: {Day(model.IssuedAt)}" +
            (model.DueDate is { } due ? $"      Due: {Day(due)}" : ""), 14);
        doc.Space(10);
        doc.Paragraph(Font.Bold, 10, "Bill to", 14);
        doc.Paragraph(Font.Regular, 10, model.CustomerName, 14);
        if (!string.IsNullOrWhiteSpace(model.CustomerEmail)) doc.Paragraph(Font.Regular, 10, model.CustomerEmail, 14);
        foreach (var line in (model.CustomerAddress ?? "").Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries))
            doc.Paragraph(Font.Regular, 10, line, 14);
        doc.Space(14);

        void TableHeader()
        {
            var y = doc.Next(16);
            doc.Text(Font.Bold, 10, Margin, y, "Description");
            doc.TextRight(Font.Bold, 10, QuantityRight, y, "Qty");
            doc.TextRight(Font.Bold, 10, Right, y, "Amount");
            doc.Rule(y - 4);
            doc.Space(4);
        }
        TableHeader();
        doc.OnNewPage = TableHeader;
        foreach (var item in model.Lines ?? [])
        {
            var rows = Wrap(Encode(item.Description), Font.Regular, 10, DescriptionWidth);
            doc.Keep(Math.Min(rows.Count, 4) * RowLeading);
            for (var i = 0; i < rows.Count; i++)
            {
                var y = doc.Next(RowLeading);
                doc.Text(Font.Regular, 10, Margin, y, rows[i], encoded: true);
                if (i > 0) continue;
                doc.TextRight(Font.Regular, 10, QuantityRight, y, item.Quantity.ToString("#,0." + new string('#', 28), Inv));
                doc.TextRight(Font.Regular, 10, Right, y, Amount(item.Amount));
            }
        }
        doc.OnNewPage = null;

        doc.Keep(4 * 15 + 10);
        doc.Rule(doc.Y - 4);
        doc.Space(8);
        foreach (var (label, value, font) in new[] {
            ("Subtotal", model.Subtotal, Font.Regular), ("Total", model.Total, Font.Bold),
            ("Amount paid", model.AmountPaid, Font.Regular), ("Amount remaining", model.AmountRemaining, Font.Bold) })
        {
            var y = doc.Next(15);
            doc.Text(font, 10, SummaryLabelX, y, label);
            doc.TextRight(font, 10, Right, y, Amount(value));
        }

        var pages = doc.Pages;
        for (var p = 0; p < pages.Count; p++)
        {
            var footer = Encode($"Invoice {model.InvoiceNumber} - page {p + 1} of {pages.Count}");
            pages[p].Append(TextOp(Font.Regular, 8, Right - Width(footer, Font.Regular, 8), 35, footer));
        }
        return Write(pages, Encode($"Invoice {model.InvoiceNumber}"));
    }
}
