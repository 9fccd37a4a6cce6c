// The one HTTP path of every call: URL building, credentials, JSON, retries and errors. The secret-key client and
// the customer (browser) client differ only in their credentials and paths, so both sit on this.
import { CofferError, errorFromResponse } from "./errors.js";
import type { BodyOf, Method, QueryOf, SuccessOf, paths } from "./types.js";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What a request is signed with: `x-api-key` for the secret key, a customer token as a bearer. */
export interface Credentials {
  headers(): Record<string, string> | Promise<Record<string, string>>;
  /**
   * Asked once after a 401 `unauthorized` (which ran nothing): headers to send the same call once more with, or
   * undefined when there is nothing fresher. Credentials that cannot go stale (a secret key) have none.
   */
  renew?(): Promise<Record<string, string> | undefined>;
}

export interface TransportOptions {
  baseUrl: string;
  credentials: Credentials;
  fetch?: FetchLike | undefined;
  maxRetries?: number | undefined;
}

/** Retries after a failure that changed nothing or that a key makes safe to repeat; never more than this. */
export const MAX_RETRIES = 2;
const RETRY_DELAYS_MS: readonly [number, number] = [150, 400]; // before the first and the second retry
const RETRY_JITTER_MS = 100;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * How a call may be repeated. `safe`: a read, or a change carrying an idempotency key, so repeating it applies the
 * change at most once. `unsafe`: a change without a key, repeated only when the API says nothing was changed.
 */
type RetryMode = "safe" | "unsafe";

export interface Call<P extends keyof paths, M extends Method> {
  params?: Record<string, string>;
  query?: QueryOf<P, M> | undefined;
  body?: Partial<BodyOf<P, M>>;
  /** The call's key, and where the operation reads it: the body's `idempotency_key` or the `Idempotency-Key` header. */
  idempotency?: { key: string; in: "body" | "header" };
  signal?: AbortSignal | undefined;
}

export class Transport {
  private readonly baseUrl: string;
  private readonly credentials: Credentials;
  private readonly fetch: FetchLike;
  private readonly maxRetries: number;

  constructor(options: TransportOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`baseUrl must be an absolute URL, got ${JSON.stringify(options.baseUrl)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("baseUrl must be http or https");
    const maxRetries = options.maxRetries ?? MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_RETRIES) {
      throw new RangeError(`maxRetries must be an integer from 0 to ${MAX_RETRIES}`);
    }
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.credentials = options.credentials;
    // Called through a closure: a browser's fetch throws when invoked with another `this`.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.maxRetries = maxRetries;
  }

  async request<P extends keyof paths, M extends Method>(
    method: M,
    path: P,
    call: Call<P, M> = {},
  ): Promise<SuccessOf<P, M>> {
    const url = this.url(path, call.params ?? {}, call.query);
    const key = call.idempotency?.key;
    const mode: RetryMode = method === "get" || key !== undefined ? "safe" : "unsafe";
    const signed = await this.credentials.headers();
    let body: string | undefined;
    const extra: Record<string, string> = {};
    if (call.body !== undefined || call.idempotency?.in === "body") {
      extra["content-type"] = "application/json";
      body = JSON.stringify(call.idempotency?.in === "body" ? { ...call.body, idempotency_key: key } : call.body);
    }
    if (call.idempotency?.in === "header") extra["idempotency-key"] = call.idempotency.key;
    const init: RequestInit = {
      method: method.toUpperCase(),
      headers: { accept: "application/json", ...signed, ...extra },
      ...(body === undefined ? {} : { body }),
    };
    if (call.signal) init.signal = call.signal;

    let retries = 0;
    let renewed = false;
    for (;;) {
      const canRetry = retries < this.maxRetries;
      let status: number;
      let text: string;
      try {
        const response = await this.fetch(url, init);
        status = response.status;
        // A body lost while being read is a lost answer too: with a key the change is safe to ask for again.
        text = await response.text();
      } catch (cause) {
        if (call.signal?.aborted) throw cause;
        if (canRetry && mode === "safe") {
          await pause(retries++, call.signal);
          continue;
        }
        throw new CofferError({
          status: 0,
          code: "network_error",
          message: `no answer from ${this.baseUrl}: ${cause instanceof Error ? cause.message : String(cause)}`,
          idempotencyKey: key,
          cause,
        });
      }
      if (status >= 200 && status < 300) return parseSuccess(status, text, key) as SuccessOf<P, M>;
      const error = errorFromResponse(status, text, key);
      // A refused credential ran nothing: the same call (same key) goes once more with fresh credentials, if any.
      if (error.status === 401 && error.code === "unauthorized" && !renewed && this.credentials.renew) {
        renewed = true;
        const fresh = await this.credentials.renew();
        if (fresh !== undefined && !sameHeaders(fresh, signed)) {
          init.headers = { accept: "application/json", ...fresh, ...extra };
          continue;
        }
      }
      if (canRetry && retryable(error, mode)) {
        await pause(retries++, call.signal);
        continue;
      }
      throw error;
    }
  }

  private url(path: string, params: Record<string, string>, query: object | undefined): string {
    const filled = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = params[name];
      if (value === undefined || value === "") throw new TypeError(`${name} is required`);
      return encodeURIComponent(value);
    });
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      for (const one of Array.isArray(value) ? value : [value]) search.append(name, String(one));
    }
    const qs = search.toString();
    return this.baseUrl + filled + (qs === "" ? "" : `?${qs}`);
  }
}

function parseSuccess(status: number, text: string, key: string | undefined): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CofferError({
      status,
      code: "unexpected_response",
      message: `Coffer answered ${status} with a body that is not JSON`,
      idempotencyKey: key,
      cause,
    });
  }
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** 503 `service_unavailable` changed nothing; 503 `outcome_unknown` may have, so only a keyed call repeats it. */
function retryable(error: CofferError, mode: RetryMode): boolean {
  if (error.status !== 503) return false;
  return error.code === "service_unavailable" || (error.code === "outcome_unknown" && mode === "safe");
}

function pause(attempt: number, signal: AbortSignal | undefined): Promise<void> {
  const ms = (RETRY_DELAYS_MS[attempt] ?? RETRY_DELAYS_MS[1]) + Math.random() * RETRY_JITTER_MS;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The caller's key, or a new random one (a UUID v4) for this call and its retries. */
export function idempotencyKey(given: string | undefined): string {
  if (given !== undefined) {
    if (typeof given !== "string" || given.length === 0 || given.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      throw new TypeError(`idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    }
    return given;
  }
  const crypto = globalThis.crypto;
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // Browsers offer randomUUID only in secure contexts; getRandomValues everywhere.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
