using Coffer.Outbox;
using Coffer.Storage;

namespace Coffer.Invoices;

/// <summary>
/// The events a new invoice raises, whoever creates it (<c>POST /v1/invoices</c>, a credit purchase, a package, an
/// auto top-up): <c>invoice.created</c>, and <c>invoice.finalized</c> too when it is born FINALIZED, since no later
/// finalize step will announce it. Written into the batch that inserts the invoice, so they commit with it.
/// </summary>
public static class InvoiceEvents
{
    public static void Created(this OutboxWriter outbox, SqlBatch writes, InvoiceRow invoice, IReadOnlyList<LineItemRow> lines)
    {
        var payload = InvoiceDtos.Invoice(invoice, lines);
        outbox.Add(writes, invoice.TenantId, EventTypes.InvoiceCreated, null, invoice.Version, payload);
        if (invoice.InvoiceStatus == InvoiceStatuses.Finalized)
            outbox.Add(writes, invoice.TenantId, EventTypes.InvoiceFinalized, null, invoice.Version, payload);
    }
}
