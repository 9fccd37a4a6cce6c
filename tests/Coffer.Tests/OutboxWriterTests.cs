using System.Text.Json.Nodes;
using Coffer.Common;
using Coffer.Outbox;
using Coffer.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Coffer.Tests;

public sealed class OutboxWriterTests
{
    /// <summary>The event a receiver gets says it was made when its row says, even on a clock that moves between two reads.</summary>
    [Fact]
    public void AnEventsEnvelopeAndItsRowHaveOneInstant()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 8, 1, 0, 0, TimeSpan.Zero)) { AutoAdvanceAmount = TimeSpan.FromSeconds(1) };
        var batch = new SqlBatch();
        new OutboxWriter(new Ids(clock), clock).Add(batch, "t1", EventTypes.WalletUpdated, "w1", 7, new { id = "w1" });

        var args = Assert.Single(batch.Statements).Args.ToDictionary(a => a.Item1, a => a.Item2);
        var envelope = JsonNode.Parse(PackedJson.Unpack((byte[])args["p"]!))!;
        var at = (DateTimeOffset)args["at"]!;
        Assert.Equal(at, Json.Deserialize<DateTimeOffset>(envelope["created_at"]!.ToJsonString()));
        Assert.Equal(7, (long)envelope["sequence"]!);
    }
}
