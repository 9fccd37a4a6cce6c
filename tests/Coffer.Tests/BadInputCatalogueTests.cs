using System.Data.Common;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Coffer.Tests;

public sealed class BadInputCatalogueTestsOnSqlite() : BadInputCatalogueTests(Store.Sqlite);
public sealed class BadInputCatalogueTestsOnPostgres() : BadInputCatalogueTests(Store.Postgres);

/// <summary>
/// Malformed requests across every endpoint family: each is a 4xx in the error envelope with one of the stable
/// codes, and together they leave every table exactly as it was.
/// </summary>
public abstract class BadInputCatalogueTests(Store store) : ApiTest(store)
{
    sealed record Bad(string Name, string Method, string Path, string? Body = null, string? Header = null, string? Value = null, string ContentType = "application/json");

    static readonly string Long = new('x', 300);
    static readonly string Huge = new('x', 300_000);

    static IEnumerable<Bad> Catalogue()
    {
        // Numbers
        yield return new("top-up credits as text", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "ten", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up negative", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "-1", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up zero", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": 0, "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up 13 decimals", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1.0000000000001", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up over 10^15", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1000000000000001", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up 1e40", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": 1e40, "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up NaN", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "NaN", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up Infinity", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "Infinity", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up hex", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "0x10", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("top-up priority as text", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "priority": "high"}""");
        yield return new("top-up priority negative", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "priority": -1}""");
        yield return new("top-up priority over int", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "priority": 99999999999}""");
        yield return new("debit negative", "POST", "/v1/wallets/{W}/debit", """{"credits": "-5", "idempotency_key": "k1"}""");
        yield return new("debit above balance", "POST", "/v1/wallets/{W}/debit", """{"credits": "1000", "idempotency_key": "k2"}""");
        yield return new("debit as object", "POST", "/v1/wallets/{W}/debit", """{"credits": {"v": 1}, "idempotency_key": "k3"}""");
        yield return new("adjustment above balance", "POST", "/v1/wallets/{W}/adjustments", """{"direction": "debit", "credits": "1000", "reason": "r", "idempotency_key": "a1"}""");
        yield return new("adjustment without reason", "POST", "/v1/wallets/{W}/adjustments", """{"direction": "credit", "credits": "1", "idempotency_key": "a2"}""");
        yield return new("adjustment blank reason", "POST", "/v1/wallets/{W}/adjustments", """{"direction": "credit", "credits": "1", "reason": "  ", "idempotency_key": "a3"}""");
        yield return new("adjustment reason too long", "POST", "/v1/wallets/{W}/adjustments", $$"""{"direction": "credit", "credits": "1", "reason": "{{new string('r', 501)}}", "idempotency_key": "a4"}""");
        yield return new("adjustment unknown direction", "POST", "/v1/wallets/{W}/adjustments", """{"direction": "up", "credits": "1", "reason": "r", "idempotency_key": "a5"}""");
        yield return new("adjustment without key", "POST", "/v1/wallets/{W}/adjustments", """{"direction": "credit", "credits": "1", "reason": "r"}""");
        yield return new("transactions unknown kind", "GET", "/v1/wallets/{W}/transactions?kind=bonus");
        yield return new("hold zero", "POST", "/v1/wallets/{W}/holds", """{"credits": "0"}""");
        yield return new("hold above balance", "POST", "/v1/wallets/{W}/holds", """{"credits": "1000"}""");
        yield return new("capture more than held", "POST", "/v1/wallets/{W}/holds/{H}/capture", """{"credits": "4"}""");
        yield return new("wallet negative conversion rate", "POST", "/v1/wallets", """{"customer_id": "{C2}", "currency": "usd", "conversion_rate": "-1"}""");
        yield return new("wallet zero conversion rate", "POST", "/v1/wallets", """{"customer_id": "{C2}", "currency": "usd", "conversion_rate": "0"}""");
        yield return new("package negative price", "POST", "/v1/credit-packages", """{"name": "p", "credits": "10", "price": "-1", "currency": "usd"}""");
        yield return new("package credits as bool", "POST", "/v1/credit-packages", """{"name": "p", "credits": true, "price": "1", "currency": "usd"}""");
        yield return new("invoice negative amount", "POST", "/v1/invoices", """{"customer_id": "{C}", "currency": "usd", "amount_due": "-3"}""");
        yield return new("payment zero amount", "POST", "/v1/payments", """{"amount": "0", "currency": "usd", "destination_type": "INVOICE", "destination_id": "inv_none", "payment_method_type": "OFFLINE"}""");
        yield return new("portal session negative expiry", "POST", "/v1/portal/sessions", """{"customer_id": "{C}", "expires_in_seconds": -10}""");
        yield return new("portal session expiry as text", "POST", "/v1/portal/sessions", """{"customer_id": "{C}", "expires_in_seconds": "soon"}""");
        yield return new("schedule credits as bool", "POST", "/v1/wallets/{W}/schedules", """{"type": "grant", "credits": true, "interval": "month"}""");
        yield return new("schedule interval_count as text", "POST", "/v1/wallets/{W}/schedules", """{"type": "grant", "credits": "1", "interval": "month", "interval_count": "two"}""");
        yield return new("schedule charge with credits and amount", "POST", "/v1/wallets/{W}/schedules", """{"type": "charge", "credits": "1", "amount": "1", "interval": "week"}""");
        yield return new("schedule start not a date", "POST", "/v1/wallets/{W}/schedules", """{"type": "grant", "credits": "1", "interval": "day", "start_at": "soon"}""");
        yield return new("schedule cancel unknown", "POST", "/v1/wallets/{W}/schedules/wsch_none/cancel");

        // Strings
        yield return new("customer name too long", "POST", "/v1/customers", $$"""{"external_id": "e-1", "name": "{{Long}}"}""");
        yield return new("customer external id too long", "POST", "/v1/customers", $$"""{"external_id": "{{Long}}", "name": "Ada"}""");
        yield return new("customer name with NUL", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Ad\u0000a"}""");
        yield return new("customer name with bidi override", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Ada\u202Egnp.exe"}""");
        yield return new("customer name zero-width", "POST", "/v1/customers", """{"external_id": "e-1", "name": "A\u200Bda"}""");
        yield return new("customer name as number", "POST", "/v1/customers", """{"external_id": "e-1", "name": 42}""");
        yield return new("customer metadata CRLF", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Ada", "metadata": {"a": "x\r\ny"}}""");
        yield return new("customer metadata key too long", "POST", "/v1/customers", "{\"external_id\": \"e-1\", \"name\": \"Ada\", \"metadata\": {\"" + Long + "\": \"x\"}}");
        yield return new("customer metadata nested", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Ada", "metadata": {"a": {"b": 1}}}""");
        yield return new("customer metadata value null", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Ada", "metadata": {"a": null}}""");
        yield return new("customer duplicate external id", "POST", "/v1/customers", """{"external_id": "{CX}", "name": "Ada"}""");
        yield return new("wallet unknown currency", "POST", "/v1/wallets", """{"customer_id": "{C2}", "currency": "xyz"}""");
        yield return new("wallet currency as number", "POST", "/v1/wallets", """{"customer_id": "{C2}", "currency": 840}""");
        yield return new("top-up unknown reason", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_MONEY"}""");
        yield return new("top-up description too long", "POST", "/v1/wallets/{W}/top-up", $$"""{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "description": "{{new string('d', 1001)}}"}""");
        yield return new("debit key too long", "POST", "/v1/wallets/{W}/debit", $$"""{"credits": "1", "idempotency_key": "{{Long}}"}""");
        yield return new("debit key with control", "POST", "/v1/wallets/{W}/debit", """{"credits": "1", "idempotency_key": "a\tb"}""");
        yield return new("wallet status filter unknown", "GET", "/v1/wallets?wallet_status=melted");
        yield return new("customer collection method unknown", "POST", "/v1/customers", """{"external_id": "e-1", "collection_method": "barter"}""");
        yield return new("customer collection method empty on create", "POST", "/v1/customers", """{"external_id": "e-1", "collection_method": ""}""");
        yield return new("customer update collection method unknown", "PUT", "/v1/customers?id={C}", """{"name": "Eve", "collection_method": "Send_Invoice"}""");
        yield return new("grant priorities unknown source", "PUT", "/v1/settings/grant_priorities", """{"value": {"bonus": 5}}""");
        yield return new("grant priorities negative", "PUT", "/v1/settings/grant_priorities", """{"value": {"promotional": -1}}""");
        yield return new("grant priorities as text", "PUT", "/v1/settings/grant_priorities", """{"value": {"promotional": "first"}}""");
        yield return new("grant priorities a word", "PUT", "/v1/settings/grant_priorities", """{"value": "convention"}""");
        yield return new("package collection method unknown", "POST", "/v1/wallets/{W}/purchase-package", """{"package_id": "pkg_none", "collection_method": "barter"}""");
        yield return new("webhook url javascript", "POST", "/v1/webhooks/endpoints", """{"url": "javascript:alert(1)"}""");
        yield return new("webhook url relative", "POST", "/v1/webhooks/endpoints", """{"url": "/hook"}""");
        yield return new("webhook unknown event type", "POST", "/v1/webhooks/endpoints", """{"url": "http://127.0.0.1:9/hook", "event_types": ["wallet.exploded"]}""");
        yield return new("payment link javascript success url", "POST", "/v1/payments", """{"amount": "1", "currency": "usd", "destination_type": "INVOICE", "destination_id": "inv_none", "payment_method_type": "PAYMENT_LINK", "success_url": "javascript:alert(1)"}""");
        yield return new("api key name too long", "POST", "/v1/secrets/api/keys", $$"""{"name": "{{Long}}"}""");
        yield return new("gateway unknown provider", "PUT", "/v1/settings/payment_gateway", """{"value": {"provider": "acme"}}""");
        yield return new("invoice unknown currency", "POST", "/v1/invoices", """{"customer_id": "{C}", "currency": "abc", "amount_due": "3"}""");
        yield return new("invoice unknown billing reason", "POST", "/v1/invoices",
            """{"customer_id": "{C}", "currency": "usd", "amount_due": "3", "subtotal": "3", "total": "3", "billing_reason": "BECAUSE"}""");
        yield return new("invoice billing reason with a newline", "POST", "/v1/invoices",
            """{"customer_id": "{C}", "currency": "usd", "amount_due": "3", "subtotal": "3", "total": "3", "billing_reason": "MANUAL\r\nX: y"}""");
        yield return new("invoice unknown billing period", "POST", "/v1/invoices",
            """{"customer_id": "{C}", "currency": "usd", "amount_due": "3", "subtotal": "3", "total": "3", "billing_period": "FORTNIGHTLY"}""");
        yield return new("invoice period ending before it starts", "POST", "/v1/invoices",
            """{"customer_id": "{C}", "currency": "usd", "amount_due": "3", "subtotal": "3", "total": "3", "period_start": "2026-02-01T00:00:00Z", "period_end": "2026-01-01T00:00:00Z"}""");
        yield return new("invoice line period ending before it starts", "POST", "/v1/invoices",
            """{"customer_id": "{C}", "currency": "usd", "amount_due": "3", "subtotal": "3", "total": "3", "line_items": [{"display_name": "x", "amount": "3", "quantity": "1", "period_start": "2026-02-01T00:00:00Z", "period_end": "2026-01-01T00:00:00Z"}]}""");

        // Ids
        yield return new("unknown wallet", "GET", "/v1/wallets/wallet_nope");
        yield return new("unknown wallet top-up", "POST", "/v1/wallets/wallet_nope/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT"}""");
        yield return new("unknown customer", "GET", "/v1/customers/cust_nope");
        yield return new("unknown external customer", "GET", "/v1/customers/external/nobody");
        yield return new("wallet for unknown customer", "POST", "/v1/wallets", """{"customer_id": "cust_nope", "currency": "usd"}""");
        yield return new("unknown hold capture", "POST", "/v1/wallets/{W}/holds/hold_nope/capture", "{}");
        yield return new("unknown hold release", "POST", "/v1/wallets/{W}/holds/hold_nope/release");
        yield return new("unknown invoice", "GET", "/v1/invoices/inv_nope");
        yield return new("unknown invoice finalize", "POST", "/v1/invoices/inv_nope/finalize");
        yield return new("unknown payment", "GET", "/v1/payments/pay_nope");
        yield return new("unknown package", "GET", "/v1/credit-packages/pkg_nope");
        yield return new("purchase unknown package", "POST", "/v1/wallets/{W}/purchase-package", """{"package_id": "pkg_nope"}""");
        yield return new("unknown webhook endpoint", "GET", "/v1/webhooks/endpoints/we_nope");
        yield return new("resend unknown event", "POST", "/v1/webhooks/events/evt_nope/resend", "{}");
        yield return new("delete unknown api key", "DELETE", "/v1/secrets/api/keys/key_nope");
        yield return new("delete unknown customer", "DELETE", "/v1/customers/cust_nope");
        yield return new("portal session unknown customer", "POST", "/v1/portal/sessions", """{"customer_id": "cust_nope"}""");
        yield return new("id with percent-encoded slash", "GET", "/v1/wallets/%2F..%2Fcustomers");
        yield return new("id far too long", "GET", "/v1/wallets/" + new string('w', 2000));

        // Pagination
        yield return new("limit zero", "GET", "/v1/wallets?limit=0");
        yield return new("limit too large", "GET", "/v1/wallets?limit=100000");
        yield return new("limit as text", "GET", "/v1/wallets?limit=many");
        yield return new("limit over int", "GET", "/v1/customers?limit=99999999999");
        yield return new("offset negative", "GET", "/v1/customers?offset=-1");
        yield return new("offset as text", "GET", "/v1/customers?offset=abc");
        yield return new("transactions limit negative", "GET", "/v1/wallets/{W}/transactions?limit=-5");
        yield return new("search limit zero", "POST", "/v1/wallets/search", """{"limit": 0}""");
        yield return new("search offset as text", "POST", "/v1/customers/search", """{"offset": "x"}""");
        yield return new("invoices search limit huge", "POST", "/v1/invoices/search", """{"limit": 5000}""");
        yield return new("payments limit zero", "GET", "/v1/payments?limit=0");
        yield return new("deliveries offset negative", "GET", "/v1/webhooks/deliveries?offset=-3");
        yield return new("order unknown", "GET", "/v1/wallets?order=sideways");

        // JSON shape and size
        yield return new("truncated JSON", "POST", "/v1/customers", """{"external_id": "e-1", """);
        yield return new("array body", "POST", "/v1/customers", "[1, 2]");
        yield return new("string body", "POST", "/v1/wallets/{W}/top-up", "\"credits\"");
        yield return new("empty body", "POST", "/v1/wallets/{W}/top-up", "");
        yield return new("null body", "POST", "/v1/wallets/{W}/debit", "null");
        yield return new("trailing garbage", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Ada"} x""");
        yield return new("comments", "POST", "/v1/customers", """{"external_id": "e-1", /* hi */ "name": "Ada"}""");
        yield return new("single quotes", "POST", "/v1/customers", "{'external_id': 'e-1'}");
        yield return new("deep nesting", "POST", "/v1/customers", string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200));
        yield return new("body over 256 KiB", "POST", "/v1/customers", $$"""{"external_id": "e-1", "name": "{{Huge}}"}""");
        yield return new("too many metadata entries", "POST", "/v1/customers", "{\"external_id\": \"e-1\", \"metadata\": {" + string.Join(",", Enumerable.Range(0, 51).Select(i => $"\"k{i}\": \"v\"")) + "}}");
        yield return new("too many ids in filter", "POST", "/v1/wallets/transactions/search", "{\"filters\": [{\"field\": \"id\", \"operator\": \"in\", \"data_type\": \"array\", \"value\": {\"array\": [" + string.Join(",", Enumerable.Range(0, 501).Select(i => $"\"wtx_{i}\"")) + "]}}]}");
        yield return new("invalid UTF-8", "POST", "/v1/customers", "{\"external_id\": \"e-1\", \"name\": \"\\ud800\"}");
        yield return new("settings value missing", "PUT", "/v1/settings/invoice_config", "{}");
        yield return new("settings value wrong type", "PUT", "/v1/settings/invoice_config", """{"value": "yes"}""");

        // Headers
        yield return new("form content type", "POST", "/v1/customers", "external_id=e-1&name=Ada", ContentType: "application/x-www-form-urlencoded");
        yield return new("text content type", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT"}""", ContentType: "text/plain");
        yield return new("idempotency header too long", "POST", "/v1/wallets/{W}/purchase-package", """{"package_id": "pkg_none"}""", "Idempotency-Key", Long);
        yield return new("idempotency header too long on terminate", "POST", "/v1/wallets/{W}/terminate", "{}", "Idempotency-Key", Long);
        yield return new("wrong api key", "GET", "/v1/wallets", Header: "x-api-key", Value: "sk_wrong_0123456789abcdef0123456789abcdef");
        yield return new("another tenant's environment", "POST", "/v1/customers", """{"external_id": "e-1", "name": "Eve"}""", Header: "X-Environment-ID", Value: "tenant_elsewhere");
        yield return new("api key far too long", "GET", "/v1/wallets", Header: "x-api-key", Value: new string('k', 500));

        // URLs
        yield return new("unknown route", "GET", "/v1/nothing-here");
        yield return new("wrong method", "DELETE", "/v1/wallets/{W}/top-up");
        yield return new("double slash route", "GET", "/v1//wallets/x/y/z");
        yield return new("percent garbage", "GET", "/v1/wallets?limit=%ZZ");

        // Dates
        yield return new("top-up expiry in the past", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "expiry_date_utc": "2020-01-01T00:00:00Z"}""");
        yield return new("top-up expiry not a date", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "expiry_date_utc": "soon"}""");
        yield return new("top-up expiry month 13", "POST", "/v1/wallets/{W}/top-up", """{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "expiry_date_utc": "2027-13-01T00:00:00Z"}""");
        yield return new("hold expiry beyond 31 days", "POST", "/v1/wallets/{W}/holds", """{"credits": "1", "expires_at": "2026-03-01T00:00:00Z"}""");
        yield return new("hold expiry as number", "POST", "/v1/wallets/{W}/holds", """{"credits": "1", "expires_at": 12345}""");
        yield return new("transactions start time not a date", "GET", "/v1/wallets/{W}/transactions?start_time=yesterday");
        yield return new("transactions expiry filter not a date", "GET", "/v1/wallets/{W}/transactions?expiry_date_before=31-31-2031");
        yield return new("invoice due date not a date", "PUT", "/v1/invoices/{I}", """{"due_date": "someday"}""");
        yield return new("api key expiry in the past", "POST", "/v1/secrets/api/keys", """{"name": "k", "expires_at": "2001-01-01T00:00:00Z"}""");
        yield return new("api key expiry not a date", "POST", "/v1/secrets/api/keys", """{"name": "k", "expires_at": "never"}""");
    }

    [Fact]
    public async Task EveryMalformedRequestIsA4xxInTheEnvelopeWithAStableCodeAndChangesNothing()
    {
        var customer = await CreateCustomer();
        var wallet = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var hold = (await Api.Post($"/v1/wallets/{wallet}/holds", new { credits = "3" })).Ok()["hold"]!.S("id");
        var spare = await CreateCustomer();
        (await Api.Post("/v1/wallets", new { customer_id = spare.S("id"), currency = "usd" })).Ok();
        var invoice = (await Api.Post("/v1/invoices", new { customer_id = customer.S("id"), currency = "usd", amount_due = "5", subtotal = "5", total = "5" })).Ok(201).S("id");
        string Fill(string s) => s.Replace("{W}", wallet).Replace("{H}", hold).Replace("{C2}", spare.S("id"))
            .Replace("{CX}", customer.S("external_id")).Replace("{C}", customer.S("id")).Replace("{I}", invoice);

        var stable = typeof(Common.ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet();
        var cases = Catalogue().ToList();
        Assert.True(cases.Count >= 80, $"only {cases.Count} cases");

        var before = await DumpAsync();
        var problems = new List<string>();
        foreach (var bad in cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(bad.Method), Fill(bad.Path));
            if (bad.Body is not null) request.Content = new StringContent(Fill(bad.Body), Encoding.UTF8, bad.ContentType);
            var asKey = bad.Header == "x-api-key";
            if (bad.Header is not null && !asKey) request.Headers.TryAddWithoutValidation(bad.Header, bad.Value);
            using var client = asKey ? App.Api(bad.Value) : null;
            using var response = await (client ?? Api).SendAsync(request);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            JsonNode? body = null;
            try { body = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
            var code = body?["error"]?["code"]?.GetValue<string>();
            var message = body?["error"]?["message"]?.GetValue<string>();
            if (status is < 400 or > 499) problems.Add($"{bad.Name}: status {status} {text[..Math.Min(200, text.Length)]}");
            else if (body?["success"]?.GetValue<bool>() != false || code is null || message is null) problems.Add($"{bad.Name}: no error envelope: {text[..Math.Min(200, text.Length)]}");
            else if (!stable.Contains(code)) problems.Add($"{bad.Name}: code {code} is not a stable code");
            else if (message.Contains("Nullable") || message.Contains("System.") || message.Contains('`')) problems.Add($"{bad.Name}: framework text in {message}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(before, await DumpAsync());
    }

    /// <summary>Every table of the schema: its row count and a hash of its rows in a fixed order.</summary>
    async Task<string> DumpAsync()
    {
        var db = App.Service<Storage.Database>();
        await using var c = await db.OpenAsync();
        var tables = new List<string>();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = db.Kind == Storage.DbKind.Postgres
                ? "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
                : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) tables.Add(r.GetString(0));
        }
        Assert.NotEmpty(tables);
        var dump = new StringBuilder();
        foreach (var table in tables)
        {
            var rows = new List<string>();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = $"SELECT * FROM \"{table}\"";
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
                rows.Add(string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "∅" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
            rows.Sort(StringComparer.Ordinal);
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", rows))))[..16];
            dump.AppendLine($"{table}: {rows.Count} rows {hash}");
        }
        return dump.ToString();
    }
}
