// The log line of each settled record, and its audit record when it changed or refused something.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSRecord } from "aws-lambda";
import { receiveCountOf } from "../redelivery/receive-count.ts";
import type { RecordOutcome } from "./record-outcome.ts";

export function logRecord(
  logger: Logger,
  record: SQSRecord,
  outcome: RecordOutcome,
  durationMs: number,
): void {
  const event = outcome.event;
  const fields = {
    messageId: record.messageId,
    receiveCount: receiveCountOf(record),
    eventId: event?.eventId ?? (outcome.status === "dead-lettered" ? outcome.eventId : undefined),
    ticketId: event?.ticketId,
    source: event?.source,
    action: event?.action,
    user:
      event === undefined
        ? undefined
        : "alias" in event.user
          ? event.user.alias
          : event.user.objectId,
    cluster: event?.cluster,
    outcome: outcome.status,
    durationMs,
    ...(outcome.status === "applied" ? {} : { reason: outcome.reason }),
    ...(outcome.status === "dead-lettered" ? { errorCode: outcome.code } : {}),
    ...(outcome.status === "retry" && outcome.retryInSeconds !== undefined
      ? { retryInSeconds: outcome.retryInSeconds }
      : {}),
  };
  if (outcome.status === "applied") {
    logger.info(
      outcome.applied.duplicate ? "duplicate of an applied event" : "credential reset applied",
      { ...fields, duplicate: outcome.applied.duplicate },
    );
  } else if (outcome.status === "dead-lettered") logger.warn("record dead-lettered", fields);
  else logger.warn("record will be retried", fields);
  // An applied event was audited as it was applied (logAudit), before it was remembered.
  if (outcome.status !== "applied") logAudit(logger, record, outcome);
}

/** The audit record of an outcome, if it changed or refused something. */
export function logAudit(logger: Logger, record: SQSRecord, outcome: RecordOutcome): void {
  const audit = auditRecord(record, outcome);
  if (audit !== undefined) logger.info("audit", audit);
}

/**
 * The audit record of an applied or refused action, marked `"audit": true` for a CloudWatch Logs
 * subscription filter (`{ $.audit IS TRUE }`). It names who asked, the target and the CUPI fields
 * changed, never a value. A duplicate delivery changes nothing and was audited when applied; a
 * retried record is audited only when it changed something before failing, so no change to CUC
 * goes unrecorded; but one whose changes are in the attempt log is not: the delivery that settles
 * the event finds them there and audits them, so each change is audited once.
 */
function auditRecord(
  record: SQSRecord,
  outcome: RecordOutcome,
): Record<string, unknown> | undefined {
  const changed = outcome.effects?.changed ?? [];
  if (outcome.status === "applied" && outcome.applied.duplicate) return undefined;
  if (outcome.status === "retry" && (changed.length === 0 || outcome.effects?.recorded === true)) {
    return undefined;
  }
  const event = outcome.event;
  const resolved = outcome.effects?.user;
  return {
    audit: true,
    eventId: event?.eventId ?? (outcome.status === "dead-lettered" ? outcome.eventId : undefined),
    sourceMessageId: record.messageId,
    source: event?.source,
    requestedBy: event?.requestedBy,
    ticketId: event?.ticketId,
    cluster: event?.cluster,
    action: event?.action,
    targetUser: resolved ?? event?.user,
    fieldsChanged: changed,
    outcome:
      outcome.status === "dead-lettered" && outcome.code === "ACTION_NOT_ALLOWED"
        ? "refused"
        : outcome.status,
    ...(outcome.status === "applied" ? {} : { reason: outcome.reason }),
    ...(outcome.status === "dead-lettered" ? { errorCode: outcome.code } : {}),
  };
}
