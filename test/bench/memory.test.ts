import { describe, expect, it } from "vitest";
import { run } from "../../bench/memory.ts";

interface Sample {
  events: number;
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
}

describe("bench: memory, quick", () => {
  it("samples one container's memory after a GC as the events go through", async () => {
    const result = await run({ quick: true, log: () => {} });
    const figures = result.figures as {
      events: number;
      baselineAtEvents: number;
      afterGc: boolean;
      failedRecords: number;
      deadLettered: number;
      puts: { expected: number; actual: number };
      rssAtBaselineMB: number;
      rssAtEndMB: number;
      rssGrowthMB: number;
      heapUsedAtEndMB: number;
      samples: Sample[];
    };
    expect(figures.events).toBe(200);
    expect(figures.baselineAtEvents).toBe(20);
    expect(figures.afterGc).toBe(true);
    expect(figures.failedRecords).toBe(0);
    expect(figures.deadLettered).toBe(0);
    expect(figures.puts.actual).toBe(figures.puts.expected);
    // Samples at load, at the baseline, then at each sampling point up to the last event.
    expect(figures.samples.map((sample) => sample.events)).toEqual([0, 20, 60, 120, 180, 200]);
    for (const sample of figures.samples) {
      expect(sample.heapUsedMB).toBeGreaterThan(1);
      expect(sample.heapUsedMB).toBeLessThanOrEqual(sample.heapTotalMB);
      expect(sample.heapTotalMB).toBeLessThan(sample.rssMB);
    }
    expect(figures.samples[1]?.rssMB).toBe(figures.rssAtBaselineMB);
    expect(figures.samples.at(-1)?.rssMB).toBe(figures.rssAtEndMB);
    // Each figure is rounded to 3 significant digits on its own: whole MB for RSS in the hundreds.
    expect(
      Math.abs(figures.rssGrowthMB - (figures.rssAtEndMB - figures.rssAtBaselineMB)),
    ).toBeLessThanOrEqual(1);

    const [target] = result.targets;
    expect(result.targets).toHaveLength(1);
    expect(target).toMatchObject({
      name: "RSS growth from 20 to 200 events",
      target: "< 20 MB",
      actual: figures.rssGrowthMB,
      met: figures.rssGrowthMB < 20,
    });
  }, 30_000);
});
