import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { ConcurrencyLimiter } from "../cupi/limiter.ts";
import type { DeadLetterQueue } from "../deadletter/dead-letter-queue.ts";
import { TransientFailure } from "./outcome.ts";
import { processRecordBody, type RecordOutcome, type ResetDependencies } from "./process-record.ts";

export interface ResetHandlerDependencies extends ResetDependencies {
  readonly deadLetters: DeadLetterQueue;
  readonly logger: Logger;
}

/**
 * The SQS batch handler. Each record is applied, dead-lettered (permanent failure, then counted as
 * handled) or reported in `batchItemFailures` (transient: SQS redelivers it, and its redrive
 * policy dead-letters it after maxReceiveCount). A record is never dropped: if even the DLQ send
 * fails, the record is reported as failed.
 */
export function createResetHandler(dependencies: ResetHandlerDependencies) {
  const { config, logger } = dependencies;
  const processor = new BatchProcessor(EventType.SQS);

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const lambdaDeadline = Date.now() + context.getRemainingTimeInMillis();
    // CUPI calls stop here; what is left covers the DLQ send and returning the response.
    const workDeadline = lambdaDeadline - config.deadlineSafetyMs;
    const guardDeadline = lambdaDeadline - config.deadlineSafetyMs / 2;
    // Records wait for a slot rather than all starting at once, so the time check below is
    // made when a record really starts.
    const slots = new ConcurrencyLimiter(config.cupiMaxInFlight);

    const handleRecord = (record: SQSRecord): Promise<void> =>
      slots.run(async () => {
        const remaining = workDeadline - Date.now();
        if (remaining < config.recordMinTimeMs) {
          logRecord(
            logger,
            record,
            { status: "retry", reason: "not started", event: undefined },
            0,
          );
          throw new TransientFailure(`not started: ${Math.max(0, remaining)} ms left`);
        }
        const started = Date.now();
        const outcome = await beforeDeadline(
          settle(record, workDeadline, dependencies),
          guardDeadline,
        );
        logRecord(logger, record, outcome, Date.now() - started);
        if (outcome.status === "retry") throw new TransientFailure(outcome.reason);
      });

    // Powertools 2.35's response() is empty after a full-batch failure when it throws
    // (powertools-lambda-typescript#5624); not throwing keeps every failed record reported.
    return processPartialResponse(event, handleRecord, processor, {
      context,
      throwOnFullBatchFailure: false,
    });
  };
}

/** Applies a record and, for a permanent failure, writes it to the DLQ. */
async function settle(
  record: SQSRecord,
  deadline: number,
  { deadLetters, ...dependencies }: ResetHandlerDependencies,
): Promise<RecordOutcome> {
  const outcome = await processRecordBody(record.body, deadline, dependencies);
  if (outcome.status !== "dead-lettered") return outcome;
  try {
    await deadLetters.send({
      body: record.body,
      errorCode: outcome.code,
      errorMessage: outcome.reason,
      sourceMessageId: record.messageId,
      receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      eventId: outcome.eventId,
      source: outcome.event?.source,
      action: outcome.event?.action,
    });
    return outcome;
  } catch (error) {
    return {
      status: "retry",
      reason: `DLQ send failed (${error instanceof Error ? error.name : "unknown"}) for ${outcome.code}`,
      event: outcome.event,
    };
  }
}

/** Lambda kills a function at its timeout; returning first lets SQS redeliver what is unfinished. */
async function beforeDeadline(
  work: Promise<RecordOutcome>,
  deadline: number,
): Promise<RecordOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<RecordOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: "retry", reason: "abandoned at the deadline", event: undefined }),
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
  if (outcome.status === "applied") logger.info("credential reset applied", fields);
  else if (outcome.status === "dead-lettered") logger.warn("record dead-lettered", fields);
  else logger.warn("record will be retried", fields);
}
