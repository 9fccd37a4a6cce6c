// Compatibility tests: the official Flexprice TypeScript SDK (@flexprice/sdk 2.0.1, with the zod 4.x pinned in
// package-lock.json, whose response schemas reject missing keys) used as a real client of a running Coffer.
//
//   COFFER_URL=http://127.0.0.1:5123 COFFER_API_KEY=sk_... npm test
//
// Every test creates its own customers and wallets under random external ids, so tests neither depend on
// each other nor on what the database already holds.

import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  Flexprice,
  SDKError,
  ErrorsErrorsErrorResponse,
  FlexPriceError,
} from "@flexprice/sdk";

const COFFER_URL = (process.env.COFFER_URL ?? "").replace(/\/+$/, "");
const COFFER_API_KEY = process.env.COFFER_API_KEY ?? "";
if (!COFFER_URL || !COFFER_API_KEY) {
  throw new Error("set COFFER_URL (e.g. http://127.0.0.1:5123) and COFFER_API_KEY");
}

const client = (apiKey = COFFER_API_KEY) =>
  new Flexprice({ serverURL: `${COFFER_URL}/v1`, apiKeyAuth: apiKey, timeoutMs: 15_000 });
const fp = client();

const uid = (prefix) => `${prefix}-${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;
const yearAhead = () => {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  d.setUTCHours(0, 0, 0, 0);
  return d.toISOString().replace(".000Z", "Z");
};
const sameInstant = (actual, expected, what) =>
  assert.equal(Date.parse(actual), Date.parse(expected), `${what}: ${actual} is not the instant ${expected}`);

/** Awaits a call that must fail and checks the HTTP status the SDK reports; returns the error. */
async function rejectsWith(promise, statusCode, ...classes) {
  let error;
  try {
    const value = await promise;
    assert.fail(`expected HTTP ${statusCode}, the call succeeded with ${JSON.stringify(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e;
  }
  assert.ok(error instanceof FlexPriceError, `expected an SDK HTTP error, got ${error?.name}: ${error?.message}`);
  assert.equal(error.statusCode, statusCode, `status of ${error.name}: ${error.message}`);
  if (classes.length > 0) {
    assert.ok(classes.some((c) => error instanceof c), `unexpected error class ${error.name}: ${error.message}`);
  }
  return error;
}

async function newCustomer(extra = {}) {
  const externalId = uid("cust");
  const customer = await fp.customers.createCustomer({ externalId, name: `Customer ${externalId}`, ...extra });
  assert.equal(customer.externalId, externalId);
  return customer;
}

/** Coffer's own debit endpoint, not part of the SDK. */
async function debit(walletId, credits, idempotencyKey = uid("debit")) {
  const res = await fetch(`${COFFER_URL}/v1/wallets/${encodeURIComponent(walletId)}/debit`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": COFFER_API_KEY },
    body: JSON.stringify({ credits, idempotency_key: idempotencyKey }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `debit failed: ${JSON.stringify(body)}`);
  return body;
}

async function allTransactions(walletId) {
  const page = await fp.wallets.getWalletTransactions({ idPathParameter: walletId, limit: 100 });
  assert.ok(Array.isArray(page.items), "transactions page has items");
  assert.equal(page.pagination.total, page.items.length);
  return page.items;
}

test("the SDK validates responses with zod >= 4.4 (a missing key fails)", async () => {
  const { version } = JSON.parse(readFileSync(new URL("./node_modules/zod/package.json", import.meta.url), "utf8"));
  const [major, minor] = version.split(".").map(Number);
  assert.ok(major > 4 || (major === 4 && minor >= 4), `zod ${version} treats missing response keys as optional; run npm ci`);
});

test("customers: create, get, get by external id, update, query, delete", async () => {
  const externalId = uid("cust");
  const input = {
    externalId,
    name: "Ada Lovelace",
    email: `${externalId}@example.com`,
    addressLine1: "12 St James's Square",
    addressLine2: "Flat 2",
    addressCity: "London",
    addressState: "Greater London",
    addressPostalCode: "SW1Y 4JH",
    addressCountry: "GB",
    metadata: { plan: "pro", source: "sdk-compat" },
  };
  const created = await fp.customers.createCustomer(input);
  assert.match(created.id, /\S+/);
  for (const [key, value] of Object.entries(input)) {
    assert.deepEqual(created[key], value, `created.${key}`);
  }
  assert.equal(created.status, "published");
  assert.ok(!Number.isNaN(Date.parse(created.createdAt)), "createdAt is a date-time");
  assert.ok(!Number.isNaN(Date.parse(created.updatedAt)), "updatedAt is a date-time");

  const byId = await fp.customers.getCustomer(created.id);
  assert.deepEqual(byId, created);
  const byExternal = await fp.customers.getCustomerByExternalId(externalId);
  assert.deepEqual(byExternal, created);

  const updated = await fp.customers.updateCustomer(
    { name: "Augusta Ada King", addressCity: "Ockham", metadata: { plan: "enterprise" } },
    created.id,
  );
  assert.equal(updated.id, created.id);
  assert.equal(updated.name, "Augusta Ada King");
  assert.equal(updated.addressCity, "Ockham");
  assert.deepEqual(updated.metadata, { plan: "enterprise" });
  // Fields the update did not name are kept.
  assert.equal(updated.externalId, externalId);
  assert.equal(updated.email, input.email);
  assert.equal(updated.addressLine1, input.addressLine1);
  assert.equal(updated.addressCountry, "GB");
  assert.deepEqual(await fp.customers.getCustomer(created.id), updated);

  // Update through the external id query parameter as well.
  const viaExternal = await fp.customers.updateCustomer({ email: `new-${externalId}@example.com` }, undefined, externalId);
  assert.equal(viaExternal.id, created.id);
  assert.equal(viaExternal.email, `new-${externalId}@example.com`);
  assert.equal(viaExternal.name, "Augusta Ada King");

  const found = await fp.customers.queryCustomer({ externalId });
  assert.equal(found.pagination.total, 1);
  assert.equal(found.items.length, 1);
  assert.equal(found.items[0].id, created.id);
  assert.equal(found.items[0].name, "Augusta Ada King");

  const byFilter = await fp.customers.queryCustomer({
    filters: [{ field: "external_id", operator: "eq", dataType: "string", value: { string: externalId } }],
    limit: 10,
  });
  assert.equal(byFilter.pagination.total, 1);
  assert.equal(byFilter.pagination.limit, 10);
  assert.equal(byFilter.pagination.offset, 0);
  assert.deepEqual(byFilter.items.map((c) => c.id), [created.id]);

  const none = await fp.customers.queryCustomer({ externalId: uid("nobody") });
  assert.equal(none.pagination.total, 0);
  assert.equal((none.items ?? []).length, 0);

  await fp.customers.deleteCustomer(created.id);

  // getCustomer does not declare 404 in the SDK, so it surfaces as an SDKError carrying the status;
  // getCustomerByExternalId declares it and parses Coffer's error envelope.
  await rejectsWith(fp.customers.getCustomer(created.id), 404, SDKError, ErrorsErrorsErrorResponse);
  const gone = await rejectsWith(fp.customers.getCustomerByExternalId(externalId), 404, ErrorsErrorsErrorResponse);
  assert.equal(gone.success, false);
  assert.equal(gone.error?.message, "customer not found");
  assert.equal(gone.message, "customer not found");
  const afterDelete = await fp.customers.queryCustomer({ externalId });
  assert.equal(afterDelete.pagination.total, 0);
});

test("wallet with initial credits and expiry", async () => {
  const customer = await newCustomer();
  const expiry = yearAhead();
  const wallet = await fp.wallets.createWallet({
    customerId: customer.id,
    currency: "usd",
    conversionRate: "2",
    initialCreditsToLoad: "100",
    initialCreditsExpiryDateUtc: expiry,
    description: "prepaid credits",
    metadata: { team: "billing" },
  });
  assert.match(wallet.id, /\S+/);
  assert.equal(wallet.customerId, customer.id);
  assert.equal(wallet.currency, "usd");
  assert.equal(wallet.creditBalance, "100");
  assert.equal(wallet.balance, "200");
  assert.equal(wallet.conversionRate, "2");
  assert.equal(wallet.topupConversionRate, "2", "topup_conversion_rate defaults to conversion_rate");
  assert.equal(wallet.walletStatus, "active");
  assert.equal(wallet.walletType, "PRE_PAID");
  assert.equal(wallet.status, "published");
  assert.equal(wallet.description, "prepaid credits");
  assert.deepEqual(wallet.metadata, { team: "billing" });

  const fetched = await fp.wallets.getWallet(wallet.id);
  assert.equal(fetched.id, wallet.id);
  assert.equal(fetched.creditBalance, "100");
  assert.equal(fetched.balance, "200");
  assert.equal(fetched.walletStatus, "active");

  const txs = await allTransactions(wallet.id);
  assert.equal(txs.length, 1);
  const [grant] = txs;
  assert.equal(grant.walletId, wallet.id);
  assert.equal(grant.customerId, customer.id);
  assert.equal(grant.type, "credit");
  assert.equal(grant.transactionReason, "FREE_CREDIT_GRANT");
  assert.equal(grant.transactionStatus, "completed");
  assert.equal(grant.creditAmount, "100");
  assert.equal(grant.amount, "200");
  assert.equal(grant.creditBalanceBefore, "0");
  assert.equal(grant.creditBalanceAfter, "100");
  assert.equal(grant.creditsAvailable, "100");
  assert.equal(grant.currency, "usd");
  sameInstant(grant.expiryDate, expiry, "expiryDate of the initial grant");

  // The same grant through the query-string filters of the list endpoint.
  const credits = await fp.wallets.getWalletTransactions({
    idPathParameter: wallet.id,
    type: "credit",
    transactionReason: "FREE_CREDIT_GRANT",
  });
  assert.equal(credits.pagination.total, 1);
  assert.equal(credits.items[0].id, grant.id);
  const debits = await fp.wallets.getWalletTransactions({ idPathParameter: wallet.id, type: "debit" });
  assert.equal(debits.pagination.total, 0);

  // The `id` query parameter filters by transaction id; it is not the wallet id of the path.
  const one = await fp.wallets.getWalletTransactions({ idPathParameter: wallet.id, idQueryParameter: grant.id });
  assert.deepEqual(one.items.map((t) => t.id), [grant.id]);
  const noneWithId = await fp.wallets.getWalletTransactions({ idPathParameter: wallet.id, idQueryParameter: uid("wtx") });
  assert.equal(noneWithId.pagination.total, 0);
});

test("top-ups: free grant, purchase by amount, idempotent replay, key reuse conflict", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({
    customerId: customer.id,
    currency: "eur",
    conversionRate: "2",
    topupConversionRate: "0.5",
  });
  assert.equal(wallet.creditBalance, "0");
  assert.equal(wallet.balance, "0");
  assert.equal(wallet.topupConversionRate, "0.5");
  const expiry = yearAhead();
  const free = await fp.wallets.topUpWallet(wallet.id, {
    transactionReason: "FREE_CREDIT_GRANT",
    creditsToAdd: "10",
    expiryDateUtc: expiry,
    priority: 1,
    description: "welcome credits",
    metadata: { campaign: "spring" },
  });
  assert.equal(free.invoiceId, undefined, "invoice_id is null for a direct top-up");
  assert.equal(free.wallet.id, wallet.id);
  assert.equal(free.wallet.creditBalance, "10");
  assert.equal(free.wallet.balance, "20");
  const ft = free.walletTransaction;
  assert.equal(ft.walletId, wallet.id);
  assert.equal(ft.type, "credit");
  assert.equal(ft.transactionReason, "FREE_CREDIT_GRANT");
  assert.equal(ft.creditAmount, "10");
  assert.equal(ft.creditBalanceBefore, "0");
  assert.equal(ft.creditBalanceAfter, "10");
  assert.equal(ft.creditsAvailable, "10");
  assert.equal(ft.priority, 1);
  assert.equal(ft.description, "welcome credits");
  assert.deepEqual(ft.metadata, { campaign: "spring" });
  sameInstant(ft.expiryDate, expiry, "expiryDate of the free grant");

  const idempotencyKey = uid("idem");
  const purchase = { transactionReason: "PURCHASED_CREDIT_DIRECT", amount: "7.5", idempotencyKey };
  const bought = await fp.wallets.topUpWallet(wallet.id, purchase);
  const bt = bought.walletTransaction;
  assert.equal(bt.type, "credit");
  assert.equal(bt.transactionReason, "PURCHASED_CREDIT_DIRECT");
  assert.equal(bt.creditAmount, "15", "credits = amount / topup_conversion_rate = 7.5 / 0.5");
  assert.equal(bt.amount, "7.5");
  assert.equal(bt.creditBalanceBefore, "10");
  assert.equal(bt.creditBalanceAfter, "25");
  assert.equal(bt.idempotencyKey, idempotencyKey);
  assert.equal(bought.wallet.creditBalance, "25");
  assert.equal(bought.wallet.balance, "50", "balance = credits * conversion_rate");

  // credits_to_add wins over amount.
  const both = await fp.wallets.topUpWallet(wallet.id, {
    transactionReason: "PURCHASED_CREDIT_DIRECT",
    creditsToAdd: "3",
    amount: "1000",
  });
  assert.equal(both.walletTransaction.creditAmount, "3");
  assert.equal(both.walletTransaction.creditBalanceBefore, "25");
  assert.equal(both.walletTransaction.creditBalanceAfter, "28");
  assert.equal(both.wallet.creditBalance, "28");

  const replay = await fp.wallets.topUpWallet(wallet.id, purchase);
  assert.equal(replay.walletTransaction.id, bt.id, "same key and body replays the first transaction");
  assert.equal(replay.walletTransaction.creditAmount, "15");
  assert.equal(replay.walletTransaction.creditBalanceAfter, "25");
  const afterReplay = await fp.wallets.getWallet(wallet.id);
  assert.equal(afterReplay.creditBalance, "28", "a replay does not credit again");

  const conflict = await rejectsWith(
    fp.wallets.topUpWallet(wallet.id, { ...purchase, amount: "8" }),
    409,
    SDKError,
  );
  assert.match(conflict.body, /idempotency/i);
  assert.equal((await fp.wallets.getWallet(wallet.id)).creditBalance, "28");

  // The ledger holds exactly the three top-ups: no initial grant for initialCreditsToLoad "0", none for the replay.
  const txs = await allTransactions(wallet.id);
  assert.deepEqual(txs.map((t) => t.id).sort(), [ft.id, bt.id, both.walletTransaction.id].sort());
});

test("real-time balance with the free/purchased breakdown", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({
    customerId: customer.id,
    currency: "usd",
    conversionRate: "2",
    topupConversionRate: "0.5",
    initialCreditsToLoad: "20",
  });
  await fp.wallets.topUpWallet(wallet.id, { transactionReason: "FREE_CREDIT_GRANT", creditsToAdd: "10" });
  await fp.wallets.topUpWallet(wallet.id, { transactionReason: "PURCHASED_CREDIT_DIRECT", amount: "7.5" });

  const balance = await fp.wallets.getWalletBalance(wallet.id, "credits_available_breakdown");
  assert.equal(balance.id, wallet.id);
  assert.equal(balance.customerId, customer.id);
  assert.equal(balance.currency, "usd");
  assert.equal(balance.walletStatus, "active");
  assert.equal(balance.creditBalance, "45");
  assert.equal(balance.balance, "90");
  assert.equal(balance.realTimeCreditBalance, "45");
  assert.equal(balance.realTimeBalance, "90");
  assert.deepEqual(balance.creditsAvailableBreakdown, { free: "30", purchased: "15" });
  assert.ok(!Number.isNaN(Date.parse(balance.balanceUpdatedAt)), "balanceUpdatedAt is a date-time");

  const expanded = await fp.wallets.getWallet(wallet.id);
  assert.equal(expanded.creditBalance, "45");
});

test("update wallet, list a customer's wallets", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({ customerId: customer.id, currency: "usd", initialCreditsToLoad: "5" });
  const updated = await fp.wallets.updateWallet(wallet.id, {
    name: "Main wallet",
    description: "for API usage",
    metadata: { cost_center: "42", owner: "ops" },
  });
  assert.equal(updated.id, wallet.id);
  assert.equal(updated.name, "Main wallet");
  assert.equal(updated.description, "for API usage");
  assert.deepEqual(updated.metadata, { cost_center: "42", owner: "ops" });
  assert.equal(updated.creditBalance, "5", "an update does not touch the balance");

  const fetched = await fp.wallets.getWallet(wallet.id);
  assert.equal(fetched.name, "Main wallet");
  assert.equal(fetched.description, "for API usage");
  assert.deepEqual(fetched.metadata, { cost_center: "42", owner: "ops" });

  const second = await fp.wallets.createWallet({ customerId: customer.id, currency: "gbp" });

  const byId = await fp.wallets.getWalletsByCustomerId(customer.id);
  assert.ok(Array.isArray(byId));
  assert.deepEqual(byId.map((w) => w.id).sort(), [wallet.id, second.id].sort());
  const main = byId.find((w) => w.id === wallet.id);
  assert.equal(main.name, "Main wallet");
  assert.equal(main.creditBalance, "5");

  const byLookup = await fp.wallets.getCustomerWallets({ lookupKey: customer.externalId });
  assert.ok(Array.isArray(byLookup));
  assert.deepEqual(byLookup.map((w) => w.id).sort(), [wallet.id, second.id].sort());
  assert.equal(byLookup.find((w) => w.id === second.id).currency, "gbp");

  const byCustomerIdQuery = await fp.wallets.getCustomerWallets({ id: customer.id, includeRealTimeBalance: true });
  assert.equal(byCustomerIdQuery.length, 2);

  const lonely = await newCustomer();
  assert.deepEqual(await fp.wallets.getWalletsByCustomerId(lonely.id), []);
});

test("query wallets and wallet transactions", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({ customerId: customer.id, currency: "usd", initialCreditsToLoad: "30" });
  await fp.wallets.topUpWallet(wallet.id, { transactionReason: "PURCHASED_CREDIT_DIRECT", creditsToAdd: "12" });
  const other = await fp.wallets.createWallet({ customerId: customer.id, currency: "cad" });

  const wallets = await fp.wallets.queryWallet({ walletIds: [wallet.id, other.id], limit: 10 });
  assert.equal(wallets.pagination.total, 2);
  assert.equal(wallets.pagination.limit, 10);
  assert.equal(wallets.pagination.offset, 0);
  assert.deepEqual(wallets.items.map((w) => w.id).sort(), [wallet.id, other.id].sort());
  assert.equal(wallets.items.find((w) => w.id === wallet.id).creditBalance, "42");

  const paged = await fp.wallets.queryWallet({ walletIds: [wallet.id, other.id], limit: 1, offset: 1, sort: "created_at", order: "asc" });
  assert.equal(paged.pagination.total, 2);
  assert.deepEqual(paged.items.map((w) => w.id), [other.id]);

  const active = await fp.wallets.queryWallet({ walletIds: [wallet.id], status: "active" });
  assert.equal(active.pagination.total, 1);
  const closed = await fp.wallets.queryWallet({ walletIds: [wallet.id], status: "closed" });
  assert.equal(closed.pagination.total, 0);

  const txs = await fp.wallets.queryWalletTransaction({
    filters: [{ field: "wallet_id", operator: "eq", dataType: "string", value: { string: wallet.id } }],
  });
  assert.equal(txs.pagination.total, 2);
  assert.equal(txs.items.length, 2);
  assert.ok(txs.items.every((t) => t.walletId === wallet.id && t.customerId === customer.id));
  assert.deepEqual(txs.items.map((t) => t.transactionReason).sort(), ["FREE_CREDIT_GRANT", "PURCHASED_CREDIT_DIRECT"]);
  assert.deepEqual(txs.items.map((t) => t.creditAmount).sort(), ["12", "30"]);

  const purchased = await fp.wallets.queryWalletTransaction({
    filters: [{ field: "wallet_id", operator: "eq", dataType: "string", value: { string: wallet.id } }],
    transactionReason: "PURCHASED_CREDIT_DIRECT",
    limit: 5,
  });
  assert.equal(purchased.pagination.total, 1);
  assert.equal(purchased.pagination.limit, 5);
  assert.equal(purchased.items[0].creditAmount, "12");
  assert.equal(purchased.items[0].creditBalanceBefore, "30");
  assert.equal(purchased.items[0].creditBalanceAfter, "42");

  const oldestFirst = await fp.wallets.queryWalletTransaction({
    filters: [{ field: "wallet_id", operator: "eq", dataType: "string", value: { string: wallet.id } }],
    sort: [{ field: "created_at", direction: "asc" }],
    limit: 1,
  });
  assert.equal(oldestFirst.pagination.total, 2);
  assert.equal(oldestFirst.items[0].transactionReason, "FREE_CREDIT_GRANT");
});

test("search results carry the same transaction fields as the wallet's transaction list", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({
    customerId: customer.id,
    currency: "usd",
    conversionRate: "2",
    initialCreditsToLoad: "8",
  });
  const searched = await fp.wallets.queryWalletTransaction({
    filters: [{ field: "wallet_id", operator: "eq", dataType: "string", value: { string: wallet.id } }],
  });
  assert.equal(searched.pagination.total, 1);
  const [found] = searched.items;
  assert.equal(found.creditAmount, "8");
  assert.equal(found.currency, "usd", "currency of a transaction found through /wallets/transactions/search");
  assert.equal(found.conversionRate, "2", "conversion_rate of a transaction found through /wallets/transactions/search");
  assert.equal(found.topupConversionRate, "2", "topup_conversion_rate of a transaction found through /wallets/transactions/search");

  const [listed] = await allTransactions(wallet.id);
  assert.equal(listed.id, found.id);
  assert.equal(listed.currency, "usd");
  assert.equal(listed.conversionRate, "2");
  assert.equal(listed.topupConversionRate, "2");
});

test("Coffer's debit endpoint shows in the SDK's transaction list", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({ customerId: customer.id, currency: "usd", initialCreditsToLoad: "20" });
  const key = uid("debit");
  const result = await debit(wallet.id, "6", key);
  assert.equal(result.wallet.credit_balance, "14");
  assert.equal(result.wallet_transaction.type, "debit");

  const replay = await debit(wallet.id, "6", key);
  assert.equal(replay.wallet_transaction.id, result.wallet_transaction.id);

  const w = await fp.wallets.getWallet(wallet.id);
  assert.equal(w.creditBalance, "14");
  const balance = await fp.wallets.getWalletBalance(wallet.id, "credits_available_breakdown");
  assert.deepEqual(balance.creditsAvailableBreakdown, { free: "14", purchased: "0" });

  const debits = await fp.wallets.getWalletTransactions({ idPathParameter: wallet.id, type: "debit" });
  assert.equal(debits.pagination.total, 1);
  const [d] = debits.items;
  assert.equal(d.id, result.wallet_transaction.id);
  assert.equal(d.type, "debit");
  assert.equal(d.transactionReason, "MANUAL_BALANCE_DEBIT");
  assert.equal(d.creditAmount, "6");
  assert.equal(d.creditBalanceBefore, "20");
  assert.equal(d.creditBalanceAfter, "14");
  assert.equal(d.idempotencyKey, key);
  const grant = (await allTransactions(wallet.id)).find((t) => t.type === "credit");
  assert.equal(grant.creditsAvailable, "14", "the debit consumed the grant's credits");
});

test("terminate a wallet", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({ customerId: customer.id, currency: "usd", initialCreditsToLoad: "50" });
  await fp.wallets.topUpWallet(wallet.id, { transactionReason: "PURCHASED_CREDIT_DIRECT", creditsToAdd: "25" });

  const closed = await fp.wallets.terminateWallet(wallet.id);
  assert.equal(closed.id, wallet.id);
  assert.equal(closed.walletStatus, "closed");
  assert.equal(closed.creditBalance, "0");
  assert.equal(closed.balance, "0");

  const again = await fp.wallets.terminateWallet(wallet.id);
  assert.equal(again.walletStatus, "closed");
  assert.equal(again.creditBalance, "0");

  const refused = await rejectsWith(
    fp.wallets.topUpWallet(wallet.id, { transactionReason: "FREE_CREDIT_GRANT", creditsToAdd: "1" }),
    422,
  );
  assert.match(refused.body ?? refused.message, /closed/);
  assert.equal((await fp.wallets.getWallet(wallet.id)).creditBalance, "0");

  const balance = await fp.wallets.getWalletBalance(wallet.id);
  assert.equal(balance.walletStatus, "closed");
  assert.equal(balance.realTimeCreditBalance, "0");

  // With its only wallet closed, the customer can be deleted.
  await fp.customers.deleteCustomer(customer.id);
  await rejectsWith(fp.customers.getCustomerByExternalId(customer.externalId), 404, ErrorsErrorsErrorResponse);

  const searched = await fp.wallets.queryWalletTransaction({
    filters: [{ field: "wallet_id", operator: "eq", dataType: "string", value: { string: wallet.id } }],
    transactionReason: "WALLET_TERMINATION",
  });
  assert.equal(searched.pagination.total, 1);
  assert.equal(searched.items[0].type, "debit");
  assert.equal(searched.items[0].creditAmount, "75");
  assert.equal(searched.items[0].creditBalanceBefore, "75");
  assert.equal(searched.items[0].creditBalanceAfter, "0");

  // The ledger: the grant, the purchase and one WALLET_TERMINATION debit of the 75 credits left; the second
  // terminate posted nothing.
  const txs = await allTransactions(wallet.id);
  const terminations = txs.filter((t) => t.transactionReason === "WALLET_TERMINATION");
  assert.equal(terminations.length, 1);
  const [t] = terminations;
  assert.equal(t.type, "debit");
  assert.equal(t.creditAmount, "75");
  assert.equal(t.creditBalanceBefore, "75");
  assert.equal(t.creditBalanceAfter, "0");
  assert.ok(txs.filter((x) => x.type === "credit").every((x) => x.creditsAvailable === "0"), "no credits left on any lot");

  assert.equal(txs.length, 3, "terminating twice posts nothing");
});

test("API keys: create, use, list, delete", async () => {
  const name = uid("key");
  const created = await fp.secrets.createApiKey({ name, type: "private_key" });
  assert.equal(typeof created.apiKey, "string");
  assert.ok(created.apiKey.length >= 20, "the plaintext key is returned once");
  const secret = created.secret;
  assert.match(secret.id, /\S+/);
  assert.equal(secret.name, name);
  assert.equal(secret.type, "private_key");
  assert.equal(secret.status, "published");
  assert.match(secret.displayId, /\S+/);
  assert.ok(secret.displayId.startsWith(created.apiKey.slice(0, 6)), `displayId ${secret.displayId} shows the key's start`);
  assert.ok(secret.displayId.endsWith(created.apiKey.slice(-4)), `displayId ${secret.displayId} shows the key's end`);
  assert.ok(!secret.displayId.includes(created.apiKey), "displayId does not reveal the key");

  const customer = await newCustomer();
  const other = client(created.apiKey);
  const seen = await other.customers.queryCustomer({ externalId: customer.externalId });
  assert.equal(seen.pagination.total, 1, "the new key acts for the same tenant");
  assert.equal(seen.items[0].id, customer.id);

  const listed = await fp.secrets.listApiKeys(1000, 0);
  const mine = listed.items.find((k) => k.id === secret.id);
  assert.ok(mine, "listApiKeys includes the new key");
  assert.equal(mine.name, name);
  assert.equal(mine.displayId, secret.displayId);
  assert.ok(listed.pagination.total >= 1);
  assert.ok(!JSON.stringify(listed).includes(created.apiKey), "the list never shows a plaintext key");

  await fp.secrets.deleteApiKey(secret.id);

  const deadline = Date.now() + 12_000;
  let last;
  for (;;) {
    try {
      await other.customers.queryCustomer({ externalId: customer.externalId });
      last = "the call still succeeded";
    } catch (e) {
      if (e instanceof SDKError && e.statusCode === 401) break;
      throw e;
    }
    if (Date.now() > deadline) assert.fail(`the deleted key still works after 12 s: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = await fp.secrets.listApiKeys(1000, 0);
  assert.ok(!after.items.some((k) => k.id === secret.id), "a deleted key is no longer listed");
  await rejectsWith(fp.secrets.deleteApiKey(secret.id), 404, ErrorsErrorsErrorResponse);
});

test("bad requests surface as 400 with the server's message", async () => {
  const customer = await newCustomer();
  const bad = await rejectsWith(
    fp.wallets.createWallet({ customerId: customer.id, currency: "XXX" }),
    400,
    ErrorsErrorsErrorResponse,
  );
  assert.equal(bad.success, false);
  assert.match(bad.message, /currency/);
  assert.match(bad.message, /XXX/);
  assert.equal(bad.error.message, bad.message);

  const noAmount = await rejectsWith(
    fp.wallets.createWallet({ customerId: customer.id, currency: "usd", initialCreditsToLoad: "-5" }),
    400,
    ErrorsErrorsErrorResponse,
  );
  assert.match(noAmount.message, /initial_credits_to_load/);

  const wallet = await fp.wallets.createWallet({ customerId: customer.id, currency: "usd" });
  const noCredits = await rejectsWith(
    fp.wallets.topUpWallet(wallet.id, { transactionReason: "FREE_CREDIT_GRANT" }),
    400,
    ErrorsErrorsErrorResponse,
  );
  assert.match(noCredits.message, /credits_to_add or amount is required/);

  const missing = await rejectsWith(fp.wallets.getWallet(uid("wallet")), 404, ErrorsErrorsErrorResponse);
  assert.equal(missing.message, "wallet not found");

  const unauthenticated = await rejectsWith(client("sk_not_a_key").wallets.getWallet(wallet.id), 401, SDKError);
  assert.match(unauthenticated.body, /invalid API key/);
});
