using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;

namespace Coffer.Invoices;

/// <summary>
/// Invoices a wallet will pay: finalized, not yet paid, and marked with the wallet that pays them
/// (<c>invoices.pay_from_wallet_id</c>): an auto-pay customer's invoice, or one partly paid from the wallet and waiting
/// for funds. Their unpaid remainder is part of the wallet's pending charges: new charges cannot spend it, and new
/// funds pay those invoices first, in due-date order (<see cref="InvoiceCollector"/>).
/// </summary>
public static class InvoiceReserve
{
    /// <summary>An invoice that still wants money: the one rule, for the reserve and for the unpaid-invoices figure.</summary>
    public const string Unpaid = "invoice_status = 'FINALIZED' AND payment_status NOT IN ('SUCCEEDED', 'OVERPAID', 'REFUNDED', 'PARTIALLY_REFUNDED')";

    /// <summary>The waiting invoices of the wallets <paramref name="ofPayingWallets"/> names (a condition on <c>pay_from_wallet_id</c>), amounts per row.</summary>
    public static string Select(string ofPayingWallets) =>
        $"""
        SELECT pay_from_wallet_id, amount_due, amount_paid FROM invoices
        WHERE tenant_id = @t AND {ofPayingWallets} AND {Unpaid}
        """;

    /// <summary>What one waiting invoice still owes; amounts are compared here, exactly, not in SQL (SQLite keeps decimals as text).</summary>
    public static (string Wallet, decimal Owed) Read(System.Data.Common.DbDataReader r) =>
        (r.Str("pay_from_wallet_id"), Math.Max(0m, r.Dec("amount_due") - r.Dec("amount_paid")));

    /// <summary>The credits that cover what is owed, at the wallet's spending rate (rounded up, as an invoice payment takes them).</summary>
    public static decimal Credits(decimal owed, decimal conversionRate) => owed <= 0m ? 0m : Money.CreditsToCover(owed, conversionRate);

    /// <summary>Marks the invoice as paid by this wallet once it has funds (within the invoice's locked decision).</summary>
    public static void Wait(SqlBatch writes, InvoiceRow i, string walletId) =>
        writes.Add("UPDATE invoices SET pay_from_wallet_id = @w WHERE tenant_id = @t AND id = @id", ("w", walletId), ("t", i.TenantId), ("id", i.Id));

    /// <summary>
    /// Within a wallet change that added funds while invoices wait on the wallet: asks the collector to pay them. The
    /// row is written with the change, so a crash after the commit loses nothing; a later request only moves its time
    /// (the collector deletes the row only if no funds came in while it worked).
    /// </summary>
    public static void Collect(SqlBatch writes, string tenantId, string walletId, DateTimeOffset now) => writes.Add(
        """
        INSERT INTO invoice_collections (tenant_id, id, requested_at) VALUES (@t, @w, @now)
        ON CONFLICT (tenant_id, id) DO UPDATE SET requested_at = @now
        """,
        ("t", tenantId), ("w", walletId), ("now", now));
}
