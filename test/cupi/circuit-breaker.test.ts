import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitPermit,
  circuitBreakerForOrigin,
  DEFAULT_CIRCUIT_BREAKER,
} from "../../lib/cupi/circuit-breaker.ts";

const START = Date.parse("2026-11-28T10:00:00Z");

function breakerWithClock(options: CircuitBreakerOptions = {}) {
  const clock = { now: START };
  const breaker = new CircuitBreaker(options, () => clock.now);
  return { breaker, clock };
}

function admitted(breaker: CircuitBreaker): CircuitPermit {
  const permit = breaker.admit();
  expect(permit).toBeDefined();
  return permit as CircuitPermit;
}

function fail(breaker: CircuitBreaker, times: number): void {
  for (let index = 0; index < times; index++) admitted(breaker).failed();
}

describe("CircuitBreaker", () => {
  it("may admit before a deadline when closed, half-open, or open with a cool-down ending by then", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 1, coolDownMs: 1_000 });
    expect(breaker.mayAdmitBefore(START + 1)).toBe(true);
    expect(breaker.mayAdmitBefore(START)).toBe(false);
    fail(breaker, 1);
    expect(breaker.mayAdmitBefore(START + 999)).toBe(false);
    expect(breaker.mayAdmitBefore(START + 1_000)).toBe(true);
    clock.now = START + 1_000;
    const trial = admitted(breaker);
    // Half-open with its trial in flight: the trial's verdict may come before the deadline.
    expect(breaker.mayAdmitBefore(START + 1_001)).toBe(true);
    trial.failed();
    expect(breaker.mayAdmitBefore(START + 1_999)).toBe(false);
  });

  it("wakes the calls waiting for a trial as soon as it ends, without waiting for their deadline", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 20 });
    admitted(breaker).failed();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const trial = admitted(breaker);
    const started = Date.now();
    const waiting = breaker.untilAdmissible(Date.now() + 5_000);
    setTimeout(() => trial.succeeded(), 20);
    await waiting;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(breaker.state).toBe("closed");
  });

  it("does not wait for a cool-down that ends after the deadline, nor past an abort", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 60_000 });
    admitted(breaker).failed();
    const started = Date.now();
    await breaker.untilAdmissible(Date.now() + 5_000);
    expect(Date.now() - started).toBeLessThan(100);
    const shorter = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 5_000 });
    admitted(shorter).failed();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await shorter.untilAdmissible(Date.now() + 10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("defaults to 5 consecutive failures and a 30 s cool-down", () => {
    expect(DEFAULT_CIRCUIT_BREAKER).toEqual({ failureThreshold: 5, coolDownMs: 30_000 });
    const { breaker, clock } = breakerWithClock();
    fail(breaker, 4);
    expect(breaker.state).toBe("closed");
    fail(breaker, 1);
    expect(breaker.snapshot()).toMatchObject({ state: "open", openUntil: START + 30_000 });
    clock.now = START + 29_999;
    expect(breaker.state).toBe("open");
    clock.now = START + 30_000;
    expect(breaker.state).toBe("half-open");
  });

  it("opens at the threshold and refuses attempts until the cool-down ends", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 3, coolDownMs: 1_000 });
    fail(breaker, 2);
    expect(breaker.snapshot()).toMatchObject({ state: "closed", consecutiveFailures: 2 });
    fail(breaker, 1);
    expect(breaker.snapshot()).toMatchObject({
      state: "open",
      consecutiveFailures: 3,
      openUntil: START + 1_000,
      openings: 1,
    });
    clock.now = START + 999;
    expect(breaker.admit()).toBeUndefined();
    expect(breaker.admit()).toBeUndefined();
    expect(breaker.snapshot().rejections).toBe(2);
  });

  it("counts only consecutive failures: a success in between starts the count again", () => {
    const { breaker } = breakerWithClock({ failureThreshold: 3 });
    fail(breaker, 2);
    admitted(breaker).succeeded();
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
    fail(breaker, 2);
    expect(breaker.state).toBe("closed");
    fail(breaker, 1);
    expect(breaker.state).toBe("open");
  });

  it("lets exactly one trial through at a time once the cool-down is over", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 1, coolDownMs: 1_000 });
    fail(breaker, 1);
    clock.now = START + 1_000;
    const trial = admitted(breaker);
    expect(breaker.admit()).toBeUndefined();
    expect(breaker.snapshot()).toMatchObject({ state: "half-open", openUntil: undefined });
    // An abandoned trial gives no verdict and frees the slot for another one.
    trial.abandoned();
    expect(breaker.state).toBe("half-open");
    admitted(breaker);
    expect(breaker.admit()).toBeUndefined();
  });

  it("closes when the trial succeeds", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 2, coolDownMs: 1_000 });
    fail(breaker, 2);
    clock.now = START + 1_000;
    admitted(breaker).succeeded();
    expect(breaker.snapshot()).toMatchObject({ state: "closed", consecutiveFailures: 0 });
    admitted(breaker);
    admitted(breaker);
    // Closed again, it takes a full run of failures to open.
    fail(breaker, 1);
    expect(breaker.state).toBe("closed");
  });

  it("re-opens for another cool-down when the trial fails", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 2, coolDownMs: 1_000 });
    fail(breaker, 2);
    clock.now = START + 1_500;
    admitted(breaker).failed();
    expect(breaker.snapshot()).toMatchObject({
      state: "open",
      openUntil: START + 2_500,
      openings: 2,
    });
    clock.now = START + 2_499;
    expect(breaker.admit()).toBeUndefined();
    clock.now = START + 2_500;
    expect(breaker.state).toBe("half-open");
  });

  it("ignores verdicts of attempts admitted before the circuit opened", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 2, coolDownMs: 1_000 });
    const slowSuccess = admitted(breaker);
    const slowFailure = admitted(breaker);
    fail(breaker, 2);
    slowSuccess.succeeded();
    expect(breaker.state).toBe("open");
    clock.now = START + 1_000;
    admitted(breaker);
    slowFailure.failed();
    expect(breaker.state).toBe("half-open");
    expect(breaker.admit()).toBeUndefined();
  });

  it("counts each permit's first verdict only", () => {
    const { breaker } = breakerWithClock({ failureThreshold: 2 });
    const permit = admitted(breaker);
    permit.failed();
    permit.failed();
    expect(breaker.snapshot()).toMatchObject({ state: "closed", consecutiveFailures: 1 });
  });

  it("keeps totals for metrics", () => {
    const { breaker, clock } = breakerWithClock({ failureThreshold: 2, coolDownMs: 100 });
    admitted(breaker).succeeded();
    fail(breaker, 2);
    breaker.admit();
    clock.now = START + 100;
    admitted(breaker).abandoned();
    admitted(breaker).succeeded();
    expect(breaker.snapshot()).toEqual({
      state: "closed",
      consecutiveFailures: 0,
      openUntil: undefined,
      successes: 2,
      failures: 2,
      rejections: 1,
      openings: 1,
    });
  });

  it("refuses settings that are not usable", () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failureThreshold: 2.5 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ coolDownMs: -1 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ coolDownMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});

describe("circuitBreakerForOrigin", () => {
  it("shares one breaker per origin, keeping the strictest settings", () => {
    const first = circuitBreakerForOrigin("https://cuc-a.breaker.test", {
      failureThreshold: 4,
      coolDownMs: 10_000,
    });
    const second = circuitBreakerForOrigin("https://cuc-a.breaker.test", {
      failureThreshold: 6,
      coolDownMs: 20_000,
    });
    const third = circuitBreakerForOrigin("https://cuc-a.breaker.test");
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(first).toMatchObject({ failureThreshold: 4, coolDownMs: 20_000 });
    expect(circuitBreakerForOrigin("https://cuc-b.breaker.test")).not.toBe(first);
  });

  it("creates a breaker with the defaults when no options are given", () => {
    expect(circuitBreakerForOrigin("https://cuc-c.breaker.test")).toMatchObject(
      DEFAULT_CIRCUIT_BREAKER,
    );
  });

  it("lets a state change seen by one client hold for every client of that origin", () => {
    const origin = "https://cuc-d.breaker.test";
    circuitBreakerForOrigin(origin, { failureThreshold: 1 }).admit()?.failed();
    expect(circuitBreakerForOrigin(origin).state).toBe("open");
    expect(circuitBreakerForOrigin("https://cuc-e.breaker.test").state).toBe("closed");
  });
});
