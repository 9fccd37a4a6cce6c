using Coffer.Dashboard;

namespace Coffer.Tests;

/// <summary>The production count, which the suite's hosts replace with a cheaper one to save CPU.</summary>
public sealed class PasswordHashingTests
{
    [Fact]
    public void APasswordIsHashedWithSixHundredThousandIterationsAndEachHashIsCheckedWithItsOwnCount()
    {
        var hash = new PasswordHashing().Hash("correct horse");
        Assert.StartsWith("pbkdf2-sha256$600000$", hash);
        Assert.True(PasswordHashing.Verify("correct horse", hash));
        Assert.False(PasswordHashing.Verify("correct hors", hash));

        // A hash made with another count (an older build, or the suite's hosts) is checked with that count.
        var cheap = new PasswordHashing(iterations: 1_000).Hash("correct horse");
        Assert.StartsWith("pbkdf2-sha256$1000$", cheap);
        Assert.True(PasswordHashing.Verify("correct horse", cheap));
        Assert.False(PasswordHashing.Verify("correct horse", "pbkdf2-sha256$x$AAAA$AAAA"));
    }
}
