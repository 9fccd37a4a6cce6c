namespace Coffer.Payments.Gateways;

/// <summary>
/// The one seam between Coffer and a card processor. Two implementations: the built-in sandbox (default;
/// deterministic test cards and a hosted checkout page served by Coffer) and Stripe. Every call carries an
/// idempotency key derived from Coffer's own payment id, so a retry after a crash or a time-out never
/// charges twice.
/// </summary>
public interface IPaymentGateway
{
    /// <summary>"sandbox" or "stripe", as stored on payments.</summary>
    string Name { get; }

    /// <summary>Charges a saved payment method now, without the customer present (auto top-up, backup card).</summary>
    Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken ct);

    /// <summary>Creates a hosted page where the customer pays an amount once (a payment link).</summary>
    Task<CheckoutResult> CreateCheckoutAsync(CheckoutRequest request, CancellationToken ct);

    /// <summary>Returns money to the card or account a charge came from.</summary>
    Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken ct);

    /// <summary>Whether a hosted checkout was paid: what the reconciler asks when a payment link's answer never came.</summary>
    Task<CheckoutStatus> CheckoutStatusAsync(string sessionId, string paymentId, CancellationToken ct);

    /// <summary>Closes a hosted checkout that must no longer take money (its invoice was voided or its purchase cancelled).</summary>
    Task ExpireCheckoutAsync(string sessionId, CancellationToken ct);

    /// <summary>
    /// Makes the gateway's own customer for a Coffer customer, which a card saved at a checkout must belong to; null
    /// when the gateway keeps no customers (the sandbox). Asked once per customer: Coffer keeps the answer.
    /// </summary>
    Task<string?> CreateCustomerAsync(GatewayCustomerRequest request, CancellationToken ct);
}

public sealed record GatewayCustomerRequest(string CustomerId, string? Email, string? Name);

/// <summary>A card the customer typed at a checkout that asked to keep it: what Coffer saves as a payment method.</summary>
public sealed record SavedCard(string Token, string? Brand, string Last4);

public abstract record CheckoutStatus
{
    private CheckoutStatus() { }
    public sealed record Open : CheckoutStatus;
    /// <param name="Card">The card it was paid with, when the checkout asked to save it.</param>
    public sealed record Paid(string GatewayPaymentId, SavedCard? Card = null) : CheckoutStatus;
    public sealed record Expired : CheckoutStatus;
}

public sealed record ChargeRequest(
    string PaymentId, string CustomerId, string? GatewayCustomerId, string PaymentMethodToken, decimal Amount, string Currency,
    string Description);

public abstract record ChargeResult
{
    private ChargeResult() { }
    public sealed record Succeeded(string GatewayPaymentId) : ChargeResult;
    public sealed record Declined(string Code, string Message, string? GatewayPaymentId = null) : ChargeResult;

    /// <summary>The card needs the customer (3-D Secure); off-session it counts as not paid.</summary>
    public sealed record RequiresAction(string GatewayPaymentId, string Message) : ChargeResult;
}

/// <param name="GatewayCustomerId">The gateway's customer the checkout is for (needed to save the card), or null.</param>
/// <param name="SaveCard">Keep the card for later charges without the customer present (Stripe's setup_future_usage).</param>
public sealed record CheckoutRequest(
    string PaymentId, decimal Amount, string Currency, string Description, string SuccessUrl, string CancelUrl, string? CustomerEmail,
    string? GatewayCustomerId = null, bool SaveCard = false);

public abstract record CheckoutResult
{
    private CheckoutResult() { }
    public sealed record Created(string SessionId, string Url) : CheckoutResult;
    public sealed record Failed(string Message) : CheckoutResult;
}

public sealed record RefundRequest(string PaymentId, string GatewayPaymentId, decimal Amount, string Currency, string RefundId);

public abstract record RefundResult
{
    private RefundResult() { }
    public sealed record Succeeded(string GatewayRefundId) : RefundResult;
    public sealed record Failed(string Message) : RefundResult;
}

/// <summary>Converts between decimal amounts and the processor's integer minor units (cents), exactly.</summary>
public static class MinorUnits
{
    public static long ToMinor(decimal amount, string currency)
    {
        var units = Ledger.Currencies.MinorUnits(currency.ToUpperInvariant());
        var scaled = amount * Pow10(units);
        if (scaled != decimal.Truncate(scaled)) throw new ArgumentException($"{amount} {currency} is finer than the currency's minor unit");
        return (long)scaled;
    }

    public static decimal FromMinor(long minor, string currency) => minor / Pow10(Ledger.Currencies.MinorUnits(currency.ToUpperInvariant()));

    static decimal Pow10(int n)
    {
        var p = 1m;
        for (var i = 0; i < n; i++) p *= 10m;
        return p;
    }
}
