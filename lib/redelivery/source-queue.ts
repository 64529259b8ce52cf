// The queue a record came from, found from its eventSourceARN: how many receives its redrive
// policy allows, and hiding a record until its next retry is due.
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

interface QueueFacts {
  readonly url: string;
  /** From the queue's RedrivePolicy; undefined when it has none. */
  readonly maxReceiveCount: number | undefined;
}

/** The part of an SQS record this needs. */
export interface ReceivedMessage {
  readonly eventSourceARN: string;
  readonly receiptHandle: string;
}

/**
 * The event source queues of this function. Each queue's URL (GetQueueUrl with the ARN's name
 * and owner account, so the same code finds it on AWS and on the local stack) and redrive policy
 * are read once per container; a failed read is tried again on the next record.
 */
export class SourceQueues {
  readonly #client: SQSClient;
  readonly #facts = new Map<string, Promise<QueueFacts>>();

  constructor(client: SQSClient) {
    this.#client = client;
  }

  /** The receives the queue's redrive policy allows before SQS moves a message to its DLQ. */
  async maxReceiveCount(queueArn: string): Promise<number | undefined> {
    return (await this.#factsOf(queueArn)).maxReceiveCount;
  }

  /** Keeps the message hidden for `seconds` from now: its next receive comes no sooner. */
  async hide(message: ReceivedMessage, seconds: number): Promise<void> {
    const { url } = await this.#factsOf(message.eventSourceARN);
    await this.#client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: message.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }

  #factsOf(queueArn: string): Promise<QueueFacts> {
    let facts = this.#facts.get(queueArn);
    if (facts === undefined) {
      facts = this.#read(queueArn).catch((error: unknown) => {
        this.#facts.delete(queueArn);
        throw error;
      });
      this.#facts.set(queueArn, facts);
    }
    return facts;
  }

  async #read(queueArn: string): Promise<QueueFacts> {
    const { name, accountId } = parseQueueArn(queueArn);
    const { QueueUrl: url } = await this.#client.send(
      new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: accountId }),
    );
    if (url === undefined) throw new Error(`GetQueueUrl returned no URL for ${queueArn}`);
    const { Attributes: attributes } = await this.#client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["RedrivePolicy"] }),
    );
    return { url, maxReceiveCount: maxReceiveCountOf(attributes?.RedrivePolicy) };
  }
}

/** arn:aws:sqs:eu-west-1:123456789012:name */
export function parseQueueArn(arn: string): { name: string; accountId: string } {
  const [prefix, , service, , accountId, name] = arn.split(":");
  if (prefix !== "arn" || service !== "sqs" || !accountId || !name) {
    throw new Error(`not an SQS queue ARN: ${arn}`);
  }
  return { name, accountId };
}

function maxReceiveCountOf(redrivePolicy: string | undefined): number | undefined {
  if (redrivePolicy === undefined || redrivePolicy === "") return undefined;
  const count = Number(
    (JSON.parse(redrivePolicy) as { maxReceiveCount?: unknown }).maxReceiveCount,
  );
  return Number.isInteger(count) && count > 0 ? count : undefined;
}
