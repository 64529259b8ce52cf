import { describe, expect, it } from "vitest";
import { run } from "../../bench/offboard-wave.ts";
import { shippedSettings } from "../../bench/shipped-settings.ts";

describe("bench: offboarding wave, quick", () => {
  it("drains a small wave through the shipped settings, with figures that hang together", async () => {
    const result = await run({ quick: true, log: () => undefined });
    const figures = result.figures as Record<string, number> & { cucSlots: number };
    const deployed = shippedSettings();
    expect(figures.offboarded).toBe(figures.events);
    expect(figures.containers).toBe(deployed.maximumConcurrency);
    expect(figures.peakConcurrency).toBeGreaterThanOrEqual(1);
    // Never more at once than the containers' limits allow, and never a 503 of its own.
    expect(figures.peakConcurrency).toBeLessThanOrEqual(
      deployed.maximumConcurrency * deployed.cupiMaxInFlight,
    );
    expect(figures.throttled).toBe(0);
    // Each offboard: at least the lookup and two PUTs.
    expect(figures.cucRequestsPerOffboard).toBeGreaterThanOrEqual(3);
    expect(figures.cucSlotShare).toBeGreaterThan(0);
    expect(figures.cucSlotShare).toBeLessThanOrEqual(
      (deployed.maximumConcurrency * deployed.cupiMaxInFlight) / figures.cucSlots,
    );
    expect(result.targets.map((target) => target.name)).toEqual(["every offboard applied"]);
    expect(result.targets[0]?.met).toBe(true);
  }, 60_000);
});
