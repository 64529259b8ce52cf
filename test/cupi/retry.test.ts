import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_RETRY, retryWithBackoff } from "../../lib/cupi/retry.ts";

class TestError extends Error {
  readonly transient: boolean;

  constructor(message: string, transient: boolean) {
    super(message);
    this.transient = transient;
  }
}

const fast = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

function plan(overrides: Partial<Parameters<typeof retryWithBackoff<unknown, TestError>>[0]> = {}) {
  return {
    options: fast,
    deadline: Date.now() + 5_000,
    shouldRetry: (error: TestError) => error.transient,
    onDeadline: (attempts: number) => new TestError(`deadline after ${attempts}`, false),
    ...overrides,
  };
}

describe("backoffDelay (full jitter)", () => {
  it("draws uniformly below an exponential ceiling that stops at maxDelayMs", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6].map((retry) =>
      backoffDelay(retry, DEFAULT_RETRY, () => 0.999_999),
    );
    expect(ceilings).toEqual([249, 499, 999, 1999, 3999, 3999, 3999]);
    expect(backoffDelay(3, DEFAULT_RETRY, () => 0)).toBe(0);
    expect(backoffDelay(1, DEFAULT_RETRY, () => 0.5)).toBe(250);
  });
});

describe("retryWithBackoff", () => {
  it("does not count paced failures as attempts, nor sleep a backoff after them", async () => {
    const seen: number[] = [];
    const slow = { maxAttempts: 2, baseDelayMs: 10_000, maxDelayMs: 10_000 };
    const result = await retryWithBackoff(
      plan({ options: slow, paced: (error) => error.message === "busy" }),
      async ({ attempt }) => {
        seen.push(attempt);
        if (attempt <= 5) throw new TestError("busy", true);
        return "done";
      },
    );
    expect(result).toBe("done");
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("still stops paced failures at the deadline", async () => {
    let calls = 0;
    const error = await retryWithBackoff(
      plan({ deadline: Date.now() + 50, paced: () => true }),
      async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new TestError("busy", true);
      },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TestError);
    expect((error as TestError).message).toMatch(/^deadline after \d+$/);
    expect(calls).toBeGreaterThan(2);
  });

  it("retries transient failures until one succeeds", async () => {
    let calls = 0;
    const result = await retryWithBackoff(plan(), async ({ attempt }) => {
      calls++;
      if (attempt < 3) throw new TestError("busy", true);
      return "done";
    });
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("stops at once on a permanent failure", async () => {
    let calls = 0;
    await expect(
      retryWithBackoff(plan(), async () => {
        calls++;
        throw new TestError("rejected", false);
      }),
    ).rejects.toThrow("rejected");
    expect(calls).toBe(1);
  });

  it("gives up after maxAttempts with the last error", async () => {
    let calls = 0;
    await expect(
      retryWithBackoff(plan(), async ({ attempt }) => {
        calls++;
        throw new TestError(`busy ${attempt}`, true);
      }),
    ).rejects.toThrow("busy 4");
    expect(calls).toBe(4);
  });

  it("abandons an attempt still running at the deadline", async () => {
    const started = Date.now();
    await expect(
      retryWithBackoff(
        plan({ deadline: Date.now() + 50 }),
        ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(new TestError("abandoned", true))),
          ),
      ),
    ).rejects.toThrow("deadline after 1");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("reports a permanent answer that arrives as the deadline strikes as that answer", async () => {
    await expect(
      retryWithBackoff(
        plan({ deadline: Date.now() + 30 }),
        ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(new TestError("rejected", false))),
          ),
      ),
    ).rejects.toThrow("rejected");
  });

  it("does not sleep past the deadline: it reports the last error instead", async () => {
    let calls = 0;
    const slowBackoff = { maxAttempts: 10, baseDelayMs: 10_000, maxDelayMs: 10_000 };
    await expect(
      retryWithBackoff(
        plan({ options: slowBackoff, deadline: Date.now() + 200, random: () => 0.5 }),
        async () => {
          calls++;
          throw new TestError("busy", true);
        },
      ),
    ).rejects.toThrow("busy");
    expect(calls).toBe(1);
  });

  it("starts nothing once the deadline has passed", async () => {
    let calls = 0;
    await expect(
      retryWithBackoff(plan({ deadline: Date.now() - 1 }), async () => {
        calls++;
      }),
    ).rejects.toThrow("deadline after 0");
    expect(calls).toBe(0);
  });

  it("treats the caller's abort like the deadline, also during a backoff", async () => {
    const controller = new AbortController();
    let calls = 0;
    const slowBackoff = { maxAttempts: 5, baseDelayMs: 2_000, maxDelayMs: 2_000 };
    setTimeout(() => controller.abort(), 30);
    await expect(
      retryWithBackoff(
        plan({ options: slowBackoff, signal: controller.signal, random: () => 0.9 }),
        async () => {
          calls++;
          throw new TestError("busy", true);
        },
      ),
    ).rejects.toThrow("deadline after 1");
    expect(calls).toBe(1);
  });
});
