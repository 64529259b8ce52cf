// The soak's Lambda containers: Lambda runs one invocation per container and starts another when
// all are busy; so each invocation takes an idle container or starts one.
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { type ProcessContainer, startProcessContainer } from "../container/process-container.ts";

export type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface ProcessContainers {
  readonly handler: Handler;
  close(): Promise<void>;
  /**
   * Kills, with SIGKILL, a container running an invocation that holds a message `holds` accepts;
   * false when none does.
   */
  killWhere(holds: (messageId: string) => boolean): boolean;
  /** Containers started, the first ones included: a killed container is replaced by a new one. */
  readonly started: number;
}

/**
 * Containers as child processes, each with its own CUPI limiter and circuit breaker as on AWS
 * (containers sharing this process's would keep CUPI_MAX_IN_FLIGHT requests in flight in all),
 * running `handlerModule` (the packaged bundle) or the sources. A killed container's invocation
 * rejects, as Lambda's does: the poller leaves its batch for the visibility timeout.
 */
export function processContainers(options: {
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly handlerModule?: string;
  /** The function's logs (stdout of every container). */
  readonly onLogs?: (chunk: string) => void;
}): ProcessContainers {
  const all = new Set<ProcessContainer>();
  const idle: ProcessContainer[] = [];
  const running = new Map<ProcessContainer, ReadonlySet<string>>();
  let started = 0;
  const handler: Handler = async (event, context) => {
    let container = idle.pop();
    if (container === undefined) {
      container = await startProcessContainer(options);
      started += 1;
      all.add(container);
    }
    running.set(container, new Set(event.Records.map((record) => record.messageId)));
    try {
      const response = await container.invoke(event, context.getRemainingTimeInMillis());
      idle.push(container);
      return response;
    } catch (error) {
      all.delete(container);
      throw error;
    } finally {
      running.delete(container);
    }
  };
  return {
    handler,
    killWhere: (holds) => {
      for (const [container, messageIds] of running) {
        if ([...messageIds].some(holds)) {
          container.kill();
          return true;
        }
      }
      return false;
    },
    get started() {
      return started;
    },
    close: async () => {
      await Promise.all([...all].map((container) => container.close()));
    },
  };
}
