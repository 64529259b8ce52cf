// The SQS batch handler: runs a batch's records within the invocation's budget, settles each,
// reports to Lambda the ones to be retried, and to operators what the invocation did.
import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { withAbortSignal } from "../aws/abort-scope.ts";
import type { ServiceConfig } from "../config/config.ts";
import { ConcurrencyLimiter } from "../cupi/limiter.ts";
import type { ResetEvent } from "../events/contract.ts";
import { type ParsedRecord, parseRecordBody } from "../events/parse.ts";
import { TransientFailure } from "../outcome/failures.ts";
import { InvocationBudget } from "./invocation-budget.ts";
import { InvocationReport } from "./invocation-report.ts";
import type { ResetProcessor } from "./process-record.ts";
import { logAudit, logRecord } from "./record-log.ts";
import type { RecordOutcome } from "./record-outcome.ts";
import { type SettlingDependencies, settleRecord } from "./settle-record.ts";

export interface ResetHandlerDependencies
  extends Pick<SettlingDependencies, "deadLetters" | "sourceQueues" | "outcomes"> {
  readonly config: ServiceConfig;
  readonly processor: ResetProcessor;
  readonly logger: Logger;
  /** Prints each invocation's metrics (embedded metric format); none: no metrics. */
  readonly metrics?: Metrics | undefined;
}

/**
 * The SQS batch handler. Each record is applied, dead-lettered (permanent failure, or transient
 * on its last receive; then counted as handled) or reported in `batchItemFailures` (transient:
 * hidden until its retry is due, then redelivered by SQS). A record is never dropped: if even the
 * DLQ send fails, the record is reported as failed.
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
    const report = new InvocationReport(config);

    const handleRecord = (record: SQSRecord): Promise<void> =>
      slots.run(async () => {
        const started = Date.now();
        const parsed = parseRecordBody(record.body);
        const outcome = await untilAbandoned(
          workAndSettle(record, parsed, budget, dependencies),
          eventOf(parsed),
          budget.abandonDeadline,
          logger,
        );
        const durationMs = Date.now() - started;
        logRecord(logger, record, outcome, durationMs);
        report.noteRecord(outcome, durationMs);
        if (outcome.status === "retry") throw new TransientFailure(outcome.reason);
      });

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
      report.end(logger, dependencies.metrics);
    }
  };
}

/**
 * Applies a record within its own deadline and signal (one slow record must not use up the time
 * of the records queued behind it; every AWS and CUPI call of the record is aborted at its
 * deadline), then settles its outcome before the settling deadline.
 */
async function workAndSettle(
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
      processor.processParsed(parsed, deadline, signal, (applied) =>
        logAudit(dependencies.logger, record, applied),
      ),
    );
  }
  return withAbortSignal(budget.settling, () =>
    settleRecord(record, outcome, budget.settleDeadline, {
      ...dependencies,
      retryBackoff: config.retryBackoff,
    }),
  );
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
