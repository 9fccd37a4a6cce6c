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

    /// <summary>Moves the clock forward, or exactly onto the next expiry instant of a lot or a hold.</summary>
    public sealed record Advance(int Minutes, bool ToNextExpiry) : Step;

    /// <summary>Expires the <see cref="Pick"/>-th lot among the expired ones (or among all lots).</summary>
    public sealed record ExpireLot(int Pick, bool AnyLot) : Step;

    public sealed record SetOverdraftLimit(decimal Limit) : Step;

    public sealed record Terminate : Step;

    /// <summary>A credit purchase awaiting payment (PURCHASED_CREDIT_INVOICED); the lot it becomes keeps these terms.</summary>
    public sealed record PendingCredit(decimal Amount, int? Priority, int? ExpiresInMinutes) : Step;

    /// <summary>
    /// Completes (paid) or fails (cancelled) the <see cref="Pick"/>-th pending credit, or, with
    /// <see cref="AnyCredit"/>, the <see cref="Pick"/>-th of all credits, so that settling a completed or
    /// failed one again is tried too.
    /// </summary>
    public sealed record SettlePending(int Pick, bool Complete, bool AnyCredit) : Step;

    /// <summary>A hold of <see cref="Absolute"/> credits, or of <see cref="Fraction"/> of what can be held plus <see cref="Nudge"/>.</summary>
    public sealed record PlaceHold(decimal? Absolute, decimal Fraction, decimal Nudge, int? ExpiresInMinutes) : Step;

    public enum CaptureAmount { Full, Exact, Part, Over }

    /// <summary>
    /// Captures the <see cref="Pick"/>-th open hold (or of all holds ever placed, with <see cref="AnyHold"/>):
    /// its full amount (no amount given), exactly its amount, <see cref="Fraction"/> of it, or more than it.
    /// </summary>
    public sealed record CaptureHold(int Pick, CaptureAmount Amount, decimal Fraction, bool AnyHold, bool Usage) : Step;

    /// <summary>
    /// Releases the <see cref="Pick"/>-th open hold (or of all holds, with <see cref="AnyHold"/>). With
    /// <see cref="Expired"/> it is the expiry sweep: it picks among the open holds whose expiry has passed.
    /// </summary>
    public sealed record ReleaseHold(int Pick, bool Expired, bool AnyHold) : Step;

    /// <summary>
    /// Pays up to <see cref="Absolute"/> credits, or <see cref="Fraction"/> of what is spendable plus
    /// <see cref="Nudge"/>, at <see cref="Rate"/> currency per credit in a currency of <see cref="MinorUnits"/> places.
    /// </summary>
    public sealed record DebitUpTo(decimal? Absolute, decimal Fraction, decimal Nudge, decimal Rate, int MinorUnits) : Step;
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

    /// <summary>
    /// Conversion rates (currency per credit) with up to 12 fractional digits, from 10^-12 to 10^9: round ones,
    /// awkward ones like 1/3, and arbitrary ones. Clamped into range, never filtered.
    /// </summary>
    public static readonly Gen<decimal> Rate = Gen.Frequency(
        (3, Gen.OneOfConst(1m, 0.01m, 0.5m, 1.25m, 3m, 100m, 0.333333333333m, 0.000000000001m, Money.MaxRate)),
        (4, Gen.Select(Gen.Long[1, 1_000_000_000_000], Gen.Int[0, 12], (m, s) => Math.Min(Scaled(m, s), Money.MaxRate))),
        (2, Gen.Select(Gen.Long[0, 999_999_999], Gen.Long[0, 999_999_999_999],
            (whole, fraction) => Math.Clamp(whole + fraction * Unit, Unit, Money.MaxRate))));

    // Few distinct priorities and expiries, so that ties in the spend order are common.
    static readonly Gen<int?> Priority = Gen.Frequency((2, Gen.Const((int?)null)), (3, Gen.Int[1, 3].Select(p => (int?)p)));

    static readonly Gen<int?> ExpiresIn = Gen.Frequency(
        (2, Gen.Const((int?)null)),
        (3, Gen.OneOfConst(1, 30, 60, 60, 120, 600, 1440).Select(m => (int?)m)));

    /// <summary>A share of what is available, from 1% to 150%, with 100% common.</summary>
    static readonly Gen<decimal> Fraction = Gen.Frequency((3, Gen.Int[1, 150].Select(p => p / 100m)), (2, Gen.Const(1m)));

    static readonly Gen<decimal> Nudge = Gen.OneOfConst(0m, 0m, -Unit, Unit);

    static readonly Gen<Step> Credit =
        Gen.Select(Amount, Gen.Bool, Priority, ExpiresIn, (a, p, pr, e) => (Step)new Step.Credit(a, p, pr, e));

    static readonly Gen<Step> Debit = Gen.Frequency(
        (2, Gen.Select(Amount, Gen.Bool, (a, u) => (Step)new Step.Debit(a, 0m, 0m, u))),
        (5, Gen.Select(Fraction, Nudge, Gen.Bool, (f, n, u) => (Step)new Step.Debit(null, f, n, u))));

    static readonly Gen<Step> Advance = Gen.Select(
        Gen.OneOfConst(1, 15, 30, 60, 120, 600), Gen.Int[0, 2],
        (m, next) => (Step)new Step.Advance(m, next == 0));

    static readonly Gen<Step> Expire = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 4],
        (i, any) => (Step)new Step.ExpireLot(i, any == 0));

    static readonly Gen<Step> Limit = Gen.Frequency(
        (1, Gen.Const(0m)),
        (3, Amount)).Select(l => (Step)new Step.SetOverdraftLimit(l));

    static readonly Gen<Step> Pending =
        Gen.Select(Amount, Priority, ExpiresIn, (a, p, e) => (Step)new Step.PendingCredit(a, p, e));

    // Completing is likelier than failing, and some pending credits are never settled at all.
    static readonly Gen<Step> Settle = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 2], Gen.Int[0, 4],
        (i, fail, any) => (Step)new Step.SettlePending(i, fail != 0, any == 0));

    static readonly Gen<Step> Hold = Gen.Frequency(
        (1, Gen.Select(Amount, ExpiresIn, (a, e) => (Step)new Step.PlaceHold(a, 0m, 0m, e))),
        (4, Gen.Select(Fraction, Nudge, ExpiresIn, (f, n, e) => (Step)new Step.PlaceHold(null, f, n, e))));

    static readonly Gen<Step> Capture = Gen.Select(
        Gen.Int[0, 5],
        Gen.Frequency(
            (3, Gen.Const(Step.CaptureAmount.Full)), (1, Gen.Const(Step.CaptureAmount.Exact)),
            (3, Gen.Const(Step.CaptureAmount.Part)), (1, Gen.Const(Step.CaptureAmount.Over))),
        Gen.Int[1, 99].Select(p => p / 100m),
        Gen.Int[0, 5],
        Gen.Bool,
        (i, amount, f, any, usage) => (Step)new Step.CaptureHold(i, amount, f, any == 0, usage));

    static readonly Gen<Step> Release = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 2], Gen.Int[0, 5],
        (i, expired, any) => (Step)new Step.ReleaseHold(i, expired == 0, any == 0));

    static readonly Gen<Step> UpTo = Gen.Select(
        Gen.Frequency((1, Amount.Select(a => (decimal?)a)), (3, Gen.Const((decimal?)null))),
        Fraction, Nudge, Rate, Gen.OneOfConst(0, 2, 2, 3),
        (a, f, n, r, m) => (Step)new Step.DebitUpTo(a, f, n, r, m));

    public static readonly Gen<Step> AnyStep = Gen.Frequency(
        (30, Credit), (25, Debit), (15, Advance), (8, Expire), (5, Limit), (1, Gen.Const((Step)new Step.Terminate())),
        (10, Pending), (10, Settle), (12, Hold), (10, Capture), (6, Release), (12, UpTo));

    public static readonly Gen<List<Step>> History = AnyStep.List[1, 80];
}
