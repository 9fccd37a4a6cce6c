using CsCheck;

namespace Coffer.Ledger.Tests;

/// <summary>One step of a generated wallet history.</summary>
abstract record Step
{
    /// <summary>A top-up; expiry in minutes after the step's clock, none = never.</summary>
    public sealed record Credit(decimal Amount, bool Purchased, int? Priority, int? ExpiresInMinutes) : Step;

    /// <summary>
    /// A debit of <see cref="Absolute"/> credits, or, when that is null, of <see cref="Fraction"/> of what the
    /// wallet can spend plus <see cref="Nudge"/> (so that exact-fit and one-unit-over debits are common).
    /// </summary>
    public sealed record Debit(decimal? Absolute, decimal Fraction, decimal Nudge, bool Usage) : Step;

    /// <summary>Moves the clock forward, or exactly onto the next expiry instant.</summary>
    public sealed record Advance(int Minutes, bool ToNextExpiry) : Step;

    /// <summary>Expires the <see cref="Pick"/>-th lot among the expired ones (or among all lots).</summary>
    public sealed record ExpireLot(int Pick, bool AnyLot) : Step;

    public sealed record SetOverdraftLimit(decimal Limit) : Step;

    public sealed record Terminate : Step;
}

static class Generators
{
    const decimal Unit = 0.000000000001m;

    /// <summary>A positive amount of <paramref name="mantissa"/> × 10^-scale.</summary>
    static decimal Scaled(long mantissa, int scale) =>
        new((int)(mantissa & 0xFFFFFFFF), (int)(mantissa >> 32), 0, false, (byte)scale);

    /// <summary>Credit amounts with up to 12 fractional digits: tiny, ordinary and up to 10^15.</summary>
    public static readonly Gen<decimal> Amount = Gen.Frequency(
        (2, Gen.Long[1, 1_000_000].Select(m => m * Unit)),
        (6, Gen.Select(Gen.Long[1, 10_000_000_000], Gen.Int[0, 12], Scaled)),
        (2, Gen.Select(Gen.Long[1, 1_000], Gen.Int[0, 2], Scaled)),
        (1, Gen.Select(Gen.Long[0, 999_999_999_999_999], Gen.Long[0, 999_999_999_999],
            (whole, fraction) => Math.Clamp(whole + fraction * Unit, Unit, Money.MaxAmount))),
        (1, Gen.Const(Money.MaxAmount)));

    // Few distinct priorities and expiries, so that ties in the spend order are common.
    static readonly Gen<int?> Priority = Gen.Frequency((2, Gen.Const((int?)null)), (3, Gen.Int[1, 3].Select(p => (int?)p)));

    static readonly Gen<int?> ExpiresIn = Gen.Frequency(
        (2, Gen.Const((int?)null)),
        (3, Gen.OneOfConst(1, 30, 60, 60, 120, 600, 1440).Select(m => (int?)m)));

    static readonly Gen<Step> Credit =
        Gen.Select(Amount, Gen.Bool, Priority, ExpiresIn, (a, p, pr, e) => (Step)new Step.Credit(a, p, pr, e));

    static readonly Gen<Step> Debit = Gen.Frequency(
        (2, Gen.Select(Amount, Gen.Bool, (a, u) => (Step)new Step.Debit(a, 0m, 0m, u))),
        (5, Gen.Select(
            Gen.Frequency((3, Gen.Int[1, 150].Select(p => p / 100m)), (2, Gen.Const(1m))),
            Gen.OneOfConst(0m, 0m, -Unit, Unit),
            Gen.Bool,
            (f, n, u) => (Step)new Step.Debit(null, f, n, u))));

    static readonly Gen<Step> Advance = Gen.Select(
        Gen.OneOfConst(1, 15, 30, 60, 120, 600), Gen.Int[0, 2],
        (m, next) => (Step)new Step.Advance(m, next == 0));

    static readonly Gen<Step> Expire = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 4],
        (i, any) => (Step)new Step.ExpireLot(i, any == 0));

    static readonly Gen<Step> Limit = Gen.Frequency(
        (1, Gen.Const(0m)),
        (3, Amount)).Select(l => (Step)new Step.SetOverdraftLimit(l));

    public static readonly Gen<Step> AnyStep = Gen.Frequency(
        (30, Credit), (30, Debit), (15, Advance), (10, Expire), (6, Limit), (1, Gen.Const((Step)new Step.Terminate())));

    public static readonly Gen<List<Step>> History = AnyStep.List[1, 60];
}
