import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETRY_BACKOFF,
  guaranteedRetryWindowSeconds,
  retryDelaySeconds,
} from "../../lib/redelivery/backoff.ts";

const lowest = () => 0;
const highest = () => 0.999_999;

describe("retryDelaySeconds", () => {
  it("doubles from the base per receive, within the upper half of each step, up to the maximum", () => {
    const steps = [1, 2, 3, 4, 5, 6, 7, 20].map((receive) => [
      retryDelaySeconds(receive, false, DEFAULT_RETRY_BACKOFF, lowest),
      retryDelaySeconds(receive, false, DEFAULT_RETRY_BACKOFF, highest),
    ]);
    expect(steps).toEqual([
      [15, 30],
      [30, 60],
      [60, 120],
      [120, 240],
      [240, 480],
      [450, 900],
      [450, 900],
      [450, 900],
    ]);
  });

  it("goes straight to the longest wait while CUC is unavailable", () => {
    expect(retryDelaySeconds(1, true, DEFAULT_RETRY_BACKOFF, lowest)).toBe(450);
    expect(retryDelaySeconds(1, true, DEFAULT_RETRY_BACKOFF, highest)).toBe(900);
  });

  it("spreads a batch failed together", () => {
    const delays = new Set(
      Array.from({ length: 50 }, () => retryDelaySeconds(3, false, DEFAULT_RETRY_BACKOFF)),
    );
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(60);
  });

  it("never asks for less than a second, with a one-second base", () => {
    const backoff = { baseDelaySeconds: 1, maxDelaySeconds: 2 };
    expect(retryDelaySeconds(1, false, backoff, lowest)).toBe(1);
    expect(retryDelaySeconds(9, false, backoff, highest)).toBe(2);
  });
});

describe("guaranteedRetryWindowSeconds", () => {
  it("rides out more than 6 hours of outage with the shipped 60 receives", () => {
    expect(guaranteedRetryWindowSeconds(60, DEFAULT_RETRY_BACKOFF) / 3600).toBeCloseTo(6.88, 2);
    expect(guaranteedRetryWindowSeconds(52, DEFAULT_RETRY_BACKOFF)).toBeLessThan(6 * 3600);
  });

  it("is the sum of the shortest waits before the last receive", () => {
    expect(guaranteedRetryWindowSeconds(1, DEFAULT_RETRY_BACKOFF)).toBe(0);
    expect(guaranteedRetryWindowSeconds(3, DEFAULT_RETRY_BACKOFF)).toBe(15 + 30);
  });
});
