using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Wallets;

public sealed record StoredResponse(string RequestHash, string Response);

/// <summary>
/// DESIGN.md 4.5: a key yields at most one effect. The record is written in the transaction that makes the
/// effect, so a crash cannot leave an effect without its key or a key without its effect.
/// </summary>
public static class Idempotency
{
    /// <summary>Keys are kept at least this long; the sweeper removes older ones.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(7);

    public const int MaxKeyLength = 255;

    /// <summary>The fingerprint covers the operation and its normalized body, so whitespace or field order do not matter.</summary>
    public static string Fingerprint(string operation, object normalizedRequest) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(operation + "\n" + Json.Serialize(normalizedRequest))));

    public static void Save(SqlBatch batch, string tenantId, IdempotencyClaim claim, string response, DateTimeOffset now) =>
        batch.Add(
            """
            INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, status_code, response, created_at)
            VALUES (@t, @k, @h, 200, @r, @now)
            """,
            ("t", tenantId), ("k", claim.Key), ("h", claim.RequestHash), ("r", response), ("now", now));
}
