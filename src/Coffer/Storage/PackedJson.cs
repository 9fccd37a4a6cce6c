using System.Buffers;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Coffer.Common;
using ZstdSharp;

namespace Coffer.Storage;

/// <summary>
/// The stored form of the JSON bodies a write keeps for later, the idempotency answer and the outbox event: zstd with a
/// dictionary of typical bodies. Each debit stores one answer and one event; as text they filled four fifths of its
/// bytes, and a 1.2–1.7 KB row fits twice in a page. With the dictionary a body takes about 300 bytes, because what
/// stays is mostly its ids and numbers. Packing and unpacking are exact: the bytes read back are the bytes written, so a
/// replay is still byte for byte the first answer.
/// <para>
/// A packed value is one version byte and a zstd frame made with that version's dictionary. A dictionary is never
/// edited once released, since stored rows need it to be read: a better one is added as version 2, and version 1 stays
/// readable. The dictionary's SHA-256 is checked when it loads, so an edit fails at once instead of corrupting reads.
/// Rows written before packing keep their text in the text column (<see cref="Read"/> reads either).
/// </para>
/// </summary>
public static class PackedJson
{
    const byte Version1 = 1;
    const string Dictionary1Sha256 = "19a5626af5330af87f77add756c3c7b90615be7a39b47b086f7c2c48df93b06b";
    // zstd's fast level -1: about 5 µs for a debit's answer, 300 bytes. Level 3, its default, packs 250 bytes in 10 µs;
    // the bytes saved do not pay for the CPU on the write path.
    const int Level = -1;

    static readonly byte[] Dictionary1 = LoadDictionary("Coffer.Storage.PackedJson.v1.dictionary", Dictionary1Sha256);

    // Not thread-safe, and costly to make with a dictionary: one of each per thread.
    [ThreadStatic] static Compressor? compressor;
    [ThreadStatic] static Decompressor? decompressor;

    // The JSON and the frame are written into buffers kept per thread, so that packing a body allocates only its packed
    // bytes. Every debit packs two bodies under the writer's lock: building each as a string, its UTF-8 copy and a frame
    // buffer was a third of the bytes a batch allocated, and the collections they caused stalled the writer. Packing is
    // synchronous, so a buffer is never shared by two bodies at once.
    [ThreadStatic] static ArrayBufferWriter<byte>? jsonBuffer;
    [ThreadStatic] static Utf8JsonWriter? jsonWriter;
    [ThreadStatic] static byte[]? frameBuffer;

    /// <summary>The writer options <see cref="JsonSerializer"/> derives from <see cref="Json.Options"/>, so the bytes are the same.</summary>
    static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = Json.Options.Encoder,
        Indented = Json.Options.WriteIndented,
        MaxDepth = Json.Options.MaxDepth,
        SkipValidation = true,
    };

    public static byte[] Pack(string json) => Pack(Encoding.UTF8.GetBytes(json));

    /// <summary>
    /// <paramref name="value"/> as JSON, packed: the same bytes as <c>Json.Serialize(value)</c> in UTF-8, packed, without
    /// the string between.
    /// </summary>
    public static byte[] PackJson(object value)
    {
        var buffer = jsonBuffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var writer = jsonWriter ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        JsonSerializer.Serialize(writer, value, value.GetType(), Json.Options);
        writer.Flush();
        var packed = Pack(buffer.WrittenSpan);
        if (buffer.Capacity > KeptBuffer.MaxKept) (jsonBuffer, jsonWriter) = (null, null);
        return packed;
    }

    public static byte[] Pack(ReadOnlySpan<byte> utf8)
    {
        var c = compressor ??= NewCompressor();
        var bound = 1 + Compressor.GetCompressBound(utf8.Length);
        var frame = KeptBuffer.AtLeast(ref frameBuffer, bound);
        frame[0] = Version1;
        var written = c.Wrap(utf8, frame.AsSpan(1));
        return frame[..(1 + written)];
    }

    public static string Unpack(ReadOnlySpan<byte> packed)
    {
        if (packed.IsEmpty || packed[0] != Version1)
            throw new InvalidDataException($"packed JSON of version {(packed.IsEmpty ? "(empty)" : packed[0])} is not known to this build");
        var d = decompressor ??= NewDecompressor();
        return Encoding.UTF8.GetString(d.Unwrap(packed[1..]));
    }

    /// <summary>
    /// The JSON held by <paramref name="textColumn"/>, or packed in <c>{textColumn}_packed</c>; null when both are null
    /// (an idempotency claim still in progress). The query selects both columns.
    /// </summary>
    public static string? Read(DbDataReader r, string textColumn)
    {
        var packed = r.GetOrdinal(textColumn + "_packed");
        if (!r.IsDBNull(packed)) return Unpack(r.GetFieldValue<byte[]>(packed));
        var text = r.GetOrdinal(textColumn);
        return r.IsDBNull(text) ? null : r.GetString(text);
    }

    static Compressor NewCompressor()
    {
        var c = new Compressor(Level);
        c.LoadDictionary(Dictionary1);
        return c;
    }

    static Decompressor NewDecompressor()
    {
        var d = new Decompressor();
        d.LoadDictionary(Dictionary1);
        return d;
    }

    static byte[] LoadDictionary(string resource, string sha256)
    {
        using var stream = typeof(PackedJson).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the build carries no {resource}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != sha256)
            throw new InvalidOperationException($"{resource} was edited (SHA-256 {actual}); stored rows need it as released, so add a new version instead");
        return bytes;
    }
}
