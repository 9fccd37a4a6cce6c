using System.Threading.RateLimiting;
using Coffer.Common;
using Microsoft.AspNetCore.RateLimiting;

namespace Coffer.Dashboard;

/// <summary>
/// Bounds password guessing on this node: so many sign-in attempts a minute from one address (ASP.NET Core's
/// rate limiting, before the form is read) and so many for one account (checked once the form names it). The
/// lockout on the operator row is what holds across nodes; these stop a flood before it costs a hash each.
/// </summary>
public sealed class SignInLimits : IDisposable
{
    public const string PerAddressPolicy = "sign-in-per-address";
    public const int PerAddressPerMinute = 20;
    public const int PerAccountPerMinute = 10;

    readonly PartitionedRateLimiter<string> _accounts = PartitionedRateLimiter.Create<string, string>(email =>
        RateLimitPartition.GetFixedWindowLimiter(email, _ => Window(PerAccountPerMinute)));

    public static void AddTo(IServiceCollection services)
    {
        services.AddSingleton<SignInLimits>();
        services.AddRateLimiter(o =>
        {
            o.AddPolicy(PerAddressPolicy, http => RateLimitPartition.GetFixedWindowLimiter(
                http.Connection.RemoteIpAddress?.ToString() ?? "", _ => Window(PerAddressPerMinute)));
            o.OnRejected = (context, _) => new ValueTask(TooMany().ExecuteAsync(context.HttpContext));
        });
    }

    /// <summary>Takes one attempt from the account's allowance; false when it is used up.</summary>
    public bool TryAccount(string? email)
    {
        using var lease = _accounts.AttemptAcquire((email ?? "").Trim().ToLowerInvariant());
        return lease.IsAcquired;
    }

    public static ApiError TooMany() => new(429, ErrorCodes.RateLimited, "too many sign-in attempts; wait a minute and try again");

    static FixedWindowRateLimiterOptions Window(int permits) =>
        new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true };

    public void Dispose() => _accounts.Dispose();
}
