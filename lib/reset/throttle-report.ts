// One warning per invocation in which CUC turned requests away, from the adaptive limits' reports.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { LimiterReport } from "../cupi/limiter.ts";

/**
 * One warning per invocation in which CUC turned requests away (503), with what the adaptive
 * limit made of it: operators see a crowded CUC (administrators, other tools, too many
 * containers) without reading every record's log.
 */
export function logThrottling(
  logger: Logger,
  before: readonly LimiterReport[],
  after: readonly LimiterReport[],
): void {
  const hosts = after.flatMap((report) => {
    const previous = before.find((candidate) => candidate.origin === report.origin);
    const throttled = report.throttled - (previous?.throttled ?? 0);
    if (throttled === 0) return [];
    return [
      {
        origin: report.origin,
        throttled,
        served: report.served - (previous?.served ?? 0),
        pauses: report.pauses - (previous?.pauses ?? 0),
        limit: report.limit,
        maxInFlight: report.maxInFlight,
        ...(report.pausedUntil > Date.now()
          ? { pausedUntil: new Date(report.pausedUntil).toISOString() }
          : {}),
      },
    ];
  });
  if (hosts.length > 0) {
    logger.warn("CUC turned requests away (503): the adaptive limit backed off", {
      cupiThrottle: hosts,
    });
  }
}
