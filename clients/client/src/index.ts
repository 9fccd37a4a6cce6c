export { Coffer, type CofferOptions } from "./coffer.js";
export { CofferCustomer, type CofferCustomerOptions } from "./customer.js";
export { CofferError } from "./errors.js";
export type { FetchLike } from "./transport.js";
export type * from "./types.js";
