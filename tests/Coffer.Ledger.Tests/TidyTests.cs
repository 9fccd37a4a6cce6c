using System.Text.RegularExpressions;

namespace Coffer.Ledger.Tests;

/// <summary>
/// DESIGN.md 4.7 and 4.8 as a source scan: money is exact (<c>decimal</c>, never <c>double</c>/<c>float</c>) and
/// time comes from the injected <see cref="TimeProvider"/>, never from the system clock.
/// </summary>
public sealed partial class TidyTests
{
    [GeneratedRegex(@"\b(double|float)\b")]
    private static partial Regex BinaryFloatingPoint();

    [GeneratedRegex(@"\b(DateTime|DateTimeOffset)\.(UtcNow|Now)\b")]
    private static partial Regex SystemClock();

    [Fact]
    public void Source_uses_neither_binary_floating_point_nor_the_system_clock()
    {
        var src = Path.Combine(RepoRoot(), "src");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !IsBuildOutput(Path.GetRelativePath(src, f)))
            .ToList();
        Assert.NotEmpty(files);

        var offenders = new List<string>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (var rule in new[] { BinaryFloatingPoint(), SystemClock() })
                {
                    var match = rule.Match(lines[i]);
                    if (match.Success)
                        offenders.Add($"{Path.GetRelativePath(RepoRoot(), file)}:{i + 1}: `{match.Value}` in: {lines[i].Trim()}");
                }
            }
        }

        Assert.True(offenders.Count == 0,
            "money must be decimal and time must come from the injected TimeProvider:" + Environment.NewLine +
            string.Join(Environment.NewLine, offenders));
    }

    static bool IsBuildOutput(string relativePath) =>
        relativePath.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Any(part => part is "bin" or "obj");

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Coffer.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Coffer.slnx above {AppContext.BaseDirectory}");
    }
}
