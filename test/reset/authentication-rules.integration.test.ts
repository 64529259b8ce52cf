// Generated values read their authentication rule once per cache period, and once a rule was seen in
// force, the next values are generated under the strictest seen without reading the user's own; a
// value CUC refuses (a stricter or changed rule) is generated again for the user in the same
// delivery, not dead-lettered. Over the local stack.
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

const STRICT_PIN_RULE_ID = "6f1c2a4e-8b3d-4e5f-9a70-0000000000aa";
const users = ["ana", "ben", "cem", "dan", "eva"].map((alias, index) => ({
  objectId: `a1b2c3d4-0000-4000-8000-00000000000${index + 1}`,
  alias,
  dtmfAccessId: `500${index + 1}`,
  pin: "480916",
  // Dan is under a stricter PIN rule than the others: executives get 10 digits.
  ...(alias === "dan" ? { pinPolicyObjectId: STRICT_PIN_RULE_ID } : {}),
}));
const [ana, ben, cem, dan, eva] = users as [
  (typeof users)[0],
  (typeof users)[0],
  (typeof users)[0],
  (typeof users)[0],
  (typeof users)[0],
];

const local = useLocalPipeline({
  users,
  visibilityTimeoutSeconds: 1,
  maxReceiveCount: 5,
  simulator: {
    rules: [
      {
        objectId: STRICT_PIN_RULE_ID,
        minLength: 10,
        prevCredCount: 5,
        trivialCredChecking: true,
        maxHacks: 3,
        maxDays: 90,
        minDuration: 1440,
      },
    ],
  },
});
const event = eventFactory("rules", {
  action: "reset-pin",
  newCredential: { generate: true },
});

const ruleReads = () =>
  local.stack.simulator.requests.filter((request) =>
    request.path.startsWith("/vmrest/authenticationrules/"),
  ).length;

/** The CUPI requests made about one user, as "METHOD path-after-the-user". */
const requestsAbout = (objectId: string) =>
  local.stack.simulator.requests
    .filter((request) => request.path.startsWith(`/vmrest/users/${objectId}`))
    .map(
      (request) => `${request.method} ${request.path.slice(`/vmrest/users/${objectId}`.length)}`,
    );

/** Sends one generated-PIN event for `alias` and drains the queue. */
async function generatePinFor(alias: string): Promise<{ eventId: string; messageId: string }> {
  const { stack, pipeline } = local;
  const body = event({ user: { alias } });
  const messageId = await send(stack.sqs, stack.queues.queueUrl, body);
  await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
  return { eventId: String(body.eventId), messageId };
}

/**
 * The user's PIN changed once, to a value of at least `minLength`, after CUC refused the first: its
 * PUT, then the user's credential and alternate extensions read, then the PUT that landed.
 */
function expectGeneratedAgainForTheUser(objectId: string, minLength: number): void {
  const pin = local.stack.simulator.credentialOf(objectId, "pin");
  expect(pin.changes).toBe(1);
  expect(pin.value?.length).toBeGreaterThanOrEqual(minLength);
  const requests = requestsAbout(objectId);
  expect([requests[0], ...requests.slice(1, 3).sort(), requests[3], requests.length]).toEqual([
    "PUT /credential/pin",
    "GET /alternateextensions",
    "GET /credential/pin",
    "PUT /credential/pin",
    4,
  ]);
}

async function outcomeOf(eventId: string) {
  await local.stack.eventBridge.settled();
  return (await takeOutcomeEvents(local.stack.sqs, local.stack.ticketingQueueUrl)).find(
    (candidate) => candidate.detail.eventId === eventId,
  );
}

describe("authentication rules for generated values", () => {
  it("are read once for several values under the same rule, and the next values read nothing", async () => {
    const { stack } = local;
    stack.simulator.resetStats();
    await generatePinFor(ana.alias);
    // Ana's credential (its rule) and alternate extensions were read for her value (and her
    // TimeChanged, this container's first PUT: CUC's clock is not known yet).
    expect(requestsAbout(ana.objectId)).toEqual(
      expect.arrayContaining(["GET /alternateextensions"]),
    );
    expect(
      requestsAbout(ana.objectId).filter((request) => request === "GET /credential/pin").length,
    ).toBeGreaterThanOrEqual(1);
    await generatePinFor(ben.alias);
    // Ben's value, under the rule seen in force for Ana, cost only the PUT (and the lookup by
    // alias, on the user list).
    expect(requestsAbout(ben.objectId)).toEqual(["PUT /credential/pin"]);
    expect(
      [ana, ben].map((user) => stack.simulator.credentialOf(user.objectId, "pin").changes),
    ).toEqual([1, 1]);
    expect(ruleReads()).toBe(1);
  });

  it("a user under a stricter rule not yet seen: the refused value is generated again for the user, in the same delivery", async () => {
    const { stack } = local;
    stack.simulator.resetStats();
    const { eventId } = await generatePinFor(dan.alias);
    expectGeneratedAgainForTheUser(dan.objectId, 10);
    const outcome = await outcomeOf(eventId);
    expect(outcome?.["detail-type"]).toBe("Credential Reset Applied");
    expect(Number(outcome?.detail.receiveCount)).toBe(1);
    // The stricter rule is now the strictest seen: the next user's value meets it, unread.
    stack.simulator.resetStats();
    await generatePinFor(eva.alias);
    expect(requestsAbout(eva.objectId)).toEqual(["PUT /credential/pin"]);
    expect(stack.simulator.credentialOf(eva.objectId, "pin").value?.length).toBeGreaterThanOrEqual(
      10,
    );
  });

  it("a rule changed since it was seen: the refused value is generated again under the rule read again, in the same delivery", async () => {
    const { stack } = local;
    // The strictest seen is 10 digits (Dan's rule); Cem's own rule now asks for 11.
    stack.simulator.changeRule(DEFAULT_PIN_RULE_ID, { minLength: 11 });
    stack.simulator.resetStats();
    const { eventId, messageId } = await generatePinFor(cem.alias);
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, [messageId]),
    );
    expect(letters).toEqual([]);
    expectGeneratedAgainForTheUser(cem.objectId, 11);
    // The refusal dropped the cluster's cached rules: Cem's was read again, not taken from before.
    expect(ruleReads()).toBe(1);
    const outcome = await outcomeOf(eventId);
    expect(outcome?.["detail-type"]).toBe("Credential Reset Applied");
    expect(Number(outcome?.detail.receiveCount)).toBe(1);
  });
});
