import { sharedPerOrigin } from "./per-origin.ts";

/**
 * How a limiter adapts to a server that turns requests away (CUC answers 503 "Server busy" beyond
 * 5 requests at once, counting every client and its administrators' web pages): a slow start,
 * then one more after a quiet interval and one less per 503, with two additions for a server
 * shared by containers that do not know about each other: below one request in flight the
 * limiter pauses, and a limit that met a 503 is not tried again while that 503 is remembered.
 */
export interface AdaptiveLimitOptions {
  /**
   * Pause after a 503 with one request in flight, before anything is sent again: ×4 after a
   * pause that did not help (a 503 again before any request was served), up to `maxPauseMs`;
   * back to this after `contentionMemoryMs` without a 503; jittered ×0.5–1.5. Default 100 ms,
   * about one CUC request, so that a stray 503 costs little.
   */
  readonly minPauseMs?: number;
  /**
   * Default 20 s: five containers paused while five others hold CUC's slots then cost it about a
   * 503 every 4 s between them (bench/throttle.ts measures it).
   */
  readonly maxPauseMs?: number;
  /** Time without a 503 or a change before the limit rises by one. Default 1 s. */
  readonly probeIntervalMs?: number;
  /**
   * How long a 503 is remembered: until this long without one, the limit does not rise back to
   * the level that met it, and pauses keep their length. Default 30 s: ten containers then probe
   * CUC about once every 3 s between them.
   */
  readonly contentionMemoryMs?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

/**
 * How much longer the next pause becomes after one that did not help: four times, so that ten
 * containers reach their long pauses after a handful of 503s each.
 */
const BACKOFF = 4;

export const DEFAULT_ADAPTIVE_LIMIT: Required<Omit<AdaptiveLimitOptions, "random" | "now">> = {
  minPauseMs: 100,
  maxPauseMs: 20_000,
  probeIntervalMs: 1_000,
  contentionMemoryMs: 30_000,
};

/** The outcome of one operation, as far as the server's load is concerned. */
export type LoadSignal = "served" | "throttled" | "neutral";

export interface LimiterStats {
  /** Operations run (each a CUPI request, retries included), whatever their outcome. */
  readonly attempts: number;
  /** Operations the server served (LoadSignal "served"). */
  readonly served: number;
  /** Operations the server turned away as too busy. */
  readonly throttled: number;
  /** Times the limit went down (by one, or a pause). */
  readonly decreases: number;
  readonly pauses: number;
}

/**
 * Keeps at most `limit` operations in flight, queueing the rest in arrival order. With `adaptive`
 * options the limit starts at 1, doubles per round of successes until the first 503 or the
 * ceiling (`maxInFlight`), drops by one on a 503, pauses everything on a 503 at 1, and creeps
 * back up one at a time while calls succeed. Without them it stays at `maxInFlight`.
 */
export class ConcurrencyLimiter {
  readonly #waiting: Array<() => void> = [];
  readonly #adaptive: Required<AdaptiveLimitOptions> | undefined;
  #maxInFlight: number;
  #limit: number;
  #inFlight = 0;
  #peak = 0;
  #slowStart: boolean;
  /** Bumped by each decrease: a 503 for an operation started before it was already acted on. */
  #generation = 0;
  #lastChangeAt = 0;
  #lastThrottleAt = Number.NEGATIVE_INFINITY;
  /** The limit in force at the last 503: not risen to again while that 503 is remembered. */
  #throttledLimit = Number.POSITIVE_INFINITY;
  #pauseMs = 0;
  /** Whether a pause happened since the contention was last forgotten. */
  #paused = false;
  #servedSincePause = false;
  #pausedUntil = 0;
  #wakeUp: NodeJS.Timeout | undefined;
  #stats = { attempts: 0, served: 0, throttled: 0, decreases: 0, pauses: 0 };
  /** How long each served operation took, ms, since they were last taken (the latest kept). */
  readonly #servedMs: number[] = [];

  constructor(maxInFlight: number, adaptive?: AdaptiveLimitOptions) {
    this.#maxInFlight = validLimit(maxInFlight);
    if (adaptive === undefined) {
      this.#adaptive = undefined;
      this.#limit = this.#maxInFlight;
      this.#slowStart = false;
      return;
    }
    this.#adaptive = {
      ...DEFAULT_ADAPTIVE_LIMIT,
      random: Math.random,
      now: Date.now,
      ...adaptive,
    };
    this.#limit = 1;
    this.#slowStart = this.#maxInFlight > 1;
    this.#pauseMs = this.#adaptive.minPauseMs;
    this.#lastChangeAt = this.#adaptive.now();
  }

  /** The number of operations allowed in flight now (1 while paused: what resumes after). */
  get limit(): number {
    return this.#limit;
  }

  /** Whether the limit adapts to the server's 503s (and pauses), or stays at `maxInFlight`. */
  get adaptive(): boolean {
    return this.#adaptive !== undefined;
  }

  /** The ceiling the limit never passes. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most operations ever in flight at once. */
  get peak(): number {
    return this.#peak;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Epoch milliseconds until which nothing starts, or 0. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  get stats(): LimiterStats {
    return { ...this.#stats };
  }

  /**
   * How long each operation served since the last call took, in ms, oldest first (at most
   * MAX_LATENCIES_KEPT, the latest): what an invocation reports as CUPI latency.
   */
  takeServedLatencies(): number[] {
    return this.#servedMs.splice(0);
  }

  /** Lowers the ceiling (never raises it): every client sharing the limiter gets the strictest. */
  tighten(maxInFlight: number): void {
    this.#maxInFlight = Math.min(this.#maxInFlight, validLimit(maxInFlight));
    this.#limit = Math.min(this.#limit, this.#maxInFlight);
  }

  /**
   * Runs `operation` once a slot is free; gives up waiting when `signal` aborts. `signalOf` tells
   * the adaptive limit what the outcome says about the server's load (default: a success was
   * served, an error is neutral).
   */
  async run<T>(
    operation: () => Promise<T>,
    signal?: AbortSignal,
    signalOf: (outcome: { error: unknown } | { value: T }) => LoadSignal = servedUnlessFailed,
  ): Promise<T> {
    await this.#acquire(signal);
    const generation = this.#generation;
    const startedAt = performance.now();
    this.#stats.attempts++;
    let load: LoadSignal = "neutral";
    try {
      const value = await operation();
      load = signalOf({ value });
      return value;
    } catch (error) {
      load = signalOf({ error });
      throw error;
    } finally {
      this.#inFlight--;
      if (load === "served") this.#noteServed(performance.now() - startedAt);
      this.#adapt(load, generation);
      this.#drain();
    }
  }

  #noteServed(durationMs: number): void {
    this.#servedMs.push(durationMs);
    if (this.#servedMs.length > MAX_LATENCIES_KEPT) this.#servedMs.shift();
  }

  #now(): number {
    return this.#adaptive?.now() ?? 0;
  }

  #adapt(load: LoadSignal, generation: number): void {
    const adaptive = this.#adaptive;
    if (load === "served") this.#stats.served++;
    if (load === "throttled") this.#stats.throttled++;
    if (adaptive === undefined || load === "neutral") return;
    const now = adaptive.now();
    if (load === "served") {
      this.#servedSincePause = true;
      this.#rise(adaptive, now);
      return;
    }
    this.#lastThrottleAt = now;
    // Every operation in flight when the server filled up may be turned away: one decrease for
    // them all, as TCP reacts once per window.
    if (generation !== this.#generation) return;
    this.#slowStart = false;
    this.#throttledLimit = this.#limit;
    this.#generation++;
    this.#stats.decreases++;
    this.#lastChangeAt = now;
    if (this.#limit > 1) {
      // One less, not half: with CUC's 5 slots shared by a few containers, halving would leave
      // slots idle; what matters here is CUC's use, not converging to equal shares.
      this.#limit--;
      return;
    }
    // Longer only when the last pause did not help (nothing served since): CUC is full. A 503
    // after requests were served again is a passing crowd, and a stray one must not slow every
    // later pause.
    if (this.#paused && !this.#servedSincePause) {
      this.#pauseMs = Math.min(adaptive.maxPauseMs, this.#pauseMs * BACKOFF);
    }
    const jitter = 0.5 + adaptive.random();
    this.#pausedUntil = now + Math.round(this.#pauseMs * jitter);
    this.#paused = true;
    this.#servedSincePause = false;
    this.#stats.pauses++;
  }

  #rise(adaptive: Required<AdaptiveLimitOptions>, now: number): void {
    if (now - this.#lastThrottleAt >= adaptive.contentionMemoryMs) {
      // Long enough without a 503 that the contention seen before is over. Not sooner: a
      // container pushed out of its slot must not come back at short pauses, each a 503, nor
      // probe again and again the limit that CUC already refused.
      this.#pauseMs = adaptive.minPauseMs;
      this.#paused = false;
      this.#throttledLimit = Number.POSITIVE_INFINITY;
    }
    if (this.#limit >= this.#maxInFlight) return;
    if (this.#slowStart) {
      this.#limit++;
      this.#slowStart = this.#limit < this.#maxInFlight;
    } else if (
      this.#limit + 1 < this.#throttledLimit &&
      now - this.#lastChangeAt >= adaptive.probeIntervalMs
    ) {
      this.#limit++;
    } else {
      return;
    }
    this.#lastChangeAt = now;
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#waiting.length === 0 && this.#canStart()) {
      this.#take();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener("abort", abandon);
        this.#take();
        resolve();
      };
      const abandon = (): void => {
        const index = this.#waiting.indexOf(grant);
        if (index !== -1) this.#waiting.splice(index, 1);
        reject(signal?.reason);
      };
      this.#waiting.push(grant);
      signal?.addEventListener("abort", abandon, { once: true });
      this.#drain();
    });
  }

  #canStart(): boolean {
    return this.#inFlight < this.#limit && this.#now() >= this.#pausedUntil;
  }

  #take(): void {
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
  }

  #drain(): void {
    while (this.#waiting.length > 0 && this.#canStart()) this.#waiting.shift()?.();
    if (this.#waiting.length === 0 || this.#wakeUp !== undefined) return;
    const pause = this.#pausedUntil - this.#now();
    if (pause <= 0) return;
    this.#wakeUp = setTimeout(() => {
      this.#wakeUp = undefined;
      this.#drain();
    }, pause);
  }
}

// A function of its own: Node's type stripping cannot parse an arrow using `in` as a default value.
function servedUnlessFailed(outcome: { error: unknown } | { value: unknown }): LoadSignal {
  return "value" in outcome ? "served" : "neutral";
}

function validLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError("the concurrency limit must be a positive integer");
  }
  return limit;
}

const limitersByOrigin = new Map<string, ConcurrencyLimiter>();

/** One host's limiter, as logs and metrics show it. */
export interface LimiterReport extends LimiterStats {
  readonly origin: string;
  readonly limit: number;
  readonly maxInFlight: number;
  /** Epoch milliseconds until which nothing is sent to the host, or 0. */
  readonly pausedUntil: number;
}

/** Served operations' durations a limiter keeps until they are taken: a few batches' worth. */
export const MAX_LATENCIES_KEPT = 1_000;

/** Every CUC host's served operations' durations since the last call, by origin. */
export function takeServedLatencies(): Map<string, number[]> {
  return new Map(
    [...limitersByOrigin].map(([origin, limiter]) => [origin, limiter.takeServedLatencies()]),
  );
}

/**
 * What each host's limiter did between two readings of `limiterReports()` (an invocation's start
 * and end): its counts as differences, its limit and pause as they are at the end.
 */
export function limiterReportsSince(
  before: readonly LimiterReport[],
  after: readonly LimiterReport[],
): LimiterReport[] {
  return after.map((report) => {
    const previous = before.find((candidate) => candidate.origin === report.origin);
    return {
      ...report,
      attempts: report.attempts - (previous?.attempts ?? 0),
      served: report.served - (previous?.served ?? 0),
      throttled: report.throttled - (previous?.throttled ?? 0),
      decreases: report.decreases - (previous?.decreases ?? 0),
      pauses: report.pauses - (previous?.pauses ?? 0),
    };
  });
}

/** Every CUC host's limiter in this process. */
export function limiterReports(): LimiterReport[] {
  return [...limitersByOrigin].map(([origin, limiter]) => ({
    origin,
    limit: limiter.limit,
    maxInFlight: limiter.maxInFlight,
    pausedUntil: limiter.pausedUntil,
    ...limiter.stats,
  }));
}

/**
 * The process-wide adaptive limiter for one CUC host. Every client of the same origin in this
 * process shares it, so replacing a client (say, after the service-account secret rotates) cannot
 * double the load, and what one client learns about CUC's load the others use.
 */
export function limiterForOrigin(
  origin: string,
  maxInFlight: number,
  adaptive: AdaptiveLimitOptions | false = {},
): ConcurrencyLimiter {
  return sharedPerOrigin(
    limitersByOrigin,
    origin,
    maxInFlight,
    (first) => new ConcurrencyLimiter(first, adaptive === false ? undefined : adaptive),
  );
}
