// Writes src/openapi.d.ts from the document of the Coffer at COFFER_URL (default http://127.0.0.1:8080).
import { writeFile } from "node:fs/promises";
import { generateTypes } from "./openapi.mjs";

const baseUrl = process.env.COFFER_URL || "http://127.0.0.1:8080";
const target = new URL("../src/openapi.d.ts", import.meta.url);
await writeFile(target, await generateTypes(baseUrl));
console.log(`wrote ${target.pathname} from ${baseUrl}/openapi/v1.json`);
