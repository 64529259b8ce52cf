// CUC's own clock as its answers show it, so that a lost answer is settled without comparing this
// machine's clock with CUC's.

/** Time zones are whole quarter hours away from UTC. */
const QUARTER_HOUR_MS = 15 * 60_000;

/**
 * How long a learned offset between TimeChanged and CUC's `Date` header is trusted: a time zone
 * with daylight saving time moves it twice a year, so it is learned again now and then.
 */
export const DEFAULT_OFFSET_TRUST_MS = 60 * 60_000;

/**
 * CUC's clock from the `Date` header of its answers (whole seconds, UTC), and the offset of its
 * credentials' `TimeChanged` (`YYYY-MM-DD HH:MM:SS.fff`, no zone: CUC's database time) from it,
 * learned from a TimeChanged read just after a PUT whose answer's time is known.
 */
export class CucClock {
  readonly #offsetTrustMs: number;
  #latestAnswerMs: number | undefined;
  #learning = false;
  #offset:
    | { readonly ms: number; readonly learnedFrom: number; readonly until: number }
    | undefined;

  constructor(offsetTrustMs = DEFAULT_OFFSET_TRUST_MS) {
    this.#offsetTrustMs = offsetTrustMs;
  }

  /** Takes note of an answer's `Date` header. */
  observe(dateHeader: string | undefined): void {
    const answeredAt = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
    if (!Number.isFinite(answeredAt)) return;
    this.#latestAnswerMs = Math.max(this.#latestAnswerMs ?? answeredAt, answeredAt);
  }

  /**
   * The latest time CUC answered this client at (epoch ms, a whole second): anything CUC does
   * with a request sent after now happens at or after it. Undefined before any dated answer.
   */
  get latestAnswer(): number | undefined {
    return this.#latestAnswerMs;
  }

  /** Learns TimeChanged's offset from a credential changed at `changedAt` (a dated answer). */
  learnOffset(timeChanged: string | undefined, changedAt: number): void {
    const local = readTimeChanged(timeChanged);
    if (local === undefined) return;
    const ms = Math.round((local - changedAt) / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
    this.#offset = { ms, learnedFrom: changedAt, until: Date.now() + this.#offsetTrustMs };
  }

  /**
   * Learns the offset from `read` (TimeChanged just after a change CUC answered at `changedAt`),
   * unless another read to learn it is under way: records sharing a container need only one. A
   * failed read is ignored; a later change learns it.
   */
  async learnOffsetBy(changedAt: number, read: () => Promise<string | undefined>): Promise<void> {
    if (this.#learning) return;
    this.#learning = true;
    try {
      this.learnOffset(await read(), changedAt);
    } catch {
      // The offset stays unknown until a later change.
    } finally {
      this.#learning = false;
    }
  }

  /** Drops the learned offset (TimeChanged no longer reads in it): the next answered PUT learns it. */
  forgetOffset(): void {
    this.#offset = undefined;
  }

  /**
   * How far TimeChanged runs ahead of CUC's `Date` clock (its time zone), while the learned offset
   * is trusted; undefined before it is learned, and once it is due to be learned again.
   */
  get offsetMs(): number | undefined {
    return this.#offset !== undefined && this.#offset.until > Date.now()
      ? this.#offset.ms
      : undefined;
  }

  /** The trusted offset, if it was learned from a change CUC answered at or after `time`. */
  offsetLearnedSince(time: number): number | undefined {
    return this.#offset !== undefined && this.#offset.learnedFrom >= time
      ? this.offsetMs
      : undefined;
  }
}

const clocksByOrigin = new Map<string, CucClock>();

/**
 * The process-wide clock of one CUC origin: every client of it (a new one after a CA change
 * included) adds to, and reads, the same latest answer, so that none reads a clock that missed
 * a later answer.
 */
export function clockForOrigin(origin: string): CucClock {
  let clock = clocksByOrigin.get(origin);
  if (clock === undefined) {
    clock = new CucClock();
    clocksByOrigin.set(origin, clock);
  }
  return clock;
}

/** A TimeChanged, `YYYY-MM-DD HH:MM:SS.fff`, read as if UTC; undefined when empty or malformed. */
export function readTimeChanged(timeChanged: string | undefined): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(
    timeChanged?.trim() ?? "",
  );
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction = "0"] = match;
  const ms = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    Number(fraction.padEnd(3, "0")),
  );
  return Number.isFinite(ms) ? ms : undefined;
}
