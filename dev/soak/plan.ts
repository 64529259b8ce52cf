// The soak's events: which users, which secrets, which events of which kind, in which send order.

import { generatePin, policyContextFor } from "../../lib/policy/index.ts";
import { seededRandom } from "../cupi-simulator/faults.ts";
import type { SimulatedUser } from "../cupi-simulator/index.ts";
import { cupiUserOf, numberedUser } from "../cupi-simulator/numbered-users.ts";

/**
 * "full": duplicates, out-of-order pairs, events whose secret appears mid-run, unknown users;
 * "plain": one valid event per user, nothing else (every event must end applied).
 */
export type SoakMix = "full" | "plain";

const DUPLICATE_SHARE = 0.1;
const OUT_OF_ORDER_PAIR_SHARE = 0.03;
const MISSING_SECRET_SHARE = 0.02;
const UNKNOWN_USER_SHARE = 0.01;
/** Missing-secret events are sent in the first fifth, so their replay happens mid-run. */
const MISSING_SECRET_SEND_SPAN = 0.2;
/** How far (share of the stream) a duplicate or an older event may trail its original. */
const DUPLICATE_LAG = 0.05;
const OLDER_EVENT_LAG = 0.005;

const SECRET_PREFIX = "cupi-reset/resets/soak/";
const SOAK_USERS = {
  objectIdPrefix: "50a50000",
  aliasPrefix: "soak.user",
  firstName: "Soak",
  extensionBase: 100_000,
};

export type EventKind = "single" | "newer" | "older" | "missing-secret" | "unknown-user";

export interface PlannedEvent {
  readonly kind: EventKind;
  readonly eventId: string;
  /** Undefined for an unknown alias. */
  readonly objectId: string | undefined;
  readonly pin: string;
  readonly secretId: string;
  readonly body: string;
}

export interface SoakPlan {
  readonly users: SimulatedUser[];
  /** Seeded at start; the missing-secret events' secrets come mid-run. */
  readonly secrets: Record<string, string>;
  readonly events: readonly PlannedEvent[];
  /** In send order, duplicates included. */
  readonly deliveries: readonly PlannedEvent[];
}

function share(events: number, fraction: number): number {
  return Math.max(2, Math.round(events * fraction));
}

/** Distinct PINs, each valid for its user under CUC's trivial-credential rules. */
export function pinSource(): (user: SimulatedUser) => string {
  const used = new Set<string>();
  return (user) => {
    const cupiUser = cupiUserOf(user);
    for (;;) {
      const pin = generatePin(policyContextFor(cupiUser));
      if (!used.has(pin)) {
        used.add(pin);
        return pin;
      }
    }
  };
}

export function planSoak(eventCount: number, seed: number, mix: SoakMix = "full"): SoakPlan {
  const full = mix === "full";
  const pairs = full ? share(eventCount, OUT_OF_ORDER_PAIR_SHARE) : 0;
  const missing = full ? share(eventCount, MISSING_SECRET_SHARE) : 0;
  const unknown = full ? share(eventCount, UNKNOWN_USER_SHARE) : 0;
  const singles = eventCount - 2 * pairs - missing - unknown;
  if (singles < 1) throw new RangeError(`events must be at least ${eventCount - singles + 1}`);

  const random = seededRandom(seed);
  const nextPin = pinSource();
  const users: SimulatedUser[] = [];
  const secrets: Record<string, string> = {};
  const events: PlannedEvent[] = [];
  // Unique, increasing occurredAt: creation order is time order.
  const firstOccurredAt = Date.parse("2026-11-28T08:00:00Z");

  const newUser = (): SimulatedUser => {
    const user = numberedUser(SOAK_USERS, users.length + 1);
    user.pin = nextPin(user);
    users.push(user);
    return user;
  };
  const addEvent = (kind: EventKind, user: SimulatedUser | undefined): PlannedEvent => {
    const index = events.length + 1;
    const eventId = `soak-${seed}-${index}`;
    const secretId = `${SECRET_PREFIX}${eventId}`;
    // An unknown user's PIN is never read: any valid value will do.
    const pin = nextPin(user ?? { objectId: "", alias: `nobody.${index}` });
    if (kind !== "missing-secret") secrets[secretId] = JSON.stringify({ pin });
    const body = JSON.stringify({
      version: 1,
      eventId,
      occurredAt: new Date(firstOccurredAt + index * 1000).toISOString(),
      // A source the authorization policy lets reset PINs.
      source: "helpdesk",
      user: { alias: user?.alias ?? `nobody.${index}` },
      action: "reset-pin",
      newCredential: { secretId, jsonKey: "pin" },
    });
    const event = { kind, eventId, objectId: user?.objectId, pin, secretId, body };
    events.push(event);
    return event;
  };

  const olderOf = new Map<PlannedEvent, PlannedEvent>();
  for (let i = 0; i < singles; i++) addEvent("single", newUser());
  for (let i = 0; i < pairs; i++) {
    const user = newUser();
    const older = addEvent("older", user);
    olderOf.set(addEvent("newer", user), older);
  }
  for (let i = 0; i < missing; i++) addEvent("missing-secret", newUser());
  for (let i = 0; i < unknown; i++) addEvent("unknown-user", undefined);

  // Send order by a random key; followers (an older event, a duplicate) trail their original.
  const keys = new Map<PlannedEvent, number>();
  for (const event of events) {
    if (event.kind === "older") continue;
    const key = random() * (event.kind === "missing-secret" ? MISSING_SECRET_SEND_SPAN : 1);
    keys.set(event, key);
    const older = olderOf.get(event);
    if (older !== undefined) keys.set(older, key + random() * OLDER_EVENT_LAG);
  }
  const sendings = [...keys].map(([event, key]) => ({ event, key }));
  const shuffled = [...events];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as PlannedEvent, shuffled[i] as PlannedEvent];
  }
  const duplicates = full ? Math.round(eventCount * DUPLICATE_SHARE) : 0;
  for (const event of shuffled.slice(0, duplicates)) {
    sendings.push({ event, key: (keys.get(event) ?? 0) + random() * DUPLICATE_LAG });
  }
  sendings.sort((a, b) => a.key - b.key);
  return { users, secrets, events, deliveries: sendings.map(({ event }) => event) };
}
