/** Fetches the document from a running Coffer and answers the text of src/openapi.d.ts. */
export function generateTypes(baseUrl: string): Promise<string>;
