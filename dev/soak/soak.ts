// The issue-4 proof: thousands of reset events through the local stack while CUC misbehaves,
// then every event accounted for: applied exactly once, or on the DLQ with a permanent reason.

import { Logger } from "@aws-lambda-powertools/logger";
import type { LogLevel } from "@aws-lambda-powertools/logger/types";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import {
  type DeadLetterEntry,
  listDeadLetters,
  REDRIVEN,
  sendEvent,
} from "../../lib/operations/queue-tools.ts";
import { replaySelected } from "../../lib/operations/replay.ts";
import { ERROR_CODES } from "../../lib/outcome/failures.ts";
import { generatePin, policyContextFor } from "../../lib/policy/index.ts";
import { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";
import { seededRandom } from "../cupi-simulator/faults.ts";
import type { FaultKind, SimulatedUser } from "../cupi-simulator/index.ts";
import { cupiUserOf, numberedUser } from "../cupi-simulator/numbered-users.ts";
import { type LocalStack, startLocalStack, useEnvironment } from "../local-stack.ts";
import { createEventSourcePoller } from "../sqs/event-source-poller.ts";

export interface SoakOptions {
  /** Distinct events sent (duplicate deliveries and replays come on top). */
  readonly events: number;
  /** Seeds the mix, the send order and the simulator's faults. */
  readonly seed?: number;
  /** Share of CUC requests answered with a fault; default 0.2. */
  readonly faultRate?: number;
  /** Default: a minute plus 100 ms per event. */
  readonly timeoutMs?: number;
  /** The function's own logs; default "SILENT". */
  readonly logLevel?: LogLevel;
}

export interface SoakReport {
  readonly seed: number;
  readonly events: number;
  /** Messages sent, duplicates included (replays not). */
  readonly deliveries: number;
  readonly duplicates: number;
  readonly outOfOrderPairs: number;
  readonly missingSecretEvents: number;
  readonly unknownUserEvents: number;
  /** Messages the poller received, redeliveries after transient failures included. */
  readonly receives: number;
  readonly invocations: number;
  /** Messages still on the queue when the DLQ replay started: it ran mid-run if above 0. */
  readonly queuedAtReplay: number;
  readonly replayed: number;
  readonly expectedReplays: number;
  readonly appliedExactlyOnce: number;
  /** Events (and their DLQ messages) by errorCode, permanent reasons only. */
  readonly deadLettered: Readonly<Record<string, { events: number; messages: number }>>;
  /** DLQ messages moved by the redrive policy after maxReceiveCount transient failures. */
  readonly redriven: number;
  /** DLQ messages the function wrote on a record's last receive (RETRIES_EXHAUSTED). */
  readonly retriesExhausted: number;
  /** Users whose credential changed more often than the events applied to them explain. */
  readonly appliedTwice: number;
  /** Out-of-order users whose final PIN is the older event's. */
  readonly staleApplied: number;
  /** Neither applied once nor dead-lettered for good: missing, both, or only redriven. */
  readonly unaccounted: number;
  /** Accounted for, but not as its kind should be (say, a plain reset dead-lettered). */
  readonly unexpected: number;
  /** A few of the unaccounted and unexpected events, for a first look. */
  readonly examples: readonly string[];
  readonly cuc: {
    readonly requests: number;
    readonly faults: Readonly<Record<FaultKind, number>>;
    readonly peakConcurrency: number;
    /** CUPI_MAX_IN_FLIGHT × poller concurrency, and never above CUC's own 5. */
    readonly concurrencyLimit: number;
    /** 503s from the simulator's own throttle (more than CUC serves at once), not injected. */
    readonly throttled: number;
  };
  readonly durationMs: number;
  readonly eventsPerSecond: number;
  /** The invariants that did not hold; empty when the soak passed. */
  readonly failures: readonly string[];
}

const DEFAULT_SEED = 4;
const DEFAULT_FAULT_RATE = 0.2;
/** "slow" holds the answer far past the client's headers timeout; CUC never applies it. */
const FAULT_KINDS: FaultKind[] = ["503", "500-html", "drop", "slow"];
const DUPLICATE_SHARE = 0.1;
const OUT_OF_ORDER_PAIR_SHARE = 0.03;
const MISSING_SECRET_SHARE = 0.02;
const UNKNOWN_USER_SHARE = 0.01;
/** Missing-secret events are sent in the first fifth, so their replay happens mid-run. */
const MISSING_SECRET_SEND_SPAN = 0.2;
/** How far (share of the stream) a duplicate or an older event may trail its original. */
const DUPLICATE_LAG = 0.05;
const OLDER_EVENT_LAG = 0.005;

const CUPI_MAX_IN_FLIGHT = 2;
/** Two invocations at once: two Lambda containers. */
const POLLER_CONCURRENCY = 2;
const CUC_MAX_CONCURRENT = 5;
const VISIBILITY_TIMEOUT_SECONDS = 2;
const MAX_RECEIVE_COUNT = 5;
/** Lambda requires it to be at most the visibility timeout. */
const FUNCTION_TIMEOUT_MS = 2_000;
/** Few enough records that an invocation's short time covers them, CUC faults included. */
const BATCH_SIZE = 5;
/** The function's time budget scaled down to a 2 s invocation. */
const SOAK_ENVIRONMENT = {
  CUPI_MAX_IN_FLIGHT: String(CUPI_MAX_IN_FLIGHT),
  // A "slow" fault then costs 300 ms before the in-call retry, not 10 s.
  CUPI_HEADERS_TIMEOUT_MS: "300",
  RECORD_MIN_TIME_MS: "300",
  RECORD_TIMEOUT_MS: "1500",
  DEADLINE_SAFETY_MS: "200",
  // At a fifth of requests faulted, runs of 5 failures come every few thousand requests and each
  // opening fails every record in flight; the breaker is for a CUC that is down, not this.
  CIRCUIT_BREAKER_FAILURES: "10",
  // The adaptive limit's time constants scaled down with the rest (20 s → 300 ms, 30 s → 1 s):
  // its 503s are random faults, one in twenty requests, not a crowded CUC.
  CUPI_MAX_PAUSE_MS: "300",
  CUPI_CONTENTION_MEMORY_MS: "1000",
  // One record per CUPI slot: with records waiting for a slot, a 1.5 s budget (20 s deployed) is
  // spent in the queue, and deadlines, not CUC, would fail them.
  RECORD_CONCURRENCY: String(CUPI_MAX_IN_FLIGHT),
};
const POLL_INTERVAL_MS = 200;
const SECRET_PREFIX = "cupi-reset/resets/soak/";
const SOAK_USERS = {
  objectIdPrefix: "50a50000",
  aliasPrefix: "soak.user",
  firstName: "Soak",
  extensionBase: 100_000,
};

type EventKind = "single" | "newer" | "older" | "missing-secret" | "unknown-user";

interface PlannedEvent {
  readonly kind: EventKind;
  readonly eventId: string;
  /** Undefined for an unknown alias. */
  readonly objectId: string | undefined;
  readonly pin: string;
  readonly secretId: string;
  readonly body: string;
}

interface SoakPlan {
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

function planSoak(eventCount: number, seed: number): SoakPlan {
  const pairs = share(eventCount, OUT_OF_ORDER_PAIR_SHARE);
  const missing = share(eventCount, MISSING_SECRET_SHARE);
  const unknown = share(eventCount, UNKNOWN_USER_SHARE);
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
  for (const event of shuffled.slice(0, Math.round(eventCount * DUPLICATE_SHARE))) {
    sendings.push({ event, key: (keys.get(event) ?? 0) + random() * DUPLICATE_LAG });
  }
  sendings.sort((a, b) => a.key - b.key);
  return { users, secrets, events, deliveries: sendings.map(({ event }) => event) };
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Lambda runs one invocation per container and starts another container when all are busy; so
 * here each invocation takes an idle handler or builds one. Unlike real containers, these share
 * this process's per-host CUPI limiter and circuit breaker (module state in lib/cupi): together
 * they keep CUPI_MAX_IN_FLIGHT requests in flight, where POLLER_CONCURRENCY real containers
 * could keep CUPI_MAX_IN_FLIGHT × POLLER_CONCURRENCY.
 */
function lambdaContainers(environment: Readonly<Record<string, string>>, logLevel: LogLevel) {
  const all: ReturnType<typeof createResetHandlerFromEnvironment>[] = [];
  const idle: Handler[] = [];
  const handler: Handler = async (event, context) => {
    let container = idle.pop();
    if (container === undefined) {
      const created = createResetHandlerFromEnvironment(
        environment,
        new Logger({ serviceName: "cupi-reset", logLevel }),
      );
      all.push(created);
      container = created;
    }
    try {
      return await container(event, context);
    } finally {
      idle.push(container);
    }
  };
  return {
    handler,
    close: async () => {
      await Promise.all(all.map((container) => container.close()));
    },
  };
}

/** Visible plus in flight. */
async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** Polls until `done` holds; false if `deadline` (epoch ms) came first. */
async function waitUntil(done: () => boolean | Promise<boolean>, deadline: number) {
  while (!(await done())) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  return true;
}

/** Runs the soak on a fresh local stack and reports; a failed invariant is in `failures`, not thrown. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const seed = options.seed ?? DEFAULT_SEED;
  const plan = planSoak(options.events, seed);
  const stack = await startLocalStack({
    users: plan.users,
    secrets: plan.secrets,
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    maxReceiveCount: MAX_RECEIVE_COUNT,
    environment: SOAK_ENVIRONMENT,
    simulator: {
      faultRate: options.faultRate ?? DEFAULT_FAULT_RATE,
      faultKinds: FAULT_KINDS,
      seed,
    },
  });
  const restoreEnvironment = useEnvironment(stack.environment);
  try {
    const run = await drive(stack, plan, options);
    const letters = await listDeadLetters(stack.sqs, stack.queues.dlqUrl, plan.deliveries.length);
    return tally({ ...run, plan, stack, seed, letters });
  } finally {
    await stack.close();
    restoreEnvironment();
  }
}

interface Run {
  readonly eventByMessageId: ReadonlyMap<string, PlannedEvent>;
  readonly failures: readonly string[];
  readonly queuedAtReplay: number;
  readonly replayed: number;
  readonly expectedReplays: number;
  readonly durationMs: number;
  readonly receives: number;
  readonly invocations: number;
}

/** Sends the plan's deliveries while the poller runs, fixes and replays the missing secrets
 * mid-run, and stops once the queue is empty. */
async function drive(stack: LocalStack, plan: SoakPlan, options: SoakOptions): Promise<Run> {
  const containers = lambdaContainers(stack.environment, options.logLevel ?? "SILENT");
  const handled = new Set<string>();
  const poller = createEventSourcePoller({
    sqs: stack.sqs,
    queueUrl: stack.queues.queueUrl,
    queueArn: stack.queues.queueArn,
    handler: containers.handler,
    batchSize: BATCH_SIZE,
    maximumBatchingWindowSeconds: 0,
    functionTimeoutMs: FUNCTION_TIMEOUT_MS,
    concurrency: POLLER_CONCURRENCY,
    onInvocation: (report) => {
      for (const messageId of report.deletedMessageIds) handled.add(messageId);
    },
  });
  const queueIsEmpty = async () => (await queueDepth(stack.sqs, stack.queues.queueUrl)) === 0;
  const failures: string[] = [];
  const eventByMessageId = new Map<string, PlannedEvent>();
  const missingSecretMessages: string[] = [];
  const startedAt = Date.now();
  // About 9 events/s on 2 cores with a fifth of requests faulted; twice that time before giving up.
  const deadline = startedAt + (options.timeoutMs ?? 60_000 + options.events * 200);
  try {
    poller.start();
    for (const delivery of plan.deliveries) {
      const messageId = await sendEvent(stack.sqs, stack.queues.queueUrl, delivery.body);
      eventByMessageId.set(messageId, delivery);
      if (delivery.kind === "missing-secret") missingSecretMessages.push(messageId);
    }
    // Once each missing-secret delivery is dead-lettered (the poller deleted it), or redriven
    // (then only the drained queue tells), the operator fixes the secrets and replays.
    const deadLettered = () => missingSecretMessages.every((id) => handled.has(id));
    if (!(await waitUntil(async () => deadLettered() || (await queueIsEmpty()), deadline)))
      failures.push("timed out before the missing-secret events were dead-lettered");
    for (const event of plan.events) {
      if (event.kind === "missing-secret")
        stack.secretsManager.putSecret(event.secretId, JSON.stringify({ pin: event.pin }));
    }
    const queuedAtReplay = await queueDepth(stack.sqs, stack.queues.queueUrl);
    const replay = await replaySelected(stack.sqs, {
      dlqUrl: stack.queues.dlqUrl,
      queueUrl: stack.queues.queueUrl,
      errorCodes: ["SECRET_NOT_FOUND"],
    });
    if (replay.failed > 0) failures.push(`${replay.failed} DLQ replay(s) failed`);
    const expectedReplays = missingSecretMessages.length;
    if (replay.replayed !== expectedReplays)
      failures.push(`replayed ${replay.replayed} of ${expectedReplays} SECRET_NOT_FOUND messages`);
    if (!(await waitUntil(queueIsEmpty, deadline)))
      failures.push("timed out before the queue drained");
    return {
      eventByMessageId,
      failures,
      queuedAtReplay,
      replayed: replay.replayed,
      expectedReplays,
      durationMs: Date.now() - startedAt,
      receives: poller.stats.received,
      invocations: poller.stats.invocations,
    };
  } finally {
    await poller.stop();
    await containers.close();
  }
}

interface TallyInput extends Run {
  readonly plan: SoakPlan;
  readonly stack: LocalStack;
  readonly seed: number;
  readonly letters: readonly DeadLetterEntry[];
}

/** Every code but RETRIES_EXHAUSTED: a transient failure that outlasted the retry window. */
const PERMANENT_CODES: ReadonlySet<string> = new Set(
  ERROR_CODES.filter((code) => code !== "RETRIES_EXHAUSTED"),
);
const MAX_EXAMPLES = 10;

/** What the simulator's state says was applied, per event, and what looks applied twice. */
function appliedEvents(plan: SoakPlan, stack: LocalStack) {
  const applied = new Set<PlannedEvent>();
  let appliedTwice = 0;
  let staleApplied = 0;
  const eventsOfUser = Map.groupBy(
    plan.events.filter((event) => event.objectId !== undefined),
    (event) => event.objectId ?? "",
  );
  for (const [objectId, events] of eventsOfUser) {
    const { value, changes } = stack.simulator.credentialOf(objectId, "pin");
    // A user's events in time order; CUC refuses a PIN in its history, so each event changes
    // the value at most once, and the last one applied holds it.
    const last = events.find((event) => event.pin === value);
    const appliedHere =
      last === undefined ? [] : changes >= events.length ? events : changes >= 1 ? [last] : [];
    for (const event of appliedHere) applied.add(event);
    if (changes > appliedHere.length) appliedTwice++;
    const newest = events.at(-1);
    if (events.length > 1 && last !== newest && changes > 1) staleApplied++;
  }
  return { applied, appliedTwice, staleApplied };
}

function isExpected(event: PlannedEvent, applied: boolean, codes: readonly string[]): boolean {
  switch (event.kind) {
    case "unknown-user":
      return !applied && codes.every((code) => code === "USER_NOT_FOUND");
    case "older":
      return applied || codes.every((code) => code === "STALE_EVENT");
    default:
      return applied;
  }
}

function tally(input: TallyInput): SoakReport {
  const { plan, stack, letters, eventByMessageId } = input;
  const failures = [...input.failures];
  const { applied, appliedTwice, staleApplied } = appliedEvents(plan, stack);
  const eventIdOf = (letter: DeadLetterEntry) =>
    letter.eventId ??
    eventByMessageId.get(letter.messageId)?.eventId ??
    eventByMessageId.get(letter.sourceMessageId ?? "")?.eventId;
  const lettersByEvent = Map.groupBy(letters, (letter) => eventIdOf(letter) ?? "");

  let appliedExactlyOnce = 0;
  let unaccounted = 0;
  let unexpected = 0;
  const examples: string[] = [];
  const deadLettered: Record<string, { events: number; messages: number }> = {};
  for (const event of plan.events) {
    const codes = (lettersByEvent.get(event.eventId) ?? []).map((letter) => letter.errorCode);
    const wasApplied = applied.has(event);
    const permanent = codes.length > 0 && codes.every((code) => PERMANENT_CODES.has(code));
    let accounted = true;
    if (wasApplied && codes.length === 0) appliedExactlyOnce++;
    else if (!wasApplied && permanent) {
      for (const code of new Set(codes)) {
        const entry = deadLettered[code] ?? { events: 0, messages: 0 };
        entry.events++;
        entry.messages += codes.filter((c) => c === code).length;
        deadLettered[code] = entry;
      }
    } else {
      unaccounted++;
      accounted = false;
    }
    const expected = isExpected(event, wasApplied, codes);
    if (accounted && !expected) unexpected++;
    if ((!accounted || !expected) && examples.length < MAX_EXAMPLES)
      examples.push(
        `${event.eventId} (${event.kind}): ${wasApplied ? "applied" : "not applied"}, DLQ [${codes.join(", ")}]`,
      );
  }
  const redriven = letters.filter((letter) => letter.errorCode === REDRIVEN).length;
  const retriesExhausted = letters.filter(
    (letter) => letter.errorCode === "RETRIES_EXHAUSTED",
  ).length;
  const stats = stack.simulator.stats;
  const concurrencyLimit = Math.min(CUPI_MAX_IN_FLIGHT * POLLER_CONCURRENCY, CUC_MAX_CONCURRENT);

  const check = (holds: boolean, failure: string) => {
    if (!holds) failures.push(failure);
  };
  check(unaccounted === 0, `${unaccounted} event(s) unaccounted for`);
  check(unexpected === 0, `${unexpected} event(s) with an unexpected outcome`);
  check(appliedTwice === 0, `${appliedTwice} user(s) with an event applied twice`);
  check(staleApplied === 0, `${staleApplied} stale event(s) applied over a newer one`);
  check(redriven === 0, `${redriven} message(s) redriven to the DLQ after retries`);
  check(retriesExhausted === 0, `${retriesExhausted} message(s) dead-lettered RETRIES_EXHAUSTED`);
  check(
    stats.peakConcurrency <= concurrencyLimit,
    `CUC saw ${stats.peakConcurrency} requests at once (limit ${concurrencyLimit})`,
  );
  check(stats.throttled === 0, `CUC throttled ${stats.throttled} request(s)`);

  const count = (kind: EventKind) => plan.events.filter((event) => event.kind === kind).length;
  return {
    seed: input.seed,
    events: plan.events.length,
    deliveries: plan.deliveries.length,
    duplicates: plan.deliveries.length - plan.events.length,
    outOfOrderPairs: count("older"),
    missingSecretEvents: count("missing-secret"),
    unknownUserEvents: count("unknown-user"),
    receives: input.receives,
    invocations: input.invocations,
    queuedAtReplay: input.queuedAtReplay,
    replayed: input.replayed,
    expectedReplays: input.expectedReplays,
    appliedExactlyOnce,
    deadLettered,
    redriven,
    retriesExhausted,
    appliedTwice,
    staleApplied,
    unaccounted,
    unexpected,
    examples,
    cuc: {
      requests: stats.requests,
      faults: stats.faults,
      peakConcurrency: stats.peakConcurrency,
      concurrencyLimit,
      throttled: stats.throttled,
    },
    durationMs: input.durationMs,
    eventsPerSecond: plan.events.length / (input.durationMs / 1000),
    failures,
  };
}
