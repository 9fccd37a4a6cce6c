using System.Data.Common;
using Coffer.Common;
using Coffer.Ledger;
using Coffer.Storage;
using Coffer.Wallets;

namespace Coffer.CreditCurrencies;

public static class Denominations
{
    /// <summary>A custom unit (tokens, API credits), priced per credit in an ISO currency.</summary>
    public const string Unit = "unit";

    /// <summary>One credit is one minor unit of the ISO currency (a cent of USD, a yen).</summary>
    public const string Fiat = "fiat";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Unit, Fiat };
}

/// <summary>
/// A tenant's unit of credit. A wallet of it is priced (<c>conversion_rate</c> and <c>topup_conversion_rate</c>) at
/// <see cref="PricePerCredit"/>, and invoiced in <see cref="Currency"/>; <see cref="Precision"/> is how many decimal
/// places a grant of it may have.
/// </summary>
public sealed record CreditCurrencyRow(
    string TenantId, string Id, string Name, string Denomination, string Currency, decimal PricePerCredit, int Precision, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns = "tenant_id, id, name, denomination, currency, price_per_credit, precision, status, created_at, updated_at";

    public static CreditCurrencyRow Read(DbDataReader r) => new(
        r.Str("tenant_id"), r.Str("id"), r.Str("name"), r.Str("denomination"), r.Str("currency"), r.Dec("price_per_credit"), r.NInt("precision") ?? 0,
        r.Str("status"), r.Time("created_at"), r.Time("updated_at"));

    public bool Active => Status == CreditCurrencyStatuses.Active;

    /// <summary>The money one credit of a fiat credit currency is: one minor unit.</summary>
    public static decimal MinorUnit(string currency)
    {
        var unit = 1m;
        for (var i = 0; i < Currencies.MinorUnits(currency.ToUpperInvariant()); i++) unit /= 10m;
        return unit;
    }
}

public static class CreditCurrencyStatuses
{
    public const string Active = "active";
    public const string Archived = "archived";
}

public sealed record CreditCurrencyDto(
    string Id, string Name, string Denomination, string Currency, decimal PricePerCredit, int Precision, string Status, string TenantId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static CreditCurrencyDto From(CreditCurrencyRow c) =>
        new(c.Id, c.Name, c.Denomination, c.Currency, Money.Normalize(c.PricePerCredit), c.Precision, c.Status, c.TenantId, c.CreatedAt, c.UpdatedAt);
}

/// <summary>What changing a credit currency did.</summary>
public enum CreditCurrencyChange { Changed, NotFound, PriceInUse }

/// <summary>
/// The tenant's credit currencies, and the one wallet per customer that holds each: found, or made on first use (a
/// top-up or an automatic top-up rule) under the database's rule of one open wallet per customer and credit currency.
/// </summary>
public sealed class CreditCurrencyStore(Database db, Ids ids, TimeProvider clock, WalletMoves moves)
{
    /// <summary>A tenant keeps at most this many credit currencies, archived ones included.</summary>
    public const int MaxPerTenant = 100;

    public const int MaxPrecision = Money.CreditScale;

    public async Task<CreditCurrencyRow?> CreateAsync(string tenantId, string name, string denomination, string currency, decimal? pricePerCredit,
        int precision)
    {
        var now = clock.GetUtcNow();
        var row = new CreditCurrencyRow(tenantId, ids.New("cc"), name, denomination, currency,
            denomination == Denominations.Fiat ? CreditCurrencyRow.MinorUnit(currency) : pricePerCredit!.Value, precision, CreditCurrencyStatuses.Active,
            now, now);
        await using var scope = await db.BeginWriteAsync();
        // Counted and inserted in one statement, so two creations at once cannot both pass the bound.
        var inserted = await scope.Connection.ExecAsync(scope.Transaction,
            $"""
            INSERT INTO credit_currencies ({CreditCurrencyRow.Columns})
            SELECT @t, @id, @name, @den, @cur, @price, @prec, @status, @now, @now
            WHERE (SELECT COUNT(*) FROM credit_currencies WHERE tenant_id = @t) < @max
            """,
            ("t", tenantId), ("id", row.Id), ("name", name), ("den", denomination), ("cur", currency), ("price", row.PricePerCredit),
            ("prec", precision), ("status", row.Status), ("now", now), ("max", MaxPerTenant));
        await scope.CommitAsync();
        return inserted == 1 ? row : null;
    }

    public async Task<CreditCurrencyRow?> GetAsync(string tenantId, string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null, $"SELECT {CreditCurrencyRow.Columns} FROM credit_currencies WHERE tenant_id = @t AND id = @id",
            CreditCurrencyRow.Read, ("t", tenantId), ("id", id));
    }

    public async Task<ListResponse<CreditCurrencyDto>> ListAsync(string tenantId, int limit, int offset)
    {
        await using var c = await db.OpenAsync();
        var page = await c.PageAsync(CreditCurrencyRow.Columns, "credit_currencies", Where.Tenant(tenantId), Sql.OrderBy("created_at", true), limit, offset,
            CreditCurrencyRow.Read);
        return page.Response(CreditCurrencyDto.From);
    }

    /// <summary>
    /// Renames it, changes its precision, or (while no wallet holds it) its price: a wallet's rates are fixed when it is
    /// made, and every purchased lot keeps the price it was bought at, so a price in use is changed by a new credit currency.
    /// </summary>
    public async Task<(CreditCurrencyChange Change, CreditCurrencyRow? Row)> UpdateAsync(string tenantId, string id, string? name, decimal? pricePerCredit,
        int? precision)
    {
        await using var scope = await db.BeginWriteAsync();
        var c = scope.Connection;
        var row = await c.QuerySingleAsync(scope.Transaction,
            $"SELECT {CreditCurrencyRow.Columns} FROM credit_currencies WHERE tenant_id = @t AND id = @id{db.ForUpdate}",
            CreditCurrencyRow.Read, ("t", tenantId), ("id", id));
        if (row is null) return (CreditCurrencyChange.NotFound, null);
        if (pricePerCredit is { } price && price != row.PricePerCredit &&
            await c.ScalarLongAsync(scope.Transaction, "SELECT COUNT(*) FROM wallets WHERE tenant_id = @t AND credit_currency_id = @id", ("t", tenantId), ("id", id)) > 0)
            return (CreditCurrencyChange.PriceInUse, row);
        var next = row with { Name = name ?? row.Name, PricePerCredit = pricePerCredit ?? row.PricePerCredit, Precision = precision ?? row.Precision, UpdatedAt = clock.GetUtcNow() };
        await c.ExecAsync(scope.Transaction,
            "UPDATE credit_currencies SET name = @name, price_per_credit = @price, precision = @prec, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("name", next.Name), ("price", next.PricePerCredit), ("prec", next.Precision), ("now", next.UpdatedAt), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return (CreditCurrencyChange.Changed, next);
    }

    /// <summary>Archived, it takes no new wallets, grants or rules; the wallets that hold it go on working.</summary>
    public async Task<bool> ArchiveAsync(string tenantId, string id)
    {
        await using var scope = await db.BeginWriteAsync();
        var n = await scope.Connection.ExecAsync(scope.Transaction,
            "UPDATE credit_currencies SET status = @s, updated_at = @now WHERE tenant_id = @t AND id = @id",
            ("s", CreditCurrencyStatuses.Archived), ("now", clock.GetUtcNow()), ("t", tenantId), ("id", id));
        await scope.CommitAsync();
        return n == 1;
    }

    /// <summary>The customer's open wallet of this credit currency, if there is one.</summary>
    public async Task<WalletRow?> WalletOfAsync(string tenantId, string customerId, string creditCurrencyId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync(null,
            $"SELECT {WalletRow.Columns} FROM wallets WHERE tenant_id = @t AND customer_id = @c AND credit_currency_id = @cc AND wallet_status <> 'closed'",
            WalletRow.Read, ("t", tenantId), ("c", customerId), ("cc", creditCurrencyId));
    }

    /// <summary>
    /// The customer's wallet of this credit currency, made now if it has none (priced at the credit currency's price).
    /// Two first uses at once make one wallet: the database's unique rule refuses the second, which then finds the first.
    /// </summary>
    public async Task<(WalletRow? Wallet, WalletRefusal? Refusal)> OpenWalletAsync(string tenantId, string customerId, CreditCurrencyRow currency)
    {
        if (await WalletOfAsync(tenantId, customerId, currency.Id) is { } existing) return (existing, null);
        var order = ForCreditCurrency(new NewWalletOrder(customerId, null, null, null, currency.Currency, "PRE_PAID", 1m, 1m, 0m, null, 0m, null, null, null,
            null, null), currency);
        switch (await moves.CreateAsync(tenantId, order))
        {
            case Moved<WalletDto>.Done:
            case Moved<WalletDto>.Refused { Why: WalletRefusal.AlreadyExists }:
                return (await WalletOfAsync(tenantId, customerId, currency.Id), null);
            case Moved<WalletDto>.Refused r:
                return (null, r.Why);
            default:
                throw new InvalidOperationException("unexpected wallet creation outcome");
        }
    }

    /// <summary>A new wallet's order made to hold a credit currency: its ISO currency, its price as both rates, and its name.</summary>
    public static NewWalletOrder ForCreditCurrency(NewWalletOrder order, CreditCurrencyRow currency) => order with
    {
        Currency = currency.Currency,
        Rate = currency.PricePerCredit,
        TopupRate = currency.PricePerCredit,
        Name = order.Name ?? currency.Name,
        CreditCurrencyId = currency.Id,
    };


    /// <summary>Why this many credits are finer than the credit currency allows, or null.</summary>
    public static string? TooFine(string field, decimal? credits, CreditCurrencyRow currency) =>
        credits is { } c && Money.Scale(c) > currency.Precision
            ? $"{field} has more decimal places than credit currency {currency.Id} allows ({currency.Precision})"
            : null;
}
