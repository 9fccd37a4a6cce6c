using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Coffer.Tests;

/// <summary>What the stand-in received: the form-encoded body as Stripe.net sent it, and the headers that matter.</summary>
public sealed record StripeCall(string Method, string Path, IReadOnlyDictionary<string, string> Form, string? IdempotencyKey, string? Authorization);

/// <summary>
/// A local stand-in for Stripe's API: a real Kestrel server on 127.0.0.1 and a free port, answering the calls
/// Coffer makes with JSON shaped as in Stripe's API reference, so Stripe.net runs unmodified against it. Like
/// Stripe it replays the first answer to a repeated Idempotency-Key. Test payment methods behave as Stripe's:
/// <c>pm_card_chargeDeclined</c> is declined, <c>pm_card_authenticationRequired</c> needs 3-D Secure, and any
/// other <c>pm_…</c> is charged; refunds succeed except for <see cref="AlreadyRefunded"/>.
/// </summary>
public sealed class StripeStandIn : IAsyncDisposable
{
    public const string Declined = "pm_card_chargeDeclined";
    public const string InsufficientFunds = "pm_card_chargeDeclinedInsufficientFunds";
    public const string AuthenticationRequired = "pm_card_authenticationRequired";

    /// <summary>A PaymentIntent whose refund Stripe refuses.</summary>
    public const string AlreadyRefunded = "pi_already_refunded";

    readonly WebApplication _app;
    readonly ConcurrentQueue<StripeCall> _calls = new();
    readonly ConcurrentDictionary<string, (int Status, string Body)> _replays = new();
    readonly ConcurrentDictionary<string, JsonObject> _sessions = new();
    readonly ConcurrentDictionary<string, string> _customers = new();
    readonly ConcurrentDictionary<string, JsonObject> _intents = new();
    int _sequence;

    public string Url { get; }

    /// <summary>When set, checkout sessions answer 500 (with Stripe-Should-Retry: false, so Stripe.net gives up at once).</summary>
    public bool CheckoutOutage { get; set; }

    /// <summary>When set, charges time out after the card was charged: the answer is lost, as when a connection drops on the way back.</summary>
    public bool ChargeAnswerLost { get; set; }

    /// <summary>When set, refunds are made (and replayed for the same key) but the answer is lost on the way back.</summary>
    public bool RefundAnswerLost { get; set; }

    /// <summary>When set, reading a checkout session answers 500.</summary>
    public bool SessionReadOutage { get; set; }

    public IReadOnlyList<StripeCall> Calls => [.. _calls];

    public StripeCall Single(string path) => Assert.Single(_calls, c => c.Path == path && c.Method == "POST");

    StripeStandIn(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<StripeStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        StripeStandIn? standIn = null;
        app.Use(async (http, next) =>
        {
            // Stripe.net never calls before StartAsync has returned, so standIn is set by then.
            await standIn!.RecordAsync(http);
            await next(http);
        });
        app.MapPost("/v1/payment_intents", (HttpContext http) =>
        {
            var answer = standIn!.Idempotent(http, standIn.CreatePaymentIntent);
            // The intent is made (and replayed for the same key), but this answer never arrives.
            if (standIn.ChargeAnswerLost) { http.Response.Headers["Stripe-Should-Retry"] = "false"; return Results.StatusCode(504); }
            return answer;
        });
        app.MapPost("/v1/checkout/sessions", (HttpContext http) => standIn!.Idempotent(http, standIn.CreateCheckoutSession));
        app.MapPost("/v1/refunds", (HttpContext http) =>
        {
            var answer = standIn!.Idempotent(http, standIn.CreateRefund);
            if (standIn.RefundAnswerLost) { http.Response.Headers["Stripe-Should-Retry"] = "false"; return Results.StatusCode(504); }
            return answer;
        });
        app.MapPost("/v1/customers", (HttpContext http) => standIn!.Idempotent(http, standIn.CreateCustomer));
        app.MapGet("/v1/checkout/sessions/{id}", (string id, HttpContext http) => standIn!.GetSession(id, http));
        app.MapGet("/v1/payment_methods/{id}", (string id) => standIn!.PaymentMethod(id));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        standIn = new StripeStandIn(app, address);
        return standIn;
    }

    /// <summary>Makes a payment method belong to a Stripe customer, as a card saved with a SetupIntent does.</summary>
    public void Attach(string paymentMethod, string customer) => _customers[paymentMethod] = customer;

    async Task RecordAsync(HttpContext http)
    {
        var form = new Dictionary<string, string>();
        if (http.Request.HasFormContentType)
            foreach (var (key, value) in await http.Request.ReadFormAsync())
                form[key] = value.ToString();
        _calls.Enqueue(new StripeCall(http.Request.Method, http.Request.Path, form,
            http.Request.Headers["Idempotency-Key"].FirstOrDefault(), http.Request.Headers.Authorization.FirstOrDefault()));
    }

    string NewId(string prefix) => $"{prefix}_test_{Interlocked.Increment(ref _sequence):D4}{Guid.NewGuid():N}"[..(prefix.Length + 30)];

    static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    IResult Idempotent(HttpContext http, Func<IFormCollection, (int Status, JsonObject Body)> create)
    {
        var form = http.Request.Form;
        var key = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        var answer = key is null
            ? Render(create(form))
            : _replays.GetOrAdd(http.Request.Path + " " + key, _ => Render(create(form)));
        if (answer.Status >= 500) http.Response.Headers["Stripe-Should-Retry"] = "false";
        return Results.Text(answer.Body, "application/json", Encoding.UTF8, answer.Status);
    }

    static (int Status, string Body) Render((int Status, JsonObject Body) r) => (r.Status, r.Body.ToJsonString());

    static JsonObject Metadata(IFormCollection form)
    {
        var metadata = new JsonObject();
        foreach (var (key, value) in form.Where(f => f.Key.StartsWith("metadata[", StringComparison.Ordinal)))
            metadata[key["metadata[".Length..^1]] = value.ToString();
        return metadata;
    }

    (int, JsonObject) CreatePaymentIntent(IFormCollection form)
    {
        var method = form["payment_method"].ToString();
        var intent = new JsonObject
        {
            ["id"] = NewId("pi"), ["object"] = "payment_intent", ["amount"] = long.Parse(form["amount"]!), ["currency"] = form["currency"].ToString(),
            ["customer"] = form["customer"].FirstOrDefault(), ["payment_method"] = method, ["confirmation_method"] = "automatic",
            ["capture_method"] = "automatic", ["created"] = Now, ["livemode"] = false, ["metadata"] = Metadata(form),
            ["description"] = form["description"].FirstOrDefault(),
        };
        switch (method)
        {
            case Declined or InsufficientFunds:
                var decline = method == Declined ? "generic_decline" : "insufficient_funds";
                var message = method == Declined ? "Your card was declined." : "Your card has insufficient funds.";
                intent["status"] = "requires_payment_method";
                intent["last_payment_error"] = new JsonObject { ["type"] = "card_error", ["code"] = "card_declined", ["decline_code"] = decline, ["message"] = message };
                return (402, new JsonObject
                {
                    ["error"] = new JsonObject
                    {
                        ["type"] = "card_error", ["code"] = "card_declined", ["decline_code"] = decline, ["message"] = message,
                        ["doc_url"] = "https://stripe.com/docs/error-codes/card-declined", ["payment_intent"] = intent,
                    },
                });
            case AuthenticationRequired:
                intent["status"] = "requires_action";
                intent["next_action"] = new JsonObject { ["type"] = "use_stripe_sdk" };
                return (200, intent);
            default:
                intent["status"] = "succeeded";
                intent["amount_received"] = intent["amount"]!.GetValue<long>();
                intent["latest_charge"] = NewId("ch");
                return (200, intent);
        }
    }

    (int, JsonObject) CreateCheckoutSession(IFormCollection form)
    {
        if (CheckoutOutage)
            return (500, new JsonObject { ["error"] = new JsonObject { ["type"] = "api_error", ["message"] = "An unknown error occurred" } });
        var id = NewId("cs");
        var unit = long.Parse(form["line_items[0][price_data][unit_amount]"]!);
        var quantity = long.Parse(form["line_items[0][quantity]"]!);
        var session = new JsonObject
        {
            ["id"] = id, ["object"] = "checkout.session", ["mode"] = form["mode"].ToString(), ["status"] = "open", ["payment_status"] = "unpaid",
            ["amount_subtotal"] = unit * quantity, ["amount_total"] = unit * quantity, ["currency"] = form["line_items[0][price_data][currency]"].ToString(),
            ["client_reference_id"] = form["client_reference_id"].FirstOrDefault(), ["customer_email"] = form["customer_email"].FirstOrDefault(),
            ["customer"] = form["customer"].FirstOrDefault(), ["setup_future_usage"] = form["payment_intent_data[setup_future_usage]"].FirstOrDefault(),
            ["success_url"] = form["success_url"].FirstOrDefault(), ["cancel_url"] = form["cancel_url"].FirstOrDefault(),
            ["metadata"] = Metadata(form), ["payment_intent"] = null, ["created"] = Now, ["expires_at"] = Now + 86400, ["livemode"] = false,
            ["url"] = $"{Url}/c/pay/{id}",
        };
        _sessions[id] = session;
        return (200, session);
    }

    (int, JsonObject) CreateCustomer(IFormCollection form) => (200, new JsonObject
    {
        ["id"] = NewId("cus"), ["object"] = "customer", ["email"] = form["email"].FirstOrDefault(), ["name"] = form["name"].FirstOrDefault(),
        ["metadata"] = Metadata(form), ["created"] = Now, ["livemode"] = false,
    });

    /// <summary>
    /// A session as Stripe answers <c>GET /v1/checkout/sessions/{id}</c> once it is paid (see <see cref="Pay"/>), with the
    /// PaymentIntent and its card expanded when asked (<c>expand[]=payment_intent.payment_method</c>).
    /// </summary>
    IResult GetSession(string id, HttpContext http)
    {
        if (SessionReadOutage)
        {
            http.Response.Headers["Stripe-Should-Retry"] = "false";
            return Results.Text(new JsonObject { ["error"] = new JsonObject { ["type"] = "api_error", ["message"] = "An unknown error occurred" } }.ToJsonString(),
                "application/json", statusCode: 500);
        }
        if (!_sessions.TryGetValue(id, out var stored))
            return Results.Text(new JsonObject { ["error"] = new JsonObject { ["type"] = "invalid_request_error", ["code"] = "resource_missing" } }.ToJsonString(),
                "application/json", statusCode: 404);
        var session = stored.DeepClone().AsObject();
        var expand = http.Request.Query["expand[]"].Concat(http.Request.Query["expand[0]"]).ToList();
        if (expand.Contains("payment_intent.payment_method") && session["payment_intent"] is JsonValue intentId)
        {
            var intent = _intents[intentId.GetValue<string>()].DeepClone().AsObject();
            var method = intent["payment_method"]!.GetValue<string>();
            intent["payment_method"] = new JsonObject
            {
                ["id"] = method, ["object"] = "payment_method", ["type"] = "card", ["customer"] = _customers.GetValueOrDefault(method),
                ["card"] = new JsonObject { ["brand"] = "mastercard", ["last4"] = "4444" }, ["created"] = Now, ["livemode"] = false,
            };
            session["payment_intent"] = intent;
        }
        return Results.Text(session.ToJsonString(), "application/json");
    }

    /// <summary>
    /// The customer pays the session with a card: the session is complete and paid, through a PaymentIntent that keeps the
    /// card for the session's customer when the session asked for <c>setup_future_usage</c>, as Stripe does.
    /// </summary>
    public JsonObject Pay(string sessionId, string paymentMethod = "pm_card_mastercard")
    {
        var session = _sessions[sessionId];
        var intentId = "pi_paid_for_" + sessionId;
        var saves = session["setup_future_usage"]?.GetValue<string>();
        _intents[intentId] = new JsonObject
        {
            ["id"] = intentId, ["object"] = "payment_intent", ["amount"] = session["amount_total"]!.GetValue<long>(),
            ["amount_received"] = session["amount_total"]!.GetValue<long>(), ["currency"] = session["currency"]!.GetValue<string>(),
            ["customer"] = session["customer"]?.GetValue<string>(), ["payment_method"] = paymentMethod, ["setup_future_usage"] = saves,
            ["status"] = "succeeded", ["created"] = Now, ["livemode"] = false, ["metadata"] = session["metadata"]!.DeepClone(),
        };
        if (saves is not null && session["customer"]?.GetValue<string>() is { } customer) Attach(paymentMethod, customer);
        (session["status"], session["payment_status"], session["payment_intent"]) = ("complete", "paid", intentId);
        return session.DeepClone().AsObject();
    }

    (int, JsonObject) CreateRefund(IFormCollection form) => form["payment_intent"] == AlreadyRefunded
        ? (400, new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["type"] = "invalid_request_error", ["code"] = "charge_already_refunded",
                ["message"] = $"Charge for PaymentIntent {AlreadyRefunded} has already been refunded.",
            },
        })
        : (200, new JsonObject
        {
            ["id"] = NewId("re"), ["object"] = "refund", ["amount"] = long.Parse(form["amount"]!), ["currency"] = "usd",
            ["payment_intent"] = form["payment_intent"].ToString(), ["status"] = "succeeded", ["created"] = Now, ["metadata"] = Metadata(form),
        });

    IResult PaymentMethod(string id) =>
        id.StartsWith("pm_", StringComparison.Ordinal)
            ? Results.Text(new JsonObject
            {
                ["id"] = id, ["object"] = "payment_method", ["type"] = "card", ["customer"] = _customers.GetValueOrDefault(id),
                ["card"] = new JsonObject { ["brand"] = "visa", ["last4"] = "4242" }, ["created"] = Now, ["livemode"] = false,
            }.ToJsonString(), "application/json")
            : Results.Text(new JsonObject
            {
                ["error"] = new JsonObject { ["type"] = "invalid_request_error", ["code"] = "resource_missing", ["message"] = $"No such PaymentMethod: '{id}'" },
            }.ToJsonString(), "application/json", statusCode: 404);

    /// <summary>The session as Stripe has it once the customer paid, or once it expired unpaid.</summary>
    public JsonObject Session(string id, string outcome)
    {
        var session = _sessions[id].DeepClone().AsObject();
        if (outcome == "completed")
        {
            (session["status"], session["payment_status"]) = ("complete", "paid");
            session["payment_intent"] = "pi_paid_for_" + id;
        }
        else (session["status"], session["payment_status"], session["url"]) = ("expired", "unpaid", null);
        return session;
    }

    /// <summary>A webhook event as Stripe sends it: <c>checkout.session.completed</c> or <c>checkout.session.expired</c>.</summary>
    public string Event(string sessionId, string outcome, JsonObject? session = null) => new JsonObject
    {
        ["id"] = NewId("evt"), ["object"] = "event", ["api_version"] = "2025-01-27.acacia", ["created"] = Now, ["livemode"] = false,
        ["pending_webhooks"] = 1, ["request"] = new JsonObject { ["id"] = null, ["idempotency_key"] = null },
        ["type"] = "checkout.session." + outcome, ["data"] = new JsonObject { ["object"] = session ?? Session(sessionId, outcome) },
    }.ToJsonString();

    /// <summary>A <c>payment_intent.*</c> event for the intent Coffer created with the given idempotency key.</summary>
    public string IntentEvent(string idempotencyKey, string type)
    {
        var intent = JsonNode.Parse(_replays["/v1/payment_intents " + idempotencyKey].Body)!.AsObject();
        if (type == "payment_intent.payment_failed")
        {
            (intent["status"], intent["amount_received"]) = ("requires_payment_method", 0);
            intent["last_payment_error"] = new JsonObject { ["type"] = "card_error", ["code"] = "card_declined", ["decline_code"] = "generic_decline", ["message"] = "Your card was declined." };
        }
        return new JsonObject
        {
            ["id"] = NewId("evt"), ["object"] = "event", ["api_version"] = "2025-01-27.acacia", ["created"] = Now, ["livemode"] = false,
            ["pending_webhooks"] = 1, ["request"] = new JsonObject { ["id"] = null, ["idempotency_key"] = null },
            ["type"] = type, ["data"] = new JsonObject { ["object"] = intent },
        }.ToJsonString();
    }

    /// <summary>Signs a webhook body as Stripe does: <c>t=unix,v1=hex(HMAC-SHA256(secret, "t.body"))</c>.</summary>
    public static string Sign(string body, string secret, DateTimeOffset at)
    {
        var t = at.ToUnixTimeSeconds();
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{body}"));
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
