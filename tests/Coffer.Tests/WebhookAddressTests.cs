using System.Net;
using System.Net.Sockets;
using Coffer.Webhooks;

namespace Coffer.Tests;

/// <summary>
/// The public-address guard, judged on addresses and with a fake resolver only: these tests never open a
/// connection to anything outside 127.0.0.0/8 and ::1, whatever the address under test.
/// </summary>
public sealed class WebhookAddressTests
{
    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("198.18.0.1", false)]        // benchmarking
    [InlineData("198.19.255.255", false)]
    [InlineData("192.0.0.8", false)]         // IETF protocol assignments
    [InlineData("192.88.99.1", false)]       // 6to4 relay anycast
    [InlineData("192.0.2.1", false)]         // documentation
    [InlineData("198.51.100.7", false)]
    [InlineData("203.0.113.9", false)]
    [InlineData("224.0.0.1", false)]         // multicast
    [InlineData("240.0.0.1", false)]         // reserved
    [InlineData("255.255.255.255", false)]
    [InlineData("::", false)]
    [InlineData("::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fec0::1", false)]
    [InlineData("ff02::1", false)]
    [InlineData("100::1", false)]            // discard
    [InlineData("::ffff:10.0.0.1", false)]   // mapped
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::127.0.0.1", false)]       // compatible
    [InlineData("::169.254.169.254", false)]
    [InlineData("::ffff:0:127.0.0.1", false)] // translated
    [InlineData("64:ff9b::127.0.0.1", false)] // NAT64: the gateway would connect to 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe", false)] // NAT64 of 169.254.169.254
    [InlineData("64:ff9b:1::808:808", false)] // local-use NAT64
    [InlineData("2002:7f00:1::1", false)]    // 6to4 of 127.0.0.1
    [InlineData("2002:a00:1::1", false)]     // 6to4 of 10.0.0.1
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe", false)] // Teredo, whose client is 127.0.0.1
    [InlineData("2001:db8::1", false)]       // documentation
    [InlineData("3fff::1", false)]
    [InlineData("2001:2::1", false)]         // benchmarking
    [InlineData("5f00::1", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("1.1.1.1", true)]
    [InlineData("100.128.0.1", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("198.20.0.1", true)]
    [InlineData("2606:4700::1111", true)]
    [InlineData("2a00:1450:4001::200e", true)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("64:ff9b::808:808", true)]   // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::1", true)]    // 6to4 of 8.8.8.8
    public void OnlyGlobalUnicastAddressesAreTargets(string address, bool isPublic) =>
        Assert.Equal(isPublic, PublicAddressGuard.IsPublic(IPAddress.Parse(address)));

    static PublicAddressGuard.Resolver Resolves(params string[] addresses) => (_, _) => Task.FromResult(addresses.Select(IPAddress.Parse).ToArray());

    [Fact]
    public async Task AHostIsJudgedByEveryAddressItResolvesToAndOnlyPublicOnesAreKept()
    {
        var guard = new PublicAddressGuard(allowPrivate: false, Resolves("10.0.0.5", "8.8.8.8", "64:ff9b::7f00:1"));
        Assert.Equal([IPAddress.Parse("8.8.8.8")], await guard.AddressesAsync("hooks.example", CancellationToken.None));

        var inside = new PublicAddressGuard(allowPrivate: false, Resolves("10.0.0.5", "::ffff:169.254.169.254"));
        var refused = await Assert.ThrowsAsync<OutboundRefusedException>(() => inside.AddressesAsync("rebind.example", CancellationToken.None));
        Assert.Contains("private or reserved", refused.Message);

        var operatorAllows = new PublicAddressGuard(allowPrivate: true, Resolves("10.0.0.5"));
        Assert.Equal([IPAddress.Parse("10.0.0.5")], await operatorAllows.AddressesAsync("relay.internal", CancellationToken.None));
    }

    [Fact]
    public async Task AnUnresolvableHostSaysSoWithoutTheResolversText()
    {
        // Root cause: the resolver's message (naming internal DNS servers and search domains) reached tenants' attempt logs.
        PublicAddressGuard.Resolver fails = (_, _) => throw new SocketException((int)SocketError.HostNotFound, "no such host db-7.corp.internal via 10.0.0.2");
        var refused = await Assert.ThrowsAsync<OutboundRefusedException>(() =>
            new PublicAddressGuard(allowPrivate: false, fails).AddressesAsync("hooks.example", CancellationToken.None));
        Assert.Equal("could not resolve the host", refused.Message);
        var empty = await Assert.ThrowsAsync<OutboundRefusedException>(() =>
            new PublicAddressGuard(allowPrivate: false, Resolves()).AddressesAsync("hooks.example", CancellationToken.None));
        Assert.Equal("could not resolve the host", empty.Message);
    }

    [Fact]
    public void DeliveriesNeverGoThroughAProxy()
    {
        // Root cause: with HTTP(S)_PROXY set, the connect callback saw the proxy's address, so the check judged the proxy, not the target.
        using var handler = new PublicAddressGuard(allowPrivate: false).Handler();
        Assert.False(handler.UseProxy);
        Assert.Null(handler.Proxy);
        Assert.False(handler.AllowAutoRedirect);
    }

    [Fact]
    public async Task WithoutTheOperatorsPermissionADeliveryToALoopbackReceiverIsRefusedBeforeConnecting()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var guarded = new HttpClient(new PublicAddressGuard(allowPrivate: false).Handler());
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync(receiver.Url, new StringContent("{}")));
        Assert.Contains("private or reserved", refused.Message);
        Assert.Empty(receiver.Received);

        using var allowed = new HttpClient(new PublicAddressGuard(allowPrivate: true).Handler());
        Assert.True((await allowed.PostAsync(receiver.Url, new StringContent("{}"))).IsSuccessStatusCode);
    }
}
