/**
 * One Lambda container for the queue benchmarks (throttle, offboarding wave): a process of its
 * own (as real containers are, so its CUPI limiter knows nothing of the others), polling the
 * shared queue with Lambda's event-source semantics and running the real handler, one
 * invocation at a time. Runs until SIGTERM, then prints its limiter's figures as one JSON line.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createEventSourcePoller } from "../dev/sqs/event-source-poller.ts";
import { limiterForOrigin } from "../lib/cupi/limiter.ts";
import { createResetHandlerFromEnvironment } from "../lib/reset/wiring.ts";

const environment = process.env;
const required = (name: string): string => {
  const value = environment[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const handler = createResetHandlerFromEnvironment(
  environment,
  new Logger({ serviceName: "cupi-reset", logLevel: "SILENT" }),
);
const poller = createEventSourcePoller({
  sqs: new SQSClient({}),
  queueUrl: required("QUEUE_URL"),
  queueArn: required("BENCH_QUEUE_ARN"),
  handler,
  batchSize: Number(required("BENCH_BATCH_SIZE")),
  maximumBatchingWindowSeconds: 0,
  functionTimeoutMs: 60_000,
  onPollError: () => {},
});
poller.start();
process.send?.("started");

process.once("SIGTERM", () => {
  void (async () => {
    await poller.stop();
    // The ceiling it was created with: looking it up must not tighten it.
    const limiter = limiterForOrigin(
      new URL(required("CUPI_BASE_URL")).origin,
      Number(required("CUPI_MAX_IN_FLIGHT")),
    );
    const report = {
      limit: limiter.limit,
      peak: limiter.peak,
      ...limiter.stats,
      invocations: poller.stats.invocations,
      received: poller.stats.received,
      deleted: poller.stats.deleted,
      failed: poller.stats.failed,
    };
    await handler.close();
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  })();
});
