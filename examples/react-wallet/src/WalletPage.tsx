import { useWallets } from "@coffer/react";
import { AutoTopUp } from "./AutoTopUp.js";
import { Cards } from "./Cards.js";
import { History } from "./History.js";
import { Packages } from "./Packages.js";
import { TopUp } from "./TopUp.js";

export function WalletPage() {
  const wallets = useWallets();
  if (wallets.isPending) return <p role="status">Loading your wallet…</p>;
  if (wallets.error) return <p role="alert">Your wallet could not be loaded: {wallets.error.message}</p>;
  // One wallet is the common case; a merchant with wallets in several currencies would let the customer pick.
  const wallet = wallets.data.find((w) => w.wallet_status === "active");
  if (!wallet) return <p>You have no wallet yet.</p>;

  return (
    <main>
      <h1>{wallet.name || "Your credits"}</h1>
      <section aria-label="Balance" className="balance">
        <p>
          <strong>{wallet.credit_balance ?? "0"}</strong> credits
        </p>
      </section>
      <Packages walletId={wallet.id} currency={wallet.currency} />
      <TopUp walletId={wallet.id} currency={wallet.currency} />
      <Cards />
      <AutoTopUp walletId={wallet.id} />
      <History walletId={wallet.id} />
    </main>
  );
}
