using System.Data.Common;
using Coffer.Storage;

namespace Coffer.Invoices;

/// <summary>
/// Invoice numbers (INV-000001, INV-000002, ...) run without gaps per tenant: a number is taken inside the
/// transaction that creates or finalizes the invoice, so a refusal, a rollback or a replay takes none. Taking
/// one locks the tenant's counter until that transaction ends, so it is always the last lock taken: after the
/// invoice's and the wallets', never before them.
/// </summary>
public sealed class InvoiceNumbers
{
    readonly string _tenantId;
    readonly long _first;
    long _last;

    InvoiceNumbers(string tenantId, long last) => (_tenantId, _first, _last) = (tenantId, last, last);

    /// <summary>One number, for a transaction that creates or finalizes one invoice.</summary>
    public static async Task<string> NextAsync(DbConnection c, DbTransaction tx, string tenantId)
    {
        LockOrder.Take(tx, LockOrder.Level.Tenant, tenantId);
        return Format(await c.ScalarLongAsync(tx, "UPDATE tenants SET invoice_seq = invoice_seq + 1 WHERE id = @t RETURNING invoice_seq", ("t", tenantId)));
    }

    /// <summary>
    /// The counter, locked, for a transaction whose decisions are taken in memory (a batch of wallet writes):
    /// <see cref="Next"/> as each invoice is decided, then <see cref="Save"/> with the batch's rows.
    /// </summary>
    public static async Task<InvoiceNumbers> LockAsync(DbConnection c, DbTransaction tx, Database db, string tenantId)
    {
        LockOrder.Take(tx, LockOrder.Level.Tenant, tenantId);
        return new(tenantId, await c.ScalarLongAsync(tx, $"SELECT invoice_seq FROM tenants WHERE id = @t{db.ForUpdate}", ("t", tenantId)));
    }

    public string Next() => Format(++_last);

    public void Save(SqlBatch writes)
    {
        if (_last != _first) writes.Add("UPDATE tenants SET invoice_seq = @n WHERE id = @t", ("n", _last), ("t", _tenantId));
    }

    static string Format(long sequence) => $"INV-{sequence:D6}";
}
