import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttribute,
  SQSRecord,
  SQSRecordAttributes,
} from "aws-lambda";

export const DEFAULT_FUNCTION_NAME = "cupi-reset-reset";
export const DEFAULT_BATCH_SIZE = 10;
export const DEFAULT_BATCHING_WINDOW_SECONDS = 1;
export const DEFAULT_FUNCTION_TIMEOUT_MS = 30_000;
/** serverless.yml's default memorySize; only reported in the context. */
const MEMORY_LIMIT_MB = "1024";
/** After an empty receive without a batching window, so an idle queue is not polled in a spin. */
const EMPTY_POLL_PAUSE_MS = 100;
/** After a failed receive or delete, so a stopped endpoint is not hammered. */
const POLL_ERROR_PAUSE_MS = 1_000;

export interface EventSourcePollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  // biome-ignore lint/suspicious/noConfusingVoidType: SQSHandler's own type; an async handler that returns nothing is Promise<void>
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;
  /** Messages per invocation, 1..10 (one ReceiveMessage); default 10. */
  batchSize?: number;
  /** The long-poll wait, 0..20 s; default 1. local-aws-sqs holds it open until the batch is
   * full, which is what Lambda's batching window does. */
  maximumBatchingWindowSeconds?: number;
  /** After this the invocation counts as timed out; default 30 000. */
  functionTimeoutMs?: number;
  /** Invocations in parallel, each with its own receive loop; default 1. */
  concurrency?: number;
  /** Default "cupi-reset-reset". */
  functionName?: string;
  /** After each invocation's deletes; what it throws rejects that pollOnce(). */
  onInvocation?: (report: InvocationReport) => void;
  /** A receive or delete that failed in start()'s loops; default: console.warn. */
  onPollError?: (error: unknown) => void;
}

/** How Lambda reads what the handler did; every outcome but the first two fails the whole batch. */
export type InvocationOutcome =
  | "succeeded"
  | "partially-failed"
  | "threw"
  | "timed-out"
  | "invalid-response";

export interface InvocationReport {
  readonly awsRequestId: string;
  readonly outcome: InvocationOutcome;
  /** In the order received. */
  readonly messageIds: readonly string[];
  /** Left on the queue for a retry: those reported, or the whole batch. */
  readonly failedMessageIds: readonly string[];
  readonly deletedMessageIds: readonly string[];
  /** What the handler threw, or why its response or its time ran out. */
  readonly error?: unknown;
  /** Set when DeleteMessageBatch failed for some or all of the successes. */
  readonly deleteError?: unknown;
  readonly durationMs: number;
}

export interface EventSourcePollerStats {
  invocations: number;
  received: number;
  deleted: number;
  /** Messages left for a retry. */
  failed: number;
  /** Invocations that threw, timed out or answered something Lambda cannot read. */
  handlerErrors: number;
}

export interface EventSourcePoller {
  /** Starts `concurrency` receive loops; does nothing when already started. */
  start(): void;
  /** Stops polling; waits for each loop's receive in flight (up to the batching window) and its
   * invocation, so no message received is left unprocessed. */
  stop(): Promise<void>;
  /** One receive, invoke and delete cycle; undefined when the receive was empty. */
  pollOnce(): Promise<InvocationReport | undefined>;
  readonly stats: EventSourcePollerStats;
}

type Settlement =
  | { kind: "returned"; response: unknown }
  | { kind: "threw"; error: unknown }
  | { kind: "timed-out" };

type Verdict =
  | { outcome: "succeeded" | "partially-failed"; failed: ReadonlySet<string> }
  | { outcome: "threw" | "timed-out" | "invalid-response"; error: unknown };

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  return value;
}

/** arn:aws:sqs:us-east-1:123456789012:name */
function parseQueueArn(arn: string): { region: string; accountId: string } {
  const [prefix, , service, region, accountId, name] = arn.split(":");
  if (prefix !== "arn" || service !== "sqs" || !region || !accountId || !name)
    throw new Error(`not an SQS queue ARN: ${arn}`);
  return { region, accountId };
}

const OPTIONAL_SYSTEM_ATTRIBUTES = [
  "AWSTraceHeader",
  "SequenceNumber",
  "MessageGroupId",
  "MessageDeduplicationId",
  "DeadLetterQueueSourceArn",
] as const;

function recordAttributes(received: Message["Attributes"]): SQSRecordAttributes {
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: received?.ApproximateReceiveCount ?? "",
    SentTimestamp: received?.SentTimestamp ?? "",
    SenderId: received?.SenderId ?? "",
    ApproximateFirstReceiveTimestamp: received?.ApproximateFirstReceiveTimestamp ?? "",
  };
  for (const name of OPTIONAL_SYSTEM_ATTRIBUTES) {
    const value = received?.[name];
    if (value !== undefined) attributes[name] = value;
  }
  return attributes;
}

/** Lambda's camel-cased shape, binary as base64, the never-used list fields present and empty. */
function recordMessageAttribute(received: MessageAttributeValue): SQSMessageAttribute {
  const { StringValue, BinaryValue, DataType } = received;
  return {
    ...(StringValue === undefined ? {} : { stringValue: StringValue }),
    ...(BinaryValue === undefined
      ? {}
      : { binaryValue: Buffer.from(BinaryValue).toString("base64") }),
    stringListValues: [],
    binaryListValues: [],
    dataType: DataType ?? "String",
  };
}

function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  if (message.MessageId === undefined || message.ReceiptHandle === undefined)
    throw new Error("ReceiveMessage returned a message without MessageId or ReceiptHandle");
  const messageAttributes = Object.entries(message.MessageAttributes ?? {}).map(
    ([name, value]) => [name, recordMessageAttribute(value)] as const,
  );
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body ?? "",
    attributes: recordAttributes(message.Attributes),
    messageAttributes: Object.fromEntries(messageAttributes),
    md5OfBody: message.MD5OfBody ?? "",
    ...(message.MD5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function unsupported(name: string): never {
  throw new Error(`context.${name} is not available on the nodejs24.x runtime; return or throw`);
}

function createContext(
  functionName: string,
  region: string,
  accountId: string,
  deadline: number,
): Context {
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: MEMORY_LIMIT_MB,
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => unsupported("done"),
    fail: () => unsupported("fail"),
    succeed: () => unsupported("succeed"),
  };
}

/** Runs the handler against the deadline; a late handler keeps running but no longer counts. */
async function invoke(
  handler: EventSourcePollerOptions["handler"],
  event: SQSEvent,
  context: Context,
  timeoutMs: number,
): Promise<Settlement> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Settlement>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timed-out" }), timeoutMs);
  });
  // Through a Promise constructor so a handler that throws synchronously is caught too.
  const settled = new Promise<unknown>((resolve) => resolve(handler(event, context))).then(
    (response): Settlement => ({ kind: "returned", response }),
    (error: unknown): Settlement => ({ kind: "threw", error }),
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lambda's reading of a ReportBatchItemFailures response: nothing, an empty object or an empty
 * list is full success; a malformed list, or an identifier that is empty or not in the batch,
 * fails the whole batch.
 */
function judge(settlement: Settlement, batchIds: ReadonlySet<string>, timeoutMs: number): Verdict {
  if (settlement.kind === "threw") return { outcome: "threw", error: settlement.error };
  if (settlement.kind === "timed-out")
    return {
      outcome: "timed-out",
      error: new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`),
    };
  const { response } = settlement;
  const invalid = (why: string): Verdict => ({
    outcome: "invalid-response",
    error: new Error(`invalid batch response: ${why}`),
  });
  if (response === undefined || response === null)
    return { outcome: "succeeded", failed: new Set() };
  if (typeof response !== "object") return invalid("not an object");
  const failures: unknown = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null)
    return { outcome: "succeeded", failed: new Set() };
  if (!Array.isArray(failures)) return invalid("batchItemFailures is not a list");
  const failed = new Set<string>();
  for (const failure of failures) {
    const identifier: unknown =
      typeof failure === "object" && failure !== null
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof identifier !== "string" || identifier === "")
      return invalid("an itemIdentifier is missing or empty");
    if (!batchIds.has(identifier))
      return invalid(`itemIdentifier ${identifier} is not a message of this batch`);
    failed.add(identifier);
  }
  return { outcome: failed.size === 0 ? "succeeded" : "partially-failed", failed };
}

/**
 * Lambda's SQS event source mapping with ReportBatchItemFailures, against any SQS endpoint:
 * receive a batch, invoke, delete what succeeded, leave the rest for the visibility timeout and
 * the queue's redrive policy.
 */
export function createEventSourcePoller(options: EventSourcePollerOptions): EventSourcePoller {
  const { sqs, queueUrl, queueArn, handler } = options;
  const batchSize = integerOption("batchSize", options.batchSize ?? DEFAULT_BATCH_SIZE, 1, 10);
  const windowSeconds = integerOption(
    "maximumBatchingWindowSeconds",
    options.maximumBatchingWindowSeconds ?? DEFAULT_BATCHING_WINDOW_SECONDS,
    0,
    20,
  );
  const timeoutMs = options.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  if (!(timeoutMs > 0))
    throw new RangeError(`functionTimeoutMs must be positive, not ${timeoutMs}`);
  const concurrency = integerOption("concurrency", options.concurrency ?? 1, 1, 1000);
  const functionName = options.functionName ?? DEFAULT_FUNCTION_NAME;
  const onPollError =
    options.onPollError ??
    ((error: unknown) =>
      console.warn("event source poller:", error instanceof Error ? error.message : error));
  const { region, accountId } = parseQueueArn(queueArn);

  const stats: EventSourcePollerStats = {
    invocations: 0,
    received: 0,
    deleted: 0,
    failed: 0,
    handlerErrors: 0,
  };

  async function deleteSucceeded(
    records: readonly SQSRecord[],
  ): Promise<{ deleted: string[]; error?: unknown }> {
    if (records.length === 0) return { deleted: [] };
    try {
      const result = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: records.map((record, index) => ({
            Id: String(index),
            ReceiptHandle: record.receiptHandle,
          })),
        }),
      );
      const deleted = (result.Successful ?? []).flatMap(({ Id }) => {
        const record = records[Number(Id)];
        return record === undefined ? [] : [record.messageId];
      });
      const failures = result.Failed ?? [];
      if (failures.length === 0) return { deleted };
      const reasons = failures.map((failure) => `${failure.Code}: ${failure.Message}`).join("; ");
      return {
        deleted,
        error: new Error(`DeleteMessageBatch failed for some messages: ${reasons}`),
      };
    } catch (error) {
      return { deleted: [], error };
    }
  }

  async function pollOnce(): Promise<InvocationReport | undefined> {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: windowSeconds,
        MessageSystemAttributeNames: ["All"],
        // Deprecated in favour of the line above, but local-aws-sqs reads only this one.
        AttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return undefined;

    const records = messages.map((message) => toRecord(message, queueArn, region));
    const startedAt = Date.now();
    const context = createContext(functionName, region, accountId, startedAt + timeoutMs);
    stats.invocations++;
    stats.received += records.length;

    const settlement = await invoke(handler, { Records: records }, context, timeoutMs);
    const messageIds = records.map((record) => record.messageId);
    const verdict = judge(settlement, new Set(messageIds), timeoutMs);
    const batchFailed = !("failed" in verdict);
    const succeeded = batchFailed ? [] : records.filter((r) => !verdict.failed.has(r.messageId));
    const deletion = await deleteSucceeded(succeeded);
    const failedMessageIds = batchFailed ? messageIds : [...verdict.failed];

    if (batchFailed) stats.handlerErrors++;
    stats.failed += failedMessageIds.length;
    stats.deleted += deletion.deleted.length;
    const report: InvocationReport = {
      awsRequestId: context.awsRequestId,
      outcome: verdict.outcome,
      messageIds,
      failedMessageIds,
      deletedMessageIds: deletion.deleted,
      ...("error" in verdict ? { error: verdict.error } : {}),
      ...("error" in deletion ? { deleteError: deletion.error } : {}),
      durationMs: Date.now() - startedAt,
    };
    options.onInvocation?.(report);
    return report;
  }

  let stopping: AbortController | undefined;
  let loops: Promise<void> | undefined;

  async function pollUntilStopped(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let pauseMs = 0;
      try {
        const report = await pollOnce();
        if (report === undefined && windowSeconds === 0) pauseMs = EMPTY_POLL_PAUSE_MS;
        if (report?.deleteError !== undefined) onPollError(report.deleteError);
      } catch (error) {
        onPollError(error);
        pauseMs = POLL_ERROR_PAUSE_MS;
      }
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    }
  }

  return {
    start() {
      if (loops !== undefined) return;
      const controller = new AbortController();
      stopping = controller;
      loops = Promise.all(
        Array.from({ length: concurrency }, () => pollUntilStopped(controller.signal)),
      ).then(() => undefined);
    },
    async stop() {
      const stopped = loops;
      stopping?.abort();
      // Cleared now, so a start() while this one drains begins fresh loops.
      stopping = undefined;
      loops = undefined;
      await stopped;
    },
    pollOnce,
    get stats() {
      return { ...stats };
    },
  };
}
