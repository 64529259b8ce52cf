// What becomes of a record once its work has ended: the one place each record's fate is sealed.
import type { SQSRecord } from "aws-lambda";
import type { DeadLetterQueue } from "../deadletter/dead-letter-queue.ts";
import type { OutcomePublisher } from "../eventbridge/outcome-publisher.ts";
import { type RetryBackoff, retryDelaySeconds } from "../redelivery/backoff.ts";
import { receiveCountOf } from "../redelivery/receive-count.ts";
import type { SourceQueues } from "../redelivery/source-queue.ts";
import { outcomeEventOf, type SettledOutcome } from "./outcome-detail.ts";
import type { RecordOutcome } from "./record-outcome.ts";

export interface SettlingDependencies {
  readonly retryBackoff: RetryBackoff;
  /** Only `send`: the wiring loads the SQS client on the first failed record. */
  readonly deadLetters: Pick<DeadLetterQueue, "send">;
  /** Where a record that failed transiently is hidden until its retry is due. */
  readonly sourceQueues: Pick<SourceQueues, "maxReceiveCount" | "hide">;
  /** Where producers learn each settled outcome; none when OUTCOME_EVENT_BUS is unset. */
  readonly outcomes?: Pick<OutcomePublisher, "publish"> | undefined;
}

type Retry = Extract<RecordOutcome, { status: "retry" }>;
type DeadLettered = Extract<RecordOutcome, { status: "dead-lettered" }>;

/** The least time left before the settling deadline that a DLQ send or a publish starts with. */
const MIN_SETTLING_CALL_TIME_MS = 1_000;

/**
 * Settles a record's outcome before `settleDeadline` (epoch ms): an applied record is announced;
 * a permanent failure is announced, then dead-lettered with its reason; a transient one is hidden
 * until its retry is due, or dead-lettered as RETRIES_EXHAUSTED on the last receive its queue's
 * redrive policy allows. Returns what really became of it: a record whose outcome could not be
 * announced, or that could not be dead-lettered or hidden, is a retry, so SQS redelivers it and
 * nothing is dropped. The caller bounds its AWS calls.
 */
export async function settleRecord(
  record: SQSRecord,
  outcome: RecordOutcome,
  settleDeadline: number,
  dependencies: SettlingDependencies,
): Promise<RecordOutcome> {
  switch (outcome.status) {
    case "applied":
      return announceApplied(record, outcome, settleDeadline, dependencies);
    case "dead-lettered":
      return deadLetter(record, outcome, settleDeadline, dependencies);
    case "retry":
      return retryLater(record, outcome, settleDeadline, dependencies);
  }
}

/**
 * Retries measured in time, not in receives: the record is hidden for a backoff that grows with
 * its receives (the longest while CUC is unavailable), so a blip costs one short retry and an
 * outage is retried slowly. If that fails, the record is still reported failed: SQS retries it
 * after the queue's visibility timeout, and the redrive policy stays the safety net.
 */
async function retryLater(
  record: SQSRecord,
  outcome: Retry,
  settleDeadline: number,
  dependencies: SettlingDependencies,
  { applied = false }: { applied?: boolean } = {},
): Promise<RecordOutcome> {
  const { retryBackoff, sourceQueues } = dependencies;
  const receiveCount = receiveCountOf(record);
  try {
    if (await isLastReceive(record, dependencies)) {
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
        settleDeadline,
        dependencies,
        // An applied event is never announced as failed: a replay announces it applied.
        { announce: !applied, lastReceive: true },
      );
    }
    const longest = outcome.cucUnavailable === true || outcome.heldBy !== undefined;
    const seconds = retryDelaySeconds(receiveCount, longest, retryBackoff);
    await sourceQueues.hide(record, seconds);
    return { ...outcome, retryInSeconds: seconds };
  } catch (error) {
    const name = error instanceof Error ? error.name : "unknown";
    return { ...outcome, reason: `${outcome.reason}; setting its retry delay failed (${name})` };
  }
}

/**
 * An applied record is done once its producer can learn so. If its outcome cannot be published,
 * it is retried like a transient failure: the redelivery finds the event applied (idempotency)
 * and publishes the stored outcome again, marked duplicate. On the last receive it goes to the
 * DLQ as RETRIES_EXHAUSTED, unannounced, so that a replay announces it.
 */
async function announceApplied(
  record: SQSRecord,
  outcome: Extract<RecordOutcome, { status: "applied" }>,
  settleDeadline: number,
  dependencies: SettlingDependencies,
): Promise<RecordOutcome> {
  const unannounced = await announce(record, outcome, settleDeadline, dependencies);
  if (unannounced === undefined) return outcome;
  return retryLater(
    record,
    {
      status: "retry",
      reason: `applied; ${unannounced}`,
      event: outcome.event,
      ...(outcome.effects === undefined ? {} : { effects: outcome.effects }),
    },
    settleDeadline,
    dependencies,
    { applied: true },
  );
}

/** Whether this is the last receive the queue's redrive policy allows; false when unknown. */
async function isLastReceive(
  record: SQSRecord,
  { sourceQueues }: SettlingDependencies,
): Promise<boolean> {
  const maxReceiveCount = await sourceQueues.maxReceiveCount(record.eventSourceARN);
  return maxReceiveCount !== undefined && receiveCountOf(record) >= maxReceiveCount;
}

/** Publishes a settled outcome; returns why it could not be, or undefined once it was. */
async function announce(
  record: SQSRecord,
  outcome: SettledOutcome,
  settleDeadline: number,
  { outcomes }: SettlingDependencies,
): Promise<string | undefined> {
  if (outcomes === undefined) return undefined;
  if (settleDeadline - Date.now() < MIN_SETTLING_CALL_TIME_MS) {
    return "no time left to publish its outcome";
  }
  try {
    await outcomes.publish(outcomeEventOf(record, outcome, new Date()));
    return undefined;
  } catch (error) {
    return `publishing its outcome failed (${error instanceof Error ? error.name : "unknown"})`;
  }
}

/**
 * Announces a record's failure, then writes it to the DLQ; if either cannot be done, it is
 * retried instead. Announcing first: a DLQ send that fails after it costs a second announcement
 * (consumers deduplicate), never a second DLQ copy nor a failure nobody heard of. On the last
 * receive a failure that could not be announced still goes to the DLQ, its reason saying so,
 * rather than leave the redrive policy to move it without one; a replay announces it.
 */
async function deadLetter(
  record: SQSRecord,
  outcome: DeadLettered,
  settleDeadline: number,
  dependencies: SettlingDependencies,
  { announce: announced = true, lastReceive }: { announce?: boolean; lastReceive?: boolean } = {},
): Promise<RecordOutcome> {
  const retry = (reason: string): RecordOutcome => ({
    status: "retry",
    reason,
    event: outcome.event,
    ...(outcome.effects === undefined ? {} : { effects: outcome.effects }),
  });
  if (settleDeadline - Date.now() < MIN_SETTLING_CALL_TIME_MS) {
    return retry(`no time left to dead-letter ${outcome.code}`);
  }
  let reason = outcome.reason;
  const unannounced = announced
    ? await announce(record, outcome, settleDeadline, dependencies)
    : undefined;
  if (unannounced !== undefined) {
    const last = lastReceive ?? (await isLastReceive(record, dependencies).catch(() => false));
    if (!last) return retry(`${outcome.code}; ${unannounced}`);
    reason = `${reason} (${unannounced} on the last receive: a replay announces it)`;
  }
  const { deadLetters } = dependencies;
  try {
    await deadLetters.send({
      body: record.body,
      errorCode: outcome.code,
      errorMessage: reason,
      sourceMessageId: record.messageId,
      receiveCount: receiveCountOf(record),
      eventId: outcome.eventId,
      source: outcome.event?.source,
      action: outcome.event?.action,
      replayCount: record.messageAttributes.replayCount?.stringValue,
    });
    return { ...outcome, reason };
  } catch (error) {
    return retry(
      `DLQ send failed (${error instanceof Error ? error.name : "unknown"}) for ${outcome.code}`,
    );
  }
}
