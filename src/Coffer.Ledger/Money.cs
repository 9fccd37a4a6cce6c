using System.Numerics;

namespace Coffer.Ledger;

/// <summary>Precision and bounds of every amount the ledger accepts, named once.</summary>
public static class Money
{
    /// <summary>Credits keep 12 fractional digits (DESIGN.md asks for at least 9).</summary>
    public const int CreditScale = 12;

    /// <summary>Conversion rates keep up to 12 fractional digits too.</summary>
    public const int RateScale = 12;

    /// <summary>Amounts up to 10^15 work (DESIGN.md 4.7); anything larger is refused at the edge.</summary>
    public const decimal MaxAmount = 1_000_000_000_000_000m;

    /// <summary>
    /// A wallet's balance stays at or below 10^16 credits: beyond about 7.9 × 10^16 a decimal can no longer
    /// hold all <see cref="CreditScale"/> fractional digits, and small amounts would silently vanish.
    /// </summary>
    public const decimal MaxBalance = 10_000_000_000_000_000m;

    public const decimal MaxRate = 1_000_000_000m;

    /// <summary>
    /// Converting a currency amount into credits truncates at <see cref="CreditScale"/>: the customer never
    /// receives, nor is charged, a credit fraction finer than the ledger stores.
    /// </summary>
    public const MidpointRounding CreditRounding = MidpointRounding.ToZero;

    /// <summary>Currency amounts that change hands round half away from zero at the currency's minor unit.</summary>
    public const MidpointRounding CurrencyRounding = MidpointRounding.AwayFromZero;

    public static int Scale(decimal value) => (int)((decimal.GetBits(value)[3] >> 16) & 0x7F);

    /// <summary>The same value without trailing zeros, so "10.500" and "10.5" are one amount on the wire.</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    public static decimal CreditsForAmount(decimal amount, decimal rate)
    {
        var credits = Math.Round(amount / rate, CreditScale, CreditRounding);
        // decimal division keeps 28-29 significant digits and rounds to nearest, which can lift a quotient lying
        // just below a 12th-digit step onto the step; the truncation is of the exact quotient, so step back.
        return Exact(credits) * Exact(rate) > Exact(amount) * Exact(1m) ? credits - Math.Sign(credits) * CreditStep : credits;
    }

    /// <summary>
    /// The fewest credits (on the 12-digit grid) worth at least <paramref name="amount"/>: a wallet paying an
    /// invoice never pays less than it is credited for.
    /// </summary>
    public static decimal CreditsToCover(decimal amount, decimal rate)
    {
        var credits = Math.Round(amount / rate, CreditScale, MidpointRounding.ToPositiveInfinity);
        // Both the quotient and the product are rounded to 28-29 digits; compare the exact product, or a product
        // just below the amount rounds onto it and one credit step too few is taken for enough.
        return Exact(credits) * Exact(rate) < Exact(amount) * Exact(1m) ? credits + CreditStep : credits;
    }

    /// <summary>
    /// The whole minor units of currency that <paramref name="credits"/> (≥ 0) are worth at <paramref name="rate"/>,
    /// truncated: what a wallet paying with them covers.
    /// </summary>
    public static decimal AmountCovered(decimal credits, decimal rate, int minorUnits)
    {
        var amount = Math.Round(credits * rate, minorUnits, MidpointRounding.ToZero);
        // The product is rounded to 28-29 digits before the truncation, which can lift a value just below a minor
        // unit onto it; truncation applies to the exact product, so step back.
        return Exact(amount) * Exact(1m) > Exact(credits) * Exact(rate) ? amount - new decimal(1, 0, 0, false, (byte)minorUnits) : amount;
    }

    /// <summary>The currency value of a credit quantity; kept at credit precision, not rounded to cents.</summary>
    public static decimal AmountForCredits(decimal credits, decimal rate)
    {
        var product = credits * rate;
        var amount = Math.Round(product, CreditScale, CurrencyRounding);
        // Decimal multiplication drops digits only when the product does not fit, and then its scale is less than its
        // factors' together; a product that kept them all is exact, and so is its rounding. That is every debit at a
        // plain rate, and it spares them the big-integer check below, which allocates.
        if (Scale(product) == Scale(credits) + Scale(rate)) return amount;
        // Likewise the product is rounded to 28-29 digits first, which can lift a value just below a midpoint onto
        // it; half away from zero applies to the exact product, so step back when more than half a step above it.
        return 2 * (Exact(amount) * Exact(1m) - Exact(credits) * Exact(rate)) > Exact(CreditStep) * Exact(1m)
            ? amount - Math.Sign(amount) * CreditStep
            : amount;
    }

    /// <summary>
    /// <paramref name="amount"/> × <paramref name="part"/> / <paramref name="whole"/> (all ≥ 0), truncated toward zero at
    /// <paramref name="scale"/> fractional digits and computed exactly: the price of part of a lot.
    /// </summary>
    public static decimal ShareOf(decimal amount, decimal part, decimal whole, int scale)
    {
        if (amount < 0 || part < 0 || whole <= 0) throw new ArgumentOutOfRangeException(nameof(whole), "a share needs amount, part ≥ 0 and whole > 0");
        // Each exact value carries a factor 10^28; the quotient keeps one, so divide it out while scaling to the result.
        var scaled = Exact(amount) * Exact(part) * BigInteger.Pow(10, scale) / (Exact(whole) * BigInteger.Pow(10, 28));
        if (scaled >= BigInteger.One << 96) throw new OverflowException("share does not fit a decimal");
        var bits = scaled.ToByteArray(isUnsigned: true, isBigEndian: false);
        Array.Resize(ref bits, 12);
        return new decimal(BitConverter.ToInt32(bits, 0), BitConverter.ToInt32(bits, 4), BitConverter.ToInt32(bits, 8), false, (byte)scale);
    }

    const decimal CreditStep = 0.000000000001m;

    /// <summary>|value| × 10^28 as an integer: exact, since every decimal is a whole number of 10^-28.</summary>
    static BigInteger Exact(decimal value)
    {
        var bits = decimal.GetBits(value);
        var mantissa = (new BigInteger((uint)bits[2]) << 64) | (new BigInteger((uint)bits[1]) << 32) | (uint)bits[0];
        return mantissa * BigInteger.Pow(10, 28 - Scale(value));
    }

    public static decimal RoundToMinorUnit(decimal amount, string currency) =>
        Math.Round(amount, Currencies.MinorUnits(currency), CurrencyRounding);
}

/// <summary>Active ISO 4217 codes and their minor units.</summary>
public static class Currencies
{
    // Codes with a minor unit other than 2; every other listed code has 2.
    static readonly Dictionary<string, int> Exceptions = new(StringComparer.Ordinal)
    {
        ["BIF"] = 0, ["CLP"] = 0, ["DJF"] = 0, ["GNF"] = 0, ["ISK"] = 0, ["JPY"] = 0, ["KMF"] = 0, ["KRW"] = 0,
        ["PYG"] = 0, ["RWF"] = 0, ["UGX"] = 0, ["UYI"] = 0, ["VND"] = 0, ["VUV"] = 0, ["XAF"] = 0, ["XOF"] = 0,
        ["XPF"] = 0, ["BHD"] = 3, ["IQD"] = 3, ["JOD"] = 3, ["KWD"] = 3, ["LYD"] = 3, ["OMR"] = 3, ["TND"] = 3,
        ["CLF"] = 4, ["UYW"] = 4,
    };

    static readonly HashSet<string> Codes = new(
        ("AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD " +
         "CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS " +
         "GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT " +
         "LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD " +
         "OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP " +
         "SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF " +
         "XPF YER ZAR ZMW ZWG").Split(' '),
        StringComparer.Ordinal);

    /// <summary>Accepts any letter case; the canonical form is upper case.</summary>
    public static bool TryNormalize(string? code, out string normalized)
    {
        normalized = (code ?? "").Trim().ToUpperInvariant();
        return Codes.Contains(normalized);
    }

    public static int MinorUnits(string code) => Exceptions.TryGetValue(code, out var units) ? units : 2;
}
