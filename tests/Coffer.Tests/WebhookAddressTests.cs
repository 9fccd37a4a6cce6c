using System.Net;
using Coffer.Webhooks;

namespace Coffer.Tests;

public sealed class WebhookAddressTests
{
    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("2606:4700::1111", true)]
    public void OnlyPublicAddressesAreWebhookTargets(string address, bool isPublic) =>
        Assert.Equal(isPublic, PublicAddressGuard.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task WithoutTheOperatorsPermissionADeliveryToALoopbackReceiverIsRefusedBeforeConnecting()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var guarded = new HttpClient(PublicAddressGuard.Handler(allowPrivate: false));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync(receiver.Url, new StringContent("{}")));
        Assert.Contains("private or reserved", refused.Message);
        Assert.Empty(receiver.Received);

        using var allowed = new HttpClient(PublicAddressGuard.Handler(allowPrivate: true));
        Assert.True((await allowed.PostAsync(receiver.Url, new StringContent("{}"))).IsSuccessStatusCode);
    }
}
