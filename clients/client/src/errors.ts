/** The error every failed call throws: the API's error envelope, or a connection that never answered. */
export class CofferError extends Error {
  /** The HTTP status; 0 when no response arrived (`code` is then `network_error`). */
  readonly status: number;
  /** The API's stable machine-readable code, e.g. `insufficient_balance`, `not_found`, `outcome_unknown`. */
  readonly code: string;
  /** The envelope's `details`, as the API sent it (often null). */
  readonly details: unknown;
  /** The envelope's `internal_error`, when the API sent one. */
  readonly internalError: string | null;
  /** The idempotency key the request carried: retry the same call with it to apply the change at most once. */
  readonly idempotencyKey: string | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: unknown;
    internalError?: string | null;
    idempotencyKey?: string | undefined;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "CofferError";
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? null;
    this.internalError = init.internalError ?? null;
    this.idempotencyKey = init.idempotencyKey;
  }
}

interface Envelope {
  success: false;
  error: { message: string; code: string; internal_error?: string | null; details?: unknown };
}

function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== "object" || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    typeof (error as { message?: unknown }).message === "string"
  );
}

/** The error for a response that is not a success: the envelope when the body is one, else the bare status. */
export function errorFromResponse(status: number, text: string, idempotencyKey: string | undefined): CofferError {
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isEnvelope(body)) {
    return new CofferError({
      status,
      code: body.error.code,
      message: body.error.message,
      details: body.error.details,
      internalError: body.error.internal_error ?? null,
      idempotencyKey,
    });
  }
  return new CofferError({
    status,
    code: "unexpected_response",
    message: `Coffer answered ${status} without an error envelope`,
    details: text === "" ? null : text.slice(0, 500),
    idempotencyKey,
  });
}
