namespace Coffer.Customers;

/// <summary>
/// How a purchase is paid: <see cref="ChargeAutomatically"/> charges the customer's saved cards now, <see cref="SendInvoice"/>
/// leaves its invoice to be paid. A customer may carry one as their own default (<c>collection_method</c>).
/// </summary>
public static class CollectionMethods
{
    public const string ChargeAutomatically = "charge_automatically";
    public const string SendInvoice = "send_invoice";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { ChargeAutomatically, SendInvoice };

    /// <summary>
    /// The one rule for which method a purchase uses: the one the call names, else the customer's own, else a saved
    /// card when there is one and an invoice when there is none (Coffer's behaviour before customers had a method).
    /// </summary>
    public static string Choose(string? requested, string? customers, bool hasCard) =>
        requested ?? customers ?? (hasCard ? ChargeAutomatically : SendInvoice);
}
