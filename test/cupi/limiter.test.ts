import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { ConcurrencyLimiter, limiterForOrigin } from "../../lib/cupi/limiter.ts";

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
    expect(first.limit).toBe(2);
    expect(limiterForOrigin("https://cuc-b.test", 3)).not.toBe(first);
  });
});
