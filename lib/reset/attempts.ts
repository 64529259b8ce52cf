import {
  DeleteItemCommand,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { CredentialKind } from "../cupi/types.ts";

/** Unknown outcomes are kept a day: longer than any retry or replay that could explain them. */
const RETENTION_SECONDS = 24 * 3600;

/** What is known before the first attempt at a PUT of a new value. */
export interface AttemptStart {
  /** CUPI's `TimeChanged` of the credential before the first attempt ("" when never set). */
  readonly timeChangedBefore: string;
  /** Whether an earlier attempt (an earlier delivery) left its outcome unknown. */
  readonly earlierAttemptUnknown: boolean;
}

/**
 * Remembers credential PUTs whose outcome was never learned (a timeout or a lost connection after
 * sending), with the credential's `TimeChanged` from before the first of them. A later check that
 * finds `TimeChanged` moved tells that the value landed — no clock needs to agree with CUC's.
 */
export class AttemptLog {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  /** Records an attempt about to be sent; keeps the first attempt's snapshot if there is one. */
  async begin(eventId: string, kind: CredentialKind, timeChanged: string): Promise<AttemptStart> {
    const { Attributes: attributes } = await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: { id: { S: key(eventId, kind) } },
        UpdateExpression:
          "SET timeChangedBefore = if_not_exists(timeChangedBefore, :timeChanged), attemptCount = if_not_exists(attemptCount, :zero) + :one, expiration = :expiration",
        ExpressionAttributeValues: {
          ":timeChanged": { S: timeChanged },
          ":zero": { N: "0" },
          ":one": { N: "1" },
          ":expiration": { N: String(Math.floor(Date.now() / 1000) + RETENTION_SECONDS) },
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return {
      timeChangedBefore: attributes?.timeChangedBefore?.S ?? timeChanged,
      earlierAttemptUnknown: Number(attributes?.attemptCount?.N ?? 1) > 1,
    };
  }

  /** The PUT's outcome is known (applied or refused): nothing to explain later. */
  async settle(eventId: string, kind: CredentialKind): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({ TableName: this.#tableName, Key: { id: { S: key(eventId, kind) } } }),
    );
  }
}

function key(eventId: string, kind: CredentialKind): string {
  return `attempt#${eventId}#${kind}`;
}

/** CUC's answer to a value it has seen in the credential's history. */
export function isHistoryRejection(cupiMessage: string | undefined): boolean {
  return /repeat|history|previously used/i.test(cupiMessage ?? "");
}
