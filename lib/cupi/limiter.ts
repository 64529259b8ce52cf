import { sharedPerOrigin } from "./per-origin.ts";

/**
 * Keeps at most `limit` operations in flight, queueing the rest in arrival order. CUC serves only 5
 * API and web requests at once, shared with its human administrators, so this client must stay well
 * below that.
 */
export class ConcurrencyLimiter {
  readonly #waiting: Array<() => void> = [];
  #limit: number;
  #inFlight = 0;
  #peak = 0;

  constructor(limit: number) {
    this.#limit = validLimit(limit);
  }

  get limit(): number {
    return this.#limit;
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

  /** Lowers the limit (never raises it): every client sharing the limiter gets the strictest. */
  tighten(limit: number): void {
    this.#limit = Math.min(this.#limit, validLimit(limit));
  }

  /** Runs `operation` once a slot is free; gives up waiting when `signal` aborts. */
  async run<T>(operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await operation();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#inFlight < this.#limit) {
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
    });
  }

  #take(): void {
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
  }

  #release(): void {
    this.#inFlight--;
    if (this.#inFlight < this.#limit) this.#waiting.shift()?.();
  }
}

function validLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError("the concurrency limit must be a positive integer");
  }
  return limit;
}

const limitersByOrigin = new Map<string, ConcurrencyLimiter>();

/**
 * The process-wide limiter for one CUC host. Every client of the same origin in this process shares
 * it, so replacing a client (say, after the service-account secret rotates) cannot double the load.
 */
export function limiterForOrigin(origin: string, limit: number): ConcurrencyLimiter {
  return sharedPerOrigin(limitersByOrigin, origin, limit, (first) => new ConcurrencyLimiter(first));
}
