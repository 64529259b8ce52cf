/**
 * Lambda containers as separate processes (`queue-container.ts`), each with its own CUPI limiter
 * and no knowledge of the others, polling one queue: started, and stopped with their reports.
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";

/** What a container reports when stopped: its limiter's figures and its poller's. */
export interface ContainerReport {
  readonly limit: number;
  readonly served: number;
  readonly throttled: number;
  readonly pauses: number;
  readonly invocations: number;
  readonly failed: number;
}

/** Starts `count` containers on the queue; resolves once every one polls. */
export async function startContainers(
  count: number,
  environment: Readonly<Record<string, string>>,
  queueArn: string,
  batchSize: number,
): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  for (let index = 0; index < count; index++) {
    children.push(
      fork(new URL("queue-container.ts", import.meta.url), {
        env: {
          ...process.env,
          ...environment,
          BENCH_QUEUE_ARN: queueArn,
          BENCH_BATCH_SIZE: String(batchSize),
        },
        stdio: ["ignore", "pipe", "inherit", "ipc"],
      }),
    );
  }
  await Promise.all(children.map((child) => once(child, "message")));
  return children;
}

/** Stops a container after its current invocation and reads its report. */
export async function stopContainer(child: ChildProcess): Promise<ContainerReport> {
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
  const line = output.trim().split("\n").at(-1);
  if (line === undefined || line === "") throw new Error("a container exited without its report");
  return JSON.parse(line) as ContainerReport;
}
