import { describe, expect, it } from "vitest";
import { CucClock, clockForOrigin, readTimeChanged } from "../../lib/cupi/cuc-clock.ts";
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
    clock.forgetOffset();
    expect(clock.offsetMs).toBeUndefined();
    const expired = new CucClock(0);
    expired.learnOffset("2026-12-06 10:00:05.400", B);
    expect(expired.offsetMs).toBeUndefined();
  });

  it("learns from one read at a time, and shrugs off a read that fails", async () => {
    const clock = new CucClock();
    let reads = 0;
    let answer: (timeChanged: string) => void = () => undefined;
    const read = () => {
      reads += 1;
      return new Promise<string>((resolve) => {
        answer = resolve;
      });
    };
    const first = clock.learnOffsetBy(B, read);
    await clock.learnOffsetBy(B, read);
    expect(reads).toBe(1);
    answer("2026-12-06 11:00:05.300");
    await first;
    expect(clock.offsetMs).toBe(3600 * SECOND);
    clock.forgetOffset();
    await clock.learnOffsetBy(B, () => Promise.reject(new Error("CUC busy")));
    expect(clock.offsetMs).toBeUndefined();
  });

  it("is one per CUC origin, shared by every client of it", () => {
    const origin = "https://cuc-clock-test.example.com:8443";
    expect(clockForOrigin(origin)).toBe(clockForOrigin(origin));
    expect(clockForOrigin(origin)).not.toBe(clockForOrigin("https://other.example.com"));
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

/** A clock that saw CUC answer the read at `answeredBy` (and learned an offset, if given). */
function clockAt(answeredBy: number, learned?: { offsetMs: number; from: number }): CucClock {
  const clock = new CucClock();
  clock.observe(new Date(answeredBy).toUTCString());
  if (learned !== undefined) {
    const local = new Date(learned.from + learned.offsetMs).toISOString();
    clock.learnOffset(local.replace("T", " ").slice(0, 23), learned.from);
  }
  return clock;
}

describe("hasLanded", () => {
  const read = clockAt(B + 3 * SECOND);

  it("against a snapshot: TimeChanged moved", () => {
    const baseline = { timeChangedBefore: "2026-12-06 09:00:00.000" };
    expect(hasLanded(baseline, "2026-12-06 09:00:00.000", read)).toBe("not-landed");
    expect(hasLanded(baseline, "2026-12-06 10:00:05.123", read)).toBe("landed");
    expect(hasLanded({ timeChangedBefore: "" }, undefined, read)).toBe("not-landed");
  });

  it("against CUC's clock: TimeChanged, in CUC's clock, at or after the answer before the PUT", () => {
    const utc = { answeredAfter: B, timeChangedOffsetMs: 0 };
    expect(hasLanded(utc, "2026-12-06 10:00:05.000", read)).toBe("landed");
    expect(hasLanded(utc, "2026-12-06 10:00:04.999", read)).toBe("not-landed");
    const cest = { answeredAfter: B, timeChangedOffsetMs: 2 * 3600 * SECOND };
    expect(hasLanded(cest, "2026-12-06 12:00:05.300", read)).toBe("landed");
    // Read as if UTC it would be hours after B: only the learned zone makes it the old value.
    expect(hasLanded(cest, "2026-12-06 11:59:58.000", read)).toBe("not-landed");
    expect(hasLanded(utc, "", read)).toBe("not-landed");
  });

  it("is unsure, never wrong, when daylight saving time moved TimeChanged's zone since it was learned", () => {
    // Learned at +1 h (CET); the PUT landed at B + 1 s, written at +2 h (CEST) or at 0 (GMT).
    const cet = { answeredAfter: B, timeChangedOffsetMs: 3600 * SECOND };
    // Later than CUC's answer to the read (B + 3 s): no change can be.
    expect(hasLanded(cet, "2026-12-06 12:00:06.000", read)).toBe("unsure");
    // An hour before the PUT: an old change, or the PUT's in a zone moved back by an hour.
    expect(hasLanded(cet, "2026-12-06 10:00:06.000", read)).toBe("unsure");
    expect(hasLanded(cet, "2026-12-06 10:30:06.000", read)).toBe("unsure");
    // Old changes no move of the zone could make the PUT's stay old.
    expect(hasLanded(cet, "2026-12-06 10:00:00.000", read)).toBe("not-landed");
    expect(hasLanded(cet, "2026-12-06 09:45:06.000", read)).toBe("not-landed");
    // With no dated answer to the read there is no upper bound to check against.
    expect(hasLanded(cet, "2026-12-06 11:00:06.000", new CucClock())).toBe("unsure");
  });

  it("settles with an offset learned after the PUT, the zone its TimeChanged was written in", () => {
    const cet = { answeredAfter: B, timeChangedOffsetMs: 3600 * SECOND };
    const relearned = clockAt(B + 3 * SECOND, { offsetMs: 2 * 3600 * SECOND, from: B + SECOND });
    expect(hasLanded(cet, "2026-12-06 12:00:06.000", relearned)).toBe("landed");
    expect(hasLanded(cet, "2026-12-06 11:59:00.000", relearned)).toBe("not-landed");
    // An offset learned before the PUT says nothing of the zone it was written in.
    const older = clockAt(B + 3 * SECOND, { offsetMs: 2 * 3600 * SECOND, from: B - SECOND });
    expect(hasLanded(cet, "2026-12-06 12:00:06.000", older)).toBe("unsure");
  });
});
