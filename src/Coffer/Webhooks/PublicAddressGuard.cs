using System.Net;
using System.Net.Sockets;

namespace Coffer.Webhooks;

/// <summary>
/// Webhook URLs and SMTP servers are chosen by tenants, so Coffer's outbound connections must not become a way
/// into the operator's own network: a connection is made only to global unicast addresses, checked after DNS
/// resolution on the very addresses connected to (a public name that resolves to 10.0.0.5 is refused too), and
/// never through a proxy (with HTTP(S)_PROXY set the check would see the proxy, not the target). An operator
/// flag (<c>COFFER_WEBHOOKS_ALLOW_PRIVATE</c>, <c>COFFER_SMTP_ALLOW_PRIVATE</c>) lifts the check for local servers.
/// </summary>
public sealed class PublicAddressGuard(bool allowPrivate, PublicAddressGuard.Resolver? resolve = null)
{
    /// <summary>Name resolution, the one edge a test may replace (it must never reach a real resolver or address).</summary>
    public delegate Task<IPAddress[]> Resolver(string host, CancellationToken ct);

    public static readonly Resolver Dns = (host, ct) => System.Net.Dns.GetHostAddressesAsync(host, ct);

    public const string UnresolvedMessage = "could not resolve the host";

    readonly Resolver _resolve = resolve ?? Dns;

    /// <summary>The addresses of <paramref name="host"/> a connection may go to; refused when there are none.</summary>
    public async Task<IPAddress[]> AddressesAsync(string host, CancellationToken ct)
    {
        IPAddress[] addresses;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal)) addresses = [literal];
        else
        {
            try { addresses = await _resolve(host, ct); }
            // The resolver's own text can name the operator's internal DNS servers or search domains: tenants read
            // this message in their attempts, so it says only what happened.
            catch (SocketException) { throw new OutboundRefusedException(UnresolvedMessage); }
        }
        if (addresses.Length == 0) throw new OutboundRefusedException(UnresolvedMessage);
        var allowed = addresses.Where(a => allowPrivate || IsPublic(a)).ToArray();
        if (allowed.Length == 0) throw new OutboundRefusedException($"{host} resolves only to private or reserved addresses; Coffer connects only to public addresses");
        return allowed;
    }

    /// <summary>A TCP connection to one of the allowed addresses of <paramref name="host"/>.</summary>
    public async Task<Socket> ConnectAsync(string host, int port, CancellationToken ct)
    {
        var addresses = await AddressesAsync(host, ct);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, port, ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public SocketsHttpHandler Handler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        Proxy = null,
        // Whatever is left of a response nobody reads is not drained: the connection is closed instead.
        MaxResponseDrainSize = 0,
        ConnectCallback = async (context, ct) => new NetworkStream(await ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct), ownsSocket: true),
    };

    /// <summary>
    /// Global unicast only. IPv4 special-purpose ranges (RFC 6890 and the IANA registry) are refused; an IPv6
    /// address is allowed only inside 2000::/3 outside its special-purpose blocks, and every IPv6 form that
    /// carries an IPv4 address a gateway would connect to (mapped, compatible, NAT64, 6to4) is judged by that IPv4.
    /// </summary>
    public static bool IsPublic(IPAddress address) =>
        address.AddressFamily switch
        {
            AddressFamily.InterNetwork => IsPublicV4(address.GetAddressBytes()),
            AddressFamily.InterNetworkV6 => IsPublicV6(address.GetAddressBytes()),
            _ => false,
        };

    static bool IsPublicV4(ReadOnlySpan<byte> b) => !(
        b[0] == 0                                           // 0.0.0.0/8 "this network"
        || b[0] == 10                                       // 10.0.0.0/8 private
        || (b[0] == 100 && (b[1] & 0xC0) == 64)             // 100.64.0.0/10 shared (carrier-grade NAT)
        || b[0] == 127                                      // 127.0.0.0/8 loopback
        || (b[0] == 169 && b[1] == 254)                     // 169.254.0.0/16 link-local (cloud metadata)
        || (b[0] == 172 && (b[1] & 0xF0) == 16)             // 172.16.0.0/12 private
        || (b[0] == 192 && b[1] == 0 && b[2] == 0)          // 192.0.0.0/24 IETF protocol assignments
        || (b[0] == 192 && b[1] == 0 && b[2] == 2)          // 192.0.2.0/24 documentation
        || (b[0] == 192 && b[1] == 88 && b[2] == 99)        // 192.88.99.0/24 6to4 relay anycast
        || (b[0] == 192 && b[1] == 168)                     // 192.168.0.0/16 private
        || (b[0] == 198 && (b[1] & 0xFE) == 18)             // 198.18.0.0/15 benchmarking
        || (b[0] == 198 && b[1] == 51 && b[2] == 100)       // 198.51.100.0/24 documentation
        || (b[0] == 203 && b[1] == 0 && b[2] == 113)        // 203.0.113.0/24 documentation
        || b[0] >= 224);                                    // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, broadcast

    static bool IsPublicV6(byte[] b)
    {
        var head = (b[0] << 8) | b[1];
        // Forms that carry an IPv4 address in their last 32 bits: ::/96 (compatible, which also holds :: and ::1),
        // ::ffff:0:0/96 (mapped), ::ffff:0:0:0/96 (translated) and the NAT64 well-known prefix 64:ff9b::/96.
        if (Zero(b, 0, 10) && ((b[10] == 0 && b[11] == 0) || (b[10] == 0xFF && b[11] == 0xFF))) return IsPublicV4(b.AsSpan(12));
        if (Zero(b, 0, 8) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0) return IsPublicV4(b.AsSpan(12));
        if (head == 0x0064 && b[2] == 0xFF && b[3] == 0x9B && Zero(b, 4, 8)) return IsPublicV4(b.AsSpan(12));
        if ((b[0] & 0xE0) != 0x20) return false;            // outside 2000::/3: ULA, link-local, multicast, 64:ff9b:1::/48, 100::/64, ...
        if (head == 0x2002) return IsPublicV4(b.AsSpan(2, 4)); // 6to4: the IPv4 of the relay it is sent to
        if (head == 0x2001 && b[2] < 0x02) return false;    // 2001::/23 IETF protocol assignments, Teredo 2001::/32 among them
        if (head == 0x2001 && b[2] == 0x0D && b[3] == 0xB8) return false; // 2001:db8::/32 documentation
        if (head == 0x3FFF && (b[2] & 0xF0) == 0) return false;            // 3fff::/20 documentation
        if (head == 0x5F00) return false;                   // 5f00::/16 segment routing
        return true;
    }

    static bool Zero(byte[] b, int from, int to)
    {
        for (var i = from; i < to; i++)
            if (b[i] != 0) return false;
        return true;
    }
}

/// <summary>An outbound connection Coffer refused to make, or could not aim; its message is safe to show the tenant.</summary>
public sealed class OutboundRefusedException(string message) : Exception(message);
