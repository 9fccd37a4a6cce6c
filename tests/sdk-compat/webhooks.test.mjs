// Webhook compatibility: Coffer's real deliveries, received by a local HTTP server and checked with an
// independent Standard Webhooks implementation (the `standardwebhooks` npm package, pinned in package.json).
//
//   COFFER_URL=http://127.0.0.1:5123 COFFER_API_KEY=sk_... npm test
//
// Coffer must run its webhook worker (the default) and poll often (COFFER_WEBHOOK_POLL_MS=100 in test.sh).
// The endpoint this file registers is deleted at the end; it receives only wallet.* events, and the checks
// look only at the events of the wallet this file creates (other test files may run at the same time).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const COFFER_URL = (process.env.COFFER_URL ?? "").replace(/\/+$/, "");
const COFFER_API_KEY = process.env.COFFER_API_KEY ?? "";
if (!COFFER_URL || !COFFER_API_KEY) {
  throw new Error("set COFFER_URL (e.g. http://127.0.0.1:5123) and COFFER_API_KEY");
}

const WAIT_MS = 10_000;
const uid = (prefix) => `${prefix}-${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Coffer call with plain fetch; checks the status and returns the parsed body (null for 204). */
async function api(method, path, body, expectStatus) {
  const res = await fetch(`${COFFER_URL}${path}`, {
    method,
    headers: { "x-api-key": COFFER_API_KEY, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text === "" ? null : JSON.parse(text);
  if (expectStatus !== undefined) {
    assert.equal(res.status, expectStatus, `${method} ${path}: HTTP ${res.status} ${text}`);
  }
  return parsed;
}

// ---- the receiver: records every request's headers and raw body, answers 200 ----

/** @type {{ method: string, url: string, headers: Record<string, string>, raw: Buffer, at: number }[]} */
const received = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    received.push({ method: req.method, url: req.url, headers: { ...req.headers }, raw: Buffer.concat(chunks), at: Date.now() });
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
});

let endpoint; // as created: { id, url, secret, ... }
let firstSecret;
let rotatedSecret;
let wallet;

/** The envelope of a request, parsed without verification (only to pick requests out; every test verifies). */
const envelope = (r) => JSON.parse(r.raw.toString("utf8"));
const forWallet = () => received.filter((r) => envelope(r).wallet_id === wallet.id);

/** Polls until `pick()` returns a truthy value, for up to WAIT_MS; fails with `what` and what arrived. */
async function waitFor(what, pick) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = pick();
    if (value) return value;
    if (Date.now() > deadline) {
      const seen = forWallet().map((r) => `${envelope(r).sequence}:${envelope(r).event_type}`);
      assert.fail(`timed out after ${WAIT_MS} ms waiting for ${what}; this wallet's deliveries so far: [${seen.join(", ")}]`);
    }
    await sleep(50);
  }
}

/** This wallet's deliveries whose sequences are exactly 1..n (each once, as no redelivery happens on 200), or null. */
function walletEvents(n) {
  const mine = forWallet();
  const sequences = new Set(mine.map((r) => envelope(r).sequence));
  for (let s = 1; s <= n; s++) if (!sequences.has(s)) return null;
  return mine;
}

/**
 * The endpoint's deliveries of one event, once there are `n` and none is pending any more: the receiver
 * sees a request before the worker records the attempt's outcome, so the list is polled.
 */
async function settledDeliveries(eventId, n) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const page = await api("GET", `/v1/webhooks/deliveries?endpoint_id=${endpoint.id}&event_id=${encodeURIComponent(eventId)}`, undefined, 200);
    assert.equal(page.pagination.total, page.items.length);
    if (page.items.length === n && page.items.every((d) => d.status !== "pending")) return page.items;
    assert.ok(page.items.length <= n, `at most ${n} deliveries of ${eventId}: ${JSON.stringify(page.items)}`);
    if (Date.now() > deadline) assert.fail(`deliveries of ${eventId} not settled after ${WAIT_MS} ms: ${JSON.stringify(page.items)}`);
    await sleep(50);
  }
}

function assertVerifies(secret, r, what) {
  let payload;
  assert.doesNotThrow(() => {
    payload = new Webhook(secret).verify(r.raw, r.headers);
  }, `${what}: ${r.headers["webhook-id"]} (${envelope(r).event_type}) does not verify; webhook-signature: ${r.headers["webhook-signature"]}`);
  assert.deepEqual(payload, envelope(r), `${what}: verify returns the payload`);
  return payload;
}

function assertRejects(secret, raw, headers, what) {
  assert.throws(() => new Webhook(secret).verify(raw, headers), WebhookVerificationError, what);
}

before(async () => {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  endpoint = await api(
    "POST",
    "/v1/webhooks/endpoints",
    { url: `http://127.0.0.1:${port}/hooks/${uid("rcv")}`, description: "sdk-compat standardwebhooks receiver", event_types: ["wallet.*"] },
    201,
  );
  assert.match(endpoint.id, /\S+/);
  assert.match(endpoint.secret ?? "", /^whsec_[A-Za-z0-9+/]+={0,2}$/, "the secret is whsec_ + base64, shown on creation");
  assert.deepEqual(endpoint.event_types, ["wallet.*"]);
  assert.equal(endpoint.enabled, true);
  firstSecret = endpoint.secret;
  // Shown once: reading the endpoint back does not reveal it.
  const fetched = await api("GET", `/v1/webhooks/endpoints/${endpoint.id}`, undefined, 200);
  assert.equal(fetched.secret ?? null, null, "GET does not reveal the secret");
});

after(async () => {
  try {
    if (endpoint) {
      await api("DELETE", `/v1/webhooks/endpoints/${endpoint.id}`, undefined, 204);
      await api("GET", `/v1/webhooks/endpoints/${endpoint.id}`, undefined, 404);
    }
  } finally {
    // Let a delivery in flight get its answer (a reset would be logged as a failed attempt), then stop.
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 2_000);
    await closed;
    clearTimeout(force);
  }
});

test("webhooks: a wallet's deliveries verify with standardwebhooks, in per-wallet sequence", async () => {
  const externalId = uid("wh-cust");
  const customer = await api("POST", "/v1/customers", { external_id: externalId, name: `Webhook ${externalId}` }, 201);
  assert.equal(customer.external_id, externalId);
  wallet = await api("POST", "/v1/wallets", { customer_id: customer.id, currency: "usd", initial_credits_to_load: "40" }, 200);
  assert.equal(wallet.credit_balance, "40");
  const topUp = await api(
    "POST",
    `/v1/wallets/${wallet.id}/top-up`,
    { transaction_reason: "FREE_CREDIT_GRANT", credits_to_add: "15", idempotency_key: uid("wh-topup") },
    200,
  );
  assert.equal(topUp.wallet.credit_balance, "55");

  // created (1), the initial credit's transaction (2) and topped_up (3); the top-up's transaction (4) and topped_up (5).
  const mine = await waitFor("5 events of the new wallet", () => walletEvents(5));
  assert.equal(mine.length, 5, `exactly one delivery per event: ${mine.map((r) => envelope(r).event_type).join(", ")}`);

  const events = [];
  for (const r of mine) {
    assert.equal(r.method, "POST");
    assert.match(r.headers["content-type"] ?? "", /^application\/json/);
    assert.match(r.headers["webhook-id"] ?? "", /\S+/, "webhook-id header");
    assert.match(r.headers["webhook-timestamp"] ?? "", /^\d+$/, "webhook-timestamp is integer unix seconds");
    assert.ok(Math.abs(Number(r.headers["webhook-timestamp"]) - r.at / 1000) < 60, "webhook-timestamp is now");
    assert.match(r.headers["webhook-signature"] ?? "", /^v1,[A-Za-z0-9+/]+={0,2}$/, "one v1 signature before any rotation");
    const payload = assertVerifies(firstSecret, r, "before rotation");
    assert.equal(payload.id, r.headers["webhook-id"], "webhook-id is the event id");
    assert.equal(payload.wallet_id, wallet.id);
    events.push(payload);
  }

  // Every request the endpoint got is a wallet.* event, and (of any wallet) verifies.
  for (const r of received) {
    assert.match(envelope(r).event_type, /^wallet\./, "event_types [wallet.*] filters out other families");
    assertVerifies(firstSecret, r, "any wallet's delivery");
  }

  // Delivery runs in parallel, so arrival order is not promised; the sequence is how a receiver orders.
  events.sort((a, b) => a.sequence - b.sequence);
  assert.deepEqual(
    events.map((e) => [e.sequence, e.event_type]),
    [
      [1, "wallet.created"],
      [2, "wallet.transaction.created"],
      [3, "wallet.topped_up"],
      [4, "wallet.transaction.created"],
      [5, "wallet.topped_up"],
    ],
  );
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].sequence > events[i - 1].sequence, "sequence increases per wallet");
    assert.ok(Date.parse(events[i].created_at) >= Date.parse(events[i - 1].created_at), "created_at follows the sequence");
  }
  assert.equal(new Set(events.map((e) => e.id)).size, 5, "distinct event ids");
  assert.equal(events[0].data.id, wallet.id);
  assert.equal(events[2].data.credit_balance, "40", "the first wallet.topped_up carries the balance after the initial credits");
  assert.equal(events[1].data.credit_amount, "40", "the initial credits' transaction");
  assert.equal(events[3].data.credit_amount, "15", "the top-up's transaction");
  assert.equal(events[3].data.credit_balance_after, "55");
  assert.equal(events[4].data.credit_balance, "55", "the second wallet.topped_up carries the balance after the top-up");

  // The deliveries are recorded as succeeded with the receiver's 200.
  for (const e of events) {
    const [d] = await settledDeliveries(e.id, 1);
    assert.equal(d.status, "succeeded");
    assert.equal(d.last_status_code, 200);
    assert.equal(d.attempt_count, 1);
    assert.equal(d.event_type, e.event_type);
  }
});

test("webhooks: a tampered body, a changed header or another secret fails verification", () => {
  const r = forWallet().find((x) => envelope(x).event_type === "wallet.topped_up");
  assert.ok(r, "a wallet.topped_up delivery to tamper with");
  assertVerifies(firstSecret, r, "untouched");

  const body = r.raw.toString("utf8");
  const tampered = body.replace(/"credit_balance":"(\d+)"/, (_, n) => `"credit_balance":"${Number(n) + 1000}"`);
  assert.notEqual(tampered, body, "the body was changed");
  assertRejects(firstSecret, Buffer.from(tampered, "utf8"), r.headers, "a tampered body");
  assertRejects(firstSecret, body + " ", r.headers, "a body with a trailing space");
  assertRejects(firstSecret, r.raw, { ...r.headers, "webhook-id": `${r.headers["webhook-id"]}x` }, "another webhook-id");
  assertRejects(firstSecret, r.raw, { ...r.headers, "webhook-timestamp": String(Number(r.headers["webhook-timestamp"]) - 1) },
    "another timestamp");
  assertRejects(`whsec_${randomBytes(24).toString("base64")}`, r.raw, r.headers, "another secret");
  assert.throws(() => new Webhook(firstSecret).verify(r.raw, { "webhook-id": r.headers["webhook-id"] }), WebhookVerificationError,
    "missing headers");
});

test("webhooks: after rotate-secret, new deliveries verify with the new and the old secret", async () => {
  const earlier = forWallet();
  const rotated = await api("POST", `/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`, undefined, 200);
  assert.equal(rotated.id, endpoint.id);
  assert.match(rotated.secret ?? "", /^whsec_[A-Za-z0-9+/]+={0,2}$/, "rotation reveals the new secret");
  assert.notEqual(rotated.secret, firstSecret);
  rotatedSecret = rotated.secret;

  // Deliveries made before the rotation were signed by the old secret alone.
  for (const r of earlier) assertRejects(rotatedSecret, r.raw, r.headers, "a pre-rotation delivery with the new secret");

  await api(
    "POST",
    `/v1/wallets/${wallet.id}/top-up`,
    { transaction_reason: "FREE_CREDIT_GRANT", credits_to_add: "5", idempotency_key: uid("wh-topup") },
    200,
  );
  const mine = await waitFor("the top-up's 2 events after rotation", () => walletEvents(7));
  const fresh = mine.filter((r) => envelope(r).sequence > 5);
  assert.deepEqual(fresh.map((r) => envelope(r).event_type).sort(), ["wallet.topped_up", "wallet.transaction.created"]);
  for (const r of fresh) {
    const signatures = r.headers["webhook-signature"].split(" ");
    assert.equal(signatures.length, 2, `both secrets sign during the overlap: ${r.headers["webhook-signature"]}`);
    for (const s of signatures) assert.match(s, /^v1,[A-Za-z0-9+/]+={0,2}$/);
    assertVerifies(rotatedSecret, r, "after rotation, new secret");
    assertVerifies(firstSecret, r, "after rotation, old secret");
    // Each signature alone verifies with exactly one of the secrets.
    const alone = signatures.map((s) => ({ ...r.headers, "webhook-signature": s }));
    const verifiesWith = (secret, headers) => {
      try {
        new Webhook(secret).verify(r.raw, headers);
        return true;
      } catch {
        return false;
      }
    };
    assert.deepEqual(alone.map((h) => [verifiesWith(rotatedSecret, h), verifiesWith(firstSecret, h)]).sort(), [[false, true], [true, false]]);
  }
  assertRejects(`whsec_${randomBytes(24).toString("base64")}`, fresh[0].raw, fresh[0].headers, "a third secret");
});

test("webhooks: resending an event redelivers it with the same webhook-id, verifiable", async () => {
  const original = forWallet().find((r) => envelope(r).sequence === 1);
  assert.ok(original, "the wallet.created delivery");
  const eventId = original.headers["webhook-id"];
  const count = () => received.filter((r) => r.headers["webhook-id"] === eventId).length;
  assert.equal(count(), 1);

  const queued = await api("POST", `/v1/webhooks/events/${encodeURIComponent(eventId)}/resend`, { endpoint_id: endpoint.id }, 200);
  assert.equal(queued.length, 1, `one delivery queued: ${JSON.stringify(queued)}`);
  assert.equal(queued[0].event_id, eventId);
  assert.equal(queued[0].endpoint_id, endpoint.id);
  assert.equal(queued[0].status, "pending");

  await waitFor(`the re-sent ${eventId}`, () => count() >= 2);
  const copies = received.filter((r) => r.headers["webhook-id"] === eventId);
  assert.equal(copies.length, 2);
  const redelivery = copies[1];
  assert.equal(redelivery.headers["webhook-id"], original.headers["webhook-id"], "same webhook-id, so receivers de-duplicate");
  assert.ok(redelivery.raw.equals(original.raw), "the original payload, byte for byte");
  const payload = assertVerifies(rotatedSecret, redelivery, "re-sent, new secret");
  assertVerifies(firstSecret, redelivery, "re-sent, old secret (still in the overlap)");
  assert.equal(payload.id, eventId);
  assert.equal(payload.event_type, "wallet.created");
  assert.equal(payload.sequence, 1);

  await api("POST", `/v1/webhooks/events/${encodeURIComponent(`evt_${uid("missing")}`)}/resend`, { endpoint_id: endpoint.id }, 404);

  // Both deliveries of the event are on record, succeeded.
  const deliveries = await settledDeliveries(eventId, 2);
  assert.deepEqual(deliveries.map((d) => [d.status, d.last_status_code]), [["succeeded", 200], ["succeeded", 200]]);
});
