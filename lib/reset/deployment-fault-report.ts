// One warning per invocation in which records were retried for a fault of the deployment.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { RecordOutcome } from "./record-outcome.ts";

/**
 * Collects the records of one invocation that failed for a fault of the deployment (a wrong base
 * URL, a refused service account, an untrusted certificate) and says so once, with each distinct
 * reason and how many records it held back: one clear line for the on-call operator instead of a
 * retry line per record that reads like the events' fault.
 */
export class DeploymentFaultReport {
  readonly #recordsByReason = new Map<string, number>();

  note(outcome: RecordOutcome): void {
    if (outcome.status !== "retry" || outcome.deploymentFault !== true) return;
    this.#recordsByReason.set(outcome.reason, (this.#recordsByReason.get(outcome.reason) ?? 0) + 1);
  }

  log(logger: Logger): void {
    if (this.#recordsByReason.size === 0) return;
    logger.warn(
      "the deployment is at fault, not the events: they are retried until it is fixed (README: Whose fault is it)",
      {
        deploymentFaults: [...this.#recordsByReason].map(([reason, records]) => ({
          reason,
          records,
        })),
      },
    );
  }
}
