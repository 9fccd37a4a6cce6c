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
  // A lot's amount is the money paid for it: free credits are worth nothing (README, "Lot price").
  assert.equal(grant.amount, "0");
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

test("who am I: users.getUserInfo names the API key as a service account, tenants.getTenantById its tenant", async () => {
  const created = await fp.secrets.createApiKey({ name: uid("whoami"), type: "private_key" });
  const me = await client(created.apiKey).users.getUserInfo();
  assert.equal(me.id, created.secret.id, "the user of an API key is the key itself");
  assert.equal(me.type, "service_account");
  assert.equal(me.email, "");
  assert.match(me.tenant.id, /\S+/);
  assert.equal(me.tenant.status, "active");
  assert.ok(!Number.isNaN(Date.parse(me.tenant.createdAt)), `created_at ${me.tenant.createdAt}`);
  assert.ok(me.tenant.billingDetails && me.tenant.billingDetails.email == null, "Coffer keeps no billing details on a tenant");

  const tenant = await fp.tenants.getTenantById(me.tenant.id);
  assert.equal(tenant.id, me.tenant.id);
  assert.equal(tenant.name, me.tenant.name);
  assert.equal((await fp.users.getUserInfo()).tenant.id, tenant.id, "both keys belong to one tenant");
  await rejectsWith(fp.tenants.getTenantById("tenant_nobody"), 404, ErrorsErrorsErrorResponse);
  await fp.secrets.deleteApiKey(created.secret.id);
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

// ---------------------------------------------------------------------------------------------------------------
// Invoices and payments. The tests below rely on the tenant's invoice_config leaving credit purchases pending until
// their invoice is paid (the default); the one test that turns auto-complete on is the last in this file and turns
// it off again. node:test runs the tests of a file one after another, so no other test sees the setting on.

/** Coffer's settings route (not in the SDK). */
async function invoiceConfig(value) {
  const res = await fetch(`${COFFER_URL}/v1/settings/invoice_config`, {
    method: value === undefined ? "GET" : "PUT",
    headers: { "content-type": "application/json", "x-api-key": COFFER_API_KEY },
    body: value === undefined ? undefined : JSON.stringify({ value }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `invoice_config ${value === undefined ? "GET" : "PUT"} failed: ${JSON.stringify(body)}`);
  assert.equal(body.key, "invoice_config");
  return body.value;
}

/** A usd wallet whose purchased credits cost 0.5 each; its customer. */
async function halfPriceWallet() {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({ customerId: customer.id, currency: "usd", topupConversionRate: "0.5" });
  assert.equal(wallet.conversionRate, "1");
  assert.equal(wallet.topupConversionRate, "0.5");
  assert.equal(wallet.creditBalance, "0");
  return { customer, wallet };
}

/** PURCHASED_CREDIT_INVOICED top-up of `credits`; checks the response and returns it. */
async function invoicedTopUp(wallet, credits, extra = {}) {
  const res = await fp.wallets.topUpWallet(wallet.id, {
    transactionReason: "PURCHASED_CREDIT_INVOICED",
    creditsToAdd: credits,
    ...extra,
  });
  assert.match(res.invoiceId ?? "", /\S+/, "a PURCHASED_CREDIT_INVOICED top-up returns its invoice_id");
  assert.equal(res.wallet.id, wallet.id);
  const t = res.walletTransaction;
  assert.equal(t.walletId, wallet.id);
  assert.equal(t.type, "credit");
  assert.equal(t.transactionReason, "PURCHASED_CREDIT_INVOICED");
  assert.equal(t.creditAmount, credits);
  return res;
}

async function transactionStatus(walletId, transactionId) {
  const page = await fp.wallets.getWalletTransactions({ idPathParameter: walletId, idQueryParameter: transactionId });
  assert.equal(page.pagination.total, 1, `transaction ${transactionId} is listed once`);
  return page.items[0].transactionStatus;
}

async function readAll(stream) {
  return Buffer.from(await new Response(stream).arrayBuffer());
}

test("invoiced top-up: pending until the invoice is paid through updateInvoicePaymentStatus", async () => {
  assert.equal((await invoiceConfig()).auto_complete_purchased_credit_transaction, false,
    "invoice_config.auto_complete_purchased_credit_transaction is on; an earlier run did not turn it off");
  const { customer, wallet } = await halfPriceWallet();
  const topUp = await invoicedTopUp(wallet, "100");
  const tx = topUp.walletTransaction;
  assert.equal(tx.transactionStatus, "pending");
  assert.equal(topUp.wallet.creditBalance, "0", "pending credits are not in the balance");
  assert.equal(topUp.wallet.balance, "0");

  const before = await fp.wallets.getWalletBalance(wallet.id);
  assert.equal(before.creditBalance, "0");
  assert.equal(before.realTimeCreditBalance, "0");
  assert.equal(before.balance, "0");

  const invoice = await fp.invoices.getInvoice(topUp.invoiceId);
  assert.equal(invoice.id, topUp.invoiceId);
  assert.equal(invoice.customerId, customer.id);
  assert.equal(invoice.currency, "usd");
  assert.equal(invoice.invoiceType, "CREDIT");
  assert.equal(invoice.invoiceStatus, "FINALIZED");
  assert.equal(invoice.paymentStatus, "PENDING");
  assert.equal(invoice.amountDue, "50", "100 credits at a top-up rate of 0.5");
  assert.equal(invoice.amountPaid, "0");
  assert.equal(invoice.amountRemaining, "50");
  assert.equal(invoice.subtotal, "50");
  assert.equal(invoice.total, "50");
  assert.match(invoice.invoiceNumber ?? "", /^INV-/);
  assert.ok(!Number.isNaN(Date.parse(invoice.finalizedAt)), "finalizedAt is a date-time");
  assert.equal(invoice.paidAt, undefined, "paid_at is null while unpaid");
  assert.equal(invoice.metadata?.wallet_transaction_id, tx.id, "the invoice points at the pending transaction");
  assert.equal(invoice.lineItems.length, 1);
  const [line] = invoice.lineItems;
  assert.equal(line.invoiceId, invoice.id);
  assert.equal(line.amount, "50");
  assert.equal(line.quantity, "1");
  assert.equal(line.currency, "usd");

  const paid = await fp.invoices.updateInvoicePaymentStatus(invoice.id, { paymentStatus: "SUCCEEDED" });
  assert.equal(paid.id, invoice.id);
  assert.equal(paid.paymentStatus, "SUCCEEDED");
  assert.equal(paid.invoiceStatus, "FINALIZED");
  assert.equal(paid.amountDue, "50");
  assert.equal(paid.amountPaid, "50");
  assert.equal(paid.amountRemaining, "0");
  assert.ok(!Number.isNaN(Date.parse(paid.paidAt)), "paidAt is set once paid");

  const after = await fp.wallets.getWalletBalance(wallet.id, "credits_available_breakdown");
  assert.equal(after.creditBalance, "100");
  assert.equal(after.balance, "100", "balance = credits * conversion_rate 1");
  assert.equal(after.realTimeCreditBalance, "100");
  assert.deepEqual(after.creditsAvailableBreakdown, { free: "0", purchased: "100" });
  assert.equal(await transactionStatus(wallet.id, tx.id), "completed");

  // Reporting the payment again neither pays twice nor credits twice.
  await rejectsWith(fp.invoices.updateInvoicePaymentStatus(invoice.id, { paymentStatus: "SUCCEEDED" }), 400, ErrorsErrorsErrorResponse);
  assert.equal((await fp.wallets.getWallet(wallet.id)).creditBalance, "100");
  const txs = await allTransactions(wallet.id);
  assert.equal(txs.length, 1);
  assert.equal(txs[0].creditAmount, "100");
  assert.equal(txs[0].creditBalanceAfter, "100");
});

test("invoiced top-up paid by two OFFLINE payments", async () => {
  const { wallet } = await halfPriceWallet();
  const topUp = await invoicedTopUp(wallet, "100");
  const invoiceId = topUp.invoiceId;
  const { invoiceNumber } = await fp.invoices.getInvoice(invoiceId);

  const first = await fp.payments.createPayment({
    amount: "20",
    currency: "usd",
    destinationType: "INVOICE",
    destinationId: invoiceId,
    paymentMethodType: "OFFLINE",
  });
  assert.match(first.id, /\S+/);
  assert.equal(first.paymentStatus, "SUCCEEDED");
  assert.equal(first.destinationType, "INVOICE");
  assert.equal(first.destinationId, invoiceId);
  assert.equal(first.invoiceNumber, invoiceNumber);
  assert.equal(first.paymentMethodType, "OFFLINE");
  assert.equal(first.amount, "20");
  assert.equal(first.currency, "usd");
  assert.ok(!Number.isNaN(Date.parse(first.succeededAt)), "succeededAt is a date-time");

  const partly = await fp.invoices.getInvoice(invoiceId);
  assert.equal(partly.paymentStatus, "PENDING");
  assert.equal(partly.amountPaid, "20");
  assert.equal(partly.amountRemaining, "30");
  assert.equal((await fp.wallets.getWalletBalance(wallet.id)).creditBalance, "0", "a partly paid purchase grants nothing");
  assert.equal(await transactionStatus(wallet.id, topUp.walletTransaction.id), "pending");

  // More than what remains is refused and records nothing.
  await rejectsWith(
    fp.payments.createPayment({ amount: "31", currency: "usd", destinationType: "INVOICE", destinationId: invoiceId, paymentMethodType: "OFFLINE" }),
    400,
    ErrorsErrorsErrorResponse,
  );

  const second = await fp.payments.createPayment({
    amount: "30",
    currency: "usd",
    destinationType: "INVOICE",
    destinationId: invoiceId,
    paymentMethodType: "OFFLINE",
  });
  assert.equal(second.paymentStatus, "SUCCEEDED");
  assert.equal(second.amount, "30");
  assert.notEqual(second.id, first.id);

  const invoice = await fp.invoices.getInvoice(invoiceId);
  assert.equal(invoice.paymentStatus, "SUCCEEDED");
  assert.equal(invoice.amountPaid, "50");
  assert.equal(invoice.amountRemaining, "0");
  assert.equal((await fp.wallets.getWalletBalance(wallet.id)).creditBalance, "100");
  assert.equal(await transactionStatus(wallet.id, topUp.walletTransaction.id), "completed");

  const fetched = await fp.payments.getPayment(first.id);
  assert.equal(fetched.id, first.id);
  assert.equal(fetched.amount, "20");
  assert.equal(fetched.paymentStatus, "SUCCEEDED");
  assert.equal(fetched.destinationType, "INVOICE");
  assert.equal(fetched.destinationId, invoiceId);
  assert.equal(fetched.invoiceNumber, invoiceNumber);
  assert.equal(fetched.paymentMethodType, "OFFLINE");

  const listed = await fp.payments.listPayments({ destinationId: invoiceId });
  assert.equal(listed.pagination.total, 2);
  assert.deepEqual(listed.items.map((p) => p.id).sort(), [first.id, second.id].sort());
  assert.deepEqual(listed.items.map((p) => p.amount).sort(), ["20", "30"]);
  assert.ok(listed.items.every((p) => p.destinationType === "INVOICE" && p.paymentStatus === "SUCCEEDED"));
  assert.ok(
    listed.items.every((p) => p.invoiceNumber === invoiceNumber),
    `listed payments carry the invoice number ${invoiceNumber}: ${JSON.stringify(listed.items.map((p) => p.invoiceNumber))}`,
  );
  const one = await fp.payments.listPayments({ destinationId: invoiceId, limit: 1, offset: 1, order: "asc" });
  assert.equal(one.pagination.total, 2);
  assert.deepEqual(one.items.map((p) => p.id), [second.id]);
});

test("one-off invoice: create, finalize, search, pay from the wallet, PDF", async () => {
  const customer = await newCustomer();
  const wallet = await fp.wallets.createWallet({
    customerId: customer.id,
    currency: "usd",
    conversionRate: "1",
    initialCreditsToLoad: "20",
  });
  const created = await fp.invoices.createInvoice({
    customerId: customer.id,
    currency: "usd",
    amountDue: "12.5",
    subtotal: "12.5",
    total: "12.5",
    lineItems: [{ amount: "12.5", quantity: "1", displayName: "Setup" }],
  });
  assert.match(created.id, /\S+/);
  assert.equal(created.customerId, customer.id);
  assert.equal(created.invoiceStatus, "DRAFT");
  assert.equal(created.invoiceType, "ONE_OFF");
  assert.equal(created.paymentStatus, "PENDING");
  assert.equal(created.amountDue, "12.5");
  assert.equal(created.amountRemaining, "12.5");
  assert.equal(created.invoiceNumber, undefined, "a draft has no number yet");
  assert.equal(created.lineItems.length, 1);
  assert.equal(created.lineItems[0].displayName, "Setup");
  assert.equal(created.lineItems[0].amount, "12.5");
  assert.equal(created.lineItems[0].quantity, "1");
  assert.equal(created.customer?.id, customer.id);

  // A draft cannot be paid.
  await rejectsWith(fp.invoices.attemptInvoicePayment(created.id), 400, ErrorsErrorsErrorResponse);

  const finalized = await fp.invoices.finalizeInvoice(created.id);
  assert.equal(typeof finalized.message, "string");
  assert.match(finalized.message, /finalized/);
  const invoice = await fp.invoices.getInvoice(created.id);
  assert.equal(invoice.invoiceStatus, "FINALIZED");
  assert.match(invoice.invoiceNumber ?? "", /^INV-/);
  assert.ok(!Number.isNaN(Date.parse(invoice.finalizedAt)), "finalizedAt is a date-time");
  await rejectsWith(fp.invoices.finalizeInvoice(created.id), 400, ErrorsErrorsErrorResponse);

  const found = await fp.invoices.queryInvoice({ customerId: customer.id });
  assert.equal(found.pagination.total, 1);
  assert.equal(found.items[0].id, created.id);
  assert.equal(found.items[0].invoiceNumber, invoice.invoiceNumber);
  const drafts = await fp.invoices.queryInvoice({ customerId: customer.id, invoiceStatus: ["DRAFT"] });
  assert.equal(drafts.pagination.total, 0);

  const attempt = await fp.invoices.attemptInvoicePayment(created.id);
  assert.equal(typeof attempt.message, "string");
  const paid = await fp.invoices.getInvoice(created.id);
  assert.equal(paid.paymentStatus, "SUCCEEDED");
  assert.equal(paid.amountPaid, "12.5");
  assert.equal(paid.amountRemaining, "0");
  assert.equal((await fp.wallets.getWallet(wallet.id)).creditBalance, "7.5");

  const debits = await fp.wallets.getWalletTransactions({ idPathParameter: wallet.id, type: "debit" });
  assert.equal(debits.pagination.total, 1);
  const [d] = debits.items;
  assert.equal(d.transactionReason, "INVOICE_PAYMENT");
  assert.equal(d.creditAmount, "12.5");
  assert.equal(d.creditBalanceBefore, "20");
  assert.equal(d.creditBalanceAfter, "7.5");
  assert.equal(d.referenceType, "INVOICE");
  assert.equal(d.referenceId, created.id);

  const payments = await fp.payments.listPayments({ destinationId: created.id });
  assert.equal(payments.pagination.total, 1);
  assert.equal(payments.items[0].paymentMethodType, "CREDITS");
  assert.equal(payments.items[0].paymentMethodId, wallet.id);
  assert.equal(payments.items[0].amount, "12.5");
  assert.equal(payments.items[0].paymentStatus, "SUCCEEDED");

  // Paying again is refused: nothing is due.
  await rejectsWith(fp.invoices.attemptInvoicePayment(created.id), 400, ErrorsErrorsErrorResponse);
  assert.equal((await fp.wallets.getWallet(wallet.id)).creditBalance, "7.5");

  const pdf = await readAll(await fp.invoices.getInvoicePdf(created.id));
  assert.equal(pdf.subarray(0, 5).toString("latin1"), "%PDF-");
  assert.match(pdf.subarray(-32).toString("latin1"), /%%EOF\s*$/);
});

test("voiding an unpaid invoiced top-up fails its pending credit", async () => {
  const { wallet } = await halfPriceWallet();
  const topUp = await invoicedTopUp(wallet, "100");
  assert.equal(topUp.walletTransaction.transactionStatus, "pending");

  const voided = await fp.invoices.voidInvoice(topUp.invoiceId);
  assert.equal(typeof voided.message, "string");
  assert.match(voided.message, /void/);

  const invoice = await fp.invoices.getInvoice(topUp.invoiceId);
  assert.equal(invoice.invoiceStatus, "VOIDED");
  assert.ok(!Number.isNaN(Date.parse(invoice.voidedAt)), "voidedAt is a date-time");
  assert.equal(invoice.amountPaid, "0");
  assert.equal(await transactionStatus(wallet.id, topUp.walletTransaction.id), "failed");
  assert.equal((await fp.wallets.getWalletBalance(wallet.id)).creditBalance, "0");

  // A voided invoice accepts no payment of any kind (422 invoice_not_payable), so its credits can never be granted.
  const refused = await rejectsWith(
    fp.payments.createPayment({ amount: "50", currency: "usd", destinationType: "INVOICE", destinationId: invoice.id, paymentMethodType: "OFFLINE" }),
    422,
  );
  assert.match(refused.body ?? refused.message, /invoice_not_payable/);
  await rejectsWith(fp.invoices.updateInvoicePaymentStatus(invoice.id, { paymentStatus: "SUCCEEDED" }), 422);
  assert.equal((await fp.wallets.getWalletBalance(wallet.id)).creditBalance, "0");
  assert.equal(await transactionStatus(wallet.id, topUp.walletTransaction.id), "failed");
});

// Keep this test LAST: invoice_config is tenant-wide.
test("invoice_config auto-complete: an invoiced top-up credits at once with its invoice paid", async () => {
  const on = await invoiceConfig({ auto_complete_purchased_credit_transaction: true });
  try {
    assert.equal(on.auto_complete_purchased_credit_transaction, true);
    assert.equal((await invoiceConfig()).auto_complete_purchased_credit_transaction, true);

    const { wallet } = await halfPriceWallet();
    const topUp = await invoicedTopUp(wallet, "100");
    assert.equal(topUp.walletTransaction.transactionStatus, "completed");
    assert.equal(topUp.walletTransaction.creditBalanceAfter, "100");
    assert.equal(topUp.wallet.creditBalance, "100");
    assert.equal((await fp.wallets.getWalletBalance(wallet.id)).creditBalance, "100");
    assert.equal(await transactionStatus(wallet.id, topUp.walletTransaction.id), "completed");

    const invoice = await fp.invoices.getInvoice(topUp.invoiceId);
    assert.equal(invoice.invoiceType, "CREDIT");
    assert.equal(invoice.invoiceStatus, "FINALIZED");
    assert.equal(invoice.paymentStatus, "SUCCEEDED");
    assert.equal(invoice.amountDue, "50");
    assert.equal(invoice.amountPaid, "50");
    assert.equal(invoice.amountRemaining, "0");
    assert.ok(!Number.isNaN(Date.parse(invoice.paidAt)), "paidAt is set");
  } finally {
    const off = await invoiceConfig({ auto_complete_purchased_credit_transaction: false });
    assert.equal(off.auto_complete_purchased_credit_transaction, false);
  }
  assert.equal((await invoiceConfig()).auto_complete_purchased_credit_transaction, false);
});
