using System.Text;
using System.Text.Json.Nodes;
using Coffer.Payments.Gateways;
using Coffer.Settings;

namespace Coffer.Tests;

/// <summary>
/// The Stripe gateway and webhook end to end against <see cref="StripeStandIn"/>: Stripe.net itself sends the
/// requests, over HTTP, to a local server shaped like Stripe's API; webhooks are signed as Stripe signs them.
/// </summary>
public sealed class StripeTests() : ApiTest(Store.Sqlite)
{
    const string SecretKey = "sk_test_x";
    const string WebhookSecret = "whsec_test";

    async Task<StripeStandIn> UseStripe(HttpClient? api = null, string webhookSecret = WebhookSecret)
    {
        var stripe = await StripeStandIn.StartAsync();
        (await (api ?? Api).Put("/v1/settings/payment_gateway", new
        {
            value = new { provider = "stripe", stripe_secret_key = SecretKey, stripe_webhook_secret = webhookSecret, stripe_api_base = stripe.Url },
        })).Ok();
        return stripe;
    }

    async Task<string> SaveCard(string customer, string token, HttpClient? api = null) =>
        (await (api ?? Api).Post($"/v1/customers/{customer}/payment-methods", new { type = "card", token })).Ok(201).S("id");

    async Task<string> Finalized(string customer, string amount, string currency = "usd", HttpClient? api = null) =>
        (await (api ?? Api).Post("/v1/invoices", new
        {
            customer_id = customer, currency, amount_due = amount, subtotal = amount, total = amount, invoice_status = "FINALIZED",
            line_items = new[] { new { display_name = "Usage (March)", amount, quantity = "1" } },
        })).Ok(201).S("id");

    Task<(int Status, JsonNode? Body)> Pay(string invoice, string amount, string method, string? methodId = null, string currency = "usd",
        HttpClient? api = null) =>
        (api ?? Api).Post("/v1/payments", new
        {
            amount, currency, destination_type = "INVOICE", destination_id = invoice, payment_method_type = method, payment_method_id = methodId,
        });

    async Task<JsonNode> Invoice(string id) => (await Api.Get($"/v1/invoices/{id}")).Ok();

    async Task<JsonNode> Payment(string id) => (await Api.Get($"/v1/payments/{id}")).Ok();

    string SessionOf(JsonNode link) => new Uri(link.S("payment_url")).Segments[^1];

    /// <summary>Posts a webhook as Stripe does: no API key, the raw body, and a signature made with Coffer's own clock.</summary>
    async Task<(int Status, JsonNode? Body)> Deliver(string tenant, string body, string? signature = null, string secret = WebhookSecret)
    {
        using var stripe = App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/webhooks/stripe/{tenant}/env")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", signature ?? StripeStandIn.Sign(body, secret, App.Clock.GetUtcNow()));
        using var response = await stripe.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task ASavedStripeCardPaysAnInvoiceAndStripeIsAskedForCentsWithTheKeyAndAnIdempotencyKey()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, "pm_card_visa");
        var invoice = await Finalized(customer, "12.34");

        var paid = (await Pay(invoice, "12.34", "CARD", card)).Ok(201);

        Assert.Equal(("SUCCEEDED", "stripe"), (paid.S("payment_status"), paid.S("payment_gateway")));
        var after = await Invoice(invoice);
        Assert.Equal(("SUCCEEDED", "12.34", "0"), (after.S("payment_status"), after.S("amount_paid"), after.S("amount_remaining")));
        var call = stripe.Single("/v1/payment_intents");
        Assert.StartsWith("pi_", paid.S("gateway_payment_id"));
        Assert.Equal("1234", call.Form["amount"]);
        Assert.Equal("usd", call.Form["currency"]);
        Assert.Equal("pm_card_visa", call.Form["payment_method"]);
        Assert.Equal(("true", "true"), (call.Form["confirm"], call.Form["off_session"]));
        Assert.Equal(paid.S("id"), call.Form["metadata[coffer_payment_id]"]);
        Assert.False(call.Form.ContainsKey("customer"));
        Assert.Equal("charge_" + paid.S("id"), call.IdempotencyKey);
        Assert.Equal("Bearer " + SecretKey, call.Authorization);
    }

    [Fact]
    public async Task ACardPaidAtAStripeCheckoutThatAskedToSaveItIsKeptOnceAndChargedLaterWithItsStripeCustomer()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var first = await Finalized(customer, "10");
        var second = await Finalized(customer, "5");
        async Task<JsonNode> Link(string invoice, string amount) => (await Api.Post("/v1/payments", new
        {
            amount, currency = "usd", destination_type = "INVOICE", destination_id = invoice, payment_method_type = "PAYMENT_LINK",
            save_card_and_make_default = true,
        })).Ok(201);

        var link = await Link(first, "10");
        Assert.True(link["save_card_and_make_default"]!.GetValue<bool>());
        var made = stripe.Single("/v1/customers");
        Assert.Equal((customer, "customer_" + customer), (made.Form["metadata[coffer_customer_id]"], made.IdempotencyKey));
        var session = stripe.Single("/v1/checkout/sessions");
        var stripeCustomer = session.Form["customer"];
        Assert.StartsWith("cus_", stripeCustomer);
        Assert.Equal("off_session", session.Form["payment_intent_data[setup_future_usage]"]);
        Assert.False(session.Form.ContainsKey("customer_email"));

        var completed = stripe.Event(SessionOf(link), "completed", stripe.Pay(SessionOf(link)));
        var tenant = link.S("tenant_id");
        // Stripe cannot be asked which card paid: the money settles, and the 503 has Stripe deliver the event again.
        stripe.SessionReadOutage = true;
        Assert.Equal("service_unavailable", (await Deliver(tenant, completed)).Error(503));
        Assert.Equal("SUCCEEDED", (await Payment(link.S("id"))).S("payment_status"));
        Assert.Empty((await Api.Get($"/v1/customers/{customer}/payment-methods")).Ok()["items"]!.AsArray());
        stripe.SessionReadOutage = false;
        (await Deliver(tenant, completed)).Ok();
        (await Deliver(tenant, completed)).Ok();
        Assert.Equal("10", (await Invoice(first)).S("amount_paid"));
        var card = Assert.Single((await Api.Get($"/v1/customers/{customer}/payment-methods")).Ok()["items"]!.AsArray())!;
        Assert.Equal(("stripe", "mastercard", "4444", 1), (card.S("gateway"), card.S("brand"), card.S("last4"), card["priority"]!.GetValue<int>()));

        // The saved card is charged off-session together with its Stripe customer, with no lookup first.
        Assert.Equal("SUCCEEDED", (await Pay(second, "5", "CARD", card.S("id"))).Ok(201).S("payment_status"));
        var charge = stripe.Single("/v1/payment_intents");
        Assert.Equal((stripeCustomer, "pm_card_mastercard"), (charge.Form["customer"], charge.Form["payment_method"]));
        Assert.DoesNotContain(stripe.Calls, c => c.Method == "GET" && c.Path.StartsWith("/v1/payment_methods/"));

        // The next checkout of this customer reuses its Stripe customer.
        await Link(await Finalized(customer, "3"), "3");
        stripe.Single("/v1/customers");
        Assert.All(stripe.Calls.Where(c => c.Path == "/v1/checkout/sessions"), c => Assert.Equal(stripeCustomer, c.Form["customer"]));

        Assert.Equal("validation_failed", (await Api.Post("/v1/payments", new
        {
            amount = "5", currency = "usd", destination_type = "INVOICE", destination_id = second, payment_method_type = "OFFLINE",
            save_card_and_make_default = true,
        })).Error(400));
    }

    [Fact]
    public async Task AChargeWhoseAnswerIsLostIsSettledByStripesEventOrByAskingAgainWithTheSameKey()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, "pm_card_visa");
        var first = await Finalized(customer, "8");
        var second = await Finalized(customer, "9");
        stripe.ChargeAnswerLost = true;

        var viaEvent = (await Pay(first, "8", "CARD", card)).Ok(201);
        var viaProcess = (await Pay(second, "9", "CARD", card)).Ok(201);
        Assert.Equal(("PROCESSING", "PROCESSING"), (viaEvent.S("payment_status"), viaProcess.S("payment_status")));

        // Stripe tells Coffer on its own; delivered twice, it settles once.
        var succeeded = stripe.IntentEvent("charge_" + viaEvent.S("id"), "payment_intent.succeeded");
        (await Deliver(viaEvent.S("tenant_id"), succeeded)).Ok();
        (await Deliver(viaEvent.S("tenant_id"), succeeded)).Ok();
        Assert.Equal("SUCCEEDED", (await Payment(viaEvent.S("id"))).S("payment_status"));
        Assert.Equal("8", (await Invoice(first)).S("amount_paid"));

        // Or Coffer asks again with the payment's own key, and Stripe answers what the first call did.
        stripe.ChargeAnswerLost = false;
        Assert.Equal("SUCCEEDED", (await Api.Post($"/v1/payments/{viaProcess.S("id")}/process")).Ok().S("payment_status"));
        Assert.Equal("9", (await Invoice(second)).S("amount_paid"));
        var charges = stripe.Calls.Where(c => c.Path == "/v1/payment_intents" && c.Method == "POST").ToList();
        Assert.Equal(["charge_" + viaEvent.S("id"), "charge_" + viaProcess.S("id"), "charge_" + viaProcess.S("id")], charges.Select(c => c.IdempotencyKey));
    }

    [Fact]
    public async Task AFailedPaymentIntentEventFailsThePaymentAndLeavesTheInvoiceDue()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, "pm_card_visa");
        var invoice = await Finalized(customer, "4");
        stripe.ChargeAnswerLost = true;
        var payment = (await Pay(invoice, "4", "CARD", card)).Ok(201);

        (await Deliver(payment.S("tenant_id"), stripe.IntentEvent("charge_" + payment.S("id"), "payment_intent.payment_failed"))).Ok();

        var failed = await Payment(payment.S("id"));
        Assert.Equal("FAILED", failed.S("payment_status"));
        Assert.Contains("generic_decline", failed.S("error_message"));
        Assert.Equal(("4", "PENDING"), ((await Invoice(invoice)).S("amount_remaining"), (await Invoice(invoice)).S("payment_status")));
    }

    [Fact]
    public async Task ZeroDecimalCurrenciesAreSentInWholeUnits()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, "pm_card_visa");
        var invoice = await Finalized(customer, "500", "jpy");

        Assert.Equal("SUCCEEDED", (await Pay(invoice, "500", "CARD", card, "jpy")).Ok(201).S("payment_status"));
        var call = stripe.Single("/v1/payment_intents");
        Assert.Equal(("500", "jpy"), (call.Form["amount"], call.Form["currency"]));
    }

    [Fact]
    public async Task ACardSavedToAStripeCustomerIsChargedTogetherWithThatCustomer()
    {
        await using var stripe = await UseStripe();
        stripe.Attach("pm_saved_for_ada", "cus_ada");
        var customer = (await CreateCustomer()).S("id");
        var card = await SaveCard(customer, "pm_saved_for_ada");
        var invoice = await Finalized(customer, "5");

        Assert.Equal("SUCCEEDED", (await Pay(invoice, "5", "CARD", card)).Ok(201).S("payment_status"));
        Assert.Equal("cus_ada", stripe.Single("/v1/payment_intents").Form["customer"]);
    }

    [Fact]
    public async Task ADeclinedStripeCardFailsThePaymentWithTheDeclineAndLeavesTheInvoiceUnpaid()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var declined = await SaveCard(customer, StripeStandIn.Declined);
        var needsAuthentication = await SaveCard(customer, StripeStandIn.AuthenticationRequired);
        var invoice = await Finalized(customer, "20");

        var failed = (await Pay(invoice, "20", "CARD", declined)).Ok(201);
        Assert.Equal("FAILED", failed.S("payment_status"));
        Assert.Contains("generic_decline", failed.S("error_message"));
        Assert.Contains("Your card was declined.", failed.S("error_message"));
        Assert.StartsWith("pi_", failed.S("gateway_payment_id"));

        var unauthenticated = (await Pay(invoice, "20", "CARD", needsAuthentication)).Ok(201);
        Assert.Equal("FAILED", unauthenticated.S("payment_status"));
        Assert.StartsWith("requires_action", unauthenticated.S("error_message"));

        var after = await Invoice(invoice);
        Assert.Equal(("PENDING", "0", "20"), (after.S("payment_status"), after.S("amount_paid"), after.S("amount_remaining")));
        Assert.Equal(2, stripe.Calls.Count(c => c.Path == "/v1/payment_intents"));
    }

    [Fact]
    public async Task AStripePaymentLinkIsSettledByASignedCheckoutCompletedEventExactlyOnce()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var invoice = await Finalized(customer, "12.5");

        var link = (await Pay(invoice, "12.5", "PAYMENT_LINK")).Ok(201);

        Assert.Equal("PENDING", link.S("payment_status"));
        var call = stripe.Single("/v1/checkout/sessions");
        var session = SessionOf(link);
        Assert.StartsWith("cs_test_", session);
        Assert.Equal($"{stripe.Url}/c/pay/{session}", link.S("payment_url"));
        Assert.Equal("payment", call.Form["mode"]);
        Assert.Equal(("1250", "usd", "1"), (call.Form["line_items[0][price_data][unit_amount]"], call.Form["line_items[0][price_data][currency]"],
            call.Form["line_items[0][quantity]"]));
        Assert.StartsWith("Invoice ", call.Form["line_items[0][price_data][product_data][name]"]);
        Assert.Equal((link.S("id"), link.S("id")), (call.Form["client_reference_id"], call.Form["metadata[coffer_payment_id]"]));
        Assert.EndsWith("/checkout/done", call.Form["success_url"]);
        Assert.EndsWith("/checkout/cancelled", call.Form["cancel_url"]);
        Assert.Equal("checkout_" + link.S("id"), call.IdempotencyKey);
        Assert.Equal("Bearer " + SecretKey, call.Authorization);

        var completed = stripe.Event(session, "completed");
        Assert.True((await Deliver(link.S("tenant_id"), completed)).Ok()["received"]!.GetValue<bool>());

        var payment = await Payment(link.S("id"));
        Assert.Equal(("SUCCEEDED", "pi_paid_for_" + session), (payment.S("payment_status"), payment.S("gateway_payment_id")));
        Assert.Equal(("SUCCEEDED", "12.5"), ((await Invoice(invoice)).S("payment_status"), (await Invoice(invoice)).S("amount_paid")));

        // Stripe delivers at least once: the same event again, and a second signed copy of it, change nothing.
        (await Deliver(link.S("tenant_id"), completed)).Ok();
        (await Deliver(link.S("tenant_id"), completed, StripeStandIn.Sign(completed, WebhookSecret, App.Clock.GetUtcNow().AddSeconds(30)))).Ok();
        Assert.Equal(("SUCCEEDED", "12.5", "0"), ((await Invoice(invoice)).S("payment_status"), (await Invoice(invoice)).S("amount_paid"),
            (await Invoice(invoice)).S("amount_remaining")));
        Assert.Equal(1, (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["pagination"]!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task AWebhookWithABadSignatureIsRefusedAndChangesNothing()
    {
        await using var stripe = await UseStripe();
        var invoice = await Finalized((await CreateCustomer()).S("id"), "7");
        var link = (await Pay(invoice, "7", "PAYMENT_LINK")).Ok(201);
        var tenant = link.S("tenant_id");
        var completed = stripe.Event(SessionOf(link), "completed");
        var now = App.Clock.GetUtcNow();

        Assert.Equal("validation_failed", (await Deliver(tenant, completed, secret: "whsec_wrong")).Error(400));
        Assert.Equal("validation_failed", (await Deliver(tenant, completed, "")).Error(400));
        Assert.Equal("validation_failed", (await Deliver(tenant, completed, "t=1,v1=00")).Error(400));
        // A genuine signature from too long ago is a replay.
        Assert.Equal("validation_failed", (await Deliver(tenant, completed, StripeStandIn.Sign(completed, WebhookSecret, now.AddMinutes(-10)))).Error(400));
        var tampered = completed.Replace("\"payment_status\":\"paid\"", "\"payment_status\":\"paid\" ");
        Assert.Equal("validation_failed", (await Deliver(tenant, tampered, StripeStandIn.Sign(completed, WebhookSecret, now))).Error(400));

        Assert.Equal("PENDING", (await Payment(link.S("id"))).S("payment_status"));
        Assert.Equal(("PENDING", "0"), ((await Invoice(invoice)).S("payment_status"), (await Invoice(invoice)).S("amount_paid")));
    }

    [Fact]
    public async Task AnExpiredCheckoutFailsItsPaymentAndLeavesTheInvoiceDue()
    {
        await using var stripe = await UseStripe();
        var invoice = await Finalized((await CreateCustomer()).S("id"), "9");
        var link = (await Pay(invoice, "9", "PAYMENT_LINK")).Ok(201);

        (await Deliver(link.S("tenant_id"), stripe.Event(SessionOf(link), "expired"))).Ok();

        var payment = await Payment(link.S("id"));
        Assert.Equal(("FAILED", "checkout expired"), (payment.S("payment_status"), payment.S("error_message")));
        Assert.Equal(("PENDING", "9"), ((await Invoice(invoice)).S("payment_status"), (await Invoice(invoice)).S("amount_remaining")));
        // A completion reported after the expiry (out of order) says the money did arrive: it is recorded, never
        // dropped, and here the invoice was still due, so it pays it.
        (await Deliver(link.S("tenant_id"), stripe.Event(SessionOf(link), "completed"))).Ok();
        Assert.Equal("SUCCEEDED", (await Payment(link.S("id"))).S("payment_status"));
        Assert.Equal("SUCCEEDED", (await Invoice(invoice)).S("payment_status"));
    }

    [Fact]
    public async Task EventsThatCofferDoesNotActOnAreAcknowledged()
    {
        await using var stripe = await UseStripe();
        var invoice = await Finalized((await CreateCustomer()).S("id"), "3");
        var link = (await Pay(invoice, "3", "PAYMENT_LINK")).Ok(201);
        var tenant = link.S("tenant_id");

        var other = """{"id":"evt_1","object":"event","api_version":"2025-01-27.acacia","created":1,"livemode":false,"pending_webhooks":1,"type":"customer.created","data":{"object":{"id":"cus_1","object":"customer"}}}""";
        Assert.True((await Deliver(tenant, other)).Ok()["received"]!.GetValue<bool>());
        var unpaid = stripe.Session(SessionOf(link), "completed");
        unpaid["payment_status"] = "unpaid";
        (await Deliver(tenant, stripe.Event(SessionOf(link), "completed", unpaid))).Ok();
        var unknown = stripe.Session(SessionOf(link), "completed");
        unknown["id"] = "cs_test_unknown";
        (await Deliver(tenant, stripe.Event("cs_test_unknown", "completed", unknown))).Ok();
        var cheaper = stripe.Session(SessionOf(link), "completed");
        cheaper["amount_total"] = 100;
        (await Deliver(tenant, stripe.Event(SessionOf(link), "completed", cheaper))).Ok();

        Assert.Equal("PENDING", (await Payment(link.S("id"))).S("payment_status"));
        Assert.Equal("0", (await Invoice(invoice)).S("amount_paid"));
    }

    [Fact]
    public async Task AnotherTenantCannotSettleThisTenantsCheckoutThroughItsOwnWebhook()
    {
        await using var stripe = await UseStripe();
        var invoice = await Finalized((await CreateCustomer()).S("id"), "40");
        var link = (await Pay(invoice, "40", "PAYMENT_LINK")).Ok(201);
        var tenants = App.Service<Tenants.TenantStore>();
        var mallory = await tenants.CreateTenantAsync("mallory", isDefault: false);
        using var malloryApi = App.Api((await tenants.CreateKeyAsync(mallory.Id, "k")).Secret);
        await using var _ = await UseStripe(malloryApi, "whsec_mallory");

        var forged = stripe.Event(SessionOf(link), "completed");
        (await Deliver(mallory.Id, forged, secret: "whsec_mallory")).Ok();
        Assert.Equal("validation_failed", (await Deliver(link.S("tenant_id"), forged, secret: "whsec_mallory")).Error(400));

        Assert.Equal("PENDING", (await Payment(link.S("id"))).S("payment_status"));
        Assert.Equal("0", (await Invoice(invoice)).S("amount_paid"));
    }

    [Fact]
    public async Task TheStripeWebhookAnswersTheSameForATenantWithoutStripeAndOneThatDoesNotExist()
    {
        var tenant = (await App.Service<Tenants.TenantStore>().DefaultTenantAsync())!.Id;
        var without = await Deliver(tenant, "{}");
        var nobody = await Deliver("tenant_nobody", "{}");
        Assert.Equal("validation_failed", without.Error(400));
        Assert.Equal(without.Body!.ToJsonString(), nobody.Body!.ToJsonString());
    }

    [Fact]
    public async Task ACreditPurchasePaidThroughAStripeLinkGrantsTheCreditsExactlyOnce()
    {
        await using var stripe = await UseStripe();
        var wallet = (await CreateWallet(new { topup_conversion_rate = "0.5" })).S("id");
        var purchase = (await Api.Post($"/v1/wallets/{wallet}/top-up", new { credits_to_add = "100", transaction_reason = "PURCHASED_CREDIT_INVOICED" })).Ok();
        var invoice = purchase.S("invoice_id");
        var link = (await Pay(invoice, "50", "PAYMENT_LINK")).Ok(201);
        Assert.Equal("5000", stripe.Single("/v1/checkout/sessions").Form["line_items[0][price_data][unit_amount]"]);
        Assert.Equal("0", (await Wallet(wallet)).S("credit_balance"));

        var completed = stripe.Event(SessionOf(link), "completed");
        var deliveries = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Deliver(link.S("tenant_id"), completed)));

        Assert.All(deliveries, d => Assert.Equal(200, d.Status));
        Assert.Equal("100", (await Wallet(wallet)).S("credit_balance"));
        var tx = (await Transactions(wallet)).Single(t => t!.S("id") == purchase["wallet_transaction"]!.S("id"))!;
        Assert.Equal("completed", tx.S("transaction_status"));
        Assert.Equal(("SUCCEEDED", "50"), ((await Invoice(invoice)).S("payment_status"), (await Invoice(invoice)).S("amount_paid")));
    }

    [Fact]
    public async Task AStripeOutageFailsThePaymentLinkAndNothingIsOwed()
    {
        await using var stripe = await UseStripe();
        stripe.CheckoutOutage = true;
        var invoice = await Finalized((await CreateCustomer()).S("id"), "8");

        Assert.Equal("gateway_error", (await Pay(invoice, "8", "PAYMENT_LINK")).Error(502));

        var payments = (await Api.Get($"/v1/payments?destination_id={invoice}")).Ok()["items"]!.AsArray();
        Assert.Equal("FAILED", Assert.Single(payments)!.S("payment_status"));
        Assert.Equal("PENDING", (await Invoice(invoice)).S("payment_status"));
    }

    [Fact]
    public async Task ARefundOfAStripeCardPaymentGoesToItsPaymentIntentInMinorUnitsUnderTheRefundsKey()
    {
        await using var stripe = await UseStripe();
        var customer = (await CreateCustomer()).S("id");
        var invoice = await Finalized(customer, "10.5");
        var paid = (await Pay(invoice, "10.5", "CARD", await SaveCard(customer, "pm_card_visa"))).Ok(201);

        var refund = (await Api.Post($"/v1/payments/{paid.S("id")}/refund", new { amount = "4.2" })).Ok(201);

        Assert.Equal(("original", "succeeded"), (refund["refund"]!.S("destination"), refund["refund"]!.S("status")));
        Assert.Equal("PARTIALLY_REFUNDED", refund["payment"]!.S("payment_status"));
        var call = stripe.Single("/v1/refunds");
        Assert.Equal((paid.S("gateway_payment_id"), "420"), (call.Form["payment_intent"], call.Form["amount"]));
        Assert.Equal("refund_" + refund["refund"]!.S("id"), call.IdempotencyKey);
        Assert.Equal("Bearer " + SecretKey, call.Authorization);
    }

    [Fact]
    public async Task ARefundStripeRefusesFailsAndTheSameRefundAskedAgainIsTheSameRefund()
    {
        await using var stripe = await StripeStandIn.StartAsync();
        var gateway = new StripeGatewayFactory(CofferApp.Options(("COFFER_ALLOW_STRIPE_API_BASE", "true"))).Create(new GatewayConfig("stripe", SecretKey, WebhookSecret, stripe.Url));

        var refused = await gateway.RefundAsync(new RefundRequest("pay_1", StripeStandIn.AlreadyRefunded, 1m, "usd", "rf_0"), CancellationToken.None);
        Assert.Contains("charge_already_refunded", Assert.IsType<RefundResult.Failed>(refused).Message);

        var first = await gateway.RefundAsync(new RefundRequest("pay_1", "pi_123", 4.2m, "usd", "rf_1"), CancellationToken.None);
        var again = await gateway.RefundAsync(new RefundRequest("pay_1", "pi_123", 4.2m, "usd", "rf_1"), CancellationToken.None);
        Assert.Equal(Assert.IsType<RefundResult.Succeeded>(first).GatewayRefundId, Assert.IsType<RefundResult.Succeeded>(again).GatewayRefundId);
    }

    [Fact]
    public async Task WhenStripeCannotBeReachedACheckoutFailsButARefundIsLeftUndecided()
    {
        int port;
        await using (var gone = await StripeStandIn.StartAsync()) port = new Uri(gone.Url).Port;
        var gateway = new StripeGateway(new GatewayConfig("stripe", SecretKey, WebhookSecret, $"http://127.0.0.1:{port}"));

        Assert.IsType<CheckoutResult.Failed>(await gateway.CreateCheckoutAsync(
            new CheckoutRequest("pay_1", 1m, "usd", "x", "http://s", "http://c", null), CancellationToken.None));
        // Stripe may have refunded before the connection broke: "failed" could lead to a second refund.
        await Assert.ThrowsAsync<HttpRequestException>(() =>
            gateway.RefundAsync(new RefundRequest("pay_1", "pi_1", 1m, "usd", "rf_1"), CancellationToken.None));
    }

    [Fact]
    public async Task TheStripeWebhookIsDocumentedUnderWebhooksWithoutAnApiKey()
    {
        using var http = App.CreateClient();
        var doc = (await http.Get("/openapi/v1.json")).Ok();
        var operation = doc["paths"]!["/v1/webhooks/stripe/{tenant_id}/{environment_id}"]!["post"]!;
        Assert.Equal("Webhooks", operation["tags"]![0]!.GetValue<string>());
        Assert.Empty(operation["security"]!.AsArray());
        Assert.False(operation["responses"]!.AsObject().ContainsKey("401"));
        Assert.Contains(operation["parameters"]!.AsArray(), p => p!.S("name") == "Stripe-Signature");
    }
}
