import { usePackages, usePurchasePackage } from "@coffer/react";
import { openCheckout, Outcome, returnUrls } from "./purchase.js";

export function Packages({ walletId, currency }: { walletId: string; currency: string }) {
  const packages = usePackages({ currency });
  // One mutation per wallet: each `mutate` is one purchase with its own idempotency key, so a retry never charges twice.
  const buy = usePurchasePackage(walletId);

  return (
    <section aria-labelledby="packages">
      <h2 id="packages">Buy credits</h2>
      {packages.isPending && <p role="status">Loading the packages…</p>}
      {packages.error && <p role="alert">The packages could not be loaded: {packages.error.message}</p>}
      {packages.data?.length === 0 && <p>No packages are on sale.</p>}
      <ul className="packages">
        {packages.data?.map((p) => (
          <li key={p.id}>
            <span>
              <strong>{p.name}</strong>: {p.credits} credits
              {p.bonus_credits !== "0" && ` + ${p.bonus_credits} bonus`} for {p.currency.toUpperCase()} {p.price}
            </span>
            <button
              type="button"
              aria-label={`Buy ${p.name}`}
              disabled={buy.isPending}
              // Paid at the checkout, the card is kept, so the next purchase and automatic top-up charge it.
              onClick={() => buy.mutate({ package_id: p.id, save_card_and_make_default: true, ...returnUrls() }, { onSuccess: openCheckout })}
            >
              Buy
            </button>
          </li>
        ))}
      </ul>
      <Outcome purchase={buy.data} error={buy.error} />
    </section>
  );
}
