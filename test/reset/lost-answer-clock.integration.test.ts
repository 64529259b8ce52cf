// The default baseline for a lost answer: CUC's own clock (its answers' Date header), so a reset
// from a secret costs two CUC requests (lookup, PUT) instead of three. Over the local stack.
import { describe, expect, it } from "vitest";
import { drain, eventFactory, send, useLocalPipeline } from "../helpers/pipeline.ts";

const DORA = "d0a11111-0000-4000-8000-000000000001";
const local = useLocalPipeline({
  users: [{ objectId: DORA, alias: "dora", dtmfAccessId: "7001", pin: "480916" }],
  visibilityTimeoutSeconds: 1,
});

const event = eventFactory("clock", { action: "reset-pin", user: { alias: "dora" } });
let minute = 0;

/** A reset of dora's PIN to `pin`, each later than the one before. */
function reset(pin: string) {
  const secretId = `cupi-reset/resets/clock-${pin}`;
  local.stack.secretsManager.putSecret(secretId, JSON.stringify({ pin }));
  minute += 1;
  return event({
    newCredential: { secretId, jsonKey: "pin" },
    occurredAt: new Date(Date.parse("2026-12-06T08:00:00Z") + minute * 60_000).toISOString(),
  });
}

/**
 * Two seconds on, into a fresh second of the clock CUC and this machine share here: the last
 * change is then old enough for the clock baseline (a Date header may lag a second).
 */
const nextSecond = () =>
  new Promise((resolve) => setTimeout(resolve, 2_020 - (Date.now() % 1_000)));

async function run(
  body: Record<string, unknown>,
  ...faults: ("none" | "drop" | "drop-after-apply")[]
) {
  const { stack, pipeline } = local;
  stack.simulator.resetStats();
  stack.simulator.injectFaults(...faults);
  await send(stack.sqs, stack.queues.queueUrl, body);
  await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
  return stack.simulator.requests.map((request) => `${request.method} ${request.path}`);
}

describe("a lost answer settled by CUC's clock", () => {
  it("learns TimeChanged's zone on the first reset (one read after it), then needs two requests", async () => {
    const first = await run(reset("730154"));
    // Lookup, snapshot (no zone known yet), PUT, and the read that learns the zone.
    expect(first.filter((request) => request.startsWith("GET /vmrest/users/"))).toHaveLength(2);
    await nextSecond();
    expect(await run(reset("730155"))).toEqual([
      "GET /vmrest/users",
      `PUT /vmrest/users/${DORA}/credential/pin`,
    ]);
    expect(local.stack.simulator.credentialOf(DORA, "pin").value).toBe("730155");
  });

  it("finds a PUT whose answer was lost landed, without sending it again", async () => {
    await nextSecond();
    const before = local.stack.simulator.credentialOf(DORA, "pin").changes;
    const requests = await run(reset("730156"), "none", "drop-after-apply");
    expect(requests).toEqual([
      "GET /vmrest/users",
      `PUT /vmrest/users/${DORA}/credential/pin`,
      `GET /vmrest/users/${DORA}/credential/pin`,
    ]);
    expect(local.stack.simulator.credentialOf(DORA, "pin")).toMatchObject({
      value: "730156",
      changes: before + 1,
    });
  });

  it("resends a PUT CUC never served", async () => {
    await nextSecond();
    const before = local.stack.simulator.credentialOf(DORA, "pin").changes;
    const requests = await run(reset("730157"), "none", "drop");
    expect(requests.filter((request) => request.startsWith("PUT"))).toHaveLength(2);
    expect(local.stack.simulator.credentialOf(DORA, "pin")).toMatchObject({
      value: "730157",
      changes: before + 1,
    });
  });
});
