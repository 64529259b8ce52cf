import { sharedPerOrigin } from "./per-origin.ts";

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit refuses attempts before it lets one trial through. Default 30 s. */
  readonly coolDownMs?: number;
}

export const DEFAULT_CIRCUIT_BREAKER: Required<CircuitBreakerOptions> = {
  failureThreshold: 5,
  coolDownMs: 30_000,
};

/**
 * `closed`: attempts go through. `open`: attempts are refused until the cool-down ends.
 * `half-open`: the cool-down is over and one trial attempt at a time may go through.
 */
export type CircuitState = "closed" | "open" | "half-open";

/** For metrics and logs. Totals count every verdict since the breaker was created. */
export interface CircuitBreakerSnapshot {
  readonly state: CircuitState;
  readonly consecutiveFailures: number;
  /** When an open circuit lets a trial through (epoch milliseconds); undefined otherwise. */
  readonly openUntil: number | undefined;
  readonly successes: number;
  readonly failures: number;
  /** Attempts refused without being sent. */
  readonly rejections: number;
  /** How many times the circuit opened. */
  readonly openings: number;
}

/** An admitted attempt's verdict. Only the first call counts. */
export interface CircuitPermit {
  /** The server answered: it is up, whatever it said. */
  succeeded(): void;
  /** A failure that says the server is down or overloaded. */
  failed(): void;
  /** No verdict: the caller gave up before the server could show either way. */
  abandoned(): void;
}

/**
 * Stops calling a server that keeps failing: after `failureThreshold` consecutive failures the
 * circuit opens and attempts are refused at once for `coolDownMs`; then a single trial attempt
 * decides whether it closes again or re-opens for another cool-down.
 */
export class CircuitBreaker {
  readonly #now: () => number;
  #failureThreshold: number;
  #coolDownMs: number;
  #state: CircuitState = "closed";
  #consecutiveFailures = 0;
  #openUntil = 0;
  #trialInFlight = false;
  // Verdicts of attempts admitted before the last opening or closing are stale: a slow answer
  // from before an opening must not close the circuit.
  #generation = 0;
  #successes = 0;
  #failures = 0;
  #rejections = 0;
  #openings = 0;
  /** Woken when a trial ends or the circuit changes state. */
  #waiters = new Set<() => void>();

  /** `now` (epoch milliseconds) is injectable for tests. */
  constructor(options: CircuitBreakerOptions = {}, now: () => number = Date.now) {
    const settings = { ...DEFAULT_CIRCUIT_BREAKER, ...options };
    this.#failureThreshold = validThreshold(settings.failureThreshold);
    this.#coolDownMs = validCoolDown(settings.coolDownMs);
    this.#now = now;
  }

  get failureThreshold(): number {
    return this.#failureThreshold;
  }

  get coolDownMs(): number {
    return this.#coolDownMs;
  }

  get state(): CircuitState {
    return this.#current();
  }

  snapshot(): CircuitBreakerSnapshot {
    const state = this.#current();
    return {
      state,
      consecutiveFailures: this.#consecutiveFailures,
      openUntil: state === "open" ? this.#openUntil : undefined,
      successes: this.#successes,
      failures: this.#failures,
      rejections: this.#rejections,
      openings: this.#openings,
    };
  }

  /**
   * Makes the settings stricter (never looser): every client sharing the breaker gets the lowest
   * threshold and the longest cool-down asked for.
   */
  tighten(options: CircuitBreakerOptions): void {
    if (options.failureThreshold !== undefined) {
      this.#failureThreshold = Math.min(
        this.#failureThreshold,
        validThreshold(options.failureThreshold),
      );
    }
    if (options.coolDownMs !== undefined) {
      this.#coolDownMs = Math.max(this.#coolDownMs, validCoolDown(options.coolDownMs));
    }
  }

  /**
   * Waits, up to `deadline` (epoch ms) or `signal`, until the circuit would admit an attempt:
   * the end of a cool-down that ends before the deadline, or the verdict of the trial in flight.
   * So the records that meet a blip wait for its trial instead of failing at once, each costing
   * a retry. It never rejects; `admit` still decides.
   */
  async untilAdmissible(deadline: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const state = this.#current();
      if (state === "closed" || (state === "half-open" && !this.#trialInFlight)) return;
      if (!this.mayAdmitBefore(deadline) || signal?.aborted === true) return;
      // An open circuit is waited out; a trial in flight is waited for up to the deadline.
      const wakeAt = state === "open" ? this.#openUntil : deadline;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(0, wakeAt - this.#now()));
        this.#waiters.add(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
  }

  /**
   * Whether an attempt could be admitted before `deadline` (epoch ms): now, once the trial in
   * flight succeeds, or after a cool-down that ends by then.
   */
  mayAdmitBefore(deadline: number): boolean {
    if (this.#now() >= deadline) return false;
    return this.#current() !== "open" || this.#openUntil <= deadline;
  }

  /** A permit to send one attempt, or undefined when the circuit refuses it. */
  admit(): CircuitPermit | undefined {
    const state = this.#current();
    if (state === "open" || (state === "half-open" && this.#trialInFlight)) {
      this.#rejections++;
      return undefined;
    }
    const trial = state === "half-open";
    if (trial) this.#trialInFlight = true;
    const generation = this.#generation;
    let settled = false;
    const settle = (verdict: "success" | "failure" | "none"): void => {
      if (settled) return;
      settled = true;
      if (trial) {
        this.#trialInFlight = false;
        this.#wakeWaiters();
      }
      if (verdict === "success") this.#successes++;
      if (verdict === "failure") this.#failures++;
      if (verdict === "none" || generation !== this.#generation) return;
      if (verdict === "success") this.#recordSuccess();
      else this.#recordFailure();
    };
    return {
      succeeded: () => settle("success"),
      failed: () => settle("failure"),
      abandoned: () => settle("none"),
    };
  }

  #current(): CircuitState {
    if (this.#state === "open" && this.#now() >= this.#openUntil) this.#state = "half-open";
    return this.#state;
  }

  #recordSuccess(): void {
    this.#consecutiveFailures = 0;
    if (this.#state === "half-open") this.#transition("closed");
  }

  // Only a success resets the count, so a failed trial finds it past the threshold and re-opens.
  #recordFailure(): void {
    this.#consecutiveFailures++;
    if (this.#consecutiveFailures >= this.#failureThreshold) {
      this.#openUntil = this.#now() + this.#coolDownMs;
      this.#openings++;
      this.#transition("open");
    }
  }

  #transition(state: CircuitState): void {
    this.#state = state;
    this.#generation++;
    this.#wakeWaiters();
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

function validThreshold(threshold: number): number {
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new RangeError("failureThreshold must be a positive integer");
  }
  return threshold;
}

function validCoolDown(coolDownMs: number): number {
  if (!Number.isFinite(coolDownMs) || coolDownMs < 0) {
    throw new RangeError("coolDownMs must be a non-negative number of milliseconds");
  }
  return coolDownMs;
}

const breakersByOrigin = new Map<string, CircuitBreaker>();

/**
 * The process-wide circuit breaker for one CUC host. Every client of the same origin in this
 * process shares it, so a client created after the host went down does not hammer it afresh.
 */
export function circuitBreakerForOrigin(
  origin: string,
  options: CircuitBreakerOptions = {},
): CircuitBreaker {
  return sharedPerOrigin(breakersByOrigin, origin, options, (first) => new CircuitBreaker(first));
}
