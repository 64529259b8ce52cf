// Publishes outcome events to the EventBridge bus producers listen on.
import {
  EventBridgeClient,
  type EventBridgeClientConfig,
  PutEventsCommand,
} from "@aws-sdk/client-eventbridge";
import { OUTCOME_SOURCE, type ResetOutcomeDetail } from "../outcome/outcome-event.ts";

/** EventBridge took the call but not the event (a throttled or failed entry). */
export class OutcomeNotPublishedError extends Error {
  override readonly name = "OutcomeNotPublishedError";
}

export interface OutcomeToPublish {
  readonly detailType: string;
  readonly detail: ResetOutcomeDetail;
}

/** Puts each outcome on one bus (a name or an ARN) as one event; throws unless it was taken. */
export class OutcomePublisher {
  readonly #client: EventBridgeClient;
  readonly #eventBus: string;

  constructor(client: EventBridgeClient, eventBus: string) {
    this.#client = client;
    this.#eventBus = eventBus;
  }

  async publish({ detailType, detail }: OutcomeToPublish): Promise<void> {
    const answer = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#eventBus,
            Source: OUTCOME_SOURCE,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
            Time: new Date(detail.settledAt),
          },
        ],
      }),
    );
    // A 200 answer can still refuse the entry: the call is then a failure, not a success.
    const entry = answer.Entries?.[0];
    if ((answer.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
      throw new OutcomeNotPublishedError(
        `EventBridge did not take the outcome event: ${entry?.ErrorCode ?? "no event id"}`,
      );
    }
  }
}

/** A publisher on its own EventBridge client (named imports: the bundle keeps PutEvents only). */
export function connectOutcomePublisher(
  eventBus: string,
  clientOptions: EventBridgeClientConfig,
): OutcomePublisher {
  return new OutcomePublisher(new EventBridgeClient(clientOptions), eventBus);
}
