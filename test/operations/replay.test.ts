import {
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createLocalSqsClient,
  type LocalQueues,
  type LocalQueuesOptions,
  startLocalQueues,
} from "../../dev/sqs/local-queues.ts";
import { ConfigurationError } from "../../lib/config/config.ts";
import { REDRIVEN } from "../../lib/operations/queue-tools.ts";
import {
  isMoveTaskActive,
  type MoveTaskProgress,
  moveTaskProgress,
  type ReplayOptions,
  type ReplayReport,
  replayQueuesFromEnvironment,
  replaySelected,
  startMoveAll,
} from "../../lib/operations/replay.ts";
import { lambdaContext, readDeadLetters } from "../helpers/pipeline.ts";

interface Stack {
  readonly queues: LocalQueues;
  readonly sqs: SQSClient;
}

// Each test has queues of its own, so that most can run concurrently: a replay's last, long
// poll takes a second.
const stacks: Stack[] = [];

async function stack(options: LocalQueuesOptions = {}): Promise<Stack> {
  const queues = await startLocalQueues(options);
  const started = { queues, sqs: createLocalSqsClient(queues.endpoint) };
  stacks.push(started);
  return started;
}

afterAll(async () => {
  for (const { queues, sqs } of stacks) {
    sqs.destroy();
    await queues.close();
  }
});

function event(eventId: string, source = "helpdesk") {
  return {
    version: 1,
    eventId,
    occurredAt: "2026-11-28T10:00:00Z",
    source,
    user: { alias: "jsmith" },
    action: "reset-pin",
    newCredential: { secretId: "cupi-reset/resets/jsmith-pin", jsonKey: "pin" },
  };
}

/** A message as the reset function dead-letters it: the reason in String attributes. */
async function deadLetter(
  { queues, sqs }: Stack,
  eventId: string,
  errorCode: string,
  failedAt: string,
  source = "helpdesk",
): Promise<string> {
  const attributes: Record<string, MessageAttributeValue> = Object.fromEntries(
    Object.entries({
      errorCode,
      errorMessage: `${errorCode} for ${eventId}`,
      eventId,
      sourceMessageId: `source-${eventId}`,
      failedAt,
      receiveCount: "1",
      source,
      action: "reset-pin",
    }).map(([name, value]) => [name, { DataType: "String", StringValue: value }]),
  );
  const fifo = queues.dlqUrl.endsWith(".fifo");
  const sent = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queues.dlqUrl,
      MessageBody: JSON.stringify(event(eventId, source)),
      MessageAttributes: attributes,
      ...(fifo ? { MessageGroupId: eventId, MessageDeduplicationId: `source-${eventId}` } : {}),
    }),
  );
  return sent.MessageId ?? "";
}

/**
 * A message the redrive policy moved: sent to the queue, received maxReceiveCount (1) times
 * without being deleted, then moved by SQS on the next receive, attributes and all.
 */
async function redrive({ queues, sqs }: Stack, body: unknown): Promise<void> {
  await sqs.send(
    new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: JSON.stringify(body) }),
  );
  await redriveWhatIsQueued({ queues, sqs });
}

/** Receives the one queued message without deleting it: the next receive redrives it. */
async function redriveWhatIsQueued({ queues, sqs }: Stack): Promise<Record<string, string>> {
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queues.queueUrl,
      VisibilityTimeout: 0,
      MessageAttributeNames: ["All"],
    }),
  );
  expect(received.Messages).toHaveLength(1);
  const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl }));
  expect(again.Messages).toBeUndefined();
  // The move to the DLQ happens when the message's hiding ends, on local-aws-sqs's timer.
  await visibilitySettled();
  return Object.fromEntries(
    Object.entries(received.Messages?.[0]?.MessageAttributes ?? {}).map(([name, value]) => [
      name,
      value.StringValue ?? "",
    ]),
  );
}

/** The standard mix: three reasons, two sources, three times, and one redriven message. */
async function seed(target: Stack): Promise<void> {
  await deadLetter(target, "e-secret", "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");
  await deadLetter(target, "e-invalid", "INVALID_EVENT", "2025-06-01T11:00:00.000Z");
  await deadLetter(
    target,
    "e-user",
    "USER_NOT_FOUND",
    "2025-06-01T12:00:00.000Z",
    "hr-offboarding",
  );
  await redrive(target, event("e-redriven"));
}

function eventIdOf(body: string): string {
  return (JSON.parse(body) as { eventId: string }).eventId;
}

/**
 * local-aws-sqs makes a message visible again on a timer, even for VisibilityTimeout 0: let it
 * fire (the queues run in this process) before looking.
 */
function visibilitySettled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10));
}

async function eventIdsOn(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  await visibilitySettled();
  return (await readDeadLetters(sqs, queueUrl)).map((message) => eventIdOf(message.body)).sort();
}

/** local-aws-sqs counts in-flight messages in ApproximateNumberOfMessages too. */
async function counts(sqs: SQSClient, queueUrl: string) {
  await visibilitySettled();
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    messages: Number(Attributes?.ApproximateNumberOfMessages),
    hidden: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

function replay(
  { queues, sqs }: Stack,
  options: Omit<ReplayOptions, "dlqUrl" | "queueUrl"> = {},
): Promise<ReplayReport> {
  return replaySelected(sqs, { dlqUrl: queues.dlqUrl, queueUrl: queues.queueUrl, ...options });
}

interface CommandInput {
  MessageBody?: string;
  VisibilityTimeout?: number;
}

/**
 * Runs `onCommand` before each command the client sends: it may change the input, or throw to
 * fail the command as an outage would.
 */
function intercept(sqs: SQSClient, onCommand: (command: string, input: CommandInput) => void) {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      onCommand(context.commandName ?? "", args.input as CommandInput);
      return next(args);
    },
    { step: "initialize" },
  );
}

function failWhen(sqs: SQSClient, fails: (command: string, body: string) => boolean): void {
  intercept(sqs, (command, input) => {
    if (fails(command, input.MessageBody ?? "")) {
      throw new Error(`simulated ${command} failure`);
    }
  });
}

describe.concurrent("replaySelected", () => {
  const since = new Date("2025-06-01T11:30:00Z");
  const until = new Date("2025-06-01T12:30:00Z");

  it.each([
    ["errorCodes", { errorCodes: ["SECRET_NOT_FOUND", REDRIVEN] }, ["e-redriven", "e-secret"]],
    ["eventIds", { eventIds: ["e-user", "e-unknown"] }, ["e-user"]],
    // The redriven message carries no attributes: its body names its source.
    ["source", { source: "helpdesk" }, ["e-redriven", "e-secret"]],
    ["failedAt range", { since, until }, ["e-user"]],
  ])("replays by %s, and only what matches", async (_, filter, expected) => {
    const target = await stack({ maxReceiveCount: 1 });
    await seed(target);

    const report = await replay(target, filter);

    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual(expected);
    expect(report).toMatchObject({ examined: 4, replayed: expected.length, failed: 0 });
    const left = ["e-invalid", "e-redriven", "e-secret", "e-user"].filter(
      (id) => !expected.includes(id),
    );
    expect(await eventIdsOn(target.sqs, target.queues.dlqUrl)).toEqual(left);
  });

  it("matches a redriven message, which has no failedAt, by its SentTimestamp", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    const before = new Date();
    await seed(target);

    await replay(target, { since: new Date(before.getTime() - 1_000) });

    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual(["e-redriven"]);
  });

  it("leaves INVALID_EVENT on the DLQ without force and replays it with force", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    await seed(target);

    const refused = await replay(target, { errorCodes: ["INVALID_EVENT"] });
    expect(refused).toMatchObject({ matched: 1, replayed: 0 });
    expect(refused.skipped["invalid-event-without-force"]).toEqual({ INVALID_EVENT: 1 });
    expect(refused.skipped["not-matched"]).toEqual({
      SECRET_NOT_FOUND: 1,
      USER_NOT_FOUND: 1,
      [REDRIVEN]: 1,
    });
    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual([]);

    const forced = await replay(target, { errorCodes: ["INVALID_EVENT"], force: true });
    expect(forced).toMatchObject({ matched: 1, replayed: 1 });
    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual(["e-invalid"]);
  });

  it("replaces the failure attributes with replayCount, which grows on each replay", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    await deadLetter(target, "e-twice", "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");

    const first = await replay(target);
    expect(first.messages).toMatchObject([{ eventId: "e-twice", replayCount: 1 }]);
    // It fails again until the redrive policy moves it back, replayCount and all.
    expect(await redriveWhatIsQueued(target)).toEqual({ eventId: "e-twice", replayCount: "1" });

    const second = await replay(target, { errorCodes: [REDRIVEN], eventIds: ["e-twice"] });
    expect(second.messages).toMatchObject([{ eventId: "e-twice", replayCount: 2 }]);
    const [requeued] = await readDeadLetters(target.sqs, target.queues.queueUrl);
    expect(requeued?.attributes).toEqual({ eventId: "e-twice", replayCount: "2" });
  });

  it("touches nothing in a dry run, and leaves every message visible", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    await seed(target);
    const progress: number[] = [];

    const report = await replay(target, {
      dryRun: true,
      source: "helpdesk",
      force: true,
      onProgress: (so) => progress.push(so.examined),
    });

    expect(report).toMatchObject({
      dryRun: true,
      dlqDepthAtStart: 4,
      examined: 4,
      matched: 3,
      replayed: 3,
      failed: 0,
    });
    expect(report.messages.map((message) => message.eventId).sort()).toEqual([
      "e-invalid",
      "e-redriven",
      "e-secret",
    ]);
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 4, hidden: 0 });
    expect(await counts(target.sqs, target.queues.queueUrl)).toEqual({ messages: 0, hidden: 0 });
    const dlq = await readDeadLetters(target.sqs, target.queues.dlqUrl);
    expect(dlq.filter((message) => "replayCount" in message.attributes)).toEqual([]);
  });

  it("stops at max", async () => {
    const target = await stack();
    for (const id of ["m-1", "m-2", "m-3", "m-4"]) {
      await deadLetter(target, id, "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");
    }

    const report = await replay(target, { max: 2 });

    expect(report).toMatchObject({ replayed: 2, stoppedBy: "max" });
    expect(await counts(target.sqs, target.queues.queueUrl)).toEqual({ messages: 2, hidden: 0 });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 2, hidden: 0 });
  });

  it("keeps to the rate limit", async () => {
    const target = await stack();
    for (const id of ["r-1", "r-2", "r-3", "r-4", "r-5"]) {
      await deadLetter(target, id, "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");
    }
    const sentAt: number[] = [];
    intercept(target.sqs, (command) => {
      if (command === "SendMessageCommand") sentAt.push(performance.now());
    });

    const report = await replay(target, { ratePerSecond: 10 });

    expect(report.replayed).toBe(5);
    const gaps = sentAt.slice(1).map((at, index) => at - (sentAt[index] ?? 0));
    // 10 a second: 100 ms apart (a timer may fire a millisecond early), and no slower than needed.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(98);
    expect((sentAt.at(-1) ?? 0) - (sentAt[0] ?? 0)).toBeLessThan(1_000);
  });

  it("leaves a message whose send failed on the DLQ, and loses nothing", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    await seed(target);
    failWhen(
      target.sqs,
      (command, body) => command === "SendMessageCommand" && body.includes("e-secret"),
    );

    const report = await replay(target, { force: true });

    expect(report).toMatchObject({ examined: 4, replayed: 3, failed: 1 });
    expect(report.failures).toMatchObject([
      { eventId: "e-secret", stage: "send", error: "Error: simulated SendMessageCommand failure" },
    ]);
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 1, hidden: 0 });
    expect(await eventIdsOn(target.sqs, target.queues.dlqUrl)).toEqual(["e-secret"]);
    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual([
      "e-invalid",
      "e-redriven",
      "e-user",
    ]);
  });

  it("leaves a message whose delete failed on both queues: duplicated, never lost", async () => {
    const target = await stack();
    await deadLetter(target, "e-both", "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");
    failWhen(target.sqs, (command) => command === "DeleteMessageCommand");

    const report = await replay(target);

    expect(report.failures).toMatchObject([{ eventId: "e-both", stage: "delete" }]);
    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual(["e-both"]);
    expect(await eventIdsOn(target.sqs, target.queues.dlqUrl)).toEqual(["e-both"]);
  });

  it("gives up after ten failed sends in a row, every message still on the DLQ", async () => {
    const target = await stack();
    for (let index = 0; index < 12; index++) {
      await deadLetter(target, `f-${index}`, "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");
    }
    failWhen(target.sqs, (command) => command === "SendMessageCommand");

    const report = await replay(target);

    expect(report).toMatchObject({ failed: 10, replayed: 0, stoppedBy: "failures" });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 12, hidden: 0 });
  });

  it("stops between messages when interrupted, the rest visible again at once", async () => {
    const target = await stack();
    for (const id of ["i-1", "i-2", "i-3", "i-4"]) {
      await deadLetter(target, id, "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");
    }
    const interrupt = new AbortController();

    const report = await replay(target, {
      signal: interrupt.signal,
      onProgress: () => interrupt.abort(),
    });

    expect(report).toMatchObject({ examined: 1, replayed: 1, stoppedBy: "interrupted" });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 3, hidden: 0 });
  });

  it("examines each message once even when its hiding runs out during the run", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    await seed(target);
    // A client of its own: the test's reads below need their hiding.
    const expiring = createLocalSqsClient(target.queues.endpoint);
    intercept(expiring, (command, input) => {
      if (command === "ReceiveMessageCommand") input.VisibilityTimeout = 0;
    });

    const report = await replay(
      { queues: target.queues, sqs: expiring },
      { errorCodes: ["USER_NOT_FOUND"] },
    );
    expiring.destroy();

    expect(report).toMatchObject({ examined: 4, matched: 1, replayed: 1 });
    expect(await eventIdsOn(target.sqs, target.queues.dlqUrl)).toEqual([
      "e-invalid",
      "e-redriven",
      "e-secret",
    ]);
  });

  it("replays to a FIFO queue in the user's group, as producers send, with a deduplication id per replay", async () => {
    const target = await stack({ fifo: true });
    const withEventId = await deadLetter(
      target,
      "e-fifo",
      "SECRET_NOT_FOUND",
      "2025-06-01T10:00:00.000Z",
    );
    const unparseable = await target.sqs.send(
      new SendMessageCommand({
        QueueUrl: target.queues.dlqUrl,
        MessageBody: "not json",
        MessageGroupId: "source-message",
        MessageDeduplicationId: "source-message",
        MessageAttributes: { errorCode: { DataType: "String", StringValue: "INVALID_EVENT" } },
      }),
    );

    const report = await replay(target, { force: true });

    expect(report.replayed).toBe(2);
    const { Messages: queued = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.queues.queueUrl,
        MaxNumberOfMessages: 10,
        AttributeNames: ["All"],
      }),
    );
    const groups = queued.map((message) => [
      message.Body === "not json" ? "not json" : eventIdOf(message.Body ?? ""),
      message.Attributes?.MessageGroupId,
      message.Attributes?.MessageDeduplicationId,
    ]);
    expect(groups.sort()).toEqual([
      // The user, as producers group their events: a replay keeps that user's events in order.
      ["e-fifo", "jsmith", `${withEventId}-replay-1`],
      ["not json", unparseable.MessageId, `${unparseable.MessageId}-replay-1`],
    ]);
  });
});

describe.concurrent("move all", () => {
  async function follow(sqs: SQSClient, dlqArn: string): Promise<MoveTaskProgress[]> {
    const seen: MoveTaskProgress[] = [];
    for (;;) {
      const progress = await moveTaskProgress(sqs, dlqArn);
      if (progress === undefined) throw new Error("no move task listed");
      seen.push(progress);
      if (!isMoveTaskActive(progress)) return seen;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it("moves every message back with StartMessageMoveTask and reports its progress", async () => {
    const target = await stack({ maxReceiveCount: 1 });
    await seed(target);
    expect(await moveTaskProgress(target.sqs, target.queues.dlqArn)).toBeUndefined();

    await startMoveAll(target.sqs, {
      dlqArn: target.queues.dlqArn,
      sourceArn: target.queues.queueArn,
      maxVelocity: 10,
    });
    const progress = await follow(target.sqs, target.queues.dlqArn);

    expect(progress[0]).toMatchObject({ status: "RUNNING", moved: 0, total: 4 });
    expect(progress.at(-1)).toMatchObject({
      status: "COMPLETED",
      moved: 4,
      total: 4,
      destinationArn: target.queues.queueArn,
    });
    expect(await eventIdsOn(target.sqs, target.queues.queueUrl)).toEqual([
      "e-invalid",
      "e-redriven",
      "e-secret",
      "e-user",
    ]);
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 0, hidden: 0 });
  });

  it("fails without sourceArn at the first message the function dead-lettered itself", async () => {
    const target = await stack();
    await deadLetter(target, "e-own", "SECRET_NOT_FOUND", "2025-06-01T10:00:00.000Z");

    await startMoveAll(target.sqs, { dlqArn: target.queues.dlqArn });
    const progress = await follow(target.sqs, target.queues.dlqArn);

    expect(progress.at(-1)).toMatchObject({
      status: "FAILED",
      failureReason: "CouldNotDetermineMessageSource",
    });
  });
});

describe("the replay Lambda", () => {
  let target: Stack;
  let handler: typeof import("../../functions/replay.ts")["handler"];

  beforeEach(async () => {
    target = await stack({ maxReceiveCount: 1 });
    await seed(target);
    vi.stubEnv("AWS_ENDPOINT_URL_SQS", target.queues.endpoint);
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", "local");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
    vi.stubEnv("DLQ_URL", target.queues.dlqUrl);
    vi.stubEnv("DLQ_ARN", target.queues.dlqArn);
    vi.stubEnv("QUEUE_URL", target.queues.queueUrl);
    vi.stubEnv("QUEUE_ARN", target.queues.queueArn);
    // The entry point reads its environment once, as at a cold start.
    vi.resetModules();
    ({ handler } = await import("../../functions/replay.ts"));
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([
    [{ mode: "selected", dryrun: true }, /^dryrun: is not an option of mode "selected"/],
    [{ mode: "replay" }, /^mode: must be \{"mode": "selected" \| "all" \| "progress"/],
    [null, /^the request must be \{"mode"/],
    [{ mode: "selected", errorCodes: ["SECRET_NOT_FOUD"] }, /^errorCodes\.0: must be one of /],
    [{ mode: "selected", errorCodes: [] }, /^errorCodes: must list at least one$/],
    [{ mode: "selected", since: "yesterday" }, /^since: must be a date-time with seconds/],
    [
      { mode: "selected", since: "2026-11-28T10:00:00Z", until: "2026-11-28T09:00:00Z" },
      /^until: must be later than since$/,
    ],
    [{ mode: "selected", max: 1.5 }, /^max: must be a whole number$/],
    [{ mode: "selected", dryRun: "yes" }, /^dryRun: must be true or false$/],
    [{ mode: "all", maxVelocity: 501 }, /^maxVelocity: must be 1 to 500$/],
    [
      { mode: "all", errorCodes: ["USER_NOT_FOUND"] },
      /^errorCodes: is not an option of mode "all"/,
    ],
    [
      { mode: "progress", force: true },
      /^force: is not an option of mode "progress" \(it takes none\)/,
    ],
  ])("refuses %j before touching a queue", async (input, message) => {
    const refused = handler(input, lambdaContext(60_000));

    await expect(refused).rejects.toThrow(message);
    await expect(refused).rejects.toMatchObject({ name: "ReplayInputError" });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 4, hidden: 0 });
  });

  it("answers a dry run with its report", async () => {
    const result = await handler(
      { mode: "selected", errorCodes: ["SECRET_NOT_FOUND"], dryRun: true },
      lambdaContext(60_000),
    );

    expect(result).toMatchObject({
      mode: "selected",
      report: { dryRun: true, examined: 4, replayed: 1, messages: [{ eventId: "e-secret" }] },
    });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 4, hidden: 0 });
  });

  it("stops before the Lambda's time runs out, leaving the messages visible", async () => {
    const result = await handler({ mode: "selected" }, lambdaContext(5_000));

    expect(result).toMatchObject({
      report: { examined: 0, replayed: 0, stoppedBy: "interrupted" },
    });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 4, hidden: 0 });
  });

  it("refuses to move everything while INVALID_EVENT messages are on the DLQ, unless forced", async () => {
    await expect(handler({ mode: "all" }, lambdaContext(60_000))).rejects.toThrow(
      /holds 1 INVALID_EVENT message/,
    );
    expect(await handler({ mode: "progress" }, lambdaContext(60_000))).toEqual({
      mode: "progress",
      progress: null,
    });
    expect(await counts(target.sqs, target.queues.dlqUrl)).toEqual({ messages: 4, hidden: 0 });

    const started = await handler({ mode: "all", force: true }, lambdaContext(60_000));

    expect(started).toMatchObject({
      mode: "all",
      taskHandle: expect.any(String),
      progress: { status: "RUNNING", total: 4, destinationArn: target.queues.queueArn },
    });
  });

  it("names the missing variable at cold start", () => {
    expect(() => replayQueuesFromEnvironment({ DLQ_URL: "https://sqs/dlq" })).toThrow(
      new ConfigurationError("DLQ_ARN is required"),
    );
  });
});
