// Retries measured in time: the handler hides a transiently failed record for its backoff on the
// real (local) queue, dead-letters it with a reason on the last receive, and never drops it.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import users from "../../dev/cupi-simulator/users.json" with { type: "json" };
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import {
  captureOutput,
  eventFactory,
  lambdaContext,
  readDeadLetters,
  send,
  sqsRecord,
  startPipeline,
} from "../helpers/pipeline.ts";

const RESETS = "cupi-reset/resets/";
/** Its first retry waits 2–3 s (the upper half of 3 s), far longer than the queue's 1 s. */
const BACKOFF = { RETRY_BASE_DELAY_SECONDS: "3", RETRY_MAX_DELAY_SECONDS: "6" };
/** The SDK's own retries: this many failures fail one delivery's secret read. */
const FAILED_READ = 3;

let stack: LocalStack;
let pipeline: ReturnType<typeof startPipeline>;
const output = captureOutput();
const event = eventFactory("retries", {
  user: { alias: "pgarcia" },
  action: "reset-pin",
  newCredential: { secretId: `${RESETS}pin`, jsonKey: "pin" },
});

beforeAll(async () => {
  stack = await startLocalStack({
    users,
    secrets: { [`${RESETS}pin`]: JSON.stringify({ pin: "604729" }) },
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: 3,
    environment: {
      ...BACKOFF,
      CIRCUIT_BREAKER_FAILURES: "1",
      CIRCUIT_BREAKER_COOLDOWN_MS: "60000",
    },
  });
  pipeline = startPipeline(stack);
});

afterAll(async () => {
  await pipeline?.handler.close();
  await stack?.close();
});

/** The `retryInSeconds` the handler logged for the record it will retry. */
function loggedRetryDelay(): number | undefined {
  const line = output
    .text()
    .split("\n")
    .find((text) => text.includes('"record will be retried"'));
  return line === undefined ? undefined : JSON.parse(line).retryInSeconds;
}

describe("a record that fails transiently", () => {
  it("is hidden for its backoff, not the queue's visibility timeout, then applied", async () => {
    const messageId = await send(stack.sqs, stack.queues.queueUrl, event());
    stack.secretsManager.failNext("GetSecretValue", "InternalServiceError", FAILED_READ);
    const first = await pipeline.poller.pollOnce();
    expect(first?.failedMessageIds).toEqual([messageId]);
    const delay = loggedRetryDelay();
    expect(delay).toBeGreaterThanOrEqual(2);
    expect(delay).toBeLessThanOrEqual(3);

    // Past the queue's 1 s, still hidden: the handler's delay holds.
    await sleep(1_500);
    expect(await pipeline.poller.pollOnce()).toBeUndefined();
    await sleep((delay as number) * 1_000 - 1_300);
    let second = await pipeline.poller.pollOnce();
    for (let tries = 0; second === undefined && tries < 20; tries++) {
      await sleep(100);
      second = await pipeline.poller.pollOnce();
    }
    expect(second).toMatchObject({ outcome: "succeeded", deletedMessageIds: [messageId] });
  });
});

describe("on the last receive its redrive policy allows", () => {
  it("is dead-lettered by the function as RETRIES_EXHAUSTED, with the last reason", async () => {
    const body = event({ user: { alias: "jsmith" } });
    stack.secretsManager.failNext("GetSecretValue", "InternalServiceError", FAILED_READ);
    const record = sqsRecord("exhausted-1", body, stack.queues.queueArn, 3);
    const response = await pipeline.handler({ Records: [record] }, lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([]);
    const letter = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).find(
      (candidate) => candidate.attributes.sourceMessageId === "exhausted-1",
    );
    expect(letter?.attributes).toMatchObject({
      errorCode: "RETRIES_EXHAUSTED",
      eventId: body.eventId,
      receiveCount: "3",
    });
    expect(letter?.attributes.errorMessage).toMatch(
      /^failed on all 3 receives the redrive policy allows; last: .*InternalServiceError/,
    );
  });

  it("is still retried, not dropped, when its retry delay cannot be set", async () => {
    stack.secretsManager.failNext("GetSecretValue", "InternalServiceError", FAILED_READ);
    // A receipt handle SQS never issued: ChangeMessageVisibility fails.
    const record = sqsRecord(
      "no-such-receipt",
      event({ user: { alias: "jsmith" } }),
      stack.queues.queueArn,
    );
    const response = await pipeline.handler({ Records: [record] }, lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "no-such-receipt" }]);
    expect(output.text()).toMatch(/setting its retry delay failed/);
  });
});

// Last: the circuit it opens stays open for the rest of the file.
describe("while CUC's circuit is open", () => {
  it("goes straight to the longest backoff", async () => {
    // One failure opens the circuit for a minute; the record after it sends nothing to CUC.
    stack.simulator.injectFaults("500-html");
    await send(stack.sqs, stack.queues.queueUrl, event());
    expect((await pipeline.poller.pollOnce())?.failedMessageIds).toHaveLength(1);
    const requests = stack.simulator.stats.requests;
    const messageId = await send(stack.sqs, stack.queues.queueUrl, event());
    const report = await pipeline.poller.pollOnce();
    expect(report?.failedMessageIds).toEqual([messageId]);
    expect(stack.simulator.stats.requests).toBe(requests);
    const line = output
      .text()
      .split("\n")
      .filter((text) => text.includes('"record will be retried"'))
      .map((text) => JSON.parse(text))
      .find((logged) => logged.messageId === messageId);
    expect(line.reason).toMatch(/circuit breaker open/);
    expect(line.retryInSeconds).toBeGreaterThanOrEqual(3);
    expect(line.retryInSeconds).toBeLessThanOrEqual(6);
  });
});
