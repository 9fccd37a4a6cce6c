namespace Coffer.Storage;

/// <summary>
/// A scratch byte buffer a thread keeps for work that is synchronous and copies its result out before it returns (packing
/// a body, binding a text), so that the work allocates only what it returns. A buffer that one large value made larger
/// than <see cref="MaxKept"/> is not kept.
/// </summary>
static class KeptBuffer
{
    public const int MaxKept = 256 * 1024;

    /// <summary>A buffer of at least <paramref name="size"/> bytes: the one in <paramref name="kept"/>, or a new one kept there.</summary>
    public static byte[] AtLeast(ref byte[]? kept, int size)
    {
        if (kept is { } buffer && buffer.Length >= size) return buffer;
        buffer = new byte[Math.Max(size, 4096)];
        kept = buffer.Length <= MaxKept ? buffer : null;
        return buffer;
    }
}
