// Generated values read their authentication rule once per cache period; a rule changed meanwhile
// costs a retry, not a dead letter. Over the local stack.
import { describe, expect, it } from "vitest";
import { DEFAULT_PIN_RULE_ID } from "../../dev/cupi-simulator/directory.ts";
import { takeOutcomeEvents } from "../../dev/outcome-route.ts";
import {
  drain,
  eventFactory,
  isDeadLetterOf,
  readDeadLetters,
  send,
  useLocalPipeline,
} from "../helpers/pipeline.ts";

const users = ["ana", "ben", "cem"].map((alias, index) => ({
  objectId: `a1b2c3d4-0000-4000-8000-00000000000${index + 1}`,
  alias,
  dtmfAccessId: `500${index + 1}`,
  pin: "480916",
}));

const local = useLocalPipeline({ users, visibilityTimeoutSeconds: 1, maxReceiveCount: 5 });
const event = eventFactory("rules", {
  action: "reset-pin",
  newCredential: { generate: true },
});

const ruleReads = () =>
  local.stack.simulator.requests.filter((request) =>
    request.path.startsWith("/vmrest/authenticationrules/"),
  ).length;

describe("authentication rules for generated values", () => {
  it("are read once for several values under the same rule", async () => {
    const { stack, pipeline } = local;
    stack.simulator.resetStats();
    for (const user of users.slice(0, 2)) {
      await send(stack.sqs, stack.queues.queueUrl, event({ user: { alias: user.alias } }));
    }
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    expect(
      users.slice(0, 2).map((user) => stack.simulator.credentialOf(user.objectId, "pin").changes),
    ).toEqual([1, 1]);
    expect(ruleReads()).toBe(1);
  });

  it("a rule changed since it was read: the value CUC refuses is retried under the rule read again", async () => {
    const { stack, pipeline } = local;
    stack.simulator.changeRule(DEFAULT_PIN_RULE_ID, { minLength: 9 });
    stack.simulator.resetStats();
    const body = event({ user: { alias: "cem" } });
    const messageId = await send(stack.sqs, stack.queues.queueUrl, body);
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, [messageId]),
    );
    expect(letters).toEqual([]);
    const pin = stack.simulator.credentialOf(users[2]?.objectId as string, "pin");
    expect(pin.changes).toBe(1);
    expect(pin.value?.length).toBeGreaterThanOrEqual(9);
    // The cached rule's value refused once; the rule read to see it changed, and for the retry.
    expect(stack.simulator.requests.filter((request) => request.method === "PUT")).toHaveLength(2);
    expect(ruleReads()).toBe(2);
    await stack.eventBridge.settled();
    const outcome = (await takeOutcomeEvents(stack.sqs, stack.ticketingQueueUrl)).find(
      (candidate) => candidate.detail.eventId === body.eventId,
    );
    expect(outcome?.["detail-type"]).toBe("Credential Reset Applied");
    expect(Number(outcome?.detail.receiveCount)).toBe(2);
  });
});
