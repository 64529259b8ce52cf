// No work outlives its invocation: a record cut at its deadline stops every call, and the next
// delivery settles what the cut attempt did — applied once, audited once, never dead-lettered.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultSpec, SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import {
  captureOutput,
  lambdaContext,
  readDeadLetters,
  sqsRecord,
  startPipeline,
} from "../helpers/pipeline.ts";

const objectId = "1a2b3c4d-0000-4000-8000-00000000d001";
const users: SimulatedUser[] = [
  {
    objectId,
    alias: "held.user",
    firstName: "Held",
    lastName: "User",
    dtmfAccessId: "5301",
    pin: "730419",
  },
];
/** Lambda's time for the first delivery: the work deadline comes 1.5 s in (2.5 s − 1 s). */
const SHORT_INVOCATION_MS = 2_500;
/** The PUT's answer is held until well after the handler's return (about 1.5 s in). */
const HOLD_MS = 3_000;

let stack: LocalStack;
let pipeline: ReturnType<typeof startPipeline>;
const output = captureOutput();

beforeAll(async () => {
  stack = await startLocalStack({ users });
  pipeline = startPipeline(stack, {
    DEADLINE_SAFETY_MS: "1000",
    RECORD_MIN_TIME_MS: "100",
    POWERTOOLS_LOG_LEVEL: "INFO",
  });
});

afterAll(async () => {
  await pipeline?.handler.close();
  await stack?.close();
});

function auditRecords(eventId: string): Record<string, unknown>[] {
  return output
    .text()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.audit === true && record.eventId === eventId);
}

function resetEvent(eventId: string, pin: string, occurredAt: string) {
  const secretId = `cupi-reset/resets/${eventId}`;
  stack.secretsManager.putSecret(secretId, JSON.stringify({ pin }));
  return {
    version: 1,
    eventId,
    occurredAt,
    source: "helpdesk",
    user: { alias: "held.user" },
    action: "reset-pin",
    newCredential: { secretId, jsonKey: "pin" },
  };
}

/** Everything the record's calls reached: CUC, the state table, Secrets Manager. */
function callCounts() {
  const dynamodb = Object.values(stack.dynamodb.operationCounts()).reduce((a, b) => a + b, 0);
  return {
    cupi: stack.simulator.stats.requests,
    dynamodb,
    secretsManager: stack.secretsManager.requests.length,
  };
}

async function cutThenRedeliver(eventId: string, pin: string, heldPut: FaultSpec) {
  const before = stack.simulator.credentialOf(objectId, "pin").changes;
  const record = sqsRecord(
    `message-${eventId}`,
    resetEvent(eventId, pin, "2026-12-01T10:00:00Z"),
    stack.queues.queueArn,
  );
  // The lookup and the TimeChanged snapshot go through; the PUT's answer is held.
  stack.simulator.injectFaults("none", "none", heldPut);
  const first = await pipeline.handler({ Records: [record] }, lambdaContext(SHORT_INVOCATION_MS));
  const atReturn = callCounts();
  expect(first.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
  // Past the held answer, so work left running would show, and past the first invocation's own
  // end (its idempotency record expires with it).
  await sleep(HOLD_MS + 500);
  expect(callCounts()).toEqual(atReturn);

  const second = await pipeline.handler(
    {
      Records: [{ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: "2" } }],
    },
    lambdaContext(30_000),
  );
  expect(second.batchItemFailures).toEqual([]);
  expect(stack.simulator.credentialOf(objectId, "pin")).toMatchObject({
    value: pin,
    changes: before + 1,
  });
  const audits = auditRecords(eventId);
  expect(audits).toHaveLength(1);
  expect(audits[0]).toMatchObject({
    outcome: "applied",
    fieldsChanged: [{ credential: "pin", fields: ["Credentials"] }],
  });
  const letters = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
  expect(letters.filter((letter) => letter.attributes.eventId === eventId)).toEqual([]);
  expect(output.text()).not.toContain("CREDENTIAL_REJECTED");
}

describe("a PUT held past the invocation's deadline", () => {
  it("is aborted, and the next delivery finds it landed: applied and audited once", async () => {
    await cutThenRedeliver("held-applied-1", "518274", {
      kind: "slow-after-apply",
      delayMs: HOLD_MS,
    });
  });

  it("is aborted, and the next delivery finds it did not land and sends it again", async () => {
    await cutThenRedeliver("held-unapplied-1", "640372", { kind: "slow", delayMs: HOLD_MS });
  });
});

describe("an older event cut mid-PUT, then a newer event for the same PIN", () => {
  /** `day`: each test's events on a day of their own, later than the tests' before. */
  async function olderCutThenNewer(
    prefix: string,
    day: string,
    pins: { older: string; newer: string },
    heldPut: FaultSpec,
  ) {
    const before = stack.simulator.credentialOf(objectId, "pin").changes;
    const older = sqsRecord(
      `message-${prefix}-older`,
      resetEvent(`${prefix}-older`, pins.older, `${day}T10:00:00Z`),
      stack.queues.queueArn,
    );
    const newer = sqsRecord(
      `message-${prefix}-newer`,
      resetEvent(`${prefix}-newer`, pins.newer, `${day}T10:05:00Z`),
      stack.queues.queueArn,
    );
    stack.simulator.injectFaults("none", "none", heldPut);
    const first = await pipeline.handler({ Records: [older] }, lambdaContext(SHORT_INVOCATION_MS));
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: older.messageId }]);
    await sleep(HOLD_MS + 500);
    // The newer event takes the PIN over and first settles what the older one's PUT did.
    expect(
      (await pipeline.handler({ Records: [newer] }, lambdaContext(30_000))).batchItemFailures,
    ).toEqual([]);
    const again = { ...older, attributes: { ...older.attributes, ApproximateReceiveCount: "2" } };
    expect(
      (await pipeline.handler({ Records: [again] }, lambdaContext(30_000))).batchItemFailures,
    ).toEqual([]);
    expect(stack.simulator.credentialOf(objectId, "pin").value).toBe(pins.newer);
    expect(auditRecords(`${prefix}-newer`)).toHaveLength(1);
    const letters = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
    return {
      changes: stack.simulator.credentialOf(objectId, "pin").changes - before,
      olderAudits: auditRecords(`${prefix}-older`),
      olderLetters: letters.filter((letter) => letter.attributes.eventId === `${prefix}-older`),
    };
  }

  it("reports the older event applied (then superseded) when its PUT landed, audited once", async () => {
    const { changes, olderAudits, olderLetters } = await olderCutThenNewer(
      "superseded",
      "2026-12-02",
      { older: "283716", newer: "594827" },
      { kind: "slow-after-apply", delayMs: HOLD_MS },
    );
    expect(changes).toBe(2);
    expect(olderAudits).toHaveLength(1);
    expect(olderAudits[0]).toMatchObject({ outcome: "applied" });
    expect(olderLetters).toEqual([]);
  });

  it("dead-letters the older event STALE_EVENT when its PUT never landed", async () => {
    const { changes, olderAudits, olderLetters } = await olderCutThenNewer(
      "never-landed",
      "2026-12-03",
      { older: "372915", newer: "816243" },
      { kind: "slow", delayMs: HOLD_MS },
    );
    expect(changes).toBe(1);
    expect(olderAudits.map((audit) => audit.outcome)).toEqual(["dead-lettered"]);
    expect(olderLetters.map((letter) => letter.attributes.errorCode)).toEqual(["STALE_EVENT"]);
  });
});
