// DynamoDB calls per event on the local stack: the idempotency record, the claim (with the
// offboarding check and the attempts in one transaction), and the completion (with the releases
// and the attempts marked applied in another). Ordering and idempotency behave as their own
// tests say; this counts what they cost.
import { describe, expect, it } from "vitest";
import { drain, eventFactory, send, useLocalPipeline } from "../helpers/pipeline.ts";

const users = ["ana", "ben", "cem", "dan", "eve"].map((alias, index) => ({
  objectId: `5ab1e000-0000-4000-8000-00000000000${index + 1}`,
  alias,
  firstName: alias,
  lastName: "Table",
  dtmfAccessId: String(7201 + index),
  pin: "480916",
  password: "Kq7#vRt2pLm9",
}));
const local = useLocalPipeline({ users, visibilityTimeoutSeconds: 1 });
const event = eventFactory("calls");

/** The DynamoDB operations one event costs, by name. */
async function callsOf(body: Record<string, unknown>): Promise<Record<string, number>> {
  const { stack, pipeline } = local;
  const before = stack.dynamodb.operationCounts();
  await send(stack.sqs, stack.queues.queueUrl, body);
  await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
  const calls: Record<string, number> = {};
  for (const [operation, count] of Object.entries(stack.dynamodb.operationCounts())) {
    const delta = count - (before[operation] ?? 0);
    if (delta > 0) calls[operation] = delta;
  }
  return calls;
}

function resetFromSecret(alias: string, pin: string) {
  const secretId = `cupi-reset/resets/calls-${pin}`;
  local.stack.secretsManager.putSecret(secretId, JSON.stringify({ pin }));
  return event({
    action: "reset-pin",
    user: { alias },
    newCredential: { secretId, jsonKey: "pin" },
  });
}

const THREE_CALLS = { PutItem: 1, TransactWriteItems: 2 };

describe("DynamoDB calls per event", () => {
  it("a container's first reset learns CUC's clock; the next costs three calls", async () => {
    await callsOf(resetFromSecret("ana", "730301"));
    expect(await callsOf(resetFromSecret("ben", "730302"))).toEqual(THREE_CALLS);
  });

  it("an unlock and a generated PIN cost three calls too; an offboarding four", async () => {
    expect(await callsOf(event({ action: "unlock-pin", user: { alias: "cem" } }))).toEqual(
      THREE_CALLS,
    );
    expect(
      await callsOf(
        event({ action: "reset-pin", user: { alias: "dan" }, newCredential: { generate: true } }),
      ),
    ).toEqual(THREE_CALLS);
    // Its PIN's landing is logged as soon as CUC answers, before the password's PUT: should that
    // outlast the record's deadline, the redelivery must not change the PIN again.
    expect(
      await callsOf(
        event({ action: "offboard", source: "hr-offboarding", user: { alias: "eve" } }),
      ),
    ).toEqual({ ...THREE_CALLS, UpdateItem: 1 });
    expect(local.stack.simulator.credentialOf(users[4]?.objectId ?? "", "password").changes).toBe(
      1,
    );
  });

  it("a credential this service changed moments ago is claimed step by step, its baseline read from CUC", async () => {
    const requestsBefore = local.stack.simulator.requests.length;
    const calls = await callsOf(resetFromSecret("ben", "730304"));
    // The transaction refused (the last change too recent for CUC's clock), then the old way: the
    // blast-radius guard's counts in a transaction of their own, the claim step by step.
    expect(calls).toMatchObject({ PutItem: 1, GetItem: 1, UpdateItem: 2 });
    expect(calls.TransactWriteItems).toBe(3);
    const reads = local.stack.simulator.requests
      .slice(requestsBefore)
      .filter((request) => request.method === "GET" && request.path.endsWith("/credential/pin"));
    expect(reads).toHaveLength(1);
    expect(local.stack.simulator.credentialOf(users[1]?.objectId ?? "", "pin").value).toBe(
      "730304",
    );
  });

  it("a duplicate costs the idempotency record alone (and its read, where DynamoDB does not return it)", async () => {
    const body = resetFromSecret("ana", "730303");
    await callsOf(body);
    expect(await callsOf(body)).toEqual({ PutItem: 1, GetItem: 1 });
  });
});
