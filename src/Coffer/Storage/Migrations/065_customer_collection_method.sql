-- How a customer pays for what they buy when the call does not say (Customers/CollectionMethods.cs): charge_automatically,
-- send_invoice, or empty for the default (a saved card when there is one, else an invoice).
ALTER TABLE customers ADD COLUMN collection_method TEXT;
