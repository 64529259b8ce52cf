/**
 * Issue 6, benchmark 6: latency from enqueue to applied through the local stack at a steady
 * 10 events/s. Events go to local-aws-sqs on a fixed schedule; the event-source poller invokes the
 * real handler with serverless.yml's event source settings (batch size, batching window, two
 * containers); the simulator answers after 20 ms.
 *
 * Three clocks stop per event: CUC applied (the simulator sent 204 for the PUT of the new PIN),
 * reported (the handler logged "credential reset applied" for it, after its bookkeeping: the
 * figure the issue asks for) and deleted (the poller's DeleteMessageBatch for its batch returned).
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { startLocalStack, useEnvironment } from "../dev/local-stack.ts";
import { createEventSourcePoller } from "../dev/sqs/event-source-poller.ts";
import { createResetHandlerFromEnvironment } from "../lib/reset/wiring.ts";
import { type BenchOptions, type BenchResult, percentile, round } from "./harness.ts";
import { BenchUsers, inProcessLogger, resetEvent } from "./pipeline-support.ts";
import { shippedSettings } from "./shipped-settings.ts";

const EVENTS_PER_SECOND = 10;
const SIMULATED_LATENCY_MS = 20;
/** serverless.yml's function timeout. */
const FUNCTION_TIMEOUT_MS = 60_000;
/** After the last send, how long the stragglers get before the run is cut short. */
const DRAIN_TIMEOUT_MS = 30_000;

const FULL_SECONDS = 60;
const QUICK_SECONDS = 3;
/**
 * The stream goes on, unmeasured, until every measured event is through: were it to stop, the last
 * partial batches would wait out the batching window, which a steady stream never does.
 */
const FILLER_SECONDS = 10;

interface Clocks {
  readonly enqueuedAt: number;
  /** The handler was invoked with the batch holding it. */
  invokedAt?: number;
  cucAppliedAt?: number;
  reportedAt?: number;
  deletedAt?: number;
}

export interface LatencyStats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export function latencyStats(samples: readonly number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: round(percentile(sorted, 0.5)),
    p95Ms: round(percentile(sorted, 0.95)),
    p99Ms: round(percentile(sorted, 0.99)),
    maxMs: round(sorted.at(-1) as number),
    meanMs: round(sorted.reduce((sum, sample) => sum + sample, 0) / sorted.length),
  };
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? QUICK_SECONDS : FULL_SECONDS;
  const total = seconds * EVENTS_PER_SECOND;
  const shipped = shippedSettings();
  // Containers in one process share lib/cupi's per-host limiter: give it the fleet's total.
  const cupiMaxInFlight = shipped.cupiMaxInFlight * shipped.maximumConcurrency;
  options.log(
    `${total} events at ${EVENTS_PER_SECOND}/s; batch ${shipped.batchSize}, window ${shipped.maximumBatchingWindowSeconds} s, ${shipped.maximumConcurrency} containers, ${cupiMaxInFlight} CUC request(s) in flight, CUC latency ${SIMULATED_LATENCY_MS} ms`,
  );
  const fillers = FILLER_SECONDS * EVENTS_PER_SECOND;
  const users = new BenchUsers(3, total + fillers);
  const events = users.users.map((user, index) => {
    const event = resetEvent("latency", index + 1, user);
    return { ...event, objectId: user.objectId, pin: users.freshPin(user) };
  });
  const stack = await startLocalStack({
    users: users.users,
    secrets: Object.fromEntries(
      events.map((event) => [event.secretId, JSON.stringify({ pin: event.pin })]),
    ),
    simulator: { latencyMs: SIMULATED_LATENCY_MS },
    environment: { CUPI_MAX_IN_FLIGHT: String(cupiMaxInFlight) },
  });
  const restoreEnvironment = useEnvironment(stack.environment);

  const byEventId = new Map<string, Clocks>();
  const byObjectId = new Map<string, Clocks>();
  const byMessageId = new Map<string, Clocks>();
  const onLogLine = (line: string, writtenAt: number): void => {
    if (!line.includes("credential reset applied")) return;
    const { eventId } = JSON.parse(line) as { eventId?: string };
    const clocks = byEventId.get(eventId ?? "");
    if (clocks !== undefined) clocks.reportedAt ??= writtenAt;
  };
  const onResponse = (message: unknown): void => {
    const { request, response } = message as {
      request: IncomingMessage;
      response: ServerResponse;
    };
    if (request.method !== "PUT" || response.statusCode !== 204) return;
    const objectId = /^\/vmrest\/users\/([^/]+)\/credential\/pin$/.exec(request.url ?? "")?.[1];
    const clocks = byObjectId.get(objectId ?? "");
    if (clocks !== undefined) clocks.cucAppliedAt ??= Date.now();
  };
  subscribe("http.server.response.finish", onResponse);

  // Lambda runs one invocation per container: each takes an idle handler or starts one.
  const containers: ReturnType<typeof createResetHandlerFromEnvironment>[] = [];
  const idle: Handler[] = [];
  const handler: Handler = async (event, context) => {
    const invokedAt = Date.now();
    for (const record of event.Records) {
      const { eventId } = JSON.parse(record.body) as { eventId?: string };
      const clocks = byEventId.get(eventId ?? "");
      if (clocks !== undefined) clocks.invokedAt ??= invokedAt;
    }
    let container = idle.pop();
    if (container === undefined) {
      const created = createResetHandlerFromEnvironment(
        stack.environment,
        inProcessLogger(onLogLine),
      );
      containers.push(created);
      container = created;
    }
    try {
      return await container(event, context);
    } finally {
      idle.push(container);
    }
  };
  const poller = createEventSourcePoller({
    sqs: stack.sqs,
    queueUrl: stack.queues.queueUrl,
    queueArn: stack.queues.queueArn,
    handler,
    batchSize: shipped.batchSize,
    maximumBatchingWindowSeconds: shipped.maximumBatchingWindowSeconds,
    concurrency: shipped.maximumConcurrency,
    functionTimeoutMs: FUNCTION_TIMEOUT_MS,
    onInvocation: (report) => {
      const at = Date.now();
      for (const messageId of report.deletedMessageIds) {
        const clocks = byMessageId.get(messageId);
        if (clocks !== undefined) clocks.deletedAt ??= at;
      }
    },
    onPollError: (error) => options.log(`poll error: ${String(error)}`),
  });

  let sendSpanMs = 0;
  let fillersSent = 0;
  let drained = false;
  const done = () => [...byEventId.values()].every((clocks) => clocks.deletedAt !== undefined);
  try {
    poller.start();
    const sends: Promise<unknown>[] = [];
    const send = (body: string) =>
      stack.sqs.send(
        new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: body }),
      );
    const startedAt = Date.now();
    for (const [index, event] of events.entries()) {
      const due = startedAt + (index * 1000) / EVENTS_PER_SECOND;
      if (due > Date.now()) await sleep(due - Date.now());
      if (index >= total) {
        if (done()) break;
        fillersSent += 1;
        sends.push(send(event.body));
        continue;
      }
      if (index === total - 1) sendSpanMs = Date.now() - startedAt;
      const clocks: Clocks = { enqueuedAt: Date.now() };
      byEventId.set(event.eventId, clocks);
      byObjectId.set(event.objectId, clocks);
      sends.push(
        send(event.body).then(({ MessageId }) => {
          byMessageId.set(MessageId ?? "", clocks);
        }),
      );
    }
    await Promise.all(sends);
    const giveUpAt = Date.now() + DRAIN_TIMEOUT_MS;
    while (!done() && Date.now() < giveUpAt) await sleep(50);
    drained = done();
    // Full batches for the long polls still open, so stopping does not wait out the window.
    const unsent = events.slice(total + fillersSent);
    const flush = unsent.slice(0, shipped.batchSize * shipped.maximumConcurrency);
    await Promise.all(flush.map((event) => send(event.body)));
  } finally {
    await poller.stop();
    unsubscribe("http.server.response.finish", onResponse);
    await Promise.all(containers.map((container) => container.close()));
    await stack.close();
    restoreEnvironment();
  }

  const all = [...byEventId.values()];
  const between = (
    from: (clocks: Clocks) => number | undefined,
    to: (clocks: Clocks) => number | undefined,
  ) =>
    all.flatMap((clocks) => {
      const [start, end] = [from(clocks), to(clocks)];
      return start === undefined || end === undefined ? [] : [end - start];
    });
  const since = (pick: (clocks: Clocks) => number | undefined) =>
    between((clocks) => clocks.enqueuedAt, pick);
  const optionalStats = (samples: readonly number[]) =>
    samples.length === 0 ? undefined : latencyStats(samples);
  const reported = since((clocks) => clocks.reportedAt);
  const cucApplied = since((clocks) => clocks.cucAppliedAt);
  const deleted = since((clocks) => clocks.deletedAt);
  const stats = poller.stats;
  if (reported.length === 0) throw new Error("no event was reported applied");
  const reportedStats = latencyStats(reported);
  options.log(
    `enqueue → reported applied: p50 ${reportedStats.p50Ms} ms, p95 ${reportedStats.p95Ms} ms, p99 ${reportedStats.p99Ms} ms, max ${reportedStats.maxMs} ms (${reported.length}/${total})`,
  );
  return {
    figures: {
      sent: total,
      sendRatePerSecond: round((total - 1) / (sendSpanMs / 1000)),
      unmeasuredFillersSent: fillersSent,
      drained,
      settings: {
        batchSize: shipped.batchSize,
        maximumBatchingWindowSeconds: shipped.maximumBatchingWindowSeconds,
        containers: shipped.maximumConcurrency,
        cupiMaxInFlightTotal: cupiMaxInFlight,
        simulatedCucLatencyMs: SIMULATED_LATENCY_MS,
        event: "reset-pin by objectId, new PIN from a secret",
      },
      enqueueToReportedApplied: reportedStats,
      enqueueToCucApplied: optionalStats(cucApplied),
      enqueueToDeleted: optionalStats(deleted),
      // Where the time goes: waiting on the queue (a batch filling up) and in the function.
      enqueueToInvoked: optionalStats(since((clocks) => clocks.invokedAt)),
      invokedToReportedApplied: optionalStats(
        between(
          (clocks) => clocks.invokedAt,
          (clocks) => clocks.reportedAt,
        ),
      ),
      invocations: stats.invocations,
      receives: stats.received,
      retried: stats.failed,
      meanBatchSize: round(stats.received / Math.max(1, stats.invocations)),
    },
    targets: [],
  };
}
