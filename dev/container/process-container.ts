// A Lambda container as a child process (./child.ts): invocations one at a time, memory of its
// own, and killable with SIGKILL as Lambda kills a container that times out or runs out of memory.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { ChildReply, ChildRequest, MemorySample } from "./child.ts";

export type { MemorySample } from "./child.ts";

export interface ProcessContainer {
  /** Invokes the handler with `event`, giving it `timeoutMs`; rejects if the container dies. */
  invoke(event: SQSEvent, timeoutMs: number): Promise<SQSBatchResponse>;
  /** The container's memory, after a full GC when it has one. */
  sample(): Promise<MemorySample>;
  /** Ends it the way Lambda does on a timeout or out of memory: nothing runs after this. */
  kill(): void;
  /** Closes the handler's connections and lets the process exit. */
  close(): Promise<void>;
}

export interface ProcessContainerOptions {
  /** The whole environment of the process, as Lambda sets it. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** The packaged bundle's handler module (what Lambda loads); unset: the sources. */
  readonly handlerModule?: string;
  /** Node.js and V8 flags for the process (besides --expose-gc). */
  readonly nodeFlags?: readonly string[];
  /** The function's logs (stdout), as CloudWatch would take them; unset: discarded. */
  readonly onLogs?: (chunk: string) => void;
}

const CHILD = fileURLToPath(new URL("child.ts", import.meta.url));

export async function startProcessContainer(
  options: ProcessContainerOptions,
): Promise<ProcessContainer> {
  const flags = ["--expose-gc", ...(options.nodeFlags ?? [])];
  const child: ChildProcess = spawn(process.execPath, [...flags, CHILD], {
    env: {
      ...options.environment,
      ...(options.handlerModule === undefined
        ? {}
        : { CONTAINER_HANDLER_MODULE: options.handlerModule }),
    },
    stdio: ["ignore", options.onLogs === undefined ? "ignore" : "pipe", "pipe", "ipc"],
  });
  if (options.onLogs !== undefined) child.stdout?.setEncoding("utf8").on("data", options.onLogs);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const pending = new Map<number, (reply: ChildReply) => void>();
  let failed: Error | undefined;
  const fail = (error: Error): void => {
    failed ??= error;
    for (const resolve of pending.values()) {
      resolve({ type: "error", id: -1, message: failed.message });
    }
    pending.clear();
  };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (reply: ChildReply) => {
      if (reply.type === "ready") {
        resolve();
        return;
      }
      const settle = pending.get(reply.id);
      pending.delete(reply.id);
      settle?.(reply);
    });
    child.once("exit", (code, signal) => {
      const error = new Error(
        `container exited (${signal ?? code})${stderr === "" ? "" : `: ${stderr}`}`,
      );
      reject(error);
      fail(error);
    });
  });
  await ready;

  let nextId = 0;
  const ask = (request: (id: number) => ChildRequest): Promise<ChildReply> => {
    if (failed !== undefined) return Promise.reject(failed);
    const id = ++nextId;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      child.send(request(id));
    });
  };
  const expect = <T extends ChildReply["type"]>(
    reply: ChildReply,
    type: T,
  ): Extract<ChildReply, { type: T }> => {
    if (reply.type === type) return reply as Extract<ChildReply, { type: T }>;
    throw new Error(reply.type === "error" ? reply.message : `unexpected reply ${reply.type}`);
  };
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    invoke: async (event, timeoutMs) => {
      const reply = await ask((id) => ({ type: "invoke", id, records: event.Records, timeoutMs }));
      return expect(reply, "invoked").response;
    },
    sample: async () => expect(await ask((id) => ({ type: "sample", id })), "sample").memory,
    kill: () => {
      if (running()) child.kill("SIGKILL");
    },
    close: async () => {
      if (!running()) return;
      try {
        expect(await ask((id) => ({ type: "close", id })), "closed");
      } finally {
        if (running()) child.kill();
        await exited;
      }
    },
  };
}
