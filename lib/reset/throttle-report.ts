// One warning per invocation in which CUC turned requests away, from the adaptive limits' reports.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { LimiterReport } from "../cupi/limiter.ts";

/**
 * One warning per invocation in which CUC turned requests away (503), with what the adaptive
 * limit made of it: operators see a crowded CUC (administrators, other tools, too many
 * containers) without reading every record's log. `invocation`: the limiters' reports of the
 * invocation (limiterReportsSince).
 */
export function logThrottling(logger: Logger, invocation: readonly LimiterReport[]): void {
  const hosts = invocation
    .filter((report) => report.throttled > 0)
    .map((report) => ({
      origin: report.origin,
      throttled: report.throttled,
      served: report.served,
      pauses: report.pauses,
      limit: report.limit,
      maxInFlight: report.maxInFlight,
      ...(report.pausedUntil > Date.now()
        ? { pausedUntil: new Date(report.pausedUntil).toISOString() }
        : {}),
    }));
  if (hosts.length > 0) {
    logger.warn("CUC turned requests away (503): the adaptive limit backed off", {
      cupiThrottle: hosts,
    });
  }
}
