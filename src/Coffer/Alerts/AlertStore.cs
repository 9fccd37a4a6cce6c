using Coffer.Common;
using Coffer.Storage;

namespace Coffer.Alerts;

/// <summary>Reads of the alert log: every state change of a wallet's alert, newest first.</summary>
public sealed class AlertStore(Database db)
{
    public async Task<ListResponse<AlertDto>> SearchAsync(string tenantId, string? walletId, string? customerId, string? state, int limit, int offset)
    {
        var where = Where.Tenant(tenantId).Eq("wallet_id", "w", walletId).Eq("customer_id", "c", customerId).Eq("state", "s", state);
        await using var c = await db.OpenAsync();
        return (await c.PageAsync("id, wallet_id, customer_id, previous_state, state, available_balance, currency, created_at, email_status, email_recipients", "alerts", where,
            Sql.OrderBy("created_at", ascending: false), limit, offset,
            r => new AlertDto(r.Str("id"), r.Str("wallet_id"), r.Str("customer_id"), r.Str("previous_state"), r.Str("state"),
                r.Dec("available_balance"), r.Str("currency"), r.Time("created_at"), r.Str("email_status"),
                Recipients(r.NStr("email_recipients"))))).Response();
    }

    static List<string> Recipients(string? json) => json is null ? [] : Json.Deserialize<List<string>>(json) ?? [];
}
