using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Coffer.Invoices;

namespace Coffer.Tests;

/// <summary>
/// Reads the rendered invoices back with an independent PDF reader, poppler's pdftotext and pdfinfo
/// (Debian package poppler-utils), so a malformed file or misplaced text fails here rather than in a customer's viewer.
/// </summary>
public sealed class InvoicePdfTests
{
    static InvoicePdfModel Invoice(IReadOnlyList<InvoicePdfLine> lines, string currency = "usd", decimal total = 12.5m) => new(
        "Acme Tools Ltd", "INV-2024-0042", "finalized", "pending", currency,
        "Jane Doe", "jane@example.com", "12 High Street\nSpringfield", new DateTimeOffset(2025, 3, 14, 23, 30, 0, TimeSpan.FromHours(-2)),
        new DateTimeOffset(2025, 4, 13, 0, 0, 0, TimeSpan.Zero), lines, total, total, 2.5m, total - 2.5m);

    [Fact]
    public void The_text_holds_the_header_the_customer_every_line_and_the_totals()
    {
        var pdf = InvoicePdf.Render(Invoice([new("Starter credits", 1m, 10m), new("Top-up fee", 2.5m, 2.5m)]));

        Assert.StartsWith("%PDF-1.4", Encoding.ASCII.GetString(pdf, 0, 8));
        AssertXrefPointsAtObjects(pdf);
        Assert.Equal(1, Pages(pdf));
        var text = Text(pdf);
        foreach (var expected in new[] {
            "Acme Tools Ltd", "Invoice INV-2024-0042", "finalized", "pending", "Issued: 2025-03-15", "Due: 2025-04-13",
            "Bill to", "Jane Doe", "jane@example.com", "12 High Street", "Springfield", "Starter credits", "Top-up fee",
            "USD 10.00", "USD 2.50", "Subtotal", "Total", "USD 12.50", "Amount paid", "Amount remaining", "USD 10.00" })
            Assert.Contains(expected, text);
    }

    [Theory]
    [InlineData("jpy", 1500.4, "JPY 1,500")]
    [InlineData("kwd", 1.2345, "KWD 1.235")]
    [InlineData("eur", 1234567.005, "EUR 1,234,567.01")]
    public void Amounts_show_the_currency_code_and_its_minor_units(string currency, decimal total, string expected)
    {
        var text = Text(InvoicePdf.Render(Invoice([new("Credits", 1m, total)], currency, total)));
        Assert.Contains(expected, text);
    }

    [Fact]
    public void A_long_invoice_continues_on_further_pages_with_every_line_and_the_totals_at_the_end()
    {
        var lines = Enumerable.Range(1, 120).Select(i => new InvoicePdfLine($"Usage item {i:D3}", i, i * 0.25m)).ToList();
        var pdf = InvoicePdf.Render(Invoice(lines, total: lines.Sum(l => l.Amount)));

        AssertXrefPointsAtObjects(pdf);
        var pages = Pages(pdf);
        Assert.True(pages >= 2, $"{pages} page(s)");
        var text = Text(pdf);
        var pageTexts = text.Split('\f');
        Assert.Equal(pages + 1, pageTexts.Length); // pdftotext ends every page with a form feed
        for (var i = 1; i <= 120; i++) Assert.Contains($"Usage item {i:D3}", text);
        Assert.Contains("USD 1,815.00", pageTexts[^2]);
        Assert.Contains($"page {pages} of {pages}", pageTexts[^2]);
        Assert.All(pageTexts[..^1], page => Assert.Contains("Description", page)); // the table header repeats
    }

    [Fact]
    public void Parentheses_backslashes_and_non_ascii_text_neither_break_the_file_nor_vanish()
    {
        var pdf = InvoicePdf.Render(Invoice([
            new(@"Credits (promo) \ bonus ) unbalanced ( \\n", 1m, 5m),
            new("Café Zürich – 10€ “quoted” Łódź Ő", 1m, 5m),
            new("日本語 emoji 😀 tab\there\u0000nul", 1m, 2.5m)]));

        AssertXrefPointsAtObjects(pdf);
        Assert.Equal(1, Pages(pdf));
        var text = Text(pdf);
        Assert.Contains(@"Credits (promo) \ bonus ) unbalanced ( \\n", text);
        Assert.Contains("Café Zürich – 10€ “quoted” Lódz O", text);
        Assert.Contains("??? emoji ? tab here nul", text);
    }

    [Fact]
    public void A_description_too_long_for_its_column_wraps_inside_it()
    {
        var words = string.Join(" ", Enumerable.Range(1, 60).Select(i => $"word{i}")) + " " + new string('W', 120);
        var pdf = InvoicePdf.Render(Invoice([new(words, 3m, 12.5m)]));

        var boxes = Words(pdf);
        var descriptionWords = boxes.Where(b => b.Word.StartsWith("word", StringComparison.Ordinal) || b.Word.StartsWith('W')).ToList();
        Assert.Equal(60, descriptionWords.Count(b => b.Word.StartsWith("word", StringComparison.Ordinal)));
        Assert.True(descriptionWords.Select(b => b.Top).Distinct().Count() > 3);
        Assert.All(descriptionWords, b => Assert.True(b.Right <= 351, $"{b.Word} ends at {b.Right}"));
        Assert.Equal(120, string.Concat(descriptionWords.Where(b => b.Word.StartsWith('W')).Select(b => b.Word)).Length);
        // right-aligned columns end at the right margin, which also checks the width table against poppler's
        Assert.All(boxes.Where(b => b.Word is "12.50"), b => Assert.InRange(b.Right, 544m, 546m));
    }

    static void AssertXrefPointsAtObjects(byte[] pdf)
    {
        var raw = Encoding.Latin1.GetString(pdf);
        var start = int.Parse(Regex.Match(raw, @"startxref\n(\d+)\n%%EOF\n$").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.StartsWith("xref\n", raw[start..]);
        var entries = Regex.Matches(raw[start..], @"(\d{10}) 00000 n \n");
        Assert.NotEmpty(entries);
        for (var i = 0; i < entries.Count; i++)
            Assert.StartsWith($"{i + 1} 0 obj", raw[int.Parse(entries[i].Groups[1].Value, CultureInfo.InvariantCulture)..]);
    }

    internal static int Pages(byte[] pdf)
    {
        var info = Run("pdfinfo", pdf);
        return int.Parse(Regex.Match(info, @"^Pages:\s+(\d+)$", RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    internal static string Text(byte[] pdf) => Run("pdftotext", pdf, "-enc", "UTF-8");

    static List<(string Word, decimal Right, decimal Top)> Words(byte[] pdf) =>
        Regex.Matches(Run("pdftotext", pdf, "-bbox", "-enc", "UTF-8"),
                @"<word xMin=""[\d.]+"" yMin=""([\d.]+)"" xMax=""([\d.]+)"" yMax=""[\d.]+"">([^<]*)</word>")
            .Select(m => (m.Groups[3].Value, decimal.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                decimal.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)))
            .ToList();

    /// <summary>Runs a poppler tool on the PDF; it must exit 0 and say nothing on stderr (poppler reports every syntax problem there).</summary>
    static string Run(string tool, byte[] pdf, params string[] options)
    {
        var file = Path.Combine(Path.GetTempPath(), $"coffer-invoice-{Guid.NewGuid():N}.pdf");
        File.WriteAllBytes(file, pdf);
        try
        {
            var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, StandardOutputEncoding = Encoding.UTF8 };
            foreach (var option in options) start.ArgumentList.Add(option);
            start.ArgumentList.Add(file);
            if (tool == "pdftotext") start.ArgumentList.Add("-");
            Process process;
            try { process = Process.Start(start)!; }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException($"{tool} is missing: install Debian's poppler-utils", e);
            }
            using (process)
            {
                var stderr = process.StandardError.ReadToEndAsync();
                var stdout = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                Assert.True(process.ExitCode == 0 && stderr.Result.Length == 0, $"{tool} exit {process.ExitCode}: {stderr.Result}");
                return stdout;
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
