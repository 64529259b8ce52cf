// Ends every AWS SDK request made inside a scope when the scope's signal aborts, including the
// requests of libraries that take no abortSignal (Powertools idempotency and parameters).
import { AsyncLocalStorage } from "node:async_hooks";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const scope = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `work` with `signal` as the abort signal of every AWS SDK call it makes through a client
 * whose request handler is an `AbortScopedHttpHandler`: once it aborts, calls in flight are cut
 * and new ones fail before sending, so none of the scope's work reaches AWS after its deadline.
 */
export function withAbortSignal<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return scope.run(signal, work);
}

type HandlerOptions = NonNullable<Parameters<NodeHttpHandler["handle"]>[1]>;

/** The SDK's Node.js request handler, honouring both a call's own abortSignal and the scope's. */
export class AbortScopedHttpHandler extends NodeHttpHandler {
  override handle(request: Parameters<NodeHttpHandler["handle"]>[0], options: HandlerOptions = {}) {
    const signals = [options.abortSignal, scope.getStore()].filter(
      (signal) => signal !== undefined,
    ) as AbortSignal[];
    const abortSignal = signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
    return super.handle(request, abortSignal === undefined ? options : { ...options, abortSignal });
  }
}
