import { describe, expect, it } from "vitest";
import { describeSourceHour, parseReleaseDuration } from "../../lib/operations/guard-tools.ts";

describe("guard release --for", () => {
  it.each([
    ["1m", 60_000],
    ["30m", 1_800_000],
    [" 2h ", 7_200_000],
    ["24h", 86_400_000],
  ])("takes %j", (text, ms) => {
    expect(parseReleaseDuration(text)).toBe(ms);
  });

  it.each(["0m", "25h", "1441m", "2d", "1.5h", "h", "", "-1h"])("refuses %j", (text) => {
    expect(parseReleaseDuration(text)).toBeUndefined();
  });
});

describe("guard status", () => {
  const now = Date.parse("2026-12-07T10:00:00Z");
  it("says whether the source is over its budget, or lifted", () => {
    const hour = { source: "helpdesk", changes: 200, budget: 200, releasedUntil: 0 };
    expect(describeSourceHour(hour, now)).toBe(
      "source helpdesk: 200 changes in the last hour, budget 200 per hour; over budget: its events are held",
    );
    expect(describeSourceHour({ ...hour, changes: 12 }, now)).toBe(
      "source helpdesk: 12 changes in the last hour, budget 200 per hour",
    );
    expect(describeSourceHour({ ...hour, releasedUntil: now + 3_600_000 }, now)).toBe(
      "source helpdesk: 200 changes in the last hour, budget 200 per hour; lifted until 2026-12-07T11:00:00.000Z",
    );
  });
});
