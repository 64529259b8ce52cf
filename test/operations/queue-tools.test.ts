// Reading the DLQ without consuming it, against local-aws-sqs: every message, once, left visible.
import { GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLocalSqsClient,
  type LocalQueues,
  startLocalQueues,
} from "../../dev/sqs/local-queues.ts";
import { listDeadLetters } from "../../lib/operations/queue-tools.ts";

let queues: LocalQueues;
let client: ReturnType<typeof createLocalSqsClient>;
const sqs = () => client;

beforeAll(async () => {
  queues = await startLocalQueues();
  client = createLocalSqsClient(queues.endpoint);
});
afterAll(async () => {
  client?.destroy();
  await queues?.close();
});

async function deadLetter(count: number, prefix: string): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.dlqUrl,
        Entries: Array.from({ length: Math.min(10, count - start) }, (_, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify({ eventId: `${prefix}-${start + index}` }),
        })),
      }),
    );
  }
}

async function visibleAndHidden(): Promise<[number, number]> {
  const { Attributes } = await sqs().send(
    new GetQueueAttributesCommand({
      QueueUrl: queues.dlqUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return [
    Number(Attributes?.ApproximateNumberOfMessages),
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  ];
}

describe("listDeadLetters", () => {
  it("reads an empty DLQ as empty", async () => {
    expect(await listDeadLetters(sqs(), queues.dlqUrl)).toEqual([]);
  });

  it("reads every message once over many receives, up to --max, and leaves all visible", async () => {
    await deadLetter(35, "many");

    const all = await listDeadLetters(sqs(), queues.dlqUrl);
    expect(all.map((entry) => entry.eventId).sort()).toEqual(
      Array.from({ length: 35 }, (_, index) => `many-${index}`).sort(),
    );
    expect(await visibleAndHidden()).toEqual([35, 0]);

    const some = await listDeadLetters(sqs(), queues.dlqUrl, 12);
    expect(new Set(some.map((entry) => entry.messageId)).size).toBe(12);
    expect(await visibleAndHidden()).toEqual([35, 0]);
  });
});
