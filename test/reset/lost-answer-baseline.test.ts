import { describe, expect, it } from "vitest";
import { CucClock, readTimeChanged } from "../../lib/cupi/cuc-clock.ts";
import { chooseBaseline, hasLanded } from "../../lib/reset/lost-answers.ts";

const SECOND = 1_000;
const B = Date.parse("2026-12-06T10:00:05Z");

describe("CucClock", () => {
  it("keeps the latest Date header CUC answered with, whatever order answers come in", () => {
    const clock = new CucClock();
    expect(clock.latestAnswer).toBeUndefined();
    clock.observe("Sun, 06 Dec 2026 10:00:05 GMT");
    clock.observe("Sun, 06 Dec 2026 10:00:03 GMT");
    clock.observe(undefined);
    clock.observe("not a date");
    expect(clock.latestAnswer).toBe(B);
  });

  it("learns TimeChanged's time zone to the quarter hour from one change, for a while", () => {
    const clock = new CucClock(60_000);
    expect(clock.offsetMs).toBeUndefined();
    // CUC's database two hours ahead (CEST), the change 0.4 s before the answer's second ended.
    clock.learnOffset("2026-12-06 12:00:05.400", B);
    expect(clock.offsetMs).toBe(2 * 3600 * SECOND);
    clock.learnOffset("2026-12-06 04:30:06.100", B); // UTC−5:30
    expect(clock.offsetMs).toBe(-5.5 * 3600 * SECOND);
    const expired = new CucClock(0);
    expired.learnOffset("2026-12-06 10:00:05.400", B);
    expect(expired.offsetMs).toBeUndefined();
  });

  it("reads TimeChanged as written, or not at all", () => {
    expect(readTimeChanged("2026-12-06 10:00:05.4")).toBe(B + 400);
    expect(readTimeChanged("2026-12-06 10:00:05")).toBe(B);
    for (const text of [undefined, "", "yesterday", "2026-12-06"]) {
      expect(readTimeChanged(text)).toBeUndefined();
    }
  });
});

describe("chooseBaseline", () => {
  it("takes CUC's clock when every earlier change of this service was answered 2 s or more before", () => {
    expect(chooseBaseline(B, 0, B - 2 * SECOND, undefined)).toEqual({
      answeredAfter: B,
      timeChangedOffsetMs: 0,
    });
    expect(chooseBaseline(B, 3_600_000, "none", undefined)).toEqual({
      answeredAfter: B,
      timeChangedOffsetMs: 3_600_000,
    });
  });

  it("asks for a TimeChanged read when the clock cannot be sound", () => {
    // The last change answered in the same second, the one before (a Date header may lag up to a
    // second behind its change), or later: its TimeChanged could be ≥ B.
    expect(chooseBaseline(B, 0, B - SECOND, undefined)).toBeUndefined();
    expect(chooseBaseline(B, 0, B, undefined)).toBeUndefined();
    expect(chooseBaseline(B, 0, B + SECOND, undefined)).toBeUndefined();
    // A holder left no time; no dated answer yet; TimeChanged's zone not known.
    expect(chooseBaseline(B, 0, "unknown", undefined)).toBeUndefined();
    expect(chooseBaseline(undefined, 0, "none", undefined)).toBeUndefined();
    expect(chooseBaseline(B, undefined, "none", undefined)).toBeUndefined();
  });

  it("uses a TimeChanged already read after the claim, at no cost", () => {
    expect(chooseBaseline(B, 0, "unknown", "2026-12-06 09:00:00.000")).toEqual({
      timeChangedBefore: "2026-12-06 09:00:00.000",
    });
  });
});

describe("hasLanded", () => {
  it("against a snapshot: TimeChanged moved", () => {
    const baseline = { timeChangedBefore: "2026-12-06 09:00:00.000" };
    expect(hasLanded(baseline, "2026-12-06 09:00:00.000")).toBe(false);
    expect(hasLanded(baseline, "2026-12-06 10:00:05.123")).toBe(true);
    expect(hasLanded({ timeChangedBefore: "" }, undefined)).toBe(false);
  });

  it("against CUC's clock: TimeChanged, in CUC's clock, at or after the answer before the PUT", () => {
    const utc = { answeredAfter: B, timeChangedOffsetMs: 0 };
    expect(hasLanded(utc, "2026-12-06 10:00:05.000")).toBe(true);
    expect(hasLanded(utc, "2026-12-06 10:00:04.999")).toBe(false);
    const cest = { answeredAfter: B, timeChangedOffsetMs: 2 * 3600 * SECOND };
    expect(hasLanded(cest, "2026-12-06 12:00:05.300")).toBe(true);
    // Read as if UTC it would be hours after B: only the learned zone makes it the old value.
    expect(hasLanded(cest, "2026-12-06 11:59:58.000")).toBe(false);
    expect(hasLanded(utc, "")).toBe(false);
  });
});
