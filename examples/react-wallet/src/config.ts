// Where Coffer is and where the merchant's backend mints tokens are read when the page loads, from config.json
// next to index.html, so one build serves every environment.
export interface Config {
  /** Coffer's address, e.g. `https://coffer.example.com`; this page's origin must be in its `client_config`. */
  coffer_url: string;
  /** The merchant backend's endpoint that answers `{ token, expires_at }` for the signed-in user. */
  token_url: string;
}

export async function loadConfig(): Promise<Config> {
  const response = await fetch(new URL("config.json", document.baseURI));
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  const config = (await response.json()) as Partial<Config>;
  if (!config.coffer_url || !config.token_url) throw new Error("config.json needs coffer_url and token_url");
  return { coffer_url: config.coffer_url, token_url: config.token_url };
}

/**
 * The token comes from the merchant's backend, which knows who is signed in (its own session cookie) and holds the
 * secret key; the page never sees that key. CofferProvider keeps the token and calls this again only when Coffer
 * refuses it as expired or revoked.
 */
export function tokenSource(tokenUrl: string): () => Promise<string> {
  return async () => {
    const response = await fetch(tokenUrl, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`${tokenUrl} answered ${response.status}`);
    const { token } = (await response.json()) as { token?: string };
    if (!token) throw new Error(`${tokenUrl} gave no token`);
    return token;
  };
}
