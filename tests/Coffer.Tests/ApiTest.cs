using System.Text.Json.Nodes;

namespace Coffer.Tests;

/// <summary>
/// Each test gets its own host and database (xunit makes a new instance per test), and every test ends by
/// running the ledger verifier: whatever a test did, the invariants of DESIGN.md section 4 must still hold.
/// </summary>
public abstract class ApiTest(Store store) : IAsyncLifetime
{
    protected CofferApp App { get; private set; } = null!;
    protected HttpClient Api { get; private set; } = null!;

    public Task InitializeAsync()
    {
        App = new CofferApp(store);
        Api = App.Api();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        try
        {
            var report = await App.VerifyAsync();
            Assert.True(report.Ok, "ledger invariants violated:\n" + string.Join("\n", report.Problems));
        }
        finally
        {
            Api.Dispose();
            await App.DisposeAsync();
        }
    }

    /// <summary>An API client of a second tenant on the same host and database.</summary>
    protected async Task<HttpClient> OtherTenant(string name = "other merchant")
    {
        var tenants = App.Service<Tenants.TenantStore>();
        var other = await tenants.CreateTenantAsync(name, isDefault: false);
        return App.Api((await tenants.CreateKeyAsync(other.Id, "k")).Secret);
    }

    protected async Task<JsonNode> CreateCustomer(string? externalId = null, HttpClient? api = null) =>
        (await (api ?? Api).Post("/v1/customers", new { external_id = externalId ?? "ext-" + Guid.NewGuid().ToString("N")[..10], name = "Ada", email = "ada@example.com" })).Ok(201);

    protected async Task<JsonNode> CreateWallet(object? extra = null, HttpClient? api = null)
    {
        var customer = await CreateCustomer(api: api);
        var body = new JsonObject { ["customer_id"] = customer.S("id"), ["currency"] = "usd" };
        if (extra is not null)
            foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject())
                body[k] = v?.DeepClone();
        return (await (api ?? Api).Post("/v1/wallets", body)).Ok();
    }

    protected async Task<JsonNode> TopUp(string walletId, string credits, string reason = "FREE_CREDIT_GRANT", int? priority = null, DateTimeOffset? expiry = null) =>
        (await Api.Post($"/v1/wallets/{walletId}/top-up", new
        {
            credits_to_add = credits,
            transaction_reason = reason,
            priority,
            expiry_date_utc = expiry?.ToString("O"),
        })).Ok();

    protected Task<(int Status, JsonNode? Body)> Debit(string walletId, string credits, string? key = null) =>
        Api.Post($"/v1/wallets/{walletId}/debit", new { credits, idempotency_key = key ?? Guid.NewGuid().ToString("N") });

    protected async Task<JsonNode> Wallet(string walletId) => (await Api.Get($"/v1/wallets/{walletId}")).Ok();

    protected async Task<JsonNode> Balance(string walletId) => (await Api.Get($"/v1/wallets/{walletId}/balance/real-time")).Ok();

    protected async Task<JsonArray> Transactions(string walletId, string query = "") =>
        (await Api.Get($"/v1/wallets/{walletId}/transactions?limit=1000{query}")).Ok()["items"]!.AsArray();
}
