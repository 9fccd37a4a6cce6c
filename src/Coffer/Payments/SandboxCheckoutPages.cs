using System.Net;
using Coffer.Payments.Gateways;
using Coffer.Tenants;

namespace Coffer.Payments;

/// <summary>
/// The sandbox gateway's hosted checkout page: what a payment link opens when the tenant uses the sandbox.
/// Plain server-rendered HTML with one form, no script. The session id in the address is the only key, so
/// it is 128 random bits.
/// </summary>
public static class SandboxCheckoutPages
{
    public static void MapSandboxCheckout(this WebApplication app)
    {
        app.MapGet("/checkout/sandbox/{session}", Show).ExcludeFromDescription();
        app.MapPost("/checkout/sandbox/{session}", Pay).ExcludeFromDescription().DisableAntiforgery();
        app.MapGet("/checkout/done", () => Results.Content(Page("Payment complete", "<p>Thank you: the payment went through.</p>"), "text/html")).ExcludeFromDescription();
        app.MapGet("/checkout/cancelled", () => Results.Content(Page("Payment cancelled", "<p>Nothing was charged.</p>"), "text/html")).ExcludeFromDescription();
    }

    static string Page(string title, string body) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{WebUtility.HtmlEncode(title)}}</title>
        <style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#111}
        label{display:block;margin:.75rem 0 .25rem}input{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box}
        button{margin-top:1rem;font-size:1rem;padding:.6rem 1.2rem;background:#1d4ed8;color:#fff;border:0;border-radius:.3rem}
        .error{color:#b91c1c}.note{color:#444;font-size:.9rem}</style></head>
        <body><h1>{{WebUtility.HtmlEncode(title)}}</h1>{{body}}</body></html>
        """;

    /// <summary>Open, not expired, and its tenant still in test mode: a sandbox link made before going live takes nothing afterwards.</summary>
    static async Task<bool> UsableAsync(CheckoutView s, TenantStore tenants, TimeProvider clock) =>
        s.Status != "expired" && s.ExpiresAt > clock.GetUtcNow() && (await tenants.GetAsync(s.TenantId))?.IsLive == false;

    static string Amount(CheckoutView s) => $"{s.Currency.ToUpperInvariant()} {s.Amount.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    static string Form(CheckoutView s, string? error) => $"""
        <p>{WebUtility.HtmlEncode(s.Description ?? "Payment")}: <strong id="amount">{WebUtility.HtmlEncode(Amount(s))}</strong></p>
        {(error is null ? "" : $"<p class=\"error\" role=\"alert\">{WebUtility.HtmlEncode(error)}</p>")}
        <form method="post">
          <label for="card_number">Card number</label>
          <input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" required>
          <button type="submit">Pay {WebUtility.HtmlEncode(Amount(s))}</button>
        </form>
        {(s.SaveCardAndMakeDefault ? "<p class=\"note\" id=\"saves-card\">This card will be saved for future payments.</p>" : "")}
        <p class="note">Sandbox: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined.</p>
        """;

    static async Task<IResult> Show(string session, PaymentService payments, TenantStore tenants, TimeProvider clock)
    {
        var s = await payments.FindCheckoutAsync(SandboxGateway.GatewayName, session);
        if (s is null || !await UsableAsync(s, tenants, clock)) return Results.Content(Page("Link expired", "<p>This payment link is not valid.</p>"), "text/html", statusCode: 404);
        if (s.Status == "complete") return Results.Content(Page("Already paid", "<p>This payment has been made.</p>"), "text/html");
        return Results.Content(Page("Pay", Form(s, null)), "text/html");
    }

    static async Task<IResult> Pay(string session, HttpRequest request, PaymentService payments, GatewayRegistry gateways, TenantStore tenants,
        TimeProvider clock)
    {
        var s = await payments.FindCheckoutAsync(SandboxGateway.GatewayName, session);
        if (s is null || !await UsableAsync(s, tenants, clock)) return Results.Content(Page("Link expired", "<p>This payment link is not valid.</p>"), "text/html", statusCode: 404);
        if (s.Status == "complete") return Results.Redirect(s.SuccessUrl ?? "/checkout/done");
        var form = await request.ReadFormAsync();
        var number = form["card_number"].ToString().Replace(" ", "");
        switch (await gateways.Sandbox(s.TenantId, request).PayCheckoutAsync(number, s.PaymentId, s.Amount, s.Currency))
        {
            case ChargeResult.Succeeded ok:
                await payments.CompleteCheckoutAsync(s, true, ok.GatewayPaymentId, null, SandboxGateway.Card(number));
                return Results.Redirect(s.SuccessUrl ?? "/checkout/done");
            case ChargeResult.Declined d:
                // A declined card leaves the link open for another card, as a hosted checkout does.
                return Results.Content(Page("Pay", Form(s, d.Message)), "text/html", statusCode: 402);
            case ChargeResult.RequiresAction:
                return Results.Content(Page("Pay", Form(s, "This card needs authentication, which the sandbox does not offer; use another card.")), "text/html", statusCode: 402);
            default:
                return Results.StatusCode(500);
        }
    }
}
