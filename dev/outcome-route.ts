// The local stack's outcome route: the EventBridge stand-in, a "ticketing" queue, and a rule between.
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { OUTCOME_SOURCE } from "../lib/outcome/outcome-event.ts";
import { type EventBridgeStandIn, startEventBridgeStandIn } from "./eventbridge/index.ts";
import type { EventEnvelope } from "./eventbridge/put-events.ts";
import { createQueue, LOCAL_REGION } from "./sqs/local-queues.ts";

/** The bus outcomes go to locally: the one `serverless.yml` publishes to by default. */
export const LOCAL_OUTCOME_BUS = "default";
export const TICKETING_QUEUE_NAME = "ticketing";
export const TICKETING_RULE_NAME = "cupi-reset-outcomes-to-ticketing";

export interface OutcomeRoute {
  readonly eventBridge: EventBridgeStandIn;
  /** Where a ticketing system would read outcome events from: each message is a whole event. */
  readonly ticketingQueueUrl: string;
}

/**
 * Starts the EventBridge stand-in and routes every cupi-reset outcome on the bus to a local
 * "ticketing" queue, set up the way a deployer would: a rule matching the source, an SQS target,
 * both through the real EventBridge client.
 */
export async function startOutcomeRoute(
  sqs: SQSClient,
  sqsEndpoint: string,
): Promise<OutcomeRoute> {
  const eventBridge = await startEventBridgeStandIn({ region: LOCAL_REGION, sqsEndpoint });
  const client = new EventBridgeClient({
    region: LOCAL_REGION,
    endpoint: eventBridge.url,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const ticketing = await createQueue(sqs, TICKETING_QUEUE_NAME, {});
    await client.send(
      new PutRuleCommand({
        Name: TICKETING_RULE_NAME,
        EventBusName: LOCAL_OUTCOME_BUS,
        EventPattern: JSON.stringify({ source: [OUTCOME_SOURCE] }),
      }),
    );
    await client.send(
      new PutTargetsCommand({
        Rule: TICKETING_RULE_NAME,
        EventBusName: LOCAL_OUTCOME_BUS,
        Targets: [{ Id: "ticketing", Arn: ticketing.arn }],
      }),
    );
    return { eventBridge, ticketingQueueUrl: ticketing.url };
  } catch (error) {
    await eventBridge.close();
    throw error;
  } finally {
    client.destroy();
  }
}

/** Takes every outcome event waiting on the ticketing queue, as the ticketing system would. */
export async function takeOutcomeEvents(
  sqs: SQSClient,
  ticketingQueueUrl: string,
): Promise<EventEnvelope[]> {
  const taken: EventEnvelope[] = [];
  for (;;) {
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: ticketingQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (messages.length === 0) return taken;
    for (const message of messages) taken.push(JSON.parse(message.Body ?? "") as EventEnvelope);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: ticketingQueueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  }
}
