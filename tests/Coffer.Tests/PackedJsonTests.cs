using System.Text;
using System.Text.Json.Nodes;
using Coffer.Storage;
using CsCheck;

namespace Coffer.Tests;

public sealed class PackedJsonTests
{
    [Fact]
    public void WhatIsPackedUnpacksToTheSameText()
    {
        Gen.String.Sample(s => Assert.Equal(s, PackedJson.Unpack(PackedJson.Pack(s))), iter: 2_000);
        foreach (var s in new[] { "", "{}", "{\"name\":\"Zoë — 東京 🚀\"}", new string('x', 300_000) })
            Assert.Equal(s, PackedJson.Unpack(PackedJson.Pack(s)));
    }

    /// <summary>A value packed as JSON unpacks to the text <c>Json.Serialize</c> gives it, the text the API answers with.</summary>
    [Fact]
    public void AValuePackedAsJsonUnpacksToItsSerializedText()
    {
        object[] values =
        [
            new { id = "wtx_1", credit_amount = 12.50m, balance = (decimal?)null, at = new DateTimeOffset(2026, 12, 7, 23, 0, 0, TimeSpan.FromHours(2)) },
            new Dictionary<string, object?> { ["name"] = "Zoë — 東京 🚀 <script>&'\"", ["n"] = 3, ["nested"] = new { list = new[] { 1m, 0.000000000001m } } },
            new { data = (object)new { deep = new { deeper = new { deepest = "x" } } } },
            new { big = new string('y', 400_000) },
            "a string alone",
        ];
        var packed = values.Select(PackedJson.PackJson).ToList();
        // Each result is its own array: the buffers kept for packing are reused by the next value.
        for (var i = 0; i < values.Length; i++) Assert.Equal(Common.Json.Serialize(values[i]), PackedJson.Unpack(packed[i]));
        Gen.String.Sample(s => Assert.Equal(Common.Json.Serialize(new { s }), PackedJson.Unpack(PackedJson.PackJson(new { s }))), iter: 500);
    }

    [Fact]
    public void AStoredAnswerKeepsItsBodyExactlyWhicheverFormItWasMadeFrom()
    {
        var value = new { wallet = new { id = "w_1", credit_balance = 8m } };
        var made = Wallets.StoredAnswer.Of(201, value);
        Assert.Equal((201, Common.Json.Serialize(value)), (made.StatusCode, made.Body));
        var read = new Wallets.StoredAnswer(200, "{\"a\":\"é\"}");
        Assert.Equal("{\"a\":\"é\"}", PackedJson.Unpack(read.Packed));
    }

    [Fact]
    public void AnUnknownVersionIsRefusedRatherThanMisread()
    {
        var packed = PackedJson.Pack("{\"a\":1}");
        packed[0] = 2;
        Assert.Throws<InvalidDataException>(() => PackedJson.Unpack(packed));
        Assert.Throws<InvalidDataException>(() => PackedJson.Unpack([]));
    }
}

public sealed class StoredBodyTestsOnSqlite() : StoredBodyTests(Store.Sqlite);
public sealed class StoredBodyTestsOnPostgres() : StoredBodyTests(Store.Postgres);

/// <summary>A debit's idempotency answer and its event are stored packed, and read back exactly, old text rows too.</summary>
public abstract class StoredBodyTests(Store store) : ApiTest(store)
{
    Webhooks.WebhookWorker Worker => App.Service<Webhooks.WebhookWorker>();

    async Task<(int Status, string Body, bool Replayed)> RawDebit(string wallet, string key)
    {
        using var response = await Api.PostAsync($"/v1/wallets/{wallet}/debit",
            new StringContent($"{{\"credits\":\"2\",\"idempotency_key\":\"{key}\"}}", Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Contains("Idempotent-Replayed"));
    }

    [Fact]
    public async Task ADebitStoresItsAnswerAndItsEventPackedSmallAndReplaysAndDeliversThemExactly()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        (await Api.Post("/v1/webhooks/endpoints", new { url = receiver.Url, event_types = new[] { "wallet.transaction.created" } })).Ok(201);
        var wallet = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");

        var first = await RawDebit(wallet, "packed-1");
        Assert.Equal((200, false), (first.Status, first.Replayed));
        var entry = JsonNode.Parse(first.Body)!["wallet_transaction"].S("id");

        await using (var c = await App.Service<Database>().OpenAsync())
        {
            var (text, packed) = Assert.Single(await c.QueryAsync(null,
                "SELECT response, response_packed FROM idempotency_keys WHERE idempotency_key = 'packed-1'",
                r => (r.NStr("response"), r.GetFieldValue<byte[]>(1))));
            Assert.Null(text);
            Assert.Equal(first.Body, PackedJson.Unpack(packed));
            // As text the answer is about 1.7 KB.
            Assert.True(packed.Length < 400, $"a debit's answer takes {packed.Length} bytes packed");

            var events = await c.QueryAsync(null,
                "SELECT payload, payload_packed FROM outbox_events WHERE wallet_id = @w AND event_type = 'wallet.transaction.created'",
                r => (Text: r.NStr("payload"), Packed: r.GetFieldValue<byte[]>(1)), ("w", wallet));
            Assert.All(events, e => Assert.Null(e.Text));
            var debitEvent = Assert.Single(events, e => PackedJson.Unpack(e.Packed).Contains(entry));
            Assert.True(debitEvent.Packed.Length < 400, $"a debit's event takes {debitEvent.Packed.Length} bytes packed");
        }

        var again = await RawDebit(wallet, "packed-1");
        Assert.Equal((200, true, first.Body), (again.Status, again.Replayed, again.Body));
        Assert.Equal("8", (await Wallet(wallet)).S("credit_balance"));

        await Worker.RunOnceAsync();
        var delivered = receiver.Received.Select(w => JsonNode.Parse(w.Body)!).Single(e => e["data"].S("id") == entry);
        Assert.Equal("8", delivered["data"].S("credit_balance_after"));
        Assert.Equal(wallet, delivered.S("wallet_id"));
    }

    [Fact]
    public async Task AnswersAndEventsStoredAsTextBeforePackingStillReplayAndDeliver()
    {
        var wallet = (await CreateWallet(new { initial_credits_to_load = "10" })).S("id");
        var first = await RawDebit(wallet, "text-1");
        await using (var c = await App.Service<Database>().OpenAsync())
        {
            // The row as a build before packing wrote it.
            Assert.Equal(1, await c.ExecAsync(null,
                "UPDATE idempotency_keys SET response = @r, response_packed = NULL WHERE idempotency_key = 'text-1'", ("r", first.Body)));
        }
        var again = await RawDebit(wallet, "text-1");
        Assert.Equal((200, true, first.Body), (again.Status, again.Replayed, again.Body));
        Assert.Equal("8", (await Wallet(wallet)).S("credit_balance"));

        await using var receiver = await WebhookReceiver.StartAsync();
        (await Api.Post("/v1/webhooks/endpoints", new { url = receiver.Url, event_types = new[] { "wallet.updated" } })).Ok(201);
        await Worker.RunOnceAsync();
        const string body = """{"id":"evt_old","event_type":"wallet.updated","tenant_id":null,"wallet_id":null,"sequence":1,"data":{"note":"written as text"}}""";
        await using (var c = await App.Service<Database>().OpenAsync())
        {
            var tenant = await c.QuerySingleAsync(null, "SELECT tenant_id FROM wallets WHERE id = @w", r => r.Str("tenant_id"), ("w", wallet));
            await c.ExecAsync(null,
                "INSERT INTO outbox_events (tenant_id, id, event_type, wallet_id, sequence, payload, created_at) VALUES (@t, 'evt_old', 'wallet.updated', NULL, 1, @p, 0)",
                ("t", tenant), ("p", body));
        }
        await Worker.RunOnceAsync();
        Assert.Equal(body, Assert.Single(receiver.Received, w => w.Body.Contains("evt_old")).Body);
    }
}
