import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { cancellationReasons, type TransactionRider } from "../aws/transaction-riders.ts";
import type { CredentialKind } from "../cupi/types.ts";
import type { ResetEvent } from "../events/contract.ts";
import { PermanentFailure, TransientFailure } from "../outcome/failures.ts";
import { ClosingWrites } from "./closing-writes.ts";

export interface OrderingGuardOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** How long a watermark is kept; longer than a DLQ message can wait for a replay. */
  readonly retentionSeconds: number;
}

/** Keep watermarks a year: a DLQ holds messages 14 days, and offboarding must stay final. */
export const DEFAULT_WATERMARK_RETENTION_SECONDS = 365 * 24 * 3600;

/**
 * Per user and credential, the `occurredAt` of the newest event applied (or being applied). An
 * older event is refused as STALE_EVENT, and after an offboard every event that occurred before
 * it is refused, so a helpdesk reset replayed days later cannot reopen an offboarded mailbox.
 * Watermarks are claimed with conditional writes before CUPI is called, which makes the check
 * safe when events for one user are processed concurrently.
 */
export class OrderingGuard {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #retentionSeconds: number;

  constructor(options: OrderingGuardOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#retentionSeconds = options.retentionSeconds;
  }

  /**
   * Claims the user's credentials for this event until `lockedUntil` (epoch ms): refuses it when a
   * newer event got there first (STALE_EVENT), and asks for a retry while another event for the
   * same credential is being applied, so two events are never applied out of order. Returns the
   * release to call once the event is done, whatever its outcome, and the earlier events whose
   * attempts on these credentials may be unsettled.
   */
  async claim(
    event: ResetEvent,
    objectId: string,
    kinds: readonly CredentialKind[],
    lockedUntil: number,
    alongside?: ClaimAlongside,
    rider?: TransactionRider,
  ): Promise<Claim> {
    const occurredAt = Date.parse(event.occurredAt);
    const claimed: [string, CredentialKind | undefined][] = kinds.map((kind) => [
      watermarkKey(objectId, kind),
      kind,
    ]);
    if (event.action === "offboard") claimed.push([offboardKey(objectId), undefined]);
    const atOnce = await this.#claimAtOnce(event, objectId, claimed, lockedUntil, alongside, rider);
    if (atOnce !== undefined) return atOnce;
    await rider?.writeAlone();
    const offboard = await this.#read(offboardKey(objectId));
    const offboardedAt = Number(offboard?.occurredAt?.N ?? Number.NEGATIVE_INFINITY);
    if (occurredAt < offboardedAt && offboard?.eventId?.S !== event.eventId) {
      throw new PermanentFailure(
        "STALE_EVENT",
        `the user was offboarded by an event that occurred at ${iso(offboardedAt)}; this event occurred at ${event.occurredAt}`,
      );
    }
    const locked: [string, CredentialKind | undefined][] = [];
    const settled = new Set<Predecessor>();
    const release = this.#releaseOf(locked, event.eventId, settled);
    const predecessors: Predecessor[] = [];
    const lastChanges = new Map<CredentialKind, LastChange>();
    try {
      for (const [key, kind] of claimed) {
        const previous = await this.#lock(key, event, occurredAt, lockedUntil);
        locked.push([key, kind]);
        if (kind === undefined) continue;
        lastChanges.set(kind, lastChangeOf(previous));
        const unsettled = unsettledOf(previous, event.eventId);
        if (unsettled.length === 0) continue;
        // Kept on the watermark until settled: should this event fail or be killed first, the
        // next one to claim the credential settles them, however long the chain.
        await this.#keepUnsettled(key, event.eventId, unsettled);
        predecessors.push(...unsettled.map((eventId) => ({ eventId, kind })));
      }
    } catch (error) {
      await release(false);
      throw error;
    }
    return {
      release,
      predecessors,
      settled: (predecessor) => settled.add(predecessor),
      lastChange: (kind) => lastChanges.get(kind) ?? "unknown",
      alongside: false,
    };
  }

  async #keepUnsettled(key: string, eventId: string, unsettled: readonly string[]): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: { id: { S: key } },
        UpdateExpression: "ADD unsettled :unsettled",
        ConditionExpression: "eventId = :eventId",
        ExpressionAttributeValues: {
          ":unsettled": { SS: [...unsettled] },
          ":eventId": { S: eventId },
        },
      }),
    );
  }

  /**
   * The usual claim in one call: a transaction that holds only when nothing stands in the way —
   * no later offboarding, and each credential never claimed, or released completed by another
   * event no newer than this one with no earlier event's attempt left to settle (and, for
   * `alongside.kinds`, its last change by this service answered by `alongside.changedBefore`) —
   * writing `alongside.items` and `rider.items` with it. Undefined when it did not hold: nothing
   * was written, and the claim is made step by step, which tells why; but a rider's write refused
   * fails the claim with the rider's error.
   */
  async #claimAtOnce(
    event: ResetEvent,
    objectId: string,
    claimed: readonly [string, CredentialKind | undefined][],
    lockedUntil: number,
    alongside: ClaimAlongside | undefined,
    rider: TransactionRider | undefined,
  ): Promise<Claim | undefined> {
    const occurredAt = Date.parse(event.occurredAt);
    const holder = {
      ":occurredAt": { N: String(occurredAt) },
      ":eventId": { S: event.eventId },
    };
    const items: TransactWriteItem[] = [];
    if (event.action !== "offboard") {
      items.push({
        ConditionCheck: {
          TableName: this.#tableName,
          Key: { id: { S: offboardKey(objectId) } },
          ConditionExpression:
            "attribute_not_exists(occurredAt) OR occurredAt <= :occurredAt OR eventId = :eventId",
          ExpressionAttributeValues: holder,
        },
      });
    }
    for (const [key, kind] of claimed) {
      const recent = kind !== undefined && alongside?.kinds.includes(kind) === true;
      const lock = this.#lockUpdate(key, event, occurredAt, lockedUntil);
      items.push({
        Update: {
          ...lock,
          ConditionExpression: `attribute_not_exists(eventId) OR (completed = :true AND eventId <> :eventId AND occurredAt <= :occurredAt AND attribute_not_exists(unsettled)${recent ? " AND answeredBy = eventId AND answeredAt <= :changedBefore" : ""})`,
          ExpressionAttributeValues: {
            ...lock.ExpressionAttributeValues,
            ":true": { BOOL: true },
            ...(recent ? { ":changedBefore": { N: String(alongside?.changedBefore) } } : {}),
          },
        },
      });
    }
    items.push(...(alongside?.items ?? []));
    const riderAt = items.length;
    items.push(...(rider?.items ?? []));
    try {
      await this.#client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      const refusal = rider?.refusal(reasons.slice(riderAt));
      if (refusal !== undefined) throw refusal;
      return undefined;
    }
    return {
      release: this.#releaseOf(claimed, event.eventId, new Set()),
      predecessors: [],
      settled: () => undefined,
      // For `alongside.kinds`, no later than `changedBefore` by the condition (the exact time is
      // not read back): enough for another baseline from CUC's clock, should the PUT be refused.
      lastChange: (kind) =>
        alongside?.kinds.includes(kind) === true ? alongside.changedBefore : "unknown",
      alongside: alongside !== undefined,
    };
  }

  #releaseOf(
    claimed: readonly [string, CredentialKind | undefined][],
    eventId: string,
    settled: ReadonlySet<Predecessor>,
  ): Claim["release"] {
    return async (completed, answeredAt = new Map()) => {
      await Promise.all(
        claimed.map(([key, kind]) =>
          this.#unlock(
            key,
            eventId,
            completed,
            kind === undefined ? undefined : answeredAt.get(kind),
            [...settled].filter((predecessor) => predecessor.kind === kind).map((p) => p.eventId),
          ),
        ),
      );
    };
  }

  /** Makes this event the credential's holder, locked until `lockedUntil`. */
  #lockUpdate(key: string, event: ResetEvent, occurredAt: number, lockedUntil: number) {
    return {
      TableName: this.#tableName,
      Key: { id: { S: key } },
      UpdateExpression:
        "SET occurredAt = :occurredAt, eventId = :eventId, lockedUntil = :lockedUntil, expiration = :expiration REMOVE completed",
      ExpressionAttributeValues: {
        ":occurredAt": { N: String(occurredAt) },
        ":eventId": { S: event.eventId },
        ":lockedUntil": { N: String(lockedUntil) },
        ":expiration": { N: String(Math.floor(Date.now() / 1000) + this.#retentionSeconds) },
      },
    };
  }

  /**
   * The newest event that holds each of the user's credentials (and the offboarding, if any):
   * for the status lookup, which tells whether a later event has since changed what one set.
   */
  async holders(objectId: string, kinds: readonly CredentialKind[]): Promise<Holder[]> {
    const keys: [CredentialKind | "offboard", string][] = [
      ...kinds.map((kind): [CredentialKind, string] => [kind, watermarkKey(objectId, kind)]),
      ["offboard", offboardKey(objectId)],
    ];
    const holders: Holder[] = [];
    for (const [held, key] of keys) {
      const item = await this.#read(key);
      const eventId = item?.eventId?.S;
      if (eventId === undefined) continue;
      holders.push({
        held,
        eventId,
        occurredAt: iso(Number(item?.occurredAt?.N)),
        inProgress: Number(item?.lockedUntil?.N ?? 0) > Date.now(),
      });
    }
    return holders;
  }

  async #read(key: string): Promise<Record<string, AttributeValue> | undefined> {
    const { Item: item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { id: { S: key } },
        ConsistentRead: true,
      }),
    );
    return item;
  }

  /** The watermark as it was before this event took it. */
  async #lock(
    key: string,
    event: ResetEvent,
    occurredAt: number,
    lockedUntil: number,
  ): Promise<Record<string, AttributeValue> | undefined> {
    try {
      const lock = this.#lockUpdate(key, event, occurredAt, lockedUntil);
      const { Attributes: previous } = await this.#client.send(
        new UpdateItemCommand({
          ...lock,
          // Equal times pass (a retry of the same event, or two events at the same instant); a
          // lock held by another event passes only once it has expired with its invocation.
          ConditionExpression:
            "(attribute_not_exists(occurredAt) OR occurredAt <= :occurredAt) AND " +
            "(attribute_not_exists(lockedUntil) OR lockedUntil < :now OR eventId = :eventId)",
          ExpressionAttributeValues: {
            ...lock.ExpressionAttributeValues,
            ":now": { N: String(Date.now()) },
          },
          ReturnValues: "ALL_OLD",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return previous;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Not every DynamoDB implementation returns the old item with the failure (dynalite does not).
      const current = error.Item ?? (await this.#read(key));
      const currentAt = Number(current?.occurredAt?.N);
      if (currentAt > occurredAt) {
        throw new PermanentFailure(
          "STALE_EVENT",
          `a newer event (${current?.eventId?.S ?? "unknown"}, occurred at ${iso(currentAt)}) was already applied to ${describeKey(key)}; this event occurred at ${event.occurredAt}`,
        );
      }
      throw new TransientFailure(
        `another event (${current?.eventId?.S ?? "unknown"}) is being applied to ${describeKey(key)}`,
        { conflict: "ordering" },
      );
    }
  }

  /**
   * `completed`: the event ended without an error, so none of its attempts can be unsettled; a
   * watermark released otherwise, or never (a killed container), names an event whose attempts
   * the next event settles first.
   */
  async #unlock(
    key: string,
    eventId: string,
    completed: boolean,
    answeredAt: number | undefined,
    settled: readonly string[],
  ): Promise<void> {
    const release = {
      TableName: this.#tableName,
      Key: { id: { S: key } },
      // answeredBy: whose PUT answeredAt belongs to; a later holder that sets none leaves it
      // to an event that is not the holder, which makes the time untrusted (see lastChangeOf).
      UpdateExpression: `SET completed = :completed${answeredAt === undefined ? "" : ", answeredAt = :answeredAt, answeredBy = :eventId"} REMOVE lockedUntil${settled.length === 0 ? "" : " DELETE unsettled :settled"}`,
      ConditionExpression: "eventId = :eventId",
      ExpressionAttributeValues: {
        ":eventId": { S: eventId },
        ":completed": { BOOL: completed },
        ...(answeredAt === undefined ? {} : { ":answeredAt": { N: String(answeredAt) } }),
        ...(settled.length === 0 ? {} : { ":settled": { SS: [...settled] } }),
      },
    };
    // With the record's idempotency record, when it is completed or deleted (ClosingWrites).
    await ClosingWrites.write({
      item: { Update: release },
      alone: async () => {
        try {
          await this.#client.send(new UpdateItemCommand(release));
        } catch (error) {
          // Taken over after our lock expired: theirs now, nothing to release.
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      },
    });
  }
}

/**
 * The last change of a credential's value by this service, as its watermark holds it: when CUC
 * answered its PUT (CUC's `Date`, epoch ms); "none" when the service never changed it; "unknown"
 * when a holder left no time (an event from before times were kept, or one that did not end).
 */
export type LastChange = number | "none" | "unknown";

/**
 * Writes to make in the claim's own call (an event's attempts, begun with a baseline that is
 * sound only if each of `kinds` was last changed by this service, as far as its watermark knows,
 * in a PUT answered at or before `changedBefore`, epoch ms).
 */
export interface ClaimAlongside {
  readonly items: readonly TransactWriteItem[];
  readonly kinds: readonly CredentialKind[];
  readonly changedBefore: number;
}

/** An event's hold on a user's credentials. */
export interface Claim {
  /** Whether the ClaimAlongside items were written with the claim (else nothing of them was). */
  readonly alongside: boolean;
  /**
   * `completed`: the event ended without an error. `answeredAt`: for each credential whose new
   * value this event's PUT set, when CUC answered it (CUC's `Date`).
   */
  release(completed: boolean, answeredAt?: ReadonlyMap<CredentialKind, number>): Promise<void>;
  /** The last change of a credential's value before this claim. */
  lastChange(kind: CredentialKind): LastChange;
  /**
   * Earlier events that held these credentials and did not complete (killed, cut short, or
   * failed), and those their own successors could not settle: a PUT of theirs may have landed
   * unseen, to be settled before this event's.
   */
  readonly predecessors: readonly Predecessor[];
  /** A predecessor's attempt is settled: the release takes it off the watermark. */
  settled(predecessor: Predecessor): void;
}

/** The event that holds a user's credential, or the user's offboarding. */
export interface Holder {
  readonly held: CredentialKind | "offboard";
  readonly eventId: string;
  readonly occurredAt: string;
  /** Being applied now: its lock has not expired. */
  readonly inProgress: boolean;
}

export interface Predecessor {
  readonly eventId: string;
  readonly kind: CredentialKind;
}

/**
 * The time is trusted only when it is the last holder's own and that holder completed: a holder
 * killed, cut short or failed may have changed the credential without recording when.
 */
function lastChangeOf(previous: Record<string, AttributeValue> | undefined): LastChange {
  if (previous?.eventId?.S === undefined) return "none";
  const answeredAt = Number(previous.answeredAt?.N);
  const own = previous.answeredBy?.S === previous.eventId.S && previous.completed?.BOOL === true;
  return own && Number.isFinite(answeredAt) ? answeredAt : "unknown";
}

/**
 * The earlier events whose attempts on a credential may be unsettled, from its watermark as this
 * event found it: the holder, if it did not complete, and those left unsettled before it.
 */
function unsettledOf(
  previous: Record<string, AttributeValue> | undefined,
  eventId: string,
): string[] {
  const holder = previous?.eventId?.S;
  const unsettled = new Set(previous?.unsettled?.SS ?? []);
  if (holder !== undefined && previous?.completed?.BOOL !== true) unsettled.add(holder);
  unsettled.delete(eventId);
  return [...unsettled];
}

function watermarkKey(objectId: string, kind: CredentialKind): string {
  return `watermark#${objectId}#${kind}`;
}

function offboardKey(objectId: string): string {
  return `offboard#${objectId}`;
}

function describeKey(key: string): string {
  const [kind, , credential] = key.split("#");
  return kind === "offboard" ? "this user's offboarding" : `this user's ${credential}`;
}

function iso(epochMs: number): string {
  return Number.isFinite(epochMs) ? new Date(epochMs).toISOString() : "an unknown time";
}
