import { setTimeout as sleep } from "node:timers/promises";

export interface RetryOptions {
  /** Attempts in all, the first included. Default 4. */
  readonly maxAttempts?: number;
  /** Ceiling of the first backoff; doubles per attempt. Default 250 ms. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling. Default 4000 ms. */
  readonly maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
};

/**
 * "Full jitter" backoff: a uniformly random wait between 0 and the exponential ceiling, so that many
 * clients hitting a busy CUC spread out instead of retrying in step.
 */
export function backoffDelay(
  retry: number,
  options: Required<RetryOptions>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

export interface RetryContext {
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly signal: AbortSignal;
}

export interface RetryPlan<E extends Error> {
  readonly options: Required<RetryOptions>;
  /** Epoch milliseconds after which no attempt starts and a running one is abandoned. */
  readonly deadline: number;
  readonly shouldRetry: (error: E) => boolean;
  /** Builds the error reported when the deadline cuts the call short. */
  readonly onDeadline: (attempts: number, lastError: E | undefined) => E;
  readonly random?: () => number;
  /** The caller's own cancellation, treated like the deadline. */
  readonly signal?: AbortSignal;
  /**
   * Retried failures that use up no attempt and wait no backoff, because something else paces
   * them (the adaptive limit pauses after a 503); the deadline still bounds them. Default none.
   */
  readonly paced?: (error: E) => boolean;
}

/**
 * Runs `attempt` until it succeeds, fails with an error `shouldRetry` refuses, runs out of attempts,
 * or the deadline arrives. A backoff that would end past the deadline is not slept: the last error
 * is reported at once, leaving the caller its remaining time.
 */
export async function retryWithBackoff<T, E extends Error>(
  plan: RetryPlan<E>,
  attempt: (context: RetryContext) => Promise<T>,
): Promise<T> {
  let lastError: E | undefined;
  // Attempts sent, and the backoff's count of them (paced failures do not count).
  let attemptNumber = 0;
  let counted = 0;
  while (counted < plan.options.maxAttempts) {
    const remaining = plan.deadline - Date.now();
    if (remaining <= 0) throw plan.onDeadline(attemptNumber, lastError);
    attemptNumber++;
    counted++;
    const deadlineSignal = AbortSignal.timeout(remaining);
    const signal = plan.signal ? AbortSignal.any([deadlineSignal, plan.signal]) : deadlineSignal;
    try {
      return await attempt({ attempt: attemptNumber, signal });
    } catch (error) {
      lastError = error as E;
      // An answer that arrived as the deadline struck (a 400, say) is still that answer.
      if (signal.aborted && plan.shouldRetry(lastError)) {
        throw plan.onDeadline(attemptNumber, lastError);
      }
      if (!plan.shouldRetry(lastError)) throw error;
      if (plan.paced?.(lastError) === true) {
        counted--;
        continue;
      }
      if (counted === plan.options.maxAttempts) throw error;
      const delay = backoffDelay(counted - 1, plan.options, plan.random);
      if (Date.now() + delay >= plan.deadline) throw error;
      try {
        await sleep(delay, undefined, plan.signal ? { signal: plan.signal } : {});
      } catch {
        throw plan.onDeadline(attemptNumber, lastError);
      }
    }
  }
  // The loop returns or throws on its last attempt; this satisfies the type checker.
  throw plan.onDeadline(attemptNumber, lastError);
}
