// The clock baseline against a CUC whose clocks are not this machine's: TimeChanged written in
// UTC+5:30, a Date header lagging most of a second, and daylight saving time moving the zone
// between the offset being learned and a lost answer being settled. Over the local stack.
import { beforeAll, describe, expect, it } from "vitest";
import { takeOutcomeEvents } from "../../dev/outcome-route.ts";
import {
  captureOutput,
  drain,
  eventFactory,
  isDeadLetterOf,
  readDeadLetters,
  send,
  useLocalPipeline,
} from "../helpers/pipeline.ts";

const DORA = "d0a22222-0000-4000-8000-000000000001";
const EVAN = "d0a22222-0000-4000-8000-000000000002";
const local = useLocalPipeline({
  users: [
    { objectId: DORA, alias: "dora", dtmfAccessId: "7101", pin: "480916" },
    { objectId: EVAN, alias: "evan", dtmfAccessId: "7102", pin: "480917" },
  ],
  visibilityTimeoutSeconds: 1,
});
const output = captureOutput();

beforeAll(() => {
  local.stack.simulator.setClocks({ timeChangedZoneMinutes: 330, dateLagMs: 900 });
});

const event = eventFactory("zone", { action: "reset-pin" });
let minute = 0;

/** A reset of `alias`'s PIN to `pin`, each later than the one before. */
function reset(alias: string, pin: string) {
  const secretId = `cupi-reset/resets/zone-${pin}`;
  local.stack.secretsManager.putSecret(secretId, JSON.stringify({ pin }));
  minute += 1;
  return event({
    user: { alias },
    newCredential: { secretId, jsonKey: "pin" },
    occurredAt: new Date(Date.parse("2026-12-06T08:00:00Z") + minute * 60_000).toISOString(),
  });
}

/** Three seconds on: every earlier change is old enough for the clock baseline, lag included. */
const later = () => new Promise((resolve) => setTimeout(resolve, 3_000));

const requestLines = () =>
  local.stack.simulator.requests.map((request) => `${request.method} ${request.path}`);

describe("a lost answer settled by CUC's clock, CUC's clocks not in UTC", () => {
  it("learns a +05:30 zone under a lagging Date header, then settles a lost answer without a resend", async () => {
    const { stack, pipeline } = local;
    await send(stack.sqs, stack.queues.queueUrl, reset("evan", "730201"));
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    await later();
    stack.simulator.resetStats();
    stack.simulator.injectFaults("none", "drop-after-apply");
    await send(stack.sqs, stack.queues.queueUrl, reset("dora", "730202"));
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    expect(requestLines()).toEqual([
      "GET /vmrest/users",
      `PUT /vmrest/users/${DORA}/credential/pin`,
      `GET /vmrest/users/${DORA}/credential/pin`,
    ]);
    expect(stack.simulator.credentialOf(DORA, "pin")).toMatchObject({
      value: "730202",
      changes: 1,
    });
  });

  it("daylight saving time ends, moving the zone back an hour: the lost answer is retried, never taken for not landed, and settled once the zone is learned again", async () => {
    const { stack, pipeline } = local;
    await later();
    stack.simulator.setClocks({ timeChangedZoneMinutes: 270 });
    stack.simulator.resetStats();
    stack.simulator.injectFaults("none", "drop-after-apply");
    const body = reset("dora", "730203");
    const messageId = await send(stack.sqs, stack.queues.queueUrl, body);
    // First delivery: the PUT landed, its answer lost; its TimeChanged, read in the learned zone,
    // is an hour before the PUT, as an old change would be, or this PUT's in a zone moved back.
    // Taken for not landed, the resend would meet the history and dead-letter an applied reset.
    await pipeline.poller.pollOnce();
    expect(requestLines().filter((line) => line.startsWith("PUT"))).toHaveLength(1);
    expect(output.text()).toContain("no longer reads in the time zone learned");
    // Another user's answered reset learns the zone again; then the retried event settles.
    await send(stack.sqs, stack.queues.queueUrl, reset("evan", "730204"));
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    expect(stack.simulator.credentialOf(DORA, "pin")).toMatchObject({
      value: "730203",
      changes: 2,
    });
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, [messageId]),
    );
    expect(letters).toEqual([]);
    await stack.eventBridge.settled();
    const outcome = (await takeOutcomeEvents(stack.sqs, stack.ticketingQueueUrl)).find(
      (candidate) => candidate.detail.eventId === body.eventId,
    );
    expect(outcome?.["detail-type"]).toBe("Credential Reset Applied");
    expect(Number(outcome?.detail.receiveCount)).toBeGreaterThanOrEqual(2);
  });
});
