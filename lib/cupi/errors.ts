/**
 * What went wrong, in terms a caller can act on. `retryable` says whether trying the same request
 * later can succeed; the client itself retries only `busy`, `server`, `timeout` and `network`.
 */
export type CupiErrorKind =
  /** 400: invalid input or a credential-policy rejection; CUPI's reason is kept. */
  | "rejected"
  /** 401 after dropping the session: the caller should refresh the service-account secret once. */
  | "authentication"
  /** 403 / "Not Authorized": the service account's role may not change this user. */
  | "not-permitted"
  /** 404: no such user, or a lookup with no match. */
  | "not-found"
  /**
   * The base URL does not lead to CUPI: the user search answered 404 (CUPI answers an empty list
   * when no user matches), or a 404 came while `/vmrest/version` did not answer as CUPI does. A
   * fault of the deployment, never a missing user: worth retrying once the URL is fixed.
   */
  | "not-cupi"
  /** A lookup matched more than one user exactly. */
  | "ambiguous"
  /** Refused before any request: an unsafe identifier or value. */
  | "invalid-input"
  /** 405, 415, a redirect or an unreadable success: a bug on this side, not worth retrying. */
  | "client-bug"
  /** 503 "Server busy": CUC's request throttle. */
  | "busy"
  /** Another 5xx. */
  | "server"
  /** A connect, header or body timeout, or the caller's deadline. */
  | "timeout"
  /** A reset, refused or dropped connection. */
  | "network"
  /** The CUC certificate is not trusted: a configuration problem that retrying cannot fix. */
  | "tls"
  /**
   * Not sent: this host's circuit breaker is open after repeated `busy`, `server`, `timeout` or
   * `network` failures. Not retried inside the call; retry after the cool-down.
   */
  | "unavailable";

const RETRYABLE_KINDS: ReadonlySet<CupiErrorKind> = new Set([
  "authentication",
  "not-cupi",
  "busy",
  "server",
  "timeout",
  "network",
  "unavailable",
]);

/** Kinds that the client's own backoff loop retries within one call. */
export const RETRIED_IN_CALL: ReadonlySet<CupiErrorKind> = new Set([
  "busy",
  "server",
  "timeout",
  "network",
]);

export interface CupiErrorDetails {
  readonly kind: CupiErrorKind;
  /** What the client was doing, e.g. `updateCredential(pin)`. */
  readonly operation: string;
  readonly status?: number;
  /** CUPI's own error code, when the body had one. */
  readonly cupiCode?: string;
  /** CUPI's own message (already scrubbed of any credential sent), when the body had one. */
  readonly cupiMessage?: string;
  /** How many HTTP attempts were made. */
  readonly attempts?: number;
  /**
   * Whether CUC may have acted on the request although the client saw a failure (a timeout or a
   * lost connection after sending, a 500). False when CUC provably did not: a refused
   * connection, a 503 throttle answer, a 4xx.
   */
  readonly mayHaveTakenEffect?: boolean;
  readonly cause?: unknown;
}

/** The one error type of the CUPI client. Its message never contains a secret. */
export class CupiError extends Error {
  override readonly name = "CupiError";
  readonly kind: CupiErrorKind;
  readonly operation: string;
  readonly status: number | undefined;
  readonly cupiCode: string | undefined;
  readonly cupiMessage: string | undefined;
  readonly attempts: number;
  readonly mayHaveTakenEffect: boolean;
  readonly retryable: boolean;

  readonly #summary: string;
  readonly #details: CupiErrorDetails;

  constructor(summary: string, details: CupiErrorDetails) {
    super(
      `CUPI ${details.operation}: ${summary}`,
      details.cause === undefined ? {} : { cause: details.cause },
    );
    this.#summary = summary;
    this.#details = details;
    this.kind = details.kind;
    this.operation = details.operation;
    this.status = details.status;
    this.cupiCode = details.cupiCode;
    this.cupiMessage = details.cupiMessage;
    this.attempts = details.attempts ?? 1;
    this.mayHaveTakenEffect = details.mayHaveTakenEffect ?? false;
    this.retryable = RETRYABLE_KINDS.has(details.kind);
  }

  /** The same error, recording how many attempts the whole call took. */
  withAttempts(attempts: number): CupiError {
    if (attempts === this.attempts) return this;
    return new CupiError(this.#summary, { ...this.#details, attempts });
  }
}

/** Maps an HTTP error status to a kind, following the CUPI error-handling page. */
export function kindForStatus(status: number, cupiMessage: string | undefined): CupiErrorKind {
  if (status === 401) return "authentication";
  if (status === 403 || (status < 500 && /not authori[sz]ed/i.test(cupiMessage ?? ""))) {
    return "not-permitted";
  }
  if (status === 400) return "rejected";
  if (status === 404) return "not-found";
  if (status === 503) return "busy";
  if (status >= 500) return "server";
  return "client-bug";
}
