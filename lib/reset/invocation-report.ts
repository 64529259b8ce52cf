// What an invocation tells operators once its records are settled: a warning if CUC turned
// requests away, one if the deployment is at fault, one if a source is over its budget, and its
// metrics.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { ServiceConfig } from "../config/config.ts";
import { limiterReports, limiterReportsSince, takeServedLatencies } from "../cupi/limiter.ts";
import { DeploymentFaultReport } from "./deployment-fault-report.ts";
import { InvocationMetrics } from "./invocation-metrics.ts";
import type { RecordOutcome } from "./record-outcome.ts";
import { logThrottling } from "./throttle-report.ts";

export class InvocationReport {
  readonly #throttleBefore = limiterReports();
  readonly #deploymentFaults = new DeploymentFaultReport();
  readonly #metrics: InvocationMetrics;

  constructor(config: ServiceConfig) {
    // Served requests' durations from before this invocation (a later one's in a warm container)
    // are not this invocation's.
    takeServedLatencies();
    this.#metrics = new InvocationMetrics(config);
  }

  noteRecord(outcome: RecordOutcome, durationMs: number): void {
    this.#deploymentFaults.note(outcome);
    this.#metrics.noteRecord(outcome, durationMs);
  }

  /** Logs the warnings and prints the metrics (when a Metrics instance is given). */
  end(logger: Logger, metrics: Metrics | undefined): void {
    const cupi = limiterReportsSince(this.#throttleBefore, limiterReports());
    logThrottling(logger, cupi);
    this.#deploymentFaults.log(logger);
    const held = this.#metrics.heldBySource();
    if (held.size > 0) {
      logger.warn(
        "a source exceeded its budget of changes per hour: its events are held, not applied, until a person decides (README: The blast-radius guard)",
        { heldBySource: [...held].map(([source, records]) => ({ source, records })) },
      );
    }
    if (metrics === undefined) return;
    this.#metrics.noteCupi(cupi, takeServedLatencies());
    this.#metrics.publish(metrics);
  }
}
