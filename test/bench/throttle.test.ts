import { describe, expect, it } from "vitest";
import { run, type ThrottleRow } from "../../bench/throttle.ts";
import { renderThrottleChart } from "../../bench/throttle-chart.ts";

describe("bench/throttle.ts (quick smoke run: harness only, no figure judged)", () => {
  it("runs 1 and 2 container processes against the throttled simulator and counts CUC's answers", async () => {
    const { figures, targets } = await run({ quick: true, log: () => {} });
    const rows = figures.rows as ThrottleRow[];
    expect(rows.map((row) => row.containers)).toEqual([1, 2]);
    for (const row of rows) {
      expect(row.requests).toBeGreaterThan(0);
      expect(row.served + row.throttled).toBe(row.requests);
      expect(row.goodputPerSecond).toBeCloseTo(row.served / (row.windowMs / 1_000), 1);
      // CUC's own limit holds whatever the clients do.
      expect(row.peakConcurrency).toBeLessThanOrEqual(5);
      expect(row.perContainer).toHaveLength(row.containers);
    }
    expect(targets.map((target) => target.name)).toEqual(["503s with 1 container"]);
  }, 60_000);
});

describe("renderThrottleChart", () => {
  it("plots one point per container count on each series, labelled with its share", () => {
    const svg = renderThrottleChart([
      { containers: 1, goodputShare: 0.87, throttledShare: 0 },
      { containers: 10, goodputShare: 0.934, throttledShare: 0.0196 },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    for (const label of ["87%", "93.4%", "0%", "2%", ">10<"]) expect(svg).toContain(label);
  });

  it("refuses to draw nothing", () => {
    expect(() => renderThrottleChart([])).toThrow(RangeError);
  });
});
