using System.Text;
using Coffer.Common;
using Coffer.Payments.Gateways;
using Coffer.Settings;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Stripe;

namespace Coffer.Payments;

public sealed record WebhookReceipt(bool Received);

/// <summary>
/// Where Stripe reports a tenant's checkout sessions: <c>POST /v1/webhooks/stripe/{tenant_id}/{environment_id}</c>,
/// Flexprice's address for it. Authenticated by the <c>Stripe-Signature</c> header (an HMAC with the tenant's
/// webhook secret, timestamped, checked against Coffer's clock), not by an API key, so the API-key middleware
/// lets this path through. Once the signature is good the answer is always 200, since Stripe retries anything
/// else: an event Coffer does not act on, or one for a session it does not know, is simply acknowledged.
/// Settling is idempotent, so the same event delivered twice (Stripe delivers at least once) changes nothing more.
/// </summary>
public static class StripeWebhooks
{
    public const string PathPrefix = "/v1/webhooks/stripe";

    /// <summary>How far the signed timestamp may be from Coffer's clock, in seconds: Stripe.net's default.</summary>
    public const long ToleranceSeconds = 300;

    public static void MapStripeWebhooks(this WebApplication app) =>
        app.MapPost(PathPrefix + "/{tenant_id}/{environment_id}", Receive)
            .WithTags("Webhooks")
            .WithName("receiveStripeWebhook")
            .WithSummary("Receives a Stripe event (checkout.session.*, payment_intent.succeeded, payment_intent.payment_failed, charge.refunded, refund.*)")
            .WithDescription("Configure this URL as a webhook endpoint in Stripe with the tenant's id; it is authenticated by the " +
                             "Stripe-Signature header and the tenant's stripe_webhook_secret, not by an API key.")
            .Accepts<System.Text.Json.JsonElement>("application/json")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Security = [];
                operation.Responses?.Remove("401");
                return Task.CompletedTask;
            });

    static async Task<Results<Ok<WebhookReceipt>, ApiError>> Receive(
        [FromRoute(Name = "tenant_id")] string tenantId, [FromHeader(Name = "Stripe-Signature")] string? signature, HttpRequest request,
        TenantSettings settings, TenantStore tenants, PaymentService payments, RefundService refunds, GatewayRegistry gateways, TimeProvider clock,
        ILoggerFactory logs)
    {
        var config = await settings.GatewayConfigAsync(tenantId);
        // The same answer as a bad signature: which tenants exist or use Stripe is not for an unauthenticated caller to learn.
        if (config.Provider != StripeGateway.GatewayName || string.IsNullOrEmpty(config.StripeWebhookSecret))
            return ApiError.Validation("invalid Stripe signature");

        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var json = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
        if (string.IsNullOrEmpty(signature)) return ApiError.Validation("invalid Stripe signature");
        Event stripeEvent;
        try
        {
            stripeEvent = EventUtility.ConstructEvent(json, signature, config.StripeWebhookSecret, ToleranceSeconds,
                clock.GetUtcNow().ToUnixTimeSeconds(), throwOnApiVersionMismatch: false);
        }
        catch (StripeException)
        {
            return ApiError.Validation("invalid Stripe signature");
        }
        catch (Newtonsoft.Json.JsonException)
        {
            return ApiError.Validation("the body is not a Stripe event");
        }

        var log = logs.CreateLogger(typeof(StripeWebhooks).FullName!);
        if (stripeEvent.Livemode != ((await tenants.GetAsync(tenantId))?.IsLive ?? false))
        {
            // Money of the other mode (a test payment reported to a live tenant, or the reverse) never settles anything.
            log.LogWarning("Stripe event {Event} for tenant {Tenant} is of the other mode (livemode {Livemode}); it is acknowledged and ignored",
                stripeEvent.Id, tenantId, stripeEvent.Livemode);
            return TypedResults.Ok(new WebhookReceipt(true));
        }
        switch (stripeEvent.Type, stripeEvent.Data.Object)
        {
            case ("payment_intent.succeeded" or "payment_intent.payment_failed", PaymentIntent intent):
                await SettleIntentAsync(tenantId, intent, stripeEvent.Type == "payment_intent.succeeded", payments, log);
                return TypedResults.Ok(new WebhookReceipt(true));
            case ("charge.refunded", Charge charge):
                foreach (var refund in charge.Refunds?.Data ?? [])
                    await ReportRefundAsync(tenantId, refund, refunds);
                return TypedResults.Ok(new WebhookReceipt(true));
            case ("refund.updated" or "refund.created" or "refund.failed", Refund refund):
                await ReportRefundAsync(tenantId, refund, refunds);
                return TypedResults.Ok(new WebhookReceipt(true));
        }
        (Stripe.Checkout.Session? Session, bool Succeeded, string? Error) outcome = stripeEvent.Type switch
        {
            "checkout.session.completed" or "checkout.session.async_payment_succeeded" => Paid(stripeEvent),
            "checkout.session.expired" => (stripeEvent.Data.Object as Stripe.Checkout.Session, false, "checkout expired"),
            "checkout.session.async_payment_failed" => (stripeEvent.Data.Object as Stripe.Checkout.Session, false, "the payment failed at Stripe"),
            _ => (null, false, null),
        };
        if (outcome.Session is not { } session) return TypedResults.Ok(new WebhookReceipt(true));

        var view = await payments.FindCheckoutAsync(StripeGateway.GatewayName, session.Id);
        if (view is null || view.TenantId != tenantId)
        {
            log.LogWarning("Stripe event {Event} ({Type}) names checkout session {Session}, which tenant {Tenant} does not have; ignored",
                stripeEvent.Id, stripeEvent.Type, session.Id, tenantId);
            return TypedResults.Ok(new WebhookReceipt(true));
        }
        if (outcome.Succeeded && !SameAmount(session, view))
        {
            log.LogError("Stripe checkout session {Session} was paid {Amount} {Currency}, but payment {Payment} of tenant {Tenant} is for {Expected} {ExpectedCurrency}; not settled",
                session.Id, session.AmountTotal, session.Currency, view.PaymentId, tenantId, view.Amount, view.Currency);
            return TypedResults.Ok(new WebhookReceipt(true));
        }
        var (card, cardUnknown) = outcome.Succeeded && view.SaveCardAndMakeDefault
            ? await PaidWithAsync(tenantId, view, gateways, log)
            : (null, false);
        await payments.CompleteCheckoutAsync(view, outcome.Succeeded, outcome.Succeeded ? session.PaymentIntentId : null, outcome.Error, card);
        // The money is settled; the card to save is not known yet. Stripe delivers the event again on a 503, and settling
        // it again changes nothing, so the next delivery saves the card.
        if (cardUnknown) return new ApiError(503, ErrorCodes.Unavailable, "the card paid with could not be read from Stripe yet; deliver again");
        return TypedResults.Ok(new WebhookReceipt(true));
    }

    /// <summary>The card a checkout that asked to save it was paid with: the event names only the PaymentIntent, so Stripe is asked.</summary>
    static async Task<(SavedCard? Card, bool Unknown)> PaidWithAsync(string tenantId, CheckoutView view, GatewayRegistry gateways, ILogger log)
    {
        if (await gateways.ForPaymentAsync(tenantId, StripeGateway.GatewayName) is not { } gateway) return (null, true);
        try
        {
            return (await gateway.CheckoutStatusAsync(view.GatewaySessionId, view.PaymentId, CancellationToken.None) as CheckoutStatus.Paid)?.Card is { } card
                ? (card, false)
                : (null, false);
        }
        catch (Exception e) when (e is StripeException or HttpRequestException or TaskCanceledException)
        {
            log.LogWarning(e, "could not read the card of Stripe checkout session {Session} to save it", view.GatewaySessionId);
            return (null, true);
        }
    }

    /// <summary>
    /// A PaymentIntent that Coffer made (its metadata names the payment) succeeded or failed: the payment settles,
    /// once, however often and in whatever order this and the charge's own answer arrive. An amount that differs
    /// from the payment's is never settled as paid.
    /// </summary>
    static async Task SettleIntentAsync(string tenantId, PaymentIntent intent, bool succeeded, PaymentService payments, ILogger log)
    {
        if (intent.Metadata?.GetValueOrDefault("coffer_payment_id") is not { } paymentId) return;
        var payment = await payments.GetAsync(tenantId, paymentId);
        if (payment is null || payment.PaymentGateway != StripeGateway.GatewayName)
        {
            log.LogWarning("Stripe PaymentIntent {Intent} names payment {Payment}, which tenant {Tenant} does not have; ignored", intent.Id, paymentId, tenantId);
            return;
        }
        if (succeeded && intent.AmountReceived != MinorUnits.ToMinor(payment.Amount, payment.Currency))
        {
            log.LogError("Stripe PaymentIntent {Intent} received {Amount}, but payment {Payment} of tenant {Tenant} is for {Expected} {Currency}; not settled",
                intent.Id, intent.AmountReceived, paymentId, tenantId, payment.Amount, payment.Currency);
            return;
        }
        var error = succeeded ? null : $"{intent.LastPaymentError?.DeclineCode ?? intent.LastPaymentError?.Code ?? "payment_failed"}: {intent.LastPaymentError?.Message ?? "the payment failed at Stripe"}";
        await payments.SettleFromGatewayAsync(payment, succeeded, intent.Id, error);
    }

    /// <summary>A refund Coffer asked for (its metadata names it) reached a final state at Stripe.</summary>
    static async Task ReportRefundAsync(string tenantId, Refund refund, RefundService refunds)
    {
        if (refund.Metadata?.GetValueOrDefault("coffer_refund_id") is not { } refundId) return;
        RefundResult? result = refund.Status switch
        {
            "succeeded" => new RefundResult.Succeeded(refund.Id),
            "failed" or "canceled" => new RefundResult.Failed($"Stripe refund {refund.Id} is {refund.Status}"),
            _ => null,
        };
        if (result is not null) await refunds.ReportAsync(tenantId, refundId, result);
    }

    /// <summary>A completed session counts as paid only when Stripe says the money arrived (not for a delayed method still pending).</summary>
    static (Stripe.Checkout.Session? Session, bool Succeeded, string? Error) Paid(Event e) =>
        e.Data.Object is Stripe.Checkout.Session { PaymentStatus: "paid" } session ? (session, true, null) : (null, false, null);

    static bool SameAmount(Stripe.Checkout.Session session, CheckoutView view) =>
        session.AmountTotal is null ||
        (session.AmountTotal == MinorUnits.ToMinor(view.Amount, view.Currency) &&
         string.Equals(session.Currency, view.Currency, StringComparison.OrdinalIgnoreCase));
}
