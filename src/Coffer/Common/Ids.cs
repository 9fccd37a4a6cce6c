using System.Security.Cryptography;

namespace Coffer.Common;

/// <summary>
/// Prefixed, time-ordered ids (<c>wallet_01J…</c>): sortable like ULIDs so that ids of rows created in the same
/// microsecond still order by creation, unique without a global sequence.
/// </summary>
public sealed class Ids(TimeProvider clock)
{
    const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    readonly Lock _gate = new();
    long _lastMs;
    UInt128 _lastRandom;

    public string New(string prefix)
    {
        Span<char> chars = stackalloc char[26];
        long ms;
        UInt128 random;
        lock (_gate)
        {
            ms = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (ms <= _lastMs)
            {
                ms = _lastMs;
                random = _lastRandom + 1;
            }
            else
            {
                Span<byte> bytes = stackalloc byte[10];
                RandomNumberGenerator.Fill(bytes);
                random = 0;
                foreach (var b in bytes) random = (random << 8) | b;
                // Leave headroom so that increments within one millisecond never carry into the time.
                random >>= 1;
            }
            _lastMs = ms;
            _lastRandom = random;
        }
        var t = (ulong)ms;
        for (var i = 9; i >= 0; i--) { chars[i] = Alphabet[(int)(t & 31)]; t >>= 5; }
        var r = random;
        for (var i = 25; i >= 10; i--) { chars[i] = Alphabet[(int)(r & 31)]; r >>= 5; }
        return $"{prefix}_{new string(chars)}";
    }
}
