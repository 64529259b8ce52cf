// Sends matched events to their SQS targets with the real SDK, and accounts for every send.
import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { createLocalSqsClient } from "../sqs/local-queues.ts";
import type { SqsTarget } from "./targets.ts";

/** One event for one target of one rule. */
export interface Route {
  readonly eventId: string;
  readonly rule: string;
  readonly target: SqsTarget;
}

export interface Delivery {
  readonly eventId: string;
  readonly rule: string;
  readonly targetId: string;
  readonly targetArn: string;
  readonly messageId: string;
}

export interface DeliveryFailure {
  readonly eventId: string;
  readonly rule: string;
  readonly targetId: string;
  readonly targetArn: string;
  readonly error: string;
}

export class SqsDelivery {
  readonly #sqs: SQSClient;
  /** Queue name → URL: the name is all a target's ARN tells, SendMessage wants the URL. */
  readonly #queueUrls = new Map<string, string>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #delivered: Delivery[] = [];
  readonly #failures: DeliveryFailure[] = [];

  constructor(endpoint: string) {
    this.#sqs = createLocalSqsClient(endpoint);
  }

  get delivered(): Delivery[] {
    return [...this.#delivered];
  }

  get failures(): DeliveryFailure[] {
    return [...this.#failures];
  }

  /**
   * Starts sending the body `render` makes without waiting for it, as EventBridge answers
   * PutEvents before it delivers. Never throws: a failure, rendering included, is recorded and
   * logged.
   */
  deliver(route: Route, render: () => string): void {
    const sending = this.#send(route, render).finally(() => this.#inFlight.delete(sending));
    this.#inFlight.add(sending);
  }

  /** Resolves once every send started so far, and any started meanwhile, has finished. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async close(): Promise<void> {
    await this.settled();
    this.#sqs.destroy();
  }

  async #send(route: Route, render: () => string): Promise<void> {
    const { eventId, rule, target } = route;
    const where = { eventId, rule, targetId: target.id, targetArn: target.arn };
    try {
      const body = render();
      const sent = await this.#sqs.send(
        new SendMessageCommand({
          QueueUrl: await this.#queueUrlOf(target.queueName),
          MessageBody: body,
        }),
      );
      this.#delivered.push({ ...where, messageId: sent.MessageId ?? "" });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.#failures.push({ ...where, error: message });
      console.error(
        `EventBridge stand-in: event ${eventId} not delivered to ${target.arn} (rule ${rule}, target ${target.id}): ${message}`,
      );
    }
  }

  async #queueUrlOf(queueName: string): Promise<string> {
    const known = this.#queueUrls.get(queueName);
    if (known !== undefined) return known;
    const { QueueUrl } = await this.#sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    if (QueueUrl === undefined) throw new Error(`GetQueueUrl ${queueName} returned no QueueUrl`);
    this.#queueUrls.set(queueName, QueueUrl);
    return QueueUrl;
  }
}
