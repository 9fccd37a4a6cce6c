// The provider: one CofferCustomer (the customer API) and one QueryClient for the hooks below it.
import { CofferCustomer, CofferError, type FetchLike } from "@coffer/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from "react";

export interface CofferProviderProps {
  /** Where Coffer is served, e.g. `https://coffer.example.com`. The page's origin must be in `client_config`. */
  baseUrl: string;
  /**
   * Your own function that gets a customer token (`ctok_…`) from your server (which mints it with
   * `coffer.customerSessions.create`). The provider asks it once and keeps the token; when Coffer refuses that
   * token (401 `unauthorized`: expired or revoked) the provider asks again and sends the refused call once more
   * with the fresh token. A call made while a token is being fetched waits for that one fetch.
   */
  getToken: () => Promise<string> | string;
  /** Your QueryClient, to share its cache with the rest of the app; without one the provider makes its own. */
  queryClient?: QueryClient | undefined;
  /** A fetch to use instead of the global one. */
  fetch?: FetchLike | undefined;
  children?: ReactNode;
}

const CofferContext = createContext<CofferCustomer | null>(null);

/** The provider's CofferCustomer, for a call no hook covers. */
export function useCofferCustomer(): CofferCustomer {
  const client = useContext(CofferContext);
  if (client === null) throw new Error("@coffer/react hooks must be used inside a <CofferProvider>");
  return client;
}

/** Asks `getToken` once, keeps the answer, and forgets it when Coffer refuses it (so the next ask is fresh). */
class TokenCache {
  private token: Promise<string> | undefined;

  constructor(private readonly source: () => Promise<string> | string) {}

  get(): Promise<string> {
    if (this.token === undefined) {
      const asked = (async () => {
        let token: unknown;
        try {
          token = await this.source();
        } catch (cause) {
          throw new CofferError({
            status: 0,
            code: "token_unavailable",
            message: `getToken failed: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause,
          });
        }
        if (typeof token !== "string" || token === "") {
          throw new CofferError({ status: 0, code: "token_unavailable", message: "getToken gave no customer token" });
        }
        return token;
      })();
      this.token = asked;
      // A failed ask is not kept: the next call asks again.
      asked.catch(() => {
        if (this.token === asked) this.token = undefined;
      });
    }
    return this.token;
  }

  /** The token sent with a request that Coffer refused: drop it if it is still the one kept. */
  async refused(sent: string): Promise<void> {
    const kept = this.token;
    if (kept !== undefined && (await kept.catch(() => undefined)) === sent && this.token === kept) this.token = undefined;
  }
}

function makeCustomer(baseUrl: string, getToken: () => Promise<string> | string, fetch: FetchLike | undefined) {
  const tokens = new TokenCache(getToken);
  const send: FetchLike = fetch ?? ((input, init) => globalThis.fetch(input, init));
  return new CofferCustomer({
    baseUrl,
    getToken: () => tokens.get(),
    fetch: async (input, init) => {
      const response = await send(input, init);
      if (response.status === 401) {
        const sent = new Headers(init.headers).get("authorization")?.replace(/^Bearer /, "");
        if (sent) await tokens.refused(sent);
      }
      return response;
    },
  });
}

/** Gives the hooks below it a customer client and a QueryClient. */
export function CofferProvider({ baseUrl, getToken, queryClient, fetch, children }: CofferProviderProps) {
  // The latest getToken and fetch, so an inline function given on every render is fine.
  const latest = useRef({ getToken, fetch });
  useEffect(() => {
    latest.current = { getToken, fetch };
  });
  const [own] = useState(() => queryClient ?? new QueryClient());
  // One client per baseUrl; its token cache lives as long as it does.
  const client = useMemo(
    () =>
      makeCustomer(
        baseUrl,
        () => latest.current.getToken(),
        (input, init) => (latest.current.fetch ?? globalThis.fetch)(input, init),
      ),
    [baseUrl],
  );
  return (
    <QueryClientProvider client={queryClient ?? own}>
      <CofferContext.Provider value={client}>{children}</CofferContext.Provider>
    </QueryClientProvider>
  );
}
