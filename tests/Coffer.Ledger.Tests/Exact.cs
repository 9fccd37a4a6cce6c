using System.Numerics;

namespace Coffer.Ledger.Tests;

/// <summary>Decimals as exact integers of a chosen unit, so products are checked without decimal's 28-digit rounding.</summary>
static class Exact
{
    /// <summary><paramref name="value"/> × 10^<paramref name="places"/>; throws when the value is finer than that.</summary>
    public static BigInteger Units(decimal value, int places)
    {
        var bits = decimal.GetBits(value);
        var mantissa = (new BigInteger((uint)bits[2]) << 64) | (new BigInteger((uint)bits[1]) << 32) | (uint)bits[0];
        if ((bits[3] & int.MinValue) != 0) mantissa = -mantissa;
        var scale = (bits[3] >> 16) & 0x7F;
        if (scale <= places) return mantissa * BigInteger.Pow(10, places - scale);
        var whole = BigInteger.DivRem(mantissa, BigInteger.Pow(10, scale - places), out var rest);
        if (rest != 0) throw new ArgumentException($"{value} is finer than {places} places");
        return whole;
    }

    /// <summary>The decimal of <paramref name="units"/> × 10^-<paramref name="places"/> (|units| &lt; 2^96).</summary>
    public static decimal FromUnits(BigInteger units, int places)
    {
        var magnitude = BigInteger.Abs(units);
        var mask = (BigInteger.One << 32) - 1;
        return new decimal((int)(uint)(magnitude & mask), (int)(uint)((magnitude >> 32) & mask), (int)(uint)(magnitude >> 64),
            units.Sign < 0, (byte)places);
    }

    /// <summary>The exact value of credits × rate, truncated to <paramref name="minorUnits"/> places, in minor units.</summary>
    public static BigInteger MinorUnitsCovered(decimal credits, decimal rate, int minorUnits) =>
        Units(credits, Money.CreditScale) * Units(rate, Money.RateScale) / BigInteger.Pow(10, Money.CreditScale + Money.RateScale - minorUnits);
}
