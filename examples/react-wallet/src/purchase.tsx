import type { CofferError, CustomerPurchase } from "@coffer/client";

/** Without a saved card the customer pays on Coffer's hosted checkout, which brings them back to this page. */
export function openCheckout(purchase: CustomerPurchase) {
  if (purchase.outcome === "payment_action" && purchase.payment_action) window.location.assign(purchase.payment_action.url);
}

/** Where the checkout sends the customer back to, paid or not. */
export const returnUrls = () => ({ success_url: window.location.href, cancel_url: window.location.href });

function describe(purchase: CustomerPurchase): string {
  switch (purchase.outcome) {
    case "credits_granted":
      return `Paid with your card. Your balance is now ${purchase.wallet.credit_balance} credits.`;
    case "payment_action":
      return "Opening the checkout…";
    case "invoice_raised":
      return "An invoice was sent; the credits arrive once it is paid.";
    case "payment_processing":
      return "Your payment is being processed; the credits arrive when it clears.";
    default:
      // Coffer's enums are open: show a new outcome as it is rather than guess.
      return `Done (${purchase.outcome}).`;
  }
}

/** What the last purchase did, or why it failed (a declined card is `payment_failed`, and nothing was charged). */
export function Outcome({ purchase, error }: { purchase: CustomerPurchase | undefined; error: CofferError | null }) {
  if (error) return <p role="alert">{error.message}</p>;
  if (!purchase) return null;
  return <p role="status">{describe(purchase)}</p>;
}
