// What one invocation did, counted per CUC cluster and printed in CloudWatch's embedded metric
// format by Powertools Metrics: a few log lines per invocation, no API call.
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { ServiceConfig } from "../config/config.ts";
import type { LimiterReport } from "../cupi/limiter.ts";
import type { ErrorCode } from "../outcome/failures.ts";
import type { RecordOutcome } from "./record-outcome.ts";

/** The CloudWatch namespace of the service's metrics (the dashboard and alarms read it). */
export const METRICS_NAMESPACE = "CupiReset";

/** The cluster dimension of a record whose cluster is not known (an invalid event, or unknown). */
export const UNKNOWN_CLUSTER = "unknown";

/** Counted per record, per cluster; names as they appear in CloudWatch. */
const COUNTS = [
  "EventsApplied",
  "EventsDuplicate",
  "EventsDeadLettered",
  "EventsRefused",
  "EventsRetried",
  "EventsHeld",
  "IdempotencyConflicts",
  "OrderingConflicts",
  "CupiRequests",
  "CupiThrottled",
  "CupiPauses",
] as const;
type Count = (typeof COUNTS)[number];

/** Every metric the handler prints (the dashboard and alarms may name no other). */
export const METRIC_NAMES: readonly string[] = [...COUNTS, "RecordDuration", "CupiLatency"];

/** Dead-letter codes that mean this deployment's own policy refused the event. */
const REFUSALS: ReadonlySet<ErrorCode> = new Set(["ACTION_NOT_ALLOWED"]);

interface ClusterTally {
  readonly counts: Record<Count, number>;
  readonly deadLetteredByCode: Map<ErrorCode, number>;
  readonly heldBySource: Map<string, number>;
  readonly recordMs: number[];
  readonly cupiMs: number[];
}

/**
 * One invocation's tallies: records by outcome, conflicts, CUPI requests, 503s, pauses and
 * latencies, and record durations, each under the cluster it concerned. Dimensions are kept few:
 * each metric under `service` and `cluster` and under `service` alone (the whole deployment, for
 * the alarms); `errorCode` only on the dead letters' breakdown and `source` only on the held
 * events' breakdown, under `service` and `cluster`.
 */
export class InvocationMetrics {
  readonly #config: ServiceConfig;
  readonly #tallies = new Map<string, ClusterTally>();

  constructor(config: ServiceConfig) {
    this.#config = config;
  }

  /** A record's settled outcome and how long it took, start to settled. */
  noteRecord(outcome: RecordOutcome, durationMs: number): void {
    const tally = this.#tally(this.#clusterOf(outcome.event?.cluster, outcome.event !== undefined));
    tally.recordMs.push(durationMs);
    switch (outcome.status) {
      case "applied":
        tally.counts[outcome.applied.duplicate ? "EventsDuplicate" : "EventsApplied"] += 1;
        return;
      case "dead-lettered":
        tally.counts.EventsDeadLettered += 1;
        if (REFUSALS.has(outcome.code)) tally.counts.EventsRefused += 1;
        if (outcome.code === "STALE_EVENT") tally.counts.OrderingConflicts += 1;
        tally.deadLetteredByCode.set(
          outcome.code,
          (tally.deadLetteredByCode.get(outcome.code) ?? 0) + 1,
        );
        return;
      case "retry":
        tally.counts.EventsRetried += 1;
        if (outcome.heldBy !== undefined) {
          tally.counts.EventsHeld += 1;
          tally.heldBySource.set(outcome.heldBy, (tally.heldBySource.get(outcome.heldBy) ?? 0) + 1);
        }
        if (outcome.conflict === "idempotency") tally.counts.IdempotencyConflicts += 1;
        if (outcome.conflict === "ordering") tally.counts.OrderingConflicts += 1;
        return;
    }
  }

  /**
   * What CUC's limiters saw during the invocation (their reports of it, limiterReportsSince, and
   * the served requests' durations taken at its end), under the cluster of each origin.
   */
  noteCupi(
    invocation: readonly LimiterReport[],
    latencies: ReadonlyMap<string, readonly number[]>,
  ): void {
    for (const { origin, attempts, throttled, pauses } of invocation) {
      const durations = latencies.get(origin) ?? [];
      if (attempts + pauses === 0 && durations.length === 0) continue;
      const tally = this.#tally(this.#clusterOfOrigin(origin));
      tally.counts.CupiRequests += attempts;
      tally.counts.CupiThrottled += throttled;
      tally.counts.CupiPauses += pauses;
      tally.cupiMs.push(...durations);
    }
  }

  /** Records held because their source is over its budget, by source, every cluster together. */
  heldBySource(): Map<string, number> {
    const held = new Map<string, number>();
    for (const tally of this.#tallies.values()) {
      for (const [source, count] of tally.heldBySource) {
        held.set(source, (held.get(source) ?? 0) + count);
      }
    }
    return held;
  }

  /** Prints the tallies (one document per cluster, one per dead-letter code) and clears them. */
  publish(metrics: Metrics): void {
    for (const [cluster, tally] of this.#tallies) {
      // Powertools flushes a document by itself when a metric reaches 100 values, dimensions
      // dropped: values go out in documents of at most VALUES_PER_DOCUMENT each instead.
      const recordMs = chunks(tally.recordMs);
      const cupiMs = chunks(tally.cupiMs);
      for (let document = 0; document < Math.max(1, recordMs.length, cupiMs.length); document++) {
        metrics.addDimension("cluster", cluster);
        // A second dimension set, `service` alone: the deployment's totals.
        metrics.addDimensions({});
        if (document === 0) {
          for (const name of COUNTS) metrics.addMetric(name, MetricUnit.Count, tally.counts[name]);
        }
        for (const ms of recordMs[document] ?? []) {
          metrics.addMetric("RecordDuration", MetricUnit.Milliseconds, ms);
        }
        for (const ms of cupiMs[document] ?? []) {
          metrics.addMetric("CupiLatency", MetricUnit.Milliseconds, ms);
        }
        metrics.publishStoredMetrics();
      }
      for (const [code, count] of tally.deadLetteredByCode) {
        metrics.addDimension("cluster", cluster);
        metrics.addDimension("errorCode", code);
        metrics.addMetric("EventsDeadLettered", MetricUnit.Count, count);
        metrics.publishStoredMetrics();
      }
      // Sources named in the policy's limits only (an event's source outside the policy is
      // refused before it can be held): no producer mints dimensions.
      for (const [source, count] of tally.heldBySource) {
        metrics.addDimension("cluster", cluster);
        metrics.addDimension("source", source);
        metrics.addMetric("EventsHeld", MetricUnit.Count, count);
        metrics.publishStoredMetrics();
      }
    }
    this.#tallies.clear();
  }

  #tally(cluster: string): ClusterTally {
    let tally = this.#tallies.get(cluster);
    if (tally === undefined) {
      tally = {
        counts: Object.fromEntries(COUNTS.map((name) => [name, 0])) as Record<Count, number>,
        deadLetteredByCode: new Map(),
        heldBySource: new Map(),
        recordMs: [],
        cupiMs: [],
      };
      this.#tallies.set(cluster, tally);
    }
    return tally;
  }

  /**
   * A configured cluster's name, never an event's own string: a producer must not be able to
   * create metrics (each one billed) by naming clusters that do not exist.
   */
  #clusterOf(named: string | undefined, parsed: boolean): string {
    if (!parsed) return UNKNOWN_CLUSTER;
    if (named === undefined) return this.#config.defaultCluster?.name ?? UNKNOWN_CLUSTER;
    return this.#config.clusters.get(named)?.name ?? UNKNOWN_CLUSTER;
  }

  #clusterOfOrigin(origin: string): string {
    const clusters = [this.#config.defaultCluster, ...this.#config.clusters.values()];
    const cluster = clusters.find(
      (candidate) => candidate !== undefined && new URL(candidate.baseUrl).origin === origin,
    );
    return cluster?.name ?? UNKNOWN_CLUSTER;
  }
}

/** Fewer values than Powertools' own flush at 100 (MAX_METRIC_VALUES_SIZE). */
const VALUES_PER_DOCUMENT = 99;

function chunks(values: readonly number[]): number[][] {
  return Array.from({ length: Math.ceil(values.length / VALUES_PER_DOCUMENT) }, (_, index) =>
    values.slice(index * VALUES_PER_DOCUMENT, (index + 1) * VALUES_PER_DOCUMENT),
  );
}
