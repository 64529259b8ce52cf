// The outcome event a settled record tells its producer about (contract v1), built from what
// became of the record; pure.
import type { SQSRecord } from "aws-lambda";
import {
  OUTCOME_DETAIL_TYPES,
  outcomeKindOf,
  type ResetOutcomeDetail,
} from "../outcome/outcome-event.ts";
import { receiveCountOf } from "../redelivery/receive-count.ts";
import { deliveryTarget } from "./delivery.ts";
import type { RecordOutcome } from "./record-outcome.ts";

/** A settled outcome: a retry tells producers nothing, it is not an outcome yet. */
export type SettledOutcome = Exclude<RecordOutcome, { status: "retry" }>;

export interface OutcomeEvent {
  readonly detailType: (typeof OUTCOME_DETAIL_TYPES)[keyof typeof OUTCOME_DETAIL_TYPES];
  readonly detail: ResetOutcomeDetail;
}

export function outcomeEventOf(
  record: SQSRecord,
  outcome: SettledOutcome,
  settledAt: Date,
): OutcomeEvent {
  const event = outcome.event;
  const resolved =
    outcome.status === "applied"
      ? { alias: outcome.applied.alias, objectId: outcome.applied.objectId }
      : (outcome.effects?.user ?? event?.user);
  const kind = outcome.status === "applied" ? "applied" : outcomeKindOf(outcome.code);
  const eventId =
    event?.eventId ?? (outcome.status === "dead-lettered" ? outcome.eventId : undefined);
  const deliveredTo =
    outcome.status === "applied" && event !== undefined ? deliveryTarget(event) : undefined;
  const detail: ResetOutcomeDetail = {
    version: 1,
    ...(eventId === undefined ? {} : { eventId }),
    sourceMessageId: record.messageId,
    ...definedOnly({
      ticketId: event?.ticketId,
      requestedBy: event?.requestedBy,
      source: event?.source,
      action: event?.action,
      cluster: event?.cluster,
    }),
    ...(resolved === undefined ? {} : { user: resolved }),
    outcome: kind,
    ...(outcome.status === "dead-lettered"
      ? { errorCode: outcome.code, reason: outcome.reason }
      : {}),
    fieldsChanged:
      outcome.status === "applied"
        ? (outcome.applied.fieldsChanged ?? [])
        : (outcome.effects?.changed ?? []),
    ...(deliveredTo === undefined ? {} : { deliveredTo }),
    ...(outcome.status === "applied" ? { appliedAt: outcome.applied.appliedAt } : {}),
    ...(event === undefined ? {} : { occurredAt: event.occurredAt }),
    settledAt: settledAt.toISOString(),
    receiveCount: receiveCountOf(record),
    duplicate: outcome.status === "applied" && outcome.applied.duplicate,
  };
  return { detailType: OUTCOME_DETAIL_TYPES[kind], detail };
}

function definedOnly(fields: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
