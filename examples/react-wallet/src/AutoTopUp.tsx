import type { CustomerAutoTopUp, CustomerAutoTopUpInput, PaymentMethod } from "@coffer/client";
import { cofferKeys, shouldRetry, useAutoTopUp, usePaymentMethods, type UseAutoTopUpResult } from "@coffer/react";
import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { cardName } from "./Cards.js";

export function AutoTopUp({ walletId }: { walletId: string }) {
  const autoTopUp = useAutoTopUp(walletId);
  const cards = usePaymentMethods();
  const { settings, save } = autoTopUp;

  let body;
  if (settings.isPending) body = <p role="status">Loading…</p>;
  else if (settings.error) body = <p role="alert">Automatic top-up could not be loaded: {settings.error.message}</p>;
  else if (!settings.data.offered) body = <p>Automatic top-up is not offered for this wallet.</p>;
  else {
    const s = settings.data;
    // The form starts again from what is saved whenever that changes (after a save), not on every refetch.
    const saved = [s.enabled, s.threshold, s.amount, s.max_topups_per_day, s.payment_method_id].join("|");
    body = <AutoTopUpForm key={saved} walletId={walletId} saved={s} cards={cards.data ?? []} autoTopUp={autoTopUp} />;
  }

  return (
    <section aria-labelledby="auto-top-up">
      <h2 id="auto-top-up">Automatic top-up</h2>
      {body}
      {save.error && <p role="alert">{save.error.message}</p>}
      {save.data && (
        <p role="status">
          {save.data.topping_up_now ? "Saved. Your balance is below the threshold, so a top-up has started."
            : save.data.auto_topup.enabled ? "Saved: automatic top-up is on." : "Saved: automatic top-up is off."}
        </p>
      )}
    </section>
  );
}

interface FormProps {
  walletId: string;
  saved: CustomerAutoTopUp;
  cards: PaymentMethod[];
  autoTopUp: UseAutoTopUpResult;
}

function AutoTopUpForm({ walletId, saved, cards, autoTopUp: { save, preview } }: FormProps) {
  const [enabled, setEnabled] = useState(saved.enabled);
  const [threshold, setThreshold] = useState(saved.threshold ?? "");
  const [amount, setAmount] = useState(saved.amount ?? "");
  const [perDay, setPerDay] = useState(saved.max_topups_per_day?.toString() ?? "");
  // "" pays by invoice; until the customer chooses, the saved card, else the first saved card.
  const [chosen, setChosen] = useState<string | undefined>();
  const card = chosen ?? (saved.enabled ? (saved.payment_method_id ?? "") : (cards[0]?.id ?? ""));

  const draft: CustomerAutoTopUpInput = enabled
    ? { enabled, threshold: threshold.trim(), amount: amount.trim(), max_topups_per_day: perDay ? Number(perDay) : null,
        payment_method_id: card || null }
    : { enabled };
  const complete = enabled && threshold.trim() !== "" && amount.trim() !== "";
  // Ask Coffer, before saving, whether these settings would buy credits at once (the balance is already at or
  // below the threshold), so the customer is not surprised by a charge. Under the auto-top-up key, so a save
  // refreshes it too.
  const check = useQuery({
    queryKey: [...cofferKeys.autoTopUp(walletId), "preview", draft],
    queryFn: () => preview(draft),
    enabled: complete,
    retry: shouldRetry,
  });
  const now = complete && check.data?.would_top_up_now === true;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(draft);
  };

  return (
    <form onSubmit={submit}>
      <p>{saved.enabled ? "Automatic top-up is on." : "Automatic top-up is off."}</p>
      <label className="choice">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Top up automatically when my balance runs low
      </label>
      <label htmlFor="auto-threshold">Top up when the balance falls to (credits)</label>
      <input id="auto-threshold" inputMode="decimal" autoComplete="off" disabled={!enabled} value={threshold}
        onChange={(e) => setThreshold(e.target.value)} />
      <label htmlFor="auto-amount">Credits to buy each time</label>
      <input id="auto-amount" inputMode="decimal" autoComplete="off" disabled={!enabled} value={amount}
        onChange={(e) => setAmount(e.target.value)} aria-describedby={saved.max_amount_allowed ? "auto-amount-hint" : undefined} />
      {saved.max_amount_allowed && <p id="auto-amount-hint" className="hint">At most {saved.max_amount_allowed} credits at a time.</p>}
      <label htmlFor="auto-per-day">Top-ups a day, at most</label>
      <input id="auto-per-day" type="number" min={1} step={1} autoComplete="off" disabled={!enabled} value={perDay}
        onChange={(e) => setPerDay(e.target.value)} />
      <label htmlFor="auto-card">Pay with</label>
      <select id="auto-card" disabled={!enabled} value={card} onChange={(e) => setChosen(e.target.value)}>
        {cards.map((c) => (
          <option key={c.id} value={c.id}>Charge my {cardName(c)}</option>
        ))}
        <option value="">Send me an invoice</option>
      </select>
      {now && (
        <p role="alert" className="warning">
          Your balance is already at or below {threshold} credits: saving buys {amount} credits now.
        </p>
      )}
      {complete && check.error && <p role="alert">{check.error.message}</p>}
      <button type="submit" disabled={save.isPending}>{now ? "Save and top up now" : "Save"}</button>
    </form>
  );
}
