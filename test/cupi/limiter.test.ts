import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  ConcurrencyLimiter,
  limiterForOrigin,
  MAX_LATENCIES_KEPT,
} from "../../lib/cupi/limiter.ts";

describe("ConcurrencyLimiter", () => {
  it("never runs more than its limit at once and runs everything in arrival order", async () => {
    const limiter = new ConcurrencyLimiter(2);
    let running = 0;
    let highest = 0;
    const started: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        limiter.run(async () => {
          started.push(index);
          running++;
          highest = Math.max(highest, running);
          await sleep(2);
          running--;
        }),
      ),
    );
    expect(highest).toBe(2);
    expect(limiter.peak).toBe(2);
    expect(started).toEqual([...Array(20).keys()]);
    expect(limiter.inFlight).toBe(0);
  });

  it("keeps how long each served operation took until taken, failures and the wait not counted", async () => {
    const limiter = new ConcurrencyLimiter(1);
    const slow = limiter.run(() => sleep(30));
    // Waits about 30 ms for the slot, then takes about 5: its latency is the 5.
    const queued = limiter.run(() => sleep(5));
    await expect(limiter.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow();
    await Promise.all([slow, queued]);
    const [first, second, ...rest] = limiter.takeServedLatencies();
    expect(rest).toEqual([]);
    expect(first).toBeGreaterThanOrEqual(25);
    expect(second).toBeGreaterThanOrEqual(4);
    expect(second).toBeLessThan(25);
    expect(limiter.takeServedLatencies()).toEqual([]);
    for (let index = 0; index < MAX_LATENCIES_KEPT + 5; index++) await limiter.run(async () => {});
    expect(limiter.takeServedLatencies()).toHaveLength(MAX_LATENCIES_KEPT);
  });

  it("frees the slot when an operation fails", async () => {
    const limiter = new ConcurrencyLimiter(1);
    await expect(limiter.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow(
      "boom",
    );
    await expect(limiter.run(async () => "next")).resolves.toBe("next");
  });

  it("stops waiting when the signal aborts, without taking a slot", async () => {
    const limiter = new ConcurrencyLimiter(1);
    let release = (): void => {};
    const holder = limiter.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const waiter = limiter.run(async () => "never", controller.signal);
    expect(limiter.queued).toBe(1);
    controller.abort(new Error("deadline"));
    await expect(waiter).rejects.toThrow("deadline");
    expect(limiter.queued).toBe(0);
    release();
    await holder;
    expect(limiter.inFlight).toBe(0);
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new ConcurrencyLimiter(0)).toThrow(RangeError);
    expect(() => new ConcurrencyLimiter(1.5)).toThrow(RangeError);
  });
});

describe("limiterForOrigin", () => {
  it("shares one limiter per origin, keeping the strictest limit", () => {
    const first = limiterForOrigin("https://cuc-a.test:8443", 3);
    const second = limiterForOrigin("https://cuc-a.test:8443", 2);
    const third = limiterForOrigin("https://cuc-a.test:8443", 5);
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(first.maxInFlight).toBe(2);
    expect(limiterForOrigin("https://cuc-b.test", 3)).not.toBe(first);
  });
});

describe("ConcurrencyLimiter with an adaptive limit", () => {
  const served = async (): Promise<string> => "ok";
  const busy = async (): Promise<never> => Promise.reject(new Error("503"));
  const signalOf = (outcome: { error: unknown } | { value: unknown }) =>
    "value" in outcome ? ("served" as const) : ("throttled" as const);

  function manualClock(start = 1_000_000) {
    let now = start;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  }

  it("starts at 1 and rises by one per success up to its ceiling while nothing is turned away", async () => {
    const limiter = new ConcurrencyLimiter(4, { now: manualClock().now });
    const seen: number[] = [limiter.limit];
    for (let index = 0; index < 6; index++) {
      await limiter.run(served, undefined, signalOf);
      seen.push(limiter.limit);
    }
    expect(seen).toEqual([1, 2, 3, 4, 4, 4, 4]);
  });

  it("drops by one, once, for all the operations turned away together", async () => {
    const clock = manualClock();
    const limiter = new ConcurrencyLimiter(8, { now: clock.now });
    for (let index = 0; index < 7; index++) await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(8);
    const releases: Array<() => void> = [];
    const running = Array.from({ length: 8 }, () =>
      limiter
        .run(
          () => new Promise<never>((_, reject) => releases.push(() => reject(new Error("503")))),
          undefined,
          signalOf,
        )
        .catch(() => undefined),
    );
    await Promise.resolve();
    for (const release of releases) release();
    await Promise.all(running);
    expect(limiter.limit).toBe(7);
    expect(limiter.stats).toMatchObject({ throttled: 8, decreases: 1, pauses: 0 });
  });

  it("after a 503, rises one at a time each probe interval, but not back to the limit that met it while it is remembered", async () => {
    const clock = manualClock();
    const limiter = new ConcurrencyLimiter(8, {
      now: clock.now,
      probeIntervalMs: 1_000,
      contentionMemoryMs: 30_000,
    });
    for (let index = 0; index < 4; index++) await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(5);
    // The slow start's overshoot: one less.
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    expect(limiter.limit).toBe(4);
    clock.advance(999);
    await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(4);
    // Long after the probe interval, still no rise to 5: CUC refused 5 less than 30 s ago.
    clock.advance(20_000);
    await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(4);
    // Two more 503s, at 4 and at 3: down to 2, and now 3 is the level not to rise back to.
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    expect(limiter.limit).toBe(2);
    clock.advance(1_000);
    await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(2);
  });

  it("forgets the contention after contentionMemoryMs without a 503", async () => {
    const clock = manualClock();
    const limiter = new ConcurrencyLimiter(4, {
      now: clock.now,
      probeIntervalMs: 1_000,
      contentionMemoryMs: 10_000,
    });
    await limiter.run(served, undefined, signalOf);
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    expect(limiter.limit).toBe(1);
    clock.advance(9_999);
    await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(1);
    // 10 s without a 503: rises resume, one per probe interval, up to the ceiling.
    clock.advance(1);
    await limiter.run(served, undefined, signalOf);
    expect(limiter.limit).toBe(2);
    for (const expected of [3, 4, 4]) {
      clock.advance(1_000);
      await limiter.run(served, undefined, signalOf);
      expect(limiter.limit).toBe(expected);
    }
  });

  it("pauses every operation after a 503 at one in flight, four times longer after a pause that did not help", async () => {
    const limiter = new ConcurrencyLimiter(2, {
      minPauseMs: 20,
      maxPauseMs: 1_000,
      random: () => 0.5,
    });
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    const firstPause = limiter.pausedUntil - Date.now();
    expect(firstPause).toBeGreaterThan(10);
    expect(firstPause).toBeLessThanOrEqual(20);
    let started = Date.now();
    // Turned away again right after the pause: CUC is still full, so the next pause is longer.
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10);
    const secondPause = limiter.pausedUntil - Date.now();
    expect(secondPause).toBeGreaterThan(70);
    expect(secondPause).toBeLessThanOrEqual(80);
    started = Date.now();
    await limiter.run(served, undefined, signalOf);
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    // After a request was served, a 503 is a passing crowd: the same pause, not a longer one.
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    const thirdPause = limiter.pausedUntil - Date.now();
    expect(thirdPause).toBeGreaterThan(70);
    expect(thirdPause).toBeLessThanOrEqual(80);
    expect(limiter.stats).toMatchObject({ served: 1, throttled: 3, pauses: 3 });
  });

  it("lets a waiting operation give up during a pause", async () => {
    const limiter = new ConcurrencyLimiter(1, { minPauseMs: 5_000, random: () => 0.5 });
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    const controller = new AbortController();
    const waiting = limiter.run(served, controller.signal, signalOf);
    expect(limiter.queued).toBe(1);
    controller.abort(new Error("deadline"));
    await expect(waiting).rejects.toThrow("deadline");
    expect(limiter.queued).toBe(0);
  });

  it("keeps a fixed limit without adaptive options, whatever the outcomes", async () => {
    const limiter = new ConcurrencyLimiter(3);
    await limiter.run(busy, undefined, signalOf).catch(() => undefined);
    expect(limiter.limit).toBe(3);
    expect(limiter.pausedUntil).toBe(0);
    expect(limiter.stats).toMatchObject({ throttled: 1, decreases: 0 });
  });
});
