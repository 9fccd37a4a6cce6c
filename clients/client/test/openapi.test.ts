import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { generateTypes } from "../scripts/openapi.mjs";
import { server } from "./coffer.js";

it("the committed src/openapi.d.ts is what the running server's document generates (run `npm run gen`)", async () => {
  const committed = await readFile(new URL("../src/openapi.d.ts", import.meta.url), "utf8");
  const generated = await generateTypes(server.baseUrl);
  expect(committed, "src/openapi.d.ts differs from the server's /openapi/v1.json: run `npm run gen`").toBe(generated);
});
