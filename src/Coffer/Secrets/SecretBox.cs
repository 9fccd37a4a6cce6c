using System.Security.Cryptography;
using System.Text;
using Coffer.Storage;

namespace Coffer.Secrets;

/// <summary>A master key cannot open a sealed value: the wrong key, or one no longer listed.</summary>
public sealed class SecretKeyException(string message) : Exception(message);

/// <summary>
/// Seals secrets stored in the database with a master key the database does not hold: AES-256-GCM in the envelope
/// <c>sealed:v1:&lt;key id&gt;:&lt;nonce&gt;:&lt;ciphertext+tag&gt;</c>. COFFER_MASTER_KEY lists base64 keys, current first:
/// every listed key opens, only the first seals, so a new key can be rolled out to every node before
/// <c>coffer secrets rotate</c> re-seals with it. Unset, the key lives in a file created on first start (0600).
/// </summary>
public sealed class SecretBox
{
    public const string Setting = "COFFER_MASTER_KEY";
    public const string Prefix = "sealed:v1:";
    public const int KeyBytes = 32;
    const int NonceBytes = 12;
    const int TagBytes = 16;

    readonly IReadOnlyList<(string Id, byte[] Key)> _keys;

    public SecretBox(IReadOnlyList<byte[]> keys)
    {
        if (keys.Count == 0 || keys.Any(k => k.Length != KeyBytes)) throw new ArgumentException($"master keys are {KeyBytes} bytes each");
        _keys = keys.Select(k => (KeyId(k), k)).ToList();
    }

    /// <summary>Where the master keys come from; this is where the setting and the key file are decided.</summary>
    public static SecretBox FromSettings(Hosting.CofferOptions options, Database db)
    {
        var setting = options.MasterKey;
        if (!string.IsNullOrWhiteSpace(setting))
        {
            var keys = new List<byte[]>();
            foreach (var (entry, i) in setting.Split(',', StringSplitOptions.TrimEntries).Select((e, i) => (e, i + 1)))
                keys.Add(ParseKey(entry) ?? throw new InvalidOperationException(
                    $"{Setting}: key {i} is not {KeyBytes} bytes in base64 (make one with: openssl rand -base64 32)"));
            return new SecretBox(keys);
        }
        return new SecretBox([LoadOrCreateKeyFile(KeyFilePath(db))]);
    }

    /// <summary>Next to the SQLite file (<c>coffer.db.key</c>), or <c>coffer.key</c> in the working directory for PostgreSQL.</summary>
    public static string KeyFilePath(Database db) => db.FilePath is { } file ? file + ".key" : Path.GetFullPath("coffer.key");

    static byte[] LoadOrCreateKeyFile(string path)
    {
        if (!File.Exists(path))
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            try
            {
                using var w = new StreamWriter(path, Encoding.ASCII, options);
                w.WriteLine(Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeyBytes)));
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first; read theirs.
            }
        }
        return ParseKey(File.ReadAllText(path).Trim())
            ?? throw new InvalidOperationException($"the master key file {path} does not hold {KeyBytes} bytes in base64; set {Setting} or restore the file");
    }

    static byte[]? ParseKey(string base64)
    {
        var bytes = new byte[KeyBytes + 1];
        return Convert.TryFromBase64String(base64, bytes, out var n) && n == KeyBytes ? bytes[..KeyBytes] : null;
    }

    static string KeyId(byte[] key) => Convert.ToHexStringLower(SHA256.HashData(key))[..8];

    public static bool IsSealed(string? value) => value?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    public string CurrentKeyId => _keys[0].Id;

    public string Seal(string plain)
    {
        var input = Encoding.UTF8.GetBytes(plain);
        var nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var output = new byte[input.Length + TagBytes];
        using var gcm = new AesGcm(_keys[0].Key, TagBytes);
        gcm.Encrypt(nonce, input, output.AsSpan(0, input.Length), output.AsSpan(input.Length));
        return $"{Prefix}{_keys[0].Id}:{Convert.ToBase64String(nonce)}:{Convert.ToBase64String(output)}";
    }

    /// <summary>
    /// The plain value. A value that is not sealed is returned as it is: written before sealing existed, it is sealed
    /// at the next start or rotation, and <c>verify</c> reports it until then.
    /// </summary>
    public string Open(string stored)
    {
        if (!IsSealed(stored)) return stored;
        var parts = stored[Prefix.Length..].Split(':');
        if (parts.Length != 3) throw new SecretKeyException("a sealed value is damaged (not sealed:v1:<key id>:<nonce>:<ciphertext>)");
        var key = _keys.FirstOrDefault(k => k.Id == parts[0]).Key
            ?? throw new SecretKeyException(
                $"a secret is sealed with master key {parts[0]}, which {Setting} (or the key file) does not hold; add that key to {Setting} after the current one");
        try
        {
            var nonce = Convert.FromBase64String(parts[1]);
            var data = Convert.FromBase64String(parts[2]);
            var plain = new byte[data.Length - TagBytes];
            using var gcm = new AesGcm(key, TagBytes);
            gcm.Decrypt(nonce, data.AsSpan(0, plain.Length), data.AsSpan(plain.Length), plain);
            return Encoding.UTF8.GetString(plain);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException or OverflowException)
        {
            throw new SecretKeyException($"a secret sealed with master key {parts[0]} does not open: it was changed, or {Setting} holds the wrong key");
        }
    }

    /// <summary>Opens and seals again when the value is plain text or sealed with an older key; otherwise the value unchanged.</summary>
    public string Reseal(string stored) =>
        IsSealed(stored) && stored.AsSpan(Prefix.Length).StartsWith(CurrentKeyId + ":") ? CheckOpens(stored) : Seal(Open(stored));

    /// <summary>Seals plain text; a sealed value stays as it is (with any listed key), once checked that it opens.</summary>
    public string SealIfPlain(string stored) => IsSealed(stored) ? CheckOpens(stored) : Seal(stored);

    string CheckOpens(string stored)
    {
        Open(stored);
        return stored;
    }
}
