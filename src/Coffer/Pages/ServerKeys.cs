using System.Security.Cryptography;
using Coffer.Secrets;
using Coffer.Storage;

namespace Coffer.Pages;

/// <summary>Secrets the server itself needs (signing portal links), kept in the database (sealed) so every node shares them.</summary>
public sealed class ServerKeys(Database db, TimeProvider clock, SecretBox box)
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _cache = new();

    public async Task<byte[]> GetAsync(string name)
    {
        if (_cache.TryGetValue(name, out var cached)) return cached;
        await using (var scope = await db.BeginWriteAsync())
        {
            await scope.Connection.ExecAsync(scope.Transaction,
                "INSERT INTO server_keys (name, key_value, created_at) VALUES (@n, @k, @now) ON CONFLICT (name) DO NOTHING",
                ("n", name), ("k", box.Seal(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)))), ("now", clock.GetUtcNow()));
            await scope.CommitAsync();
        }
        await using var c = await db.OpenAsync();
        var value = await c.QuerySingleAsync(null, "SELECT key_value FROM server_keys WHERE name = @n", r => r.Str("key_value"), ("n", name));
        return _cache[name] = Convert.FromBase64String(box.Open(value!));
    }
}
