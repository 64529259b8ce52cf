// What became of a record, and what an attempt changed: the vocabulary of the reset pipeline.
import type { ResetEvent } from "../events/contract.ts";
import type { Conflict, ErrorCode } from "../outcome/failures.ts";
import type { FieldsChanged } from "../outcome/outcome-event.ts";

export type { FieldsChanged };

/** What is remembered of an applied event; a duplicate delivery gets it back unchanged. */
export interface AppliedReset {
  readonly objectId: string;
  readonly alias: string;
  readonly appliedAt: string;
  /**
   * What the event changed, kept so a duplicate delivery can report it again. Absent in records
   * written before it was kept.
   */
  readonly fieldsChanged?: readonly FieldsChanged[];
  /** True when this delivery was a duplicate of an event already applied. */
  readonly duplicate: boolean;
}

/**
 * What an attempt learnt and did, for the audit record: filled in as it goes, so that a failure
 * after a first PUT (an offboard whose password is refused) still says what was changed.
 */
export interface AttemptEffects {
  user: { readonly alias: string; readonly objectId: string } | undefined;
  /** Changes this delivery made or found made by an earlier delivery of the event. */
  readonly changed: FieldsChanged[];
  /**
   * Every change is in the attempt log: if this delivery ends in a retry, the delivery that
   * settles the event finds them there and audits them, so this one does not.
   */
  recorded: boolean;
}

/** What became of a record; every record ends in exactly one of these. */
export type RecordOutcome =
  | {
      readonly status: "applied";
      readonly event: ResetEvent;
      readonly applied: AppliedReset;
      readonly effects?: AttemptEffects;
    }
  | {
      readonly status: "dead-lettered";
      readonly code: ErrorCode;
      readonly reason: string;
      readonly event: ResetEvent | undefined;
      readonly eventId: string | undefined;
      readonly effects?: AttemptEffects;
    }
  | {
      readonly status: "retry";
      readonly reason: string;
      readonly event: ResetEvent | undefined;
      readonly effects?: AttemptEffects;
      /** CUC is known to be unavailable: the next try waits the longest backoff. */
      readonly cucUnavailable?: boolean;
      /** The deployment is at fault, not the event (see TransientFailure.deploymentFault). */
      readonly deploymentFault?: boolean;
      /** Another delivery held the event or the credential (see TransientFailure.conflict). */
      readonly conflict?: Conflict;
      /** The source over its budget of changes per hour (see TransientFailure.heldBy). */
      readonly heldBy?: string;
      /** How long the record stays hidden before its next receive, once that is set. */
      readonly retryInSeconds?: number;
    };

/** Hears of an event applied by this delivery (never of a duplicate). */
export type OnApplied = (outcome: Extract<RecordOutcome, { status: "applied" }>) => void;
