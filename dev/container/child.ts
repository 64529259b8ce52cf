// One Lambda "container" in a process of its own: the reset handler built from the environment
// exactly as functions/reset.ts builds it (or the packaged bundle), driven over IPC by
// ./process-container.ts. Its memory is then the function's alone, and it can be killed as Lambda
// kills a container that times out or runs out of memory.
import { pathToFileURL } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";

type ResetHandler = ReturnType<typeof createResetHandlerFromEnvironment>;

export type ChildRequest =
  | {
      readonly type: "invoke";
      readonly id: number;
      readonly records: SQSRecord[];
      readonly timeoutMs: number;
    }
  | { readonly type: "sample"; readonly id: number }
  | { readonly type: "close"; readonly id: number };

export type ChildReply =
  | { readonly type: "ready" }
  | { readonly type: "invoked"; readonly id: number; readonly response: SQSBatchResponse }
  | { readonly type: "sample"; readonly id: number; readonly memory: MemorySample }
  | { readonly type: "closed"; readonly id: number }
  | { readonly type: "error"; readonly id: number; readonly message: string };

export interface MemorySample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  /** V8's spaces (new_space, old_space …): the bytes each holds from the system. */
  readonly heapSpaceBytes: Record<string, number>;
  /** Whether a full GC ran first (the child was started with --expose-gc). */
  readonly afterGc: boolean;
}

function send(reply: ChildReply): void {
  process.send?.(reply);
}

function sample(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first pass may only queue finalizers whose memory the second frees.
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return {
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
    heapSpaceBytes: Object.fromEntries(
      getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]),
    ),
    afterGc: gc !== undefined,
  };
}

// CONTAINER_HANDLER_MODULE: the packaged bundle's module (what Lambda loads), else the sources.
// Both imported on demand, so that the bundle's container does not hold the sources too.
const bundled = process.env.CONTAINER_HANDLER_MODULE;
const handler: ResetHandler =
  bundled === undefined
    ? (await import("../../lib/reset/wiring.ts")).createResetHandlerFromEnvironment(
        process.env,
        (await import("../../lib/logging/logger.ts")).createLogger(),
      )
    : ((await import(pathToFileURL(bundled).href)) as typeof import("../../functions/reset.ts"))
        .handler;
let invocations = 0;

process.on("message", (request: ChildRequest) => {
  const answer = async (): Promise<ChildReply> => {
    switch (request.type) {
      case "invoke": {
        invocations += 1;
        const deadline = Date.now() + request.timeoutMs;
        const context = {
          getRemainingTimeInMillis: () => deadline - Date.now(),
          awsRequestId: `container-${process.pid}-${invocations}`,
          functionName: "cupi-reset-reset",
        } as unknown as Parameters<typeof handler>[1];
        const event: SQSEvent = { Records: request.records };
        return { type: "invoked", id: request.id, response: await handler(event, context) };
      }
      case "sample":
        return { type: "sample", id: request.id, memory: sample() };
      case "close":
        await handler.close();
        return { type: "closed", id: request.id };
    }
  };
  answer().then(
    (reply) => {
      send(reply);
      if (reply.type === "closed") process.disconnect();
    },
    (error: unknown) =>
      send({
        type: "error",
        id: request.id,
        message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      }),
  );
});

send({ type: "ready" });
