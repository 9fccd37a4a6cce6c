import type { PaymentMethod } from "@coffer/client";
import { usePaymentMethods } from "@coffer/react";

/** "Visa ending 4242": gateways name brands in lower case ("visa", "mastercard"). */
export function cardName(c: PaymentMethod): string {
  const brand = c.brand ? c.brand.charAt(0).toUpperCase() + c.brand.slice(1) : "Card";
  return c.last4 ? `${brand} ending ${c.last4}` : brand;
}

export function Cards() {
  const cards = usePaymentMethods();

  return (
    <section aria-labelledby="cards">
      <h2 id="cards">Saved cards</h2>
      {cards.isPending && <p role="status">Loading your cards…</p>}
      {cards.error && <p role="alert">Your cards could not be loaded: {cards.error.message}</p>}
      {cards.data?.length === 0 && <p>No saved cards: a purchase opens the checkout.</p>}
      <ul>
        {cards.data?.map((c) => (
          <li key={c.id}>
            {cardName(c)}{" "}
            <button type="button" aria-label={`Remove ${cardName(c)}`} disabled={cards.detach.isPending}
              onClick={() => cards.detach.mutate(c.id)}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      {cards.detach.error && <p role="alert">{cards.detach.error.message}</p>}
    </section>
  );
}
