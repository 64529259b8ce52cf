// The attempt log: per event and credential, whether this service's PUT is being sent, landed,
// or left its outcome unknown — kept across deliveries, so a later one settles what an earlier
// one could not learn.
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  type TransactWriteItem,
  type Update,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { CredentialKind } from "../cupi/types.ts";
import { ClosingWrites } from "./closing-writes.ts";

/**
 * Kept a week, as long as an applied eventId is remembered: longer than the retry window and
 * any replay that could come back to an attempt.
 */
const RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * What a lost answer is settled against: the credential's `TimeChanged` read before the first
 * attempt ("" when never set), or CUC's clock (its `Date` header) before the first attempt with
 * the offset of TimeChanged from that clock: a TimeChanged at or after it is this attempt's.
 */
export type Baseline = { readonly timeChangedBefore: string } | ClockBaseline;

export interface ClockBaseline {
  readonly answeredAfter: number;
  readonly timeChangedOffsetMs: number;
}

/** What is known before an attempt at a PUT of a new value. */
export type AttemptStart =
  | {
      /** An earlier delivery's PUT of this event's value landed: nothing to send. */
      readonly alreadyApplied: true;
    }
  | {
      readonly alreadyApplied: false;
      /** The first attempt's baseline (an earlier delivery's, if there was one). */
      readonly baseline: Baseline;
      /** Whether an earlier attempt (an earlier delivery) left its outcome unknown. */
      readonly earlierAttemptUnknown: boolean;
    };

/**
 * Remembers credential PUTs: one begun and never settled is an unknown outcome (a timeout, a lost
 * connection, a delivery cut at its deadline or killed), kept with its baseline from before the
 * first attempt; a later check of `TimeChanged` against it tells whether the value landed — only
 * CUC's clock is ever compared with CUC's. One known to have landed is marked applied, so a
 * later delivery of the same event (after a failure further on) does not send it again.
 */
export class AttemptLog {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  /**
   * Records an attempt about to be sent, keeping the first attempt's snapshot if there is one;
   * or finds that an earlier attempt landed.
   */
  async begin(eventId: string, kind: CredentialKind, baseline: Baseline): Promise<AttemptStart> {
    try {
      const { Attributes: attributes } = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { id: { S: key(eventId, kind) } },
          // The first attempt's baseline stays: a later delivery settles against it.
          UpdateExpression:
            "SET baseline = if_not_exists(baseline, :baseline), attemptCount = if_not_exists(attemptCount, :zero) + :one, expiration = :expiration",
          ConditionExpression: "attribute_not_exists(appliedAt)",
          ExpressionAttributeValues: {
            ":baseline": { S: JSON.stringify(baseline) },
            ":zero": { N: "0" },
            ":one": { N: "1" },
            ":expiration": { N: expiration() },
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return {
        alreadyApplied: false,
        baseline: baselineOf(attributes) ?? baseline,
        earlierAttemptUnknown: Number(attributes?.attemptCount?.N ?? 1) > 1,
      };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { alreadyApplied: true };
      throw error;
    }
  }

  /**
   * The first attempts of an event at `kinds`, to be written with its claim (one call): they hold
   * only if the event has no attempt logged yet, else the claim is made step by step.
   */
  beginWithClaim(
    eventId: string,
    kinds: readonly CredentialKind[],
    baseline: ClockBaseline,
  ): TransactWriteItem[] {
    return kinds.map((kind) => ({
      Put: {
        TableName: this.#tableName,
        Item: {
          id: { S: key(eventId, kind) },
          baseline: { S: JSON.stringify(baseline) },
          attemptCount: { N: "1" },
          expiration: { N: expiration() },
        },
        ConditionExpression: "attribute_not_exists(id)",
      },
    }));
  }

  /** A PUT landed (another event's, settled by this one, or this one's with more to send). */
  async applied(eventId: string, kind: CredentialKind): Promise<void> {
    await this.#client.send(new UpdateItemCommand(this.#markApplied(eventId, kind)));
  }

  /**
   * This record's last PUT landed: marked with the record's closing writes (ClosingWrites). Should
   * the mark be lost (the record killed or cut at its deadline first), the attempt stays unknown
   * and is settled from TimeChanged like any other.
   */
  async appliedAtClose(eventId: string, kind: CredentialKind): Promise<void> {
    const mark = this.#markApplied(eventId, kind);
    await ClosingWrites.write({
      item: { Update: mark },
      alone: async () => {
        await this.#client.send(new UpdateItemCommand(mark));
      },
    });
  }

  #markApplied(eventId: string, kind: CredentialKind): Update {
    return {
      TableName: this.#tableName,
      Key: { id: { S: key(eventId, kind) } },
      UpdateExpression: "SET appliedAt = :now, expiration = :expiration",
      ExpressionAttributeValues: {
        ":now": { S: new Date().toISOString() },
        ":expiration": { N: expiration() },
      },
    };
  }

  /** An attempt's record: undefined when none was begun, or it was forgotten. */
  async read(
    eventId: string,
    kind: CredentialKind,
  ): Promise<{ readonly baseline: Baseline; readonly applied: boolean } | undefined> {
    const { Item: item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { id: { S: key(eventId, kind) } },
        ConsistentRead: true,
      }),
    );
    if (item === undefined) return undefined;
    return {
      baseline: baselineOf(item) ?? { timeChangedBefore: "" },
      applied: item.appliedAt !== undefined,
    };
  }

  /**
   * Attempts begun with the claim whose PUT was never sent (an earlier change of the event
   * failed): forgotten with the record's closing writes, so that no later event settles them.
   */
  async forgetAtClose(eventId: string, kind: CredentialKind): Promise<void> {
    const forget = { TableName: this.#tableName, Key: { id: { S: key(eventId, kind) } } };
    await ClosingWrites.write({
      item: { Delete: forget },
      alone: async () => {
        await this.#client.send(new DeleteItemCommand(forget));
      },
    });
  }

  /** CUC refused the value: nothing landed, nothing to explain later. */
  async forget(eventId: string, kind: CredentialKind): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({ TableName: this.#tableName, Key: { id: { S: key(eventId, kind) } } }),
    );
  }
}

/**
 * The stored baseline. An attempt logged before baselines had kinds holds a bare TimeChanged,
 * which comes first: its first attempt's, even if a later delivery added a baseline of its own.
 */
function baselineOf(item: Record<string, AttributeValue> | undefined): Baseline | undefined {
  const timeChanged = item?.timeChangedBefore?.S;
  if (timeChanged !== undefined) return { timeChangedBefore: timeChanged };
  const stored = item?.baseline?.S;
  return stored === undefined ? undefined : (JSON.parse(stored) as Baseline);
}

function expiration(): string {
  return String(Math.floor(Date.now() / 1000) + RETENTION_SECONDS);
}

function key(eventId: string, kind: CredentialKind): string {
  return `attempt#${eventId}#${kind}`;
}

/** CUC's answer to a value it has seen in the credential's history. */
export function isHistoryRejection(cupiMessage: string | undefined): boolean {
  return /repeat|history|previously used/i.test(cupiMessage ?? "");
}
