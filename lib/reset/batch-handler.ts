import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { ServiceConfig } from "../config/config.ts";
import { ConcurrencyLimiter, type LimiterReport, limiterReports } from "../cupi/limiter.ts";
import type { DeadLetterQueue } from "../deadletter/dead-letter-queue.ts";
import type { ResetEvent } from "../events/contract.ts";
import { type ParsedRecord, parseRecordBody } from "../events/parse.ts";
import { TransientFailure } from "./outcome.ts";
import type { RecordOutcome, ResetProcessor } from "./process-record.ts";

export interface ResetHandlerDependencies {
  readonly config: ServiceConfig;
  readonly processor: ResetProcessor;
  /** Only `send`: the wiring loads the DLQ's SQS client on the first dead letter. */
  readonly deadLetters: Pick<DeadLetterQueue, "send">;
  readonly logger: Logger;
}

/**
 * The SQS batch handler. Each record is applied, dead-lettered (permanent failure, then counted as
 * handled) or reported in `batchItemFailures` (transient: SQS redelivers it, and its redrive
 * policy dead-letters it after maxReceiveCount). A record is never dropped: if even the DLQ send
 * fails, the record is reported as failed.
 */
export function createResetHandler(dependencies: ResetHandlerDependencies) {
  const { config, logger, processor } = dependencies;

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    processor.registerLambdaContext(context);
    const lambdaDeadline = Date.now() + context.getRemainingTimeInMillis();
    // CUPI calls stop here; what is left covers the DLQ send and returning the response.
    const workDeadline = lambdaDeadline - config.deadlineSafetyMs;
    const guardDeadline = lambdaDeadline - config.deadlineSafetyMs / 2;
    // Records wait for a slot rather than all starting at once, so the time check below is
    // made when a record really starts.
    const slots = new ConcurrencyLimiter(config.recordConcurrency);

    const handleRecord = (record: SQSRecord): Promise<void> =>
      slots.run(async () => {
        const parsed = parseRecordBody(record.body);
        const remaining = workDeadline - Date.now();
        if (remaining < config.recordMinTimeMs) {
          const reason = `not started: ${Math.max(0, remaining)} ms left in this invocation`;
          logRecord(logger, record, { status: "retry", reason, event: eventOf(parsed) }, 0);
          throw new TransientFailure(reason);
        }
        const started = Date.now();
        // One slow record must not use up the time of the records queued behind it.
        const recordDeadline = Math.min(workDeadline, started + config.recordTimeoutMs);
        const outcome = await beforeDeadline(
          settle(record, parsed, recordDeadline, guardDeadline, dependencies),
          eventOf(parsed),
          guardDeadline,
        );
        logRecord(logger, record, outcome, Date.now() - started);
        if (outcome.status === "retry") throw new TransientFailure(outcome.reason);
      });

    const throttleBefore = limiterReports();
    try {
      // Powertools 2.35's response() is empty after a full-batch failure when it throws
      // (powertools-lambda-typescript#5624, fix not yet released); not throwing keeps every
      // failed record reported. A processor per invocation: it holds the batch's state.
      if (isFifo(event)) {
        // A FIFO queue (MessageGroupId = user) keeps each user's events in order: records run
        // one by one, and a failed record fails only the rest of its own group.
        return await processPartialResponse(
          event,
          handleRecord,
          new SqsFifoPartialProcessorAsync(),
          { context, skipGroupOnError: true, throwOnFullBatchFailure: false },
        );
      }
      return await processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
        context,
        throwOnFullBatchFailure: false,
      });
    } finally {
      logThrottling(logger, throttleBefore, limiterReports());
    }
  };
}

/**
 * One warning per invocation in which CUC turned requests away (503), with what the adaptive
 * limit made of it: operators see a crowded CUC (administrators, other tools, too many
 * containers) without reading every record's log.
 */
function logThrottling(
  logger: Logger,
  before: readonly LimiterReport[],
  after: readonly LimiterReport[],
): void {
  const hosts = after.flatMap((report) => {
    const previous = before.find((candidate) => candidate.origin === report.origin);
    const throttled = report.throttled - (previous?.throttled ?? 0);
    if (throttled === 0) return [];
    return [
      {
        origin: report.origin,
        throttled,
        served: report.served - (previous?.served ?? 0),
        pauses: report.pauses - (previous?.pauses ?? 0),
        limit: report.limit,
        maxInFlight: report.maxInFlight,
        ...(report.pausedUntil > Date.now()
          ? { pausedUntil: new Date(report.pausedUntil).toISOString() }
          : {}),
      },
    ];
  });
  if (hosts.length > 0) {
    logger.warn("CUC turned requests away (503): the adaptive limit backed off", {
      cupiThrottle: hosts,
    });
  }
}

/** The smallest share of an invocation's time a DLQ send is started with. */
const MIN_DEAD_LETTER_TIME_MS = 1_000;

/** Applies a record and, for a permanent failure, writes it to the DLQ. */
async function settle(
  record: SQSRecord,
  parsed: ParsedRecord,
  deadline: number,
  guardDeadline: number,
  { deadLetters, processor }: ResetHandlerDependencies,
): Promise<RecordOutcome> {
  const outcome = await processor.processParsed(parsed, deadline);
  if (outcome.status !== "dead-lettered") return outcome;
  const remaining = guardDeadline - Date.now();
  if (remaining < MIN_DEAD_LETTER_TIME_MS) {
    return {
      status: "retry",
      reason: `no time left to dead-letter ${outcome.code}`,
      event: outcome.event,
    };
  }
  try {
    await deadLetters.send(
      {
        body: record.body,
        errorCode: outcome.code,
        errorMessage: outcome.reason,
        sourceMessageId: record.messageId,
        receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
        eventId: outcome.eventId,
        source: outcome.event?.source,
        action: outcome.event?.action,
        replayCount: record.messageAttributes.replayCount?.stringValue,
      },
      AbortSignal.timeout(remaining),
    );
    return outcome;
  } catch (error) {
    return {
      status: "retry",
      reason: `DLQ send failed (${error instanceof Error ? error.name : "unknown"}) for ${outcome.code}`,
      event: outcome.event,
    };
  }
}

function isFifo(event: SQSEvent): boolean {
  return event.Records[0]?.eventSourceARN.endsWith(".fifo") ?? false;
}

function eventOf(parsed: ParsedRecord): ResetEvent | undefined {
  return parsed.ok ? parsed.event : undefined;
}

/** Lambda kills a function at its timeout; returning first lets SQS redeliver what is unfinished. */
async function beforeDeadline(
  work: Promise<RecordOutcome>,
  event: ResetEvent | undefined,
  deadline: number,
): Promise<RecordOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<RecordOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: "retry", reason: "abandoned at the deadline", event }),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function logRecord(
  logger: Logger,
  record: SQSRecord,
  outcome: RecordOutcome,
  durationMs: number,
): void {
  const event = outcome.event;
  const fields = {
    messageId: record.messageId,
    receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
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
  };
  if (outcome.status === "applied") {
    logger.info(
      outcome.applied.duplicate ? "duplicate of an applied event" : "credential reset applied",
      { ...fields, duplicate: outcome.applied.duplicate },
    );
  } else if (outcome.status === "dead-lettered") logger.warn("record dead-lettered", fields);
  else logger.warn("record will be retried", fields);
  const audit = auditRecord(record, outcome);
  if (audit !== undefined) logger.info("audit", audit);
}

/**
 * The audit record of an applied or refused action, marked `"audit": true` for a CloudWatch Logs
 * subscription filter (`{ $.audit IS TRUE }`). It names who asked, the target and the CUPI fields
 * changed, never a value. A duplicate delivery changes nothing and was audited when applied; a
 * retried record is audited only when it changed something before failing, so no change to CUC
 * goes unrecorded.
 */
function auditRecord(
  record: SQSRecord,
  outcome: RecordOutcome,
): Record<string, unknown> | undefined {
  const changed = outcome.effects?.changed ?? [];
  if (outcome.status === "applied" && outcome.applied.duplicate) return undefined;
  if (outcome.status === "retry" && changed.length === 0) return undefined;
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
