import {
  DeleteItemCommand,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { CredentialKind } from "../cupi/types.ts";

/** Unknown outcomes older than this are not trusted to explain a history rejection. */
const MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * Remembers credential PUTs whose outcome was never learned (a timeout or a lost connection after
 * sending). When such an event comes back and CUC refuses the same value as "in history", the
 * earlier attempt most likely applied it; `changedSince` lets the caller check that CUC's
 * `TimeChanged` agrees before calling the reset applied.
 */
export class AttemptLog {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  /**
   * Records that a PUT is about to be sent, and returns when the first attempt whose outcome is
   * still unknown was sent (this one, when there is none).
   */
  async begin(eventId: string, kind: CredentialKind, now = Date.now()): Promise<number> {
    const { Attributes: attributes } = await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: { id: { S: key(eventId, kind) } },
        UpdateExpression:
          "SET startedAt = if_not_exists(startedAt, :now), expiration = :expiration",
        ExpressionAttributeValues: {
          ":now": { N: String(now) },
          ":expiration": { N: String(Math.floor((now + MAX_AGE_MS) / 1000)) },
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return Number(attributes?.startedAt?.N ?? now);
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

/**
 * Whether CUPI's `TimeChanged` ("YYYY-MM-DD HH:MM:SS.fff", read as UTC — unconfirmed on a real
 * CUC) is at or after `since`, within a minute's clock skew, and not older than a day.
 */
export function changedSince(timeChanged: string | undefined, since: number): boolean {
  if (timeChanged === undefined || Date.now() - since > MAX_AGE_MS) return false;
  const changedAt = Date.parse(`${timeChanged.replace(" ", "T")}Z`);
  return Number.isFinite(changedAt) && changedAt >= since - 60_000;
}

/** CUC's answer to a value it has seen in the credential's history. */
export function isHistoryRejection(cupiMessage: string | undefined): boolean {
  return /repeat|history|previously used/i.test(cupiMessage ?? "");
}
