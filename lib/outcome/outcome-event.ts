// Outcome event contract v1: what producers are told became of each event they sent.
import type { CredentialKind } from "../cupi/types.ts";
import type { ErrorCode } from "./failures.ts";

/** The EventBridge `Source` of every outcome event. */
export const OUTCOME_SOURCE = "cupi-reset";

/** The EventBridge `DetailType` of each kind of outcome. Producers route on these: never rename. */
export const OUTCOME_DETAIL_TYPES = {
  applied: "Credential Reset Applied",
  failed: "Credential Reset Failed",
  refused: "Credential Reset Refused",
} as const;

export type OutcomeKind = keyof typeof OUTCOME_DETAIL_TYPES;

/**
 * Codes of events this service refused by its own rules (an action not allowed, an event older
 * than one already applied); every other dead-letter code is a failure.
 */
const REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set(["ACTION_NOT_ALLOWED", "STALE_EVENT"]);

export function outcomeKindOf(errorCode: ErrorCode): Exclude<OutcomeKind, "applied"> {
  return REFUSAL_CODES.has(errorCode) ? "refused" : "failed";
}

/** The CUPI field names one PUT changed on one credential; never their values. */
export interface FieldsChanged {
  readonly credential: CredentialKind;
  readonly fields: readonly string[];
}

/**
 * The `Detail` of an outcome event (`schemas/reset-outcome.v1.schema.json`). Fields the event
 * did not carry (or an unparseable body could not tell) are absent, never null. Never a value.
 */
export interface ResetOutcomeDetail {
  readonly version: 1;
  /** Absent only when the body was unparseable: `sourceMessageId` then says which message. */
  readonly eventId?: string;
  /** The SQS message id of this delivery (it changes on redrive and replay). */
  readonly sourceMessageId: string;
  readonly ticketId?: string;
  readonly requestedBy?: string;
  readonly source?: string;
  readonly action?: string;
  readonly cluster?: string;
  /** As CUPI resolved the user, or as the event named it when it never got that far. */
  readonly user?: { readonly alias?: string; readonly objectId?: string };
  readonly outcome: OutcomeKind;
  readonly errorCode?: ErrorCode;
  readonly reason?: string;
  readonly fieldsChanged: readonly FieldsChanged[];
  /** The secret a generated value was delivered to (applied outcomes only). */
  readonly deliveredTo?: string;
  /** When CUC took the change (applied outcomes; the first delivery's time on a duplicate). */
  readonly appliedAt?: string;
  /** The event's own `occurredAt`. */
  readonly occurredAt?: string;
  /** When this delivery settled. */
  readonly settledAt: string;
  readonly receiveCount: number;
  /** This delivery found the event already applied: the change was made once, earlier. */
  readonly duplicate: boolean;
}
