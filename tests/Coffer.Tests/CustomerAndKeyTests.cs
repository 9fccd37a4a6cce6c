namespace Coffer.Tests;

public sealed class CustomerAndKeyTestsOnSqlite() : CustomerAndKeyTests(Store.Sqlite);
public sealed class CustomerAndKeyTestsOnPostgres() : CustomerAndKeyTests(Store.Postgres);

public abstract class CustomerAndKeyTests(Store store) : ApiTest(store)
{
    [Fact]
    public async Task CustomersAreCreatedFoundUpdatedSearchedAndDeleted()
    {
        var created = (await Api.Post("/v1/customers", new
        {
            external_id = "acme-1", name = "Acme", email = "billing@acme.test", address_line1 = "1 Main St", address_country = "US",
            metadata = new Dictionary<string, string> { ["tier"] = "gold" },
        })).Ok(201);
        var id = created.S("id");
        Assert.Equal("1 Main St", created.S("address_line1"));
        Assert.Equal("gold", created["metadata"]!.S("tier"));

        Assert.Equal("already_exists", (await Api.Post("/v1/customers", new { external_id = "acme-1" })).Error(409));
        Assert.Equal(id, (await Api.Get("/v1/customers/external/acme-1")).Ok().S("id"));

        var updated = (await Api.Put($"/v1/customers?id={id}", new { name = "Acme Inc" })).Ok();
        Assert.Equal("Acme Inc", updated.S("name"));
        Assert.Equal("billing@acme.test", updated.S("email"));
        Assert.Equal("Acme Inc", (await Api.Put("/v1/customers?external_customer_id=acme-1", new { })).Ok().S("name"));

        await CreateCustomer("other-2");
        var search = (await Api.Post("/v1/customers/search", new { external_id = "acme-1" })).Ok();
        Assert.Equal(1, search["pagination"]!["total"]!.GetValue<int>());
        var contains = (await Api.Post("/v1/customers/search", new
        {
            filters = new[] { new { field = "name", @operator = "contains", data_type = "string", value = new { @string = "acme" } } },
        })).Ok();
        Assert.Equal(id, contains["items"]!.AsArray().Single()!.S("id"));

        Assert.Equal(204, (await Api.Delete($"/v1/customers/{id}")).Status);
        Assert.Equal("not_found", (await Api.Get($"/v1/customers/{id}")).Error(404));
        // The external id is free again once its customer is deleted.
        (await Api.Post("/v1/customers", new { external_id = "acme-1" })).Ok(201);
    }

    [Fact]
    public async Task ACustomerWithAnOpenWalletCannotBeDeleted()
    {
        var wallet = await CreateWallet();
        Assert.Equal("conflict", (await Api.Delete($"/v1/customers/{wallet.S("customer_id")}")).Error(409));
        (await Api.Post($"/v1/wallets/{wallet.S("id")}/terminate")).Ok();
        Assert.Equal(204, (await Api.Delete($"/v1/customers/{wallet.S("customer_id")}")).Status);
    }

    [Fact]
    public async Task ApiKeysAreShownOnceStoredHashedListedAndRevoked()
    {
        var created = (await Api.Post("/v1/secrets/api/keys", new { name = "backend", type = "private_key" })).Ok(201);
        var secret = created.S("api_key");
        Assert.StartsWith("sk_", secret);
        Assert.DoesNotContain(secret, created["secret"]!.ToJsonString());

        using var other = App.Api(secret);
        (await other.Post("/v1/customers/search", new { })).Ok();
        var list = (await Api.Get("/v1/secrets/api/keys")).Ok();
        Assert.Contains(list["items"]!.AsArray(), k => k!.S("id") == created["secret"]!.S("id"));
        Assert.DoesNotContain(secret, list.ToJsonString());

        var db = App.Service<Storage.Database>();
        await using (var c = await db.OpenAsync())
            Assert.Equal(0, await Storage.Sql.ScalarLongAsync(c, null, "SELECT COUNT(*) FROM api_keys WHERE key_hash = @s", ("s", secret)));

        Assert.Equal(204, (await Api.Delete($"/v1/secrets/api/keys/{created["secret"]!.S("id")}")).Status);
        Assert.Equal("unauthorized", (await other.Get("/v1/wallets")).Error(401));
        Assert.Equal("not_found", (await Api.Delete($"/v1/secrets/api/keys/{created["secret"]!.S("id")}")).Error(404));
    }
}

public sealed class ServiceTests
{
    [Fact]
    public async Task HealthOpenApiAndDocsAreServed()
    {
        await using var app = new CofferApp(Store.Sqlite);
        using var http = app.CreateClient();
        Assert.Equal("ok", (await http.Get("/health")).Ok().S("status"));
        var doc = (await http.Get("/openapi/v1.json")).Ok();
        var paths = doc["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("/v1/wallets/{id}/top-up", paths);
        Assert.Contains("/v1/wallets/{id}/debit", paths);
        Assert.Contains("/v1/customers", paths);
        // Generated clients send the Idempotency-Key header only where the document lists it.
        foreach (var (path, method) in new[] { ("/v1/wallets", "post"), ("/v1/wallets/{id}", "put"), ("/v1/wallets/{id}/holds/{hold_id}/release", "post") })
            Assert.Contains(doc["paths"]![path]![method]!["parameters"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "Idempotency-Key");
        var createdAt = doc["components"]!["schemas"]!["CustomerDto"]!["properties"]!["created_at"]!;
        Assert.Equal(("string", "date-time"), (createdAt["type"]!.GetValue<string>(), createdAt["format"]!.GetValue<string>()));
        var docs = await http.GetAsync("/docs");
        Assert.Equal(200, (int)docs.StatusCode);
    }

    [Fact]
    public async Task AFreshDatabaseGetsOneKeyPrintedOnceAndStartingTwiceIsHarmless()
    {
        var path = Path.Combine(Path.GetTempPath(), $"coffer-boot-{Guid.NewGuid():N}.db");
        var clock = TimeProvider.System;
        await using (var db = Storage.Database.Open(path))
        {
            var tenants = new Tenants.TenantStore(db, new Common.Ids(clock), clock);
            var first = new StringWriter();
            var second = new StringWriter();
            await Storage.Migrator.MigrateAsync(db, clock);
            await tenants.BootstrapAsync(null, first);
            await Storage.Migrator.MigrateAsync(db, clock);
            await tenants.BootstrapAsync(null, second);

            var key = first.ToString().Split(": ")[^1].Trim();
            Assert.StartsWith("sk_", key);
            Assert.Equal("", second.ToString());
            var tenant = await tenants.ResolveAsync(key, CancellationToken.None);
            Assert.Equal((await tenants.DefaultTenantAsync())!.Id, tenant!.Id);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" }) File.Delete(path + suffix);
    }

    [Fact]
    public async Task VerifyReportsATamperedBalance()
    {
        await using var app = new CofferApp(Store.Sqlite);
        using var api = app.Api();
        var customer = (await api.Post("/v1/customers", new { external_id = "c" })).Ok(201);
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd", initial_credits_to_load = "5" })).Ok();
        Assert.True((await app.VerifyAsync()).Ok);

        var db = app.Service<Storage.Database>();
        await using (var c = await db.OpenAsync())
            await Storage.Sql.ExecAsync(c, null, "UPDATE wallets SET credit_balance = '6' WHERE id = @w", ("w", wallet.S("id")));

        var report = await app.VerifyAsync();
        Assert.False(report.Ok);
        Assert.Contains(report.Problems, p => p.Contains("cached credit balance", StringComparison.Ordinal));
    }
}
