import { describe, expect, it } from "vitest";
import { type LatencyFigures, run } from "../../bench/pipeline-overhead.ts";
import { shippedSettings } from "../../bench/shipped-settings.ts";

describe("bench: pipeline overhead, quick", () => {
  it("measures the handler and a careful script (lookup, PUT) at 0 and 20 ms, with well-formed ratios", async () => {
    const lines: string[] = [];
    const result = await run({ quick: true, log: (line) => lines.push(line) });

    const figures = result.figures as {
      concurrency: number;
      batchSize: number;
      byLatency: Record<string, LatencyFigures>;
    };
    expect(figures.concurrency).toBe(shippedSettings().cupiMaxInFlight);
    expect(figures.batchSize).toBe(10);
    expect(Object.keys(figures.byLatency)).toEqual(["0ms", "20ms"]);
    for (const [key, f] of Object.entries(figures.byLatency)) {
      expect(f.latencyMs).toBe(Number.parseInt(key, 10));
      // Whole batches of 10 went through, every one applied (run() throws otherwise).
      expect(f.handlerEvents).toBeGreaterThan(0);
      expect(f.handlerEvents % 10).toBe(0);
      expect(f.scriptResets).toBeGreaterThan(0);
      // Two requests per reset of the script: the lookup and the PUT.
      expect(f.scriptRequestsPerSecond / f.scriptResetsPerSecond).toBeCloseTo(2, 1);
      for (const name of [
        "handlerEventsPerSecond",
        "handlerCupiRequestsPerSecond",
        "scriptResetsPerSecond",
        "eventRatio",
        "requestRatio",
      ] as const) {
        expect(Number.isFinite(f[name]), name).toBe(true);
        expect(f[name], name).toBeGreaterThan(0);
      }
      // Each event costs at least its PUT, and the user lookup, in CUC requests.
      expect(f.cupiRequestsPerEvent).toBeGreaterThanOrEqual(2);
      expect(f.requestRatio).toBeCloseTo((f.eventRatio * f.cupiRequestsPerEvent) / 2, 1);
      expect(f.secretsManagerCallsPerEvent).toBeGreaterThanOrEqual(1);
      expect(f.dynamodbCallsPerEvent).toBeGreaterThan(0);
      // The CUC share of an event's time cannot exceed the time the event took.
      expect(f.serverMsPerEvent.cupi).toBeGreaterThan(0);
      expect(f.serverMsPerEvent.cupi).toBeLessThanOrEqual(f.handlerMsPerEvent * 1.01);
    }
    // 20 ms per CUC request slows the script too: at most 1000/20 requests/s per slot.
    expect(figures.byLatency["20ms"]?.scriptRequestsPerSecond).toBeLessThanOrEqual(
      (1000 / 20) * figures.concurrency,
    );

    expect(result.targets.map((target) => target.name)).toEqual([
      "events/s through the handler ÷ a careful script's resets/s at 0 ms",
      "events/s through the handler ÷ a careful script's resets/s at 20 ms",
    ]);
    for (const target of result.targets) expect(target.met).toBe(target.actual >= 0.9);
    expect(lines.length).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
