// An invocation's time, split into deadlines, with the abort signals that enforce them.
import type { Context } from "aws-lambda";

export interface BudgetSettings {
  /** Work stops this long before Lambda's own timeout (DEADLINE_SAFETY_MS). */
  readonly deadlineSafetyMs: number;
  /** The most time one record's work may take (RECORD_TIMEOUT_MS). */
  readonly recordTimeoutMs: number;
}

/**
 * Three deadlines, in order: records' work (CUPI, secrets, the state table) stops at
 * `workDeadline`; settling what became of them (the DLQ send, a visibility change) stops at
 * `settleDeadline`; and at `abandonDeadline`, just before Lambda's timeout, the handler returns
 * even if some work ignored its signal (a bug, logged), rather than be killed with the batch.
 * Each deadline aborts a signal: work is cut, not left running into a later invocation.
 */
export class InvocationBudget {
  readonly workDeadline: number;
  readonly settleDeadline: number;
  readonly abandonDeadline: number;
  /** Aborted at `workDeadline`. */
  readonly work: AbortSignal;
  /** Aborted at `settleDeadline`. */
  readonly settling: AbortSignal;
  readonly #recordTimeoutMs: number;
  readonly #controllers: Array<{ controller: AbortController; timer: NodeJS.Timeout }> = [];

  constructor(context: Pick<Context, "getRemainingTimeInMillis">, settings: BudgetSettings) {
    const lambdaDeadline = Date.now() + context.getRemainingTimeInMillis();
    this.workDeadline = lambdaDeadline - settings.deadlineSafetyMs;
    this.settleDeadline = lambdaDeadline - settings.deadlineSafetyMs / 2;
    this.abandonDeadline = lambdaDeadline - settings.deadlineSafetyMs / 4;
    this.#recordTimeoutMs = settings.recordTimeoutMs;
    this.work = this.#abortAt(this.workDeadline, "the invocation's work deadline");
    this.settling = this.#abortAt(this.settleDeadline, "the invocation's settling deadline");
  }

  /** A record started now: its deadline, and a signal aborted at it or at the work deadline. */
  startRecord(): { readonly deadline: number; readonly signal: AbortSignal } {
    const deadline = Math.min(this.workDeadline, Date.now() + this.#recordTimeoutMs);
    const signal =
      deadline < this.workDeadline
        ? AbortSignal.any([this.work, this.#abortAt(deadline, "the record's deadline")])
        : this.work;
    return { deadline, signal };
  }

  /** Clears the timers; called when the handler returns. */
  end(): void {
    for (const { timer } of this.#controllers) clearTimeout(timer);
    this.#controllers.length = 0;
  }

  #abortAt(deadline: number, what: string): AbortSignal {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DeadlineError(`stopped at ${what}`)),
      Math.max(0, deadline - Date.now()),
    );
    this.#controllers.push({ controller, timer });
    return controller.signal;
  }
}

/** The reason of a budget's signals: which deadline cut the work short. */
export class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}
