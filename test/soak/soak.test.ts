import { describe, expect, it } from "vitest";
import { runSoak } from "../../dev/soak/soak.ts";

describe("soak, short: npm run soak's mix at 200 events", () => {
  it("applies every event exactly once or dead-letters it for good", async () => {
    // A tenth of requests faulted, not npm run soak's fifth: a faulted PUT is not resent within
    // the call, so each costs an SQS receive, and at a fifth ~0.2^5 of events use up all five.
    const report = await runSoak({ events: 200, seed: 7, faultRate: 0.1 });

    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({
      unaccounted: 0,
      unexpected: 0,
      appliedTwice: 0,
      staleApplied: 0,
      redriven: 0,
      retriesExhausted: 0,
    });
    const deadLettered = Object.values(report.deadLettered).reduce(
      (sum, { events }) => sum + events,
      0,
    );
    expect(report.appliedExactlyOnce + deadLettered).toBe(report.events);
    expect(report.deadLettered.USER_NOT_FOUND?.events).toBe(report.unknownUserEvents);
    expect(report.cuc.peakConcurrency).toBeLessThanOrEqual(report.cuc.concurrencyLimit);
    expect(report.cuc.throttled).toBe(0);

    // What the run went through: duplicates, faults of every kind, a replay while work remained.
    expect(report.duplicates).toBe(20);
    expect(report.replayed).toBe(report.expectedReplays);
    expect(report.queuedAtReplay).toBeGreaterThan(0);
    for (const kind of ["503", "500-html", "drop", "slow"] as const)
      expect(report.cuc.faults[kind]).toBeGreaterThan(0);
  }, 90_000);
});
