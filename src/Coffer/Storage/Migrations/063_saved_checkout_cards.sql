-- A payment link may save the card it is paid with (Flexprice's save_card_and_make_default): the flag rides on the
-- payment, and the card saved from a checkout names that checkout, so however often the checkout's completion is
-- reported (webhook retries, the reconciler, a second submit), it saves one card.
ALTER TABLE payments ADD COLUMN save_card_and_make_default INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_methods ADD COLUMN checkout_session_id TEXT;
CREATE UNIQUE INDEX ux_payment_methods_checkout ON payment_methods (tenant_id, checkout_session_id) WHERE checkout_session_id IS NOT NULL;

-- The gateway's own customer for a Coffer customer (a Stripe customer, cus_…): a card saved at a checkout belongs to
-- it, and every later off-session charge of that card names it.
CREATE TABLE gateway_customers (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    gateway TEXT NOT NULL,
    gateway_customer_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, gateway)
);
