/**
 * Throttle efficiency (issue 6, item 4): 1, 2, 5 and 10 containers — separate processes, each with
 * its own adaptive CUPI limiter and no knowledge of the others — drain one queue against a
 * simulated CUC that serves 5 requests at once in 100 ms each and answers 503 to any more. The
 * ideal is 50 requests/s; goodput is the requests CUC served, 503s are the requests it turned away.
 * Events applied per second are counted beside it: fewer requests per event (issue 13) drain more
 * events from the same goodput.
 */
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { SimulatedUser, SimulatorStats } from "../dev/cupi-simulator/index.ts";
import { numberedUser } from "../dev/cupi-simulator/numbered-users.ts";
import { startLocalStack } from "../dev/local-stack.ts";
import { pinSource } from "../dev/soak/plan.ts";
import { DEFAULT_ADAPTIVE_LIMIT } from "../lib/cupi/limiter.ts";
import { sendEvent } from "../lib/operations/queue-tools.ts";
import { atLeast, atMost, type BenchOptions, type BenchResult, round } from "./harness.ts";
import { type ContainerReport, startContainers, stopContainer } from "./queue-containers.ts";
import { renderThrottleChart } from "./throttle-chart.ts";

const CUC_SLOTS = 5;
const SERVICE_TIME_MS = 100;
const IDEAL_REQUESTS_PER_SECOND = (CUC_SLOTS * 1_000) / SERVICE_TIME_MS;
const SECRET_PREFIX = "cupi-reset/resets/bench/";

export interface ThrottleScenario {
  readonly containers: number;
  /** Each container's CUPI_MAX_IN_FLIGHT: the ceiling of its adaptive limit. */
  readonly maxInFlight: number;
  readonly batchSize: number;
}

export interface ThrottleRow extends ThrottleScenario {
  readonly windowMs: number;
  readonly requests: number;
  readonly served: number;
  readonly throttled: number;
  readonly goodputPerSecond: number;
  /** Served requests/s over the ideal 50. */
  readonly goodputShare: number;
  /** 503s over all requests. */
  readonly throttledShare: number;
  /** PIN resets CUC took per second (one PUT each). */
  readonly eventsPerSecond: number;
  readonly peakConcurrency: number;
  /** Each container's limiter at the end: limit, 503s seen, pauses. */
  readonly perContainer: readonly ContainerReport[];
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  // BENCH_THROTTLE_CONTAINERS=2,10 measures only those counts (while tuning).
  const containerCounts =
    process.env.BENCH_THROTTLE_CONTAINERS?.split(",").map(Number) ??
    (options.quick ? [1, 2] : [1, 2, 5, 10]);
  const warmUpMs = options.quick ? 1_000 : 5_000;
  const windowMs = options.quick ? 2_000 : 30_000;
  const rows: ThrottleRow[] = [];
  for (const containers of containerCounts) {
    const row = await measure(
      { containers, maxInFlight: CUC_SLOTS, batchSize: 10 },
      warmUpMs,
      windowMs,
    );
    options.log(
      `${containers} container(s): goodput ${round(row.goodputPerSecond)}/s (${round(row.goodputShare * 100)}% of ideal), 503s ${round(row.throttledShare * 100)}% of ${row.requests} requests, ${row.eventsPerSecond} events/s`,
    );
    rows.push(row);
  }
  // As serverless.yml ships it: 2 containers (maximumConcurrency) × 1 request (cupiMaxInFlight),
  // batches of 5: a CUC slot or more left for administrators, never a 503 of this service's own.
  const shipped = options.quick
    ? undefined
    : await measure({ containers: 2, maxInFlight: 1, batchSize: 5 }, warmUpMs, windowMs);
  if (shipped !== undefined) {
    options.log(
      `shipped settings: goodput ${shipped.goodputPerSecond}/s (${round(shipped.goodputShare * 100)}% of ideal), 503s ${shipped.throttled}, ${shipped.eventsPerSecond} events/s`,
    );
  }
  if (!options.quick) {
    await writeFile(
      new URL("../docs/performance-throttle.svg", import.meta.url),
      renderThrottleChart(rows),
    );
  }
  const byCount = (count: number) => rows.find((row) => row.containers === count);
  const single = byCount(1);
  const ten = byCount(10);
  return {
    figures: {
      cucSlots: CUC_SLOTS,
      serviceTimeMs: SERVICE_TIME_MS,
      idealRequestsPerSecond: IDEAL_REQUESTS_PER_SECOND,
      warmUpMs,
      rows,
      shipped,
    },
    targets: [
      ...(ten === undefined
        ? []
        : [
            atLeast("goodput with 10 containers (share of ideal)", 0.85, round(ten.goodputShare)),
            atMost("503 share with 10 containers", 0.02, round(ten.throttledShare)),
          ]),
      ...(single === undefined ? [] : [atMost("503s with 1 container", 0, single.throttled)]),
      ...(shipped === undefined
        ? []
        : [atMost("503s with the shipped settings", 0, shipped.throttled)]),
    ],
  };
}

/** Starts a fresh stack and the containers, lets them warm up, then counts CUC's answers. */
async function measure(
  scenario: ThrottleScenario,
  warmUpMs: number,
  windowMs: number,
): Promise<ThrottleRow> {
  // Enough backlog that the queue never runs dry in the window, at most ~3 requests per event.
  const eventCount = Math.ceil(((warmUpMs + windowMs) / 1_000) * IDEAL_REQUESTS_PER_SECOND * 0.5);
  const plan = planEvents(eventCount);
  const stack = await startLocalStack({
    users: plan.users,
    secrets: plan.secrets,
    visibilityTimeoutSeconds: 360,
    simulator: { maxConcurrent: CUC_SLOTS, latencyMs: SERVICE_TIME_MS },
    environment: {
      CUPI_MAX_IN_FLIGHT: String(scenario.maxInFlight),
      // The shipped pause, not the local stack's shortened one.
      CUPI_MAX_PAUSE_MS: String(DEFAULT_ADAPTIVE_LIMIT.maxPauseMs),
    },
  });
  const children: ChildProcess[] = [];
  try {
    for (const body of plan.bodies) await sendEvent(stack.sqs, stack.queues.queueUrl, body);
    children.push(
      ...(await startContainers(
        scenario.containers,
        stack.environment,
        stack.queues.queueArn,
        scenario.batchSize,
      )),
    );
    await sleep(warmUpMs);
    const before = stack.simulator.stats;
    await sleep(windowMs);
    const after = stack.simulator.stats;
    const reports = await Promise.all(children.map(stopContainer));
    return summarise(scenario, windowMs, before, after, reports);
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await stack.close();
  }
}

function summarise(
  scenario: ThrottleScenario,
  windowMs: number,
  before: SimulatorStats,
  after: SimulatorStats,
  reports: readonly ContainerReport[],
): ThrottleRow {
  const requests = after.requests - before.requests;
  const throttled = after.throttled - before.throttled;
  const served = requests - throttled;
  const goodputPerSecond = served / (windowMs / 1_000);
  return {
    ...scenario,
    windowMs,
    requests,
    served,
    throttled,
    goodputPerSecond: round(goodputPerSecond),
    goodputShare: round(goodputPerSecond / IDEAL_REQUESTS_PER_SECOND),
    throttledShare: requests === 0 ? 0 : round(throttled / requests),
    eventsPerSecond: round((after.updates - before.updates) / (windowMs / 1_000)),
    peakConcurrency: after.peakConcurrency,
    perContainer: reports.map(({ limit, served, throttled, pauses, invocations, failed }) => ({
      limit,
      served,
      throttled,
      pauses,
      invocations,
      failed,
    })),
  };
}

interface EventPlan {
  readonly users: SimulatedUser[];
  readonly secrets: Record<string, string>;
  readonly bodies: string[];
}

/** One PIN reset per user, by alias, with the new PIN in Secrets Manager: the common case. */
function planEvents(count: number): EventPlan {
  const nextPin = pinSource();
  const users: SimulatedUser[] = [];
  const secrets: Record<string, string> = {};
  const bodies: string[] = [];
  const occurredAt = new Date().toISOString();
  for (let number = 1; number <= count; number++) {
    const user = numberedUser(
      {
        objectIdPrefix: "be5c0000",
        aliasPrefix: "bench.user",
        firstName: "Bench",
        extensionBase: 200_000,
      },
      number,
    );
    user.pin = nextPin(user);
    users.push(user);
    const eventId = `bench-throttle-${number}`;
    const secretId = `${SECRET_PREFIX}${eventId}`;
    secrets[secretId] = JSON.stringify({ pin: nextPin(user) });
    bodies.push(
      JSON.stringify({
        version: 1,
        eventId,
        occurredAt,
        source: "helpdesk",
        user: { alias: user.alias },
        action: "reset-pin",
        newCredential: { secretId, jsonKey: "pin" },
      }),
    );
  }
  return { users, secrets, bodies };
}
