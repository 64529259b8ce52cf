// The blast-radius guard: how many credential changes one source may cause in a rolling hour, and
// one user's credentials undergo in an hour, enforced across every container by conditional
// writes to the state table.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  type Update,
} from "@aws-sdk/client-dynamodb";
import {
  type CancellationReasons,
  cancellationReasons,
  type TransactionRider,
} from "../aws/transaction-riders.ts";
import { PermanentFailure, TransientFailure } from "../outcome/failures.ts";

/**
 * A source's hour is counted in windows of this length: a change is admitted against the current
 * window and the six before it, so any 60 minutes hold at most the budget (70 at the most count).
 */
export const WINDOW_MS = 10 * 60_000;
const PAST_WINDOWS = 6;
const HOUR_MS = 3_600_000;
/** How long a container trusts what it read of past windows and releases. */
export const PAST_CACHE_MS = 60_000;
/** Window items outlive the hour they count in, then DynamoDB's TTL removes them. */
const RETENTION_SECONDS = 3 * 3600;

export interface BlastRadiusLimits {
  /** The source's budget of changes per rolling hour; undefined: none. */
  budgetOf(source: string): number | undefined;
  /** How often one user's credentials may change in an hour. */
  readonly userChangesPerHour: number;
}

export interface BlastRadiusGuardOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly limits: BlastRadiusLimits;
  /** For tests: the time, epoch ms. */
  readonly now?: () => number;
}

/** What this container last read of a source's past windows and release. */
interface PastReading {
  readonly readAt: number;
  readonly window: number;
  readonly changes: ReadonlySet<string>;
  readonly releasedUntil: number;
}

/**
 * Admits a change (an event about to be applied) or refuses it. A source over its budget is held:
 * the event is retried later (TransientFailure with `heldBy`), never dead-lettered for it, until
 * the hour has room or an operator releases the source. A user whose credentials already changed
 * `userChangesPerHour` times this hour is refused (ACTION_NOT_ALLOWED): a producer in a loop must
 * not hammer one mailbox. An event is counted once, however often it is delivered.
 */
export class BlastRadiusGuard {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #limits: BlastRadiusLimits;
  readonly #now: () => number;
  readonly #past = new Map<string, PastReading>();

  constructor(options: BlastRadiusGuardOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The conditional writes that count the change, or refuse it (see the class): sent in another
   * transaction (the ordering claim's), whose cancellation reasons `refusal` reads, or alone.
   */
  async writesFor(eventId: string, source: string, objectId: string): Promise<TransactionRider> {
    const now = this.#now();
    const change = digest(eventId);
    const expiration = { N: String(Math.floor(now / 1000) + RETENTION_SECONDS) };
    const userLimit = this.#limits.userChangesPerHour;
    const writes: { readonly update: Update; readonly refusal: () => Error }[] = [
      {
        update: countIn(this.#tableName, userHourKey(objectId, now), change, userLimit, expiration),
        refusal: () =>
          new PermanentFailure(
            "ACTION_NOT_ALLOWED",
            `user ${objectId}'s credentials were already changed ${userLimit} times this hour (the authorization policy's userLimit.perHour): a producer repeating itself? Replay the event after the hour if it is wanted`,
          ),
      },
    ];
    const budget = this.#limits.budgetOf(source);
    if (budget !== undefined) {
      const past = await this.#pastOf(source, now);
      // Counted in an earlier window of this hour already (an earlier delivery): not again.
      if (!past.changes.has(change)) {
        const room = past.releasedUntil > now ? undefined : budget - past.changes.size;
        writes.push({
          update: countIn(
            this.#tableName,
            sourceWindowKey(source, windowOf(now)),
            change,
            room,
            expiration,
          ),
          refusal: () => {
            // Read afresh for the next event: an operator's release must not wait out the cache.
            this.#past.delete(source);
            return new TransientFailure(
              `source ${source} has used its budget of ${budget} changes in the last hour: held, retried later (an operator may lift it: cupi-reset guard release ${source})`,
              { heldBy: source },
            );
          },
        });
      }
    }
    const refusal = (reasons: CancellationReasons) =>
      writes.find((_, index) => reasons[index]?.Code === "ConditionalCheckFailed")?.refusal();
    const items = writes.map(({ update }) => ({ Update: update }));
    return {
      items,
      refusal,
      writeAlone: async () => {
        try {
          await this.#client.send(new TransactWriteItemsCommand({ TransactItems: items }));
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (reasons === undefined) throw error;
          // Not refused: another event's count on the same item at the same moment
          // (TransactionConflict), or throttling. Retried, as a conflict.
          throw (
            refusal(reasons) ??
            new TransientFailure("the guard's count met another event's at the same moment", {
              conflict: "ordering",
            })
          );
        }
      },
    };
  }

  /**
   * Lifts a source's budget until `until` (epoch ms): its changes are still counted, not
   * limited. Containers see it within PAST_CACHE_MS.
   */
  async release(source: string, until: number): Promise<void> {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#tableName,
        Item: {
          id: { S: releaseKey(source) },
          releasedUntil: { N: String(until) },
          expiration: { N: String(Math.floor(until / 1000) + RETENTION_SECONDS) },
        },
      }),
    );
  }

  /** A source's changes counted in the last hour or so, and its release, read afresh. */
  async status(source: string): Promise<{ changes: number; releasedUntil: number }> {
    const now = this.#now();
    this.#past.delete(source);
    const past = await this.#pastOf(source, now);
    const current = await this.#read([sourceWindowKey(source, windowOf(now))]);
    const changes = current.get(sourceWindowKey(source, windowOf(now)))?.changes?.SS ?? [];
    return { changes: past.changes.size + changes.length, releasedUntil: past.releasedUntil };
  }

  /**
   * The changes counted in the source's windows of the hour before the current one, and its
   * release: past windows no longer change, so a container reads them once a minute at most.
   */
  async #pastOf(source: string, now: number): Promise<PastReading> {
    const window = windowOf(now);
    const cached = this.#past.get(source);
    if (cached !== undefined && cached.window === window && now - cached.readAt < PAST_CACHE_MS) {
      return cached;
    }
    const pastKeys = Array.from({ length: PAST_WINDOWS }, (_, index) =>
      sourceWindowKey(source, window - 1 - index),
    );
    const items = await this.#read([...pastKeys, releaseKey(source)]);
    const changes = new Set(pastKeys.flatMap((key) => items.get(key)?.changes?.SS ?? []));
    const releasedUntil = Number(items.get(releaseKey(source))?.releasedUntil?.N ?? 0);
    const reading = { readAt: now, window, changes, releasedUntil };
    this.#past.set(source, reading);
    return reading;
  }

  async #read(keys: readonly string[]): Promise<Map<string, Record<string, AttributeValue>>> {
    const found = new Map<string, Record<string, AttributeValue>>();
    let wanted: Record<string, AttributeValue>[] = keys.map((key) => ({ id: { S: key } }));
    // BatchGetItem may answer part of the keys (UnprocessedKeys): ask again for the rest, a little
    // later each time.
    for (let round = 0; wanted.length > 0 && round < 5; round++) {
      if (round > 0) await sleep(50 * 2 ** round * Math.random());
      const answer = await this.#client.send(
        new BatchGetItemCommand({
          RequestItems: { [this.#tableName]: { Keys: wanted, ConsistentRead: true } },
        }),
      );
      for (const item of answer.Responses?.[this.#tableName] ?? []) {
        if (item.id?.S !== undefined) found.set(item.id.S, item);
      }
      wanted = answer.UnprocessedKeys?.[this.#tableName]?.Keys ?? [];
    }
    if (wanted.length > 0) {
      throw new TransientFailure("the state table left the guard's counts unread (throttled)");
    }
    return found;
  }
}

/**
 * Adds `change` to the item's set of changes if it has room for one more (`room`: how many the
 * set may hold; undefined: no limit), or if the change is there already (a redelivery).
 */
function countIn(
  tableName: string,
  key: string,
  change: string,
  room: number | undefined,
  expiration: AttributeValue,
): Update {
  return {
    TableName: tableName,
    Key: { id: { S: key } },
    UpdateExpression: "ADD changes :change SET expiration = :expiration",
    ...(room === undefined
      ? {}
      : {
          ConditionExpression:
            room > 0
              ? "attribute_not_exists(changes) OR size(changes) < :room OR contains(changes, :changeId)"
              : "contains(changes, :changeId)",
        }),
    ExpressionAttributeValues: {
      ":change": { SS: [change] },
      ":expiration": expiration,
      ...(room === undefined ? {} : { ":changeId": { S: change } }),
      ...(room === undefined || room <= 0 ? {} : { ":room": { N: String(room) } }),
    },
  };
}

/** A short, fixed-size name for an event in the sets: the first 96 bits of its SHA-256. */
function digest(eventId: string): string {
  return createHash("sha256").update(eventId).digest("base64url").slice(0, 16);
}

function windowOf(now: number): number {
  return Math.floor(now / WINDOW_MS);
}

function sourceWindowKey(source: string, window: number): string {
  return `guard#source#${source}#${window}`;
}

function releaseKey(source: string): string {
  return `guard#release#${source}`;
}

function userHourKey(objectId: string, now: number): string {
  return `guard#user#${objectId.toLowerCase()}#${Math.floor(now / HOUR_MS)}`;
}
