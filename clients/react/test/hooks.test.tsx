import { CofferError, type FetchLike } from "@coffer/client";
import {
  CofferProvider,
  useAutoTopUp,
  useHolds,
  usePurchasePackage,
  useTopUp,
  useTransactions,
  useWallet,
  useWallets,
} from "@coffer/react";
import { QueryClient } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { type ReactNode, useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { coffer, getSetting, packageOf, putSetting, server, signedIn } from "./coffer.js";

afterEach(cleanup);

// The global fetch under jsdom is Node's: it sends no Origin header, so the server's CORS check (which applies
// only to requests with an Origin) leaves these calls alone and client_config needs no change.
function App({ token, fetch, children }: { token: () => string | Promise<string>; fetch?: FetchLike; children: ReactNode }) {
  const [queryClient] = useState(() => new QueryClient());
  return (
    <CofferProvider baseUrl={server.baseUrl} getToken={token} queryClient={queryClient} fetch={fetch}>
      {children}
    </CofferProvider>
  );
}

function Balance() {
  const wallets = useWallets();
  if (wallets.isPending) return <p>loading</p>;
  if (wallets.isError) return <p role="alert">{wallets.error.code}</p>;
  return <p data-testid="balance">{wallets.data[0]?.credit_balance}</p>;
}

function History({ walletId, limit }: { walletId: string; limit?: number }) {
  const history = useTransactions(walletId, limit === undefined ? {} : { limit });
  if (history.isPending) return <p>loading history</p>;
  if (history.isError) return <p role="alert">{history.error.code}</p>;
  const rows = history.data.pages.flatMap((p) => p.items);
  return (
    <div>
      <ul>
        {rows.map((t) => (
          <li key={t.id} data-testid="row">
            {t.credit_amount}
          </li>
        ))}
      </ul>
      {history.hasNextPage && (
        <button type="button" onClick={() => void history.fetchNextPage()} disabled={history.isFetchingNextPage}>
          more
        </button>
      )}
    </div>
  );
}

describe("@coffer/react against a real Coffer", () => {
  it("shows the balance and the wallet's holds", async () => {
    const { wallet, session } = await signedIn("5");
    await coffer.holds.create(wallet.id, { credits: "2" });
    function Holds() {
      const holds = useHolds(wallet.id);
      const detail = useWallet(wallet.id);
      if (!holds.isSuccess || !detail.isSuccess) return null;
      return (
        <p data-testid="holds">
          {holds.data.map((h) => h.credits).join(",")} of {detail.data.wallet.id}
        </p>
      );
    }
    render(
      <App token={() => session.token}>
        <Balance />
        <Holds />
      </App>,
    );
    expect(await screen.findByTestId("balance")).toHaveProperty("textContent", "5");
    expect(await screen.findByTestId("holds")).toHaveProperty("textContent", `2 of ${wallet.id}`);
  });

  it("buys a package with a saved card: the balance and the history update, charged once across retries", async () => {
    const { customer, wallet, session } = await signedIn("1");
    const card = await coffer.paymentMethods.create(customer.id, { type: "card", card_number: "4242424242424242" });
    const pack = await packageOf("50", "4.99");
    // The first answer to the purchase is lost three times: the client's own two retries fail too, so TanStack
    // retries the mutation; every try must carry the one key made for this click.
    const keys: (string | null)[] = [];
    const flaky: FetchLike = async (input, init) => {
      const response = await fetch(input, init);
      if (input.endsWith("/purchase-package")) {
        keys.push(new Headers(init.headers).get("idempotency-key"));
        if (keys.length <= 3) throw new TypeError("fetch failed: the connection was reset");
      }
      return response;
    };
    function Buy() {
      const buy = usePurchasePackage(wallet.id);
      return (
        <div>
          <button type="button" onClick={() => buy.mutate({ package_id: pack.id })}>
            buy
          </button>
          {buy.data && <p data-testid="outcome">{buy.data.outcome}</p>}
          {buy.error && <p role="alert">{buy.error.code}</p>}
        </div>
      );
    }
    render(
      <App token={() => session.token} fetch={flaky}>
        <Balance />
        <History walletId={wallet.id} />
        <Buy />
      </App>,
    );
    expect(await screen.findByTestId("balance")).toHaveProperty("textContent", "1");
    const before = (await screen.findAllByTestId("row")).length;
    fireEvent.click(screen.getByRole("button", { name: "buy" }));
    expect(await screen.findByTestId("outcome", {}, { timeout: 10_000 })).toHaveProperty("textContent", "credits_granted");
    await waitFor(() => expect(screen.getByTestId("balance").textContent).toBe("51"));
    await waitFor(() => expect(screen.getAllByTestId("row")).toHaveLength(before + 1));
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect((await coffer.wallets.balance(wallet.id)).real_time_credit_balance).toBe("51");
  });

  it("a top-up without a card answers payment_action with the checkout's URL", async () => {
    const { wallet, session } = await signedIn("0");
    function TopUp() {
      const topUp = useTopUp(wallet.id);
      return (
        <div>
          <button type="button" onClick={() => topUp.mutate({ amount: "5", success_url: "https://app.example.com/paid" })}>
            top up
          </button>
          {topUp.data?.payment_action && <a href={topUp.data.payment_action.url}>{topUp.data.outcome}</a>}
        </div>
      );
    }
    render(
      <App token={() => session.token}>
        <TopUp />
      </App>,
    );
    fireEvent.click(screen.getByRole("button", { name: "top up" }));
    const link = await screen.findByRole("link", { name: "payment_action" });
    expect(link.getAttribute("href")).toMatch(/^https?:\/\//);
  });

  it("useTransactions fetches the next page over next_cursor", async () => {
    const { wallet, session } = await signedIn("1");
    for (const credits of ["2", "3", "4", "5"]) {
      await coffer.wallets.topUp(wallet.id, { credits_to_add: credits, transaction_reason: "FREE_CREDIT_GRANT" });
    }
    render(
      <App token={() => session.token}>
        <History walletId={wallet.id} limit={2} />
      </App>,
    );
    expect(await screen.findAllByTestId("row")).toHaveLength(2);
    fireEvent.click(screen.getByRole("button", { name: "more" }));
    await waitFor(() => expect(screen.getAllByTestId("row")).toHaveLength(4));
    fireEvent.click(screen.getByRole("button", { name: "more" }));
    await waitFor(() => expect(screen.getAllByTestId("row")).toHaveLength(5));
    expect(screen.getAllByTestId("row").map((r) => r.textContent)).toEqual(["5", "4", "3", "2", "1"]);
    await waitFor(() => expect(screen.queryByRole("button", { name: "more" })).toBeNull());
  });

  it("useAutoTopUp reads the settings and previews a change", async () => {
    const { wallet, session } = await signedIn("1");
    const before = await getSetting("portal_config");
    await putSetting("portal_config", { allow_auto_topup: true });
    try {
      function AutoTopUp() {
        const { settings, preview } = useAutoTopUp(wallet.id);
        const [answer, setAnswer] = useState<string>();
        if (!settings.isSuccess) return null;
        return (
          <div>
            <p data-testid="offered">{String(settings.data.offered)}</p>
            <button
              type="button"
              onClick={() =>
                void preview({ enabled: true, threshold: "5", amount: "10" }).then((p) => setAnswer(String(p.would_top_up_now)))
              }
            >
              preview
            </button>
            {answer !== undefined && <p data-testid="would">{answer}</p>}
          </div>
        );
      }
      render(
        <App token={() => session.token}>
          <AutoTopUp />
        </App>,
      );
      expect(await screen.findByTestId("offered")).toHaveProperty("textContent", "true");
      fireEvent.click(screen.getByRole("button", { name: "preview" }));
      expect(await screen.findByTestId("would")).toHaveProperty("textContent", "true");
    } finally {
      await putSetting("portal_config", before);
    }
  });

  it("another customer's wallet is an error state with code not_found, shown without retries", async () => {
    const { session } = await signedIn("1");
    const other = await signedIn("1");
    function Other() {
      const detail = useWallet(other.wallet.id);
      if (detail.isPending) return <p>loading</p>;
      if (detail.isError) return <p role="alert">{detail.error.code}</p>;
      return <p>{detail.data.wallet.id}</p>;
    }
    render(
      <App token={() => session.token}>
        <Other />
      </App>,
    );
    const alert = await screen.findByRole("alert", {}, { timeout: 3_000 });
    expect(alert.textContent).toBe("not_found");
  });

  it("asks getToken once, and again when the token is refused", async () => {
    const { customer, session } = await signedIn("7");
    await coffer.customerSessions.revoke(session.id);
    const fresh = await coffer.customerSessions.create({ customer_id: customer.id });
    const given = [session.token, fresh.token];
    let asked = 0;
    const queryClient = new QueryClient();
    function Two() {
      return (
        <>
          <Balance />
          <Balance />
        </>
      );
    }
    render(
      <CofferProvider baseUrl={server.baseUrl} getToken={async () => given[Math.min(asked++, 1)]!} queryClient={queryClient}>
        <Two />
      </CofferProvider>,
    );
    await waitFor(() => expect(screen.getAllByTestId("balance").map((b) => b.textContent)).toEqual(["7", "7"]));
    expect(asked).toBe(2);
    await queryClient.refetchQueries();
    expect(asked).toBe(2); // the kept token is reused
    expect(new CofferError({ status: 0, code: "x", message: "" })).toBeInstanceOf(Error);
  });
});
