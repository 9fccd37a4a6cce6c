using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Coffer.Ledger;

namespace Coffer.Common;

/// <summary>The wire conventions shared with Flexprice: snake_case names, decimals as strings, RFC 3339 UTC instants.</summary>
public static class Json
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        o.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        o.DictionaryKeyPolicy = null;
        // Every key is written, null when empty: Flexprice's SDK (zod >= 4.4) rejects an object with a missing key.
        o.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        o.NumberHandling = JsonNumberHandling.Strict;
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        o.MaxDepth = 32;
        o.Converters.Add(new DecimalAsString());
        o.Converters.Add(new NullableDecimalAsString());
        o.Converters.Add(new UtcInstant());
        return o;
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T? Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Options);

    static decimal ReadDecimal(ref Utf8JsonReader reader)
    {
        // Flexprice's decimals arrive as strings, but plain JSON numbers are accepted too; both parse exactly.
        var text = reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString()!,
            JsonTokenType.Number => Encoding.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan),
            _ => throw new JsonException("expected a decimal number or a string holding one"),
        };
        if (text.Length > 64 ||
            !decimal.TryParse(text.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out var value))
            throw new JsonException($"'{Truncate(text)}' is not a decimal number");
        return value;
    }

    static readonly System.Text.UTF8Encoding Encoding = new(false, true);

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    sealed class DecimalAsString : JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadDecimal(ref reader);

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Money.Normalize(value).ToString(CultureInfo.InvariantCulture));
    }

    sealed class NullableDecimalAsString : JsonConverter<decimal?>
    {
        public override bool HandleNull => true;

        public override decimal? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? null : ReadDecimal(ref reader);

        public override void Write(Utf8JsonWriter writer, decimal? value, JsonSerializerOptions options)
        {
            if (value is null) writer.WriteNullValue();
            else writer.WriteStringValue(Money.Normalize(value.Value).ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>For the few fields Flexprice sends as JSON numbers (auto top-up and alert thresholds).</summary>
    public sealed class DecimalAsNumber : JsonConverter<decimal?>
    {
        public override bool HandleNull => true;

        public override decimal? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? null : ReadDecimal(ref reader);

        public override void Write(Utf8JsonWriter writer, decimal? value, JsonSerializerOptions options)
        {
            if (value is null) writer.WriteNullValue();
            else writer.WriteNumberValue(Money.Normalize(value.Value));
        }
    }

    sealed class UtcInstant : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String) throw new JsonException("expected an RFC 3339 date-time string");
            var text = reader.GetString()!;
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
                throw new JsonException($"'{Truncate(text)}' is not an RFC 3339 date-time");
            return value.ToUniversalTime();
        }

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Format(value));
    }

    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
