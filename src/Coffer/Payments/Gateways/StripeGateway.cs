using System.Net;
using Coffer.Settings;
using Stripe;
using Stripe.Checkout;

namespace Coffer.Payments.Gateways;

/// <summary>
/// Stripe through its official .NET library. Off-session card charges are PaymentIntents confirmed at once;
/// payment links are Checkout Sessions (settled by <see cref="StripeWebhooks"/>); refunds refund the
/// PaymentIntent. Every call carries an idempotency key made from Coffer's own id, so Stripe.net's automatic
/// retries and Coffer's own never move money twice. <see cref="GatewayConfig.StripeApiBase"/> points the
/// client at a local stand-in in tests.
/// </summary>
public sealed class StripeGateway : IPaymentGateway
{
    public const string GatewayName = "stripe";

    readonly StripeClient _client;

    public StripeGateway(GatewayConfig config)
    {
        if (string.IsNullOrWhiteSpace(config.StripeSecretKey))
            throw new InvalidOperationException("the stripe gateway needs stripe_secret_key");
        // Stripe.net shares one HttpClient across clients, so a client per tenant and call costs no sockets.
        _client = new StripeClient(apiKey: config.StripeSecretKey, apiBase: config.StripeApiBase);
    }

    public string Name => GatewayName;

    /// <summary>Where this client sends its requests.</summary>
    internal string ApiBase => _client.ApiBase;

    public async Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken ct)
    {
        var options = new PaymentIntentCreateOptions
        {
            Amount = MinorUnits.ToMinor(request.Amount, request.Currency),
            Currency = request.Currency.ToLowerInvariant(),
            Customer = request.GatewayCustomerId,
            PaymentMethod = request.PaymentMethodToken,
            Confirm = true,
            OffSession = true,
            // A saved card charged without the customer present: no redirect-based methods, which need a return URL.
            AutomaticPaymentMethods = new PaymentIntentAutomaticPaymentMethodsOptions { Enabled = true, AllowRedirects = "never" },
            Description = request.Description,
            Metadata = new Dictionary<string, string> { ["coffer_payment_id"] = request.PaymentId, ["coffer_customer_id"] = request.CustomerId },
        };
        var idempotency = new RequestOptions { IdempotencyKey = "charge_" + request.PaymentId };
        try
        {
            options.Customer ??= await CustomerOfAsync(request.PaymentMethodToken, ct);
            var intent = await new PaymentIntentService(_client).CreateAsync(options, idempotency, ct);
            return FromIntent(intent);
        }
        catch (StripeException e) when (e.StripeError?.Type == "card_error")
        {
            var error = e.StripeError;
            var intentId = error.PaymentIntent?.Id;
            if (error.Code == "authentication_required" || error.DeclineCode == "authentication_required")
                return new ChargeResult.RequiresAction(intentId ?? "", error.Message ?? "the card requires authentication");
            return new ChargeResult.Declined(error.DeclineCode ?? error.Code ?? "card_declined", error.Message ?? "the card was declined", intentId);
        }
        catch (StripeException e) when (IsDefinitiveRefusal(e))
        {
            // Stripe refused the request itself (no such payment method, a bad key, a bad parameter): nothing was charged.
            return new ChargeResult.Declined(e.StripeError?.Code ?? e.StripeError?.Type ?? "stripe_error", e.StripeError?.Message ?? e.Message);
        }
        // Network errors, time-outs, 409, 429 and 5xx propagate: the payment stays PROCESSING, to be reconciled,
        // since Stripe may have charged the card.
    }

    /// <summary>
    /// A card saved to a Stripe customer can only be charged together with that customer, and Coffer stores the
    /// card's id alone; Stripe knows whose it is. An unknown card is left for the charge itself to refuse.
    /// </summary>
    async Task<string?> CustomerOfAsync(string paymentMethodId, CancellationToken ct)
    {
        try
        {
            return (await new PaymentMethodService(_client).GetAsync(paymentMethodId, null, null, ct)).CustomerId;
        }
        catch (StripeException e) when (IsDefinitiveRefusal(e))
        {
            return null;
        }
    }

    static ChargeResult FromIntent(PaymentIntent intent) => intent.Status switch
    {
        "succeeded" => new ChargeResult.Succeeded(intent.Id),
        "requires_action" => new ChargeResult.RequiresAction(intent.Id, "the card requires authentication (3-D Secure)"),
        "requires_payment_method" => new ChargeResult.Declined(
            intent.LastPaymentError?.DeclineCode ?? intent.LastPaymentError?.Code ?? "requires_payment_method",
            intent.LastPaymentError?.Message ?? "the card was declined", intent.Id),
        "canceled" => new ChargeResult.Declined("canceled", "the payment was canceled at Stripe", intent.Id),
        // processing, requires_capture, requires_confirmation: not an outcome Coffer may settle either way.
        var status => throw new InvalidOperationException($"Stripe PaymentIntent {intent.Id} is {status}; the payment is left to reconcile"),
    };

    /// <summary>A 4xx other than a conflict or a rate limit: Stripe did nothing and will do nothing with this request.</summary>
    static bool IsDefinitiveRefusal(StripeException e) =>
        (int)e.HttpStatusCode is >= 400 and < 500 && e.HttpStatusCode is not (HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests);

    public async Task<CheckoutResult> CreateCheckoutAsync(CheckoutRequest request, CancellationToken ct)
    {
        var metadata = new Dictionary<string, string> { ["coffer_payment_id"] = request.PaymentId };
        var options = new SessionCreateOptions
        {
            Mode = "payment",
            LineItems =
            [
                new SessionLineItemOptions
                {
                    PriceData = new SessionLineItemPriceDataOptions
                    {
                        Currency = request.Currency.ToLowerInvariant(),
                        UnitAmount = MinorUnits.ToMinor(request.Amount, request.Currency),
                        ProductData = new SessionLineItemPriceDataProductDataOptions { Name = request.Description },
                    },
                    Quantity = 1,
                },
            ],
            SuccessUrl = request.SuccessUrl,
            CancelUrl = request.CancelUrl,
            ClientReferenceId = request.PaymentId,
            // Stripe takes a customer or an e-mail for one, never both.
            Customer = request.GatewayCustomerId,
            CustomerEmail = request.GatewayCustomerId is null ? request.CustomerEmail : null,
            Metadata = metadata,
            PaymentIntentData = new SessionPaymentIntentDataOptions
            {
                Metadata = metadata,
                // The card is attached to the customer for later off-session charges (auto top-up, charge-now purchases).
                SetupFutureUsage = request.SaveCard ? "off_session" : null,
            },
        };
        try
        {
            var session = await new SessionService(_client).CreateAsync(options, new RequestOptions { IdempotencyKey = "checkout_" + request.PaymentId }, ct);
            return string.IsNullOrEmpty(session.Url)
                ? new CheckoutResult.Failed($"Stripe returned checkout session {session.Id} without a URL")
                : new CheckoutResult.Created(session.Id, session.Url);
        }
        catch (Exception e) when (e is StripeException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            // No money moves when a checkout is created, so any failure here is simply a failure.
            return new CheckoutResult.Failed(Describe(e));
        }
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken ct)
    {
        var options = new RefundCreateOptions
        {
            PaymentIntent = request.GatewayPaymentId,
            Amount = MinorUnits.ToMinor(request.Amount, request.Currency),
            Metadata = new Dictionary<string, string> { ["coffer_payment_id"] = request.PaymentId, ["coffer_refund_id"] = request.RefundId },
        };
        try
        {
            var refund = await new Stripe.RefundService(_client).CreateAsync(options, new RequestOptions { IdempotencyKey = "refund_" + request.RefundId }, ct);
            return refund.Status is "succeeded" or "pending"
                ? new RefundResult.Succeeded(refund.Id)
                : new RefundResult.Failed($"Stripe refund {refund.Id} is {refund.Status}");
        }
        catch (StripeException e) when (IsDefinitiveRefusal(e))
        {
            return new RefundResult.Failed(Describe(e));
        }
        // Network errors, time-outs, 409, 429 and 5xx propagate: Stripe may have made the refund, so reporting it
        // failed could lead to a second refund under a new refund id. Repeating this refund id is always safe.
    }

    public async Task<CheckoutStatus> CheckoutStatusAsync(string sessionId, string paymentId, CancellationToken ct)
    {
        var options = new SessionGetOptions { Expand = ["payment_intent.payment_method"] };
        var session = await new SessionService(_client).GetAsync(sessionId, options, null, ct);
        return session switch
        {
            { PaymentStatus: "paid" } => new CheckoutStatus.Paid(session.PaymentIntentId, SavedCardOf(session.PaymentIntent)),
            { Status: "expired" } => new CheckoutStatus.Expired(),
            _ => new CheckoutStatus.Open(),
        };
    }

    /// <summary>The card a checkout was paid with, when the checkout kept it for off-session use (only then can Coffer charge it later).</summary>
    static SavedCard? SavedCardOf(PaymentIntent? intent) =>
        intent is { SetupFutureUsage: "off_session", PaymentMethod: { Type: "card" } method }
            ? new SavedCard(method.Id, method.Card?.Brand, method.Card?.Last4 ?? "")
            : null;

    public async Task<string?> CreateCustomerAsync(GatewayCustomerRequest request, CancellationToken ct)
    {
        var options = new CustomerCreateOptions
        {
            Email = request.Email,
            Name = request.Name,
            Metadata = new Dictionary<string, string> { ["coffer_customer_id"] = request.CustomerId },
        };
        // Two checkouts of one customer at once make one Stripe customer: same key, same answer (Stripe keeps keys 24 h;
        // Coffer keeps the id after the first answer).
        var customer = await new CustomerService(_client).CreateAsync(options, new RequestOptions { IdempotencyKey = "customer_" + request.CustomerId }, ct);
        return customer.Id;
    }

    public async Task ExpireCheckoutAsync(string sessionId, CancellationToken ct)
    {
        try
        {
            await new SessionService(_client).ExpireAsync(sessionId, null, new RequestOptions { IdempotencyKey = "expire_" + sessionId }, ct);
        }
        catch (StripeException e) when (IsDefinitiveRefusal(e))
        {
            // Already complete or expired: a completed one is settled by its webhook or the reconciler.
        }
    }

    static string Describe(Exception e) => e switch
    {
        StripeException { StripeError: { } error } => $"{error.Code ?? error.Type}: {error.Message}",
        StripeException s => $"Stripe answered {(int)s.HttpStatusCode}: {s.Message}",
        TaskCanceledException => "Stripe did not answer in time",
        _ => $"Stripe could not be reached: {e.Message}",
    };
}

/// <summary>Makes the Stripe gateway of a tenant that configured it.</summary>
public sealed class StripeGatewayFactory(Hosting.CofferOptions options) : IGatewayFactory
{
    public string Provider => StripeGateway.GatewayName;

    /// <summary>
    /// A stored <c>stripe_api_base</c> counts only while the operator allows it (COFFER_ALLOW_STRIPE_API_BASE): once the
    /// flag is off, the tenant's key goes to Stripe itself and nowhere else.
    /// </summary>
    public IPaymentGateway Create(GatewayConfig config) =>
        new StripeGateway(options.AllowStripeApiBase ? config : config with { StripeApiBase = null });

    /// <summary>Stripe's live secret and restricted keys; its test keys begin sk_test_ and rk_test_.</summary>
    public bool IsLive(GatewayConfig config) =>
        config.StripeSecretKey is { } key && (key.StartsWith("sk_live_", StringComparison.Ordinal) || key.StartsWith("rk_live_", StringComparison.Ordinal));
}
