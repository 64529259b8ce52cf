import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { withAbortSignal } from "../aws/abort-scope.ts";
import type { ServiceConfig } from "../config/config.ts";
import { ConcurrencyLimiter, limiterReports } from "../cupi/limiter.ts";
import type { DeadLetterQueue } from "../deadletter/dead-letter-queue.ts";
import type { ResetEvent } from "../events/contract.ts";
import { type ParsedRecord, parseRecordBody } from "../events/parse.ts";
import { TransientFailure } from "../outcome/failures.ts";
import { retryDelaySeconds } from "../redelivery/backoff.ts";
import type { SourceQueues } from "../redelivery/source-queue.ts";
import { InvocationBudget } from "./invocation-budget.ts";
import type { RecordOutcome, ResetProcessor } from "./process-record.ts";
import { logRecord } from "./record-log.ts";
import { logThrottling } from "./throttle-report.ts";

export interface ResetHandlerDependencies {
  readonly config: ServiceConfig;
  readonly processor: ResetProcessor;
  /** Only `send`: the wiring loads the SQS client on the first failed record. */
  readonly deadLetters: Pick<DeadLetterQueue, "send">;
  /** Where a record that failed transiently is hidden until its retry is due. */
  readonly sourceQueues: Pick<SourceQueues, "maxReceiveCount" | "hide">;
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
    const budget = new InvocationBudget(context, config);
    // Records wait for a slot rather than all starting at once, so the time check below is
    // made when a record really starts.
    const slots = new ConcurrencyLimiter(config.recordConcurrency);

    const handleRecord = (record: SQSRecord): Promise<void> =>
      slots.run(async () => {
        const started = Date.now();
        const parsed = parseRecordBody(record.body);
        const outcome = await untilAbandoned(
          settle(record, parsed, budget, dependencies),
          eventOf(parsed),
          budget.abandonDeadline,
          logger,
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
      budget.end();
      logThrottling(logger, throttleBefore, limiterReports());
    }
  };
}

/** The smallest share of an invocation's time a DLQ send is started with. */
const MIN_DEAD_LETTER_TIME_MS = 1_000;

/**
 * Applies a record within its own deadline and signal (one slow record must not use up the time
 * of the records queued behind it; every AWS and CUPI call of the record is aborted at its
 * deadline), then settles a failure before the settling deadline: a permanent one, and a
 * transient one on the last receive the redrive policy allows, is dead-lettered with its reason;
 * another transient one is hidden until its retry is due.
 */
async function settle(
  record: SQSRecord,
  parsed: ParsedRecord,
  budget: InvocationBudget,
  dependencies: ResetHandlerDependencies,
): Promise<RecordOutcome> {
  const { config, processor } = dependencies;
  const remaining = budget.workDeadline - Date.now();
  let outcome: RecordOutcome;
  if (remaining < config.recordMinTimeMs) {
    const reason = `not started: ${Math.max(0, remaining)} ms left in this invocation`;
    outcome = { status: "retry", reason, event: eventOf(parsed) };
  } else {
    const { deadline, signal } = budget.startRecord();
    outcome = await withAbortSignal(signal, () =>
      processor.processParsed(parsed, deadline, signal),
    );
  }
  if (outcome.status === "applied") return outcome;
  return withAbortSignal(budget.settling, () =>
    outcome.status === "retry"
      ? retryLater(record, outcome, budget, dependencies)
      : deadLetter(record, outcome, budget, dependencies),
  );
}

type Retry = Extract<RecordOutcome, { status: "retry" }>;
type DeadLettered = Extract<RecordOutcome, { status: "dead-lettered" }>;

/**
 * Retries measured in time, not in receives: the record is hidden for a backoff that grows with
 * its receives (the longest while CUC is unavailable), so a blip costs one short retry and an
 * outage is retried slowly. On the last receive it is dead-lettered as RETRIES_EXHAUSTED with
 * the last reason. If either fails, the record is still reported failed: SQS retries it after the
 * queue's visibility timeout, and the redrive policy stays the safety net.
 */
async function retryLater(
  record: SQSRecord,
  outcome: Retry,
  budget: InvocationBudget,
  dependencies: ResetHandlerDependencies,
): Promise<RecordOutcome> {
  const { config, sourceQueues } = dependencies;
  const receiveCount = receiveCountOf(record);
  try {
    const maxReceiveCount = await sourceQueues.maxReceiveCount(record.eventSourceARN);
    if (maxReceiveCount !== undefined && receiveCount >= maxReceiveCount) {
      return await deadLetter(
        record,
        {
          status: "dead-lettered",
          code: "RETRIES_EXHAUSTED",
          reason: `failed on all ${receiveCount} receives the redrive policy allows; last: ${outcome.reason}`,
          event: outcome.event,
          eventId: outcome.event?.eventId,
          ...(outcome.effects === undefined ? {} : { effects: outcome.effects }),
        },
        budget,
        dependencies,
      );
    }
    const seconds = retryDelaySeconds(
      receiveCount,
      outcome.cucUnavailable === true,
      config.retryBackoff,
    );
    await sourceQueues.hide(record, seconds);
    return { ...outcome, retryInSeconds: seconds };
  } catch (error) {
    const name = error instanceof Error ? error.name : "unknown";
    return { ...outcome, reason: `${outcome.reason}; setting its retry delay failed (${name})` };
  }
}

/** Writes a record to the DLQ; if that cannot be done, it is retried instead. */
async function deadLetter(
  record: SQSRecord,
  outcome: DeadLettered,
  budget: InvocationBudget,
  { deadLetters }: ResetHandlerDependencies,
): Promise<RecordOutcome> {
  const retry = (reason: string): RecordOutcome => ({
    status: "retry",
    reason,
    event: outcome.event,
    ...(outcome.effects === undefined ? {} : { effects: outcome.effects }),
  });
  if (budget.settleDeadline - Date.now() < MIN_DEAD_LETTER_TIME_MS) {
    return retry(`no time left to dead-letter ${outcome.code}`);
  }
  try {
    await deadLetters.send({
      body: record.body,
      errorCode: outcome.code,
      errorMessage: outcome.reason,
      sourceMessageId: record.messageId,
      receiveCount: receiveCountOf(record),
      eventId: outcome.eventId,
      source: outcome.event?.source,
      action: outcome.event?.action,
      replayCount: record.messageAttributes.replayCount?.stringValue,
    });
    return outcome;
  } catch (error) {
    return retry(
      `DLQ send failed (${error instanceof Error ? error.name : "unknown"}) for ${outcome.code}`,
    );
  }
}

function receiveCountOf(record: SQSRecord): number {
  return Number(record.attributes.ApproximateReceiveCount) || 1;
}

function isFifo(event: SQSEvent): boolean {
  return event.Records[0]?.eventSourceARN.endsWith(".fifo") ?? false;
}

function eventOf(parsed: ParsedRecord): ResetEvent | undefined {
  return parsed.ok ? parsed.event : undefined;
}

/**
 * The record's work is aborted at its deadlines and normally ends well before this. Should some
 * call ignore its signal (a bug), the handler still returns before Lambda's timeout would fail the
 * whole batch, and says so loudly: that work may then run on in a later invocation.
 */
async function untilAbandoned(
  work: Promise<RecordOutcome>,
  event: ResetEvent | undefined,
  deadline: number,
  logger: Logger,
): Promise<RecordOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const abandoned = new Promise<RecordOutcome>((resolve) => {
    timer = setTimeout(
      () => {
        logger.error("a record's work did not stop when aborted; returning without it", {
          eventId: event?.eventId,
        });
        resolve({
          status: "retry",
          reason: "abandoned: its work did not stop when aborted",
          event,
        });
      },
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, abandoned]);
  } finally {
    clearTimeout(timer);
  }
}
