using System.Globalization;
using System.Numerics;
using CsCheck;

namespace Coffer.Ledger.Tests;

public sealed class MoneyTests
{
    static readonly BigInteger Step = BigInteger.Pow(10, Money.CreditScale);

    [Fact]
    public void CreditsForAmount_truncates_at_twelve_places()
    {
        Assert.Equal(0.333333333333m, Money.CreditsForAmount(1m, 3m));
        Assert.Equal(0.666666666666m, Money.CreditsForAmount(2m, 3m));
        Assert.Equal(0.000000000001m, Money.CreditsForAmount(0.0000000000019m, 1m));
        Assert.Equal(0m, Money.CreditsForAmount(0.0000000000009m, 1m));
        Assert.Equal(12.5m, Money.CreditsForAmount(25m, 2m));
        Assert.Equal(1_000_000_000_000_000m, Money.CreditsForAmount(Money.MaxAmount, 1m));
    }

    /// <summary>
    /// Found by <see cref="CreditsForAmount_is_the_exact_quotient_truncated"/>: the exact quotient is
    /// 852851.272727158249999999999999998…, but decimal division rounds it to 28 digits (…158250000…), so
    /// truncating that gave one 10^-12 credit more than the customer paid for.
    /// </summary>
    [Fact]
    public void CreditsForAmount_truncates_the_exact_quotient_not_a_rounded_one() =>
        Assert.Equal(852851.272727158249m, Money.CreditsForAmount(496806998552238.500274567434m, 582524778.281213376578m));

    /// <summary>
    /// Found by <see cref="AmountForCredits_rounds_the_exact_product_half_away_from_zero"/>: the exact product's
    /// 13th and later decimals are 4999999999989…, below the midpoint, but decimal multiplication rounded them up to
    /// 5 before the half-away-from-zero rounding.
    /// </summary>
    [Fact]
    public void AmountForCredits_rounds_the_exact_product_not_a_rounded_one() =>
        Assert.Equal(42049058451242.463834174077m, Money.AmountForCredits(241573321.114725091149m, 174063.337198038651m));

    /// <summary>
    /// Found by the wallet model test: 729087.053975553673 × 1.000000008263 is 729087.06 less 10^-24, but decimal
    /// multiplication rounds the product to 729087.06, so the 10^-24 short credits were taken as enough.
    /// </summary>
    [Fact]
    public void CreditsToCover_compares_the_exact_product_not_a_rounded_one() =>
        Assert.Equal(729087.053975553674m, Money.CreditsToCover(729087.06m, 1.000000008263m));

    [Fact]
    public void AmountCovered_truncates_the_exact_product_not_a_rounded_one() =>
        Assert.Equal(729087.05m, Money.AmountCovered(729087.053975553673m, 1.000000008263m, 2));

    [Fact]
    public void AmountCovered_truncates_to_the_minor_unit()
    {
        Assert.Equal(3.33m, Money.AmountCovered(10m, 0.333333333333m, 2));
        Assert.Equal(1m, Money.AmountCovered(0.01m, 150m, 0));
        Assert.Equal(0.009m, Money.AmountCovered(0.009m, 1m, 3));
        Assert.Equal(0m, Money.AmountCovered(0.009m, 1m, 2));
        Assert.Equal(0m, Money.AmountCovered(0m, 1m, 2));
    }

    [Fact]
    public void AmountForCredits_rounds_half_away_from_zero_at_twelve_places()
    {
        Assert.Equal(0.000000000001m, Money.AmountForCredits(0.0000000000005m, 1m));
        Assert.Equal(0m, Money.AmountForCredits(0.0000000000004m, 1m));
        Assert.Equal(1.5m, Money.AmountForCredits(3m, 0.5m));
    }

    [Fact]
    public void Conversions_at_the_extremes_of_amount_and_rate_do_not_overflow()
    {
        Assert.Equal(1_000_000_000_000_000_000_000_000_000m, Money.CreditsForAmount(Money.MaxAmount, 0.000000000001m));
        Assert.Equal(1_000_000m, Money.CreditsForAmount(Money.MaxAmount, Money.MaxRate));
        Assert.Equal(0m, Money.CreditsForAmount(0.000000000001m, Money.MaxRate));
        Assert.Equal(1_000_000_000_000_000_000_000_000m, Money.AmountForCredits(Money.MaxAmount, Money.MaxRate));
        Assert.Equal(0m, Money.AmountForCredits(0.000000000001m, 0.000000000001m));
    }

    [Fact]
    public void ShareOf_is_part_of_a_lot_price_rounded_down()
    {
        Assert.Equal(5.33m, Money.ShareOf(8m, 667m, 1000m, 2));
        Assert.Equal(1m, Money.ShareOf(1m, 3m, 3m, 2));
        Assert.Equal(3.333333333333m, Money.ShareOf(10m, 1m, 3m, Money.CreditScale));
        Assert.Equal(0m, Money.ShareOf(0m, 5m, 7m, 2));
        Assert.Equal(Money.MaxAmount, Money.ShareOf(Money.MaxAmount, Money.MaxBalance, Money.MaxBalance, 2));
    }

    [Fact]
    public void ShareOf_never_exceeds_the_exact_share_by_any_amount() =>
        Gen.Select(Gen.Long[0, 100_000_000_000_000_000], AmountUnits, AmountUnits, MinorUnits)
            .Where((_, p, w, _) => p > 0 && w > 0)
            .Select((a, p, w, minor) => (a, BigInteger.Min(p, w), BigInteger.Max(p, w), minor))
            .Sample((a, part, whole, minor) =>
            {
                // a in cents, part and whole in 10^-12 credits: the exact share in 10^-minor units, truncated.
                var expected = a * part * BigInteger.Pow(10, minor) / (100 * whole);
                var actual = Money.ShareOf(Exact.FromUnits(a, 2), FromUnits(part), FromUnits(whole), minor);
                Assert.True(Exact.Units(actual, minor) == expected, $"{a} cents × {part} / {whole}: got {actual}");
            }, iter: 3000);

    [Fact]
    public void TryNormalize_accepts_any_case_and_refuses_unknown_or_malformed_codes()
    {
        Assert.True(Currencies.TryNormalize("usd", out var usd));
        Assert.Equal("USD", usd);
        Assert.True(Currencies.TryNormalize(" Eur ", out var eur));
        Assert.Equal("EUR", eur);
        Assert.False(Currencies.TryNormalize("XXX", out _));
        Assert.False(Currencies.TryNormalize("US", out _));
        Assert.False(Currencies.TryNormalize("", out _));
        Assert.False(Currencies.TryNormalize(null, out _));
    }

    [Fact]
    public void Minor_units_follow_ISO_4217()
    {
        Assert.Equal(2, Currencies.MinorUnits("USD"));
        Assert.Equal(0, Currencies.MinorUnits("JPY"));
        Assert.Equal(3, Currencies.MinorUnits("KWD"));
        Assert.Equal(1.01m, Money.RoundToMinorUnit(1.005m, "USD"));
        Assert.Equal(2m, Money.RoundToMinorUnit(1.5m, "JPY"));
    }

    // Amounts and rates as whole numbers of 10^-12 (what the API accepts: amount <= 10^15, rate <= 10^9).
    static readonly Gen<BigInteger> RateUnits = Gen.Frequency(
        (1, Gen.Long[1, 1_000_000_000_000_000].Select(r => (BigInteger)r)),
        (3, Gen.Select(Gen.Long[0, 999_999_999], Gen.Long[0, 999_999_999_999], (w, f) => (BigInteger)w * Step + f)))
        .Where(r => r > 0);

    static readonly Gen<BigInteger> AmountUnits =
        Gen.Select(Gen.Long[0, 999_999_999_999_999], Gen.Long[0, 999_999_999_999], (w, f) => (BigInteger)w * Step + f)
            .Where(a => a > 0);

    /// <summary>
    /// Amount/rate pairs whose exact quotient lies a hair below a 12th-digit step: pick the rate R and the quotient
    /// m, then the amount A = (m·R − k) / 10^12 for a tiny k, so the quotient is m − k/R units. Rates coprime to 10
    /// make every k reachable.
    /// </summary>
    static readonly Gen<(BigInteger Amount, BigInteger Rate)> NearStep =
        Gen.Select(RateUnits.Select(CoprimeToTen), Gen.Long[1, 1000], Gen.Long[0, 999_999_999_999_999], Gen.Int[0, 50],
            (r, k, whole, shift) =>
            {
                // m ≡ k·R⁻¹ (mod 10^12), so m·R − k is a whole number of 10^12; R⁻¹ = R^(φ(10^12) − 1).
                var m = k * BigInteger.ModPow(r, 399_999_999_999, Step) % Step + (BigInteger)(whole >> shift) * Step;
                return ((m * r - k) / Step, r);
            })
        .Where(x => x.Item1 > 0 && x.Item1 <= Step * 1_000_000_000_000_000);

    [Fact]
    public void CreditsForAmount_is_the_exact_quotient_truncated() =>
        Gen.Frequency((1, Gen.Select(AmountUnits, RateUnits)), (2, NearStep))
            // Results that 12 places can hold; shrinking the amount instead of filtering keeps CsCheck from
            // giving up on too many skipped samples.
            .Select(x => FitQuotient(x.Item1, x.Item2))
            .Select(Gen.Bool, (x, negative) => (negative ? -x.Item1 : x.Item1, x.Item2))
            .Sample((a, r) =>
            {
                var expected = a * Step / r; // BigInteger division truncates toward zero
                var actual = Money.CreditsForAmount(FromUnits(a), FromUnits(r));
                Assert.True(ToUnits(actual) == expected, $"{FromUnits(a)} / {FromUnits(r)}: got {actual}, exact truncation {FromUnits(expected)}");
            }, iter: 3000);

    /// <summary>Credit/rate pairs whose exact product lies within a few units of a midpoint at the 13th decimal.</summary>
    static readonly Gen<(BigInteger Credits, BigInteger Rate)> NearMidpoint =
        Gen.Select(
            Gen.Select(Gen.Long[0, 999_999], Gen.Long[1, 999_999_999_999], (w, f) => CoprimeToTen((BigInteger)w * Step + f)),
            Gen.Long[-3, 3], Gen.Long[1, 999_999_999],
            (r, k, whole) =>
            {
                var c = (Step / 2 + k + Step) % Step * BigInteger.ModPow(r, 399_999_999_999, Step) % Step + whole * Step;
                return (c, r);
            });

    [Fact]
    public void AmountForCredits_rounds_the_exact_product_half_away_from_zero() =>
        Gen.Frequency((1, Gen.Select(AmountUnits, RateUnits)), (2, NearMidpoint))
            .Select(x => FitProduct(x.Item1, x.Item2))
            .Select(Gen.Bool, (x, negative) => (negative ? -x.Item1 : x.Item1, x.Item2))
            .Sample((c, r) =>
            {
                var product = c * r; // in 10^-24
                var expected = product.Sign * ((2 * BigInteger.Abs(product) + Step) / (2 * Step));
                var actual = Money.AmountForCredits(FromUnits(c), FromUnits(r));
                Assert.True(ToUnits(actual) == expected, $"{FromUnits(c)} * {FromUnits(r)}: got {actual}, exact rounding {FromUnits(expected)}");
            }, iter: 3000);

    static readonly Gen<int> MinorUnits = Gen.OneOfConst(0, 2, 3);

    /// <summary>
    /// Credits/rate pairs whose exact product lies a hair below a whole minor unit: pick the rate R (coprime to 10)
    /// and a tiny k, then credits c ≡ −k·R⁻¹ (mod 10^(24 − minor)), so c·R is k·10^-24 short of a minor unit.
    /// </summary>
    static readonly Gen<(BigInteger Credits, BigInteger Rate, int Minor)> NearMinorUnit =
        Gen.Select(RateUnits.Select(CoprimeToTen), Gen.Long[1, 1000], Gen.Long[0, 9_999], MinorUnits,
            (r, k, whole, minor) =>
            {
                var m = BigInteger.Pow(10, 2 * Money.CreditScale - minor);
                // R⁻¹ mod 10^n = R^(φ(10^n) − 1), φ(10^n) = 4·10^(n−1).
                var inverse = BigInteger.ModPow(r, 4 * BigInteger.Pow(10, 2 * Money.CreditScale - minor - 1) - 1, m);
                return ((m - k) * inverse % m + whole * m, r, minor);
            });

    static readonly Gen<(BigInteger Credits, BigInteger Rate, int Minor)> AnyCredits =
        Gen.Select(AmountUnits, RateUnits, MinorUnits, (c, r, minor) => (c, r, minor));

    [Fact]
    public void AmountCovered_is_the_exact_product_truncated_to_minor_units() =>
        Gen.Frequency((1, AnyCredits), (2, NearMinorUnit))
            .Sample((c, r, minor) =>
            {
                var expected = Exact.FromUnits(c * r / BigInteger.Pow(10, 2 * Money.CreditScale - minor), minor);
                var actual = Money.AmountCovered(FromUnits(c), FromUnits(r), minor);
                Assert.True(actual == expected, $"{FromUnits(c)} * {FromUnits(r)} to {minor} places: got {actual}, exact truncation {expected}");
            }, iter: 3000);

    [Fact]
    public void CreditsToCover_is_the_fewest_credits_worth_at_least_the_amount() =>
        Gen.Frequency(
                // An amount of whole minor units and any rate, kept to results the ledger can hold.
                (1, Gen.Select(AmountUnits, RateUnits, MinorUnits, (a, r, minor) =>
                {
                    var amount = a / BigInteger.Pow(10, Money.CreditScale - minor);
                    while (amount * BigInteger.Pow(10, 2 * Money.CreditScale - minor) / r >= Step * 10_000_000_000_000_000 && amount > 1) amount /= 1000;
                    return (BigInteger.Max(amount, 1), r, minor);
                })),
                // The amount just above what some credits are worth: those credits fall one 10^-24 short.
                (2, NearMinorUnit.Select(x => ((x.Credits * x.Rate / BigInteger.Pow(10, 2 * Money.CreditScale - x.Minor)) + 1, x.Rate, x.Minor))))
            .Sample((a, r, minor) =>
            {
                var owed = a * BigInteger.Pow(10, 2 * Money.CreditScale - minor); // in 10^-24
                var expected = (owed + r - 1) / r;                                  // fewest 10^-12 credits with credits·r ≥ owed
                var amount = Exact.FromUnits(a, minor);
                var actual = Money.CreditsToCover(amount, FromUnits(r));
                Assert.True(ToUnits(actual) == expected, $"CreditsToCover({amount}, {FromUnits(r)}): got {actual}, fewest {FromUnits(expected)}");
            }, iter: 3000);

    /// <summary>The nearest odd number above that is not a multiple of 5 (mapping, not filtering, so nothing is skipped).</summary>
    static BigInteger CoprimeToTen(BigInteger r)
    {
        if (r.IsEven) r += 1;
        if (r % 5 == 0) r += 2;
        return r;
    }

    static (BigInteger, BigInteger) FitQuotient(BigInteger amount, BigInteger rate)
    {
        while (amount * Step / rate >= Step * 10_000_000_000_000_000 && amount > 1) amount /= 1000;
        return (amount, rate);
    }

    static (BigInteger, BigInteger) FitProduct(BigInteger credits, BigInteger rate)
    {
        while (credits * rate >= Step * Step * 10_000_000_000_000_000 && credits > 1) credits /= 1000;
        return (credits, rate);
    }

    static decimal FromUnits(BigInteger units) =>
        decimal.Parse(units.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) / 1_000_000_000_000m;

    /// <summary>The value in whole 10^-12, read from its text so as not to share code with the library.</summary>
    static BigInteger ToUnits(decimal value)
    {
        var text = value.ToString(CultureInfo.InvariantCulture);
        var point = text.IndexOf('.');
        var whole = point < 0 ? text : text[..point];
        var fraction = point < 0 ? "" : text[(point + 1)..];
        Assert.True(fraction.Length <= Money.CreditScale, $"{value} is finer than {Money.CreditScale} places");
        return BigInteger.Parse(whole + fraction.PadRight(Money.CreditScale, '0'), CultureInfo.InvariantCulture);
    }
}
