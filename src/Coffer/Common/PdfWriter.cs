// A small hand-written PDF 1.4 writer rather than a library: the standard Helvetica fonts need no font files, so it runs
// on a headless machine with no dependency, whereas PDFsharp on Linux needs fonts shipped and resolved, and QuestPDF's licence has revenue terms.
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Coffer.Common;

/// <summary>A4 pages in the built-in Helvetica fonts (WinAnsiEncoding): what the invoice and statement PDFs are written with.</summary>
public static class PdfWriter
{
    public const int PageWidth = 595, PageHeight = 842, Margin = 50, Bottom = 60, Right = PageWidth - Margin, RowLeading = 13;
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public enum Font { Regular, Bold }

    /// <summary>One content stream per page; <see cref="Y"/> is the top of the space left on the current page.</summary>
    public sealed class Layout
    {
        public List<StringBuilder> Pages { get; } = [new()];
        public int Y { get; private set; } = PageHeight - Margin;
        public Action? OnNewPage { get; set; }

        /// <summary>Starts a new page unless <paramref name="height"/> points still fit on this one.</summary>
        public void Keep(int height)
        {
            if (Y - height >= Bottom) return;
            Pages.Add(new StringBuilder());
            Y = PageHeight - Margin;
            OnNewPage?.Invoke();
        }

        /// <summary>Reserves a line of <paramref name="leading"/> points and returns its baseline.</summary>
        public int Next(int leading) { Keep(leading); return Y -= leading; }

        public void Space(int points) => Y -= points;

        public void Paragraph(Font font, int size, string? text, int leading)
        {
            foreach (var row in Wrap(Encode(text), font, size, Right - Margin)) Text(font, size, Margin, Next(leading), row, encoded: true);
        }

        public void Text(Font font, int size, decimal x, int y, string text, bool encoded = false) =>
            Pages[^1].Append(TextOp(font, size, x, y, encoded ? text : Encode(text)));

        public void TextRight(Font font, int size, int right, int y, string text)
        {
            var encoded = Encode(text);
            Pages[^1].Append(TextOp(font, size, right - Width(encoded, font, size), y, encoded));
        }

        public void Rule(int y) => Pages[^1].Append(CultureInfo.InvariantCulture, $"0.5 w {Margin} {y} m {Right} {y} l S\n");
    }

    public static string TextOp(Font font, int size, decimal x, int y, string encoded) =>
        string.Create(Inv, $"BT /{(font == Font.Bold ? "F2" : "F1")} {size} Tf {x:0.###} {y} Td {Literal(encoded)} Tj ET\n");

    /// <summary>A PDF string literal, kept ASCII: ( ) \ escaped, every other code outside printable ASCII in octal.</summary>
    static string Literal(string encoded)
    {
        var sb = new StringBuilder("(");
        foreach (var c in encoded)
        {
            if (c is '(' or ')' or '\\') sb.Append('\\').Append(c);
            else if (c < 0x20 || c >= 0x7F) sb.Append('\\').Append(Convert.ToString(c, 8).PadLeft(3, '0'));
            else sb.Append(c);
        }
        return sb.Append(')').ToString();
    }

    /// <summary>Splits at spaces (and inside words longer than a row) so no row is wider than <paramref name="maxWidth"/> points.</summary>
    public static List<string> Wrap(string encoded, Font font, int size, int maxWidth)
    {
        var rows = new List<string>();
        var row = "";
        foreach (var part in encoded.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var word = part;
            var joined = row.Length == 0 ? word : row + " " + word;
            if (Width(joined, font, size) <= maxWidth) { row = joined; continue; }
            if (row.Length > 0) rows.Add(row);
            while (Width(word, font, size) > maxWidth)
            {
                var n = 1;
                while (n < word.Length && Width(word[..(n + 1)], font, size) <= maxWidth) n++;
                rows.Add(word[..n]);
                word = word[n..];
            }
            row = word;
        }
        if (row.Length > 0 || rows.Count == 0) rows.Add(row);
        return rows;
    }

    // Helvetica and Helvetica-Bold advance widths (1/1000 em) for WinAnsi codes 32..126, from the Adobe AFM files.
    static readonly int[] RegularWidths = [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611,
        778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278,
        469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278,
        556, 500, 722, 500, 500, 500, 334, 260, 334, 584];
    static readonly int[] BoldWidths = [278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611,
        778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333,
        584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333,
        611, 556, 778, 556, 556, 500, 389, 280, 389, 584];

    /// <summary>Width in points; codes above 126 count as a full em, never narrower than the real glyph, so rows never overrun.</summary>
    public static decimal Width(string encoded, Font font, int size)
    {
        var widths = font == Font.Bold ? BoldWidths : RegularWidths;
        var total = 0;
        foreach (var c in encoded) total += c is >= ' ' and <= '~' ? widths[c - ' '] : 1000;
        return total * size / 1000m;
    }

    // WinAnsi codes 0x80..0x9F (Windows-1252); '\0' marks the unused codes.
    static readonly Dictionary<int, char> Cp1252 =
        "\u20AC\0\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\0\u017D\0\0\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\0\u017E\u0178"
            .Select((c, i) => (c, i)).Where(p => p.c != '\0').ToDictionary(p => (int)p.c, p => (char)(0x80 + p.i));

    // U+0100..U+017F (Latin Extended-A) without their accents, for the letters Windows-1252 lacks.
    const string LatinExtendedA =
        "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

    /// <summary>Text as WinAnsi codes (one char per byte): accents dropped where Windows-1252 lacks the letter, controls as spaces, anything else '?'.</summary>
    public static string Encode(string? text)
    {
        var sb = new StringBuilder();
        foreach (var rune in (text ?? "").EnumerateRunes())
        {
            var c = rune.Value;
            sb.Append(c switch
            {
                < 0x20 or (>= 0x7F and < 0xA0) => ' ',
                < 0x7F or (>= 0xA0 and <= 0xFF) => (char)c,
                _ when Cp1252.TryGetValue(c, out var code) => code,
                >= 0x100 and < 0x180 => LatinExtendedA[c - 0x100],
                0x2010 or 0x2011 or 0x2012 or 0x2212 => '-',
                0x2007 or 0x2009 or 0x202F => ' ',
                _ => '?',
            });
        }
        return sb.ToString();
    }

    public static byte[] Write(List<StringBuilder> pages, string title)
    {
        var pdf = new MemoryStream();
        var offsets = new List<long>();
        void Raw(string s) => pdf.Write(Encoding.Latin1.GetBytes(s));
        void Obj(string body) { offsets.Add(pdf.Position); Raw($"{offsets.Count} 0 obj\n{body}\nendobj\n"); }

        Raw("%PDF-1.4\n%\u00E2\u00E3\u00CF\u00D3\n");
        var kids = string.Join(" ", pages.Select((_, i) => $"{6 + 2 * i} 0 R"));
        Obj("<< /Type /Catalog /Pages 2 0 R >>");
        Obj($"<< /Type /Pages /Kids [{kids}] /Count {pages.Count} >>");
        Obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
        Obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>");
        Obj($"<< /Title {Literal(title)} /Producer (Coffer) >>");
        foreach (var page in pages) // objects 6, 8, 10... are pages, each followed by its content stream
        {
            Obj($"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PageWidth} {PageHeight}] " +
                $"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {offsets.Count + 2} 0 R >>");
            var packed = new MemoryStream();
            using (var z = new ZLibStream(packed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(Encoding.ASCII.GetBytes(page.ToString()));
            offsets.Add(pdf.Position);
            Raw($"{offsets.Count} 0 obj\n<< /Length {packed.Length} /Filter /FlateDecode >>\nstream\n");
            packed.Position = 0;
            packed.CopyTo(pdf);
            Raw("\nendstream\nendobj\n");
        }

        var xref = pdf.Position;
        var table = new StringBuilder($"xref\n0 {offsets.Count + 1}\n0000000000 65535 f \n");
        foreach (var offset in offsets) table.Append(Inv, $"{offset:D10} 00000 n \n");
        Raw(table.Append(Inv, $"trailer\n<< /Size {offsets.Count + 1} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n").ToString());
        return pdf.ToArray();
    }
}
