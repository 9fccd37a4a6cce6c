using Coffer.Storage;

namespace Coffer.Payments.Gateways;

/// <summary>
/// The built-in gateway: deterministic test cards, no network, and a hosted checkout page served by Coffer
/// itself (<c>/checkout/sandbox/{session}</c>), so payment links and card payments work offline end to end.
/// A saved sandbox card's token is <c>sandbox_card_</c> followed by its number.
/// Like a real gateway it keeps its own record of the money it moved (<c>sandbox_charges</c>), keyed by the
/// idempotency key of each call: asking again with the same key answers what the first call did, which is
/// what lets a reconciler settle a payment whose answer was lost.
/// </summary>
public sealed class SandboxGateway(Database db, string tenantId, string publicBaseUrl, TimeProvider clock, TimeSpan slowCardDelay) : IPaymentGateway
{
    public const string GatewayName = "sandbox";
    public const string TokenPrefix = "sandbox_card_";

    /// <summary>Charged, but the answer comes only after the configured delay (COFFER_SANDBOX_SLOW_CARD_MS), so a test can stop Coffer mid-call.</summary>
    public const string SlowCard = "4000000000007726";

    /// <summary>Charged, but the first call times out as if the answer were lost on the way back; asking again answers "succeeded".</summary>
    public const string ChargedThenTimesOutCard = "4000000000007734";

    /// <summary>The test cards and what each does, as Stripe's test cards do.</summary>
    public static readonly IReadOnlyDictionary<string, (string Outcome, string Brand)> TestCards = new Dictionary<string, (string, string)>
    {
        ["4242424242424242"] = ("succeeds", "visa"),
        ["5555555555554444"] = ("succeeds", "mastercard"),
        ["4000000000000002"] = ("card_declined", "visa"),
        ["4000000000009995"] = ("insufficient_funds", "visa"),
        ["4000002500003155"] = ("requires_action", "visa"),
        [SlowCard] = ("succeeds", "visa"),
        [ChargedThenTimesOutCard] = ("succeeds", "visa"),
    };

    public string Name => GatewayName;

    public static bool IsTestCard(string number) => TestCards.ContainsKey(number);

    public static string Token(string number) => TokenPrefix + number;

    /// <summary>A test card as a saved payment method.</summary>
    public static SavedCard Card(string number) => new(Token(number), TestCards[number].Brand, number[^4..]);

    public async Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken ct)
    {
        var number = request.PaymentMethodToken.StartsWith(TokenPrefix, StringComparison.Ordinal)
            ? request.PaymentMethodToken[TokenPrefix.Length..]
            : "";
        var key = "charge_" + request.PaymentId;
        var (outcome, first) = await RecordAsync(key, "charge", request.PaymentId, number, request.Amount, request.Currency);
        if (first && number == SlowCard) await Task.Delay(slowCardDelay, clock, CancellationToken.None);
        if (first && number == ChargedThenTimesOutCard)
            throw new TimeoutException("the sandbox gateway did not answer in time (the card was charged)");
        return Result(outcome, request.PaymentId);
    }

    /// <summary>The customer typed a card on the hosted page: the outcome of that card, recorded when it moves money.</summary>
    public async Task<ChargeResult> PayCheckoutAsync(string number, string paymentId, decimal amount, string currency)
    {
        var outcome = Outcome(number);
        // A declined card leaves the link open for another card, so only a charge that moved money is kept.
        if (outcome != "succeeds") return Result(outcome, paymentId);
        var (recorded, _) = await RecordAsync("checkout_" + paymentId, "checkout", paymentId, number, amount, currency);
        return Result(recorded, paymentId);
    }

    static string Outcome(string number) => TestCards.TryGetValue(number, out var card) ? card.Outcome : "invalid_number";

    static ChargeResult Result(string outcome, string paymentId) => outcome switch
    {
        "succeeds" => new ChargeResult.Succeeded($"sbx_ch_{paymentId}"),
        "requires_action" => new ChargeResult.RequiresAction($"sbx_ch_{paymentId}", "the card requires authentication (3-D Secure)"),
        "invalid_number" => new ChargeResult.Declined("invalid_number", "not a sandbox test card"),
        var code => new ChargeResult.Declined(code, code == "insufficient_funds" ? "the card has insufficient funds" : "the card was declined",
            $"sbx_ch_{paymentId}"),
    };

    /// <summary>Records a call under its key, or returns what the first call with that key did.</summary>
    async Task<(string Outcome, bool First)> RecordAsync(string key, string kind, string paymentId, string number, decimal amount, string currency)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        var existing = await c.QuerySingleAsync(scope.Transaction,
            $"SELECT outcome FROM sandbox_charges WHERE tenant_id = @t AND idempotency_key = @k{db.ForUpdate}",
            r => r.Str("outcome"), ("t", tenantId), ("k", key));
        if (existing is not null) return (existing, false);
        var outcome = kind == "refund" ? "succeeds" : Outcome(number);
        await c.ExecAsync(scope.Transaction,
            """
            INSERT INTO sandbox_charges (tenant_id, idempotency_key, kind, payment_id, card_number, outcome, amount, currency, created_at)
            VALUES (@t, @k, @kind, @p, @n, @o, @a, @cur, @now)
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            """,
            ("t", tenantId), ("k", key), ("kind", kind), ("p", paymentId), ("n", number), ("o", outcome), ("a", amount), ("cur", currency),
            ("now", clock.GetUtcNow()));
        await scope.CommitAsync();
        return (outcome, true);
    }

    public Task<CheckoutResult> CreateCheckoutAsync(CheckoutRequest request, CancellationToken ct)
    {
        var session = "cs_sbx_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        return Task.FromResult<CheckoutResult>(new CheckoutResult.Created(session, $"{publicBaseUrl.TrimEnd('/')}/checkout/sandbox/{session}"));
    }

    public async Task<CheckoutStatus> CheckoutStatusAsync(string sessionId, string paymentId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var paidWith = await c.QuerySingleAsync(null, "SELECT card_number FROM sandbox_charges WHERE tenant_id = @t AND idempotency_key = @k",
            r => r.Str("card_number"), ("t", tenantId), ("k", "checkout_" + paymentId));
        return paidWith is not null ? new CheckoutStatus.Paid($"sbx_ch_{paymentId}", Card(paidWith)) : new CheckoutStatus.Open();
    }

    // A sandbox card is its own token: there is no gateway customer to own it.
    public Task<string?> CreateCustomerAsync(GatewayCustomerRequest request, CancellationToken ct) => Task.FromResult<string?>(null);

    // The hosted page is Coffer's own: once the session is marked expired the page refuses it, so nothing to tell.
    public Task ExpireCheckoutAsync(string sessionId, CancellationToken ct) => Task.CompletedTask;

    public async Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken ct)
    {
        await RecordAsync("refund_" + request.RefundId, "refund", request.PaymentId, "", request.Amount, request.Currency);
        return new RefundResult.Succeeded($"sbx_re_{request.RefundId}");
    }
}
