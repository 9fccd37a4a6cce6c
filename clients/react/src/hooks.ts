// The hooks: TanStack Query reads and mutations over the provider's CofferCustomer.
import {
  type AutoTopUpPreview,
  CofferError,
  type CreditPackage,
  type CustomerAutoTopUp,
  type CustomerAutoTopUpChange,
  type CustomerAutoTopUpInput,
  type CustomerInvoicesQuery,
  type CustomerPurchase,
  type CustomerPurchasePackageInput,
  type CustomerTopUpInput,
  type CustomerTransactionPage,
  type CustomerWallet,
  type Hold,
  type PaymentAction,
  type PaymentMethod,
  type SuccessOf,
  type Wallet,
} from "@coffer/client";
import {
  type InfiniteData,
  type MutateOptions,
  type QueryClient,
  skipToken,
  useInfiniteQuery,
  type UseInfiniteQueryResult,
  useMutation,
  type UseMutationResult,
  useQuery,
  useQueryClient,
  type UseQueryResult,
} from "@tanstack/react-query";
import { useCallback } from "react";
import { useCofferCustomer } from "./provider.js";

/** Every query key starts with "coffer"; `cofferKeys` are the ones the hooks use, for your own invalidation. */
export const cofferKeys = {
  all: ["coffer"] as const,
  wallets: () => ["coffer", "wallets"] as const,
  wallet: (walletId: string) => ["coffer", "wallet", walletId] as const,
  transactions: (walletId: string) => ["coffer", "transactions", walletId] as const,
  packages: (currency?: string) => ["coffer", "packages", currency ?? null] as const,
  autoTopUp: (walletId: string) => ["coffer", "auto-topup", walletId] as const,
  paymentMethods: () => ["coffer", "payment-methods"] as const,
  invoices: () => ["coffer", "invoices"] as const,
};

/** The customer's invoices page, as the API answers it (`items` and `pagination`). */
export type CustomerInvoicePage = SuccessOf<"/v1/customer/invoices", "get">;

const MAX_RETRIES = 2;

/**
 * Retried only when nothing may have happened or the call's key makes repeating safe: no answer at all (status 0,
 * `network_error`) or a 503. A 4xx (`not_found`, `payment_failed`, …) is the answer and is shown at once.
 */
export function shouldRetry(failureCount: number, error: CofferError): boolean {
  if (failureCount >= MAX_RETRIES || !(error instanceof CofferError)) return false;
  return (error.status === 0 && error.code === "network_error") || error.status === 503;
}

/** A UUID v4 for one user action; `crypto.randomUUID` where the page is a secure context, else getRandomValues. */
function newKey(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What a keyed mutation runs with: your input and the key made for this one `mutate` call. */
export interface Keyed<TInput> {
  input: TInput;
  idempotencyKey: string;
}

/**
 * A mutation whose `mutate(input)` makes one idempotency key and sends it with every try TanStack makes of that
 * call (so a purchase is charged at most once); a later `mutate` is a new action with a new key. Pass
 * `{ idempotencyKey }` as the second argument's field to use your own.
 */
export type KeyedMutation<TData, TInput> = Omit<
  UseMutationResult<TData, CofferError, Keyed<TInput>>,
  "mutate" | "mutateAsync"
> & {
  mutate: (input: TInput, options?: KeyedMutateOptions<TData, TInput>) => void;
  mutateAsync: (input: TInput, options?: KeyedMutateOptions<TData, TInput>) => Promise<TData>;
};

export type KeyedMutateOptions<TData, TInput> = MutateOptions<TData, CofferError, Keyed<TInput>> & {
  idempotencyKey?: string;
};

function useKeyedMutation<TData, TInput>(
  run: (keyed: Keyed<TInput>) => Promise<TData>,
  invalidate: (queryClient: QueryClient) => Promise<unknown>,
): KeyedMutation<TData, TInput> {
  const queryClient = useQueryClient();
  const mutation = useMutation<TData, CofferError, Keyed<TInput>>({
    mutationFn: run,
    retry: shouldRetry,
    onSettled: () => invalidate(queryClient),
  });
  const { mutate: send, mutateAsync: sendAsync } = mutation;
  const mutate = useCallback(
    (input: TInput, options: KeyedMutateOptions<TData, TInput> = {}) => {
      const { idempotencyKey, ...rest } = options;
      send({ input, idempotencyKey: idempotencyKey ?? newKey() }, rest);
    },
    [send],
  );
  const mutateAsync = useCallback(
    (input: TInput, options: KeyedMutateOptions<TData, TInput> = {}) => {
      const { idempotencyKey, ...rest } = options;
      return sendAsync({ input, idempotencyKey: idempotencyKey ?? newKey() }, rest);
    },
    [sendAsync],
  );
  return { ...mutation, mutate, mutateAsync };
}

/** What a purchase changes: the balance (wallets, wallet), the history and the invoices. */
function invalidatePurchase(queryClient: QueryClient, walletId: string) {
  return Promise.all([
    queryClient.invalidateQueries({ queryKey: cofferKeys.wallets() }),
    queryClient.invalidateQueries({ queryKey: cofferKeys.wallet(walletId) }),
    queryClient.invalidateQueries({ queryKey: cofferKeys.transactions(walletId) }),
    queryClient.invalidateQueries({ queryKey: cofferKeys.invoices() }),
  ]);
}

/** The customer's wallets, with their balances (`credit_balance`, a decimal string). */
export function useWallets(): UseQueryResult<Wallet[], CofferError> {
  const me = useCofferCustomer();
  return useQuery({
    queryKey: cofferKeys.wallets(),
    queryFn: ({ signal }) => me.wallets.list({ signal }),
    retry: shouldRetry,
  });
}

/** One wallet with its open lots and active holds; waits while `walletId` is undefined. */
export function useWallet(walletId: string | undefined): UseQueryResult<CustomerWallet, CofferError> {
  const me = useCofferCustomer();
  return useQuery({
    queryKey: cofferKeys.wallet(walletId ?? ""),
    queryFn: walletId ? ({ signal }) => me.wallets.get(walletId, { signal }) : skipToken,
    retry: shouldRetry,
  });
}

/** The wallet's active holds, from the same query (and cache) as `useWallet`. */
export function useHolds(walletId: string | undefined): UseQueryResult<Hold[], CofferError> {
  const me = useCofferCustomer();
  return useQuery({
    queryKey: cofferKeys.wallet(walletId ?? ""),
    queryFn: walletId ? ({ signal }) => me.wallets.get(walletId, { signal }) : skipToken,
    select: (wallet: CustomerWallet) => wallet.holds,
    retry: shouldRetry,
  });
}

/** The wallet's history, newest first, a page (`limit`, 1 to 100) at a time: `fetchNextPage` follows `next_cursor`. */
export function useTransactions(
  walletId: string | undefined,
  options: { limit?: number } = {},
): UseInfiniteQueryResult<InfiniteData<CustomerTransactionPage, string | undefined>, CofferError> {
  const me = useCofferCustomer();
  const { limit } = options;
  return useInfiniteQuery({
    queryKey: [...cofferKeys.transactions(walletId ?? ""), { limit: limit ?? null }],
    queryFn: walletId
      ? ({ pageParam, signal }: { pageParam: string | undefined; signal: AbortSignal }) =>
          me.wallets.transactions(
            walletId,
            { ...(limit === undefined ? {} : { limit }), ...(pageParam === undefined ? {} : { cursor: pageParam }) },
            { signal },
          )
      : skipToken,
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: CustomerTransactionPage) => last.next_cursor ?? undefined,
    retry: shouldRetry,
  });
}

/** The credit packages on sale, optionally in one currency. */
export function usePackages(options: { currency?: string } = {}): UseQueryResult<CreditPackage[], CofferError> {
  const me = useCofferCustomer();
  const { currency } = options;
  return useQuery({
    queryKey: cofferKeys.packages(currency),
    queryFn: ({ signal }) => me.packages.list(currency === undefined ? {} : { currency }, { signal }),
    retry: shouldRetry,
  });
}

/**
 * Buys a package for the wallet: `outcome` `credits_granted` with a saved card (`payment_method_id`),
 * `payment_action` (send the customer to `payment_action.url`) or `invoice_raised` without one.
 */
export function usePurchasePackage(walletId: string): KeyedMutation<CustomerPurchase, CustomerPurchasePackageInput> {
  const me = useCofferCustomer();
  return useKeyedMutation(
    ({ input, idempotencyKey }) => me.wallets.purchasePackage(walletId, input, { idempotencyKey }),
    (queryClient) => invalidatePurchase(queryClient, walletId),
  );
}

/** Buys credits for `amount` (money): charged to a saved card, or `payment_action` with the checkout's URL. */
export function useTopUp(walletId: string): KeyedMutation<CustomerPurchase, CustomerTopUpInput> {
  const me = useCofferCustomer();
  return useKeyedMutation(
    ({ input, idempotencyKey }) => me.wallets.topUp(walletId, input, { idempotencyKey }),
    (queryClient) => invalidatePurchase(queryClient, walletId),
  );
}

export interface UseAutoTopUpResult {
  /** The saved settings, and whether the merchant offers automatic top-up at all (`offered`). */
  settings: UseQueryResult<CustomerAutoTopUp, CofferError>;
  /** Saves them (403 `not_allowed` when not offered); `topping_up_now` when saving started a top-up. */
  save: KeyedMutation<CustomerAutoTopUpChange, CustomerAutoTopUpInput>;
  /** Whether saving these settings would start a top-up now (`would_top_up_now`); saves nothing. */
  preview: (settings: CustomerAutoTopUpInput) => Promise<AutoTopUpPreview>;
}

/** The wallet's automatic top-up: its settings, a save mutation and a preview. */
export function useAutoTopUp(walletId: string): UseAutoTopUpResult {
  const me = useCofferCustomer();
  const settings = useQuery({
    queryKey: cofferKeys.autoTopUp(walletId),
    queryFn: ({ signal }) => me.wallets.autoTopUp.get(walletId, { signal }),
    retry: shouldRetry,
  });
  const save = useKeyedMutation<CustomerAutoTopUpChange, CustomerAutoTopUpInput>(
    ({ input, idempotencyKey }) => me.wallets.autoTopUp.set(walletId, input, { idempotencyKey }),
    (queryClient) =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: cofferKeys.autoTopUp(walletId) }),
        invalidatePurchase(queryClient, walletId), // saving may have started a top-up
      ]),
  );
  const preview = useCallback(
    (input: CustomerAutoTopUpInput) => me.wallets.autoTopUp.preview(walletId, input),
    [me, walletId],
  );
  return { settings, save, preview };
}

export type UsePaymentMethodsResult = UseQueryResult<PaymentMethod[], CofferError> & {
  /** Removes a saved card (by id); the list is read again after. */
  detach: UseMutationResult<void, CofferError, string>;
};

/** The customer's saved cards, and a mutation to detach one. */
export function usePaymentMethods(): UsePaymentMethodsResult {
  const me = useCofferCustomer();
  const queryClient = useQueryClient();
  const query = useQuery({
    queryKey: cofferKeys.paymentMethods(),
    queryFn: ({ signal }) => me.paymentMethods.list({ signal }),
    retry: shouldRetry,
  });
  const detach = useMutation<void, CofferError, string>({
    mutationFn: (paymentMethodId) => me.paymentMethods.detach(paymentMethodId),
    retry: shouldRetry,
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: cofferKeys.paymentMethods() }),
        queryClient.invalidateQueries({ queryKey: ["coffer", "auto-topup"] }), // a rule may have used the card
      ]),
  });
  return { ...query, detach } as UsePaymentMethodsResult;
}

export type UseInvoicesResult = UseQueryResult<CustomerInvoicePage, CofferError> & {
  /** The hosted checkout link for what is left to pay on an invoice (by id): send the customer to `url`. */
  pay: UseMutationResult<PaymentAction, CofferError, string>;
};

/** The customer's invoices, newest first (`limit`, `offset`), and a mutation for an invoice's payment link. */
export function useInvoices(query: CustomerInvoicesQuery = {}): UseInvoicesResult {
  const me = useCofferCustomer();
  const queryClient = useQueryClient();
  const invoices = useQuery({
    queryKey: [...cofferKeys.invoices(), query],
    queryFn: ({ signal }) => me.invoices.list(query, { signal }),
    retry: shouldRetry,
  });
  const pay = useMutation<PaymentAction, CofferError, string>({
    mutationFn: (invoiceId) => me.invoices.pay(invoiceId),
    retry: shouldRetry,
    onSettled: () => queryClient.invalidateQueries({ queryKey: cofferKeys.invoices() }),
  });
  return { ...invoices, pay } as UseInvoicesResult;
}
