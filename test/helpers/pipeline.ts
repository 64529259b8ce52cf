import { inspect } from "node:util";
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, beforeEach, vi } from "vitest";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../dev/local-stack.ts";
import {
  createEventSourcePoller,
  type EventSourcePoller,
} from "../../dev/sqs/event-source-poller.ts";
import { messagesOnQueue } from "../../dev/sqs/queue-depth.ts";
import { createLogger } from "../../lib/logging/logger.ts";
import { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";

// Shared with the benchmarks (bench/ does not import from test/).
export { lambdaContext, sqsRecord } from "../../dev/sqs/lambda-event.ts";

export interface DeadLetterMessage {
  /** Kept by a redrive; a message the function dead-lettered has its own, and the old one in
   * its `sourceMessageId` attribute. */
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Record<string, string>;
}

/** Everything written to stdout and stderr while a test runs, to look for leaked secrets. */
export function captureOutput(): { text: () => string } {
  const chunks: string[] = [];
  const capture = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return true;
  };
  beforeEach(() => {
    chunks.length = 0;
    vi.spyOn(process.stdout, "write").mockImplementation(capture);
    vi.spyOn(process.stderr, "write").mockImplementation(capture);
    // vitest routes console output around process.stdout: catch it too.
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...parts: unknown[]) => {
        capture(
          `${parts.map((part) => (typeof part === "string" ? part : inspect(part))).join(" ")}\n`,
        );
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return { text: () => chunks.join("") };
}

/**
 * Builds v1 events with unique eventIds and ticketIds (`<prefix>-1`, `<prefix>-2` …): a helpdesk
 * unlock of jsmith, then `defaults`, then each call's `overrides`.
 */
export function eventFactory(prefix: string, defaults: Record<string, unknown> = {}) {
  let count = 0;
  return (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    count += 1;
    return {
      version: 1,
      eventId: `${prefix}-${count}`,
      occurredAt: "2026-11-28T10:00:00Z",
      source: "helpdesk",
      requestedBy: "agent@example.com",
      ticketId: `INC-${prefix}-${count}`,
      user: { alias: "jsmith" },
      action: "unlock-pin",
      ...defaults,
      ...overrides,
    };
  };
}

/** Whether a DLQ message stands for one of `sentIds`, however it got there. */
export function isDeadLetterOf(letter: DeadLetterMessage, sentIds: readonly string[]): boolean {
  return (
    sentIds.includes(letter.messageId) || sentIds.includes(letter.attributes.sourceMessageId ?? "")
  );
}

/** The reset function as Lambda would run it on this stack: real clients, endpoints from env. */
export function startPipeline(stack: LocalStack, environment: Record<string, string> = {}) {
  Object.assign(process.env, stack.environment, environment);
  const handler = createResetHandlerFromEnvironment(
    process.env,
    // DEBUG, unless the test chose a level with POWERTOOLS_LOG_LEVEL in `environment`.
    createLogger(environment.POWERTOOLS_LOG_LEVEL === undefined ? { logLevel: "DEBUG" } : {}),
  );
  const poller: EventSourcePoller = createEventSourcePoller({
    sqs: stack.sqs,
    queueUrl: stack.queues.queueUrl,
    queueArn: stack.queues.queueArn,
    handler,
    maximumBatchingWindowSeconds: 0,
    functionTimeoutMs: 30_000,
  });
  return { handler, poller };
}

/**
 * A local stack and the reset function on it for the whole file: started before the first test,
 * closed after the last. Read `stack` and `pipeline` inside tests, once they exist.
 */
export function useLocalPipeline(
  options: LocalStackOptions,
  environment: Record<string, string> = {},
): { readonly stack: LocalStack; readonly pipeline: ReturnType<typeof startPipeline> } {
  let stack: LocalStack | undefined;
  let pipeline: ReturnType<typeof startPipeline> | undefined;
  beforeAll(async () => {
    stack = await startLocalStack(options);
    pipeline = startPipeline(stack, environment);
  });
  afterAll(async () => {
    await pipeline?.handler.close();
    await stack?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the local pipeline starts in beforeAll");
    return value;
  };
  return {
    get stack() {
      return started(stack);
    },
    get pipeline() {
      return started(pipeline);
    },
  };
}

export async function send(sqs: SQSClient, queueUrl: string, body: unknown): Promise<string> {
  const sent = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  return sent.MessageId ?? "";
}

/**
 * Polls as the event source mapping would until the queue is empty, in-flight messages included:
 * a record reported as failed comes back after the visibility timeout and is polled again.
 */
export async function drain(
  poller: EventSourcePoller,
  sqs: SQSClient,
  queueUrl: string,
  timeoutMs = 30_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    if ((await poller.pollOnce()) !== undefined) continue;
    if ((await messagesOnQueue(sqs, queueUrl)) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`queue not drained within ${timeoutMs} ms`);
}

/** Reads (without deleting) every message on the DLQ, hiding each for a minute. */
export async function readDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
): Promise<DeadLetterMessage[]> {
  const messages: DeadLetterMessage[] = [];
  for (;;) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ["All"],
        WaitTimeSeconds: 0,
      }),
    );
    if (!received.Messages?.length) return messages;
    for (const message of received.Messages) {
      messages.push({
        messageId: message.MessageId ?? "",
        body: message.Body ?? "",
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            value.StringValue ?? "",
          ]),
        ),
      });
    }
  }
}
