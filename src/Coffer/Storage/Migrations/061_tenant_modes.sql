-- Test or live (see Tenants/Modes.cs). Left empty here: start-up decides each existing tenant's mode from its stored
-- gateway (a Stripe live key means live), which SQL cannot read since the key is sealed.
ALTER TABLE tenants ADD COLUMN mode TEXT;
