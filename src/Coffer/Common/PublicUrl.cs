using System.Net;
using System.Net.Sockets;

namespace Coffer.Common;

/// <summary>
/// The address Coffer's own pages are reached at, for the links it hands out (portal sessions, checkout pages).
/// <c>COFFER_PUBLIC_URL</c> when set. Otherwise never the request's <c>Host</c> header, which the caller chooses
/// (a forged one would make a link to another site): the forwarded host and scheme when the request came through
/// a proxy listed in <c>COFFER_TRUSTED_PROXIES</c>, else the address the connection was accepted on.
/// </summary>
public static class PublicUrl
{
    public const string Fallback = "http://localhost:8080";

    public static string Of(IConfiguration config, HttpRequest? request)
    {
        if (config["COFFER_PUBLIC_URL"] is { Length: > 0 } configured) return configured.TrimEnd('/');
        if (request is null) return Fallback;
        if (Forwarded(config, request) is { } forwarded) return forwarded;
        var connection = request.HttpContext.Connection;
        // The in-memory test server has no socket.
        if (connection.LocalIpAddress is not { } local) return Fallback;
        if (local.IsIPv4MappedToIPv6) local = local.MapToIPv4();
        var host = local.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{local}]" : local.ToString();
        return $"{request.Scheme}://{host}:{connection.LocalPort}";
    }

    /// <summary>Whether the configured public address is https: then cookies are Secure and pages send HSTS.</summary>
    public static bool IsHttps(IConfiguration config) =>
        Uri.TryCreate(config["COFFER_PUBLIC_URL"], UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps;

    /// <summary>Refuses contradictory settings at start-up rather than at the first link.</summary>
    public static void Validate(IConfiguration config)
    {
        if (config["COFFER_PUBLIC_URL"] is { Length: > 0 } url
            && (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https")))
            throw new InvalidOperationException($"COFFER_PUBLIC_URL must be an absolute http or https URL, not '{url}'");
        TrustedProxies(config);
    }

    static string? Forwarded(IConfiguration config, HttpRequest request)
    {
        if (request.HttpContext.Connection.RemoteIpAddress is not { } remote) return null;
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        if (!TrustedProxies(config).Any(n => n.Contains(remote))) return null;
        // The last value is the one the trusted proxy itself wrote; earlier ones came from whoever called it.
        var host = Last(request.Headers["X-Forwarded-Host"]);
        var scheme = Last(request.Headers["X-Forwarded-Proto"]) ?? request.Scheme;
        if (host is null || scheme is not ("http" or "https")) return null;
        return Uri.TryCreate($"{scheme}://{host}", UriKind.Absolute, out var u) && u.PathAndQuery == "/" && u.UserInfo.Length == 0
            ? $"{scheme}://{u.Authority}"
            : null;
    }

    static string? Last(Microsoft.Extensions.Primitives.StringValues values) =>
        values.Count == 0 ? null : values[^1]?.Split(',').LastOrDefault()?.Trim() is { Length: > 0 } last ? last : null;

    /// <summary><c>COFFER_TRUSTED_PROXIES</c>: addresses or networks (CIDR), comma-separated.</summary>
    static List<IPNetwork> TrustedProxies(IConfiguration config) =>
        (config["COFFER_TRUSTED_PROXIES"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(entry => IPNetwork.TryParse(entry, out var network) ? network
            : IPAddress.TryParse(entry, out var address) ? new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
            : throw new InvalidOperationException($"COFFER_TRUSTED_PROXIES: '{entry}' is neither an IP address nor a network such as 10.0.0.0/8"))
        .ToList();
}
