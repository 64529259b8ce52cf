import { describe, expect, it } from "vitest";
import { latencyStats, run, type LatencyStats as Stats } from "../../bench/latency.ts";

describe("bench: latency, quick", () => {
  it("takes every event sent from enqueue to applied and reports ordered percentiles", async () => {
    const result = await run({ quick: true, log: () => {} });
    const figures = result.figures as {
      sent: number;
      drained: boolean;
      sendRatePerSecond: number;
      retried: number;
      enqueueToReportedApplied: Stats;
      enqueueToCucApplied: Stats;
      enqueueToDeleted: Stats;
      enqueueToInvoked: Stats;
      invokedToReportedApplied: Stats;
    };

    expect(figures.sent).toBe(30);
    expect(figures.drained).toBe(true);
    expect(figures.retried).toBe(0);
    expect(figures.sendRatePerSecond).toBeGreaterThan(5);
    expect(figures.sendRatePerSecond).toBeLessThan(20);
    for (const stats of [
      figures.enqueueToCucApplied,
      figures.enqueueToReportedApplied,
      figures.enqueueToDeleted,
    ]) {
      expect(stats.count).toBe(figures.sent);
      expect(stats.p50Ms).toBeGreaterThan(0);
      expect(stats.p50Ms).toBeLessThanOrEqual(stats.p95Ms);
      expect(stats.p95Ms).toBeLessThanOrEqual(stats.p99Ms);
      expect(stats.p99Ms).toBeLessThanOrEqual(stats.maxMs);
    }
    // The two parts of the way, each for every event, neither longer than the whole.
    for (const part of [figures.enqueueToInvoked, figures.invokedToReportedApplied]) {
      expect(part.count).toBe(figures.sent);
      expect(part.p50Ms).toBeGreaterThanOrEqual(0);
      expect(part.maxMs).toBeLessThanOrEqual(figures.enqueueToReportedApplied.maxMs);
    }
    // CUC takes the PIN before the handler reports it, which it does before the delete.
    expect(figures.enqueueToCucApplied.maxMs).toBeLessThanOrEqual(
      figures.enqueueToReportedApplied.maxMs,
    );
    expect(figures.enqueueToReportedApplied.p50Ms).toBeLessThanOrEqual(
      figures.enqueueToDeleted.p50Ms,
    );
    expect(result.targets).toEqual([]);
  }, 30_000);

  it("latencyStats: nearest-rank percentiles of the samples", () => {
    const samples = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(latencyStats(samples)).toEqual({
      count: 100,
      p50Ms: 50,
      p95Ms: 95,
      p99Ms: 99,
      maxMs: 100,
      meanMs: 50.5,
    });
  });
});
