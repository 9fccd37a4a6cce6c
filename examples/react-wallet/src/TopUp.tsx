import { usePaymentMethods, useTopUp } from "@coffer/react";
import { type FormEvent, useState } from "react";
import { cardName } from "./Cards.js";
import { openCheckout, Outcome, returnUrls } from "./purchase.js";

export function TopUp({ walletId, currency }: { walletId: string; currency: string }) {
  const cards = usePaymentMethods();
  const topUp = useTopUp(walletId);
  const [amount, setAmount] = useState("");
  // undefined: the customer has not chosen, so the first saved card (Coffer's priority order) is used.
  const [chosen, setChosen] = useState<string | undefined>();
  const card = chosen ?? cards.data?.[0]?.id ?? "";

  const submit = (e: FormEvent) => {
    e.preventDefault();
    // The amount stays a decimal string from the input to the wire: no floating point near money.
    topUp.mutate({ amount: amount.trim(), payment_method_id: card || null, ...returnUrls() }, { onSuccess: openCheckout });
  };

  return (
    <section aria-labelledby="top-up">
      <h2 id="top-up">Top up</h2>
      <form onSubmit={submit}>
        <label htmlFor="top-up-amount">Amount ({currency.toUpperCase()})</label>
        <input id="top-up-amount" inputMode="decimal" autoComplete="off" required value={amount}
          onChange={(e) => setAmount(e.target.value)} />
        <label htmlFor="top-up-card">Pay with</label>
        <select id="top-up-card" value={card} onChange={(e) => setChosen(e.target.value)}>
          {cards.data?.map((c) => (
            <option key={c.id} value={c.id}>{cardName(c)}</option>
          ))}
          <option value="">A new card, at the checkout</option>
        </select>
        <button type="submit" disabled={topUp.isPending}>Top up</button>
      </form>
      <Outcome purchase={topUp.data} error={topUp.error} />
    </section>
  );
}
