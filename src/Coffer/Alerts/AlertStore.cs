using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Alerts;

/// <summary>Reads of the alert log: every state change of a wallet's alert, and every warning of credits expiring, newest first.</summary>
public sealed class AlertStore(Database db)
{
    public async Task<ListResponse<AlertDto>> SearchAsync(string tenantId, string kind, string? walletId, string? customerId, string? state, int limit, int offset)
    {
        var where = Where.Tenant(tenantId).Eq("kind", "k", kind).Eq("wallet_id", "w", walletId).Eq("customer_id", "c", customerId).Eq("state", "s", state);
        await using var c = await db.OpenAsync();
        return (await c.PageAsync(
            "id, wallet_id, customer_id, previous_state, state, available_balance, currency, created_at, email_status, email_recipients, kind, transaction_id, credits, expiry_date",
            "alerts", where, Sql.OrderBy("created_at", ascending: false), limit, offset,
            r => new AlertDto(r.Str("id"), r.Str("wallet_id"), r.Str("customer_id"), r.Str("previous_state"), r.Str("state"),
                r.Dec("available_balance"), r.Str("currency"), r.Time("created_at"), r.Str("email_status"),
                Recipients(r.NStr("email_recipients")), r.Str("kind"), r.NStr("transaction_id"),
                r.IsDBNull(r.GetOrdinal("credits")) ? null : r.Dec("credits"), r.NTime("expiry_date")))).Response();
    }

    static List<string> Recipients(string? json) => json is null ? [] : Json.Deserialize<List<string>>(json) ?? [];
}
