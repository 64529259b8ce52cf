// Why a record failed: the error codes producers and operators code against, and the two failure kinds (permanent: DLQ; transient: retried).
/**
 * Why a record was dead-lettered. Producers and operators code against these values: add new ones
 * only, never rename.
 */
export const ERROR_CODES = [
  /** Unparseable, schema violation, plaintext credential, unsafe identifier. */
  "INVALID_EVENT",
  "USER_NOT_FOUND",
  "AMBIGUOUS_USER",
  /** The secret holding the new value (or its key) does not exist or cannot be read. */
  "SECRET_NOT_FOUND",
  /** CUPI answered 400 (CUPI's reason in errorMessage), or the value cannot be sent at all. */
  "CREDENTIAL_REJECTED",
  /** CUPI answered 403: the service account's role may not change this user. */
  "NOT_PERMITTED",
  /** This service's own configuration refuses the event. */
  "ACTION_NOT_ALLOWED",
  /**
   * An event older than the last one applied to the same user and credential, or older than the
   * user's offboarding; both timestamps are in errorMessage.
   */
  "STALE_EVENT",
  /**
   * Failed transiently on every receive the queue's redrive policy allows (CUC down longer than
   * the retry window, or a deployment fault left unfixed); the last reason is in errorMessage.
   * Replay it once the cause is fixed.
   */
  "RETRIES_EXHAUSTED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure that retrying cannot fix: the record goes to the DLQ with this code and reason. */
export class PermanentFailure extends Error {
  override readonly name = "PermanentFailure";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, reason: string) {
    super(reason);
    this.code = code;
  }
}

/** Two deliveries met: of the same event (idempotency) or over the same credential (ordering). */
export type Conflict = "idempotency" | "ordering";

/** A failure that may pass: the record is reported in batchItemFailures and SQS redelivers it. */
export class TransientFailure extends Error {
  override readonly name = "TransientFailure";
  /** CUC is known to be unavailable (its circuit breaker is open): retry at the long end. */
  readonly cucUnavailable: boolean;
  /**
   * The deployment, not the event, is at fault (a wrong base URL, service account or trust): every
   * event would fail the same way until a person fixes it, so it is retried and reported loudly.
   */
  readonly deploymentFault: boolean;
  /** Another delivery held what this one needed: it retries once that one is done. */
  readonly conflict: Conflict | undefined;
  /**
   * The source that sent the event has used its budget of changes for the hour: the event is
   * held (retried at the long end of the backoff) until there is room or an operator lifts it.
   */
  readonly heldBy: string | undefined;

  constructor(
    reason: string,
    options: {
      readonly cucUnavailable?: boolean;
      readonly deploymentFault?: boolean;
      readonly conflict?: Conflict;
      readonly heldBy?: string;
    } = {},
  ) {
    super(reason);
    this.cucUnavailable = options.cucUnavailable ?? false;
    this.deploymentFault = options.deploymentFault ?? false;
    this.conflict = options.conflict;
    this.heldBy = options.heldBy;
  }
}
