using System.Net.Sockets;
using Coffer.Hosting;

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

    public static string Of(CofferOptions options, HttpRequest? request)
    {
        if (options.PublicUrl is { } configured) return configured;
        if (request is null) return Fallback;
        if (Forwarded(options, request) is { } forwarded) return forwarded;
        var connection = request.HttpContext.Connection;
        // The in-memory test server has no socket.
        if (connection.LocalIpAddress is not { } local) return Fallback;
        if (local.IsIPv4MappedToIPv6) local = local.MapToIPv4();
        var host = local.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{local}]" : local.ToString();
        return $"{request.Scheme}://{host}:{connection.LocalPort}";
    }

    /// <summary>Whether the configured public address is https: then cookies are Secure and pages send HSTS.</summary>
    public static bool IsHttps(CofferOptions options) =>
        Uri.TryCreate(options.PublicUrl, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps;

    static string? Forwarded(CofferOptions options, HttpRequest request)
    {
        if (request.HttpContext.Connection.RemoteIpAddress is not { } remote) return null;
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        if (!options.TrustedProxies.Any(n => n.Contains(remote))) return null;
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
}
