using Coffer.Common;
using Coffer.Ledger;
using Coffer.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Coffer.Settings;

/// <summary>Where a grant of credits comes from, as <c>grant_priorities</c> names it.</summary>
public static class GrantSources
{
    /// <summary>Recurring plan grants: the grants of wallet schedules (Schedules/), without a priority of their own.</summary>
    public const string Plan = "plan";
    /// <summary>Free credits: <c>FREE_CREDIT_GRANT</c> top-ups, a wallet's initial credits.</summary>
    public const string Promotional = "promotional";
    /// <summary>A credit package's credits and its bonus, through the package's priority when it is created.</summary>
    public const string Package = "package";
    /// <summary>
    /// Credits paid for: <c>PURCHASED_CREDIT_DIRECT</c> and <c>PURCHASED_CREDIT_INVOICED</c> top-ups, customers' own
    /// top-ups and automatic top-ups.
    /// </summary>
    public const string Purchased = "purchased";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Plan, Promotional, Package, Purchased };

    /// <summary>The source of a top-up by its reason.</summary>
    public static string OfTopUp(string reason) => Reasons.IsPurchased(reason) ? Purchased : Promotional;
}

/// <summary>
/// <c>grant_priorities</c>: the priority a grant gets when it is made without one, by its source (lower is spent first).
/// An unset source gives no priority (spent last), as Flexprice does, so a tenant that never sets this sees no change.
/// </summary>
public sealed record GrantPriorities(int? Plan, int? Promotional, int? Package, int? Purchased)
{
    public static readonly GrantPriorities Unset = new(null, null, null, null);

    public int? Of(string source) => source switch
    {
        GrantSources.Plan => Plan,
        GrantSources.Promotional => Promotional,
        GrantSources.Package => Package,
        GrantSources.Purchased => Purchased,
        _ => throw new ArgumentOutOfRangeException(nameof(source), source, "not a grant source"),
    };
}

public sealed record GrantPrioritiesRequest(Dictionary<string, int?>? Value);

public sealed record GrantPrioritiesResponse(string Key, GrantPriorities Value, string TenantId);

/// <summary>
/// <c>GET</c>/<c>PUT /v1/settings/grant_priorities</c>. A PUT replaces the whole map: a source it leaves out is unset.
/// The bounds are a grant's own (<see cref="Validator.Priority"/>).
/// </summary>
public static class GrantPrioritiesSettingsApi
{
    public const string Key = "grant_priorities";

    public static void MapGrantPrioritiesSettings(this RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/settings/grant_priorities").WithTags("Settings");
        g.MapGet("/", Get).WithName("getGrantPriorities");
        g.MapPut("/", Put).WithName("updateGrantPriorities");
    }

    static async Task<Ok<GrantPrioritiesResponse>> Get(Tenant tenant, TenantSettings settings) =>
        TypedResults.Ok(new GrantPrioritiesResponse(Key, await settings.GrantPrioritiesAsync(tenant.Id), tenant.Id));

    static async Task<Results<Ok<GrantPrioritiesResponse>, ApiError>> Put(Tenant tenant, GrantPrioritiesRequest body, TenantSettings settings)
    {
        if (body.Value is not { } value) return ApiError.Validation("value is required");
        var v = new Validator();
        foreach (var (source, priority) in value)
        {
            if (GrantSources.All.Contains(source)) v.Priority($"value.{source}", priority);
            else v.Fail($"'{(source.Length > 40 ? source[..40] + "…" : source)}' is not a grant source; " +
                $"the sources are {string.Join(", ", GrantSources.All.Order())}");
        }
        if (!v.Ok) return v.Error();
        int? Of(string source) => value.GetValueOrDefault(source);
        var next = new GrantPriorities(Of(GrantSources.Plan), Of(GrantSources.Promotional), Of(GrantSources.Package), Of(GrantSources.Purchased));
        await settings.SaveGrantPrioritiesAsync(tenant.Id, next);
        return TypedResults.Ok(new GrantPrioritiesResponse(Key, next, tenant.Id));
    }
}
