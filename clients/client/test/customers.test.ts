import { CofferError } from "@coffer/client";
import { describe, expect, it } from "vitest";
import { coffer, unique } from "./coffer.js";

describe("customers", () => {
  it("are created and found by id, by external id and in the list", async () => {
    const client = coffer();
    const externalId = unique("user");
    const created = await client.customers.create({ external_id: externalId, name: "Ada", email: "ada@example.com" });
    expect(created.id).toMatch(/^cust_/);
    expect(created.external_id).toBe(externalId);

    expect((await client.customers.get(created.id)).external_id).toBe(externalId);
    expect((await client.customers.getByExternalId(externalId)).id).toBe(created.id);
    const page = await client.customers.list({ external_id: externalId });
    expect(page.items.map((c) => c.id)).toEqual([created.id]);
    expect(page.pagination.total).toBe(1);
  });

  it("refuses a second customer with the same external id with 409 already_exists", async () => {
    const client = coffer();
    const externalId = unique("user");
    await client.customers.create({ external_id: externalId });
    const error = await client.customers.create({ external_id: externalId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ status: 409, code: "already_exists" });
  });

  it("answers 401 unauthorized to an unknown API key", async () => {
    const error = await coffer({ apiKey: `sk_${"0".repeat(40)}` })
      .customers.get("cust_x")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
  });
});
