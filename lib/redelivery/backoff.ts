// How long a record that failed transiently stays hidden before its next receive.

export interface RetryBackoff {
  /** The first retry's ceiling; it doubles with each receive (RETRY_BASE_DELAY_SECONDS, 30). */
  readonly baseDelaySeconds: number;
  /** The largest ceiling (RETRY_MAX_DELAY_SECONDS, 900: 15 minutes). */
  readonly maxDelaySeconds: number;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { baseDelaySeconds: 30, maxDelaySeconds: 900 };

/**
 * The visibility timeout to set after the `receiveCount`-th receive failed: a ceiling of
 * base × 2^(receiveCount − 1), capped at the maximum — straight at the maximum (`longest`) when CUC
 * is known to be unavailable (its circuit breaker is open), so an outage is retried slowly from the
 * start, and when the event's source is over its budget (held until a person decides).
 * The wait is drawn from the ceiling's upper half ("equal jitter"): enough spread that a batch
 * failed together does not come back together, and, unlike full jitter (0 to the ceiling), a
 * lower bound, so that maxReceiveCount receives are sure to span a known outage window.
 */
export function retryDelaySeconds(
  receiveCount: number,
  longest: boolean,
  backoff: RetryBackoff,
  random: () => number = Math.random,
): number {
  const doublings = Math.max(0, Math.min(30, receiveCount - 1));
  const ceiling = longest
    ? backoff.maxDelaySeconds
    : Math.min(backoff.maxDelaySeconds, backoff.baseDelaySeconds * 2 ** doublings);
  return Math.max(1, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}

/**
 * The least time a message is retried for before its `receives`-th receive, when every receive
 * fails: the outage a deployment's maxReceiveCount and backoff are sure to ride out.
 */
export function guaranteedRetryWindowSeconds(receives: number, backoff: RetryBackoff): number {
  let seconds = 0;
  for (let receive = 1; receive < receives; receive++) {
    seconds += retryDelaySeconds(receive, false, backoff, () => 0);
  }
  return seconds;
}
