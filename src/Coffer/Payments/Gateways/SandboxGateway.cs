namespace Coffer.Payments.Gateways;

/// <summary>
/// The built-in gateway: deterministic test cards, no network, and a hosted checkout page served by Coffer
/// itself (<c>/checkout/sandbox/{session}</c>), so payment links and card payments work offline end to end.
/// A saved sandbox card's token is <c>sandbox_card_</c> followed by its number.
/// </summary>
public sealed class SandboxGateway(string publicBaseUrl) : IPaymentGateway
{
    public const string GatewayName = "sandbox";
    public const string TokenPrefix = "sandbox_card_";

    /// <summary>The test cards and what each does, as Stripe's test cards do.</summary>
    public static readonly IReadOnlyDictionary<string, (string Outcome, string Brand)> TestCards = new Dictionary<string, (string, string)>
    {
        ["4242424242424242"] = ("succeeds", "visa"),
        ["5555555555554444"] = ("succeeds", "mastercard"),
        ["4000000000000002"] = ("card_declined", "visa"),
        ["4000000000009995"] = ("insufficient_funds", "visa"),
        ["4000002500003155"] = ("requires_action", "visa"),
    };

    public string Name => GatewayName;

    public static bool IsTestCard(string number) => TestCards.ContainsKey(number);

    public static string Token(string number) => TokenPrefix + number;

    public Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken ct)
    {
        var number = request.PaymentMethodToken.StartsWith(TokenPrefix, StringComparison.Ordinal)
            ? request.PaymentMethodToken[TokenPrefix.Length..]
            : "";
        return Task.FromResult(Charge(number, request.PaymentId));
    }

    /// <summary>The outcome of charging a card number: the same for the hosted page and for saved cards.</summary>
    public static ChargeResult Charge(string number, string paymentId) =>
        TestCards.TryGetValue(number, out var card)
            ? card.Outcome switch
            {
                "succeeds" => new ChargeResult.Succeeded($"sbx_ch_{paymentId}"),
                "requires_action" => new ChargeResult.RequiresAction($"sbx_ch_{paymentId}", "the card requires authentication (3-D Secure)"),
                var code => new ChargeResult.Declined(code, code == "insufficient_funds" ? "the card has insufficient funds" : "the card was declined",
                    $"sbx_ch_{paymentId}"),
            }
            : new ChargeResult.Declined("invalid_number", "not a sandbox test card");

    public Task<CheckoutResult> CreateCheckoutAsync(CheckoutRequest request, CancellationToken ct)
    {
        var session = "cs_sbx_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        return Task.FromResult<CheckoutResult>(new CheckoutResult.Created(session, $"{publicBaseUrl.TrimEnd('/')}/checkout/sandbox/{session}"));
    }

    public Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken ct) =>
        Task.FromResult<RefundResult>(new RefundResult.Succeeded($"sbx_re_{request.RefundId}"));
}
