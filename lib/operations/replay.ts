import { setTimeout as sleep } from "node:timers/promises";
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import * as v from "valibot";
import { ConfigurationError } from "../config/config.ts";
import { messageGroupOfBody } from "../events/message-group.ts";
import { parseRecordBody } from "../events/parse.ts";
import { ERROR_CODES, type ErrorCode } from "../outcome/failures.ts";
import {
  type DeadLetterEntry,
  deadLetterEntry,
  listDeadLetters,
  makeVisible,
  REDRIVEN,
  visibleMessageCount,
} from "./queue-tools.ts";

/** Dead-lettered for its content: replayed as is, it fails the same way. */
const NEEDS_FORCE: ErrorCode = "INVALID_EVENT";

/** Set by the DLQ sender; meaningless once the message is back on the source queue. */
const FAILURE_ATTRIBUTES = new Set([
  "errorCode",
  "errorMessage",
  "sourceMessageId",
  "failedAt",
  "receiveCount",
  "source",
  "action",
]);

/**
 * Longer than a replay Lambda runs (900 s): each message is examined once per run. Messages left
 * on the DLQ are made visible again when the run ends; if the run dies, after this.
 */
const HIDE_SECONDS = 900;
/** A source queue that refuses this many sends in a row will refuse the rest too. */
const MAX_CONSECUTIVE_FAILURES = 10;

// ---------------------------------------------------------------------------------------------
// Moving everything: StartMessageMoveTask

export interface MoveAllOptions {
  readonly dlqArn: string;
  /**
   * Where the messages go. Unset, SQS returns each to the queue it was redriven from, which fails
   * the task (CouldNotDetermineMessageSource) at the first message the function dead-lettered
   * itself: pass the source queue.
   */
  readonly sourceArn?: string | undefined;
  /** Messages per second, 1–500; unset, SQS picks the rate. */
  readonly maxVelocity?: number | undefined;
}

/** Starts moving every DLQ message to the source queue; returns the task handle. */
export async function startMoveAll(sqs: SQSClient, options: MoveAllOptions): Promise<string> {
  const started = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: options.dlqArn,
      DestinationArn: options.sourceArn,
      MaxNumberOfMessagesPerSecond: options.maxVelocity,
    }),
  );
  return started.TaskHandle ?? "";
}

export interface MoveTaskProgress {
  /** RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED. */
  readonly status: string;
  readonly moved: number;
  /** Counted by SQS when the task started. */
  readonly total: number | undefined;
  readonly failureReason: string | undefined;
  readonly destinationArn: string | undefined;
  readonly startedAt: string | undefined;
}

/** The DLQ's latest move task (SQS keeps them 14 days), or undefined when there is none. */
export async function moveTaskProgress(
  sqs: SQSClient,
  dlqArn: string,
): Promise<MoveTaskProgress | undefined> {
  const { Results: [task] = [] } = await sqs.send(
    new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 1 }),
  );
  if (task === undefined) return undefined;
  return {
    status: task.Status ?? "UNKNOWN",
    moved: task.ApproximateNumberOfMessagesMoved ?? 0,
    total: task.ApproximateNumberOfMessagesToMove,
    failureReason: task.FailureReason,
    destinationArn: task.DestinationArn,
    startedAt:
      task.StartedTimestamp === undefined
        ? undefined
        : new Date(task.StartedTimestamp).toISOString(),
  };
}

export function isMoveTaskActive(progress: MoveTaskProgress): boolean {
  return progress.status === "RUNNING" || progress.status === "CANCELLING";
}

/**
 * A move task cannot filter: refuse to start one while INVALID_EVENT messages are on the DLQ
 * (looking at up to 1,000 of them), so none is replayed without force.
 */
export async function refuseInvalidEvents(sqs: SQSClient, dlqUrl: string): Promise<void> {
  const invalid = (await listDeadLetters(sqs, dlqUrl)).filter(
    (entry) => entry.errorCode === NEEDS_FORCE,
  ).length;
  if (invalid > 0) {
    throw new ReplayRefused(
      `the DLQ holds ${invalid} ${NEEDS_FORCE} message(s), which a move would replay as they are; replay the other error codes selectively, or force`,
    );
  }
}

export class ReplayRefused extends Error {
  override readonly name = "ReplayRefused";
}

// ---------------------------------------------------------------------------------------------
// Selective replay: receive, filter, send, then delete

export interface ReplayFilter {
  /** Any of these; REDRIVEN_AFTER_RETRIES selects what the redrive policy moved. Empty: any. */
  readonly errorCodes?: readonly string[] | undefined;
  /** Any of these. Empty: any. */
  readonly eventIds?: readonly string[] | undefined;
  readonly source?: string | undefined;
  /** since ≤ failedAt < until; redriven messages have no failedAt and use their SentTimestamp. */
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
}

export interface ReplayOptions extends ReplayFilter {
  readonly dlqUrl: string;
  /**
   * The source queue; a `.fifo` one gets MessageGroupId (the event's user) and
   * MessageDeduplicationId.
   */
  readonly queueUrl: string;
  /** Report what would be replayed: send and delete nothing, and leave every message visible. */
  readonly dryRun?: boolean | undefined;
  /** Sends per second; unset: as fast as SQS answers. */
  readonly ratePerSecond?: number | undefined;
  /** Replay (or, in a dry run, count) at most this many messages. */
  readonly max?: number | undefined;
  /** Replay INVALID_EVENT messages too. */
  readonly force?: boolean | undefined;
  /** Called after each message examined, with the report so far (live: copy what you keep). */
  readonly onProgress?: ((report: Readonly<ReplayReport>) => void) | undefined;
  /** Stops the run between messages; what is left stays on the DLQ, visible again. */
  readonly signal?: AbortSignal | undefined;
}

export type SkipReason = "not-matched" | "invalid-event-without-force";

export interface ReplayedMessage {
  /** The DLQ message's id. */
  readonly messageId: string;
  readonly eventId: string | undefined;
  readonly errorCode: string;
  readonly replayCount: number;
}

export interface ReplayFailure extends ReplayedMessage {
  /**
   * send: the message is still on the DLQ only. delete: it is on the source queue and still on
   * the DLQ; replaying it again is harmless, idempotency on eventId absorbs the second copy.
   */
  readonly stage: "send" | "delete";
  readonly error: string;
}

/** matched = replayed + failed + skipped["invalid-event-without-force"] */
export interface ReplayReport {
  readonly dryRun: boolean;
  /** Visible DLQ messages when the run started (approximate): a progress bar's whole. */
  readonly dlqDepthAtStart: number;
  examined: number;
  matched: number;
  /** Sent to the source queue, then deleted from the DLQ; in a dry run, those that would be. */
  replayed: number;
  /** Left on the DLQ on purpose, counted by errorCode. */
  skipped: Record<SkipReason, Record<string, number>>;
  failed: number;
  failures: ReplayFailure[];
  /** What was replayed, or in a dry run what would be. */
  messages: ReplayedMessage[];
  /** Why the run ended before the DLQ ran out of messages. */
  stoppedBy?: "max" | "interrupted" | "failures" | undefined;
}

interface Candidate extends DeadLetterEntry {
  readonly failedAtMs: number | undefined;
  readonly replayCount: number;
}

/**
 * Replays the DLQ messages that match the filter. Each is sent to the source queue first and
 * deleted from the DLQ only once the send succeeded: an interruption can leave a message on both
 * queues, never on neither. Messages examined and left on the DLQ stay hidden until the run ends,
 * so none is examined twice, then are made visible again at once.
 *
 * On a FIFO DLQ, a hidden message holds back the rest of its message group: messages behind one
 * left on the DLQ may have to wait for the next run.
 */
export async function replaySelected(
  sqs: SQSClient,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const report: ReplayReport = {
    dryRun: options.dryRun === true,
    dlqDepthAtStart: await visibleMessageCount(sqs, options.dlqUrl),
    examined: 0,
    matched: 0,
    replayed: 0,
    skipped: { "not-matched": {}, "invalid-event-without-force": {} },
    failed: 0,
    failures: [],
    messages: [],
  };
  const fifo = options.queueUrl.endsWith(".fifo");
  const waitForTurn = pacer(options.ratePerSecond, options.signal);
  const seen = new Set<string>();
  const leftOnDlq: string[] = [];
  let failuresInARow = 0;

  const stopReason = (): ReplayReport["stoppedBy"] => {
    if (options.signal?.aborted) return "interrupted";
    if (failuresInARow >= MAX_CONSECUTIVE_FAILURES) return "failures";
    if (options.max !== undefined && report.replayed + report.failed >= options.max) return "max";
    return undefined;
  };

  try {
    let confirming = false;
    for (;;) {
      report.stoppedBy ??= stopReason();
      if (report.stoppedBy !== undefined) break;
      const { Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.dlqUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: HIDE_SECONDS,
          // A short poll asks some SQS servers only, and may miss messages; a long one asks all.
          WaitTimeSeconds: confirming ? 1 : 0,
          MessageAttributeNames: ["All"],
          // For SentTimestamp. The older parameter: local-aws-sqs knows no other; SQS honours it.
          AttributeNames: ["All"],
        }),
      );
      // Nothing new (only messages examined before whose hiding ran out, if any): confirm with
      // a long poll, then the whole DLQ has been seen.
      if (messages.every((message) => seen.has(message.MessageId ?? ""))) {
        leftOnDlq.push(...messages.map(receiptHandleOf));
        if (confirming) break;
        confirming = true;
        continue;
      }
      confirming = false;
      for (const message of messages) {
        report.stoppedBy ??= stopReason();
        if (report.stoppedBy !== undefined || seen.has(message.MessageId ?? "")) {
          leftOnDlq.push(receiptHandleOf(message));
          continue;
        }
        seen.add(message.MessageId ?? "");
        const outcome = await examine(message);
        if (outcome !== "replayed") leftOnDlq.push(receiptHandleOf(message));
        if (outcome === "interrupted") continue;
        if (outcome === "failed") failuresInARow++;
        else if (outcome === "replayed") failuresInARow = 0;
        options.onProgress?.(report);
      }
    }
  } finally {
    await makeVisible(sqs, options.dlqUrl, leftOnDlq);
  }
  return report;

  async function examine(
    message: Message,
  ): Promise<"replayed" | "left" | "failed" | "interrupted"> {
    const candidate = candidateOf(message);
    const skip = skipReason(candidate, options);
    if (skip === undefined && !report.dryRun) {
      await waitForTurn();
      // Not counted: the next run examines it again.
      if (options.signal?.aborted) return "interrupted";
    }
    report.examined++;
    if (skip !== "not-matched") report.matched++;
    if (skip !== undefined) {
      count(report.skipped[skip], candidate.errorCode);
      return "left";
    }
    const replayed: ReplayedMessage = {
      messageId: candidate.messageId,
      eventId: candidate.eventId,
      errorCode: candidate.errorCode,
      replayCount: candidate.replayCount + 1,
    };
    if (report.dryRun) {
      report.replayed++;
      report.messages.push(replayed);
      return "left";
    }
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: options.queueUrl,
          MessageBody: message.Body ?? "",
          MessageAttributes: replayAttributes(message, replayed),
          ...(fifo
            ? {
                // The user's group, as producers set it; a body that names no user keeps its own.
                MessageGroupId:
                  messageGroupOfBody(message.Body ?? "") ?? replayed.eventId ?? replayed.messageId,
                // Stable per DLQ message and replay: a re-send after an interruption is dropped.
                MessageDeduplicationId: `${replayed.messageId}-replay-${replayed.replayCount}`,
              }
            : {}),
        }),
      );
    } catch (error) {
      report.failed++;
      report.failures.push({ ...replayed, stage: "send", error: describeError(error) });
      return "failed";
    }
    try {
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: options.dlqUrl,
          ReceiptHandle: receiptHandleOf(message),
        }),
      );
    } catch (error) {
      report.failed++;
      report.failures.push({ ...replayed, stage: "delete", error: describeError(error) });
      return "failed";
    }
    report.replayed++;
    report.messages.push(replayed);
    return "replayed";
  }
}

function candidateOf(message: Message): Candidate {
  const entry = deadLetterEntry(message);
  // Redriven messages carry no attributes: their body still names the event and its source.
  const parsed =
    entry.eventId === undefined || entry.source === undefined
      ? parseRecordBody(message.Body ?? "")
      : undefined;
  const failedAtMs =
    entry.failedAt === undefined
      ? Number(message.Attributes?.SentTimestamp)
      : Date.parse(entry.failedAt);
  const replayCount = Number(message.MessageAttributes?.replayCount?.StringValue ?? "0");
  return {
    ...entry,
    eventId: entry.eventId ?? (parsed?.ok ? parsed.event.eventId : parsed?.eventId),
    source: entry.source ?? (parsed?.ok ? parsed.event.source : undefined),
    failedAtMs: Number.isFinite(failedAtMs) ? failedAtMs : undefined,
    replayCount: Number.isSafeInteger(replayCount) && replayCount > 0 ? replayCount : 0,
  };
}

function skipReason(candidate: Candidate, options: ReplayOptions): SkipReason | undefined {
  if (!matches(candidate, options)) return "not-matched";
  if (candidate.errorCode === NEEDS_FORCE && options.force !== true) {
    return "invalid-event-without-force";
  }
  return undefined;
}

function matches(candidate: Candidate, filter: ReplayFilter): boolean {
  const anyOf = (allowed: readonly string[] | undefined, value: string | undefined) =>
    allowed === undefined ||
    allowed.length === 0 ||
    (value !== undefined && allowed.includes(value));
  if (!anyOf(filter.errorCodes, candidate.errorCode)) return false;
  if (!anyOf(filter.eventIds, candidate.eventId)) return false;
  if (filter.source !== undefined && candidate.source !== filter.source) return false;
  if (filter.since === undefined && filter.until === undefined) return true;
  const at = candidate.failedAtMs;
  if (at === undefined) return false;
  if (filter.since !== undefined && at < filter.since.getTime()) return false;
  return filter.until === undefined || at < filter.until.getTime();
}

function replayAttributes(
  message: Message,
  replayed: ReplayedMessage,
): Record<string, MessageAttributeValue> {
  const kept = Object.entries(message.MessageAttributes ?? {}).filter(
    ([name]) => !FAILURE_ATTRIBUTES.has(name),
  );
  return {
    ...Object.fromEntries(kept),
    ...(replayed.eventId === undefined
      ? {}
      : { eventId: { DataType: "String", StringValue: replayed.eventId } }),
    replayCount: { DataType: "String", StringValue: String(replayed.replayCount) },
  };
}

/** Waits so that sends start at most `ratePerSecond` a second, without bursts to catch up. */
function pacer(
  ratePerSecond: number | undefined,
  signal: AbortSignal | undefined,
): () => Promise<void> {
  if (ratePerSecond === undefined) return async () => {};
  const intervalMs = 1_000 / ratePerSecond;
  let nextAt = 0;
  return async () => {
    const waitMs = nextAt - Date.now();
    // An abort cuts the wait short; the caller looks at the signal before sending.
    if (waitMs > 0) await sleep(waitMs, undefined, { signal }).catch(() => {});
    nextAt = Date.now() + intervalMs;
  };
}

function receiptHandleOf(message: Message): string {
  return message.ReceiptHandle ?? "";
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// ---------------------------------------------------------------------------------------------
// An operator's request, to the replay Lambda or from the CLI

const ERROR_CODE_CHOICES = [...ERROR_CODES, REDRIVEN];

const nonEmptyText = v.pipe(v.string("must be a string"), v.nonEmpty("must not be empty"));
const flag = v.optional(v.boolean("must be true or false"), false);
const instant = v.pipe(
  v.string("must be a string"),
  v.isoTimestamp("must be a date-time with seconds and a time zone, e.g. 2026-11-28T10:00:00Z"),
  v.transform((value) => new Date(value)),
);

/** Each mode's options, for the message that refuses one of another mode. */
const OPTIONS_OF_MODE = new Map<string, readonly string[]>();
/** Stands for that message in the schema; parseReplayRequest words it for its caller. */
const NOT_AN_OPTION = "is not an option of this mode";

/** Unknown fields are refused: a misspelt `dryRun` must not turn a dry run into a replay. */
function closed<Entries extends v.ObjectEntries>(mode: string, entries: Entries) {
  OPTIONS_OF_MODE.set(
    mode,
    Object.keys(entries).filter((name) => name !== "mode"),
  );
  return v.strictObject(entries, NOT_AN_OPTION);
}

const replayRequestSchema = v.variant(
  "mode",
  [
    v.pipe(
      closed("selected", {
        mode: v.literal("selected"),
        errorCodes: v.optional(
          v.pipe(
            v.array(
              v.picklist(ERROR_CODE_CHOICES, `must be one of ${ERROR_CODE_CHOICES.join(", ")}`),
              "must be a list",
            ),
            v.nonEmpty("must list at least one"),
          ),
        ),
        eventIds: v.optional(
          v.pipe(v.array(nonEmptyText, "must be a list"), v.nonEmpty("must list at least one")),
        ),
        source: v.optional(nonEmptyText),
        since: v.optional(instant),
        until: v.optional(instant),
        dryRun: flag,
        ratePerSecond: v.optional(
          v.pipe(v.number("must be a number"), v.gtValue(0, "must be above 0")),
        ),
        max: v.optional(
          v.pipe(
            v.number("must be a number"),
            v.integer("must be a whole number"),
            v.minValue(1, "must be at least 1"),
          ),
        ),
        force: flag,
      }),
      v.forward(
        v.check(
          ({ since, until }) => since === undefined || until === undefined || since < until,
          // {since}: the caller's name for the field (parseReplayRequest fills it in).
          "must be later than {since}",
        ),
        ["until"],
      ),
    ),
    closed("all", {
      mode: v.literal("all"),
      maxVelocity: v.optional(
        v.pipe(
          v.number("must be a number"),
          v.integer("must be a whole number"),
          v.minValue(1, "must be 1 to 500"),
          v.maxValue(500, "must be 1 to 500"),
        ),
      ),
      force: flag,
    }),
    closed("progress", { mode: v.literal("progress") }),
  ],
  'must be {"mode": "selected" | "all" | "progress", …}',
);

export type ReplayRequest = v.InferOutput<typeof replayRequestSchema>;

export class ReplayInputError extends Error {
  override readonly name = "ReplayInputError";
}

/** How an error names what is wrong: as the request's fields (the replay Lambda), or as flags. */
export interface ReplayInputNames {
  /** A field (a dot path: `errorCodes.0`) as the caller knows it: itself, or the CLI's flag. */
  readonly field: (name: string) => string;
  /** A mode as the caller chose it: `mode "all"`, or the CLI's `--all`. */
  readonly mode: (mode: string) => string;
  /** Between the name and what is wrong with it. */
  readonly separator: string;
}

/** The request's own field names, for the replay Lambda's callers. */
export const REQUEST_FIELD_NAMES: ReplayInputNames = {
  field: (name) => name,
  mode: (mode) => `mode "${mode}"`,
  separator: ": ",
};

/** Checks an operator's request; the error names each wrong field and what it must be. */
export function parseReplayRequest(
  input: unknown,
  names: ReplayInputNames = REQUEST_FIELD_NAMES,
): ReplayRequest {
  const parsed = v.safeParse(replayRequestSchema, input);
  if (parsed.success) return parsed.output;
  const mode = (input as { mode?: unknown } | null)?.mode;
  throw new ReplayInputError(
    parsed.issues
      .map((issue) => {
        const path = v.getDotPath(issue);
        if (path === null) return `the request ${issue.message}`;
        const field = names.field(path);
        const message =
          issue.message === NOT_AN_OPTION
            ? notAnOption(String(mode), names)
            : issue.message.replace(/\{(\w+)\}/g, (_, name: string) => names.field(name));
        return `${field}${names.separator}${message}`;
      })
      .join("; "),
  );
}

function notAnOption(mode: string, names: ReplayInputNames): string {
  const options = (OPTIONS_OF_MODE.get(mode) ?? []).map(names.field);
  return `is not an option of ${names.mode(mode)} (${options.join(", ") || "it takes none"})`;
}

export interface ReplayQueues {
  readonly dlqUrl: string;
  readonly dlqArn: string;
  /** The source queue: where replayed messages go. */
  readonly queueUrl: string;
  readonly queueArn: string;
}

export function replayQueuesFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): ReplayQueues {
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") throw new ConfigurationError(`${name} is required`);
    return value;
  };
  return {
    dlqUrl: required("DLQ_URL"),
    dlqArn: required("DLQ_ARN"),
    queueUrl: required("QUEUE_URL"),
    queueArn: required("QUEUE_ARN"),
  };
}

export type ReplayResult =
  | { readonly mode: "selected"; readonly report: ReplayReport }
  | {
      readonly mode: "all";
      readonly taskHandle: string;
      readonly progress: MoveTaskProgress | null;
    }
  | { readonly mode: "progress"; readonly progress: MoveTaskProgress | null };

/** Time kept back from the Lambda timeout to make the messages left on the DLQ visible again. */
const DEADLINE_MARGIN_MS = 10_000;

/** The replay Lambda: a request in, a report out. Bad input throws a ReplayInputError. */
export function createReplayHandler(sqs: SQSClient, queues: ReplayQueues) {
  return async (
    input: unknown,
    context: { getRemainingTimeInMillis(): number },
  ): Promise<ReplayResult> => {
    const request = parseReplayRequest(input);
    switch (request.mode) {
      case "selected":
        return {
          mode: "selected",
          report: await replaySelected(sqs, {
            ...request,
            dlqUrl: queues.dlqUrl,
            queueUrl: queues.queueUrl,
            signal: AbortSignal.timeout(
              Math.max(0, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS),
            ),
          }),
        };
      case "all": {
        if (!request.force) await refuseInvalidEvents(sqs, queues.dlqUrl);
        const taskHandle = await startMoveAll(sqs, {
          dlqArn: queues.dlqArn,
          sourceArn: queues.queueArn,
          maxVelocity: request.maxVelocity,
        });
        return {
          mode: "all",
          taskHandle,
          progress: (await moveTaskProgress(sqs, queues.dlqArn)) ?? null,
        };
      }
      case "progress":
        return { mode: "progress", progress: (await moveTaskProgress(sqs, queues.dlqArn)) ?? null };
    }
  };
}

/** A queue's ARN from its URL, for operators who have only the URLs. */
export async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`GetQueueAttributes ${queueUrl} returned no QueueArn`);
  return arn;
}
