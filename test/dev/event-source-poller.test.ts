import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createEventSourcePoller,
  type EventSourcePoller,
  type EventSourcePollerOptions,
  type InvocationReport,
} from "../../dev/sqs/event-source-poller.ts";
import {
  createLocalSqsClient,
  type LocalQueues,
  type LocalQueuesOptions,
  startLocalQueues,
} from "../../dev/sqs/local-queues.ts";

const VISIBILITY_TIMEOUT_SECONDS = 1;
const MAX_RECEIVE_COUNT = 3;

const ATTRIBUTES: Record<string, MessageAttributeValue> = {
  source: { DataType: "String", StringValue: "helpdesk" },
  attempt: { DataType: "Number", StringValue: "42" },
  signature: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 1, 2, 253, 254, 255]) },
};

let queues: LocalQueues;
let sqs: SQSClient;
let pollers: EventSourcePoller[] = [];

async function openQueues(options: LocalQueuesOptions = {}): Promise<void> {
  queues = await startLocalQueues({
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    maxReceiveCount: MAX_RECEIVE_COUNT,
    ...options,
  });
  sqs = createLocalSqsClient(queues.endpoint);
}

async function closeQueues(): Promise<void> {
  await Promise.all(pollers.map((poller) => poller.stop()));
  pollers = [];
  sqs.destroy();
  await queues.close();
}

type Handler = EventSourcePollerOptions["handler"];

function poller(handler: Handler, options: Partial<EventSourcePollerOptions> = {}) {
  const created = createEventSourcePoller({
    sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    handler,
    // local-aws-sqs answers a 0 s wait with whatever is visible at once: quick tests.
    maximumBatchingWindowSeconds: 0,
    ...options,
  });
  pollers.push(created);
  return created;
}

/** Sends in order; returns the message ids in the same order. */
async function sendMessages(bodies: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < bodies.length; start += 10) {
    const chunk = bodies.slice(start, start + 10);
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.queueUrl,
        Entries: chunk.map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
    expect(sent.Failed ?? []).toEqual([]);
    for (let index = 0; index < chunk.length; index++) {
      const entry = sent.Successful?.find(({ Id }) => Id === String(index));
      if (entry?.MessageId === undefined) throw new Error(`no MessageId for entry ${index}`);
      ids.push(entry.MessageId);
    }
  }
  return ids;
}

/** Polls until an invocation happens, as failed messages reappear only after the visibility timeout. */
async function nextInvocation(target: EventSourcePoller, timeoutMs = 4_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const report = await target.pollOnce();
    if (report !== undefined) return report;
    await sleep(50);
  }
  throw new Error(`no message received within ${timeoutMs} ms`);
}

/** Empty under both readings of ApproximateNumberOfMessages (local-aws-sqs counts in-flight). */
async function expectQueueEmpty(queueUrl: string): Promise<void> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  expect(Attributes).toMatchObject({
    ApproximateNumberOfMessages: "0",
    ApproximateNumberOfMessagesNotVisible: "0",
  });
}

const bodiesOf = (event: SQSEvent) => event.Records.map((record) => record.body);
const failures = (...ids: string[]): SQSBatchResponse => ({
  batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })),
});

describe("event source poller against local-aws-sqs", () => {
  beforeEach(() => openQueues());
  afterEach(() => closeQueues());

  it("deletes what succeeded and redelivers only the reported failures", async () => {
    const ids = await sendMessages(["a", "b", "c", "d", "e"]);
    const [, idB, , idD] = ids;
    if (idB === undefined || idD === undefined) throw new Error("messages not sent");
    const seen: SQSEvent[] = [];
    const reports: InvocationReport[] = [];
    let call = 0;
    const target = poller(
      async (event) => {
        seen.push(event);
        return ++call === 1 ? failures(idB, idD) : undefined;
      },
      { onInvocation: (report) => reports.push(report) },
    );

    const first = await nextInvocation(target);
    expect(first.outcome).toBe("partially-failed");
    expect(first.messageIds).toEqual(ids);
    expect([...first.failedMessageIds].sort()).toEqual([idB, idD].sort());
    expect([...first.deletedMessageIds].sort()).toEqual([ids[0], ids[2], ids[4]].sort());

    // Everything received in the first batch turns visible at the same moment unless deleted.
    const second = await nextInvocation(target);
    expect([...second.messageIds].sort()).toEqual([idB, idD].sort());
    expect(bodiesOf(seen[1] as SQSEvent).sort()).toEqual(["b", "d"]);
    expect(seen[1]?.Records.map((record) => record.attributes.ApproximateReceiveCount)).toEqual([
      "2",
      "2",
    ]);
    expect(second.outcome).toBe("succeeded");
    expect([...second.deletedMessageIds].sort()).toEqual([idB, idD].sort());

    await expectQueueEmpty(queues.queueUrl);
    expect(reports).toEqual([first, second]);
    expect(target.stats).toEqual({
      invocations: 2,
      received: 7,
      deleted: 5,
      failed: 2,
      handlerErrors: 0,
    });
  });

  it("moves a message failed on every receive to the DLQ after maxReceiveCount, intact", async () => {
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageBody: '{"alias":"jsmith"}',
        MessageAttributes: ATTRIBUTES,
      }),
    );
    const receiveCounts: string[] = [];
    const target = poller(async (event) => {
      receiveCounts.push(
        ...event.Records.map((record) => record.attributes.ApproximateReceiveCount),
      );
      return failures(...event.Records.map((record) => record.messageId));
    });

    for (let receive = 1; receive <= MAX_RECEIVE_COUNT; receive++) {
      const report = await nextInvocation(target);
      expect(report.failedMessageIds).toEqual([sent.MessageId]);
      expect(report.deletedMessageIds).toEqual([]);
    }
    expect(receiveCounts).toEqual(["1", "2", "3"]);

    const dead = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.dlqUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 5,
        MessageAttributeNames: ["All"],
      }),
    );
    expect(dead.Messages).toHaveLength(1);
    const [message] = dead.Messages ?? [];
    expect(message?.MessageId).toBe(sent.MessageId);
    expect(message?.Body).toBe('{"alias":"jsmith"}');
    expect(message?.MessageAttributes).toEqual(ATTRIBUTES);
    expect(message?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);

    expect(await target.pollOnce()).toBeUndefined();
    await expectQueueEmpty(queues.queueUrl);
    expect(target.stats).toMatchObject({ invocations: 3, deleted: 0, failed: 3 });
  });

  it("deletes nothing when the handler throws", async () => {
    const ids = await sendMessages(["a", "b", "c"]);
    const failure = new Error("CUPI unreachable");
    let call = 0;
    const target = poller(async () => {
      if (++call === 1) throw failure;
    });

    const first = await nextInvocation(target);
    expect(first).toMatchObject({ outcome: "threw", error: failure, deletedMessageIds: [] });
    expect(first.failedMessageIds).toEqual(ids);

    const retry = await nextInvocation(target);
    expect([...retry.messageIds].sort()).toEqual([...ids].sort());
    expect(retry.outcome).toBe("succeeded");
    expect(target.stats).toMatchObject({ handlerErrors: 1, deleted: 3, failed: 3 });
  });

  it("deletes nothing when an itemIdentifier is unknown, empty or under another key", async () => {
    // Four receives: more than the suite's maxReceiveCount allows before the DLQ.
    await closeQueues();
    await openQueues({ maxReceiveCount: 5 });
    const ids = await sendMessages(["a", "b"]);
    const [idA = ""] = ids;
    const responses: unknown[] = [
      failures(idA, "0b4e934c-dd78-4fc9-9e64-69acf166123e"),
      failures(""),
      { batchItemFailures: [{ itemIdentifer: idA }] },
      undefined,
    ];
    const receiveCounts: string[][] = [];
    const target = poller(async (event) => {
      receiveCounts.push(event.Records.map((record) => record.attributes.ApproximateReceiveCount));
      return responses.shift() as SQSBatchResponse | undefined;
    });

    for (let invalid = 1; invalid <= 3; invalid++) {
      const report = await nextInvocation(target);
      expect(report).toMatchObject({ outcome: "invalid-response", deletedMessageIds: [] });
      expect(report.failedMessageIds).toEqual(ids);
    }
    const allSucceeded = await nextInvocation(target);
    expect(allSucceeded.outcome).toBe("succeeded");
    expect([...allSucceeded.deletedMessageIds].sort()).toEqual([...ids].sort());

    expect(receiveCounts).toEqual([
      ["1", "1"],
      ["2", "2"],
      ["3", "3"],
      ["4", "4"],
    ]);
    await expectQueueEmpty(queues.queueUrl);
    expect(target.stats.handlerErrors).toBe(3);
  });

  it("builds records and a context shaped like Lambda's", async () => {
    const body = '{"alias":"jsmith","credential":"pin"}';
    const withAttributes = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageBody: body,
        MessageAttributes: ATTRIBUTES,
      }),
    );
    const plain = await sqs.send(
      new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: "plain" }),
    );
    const invocations: { event: SQSEvent; context: Context }[] = [];
    const target = poller(async (event, context) => {
      invocations.push({ event, context });
    });

    const report = await nextInvocation(target);
    expect(invocations).toHaveLength(1);
    const [{ event, context }] = invocations as [{ event: SQSEvent; context: Context }];
    expect(context).toMatchObject({
      functionName: "cupi-reset-reset",
      functionVersion: "$LATEST",
      invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:cupi-reset-reset",
      awsRequestId: report.awsRequestId,
      logGroupName: "/aws/lambda/cupi-reset-reset",
    });
    expect(event.Records).toHaveLength(2);
    const [first, second] = event.Records as [SQSRecord, SQSRecord];

    const md5 = (text: string) => createHash("md5").update(text).digest("hex");
    const systemAttributes = {
      ApproximateReceiveCount: "1",
      SentTimestamp: expect.stringMatching(/^\d{13}$/),
      SenderId: expect.any(String),
      ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
    };
    expect(first).toEqual({
      messageId: withAttributes.MessageId,
      receiptHandle: expect.any(String),
      body,
      attributes: systemAttributes,
      messageAttributes: {
        source: {
          stringValue: "helpdesk",
          stringListValues: [],
          binaryListValues: [],
          dataType: "String",
        },
        attempt: {
          stringValue: "42",
          stringListValues: [],
          binaryListValues: [],
          dataType: "Number",
        },
        signature: {
          binaryValue: Buffer.from([0, 1, 2, 253, 254, 255]).toString("base64"),
          stringListValues: [],
          binaryListValues: [],
          dataType: "Binary",
        },
      },
      md5OfBody: md5(body),
      md5OfMessageAttributes: withAttributes.MD5OfMessageAttributes,
      eventSource: "aws:sqs",
      eventSourceARN: queues.queueArn,
      awsRegion: "us-east-1",
    });
    expect(Object.keys(first)).toEqual([
      "messageId",
      "receiptHandle",
      "body",
      "attributes",
      "messageAttributes",
      "md5OfBody",
      "md5OfMessageAttributes",
      "eventSource",
      "eventSourceARN",
      "awsRegion",
    ]);
    expect(second).toEqual({
      messageId: plain.MessageId,
      receiptHandle: expect.any(String),
      body: "plain",
      attributes: systemAttributes,
      messageAttributes: {},
      md5OfBody: md5("plain"),
      eventSource: "aws:sqs",
      eventSourceARN: queues.queueArn,
      awsRegion: "us-east-1",
    });
  });

  it("counts getRemainingTimeInMillis down from functionTimeoutMs", async () => {
    await sendMessages(["a"]);
    const readings: number[] = [];
    const target = poller(
      async (_event, context) => {
        readings.push(context.getRemainingTimeInMillis());
        await sleep(200);
        readings.push(context.getRemainingTimeInMillis());
      },
      { functionTimeoutMs: 2_000 },
    );

    await nextInvocation(target);
    const [start, later] = readings as [number, number];
    expect(start).toBeLessThanOrEqual(2_000);
    expect(start).toBeGreaterThan(1_900);
    expect(start - later).toBeGreaterThanOrEqual(190);
    expect(later).toBeGreaterThan(1_500);
  });

  it("deletes nothing when the handler outlives functionTimeoutMs", async () => {
    const [id] = await sendMessages(["slow"]);
    let call = 0;
    const target = poller(
      async () => {
        // Never settles the first time, as a handler stuck on an unanswered socket.
        if (++call === 1) await new Promise(() => {});
      },
      { functionTimeoutMs: 300 },
    );

    const timedOut = await nextInvocation(target);
    expect(timedOut).toMatchObject({
      outcome: "timed-out",
      failedMessageIds: [id],
      deletedMessageIds: [],
    });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(290);
    expect(timedOut.durationMs).toBeLessThan(1_000);

    const retry = await nextInvocation(target);
    expect(retry).toMatchObject({ outcome: "succeeded", deletedMessageIds: [id] });
    expect(target.stats.handlerErrors).toBe(1);
  });

  it("start() with concurrency 2 processes every message exactly once", async () => {
    const ids = await sendMessages(Array.from({ length: 20 }, (_, index) => `event-${index}`));
    const processed: string[] = [];
    let inFlight = 0;
    let peakInFlight = 0;
    const target = poller(
      async (event) => {
        inFlight++;
        peakInFlight = Math.max(peakInFlight, inFlight);
        await sleep(50);
        processed.push(...event.Records.map((record) => record.messageId));
        inFlight--;
        return { batchItemFailures: [] };
      },
      { concurrency: 2, batchSize: 3 },
    );

    target.start();
    target.start();
    await vi.waitFor(() => expect(target.stats.deleted).toBe(20), { timeout: 5_000, interval: 20 });
    await target.stop();

    expect(processed.sort()).toEqual([...ids].sort());
    expect(peakInFlight).toBe(2);
    expect(target.stats).toMatchObject({ received: 20, deleted: 20, failed: 0, handlerErrors: 0 });
    expect(target.stats.invocations).toBeGreaterThanOrEqual(7);
    await expectQueueEmpty(queues.queueUrl);
  });
});

describe("event source poller stop()", () => {
  beforeEach(() => openQueues());
  afterEach(() => closeQueues());

  it("waits for the invocation in flight and its deletes", async () => {
    const [id] = await sendMessages(["a"]);
    let started = false;
    let finished = false;
    const reports: InvocationReport[] = [];
    const target = poller(
      async () => {
        started = true;
        await sleep(300);
        finished = true;
      },
      { onInvocation: (report) => reports.push(report) },
    );

    await target.stop();
    target.start();
    await vi.waitFor(() => expect(started).toBe(true), { timeout: 2_000, interval: 10 });
    await target.stop();

    expect(finished).toBe(true);
    expect(reports.map((report) => report.deletedMessageIds)).toEqual([[id]]);
    await expectQueueEmpty(queues.queueUrl);
  });
});

describe("event source poller on FIFO queues", () => {
  beforeEach(() => openQueues({ fifo: true }));
  afterEach(() => closeQueues());

  it("adds the group, deduplication id and sequence number to the attributes", async () => {
    expect(queues.queueUrl).toMatch(/\/cupi-reset-events\.fifo$/);
    expect(queues.dlqArn).toMatch(/:cupi-reset-events-dlq\.fifo$/);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageBody: "ordered",
        MessageGroupId: "jsmith",
        MessageDeduplicationId: "reset-1",
      }),
    );
    const records: SQSRecord[] = [];
    const target = poller(async (event) => {
      records.push(...event.Records);
    });

    await nextInvocation(target);
    expect(records[0]?.attributes).toMatchObject({
      MessageGroupId: "jsmith",
      MessageDeduplicationId: "reset-1",
      SequenceNumber: expect.stringMatching(/^\d+$/),
      ApproximateReceiveCount: "1",
    });
    await expectQueueEmpty(queues.queueUrl);
  });
});
