using System.Data.Common;
using Coffer.Common;
using Coffer.Customers;
using Coffer.Invoices;
using Coffer.Payments.Gateways;
using Coffer.Storage;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Payments;

public static class PaymentMethodKinds
{
    public const string Card = "card";
    public const string Wallet = "wallet";
}

/// <summary>A way the customer pays, in their order of preference (priority 1 first): a card saved at the gateway, or a wallet.</summary>
public sealed record PaymentMethodRow(
    string TenantId, string Id, string CustomerId, string Type, string? Gateway, string? Token, string? WalletId, string? Brand,
    string? Last4, int Priority, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns = "tenant_id, id, customer_id, type, gateway, token, wallet_id, brand, last4, priority, status, created_at, updated_at";

    public static PaymentMethodRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("customer_id"), r.Str("type"), r.NStr("gateway"), r.NStr("token"), r.NStr("wallet_id"),
        r.NStr("brand"), r.NStr("last4"), r.NInt("priority") ?? 1, r.Str("status"), r.Time("created_at"), r.Time("updated_at"));
}

/// <summary>What the API shows of a payment method: never the token.</summary>
public sealed record PaymentMethodDto(
    string Id, string CustomerId, string Type, string? Gateway, string? WalletId, string? Brand, string? Last4, int Priority,
    DateTimeOffset CreatedAt)
{
    public static PaymentMethodDto From(PaymentMethodRow m) => new(m.Id, m.CustomerId, m.Type, m.Gateway, m.WalletId, m.Brand, m.Last4, m.Priority, m.CreatedAt);
}

public sealed record CreatePaymentMethodRequest(string? Type, string? CardNumber, string? Token, string? WalletId, int? Priority);

public sealed class PaymentMethodStore(Database db, Ids ids, TimeProvider clock)
{
    public async Task<List<PaymentMethodRow>> ForCustomerAsync(string tenantId, string customerId)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryAsync(null,
            $"SELECT {PaymentMethodRow.Columns} FROM payment_methods WHERE tenant_id = @t AND customer_id = @c AND status = 'active' ORDER BY priority, created_at, id",
            PaymentMethodRow.Read, ("t", tenantId), ("c", customerId));
    }

    /// <summary>One page of the customer's saved methods, in the order they are used.</summary>
    public async Task<Page<PaymentMethodRow>> PageForCustomerAsync(string tenantId, string customerId, int limit, int offset)
    {
        await using var c = await db.OpenAsync();
        return await c.PageAsync(PaymentMethodRow.Columns, "payment_methods", Where.Tenant(tenantId).Add("customer_id = @c AND status = 'active'", ("c", customerId)),
            "priority, created_at, id", limit, offset, PaymentMethodRow.Read);
    }

    public async Task<PaymentMethodRow?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {PaymentMethodRow.Columns} FROM payment_methods WHERE tenant_id = @t AND id = @id AND status = 'active'",
            PaymentMethodRow.Read, ("t", tenantId), ("id", id));
    }

    public async Task<PaymentMethodRow> AddAsync(string tenantId, string customerId, string type, string? gateway, string? token, string? walletId,
        string? brand, string? last4, int priority)
    {
        var now = clock.GetUtcNow();
        var row = new PaymentMethodRow(tenantId, ids.New("pm"), customerId, type, gateway, token, walletId, brand, last4, priority, "active", now, now);
        await using var scope = await db.BeginWriteAsync();
        await scope.Connection.ExecAsync(scope.Transaction,
            $"INSERT INTO payment_methods ({PaymentMethodRow.Columns}) VALUES (@t, @id, @c, @type, @gw, @tok, @w, @brand, @last4, @prio, 'active', @now, @now)",
            ("t", tenantId), ("id", row.Id), ("c", customerId), ("type", type), ("gw", gateway), ("tok", token), ("w", walletId), ("brand", brand),
            ("last4", last4), ("prio", priority), ("now", now));
        await scope.CommitAsync();
        return row;
    }

    /// <summary>What saving a checkout's card did.</summary>
    public enum CardSaved { Saved, AlreadySaved, TooMany }

    /// <summary>
    /// Keeps the card a checkout was paid with as the customer's first choice (Flexprice's save_card_and_make_default),
    /// inside the caller's transaction. Once per checkout, however often its completion is reported: the card names its
    /// checkout, unique per tenant, and a card the customer has since removed stays removed. The same card saved before
    /// is not saved twice.
    /// </summary>
    public async Task<CardSaved> SaveFromCheckoutAsync(DbConnection c, DbTransaction tx, string tenantId, string customerId, string gateway,
        string checkoutSessionId, SavedCard card)
    {
        var active = await c.QueryAsync(tx,
            "SELECT id, token FROM payment_methods WHERE tenant_id = @t AND customer_id = @c AND status = 'active' ORDER BY priority, created_at, id",
            r => (Id: r.Str("id"), Token: r.NStr("token")), ("t", tenantId), ("c", customerId));
        if (active.Any(m => m.Token == card.Token)) return CardSaved.AlreadySaved;
        if (active.Count >= PaymentMethodApi.MaxMethodsPerCustomer) return CardSaved.TooMany;
        var now = clock.GetUtcNow();
        var id = ids.New("pm");
        var added = await c.ExecAsync(tx,
            $"""
            INSERT INTO payment_methods ({PaymentMethodRow.Columns}, checkout_session_id)
            VALUES (@t, @id, @c, 'card', @gw, @tok, NULL, @brand, @last4, 1, 'active', @now, @now, @cs)
            ON CONFLICT DO NOTHING
            """,
            ("t", tenantId), ("id", id), ("c", customerId), ("gw", gateway), ("tok", card.Token), ("brand", card.Brand), ("last4", card.Last4),
            ("now", now), ("cs", checkoutSessionId));
        if (added == 0) return CardSaved.AlreadySaved;
        // First choice from now on; the others keep their order behind it.
        for (var i = 0; i < active.Count; i++)
            await c.ExecAsync(tx, "UPDATE payment_methods SET priority = @p, updated_at = @now WHERE tenant_id = @t AND id = @id",
                ("p", i + 2), ("now", now), ("t", tenantId), ("id", active[i].Id));
        return CardSaved.Saved;
    }

    /// <summary>The gateway's customer for this customer, if Coffer has made one.</summary>
    public async Task<string?> GatewayCustomerAsync(string tenantId, string customerId, string gateway)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null,
            "SELECT gateway_customer_id FROM gateway_customers WHERE tenant_id = @t AND customer_id = @c AND gateway = @g",
            r => r.Str("gateway_customer_id"), ("t", tenantId), ("c", customerId), ("g", gateway));
    }

    /// <summary>Keeps the gateway's customer for this customer; the first one kept wins, and is what is answered.</summary>
    public async Task<string> RememberGatewayCustomerAsync(string tenantId, string customerId, string gateway, string gatewayCustomerId)
    {
        await using (var scope = await db.BeginWriteAsync())
        {
            await scope.Connection.ExecAsync(scope.Transaction,
                """
                INSERT INTO gateway_customers (tenant_id, customer_id, gateway, gateway_customer_id, created_at)
                VALUES (@t, @c, @g, @gc, @now) ON CONFLICT DO NOTHING
                """,
                ("t", tenantId), ("c", customerId), ("g", gateway), ("gc", gatewayCustomerId), ("now", clock.GetUtcNow()));
            await scope.CommitAsync();
        }
        return (await GatewayCustomerAsync(tenantId, customerId, gateway))!;
    }

    public async Task<bool> RemoveAsync(string tenantId, string customerId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var n = await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE payment_methods SET status = 'removed', updated_at = @now WHERE tenant_id = @t AND customer_id = @c AND id = @id AND status = 'active'",
            ("now", clock.GetUtcNow()), ("t", tenantId), ("c", customerId), ("id", id));
        await scope.CommitAsync();
        return n == 1;
    }
}

public static class PaymentMethodApi
{
    public const int MaxMethodsPerCustomer = 20;

    public static void MapPaymentMethods(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/customers/{id}/payment-methods").WithTags("Payment methods");
        g.MapPost("/", Create).WithName("createPaymentMethod");
        g.MapGet("/", List).WithName("listPaymentMethods").WithSummary("One page of the customer's saved payment methods, in the order they are charged (priority 1 first)");
        g.MapDelete("/{method_id}", Delete).WithName("deletePaymentMethod");
    }

    static async Task<Results<Created<PaymentMethodDto>, ApiError>> Create(
        Tenant tenant, string id, CreatePaymentMethodRequest body, CustomerStore customers, PaymentMethodStore methods,
        Wallets.WalletStore wallets, GatewayRegistry gateways, HttpRequest http)
    {
        var v = new Validator();
        var type = v.OneOf("type", body.Type, new HashSet<string> { PaymentMethodKinds.Card, PaymentMethodKinds.Wallet });
        if (type is null) v.Fail("type is required (card or wallet)");
        if (body.Priority is < 1 or > 100) v.Fail("priority must be between 1 and 100");
        if (!v.Ok) return v.Error();
        if (await customers.GetAsync(tenant.Id, id) is null) return ApiError.NotFound("customer");
        var existing = await methods.ForCustomerAsync(tenant.Id, id);
        if (existing.Count >= MaxMethodsPerCustomer) return ApiError.Validation($"a customer has at most {MaxMethodsPerCustomer} payment methods");
        var priority = body.Priority ?? (existing.Count == 0 ? 1 : existing.Max(m => m.Priority) + 1);

        if (type == PaymentMethodKinds.Wallet)
        {
            var wallet = body.WalletId is null ? null : await wallets.GetAsync(tenant.Id, body.WalletId);
            if (wallet is null || wallet.CustomerId != id) return ApiError.NotFound("wallet of this customer");
            var row = await methods.AddAsync(tenant.Id, id, type, null, null, wallet.Id, null, null, priority);
            return TypedResults.Created($"/v1/customers/{id}/payment-methods/{row.Id}", PaymentMethodDto.From(row));
        }

        var choice = await gateways.ChooseAsync(tenant.Id, http);
        if (choice.Gateway is not { } gateway) return choice.Refusal!.ToHttp();
        string token, last4;
        string? brand = null;
        if (gateway.Name == SandboxGateway.GatewayName)
        {
            var number = (body.CardNumber ?? "").Replace(" ", "");
            if (!SandboxGateway.IsTestCard(number))
                return ApiError.Validation($"card_number must be a sandbox test card: {string.Join(", ", SandboxGateway.TestCards.Keys)}");
            (token, brand, last4) = (SandboxGateway.Token(number), SandboxGateway.TestCards[number].Brand, number[^4..]);
        }
        else
        {
            var given = v.Text("token", body.Token, required: true);
            if (given is null || !given.StartsWith("pm_", StringComparison.Ordinal)) return ApiError.Validation("token must be a Stripe payment method id (pm_…)");
            (token, last4) = (given, "");
        }
        var card = await methods.AddAsync(tenant.Id, id, PaymentMethodKinds.Card, gateway.Name, token, null, brand, last4, priority);
        return TypedResults.Created($"/v1/customers/{id}/payment-methods/{card.Id}", PaymentMethodDto.From(card));
    }

    static async Task<Results<Ok<ListResponse<PaymentMethodDto>>, ApiError>> List(
        Tenant tenant, string id, CustomerStore customers, PaymentMethodStore methods, int? limit, int? offset)
    {
        var v = new Validator();
        var (l, o) = v.Page(limit, offset);
        if (!v.Ok) return v.Error();
        if (await customers.GetAsync(tenant.Id, id) is null) return ApiError.NotFound("customer");
        return TypedResults.Ok((await methods.PageForCustomerAsync(tenant.Id, id, l, o)).Response(PaymentMethodDto.From));
    }

    static async Task<Results<NoContent, ApiError>> Delete(Tenant tenant, string id, [FromRoute(Name = "method_id")] string methodId, PaymentMethodStore methods) =>
        await methods.RemoveAsync(tenant.Id, id, methodId) ? TypedResults.NoContent() : ApiError.NotFound("payment method");
}
