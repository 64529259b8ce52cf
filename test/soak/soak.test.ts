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
      // Every producer heard what became of its event; duplicates and the replay add more.
      outcomeEvents: { untold: 0, mistold: 0 },
    });
    expect(report.outcomeEvents.published).toBeGreaterThan(report.events);
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
    for (const kind of [
      "503",
      "500-html",
      "drop",
      "slow",
      "drop-after-apply",
      "slow-after-apply",
    ] as const)
      expect(report.cuc.faults[kind]).toBeGreaterThan(0);
  }, 90_000);
});

describe("soak, short: a CUC outage", () => {
  it("dead-letters nothing while CUC refuses connections, and applies every event once it is back", async () => {
    const report = await runSoak({ events: 60, seed: 11, outageMs: 15_000 });

    expect(report.failures).toEqual([]);
    expect(report.appliedExactlyOnce).toBe(60);
    expect(report.deadLettered).toEqual({});
    expect(report).toMatchObject({ redriven: 0, retriesExhausted: 0, unaccounted: 0 });
    // Retried during the outage, more than once each on average, yet none used up its receives.
    expect(report.receives).toBeGreaterThan(2 * report.events);
    expect(report.recovery?.requests).toBeGreaterThan(0);
    expect(report.cuc.throttled).toBe(0);
  }, 90_000);
});

describe("soak, short: containers killed mid-work", () => {
  it("loses nothing, applies nothing twice and audits every change when containers die", async () => {
    // Containers run the sources here (npm run soak -- --crash runs the packaged bundle); one
    // invocation in five is killed so that a short run meets every point.
    const report = await runSoak({ events: 150, seed: 6, crashRate: 0.2 });

    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({
      unaccounted: 0,
      unexpected: 0,
      appliedTwice: 0,
      staleApplied: 0,
      redriven: 0,
      retriesExhausted: 0,
    });
    expect(report.deadLettered.CREDENTIAL_REJECTED).toBeUndefined();
    expect(report.crash?.unaudited).toBe(0);
    const killed = Object.values(report.crash?.killed ?? {}) as number[];
    expect(killed.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
    // A killed container is replaced by a new one, as Lambda does.
    expect(report.crash?.containersStarted).toBeGreaterThan(2);
  }, 90_000);
});
