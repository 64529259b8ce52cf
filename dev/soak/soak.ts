// The reliability proofs: thousands of reset events through the local stack while CUC misbehaves
// (random faults), is down for a long outage, or while containers are killed mid-work; then
// every event accounted for: applied exactly once, or on the DLQ with a permanent reason.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { LogLevel } from "@aws-lambda-powertools/logger/types";
import {
  type DeadLetterEntry,
  listDeadLetters,
  REDRIVEN,
  sendEvent,
} from "../../lib/operations/queue-tools.ts";
import { replaySelected } from "../../lib/operations/replay.ts";
import { ERROR_CODES } from "../../lib/outcome/failures.ts";
import { packagedResetHandler } from "../container/packaged.ts";
import { seededRandom } from "../cupi-simulator/faults.ts";
import type { FaultKind, SimulatorStats } from "../cupi-simulator/index.ts";
import { type LocalStack, startLocalStack, useEnvironment } from "../local-stack.ts";
import { createEventSourcePoller } from "../sqs/event-source-poller.ts";
import { messagesOnQueue } from "../sqs/queue-depth.ts";
import { type ProcessContainers, processContainers } from "./containers.ts";
import { CrashPlan, type CrashReport } from "./crash.ts";
import { type EventKind, type PlannedEvent, planSoak, type SoakPlan } from "./plan.ts";

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
  /**
   * CUC is down (connections refused) from before the first event is sent until this long
   * after; the events are all valid ("plain" mix) and none may be dead-lettered.
   */
  readonly outageMs?: number;
  /** Containers are killed with SIGKILL in this share of invocations. */
  readonly crashRate?: number;
  /** Containers run `npm run package`'s bundle, as Lambda does, rather than the sources. */
  readonly packaged?: boolean;
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
  /**
   * The outcome events on the bus: `untold`, events whose producer never heard what became of
   * them; `mistold`, events told something else than what happened (applied, or its DLQ code).
   */
  readonly outcomeEvents: {
    readonly published: number;
    readonly duplicates: number;
    readonly untold: number;
    readonly mistold: number;
  };
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
  /** With `outageMs`: how the backlog drained once CUC was back. */
  readonly recovery?: Recovery;
  /** With `crashRate`: the kills, and the audit records of the changes made. */
  readonly crash?: CrashReport & {
    readonly containersStarted: number;
    /** Events CUC shows applied whose change has no audit record. */
    readonly unaudited: number;
    /** Events whose change has more than one audit record (a kill right after the first). */
    readonly auditedTwice: number;
  };
  /** The invariants that did not hold; empty when the soak passed. */
  readonly failures: readonly string[];
}

export interface Recovery {
  /** From CUC's return until the queue was empty. */
  readonly drainMs: number;
  /** CUC's requests and 503s from its return on. */
  readonly requests: number;
  readonly throttled: number;
}

const DEFAULT_SEED = 4;
const DEFAULT_FAULT_RATE = 0.2;
/**
 * "slow" holds the answer far past the client's headers timeout; CUC never applies it. The
 * "-after-apply" kinds apply the request (a PUT included) and then lose or stall the answer: the
 * lost answers the service must settle without applying twice or dead-lettering what landed.
 */
const FAULT_KINDS: FaultKind[] = [
  "503",
  "500-html",
  "drop",
  "slow",
  "drop-after-apply",
  "slow-after-apply",
];
const DEFAULT_CRASH_FAULT_RATE = 0.05;
const CUPI_MAX_IN_FLIGHT = 2;
/** Two invocations at once: two Lambda containers. */
const POLLER_CONCURRENCY = 2;
const CUC_MAX_CONCURRENT = 5;
const VISIBILITY_TIMEOUT_SECONDS = 2;
/** As shipped: retries are measured in time, and 60 receives span the retry window. */
const MAX_RECEIVE_COUNT = 60;
/** 503s while a backlog drains after an outage, over all requests from CUC's return on. */
const MAX_RECOVERY_THROTTLED_SHARE = 0.02;
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
  // The retry backoff at a sixtieth (30 s → 1 s, SQS's least; 15 min → 15 s), with the shipped
  // 60 receives: at least 7.5 minutes of retries, where AWS has at least 6.9 hours. The circuit
  // breaker's cool-down longer than a record's budget, as on AWS (30 s and 20 s): a record that
  // meets an open circuit fails at once rather than wait out cool-downs and trials.
  RETRY_BASE_DELAY_SECONDS: "1",
  RETRY_MAX_DELAY_SECONDS: "15",
  CIRCUIT_BREAKER_COOLDOWN_MS: "2000",
};
const POLL_INTERVAL_MS = 200;
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
  const outage = options.outageMs !== undefined;
  const plan = planSoak(options.events, seed, outage ? "plain" : "full");
  const defaultFaultRate = outage
    ? 0
    : options.crashRate !== undefined
      ? DEFAULT_CRASH_FAULT_RATE
      : DEFAULT_FAULT_RATE;
  const crash =
    options.crashRate === undefined
      ? undefined
      : new CrashPlan({
          rate: options.crashRate,
          random: seededRandom(seed + 2),
          containers: () => containers as ProcessContainers,
          objectIdOf: (alias) => plan.users.find((user) => user.alias === alias)?.objectId,
          isUnknownAlias: (alias) => alias.startsWith("nobody."),
        });
  const stack = await startLocalStack({
    users: plan.users,
    secrets: plan.secrets,
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    maxReceiveCount: MAX_RECEIVE_COUNT,
    environment: SOAK_ENVIRONMENT,
    simulator: {
      faultRate: options.faultRate ?? defaultFaultRate,
      faultKinds: FAULT_KINDS,
      seed,
      ...(crash === undefined ? {} : { onExchange: crash.observe }),
    },
  });
  // A CUC whose clocks are not this machine's: its database in CET, its Date header half a second
  // behind, as Tomcat's reused date can be (the lost-answer baseline must not depend on either).
  stack.simulator.setClocks({ timeChangedZoneMinutes: 60, dateLagMs: 500 });
  const restoreEnvironment = useEnvironment(stack.environment);
  const work = await mkdtemp(join(tmpdir(), "cupi-reset-soak-"));
  const audits = new AuditLog();
  let containers: ProcessContainers | undefined;
  try {
    containers = processContainers({
      environment: {
        PATH: process.env.PATH,
        ...stack.environment,
        // With crashes, INFO at least: the audit records are read from the logs.
        POWERTOOLS_LOG_LEVEL:
          crash === undefined || options.logLevel === "DEBUG"
            ? (options.logLevel ?? "SILENT")
            : "INFO",
      },
      ...(options.packaged === true ? { handlerModule: await packagedResetHandler(work) } : {}),
      onLogs: (chunk: string) => {
        audits.add(chunk);
        if ((options.logLevel ?? "SILENT") !== "SILENT") process.stdout.write(chunk);
      },
    });
    const run = await drive(stack, plan, options, containers, crash);
    const letters = await listDeadLetters(stack.sqs, stack.queues.dlqUrl, plan.deliveries.length);
    return tally({
      ...run,
      plan,
      stack,
      seed,
      letters,
      ...(crash === undefined
        ? {}
        : {
            crash: {
              ...crash.report,
              containersStarted: containers.started,
            },
            audits,
          }),
    });
  } finally {
    await containers?.close();
    await stack.close();
    restoreEnvironment();
    await rm(work, { recursive: true, force: true });
  }
}

/** The audit records in the function's logs: how many name a change, per eventId. */
class AuditLog {
  readonly changes = new Map<string, number>();
  #partial = "";

  add(chunk: string): void {
    const lines = (this.#partial + chunk).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.includes('"audit":true')) continue;
      const record = JSON.parse(line) as { eventId?: string; fieldsChanged?: unknown[] };
      if (record.eventId === undefined || (record.fieldsChanged ?? []).length === 0) continue;
      this.changes.set(record.eventId, (this.changes.get(record.eventId) ?? 0) + 1);
    }
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
  readonly recovery?: Recovery;
}

/**
 * Sends the plan's deliveries while the poller runs (into an outage of CUC, if asked), fixes and
 * replays the missing secrets mid-run, and stops once the queue is empty.
 */
async function drive(
  stack: LocalStack,
  plan: SoakPlan,
  options: SoakOptions,
  containers: ProcessContainers,
  crash: CrashPlan | undefined,
): Promise<Run> {
  const handled = new Set<string>();
  const poller = createEventSourcePoller({
    sqs: stack.sqs,
    queueUrl: stack.queues.queueUrl,
    queueArn: stack.queues.queueArn,
    handler: async (event, context) => {
      const disarm = crash?.arm(event);
      try {
        return await containers.handler(event, context);
      } finally {
        disarm?.();
      }
    },
    batchSize: BATCH_SIZE,
    maximumBatchingWindowSeconds: 0,
    functionTimeoutMs: FUNCTION_TIMEOUT_MS,
    concurrency: POLLER_CONCURRENCY,
    onInvocation: (report) => {
      for (const messageId of report.deletedMessageIds) handled.add(messageId);
    },
    // A killed container's invocation fails as Lambda's would: nothing to warn about.
    onPollError: () => undefined,
  });
  const queueIsEmpty = async () => (await messagesOnQueue(stack.sqs, stack.queues.queueUrl)) === 0;
  const failures: string[] = [];
  const eventByMessageId = new Map<string, PlannedEvent>();
  const missingSecretMessages: string[] = [];
  const startedAt = Date.now();
  // About 9 events/s on 2 cores with a fifth of requests faulted; twice that time before giving up.
  const deadline =
    startedAt + (options.timeoutMs ?? 60_000 + (options.outageMs ?? 0) + options.events * 200);
  let recovery: Recovery | undefined;
  try {
    if (options.outageMs !== undefined) await stack.simulator.startOutage();
    poller.start();
    for (const delivery of plan.deliveries) {
      const messageId = await sendEvent(stack.sqs, stack.queues.queueUrl, delivery.body);
      eventByMessageId.set(messageId, delivery);
      if (delivery.kind === "missing-secret") missingSecretMessages.push(messageId);
    }
    if (options.outageMs !== undefined) {
      await sleep(startedAt + options.outageMs - Date.now());
      const before: SimulatorStats = stack.simulator.stats;
      await stack.simulator.endOutage();
      const recoveredAt = Date.now();
      if (!(await waitUntil(queueIsEmpty, deadline)))
        failures.push("timed out before the queue drained after the outage");
      const after = stack.simulator.stats;
      recovery = {
        drainMs: Date.now() - recoveredAt,
        requests: after.requests - before.requests,
        throttled: after.throttled - before.throttled,
      };
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
    const queuedAtReplay = await messagesOnQueue(stack.sqs, stack.queues.queueUrl);
    const replay = await replaySelected(stack.sqs, {
      dlqUrl: stack.queues.dlqUrl,
      queueUrl: stack.queues.queueUrl,
      errorCodes: ["SECRET_NOT_FOUND"],
    });
    if (replay.failed > 0) failures.push(`${replay.failed} DLQ replay(s) failed`);
    const expectedReplays = missingSecretMessages.length;
    // A container killed after its DLQ send and before Lambda heard of it dead-letters the
    // record again on redelivery (at least once): more copies, never fewer.
    if (
      replay.replayed < expectedReplays ||
      (crash === undefined && replay.replayed > expectedReplays)
    )
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
      ...(recovery === undefined ? {} : { recovery }),
    };
  } finally {
    await poller.stop();
  }
}

interface TallyInput extends Run {
  readonly plan: SoakPlan;
  readonly stack: LocalStack;
  readonly seed: number;
  readonly letters: readonly DeadLetterEntry[];
  readonly crash?: CrashReport & { readonly containersStarted: number };
  readonly audits?: AuditLog;
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

  const published = stack.eventBridge.published;
  const toldByEvent = Map.groupBy(published, (outcome) => String(outcome.detail.eventId ?? ""));
  let untold = 0;
  let mistold = 0;
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
    const told = toldByEvent.get(event.eventId) ?? [];
    const toldRight = wasApplied
      ? told.some((outcome) => outcome.detail.outcome === "applied")
      : told.some((outcome) => codes.includes(String(outcome.detail.errorCode)));
    if (told.length === 0) untold++;
    else if (!toldRight) mistold++;
    if (!toldRight && examples.length < MAX_EXAMPLES) {
      examples.push(
        `${event.eventId} (${event.kind}): outcome events [${told.map((outcome) => outcome.detail.errorCode ?? outcome.detail.outcome).join(", ")}]`,
      );
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
  check(untold === 0, `${untold} event(s) whose outcome was never published`);
  check(mistold === 0, `${mistold} event(s) whose outcome events say something else`);
  check(appliedTwice === 0, `${appliedTwice} user(s) with an event applied twice`);
  check(staleApplied === 0, `${staleApplied} stale event(s) applied over a newer one`);
  check(redriven === 0, `${redriven} message(s) redriven to the DLQ after retries`);
  check(retriesExhausted === 0, `${retriesExhausted} message(s) dead-lettered RETRIES_EXHAUSTED`);
  check(
    stats.peakConcurrency <= concurrencyLimit,
    `CUC saw ${stats.peakConcurrency} requests at once (limit ${concurrencyLimit})`,
  );
  check(stats.throttled === 0, `CUC throttled ${stats.throttled} request(s)`);
  const rejected = letters.filter((letter) => letter.errorCode === "CREDENTIAL_REJECTED").length;
  // Every soak value is valid and new to its user: only the service's own earlier attempt of an
  // event, met in CUC's history, could have it refused.
  check(rejected === 0, `${rejected} event(s) dead-lettered CREDENTIAL_REJECTED`);
  const recovery = input.recovery;
  if (recovery !== undefined) {
    check(letters.length === 0, `${letters.length} message(s) dead-lettered across the outage`);
    const share = recovery.throttled / Math.max(1, recovery.requests);
    check(
      share <= MAX_RECOVERY_THROTTLED_SHARE,
      `${(share * 100).toFixed(2)}% of requests answered 503 while the backlog drained`,
    );
  }
  let crash: SoakReport["crash"];
  if (input.crash !== undefined && input.audits !== undefined) {
    const audits = input.audits.changes;
    const unauditedEvents = [...applied].filter((event) => !audits.has(event.eventId));
    const unaudited = unauditedEvents.length;
    for (const event of unauditedEvents.slice(0, MAX_EXAMPLES - examples.length)) {
      examples.push(`${event.eventId} (${event.kind}): applied, no audit record`);
    }
    const auditedTwice = [...audits.values()].filter((count) => count > 1).length;
    check(unaudited === 0, `${unaudited} applied event(s) without an audit record`);
    // Not a failure: a log line and a DynamoDB write cannot be made one, so an audit record is
    // written at least once: twice when a container dies between it and the idempotency record.
    const kills = Object.values(input.crash.killed).reduce((sum, count) => sum + count, 0);
    check(kills > 0, "no container was killed");
    crash = { ...input.crash, unaudited, auditedTwice };
  }

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
    outcomeEvents: {
      published: published.length,
      duplicates: published.filter((outcome) => outcome.detail.duplicate === true).length,
      untold,
      mistold,
    },
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
    ...(recovery === undefined ? {} : { recovery }),
    ...(crash === undefined ? {} : { crash }),
    failures,
  };
}
