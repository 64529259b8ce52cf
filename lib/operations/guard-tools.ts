// The blast-radius guard for operators: how long a release lasts, and a source's hour in words.

/** The longest a source's budget may be lifted at once: a person looks again the next day. */
export const MAX_RELEASE_MS = 24 * 3_600_000;

/** `30m`, `2h` …: 1 minute to 24 hours, in ms; undefined when it is not one of them. */
export function parseReleaseDuration(text: string): number | undefined {
  const match = /^(\d+)(m|h)$/.exec(text.trim());
  if (match === null) return undefined;
  const ms = Number(match[1]) * (match[2] === "h" ? 3_600_000 : 60_000);
  return ms >= 60_000 && ms <= MAX_RELEASE_MS ? ms : undefined;
}

export interface SourceHour {
  readonly source: string;
  /** Changes counted in the last hour (the current window and the five before it). */
  readonly changes: number;
  /** The budget in the authorization policy this shell reads; undefined: it has none. */
  readonly budget: number | undefined;
  /** Epoch ms until which the budget is lifted (0: it is not). */
  readonly releasedUntil: number;
}

export function describeSourceHour(hour: SourceHour, now: number): string {
  const budget =
    hour.budget === undefined
      ? "no budget in this shell's authorization policy"
      : `budget ${hour.budget} per hour`;
  const release =
    hour.releasedUntil > now
      ? `; lifted until ${new Date(hour.releasedUntil).toISOString()}`
      : hour.budget !== undefined && hour.changes >= hour.budget
        ? "; over budget: its events are held"
        : "";
  return `source ${hour.source}: ${hour.changes} changes in the last hour, ${budget}${release}`;
}
