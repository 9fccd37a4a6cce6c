import { useTransactions } from "@coffer/react";

const PAGE_SIZE = 5;

/** FREE_CREDIT_GRANT → "Free credit grant", for entries without a description of their own. */
const reason = (r: string) => r.charAt(0) + r.slice(1).toLowerCase().replaceAll("_", " ");

export function History({ walletId }: { walletId: string }) {
  const history = useTransactions(walletId, { limit: PAGE_SIZE });
  if (history.isPending) return <p role="status">Loading the history…</p>;
  if (history.error) return <p role="alert">The history could not be loaded: {history.error.message}</p>;
  const rows = history.data.pages.flatMap((page) => page.items);

  return (
    <section aria-labelledby="history">
      <h2 id="history">History</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">What</th>
            <th scope="col">Credits</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={t.id}>
              <td>{new Date(t.created_at).toLocaleString()}</td>
              <td>{t.description || reason(t.transaction_reason)}</td>
              <td className="number">{(t.type === "debit" ? "\u2212" : "+") + t.credit_amount}</td>
              <td>{t.transaction_status}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {history.hasNextPage && (
        <button type="button" disabled={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
          {history.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
