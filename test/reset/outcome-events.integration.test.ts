// Outcome events over sockets: the reset function publishes to the EventBridge stand-in, whose rule
// delivers to the local ticketing queue, as a producer's integration would receive them.
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { DEFAULT_SCHEMA, load, Type } from "js-yaml";
import { beforeEach, describe, expect, it } from "vitest";
import { DEMO_ACCOUNT } from "../../dev/cupi-simulator/demo-account.ts";
import type { SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import type { PublishedEvent } from "../../dev/eventbridge/index.ts";
import { matchesPattern, parseEventPattern } from "../../dev/eventbridge/pattern.ts";
import type { EventEnvelope } from "../../dev/eventbridge/put-events.ts";
import { DELIVERY_PREFIX } from "../../dev/local-stack.ts";
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

// Canary values: none of them may appear in an outcome event.
const RESET_PIN = "739164";
const RESET_PASSWORD = "CANARY-Reset-Passw0rd-x";
const SERVICE_PASSWORD = "CANARY-Service-Passw0rd";

const ids = {
  jsmith: "0b4e934c-dd78-4fc9-9e64-69acf166123e",
  mrossi: "73aa24b9-7d93-4376-add9-bf39198d0c76",
  kwong: "5e1f0c1a-2b3c-4d5e-8f70-0123456789ab",
  leaver: "6c3d9a10-0f4e-4c55-9d0b-3e2f1a7b8c9d",
  cucadmin: "cd6ea232-4087-4d84-a411-bec54b0b4f4f",
};

const users: SimulatedUser[] = [
  { objectId: ids.jsmith, alias: "jsmith", dtmfAccessId: "1001", pin: "480916" },
  { objectId: ids.mrossi, alias: "mrossi", dtmfAccessId: "2002", pin: "739451" },
  {
    objectId: ids.kwong,
    alias: "kwong",
    dtmfAccessId: "4010",
    pin: "518027",
    password: "Xw4$pQz8Lm2n",
  },
  { objectId: ids.leaver, alias: "leaver", dtmfAccessId: "5050", pin: "602817" },
  {
    objectId: ids.cucadmin,
    alias: "cucadmin",
    dtmfAccessId: "9000",
    roles: ["System Administrator"],
  },
];

const secrets = {
  "cupi-reset/resets/jsmith-pin": JSON.stringify({ pin: RESET_PIN }),
  "cupi-reset/resets/kwong-password": RESET_PASSWORD,
  [`${DELIVERY_PREFIX}INC-GEN`]: "{}",
  [`${DELIVERY_PREFIX}INC-ADMIN`]: "{}",
};

const schema = JSON.parse(
  readFileSync(new URL("../../schemas/reset-outcome.v1.schema.json", import.meta.url), "utf8"),
) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validateDetail = ajv.compile(schema);

const event = eventFactory("outcome", {
  action: "reset-pin",
  newCredential: { secretId: "cupi-reset/resets/jsmith-pin", jsonKey: "pin" },
});

const local = useLocalPipeline({
  users,
  secrets,
  servicePassword: SERVICE_PASSWORD,
  simulator: { account: { username: DEMO_ACCOUNT.username, password: SERVICE_PASSWORD } },
  visibilityTimeoutSeconds: 1,
  maxReceiveCount: 3,
});
const output = captureOutput();

beforeEach(async () => {
  await local.stack.eventBridge.settled();
  local.stack.eventBridge.published.length = 0;
  local.stack.simulator.resetStats();
});

/** Sends a generated-PIN reset for `alias` delivered to `<prefix><ticketId>`; returns what it left. */
async function deliverGeneratedPin(alias: string, ticketId: string) {
  const secretId = `${DELIVERY_PREFIX}${ticketId}`;
  const body = event({
    user: { alias },
    ticketId,
    newCredential: { generate: true, deliverTo: { secretId } },
  });
  await run(body);
  return {
    secretId,
    body,
    delivered: JSON.parse(local.stack.secretsManager.secretValue(secretId) ?? "{}") as unknown,
    published: publishedFor(body.eventId as string),
  };
}

/** Sends the bodies, drains the queue, and waits for the rule's deliveries to the ticketing queue. */
async function run(...bodies: unknown[]): Promise<string[]> {
  const sent: string[] = [];
  for (const body of bodies)
    sent.push(await send(local.stack.sqs, local.stack.queues.queueUrl, body));
  await drain(local.pipeline.poller, local.stack.sqs, local.stack.queues.queueUrl);
  await local.stack.eventBridge.settled();
  return sent;
}

function publishedFor(eventId: string): PublishedEvent[] {
  return local.stack.eventBridge.published.filter(
    (published) => published.detail.eventId === eventId,
  );
}

function expectValidDetail(detail: unknown): void {
  validateDetail(detail);
  expect(validateDetail.errors ?? [], JSON.stringify(detail)).toEqual([]);
}

function putsTo(objectId: string): number {
  return local.stack.simulator.requests.filter(
    (request) => request.method === "PUT" && request.path.includes(objectId),
  ).length;
}

describe("outcome events on the local stack", () => {
  it("publishes an applied reset once, on the configured bus, and the rule delivers it to ticketing", async () => {
    await takeOutcomeEvents(local.stack.sqs, local.stack.ticketingQueueUrl);
    const body = event({ settings: { mustChange: true } });
    await run(body);

    const [published, ...others] = publishedFor(body.eventId as string);
    expect(others).toEqual([]);
    expect(published).toMatchObject({
      bus: "default",
      source: "cupi-reset",
      detailType: "Credential Reset Applied",
      detail: {
        version: 1,
        eventId: body.eventId,
        ticketId: body.ticketId,
        requestedBy: "agent@example.com",
        source: "helpdesk",
        action: "reset-pin",
        user: { alias: "jsmith", objectId: ids.jsmith },
        outcome: "applied",
        fieldsChanged: [
          { credential: "pin", fields: expect.arrayContaining(["Credentials", "CredMustChange"]) },
        ],
        occurredAt: "2026-11-28T10:00:00Z",
        receiveCount: 1,
        duplicate: false,
      },
    });
    expect(published?.detail).not.toHaveProperty("errorCode");
    expectValidDetail(published?.detail);
    const settledAt = Date.parse(published?.detail.settledAt as string);
    expect(Date.now() - settledAt).toBeLessThan(30_000);

    const received = await takeOutcomeEvents(local.stack.sqs, local.stack.ticketingQueueUrl);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      version: "0",
      id: published?.id,
      "detail-type": "Credential Reset Applied",
      source: "cupi-reset",
      account: "000000000000",
      detail: published?.detail,
    });
  });

  it("publishes a dead-lettered event as failed, with its code and reason, before the DLQ holds it", async () => {
    const body = event({ user: { alias: "nobody" } });
    const [messageId] = await run(body);

    const [published, ...others] = publishedFor(body.eventId as string);
    expect(others).toEqual([]);
    expect(published).toMatchObject({
      detailType: "Credential Reset Failed",
      detail: {
        outcome: "failed",
        errorCode: "USER_NOT_FOUND",
        reason: expect.stringMatching(/no user has this alias/),
        user: { alias: "nobody" },
        fieldsChanged: [],
        duplicate: false,
      },
    });
    expectValidDetail(published?.detail);
    const letters = (await readDeadLetters(local.stack.sqs, local.stack.queues.dlqUrl)).filter(
      (letter) => isDeadLetterOf(letter, [messageId as string]),
    );
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["USER_NOT_FOUND"]);
  });

  it("publishes an unparseable body's failure under its SQS message id", async () => {
    const [messageId] = await run("{ not JSON");
    const published = local.stack.eventBridge.published.filter(
      (candidate) => candidate.detail.sourceMessageId === messageId,
    );
    expect(published).toHaveLength(1);
    expect(published[0]?.detailType).toBe("Credential Reset Failed");
    expect(published[0]?.detail).toMatchObject({ outcome: "failed", errorCode: "INVALID_EVENT" });
    expect(published[0]?.detail).not.toHaveProperty("eventId");
    expectValidDetail(published[0]?.detail);
  });

  it("publishes refusals: an unconfigured cluster, and a helpdesk event older than the offboarding", async () => {
    const elsewhere = event({ cluster: "emea" });
    const offboard = event({
      user: { alias: "leaver" },
      source: "hr-offboarding",
      action: "offboard",
      newCredential: undefined,
      occurredAt: "2026-11-28T15:00:00Z",
    });
    const late = event({
      user: { alias: "leaver" },
      action: "unlock-pin",
      newCredential: undefined,
      occurredAt: "2026-11-28T14:00:00Z",
    });
    await run(elsewhere);
    await run(offboard);
    await run(late);

    expect(publishedFor(elsewhere.eventId as string)).toMatchObject([
      {
        detailType: "Credential Reset Refused",
        detail: { outcome: "refused", errorCode: "ACTION_NOT_ALLOWED", cluster: "emea" },
      },
    ]);
    expect(publishedFor(offboard.eventId as string)).toMatchObject([
      {
        detailType: "Credential Reset Applied",
        detail: {
          source: "hr-offboarding",
          action: "offboard",
          fieldsChanged: [
            { credential: "pin", fields: expect.arrayContaining(["Locked", "CantChange"]) },
            { credential: "password", fields: expect.arrayContaining(["Locked", "CantChange"]) },
          ],
        },
      },
    ]);
    expect(publishedFor(late.eventId as string)).toMatchObject([
      {
        detailType: "Credential Reset Refused",
        detail: {
          outcome: "refused",
          errorCode: "STALE_EVENT",
          reason: expect.stringMatching(/offboarded/),
        },
      },
    ]);
    for (const published of local.stack.eventBridge.published) expectValidDetail(published.detail);
  });

  it("publishes a redelivered event that was already applied as a duplicate, applying nothing twice", async () => {
    const body = event({
      user: { alias: "kwong" },
      action: "unlock-pin",
      newCredential: undefined,
    });
    await run(body);
    await run(body);

    const published = publishedFor(body.eventId as string);
    expect(published.map((each) => [each.detailType, each.detail.duplicate])).toEqual([
      ["Credential Reset Applied", false],
      ["Credential Reset Applied", true],
    ]);
    // The duplicate tells the same story: the user and the fields the first delivery changed.
    expect(published[1]?.detail.fieldsChanged).toEqual(published[0]?.detail.fieldsChanged);
    expect(published[1]?.detail.user).toEqual(published[0]?.detail.user);
    expect(putsTo(ids.kwong)).toBe(1);
  });

  it("retries a record whose outcome PutEvents refused, then publishes it once, as a duplicate", async () => {
    local.stack.eventBridge.failEntriesNext(1);
    const body = event({
      user: { alias: "kwong" },
      action: "reset-password",
      newCredential: { secretId: "cupi-reset/resets/kwong-password" },
    });
    const [messageId] = await run(body);

    expect(publishedFor(body.eventId as string)).toMatchObject([
      {
        detailType: "Credential Reset Applied",
        detail: { outcome: "applied", duplicate: true, receiveCount: 2 },
      },
    ]);
    expect(putsTo(ids.kwong)).toBe(1);
    const letters = (await readDeadLetters(local.stack.sqs, local.stack.queues.dlqUrl)).filter(
      (letter) => isDeadLetterOf(letter, [messageId as string]),
    );
    expect(letters).toEqual([]);
    expect(output.text()).toMatch(/publishing its outcome failed/);
  });

  it("retries a failing PutEvents call (every SDK attempt refused) before a dead letter, so the failure is told once", async () => {
    // The client makes 3 attempts per call: fail all of them on the first delivery.
    local.stack.eventBridge.failNext("PutEvents", "InternalException", 3);
    const body = event({ user: { alias: "nobody-either" } });
    const [messageId] = await run(body);

    expect(publishedFor(body.eventId as string)).toMatchObject([
      { detailType: "Credential Reset Failed", detail: { receiveCount: 2, duplicate: false } },
    ]);
    const letters = (await readDeadLetters(local.stack.sqs, local.stack.queues.dlqUrl)).filter(
      (letter) => isDeadLetterOf(letter, [messageId as string]),
    );
    expect(letters.map((letter) => letter.attributes.receiveCount)).toEqual(["2"]);
  });

  it("dead-letters an applied event whose outcome never got published, unannounced, and a replay announces it applied", async () => {
    // maxReceiveCount is 3: every receive's PutEvents entry fails.
    local.stack.eventBridge.failEntriesNext(3);
    const body = event({
      user: { alias: "kwong" },
      action: "unlock-pin",
      newCredential: undefined,
    });
    const [messageId] = await run(body);

    // Never announced as failed: CUC took it.
    expect(publishedFor(body.eventId as string)).toEqual([]);
    const letters = (await readDeadLetters(local.stack.sqs, local.stack.queues.dlqUrl)).filter(
      (letter) => isDeadLetterOf(letter, [messageId as string]),
    );
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["RETRIES_EXHAUSTED"]);
    expect(letters[0]?.attributes.errorMessage).toMatch(
      /last: applied; publishing its outcome failed \(OutcomeNotPublishedError\)$/,
    );
    expect(putsTo(ids.kwong)).toBe(1);

    await run(body);
    expect(publishedFor(body.eventId as string)).toMatchObject([
      { detailType: "Credential Reset Applied", detail: { duplicate: true } },
    ]);
    expect(putsTo(ids.kwong)).toBe(1);
  });

  it("dead-letters a failure it could not announce on the last receive, its reason saying so", async () => {
    local.stack.eventBridge.failEntriesNext(3);
    const body = event({ user: { alias: "nobody-at-all" } });
    const [messageId] = await run(body);

    expect(publishedFor(body.eventId as string)).toEqual([]);
    const letters = (await readDeadLetters(local.stack.sqs, local.stack.queues.dlqUrl)).filter(
      (letter) => isDeadLetterOf(letter, [messageId as string]),
    );
    expect(letters.map((letter) => letter.attributes)).toMatchObject([
      {
        errorCode: "USER_NOT_FOUND",
        receiveCount: "3",
        errorMessage: expect.stringMatching(
          /no user has this alias \(publishing its outcome failed \(OutcomeNotPublishedError\) on the last receive: a replay announces it\)$/,
        ),
      },
    ]);
  });

  it("marks a delivered value applied once CUC took it, and names the secret in the outcome", async () => {
    const {
      secretId,
      body,
      delivered,
      published: [published],
    } = await deliverGeneratedPin("mrossi", "INC-GEN");
    const applied = local.stack.simulator.credentialOf(ids.mrossi, "pin").value as string;
    expect(delivered).toEqual({
      status: "applied",
      pin: applied,
      eventId: body.eventId,
      ticketId: "INC-GEN",
      appliedAt: expect.any(String),
    });
    const versions = local.stack.secretsManager.requests.filter(
      (request) => request.operation === "PutSecretValue" && request.secretId === secretId,
    );
    expect(versions).toHaveLength(2);
    expect(published?.detail).toMatchObject({ outcome: "applied", deliveredTo: secretId });
    expect(Date.parse(published?.detail.appliedAt as string)).toBeLessThanOrEqual(
      Date.parse(published?.detail.settledAt as string),
    );
    expect(JSON.stringify(local.stack.eventBridge.published)).not.toContain(applied);
  });

  it("leaves a delivered value not-applied when CUC refused the change, and says so in the outcome", async () => {
    const {
      body,
      delivered,
      published: [published],
    } = await deliverGeneratedPin("cucadmin", "INC-ADMIN");
    expect(delivered).toEqual({
      status: "not-applied",
      eventId: body.eventId,
      ticketId: "INC-ADMIN",
      writtenAt: expect.any(String),
    });
    expect(published?.detail).toMatchObject({ outcome: "failed", errorCode: "NOT_PERMITTED" });
    expect(published?.detail).not.toHaveProperty("deliveredTo");
  });

  it("never carries a credential value or the service account in any published event", async () => {
    await run(
      event({ settings: { mustChange: true } }),
      event({
        user: { alias: "kwong" },
        action: "reset-password",
        newCredential: { secretId: "cupi-reset/resets/kwong-password" },
      }),
      event({ user: { alias: "kwong" }, newCredential: { secretId: "cupi-reset/resets/none" } }),
    );
    const everything = JSON.stringify(local.stack.eventBridge.published);
    expect(local.stack.eventBridge.published.length).toBeGreaterThanOrEqual(3);
    for (const canary of [RESET_PIN, RESET_PASSWORD, SERVICE_PASSWORD, "CANARY"]) {
      expect(everything).not.toContain(canary);
    }
  });
});

/** The CloudFormation rules in the README's `serverless.yml` snippets, by logical id. */
function readmeRules(): Map<string, { EventPattern: unknown; Targets: ReadmeTarget[] }> {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  // CloudFormation's short forms, kept as what they are; only the rules' own fields are read.
  const schema = DEFAULT_SCHEMA.extend(
    ["GetAtt", "Ref", "Sub"].map(
      (tag) => new Type(`!${tag}`, { kind: "scalar", construct: (value) => ({ [tag]: value }) }),
    ),
  );
  const rules = new Map<string, { EventPattern: unknown; Targets: ReadmeTarget[] }>();
  for (const [, yaml] of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const template = load(yaml ?? "", { schema }) as {
      resources?: { Resources?: Record<string, { Type: string; Properties: never }> };
    };
    for (const [id, resource] of Object.entries(template.resources?.Resources ?? {})) {
      if (resource.Type === "AWS::Events::Rule") rules.set(id, resource.Properties);
    }
  }
  return rules;
}

interface ReadmeTarget {
  readonly InputTransformer?: {
    readonly InputPathsMap: Record<string, string>;
    readonly InputTemplate: string;
  };
}

/** EventBridge's dot-notation JSON path ($.detail.user.alias, $.detail-type) on an event. */
function valueAt(event: EventEnvelope, path: string): unknown {
  return path
    .replace(/^\$\./, "")
    .split(".")
    .reduce<unknown>(
      (value, key) =>
        value !== null && typeof value === "object"
          ? (value as Record<string, unknown>)[key]
          : undefined,
      event,
    );
}

describe("the README's routes, applied to what the local stack publishes", () => {
  it("sends HR offboarding outcomes to HR, helpdesk tickets' outcomes to ServiceNow, with every input path resolved", async () => {
    await takeOutcomeEvents(local.stack.sqs, local.stack.ticketingQueueUrl);
    await run(
      event({ occurredAt: "2026-12-01T10:00:00Z" }),
      event({ user: { alias: "nobody" } }),
      event({
        ticketId: undefined,
        user: { alias: "kwong" },
        action: "unlock-pin",
        newCredential: undefined,
      }),
      event({ cluster: "emea" }),
      event({
        user: { alias: "mrossi" },
        source: "hr-offboarding",
        action: "offboard",
        newCredential: undefined,
        ticketId: "LEAVER-1",
        occurredAt: "2026-12-01T10:00:00Z",
      }),
      "{ not JSON",
    );
    const received = await takeOutcomeEvents(local.stack.sqs, local.stack.ticketingQueueUrl);
    expect(received).toHaveLength(6);
    const rules = readmeRules();
    const matching = (ruleId: string) => {
      const rule = rules.get(ruleId);
      if (rule === undefined) throw new Error(`the README has no rule ${ruleId}`);
      const pattern = parseEventPattern(JSON.stringify(rule.EventPattern));
      return { rule, events: received.filter((each) => matchesPattern(pattern, each as never)) };
    };

    const hr = matching("OffboardingOutcomesRule");
    expect(hr.events.map((each) => each.detail.ticketId)).toEqual(["LEAVER-1"]);

    const servicenow = matching("HelpdeskOutcomesToServiceNow");
    const helpdeskTickets = received.filter(
      (each) => each.detail.source === "helpdesk" && each.detail.ticketId !== undefined,
    );
    expect(helpdeskTickets).toHaveLength(3);
    expect(servicenow.events).toEqual(helpdeskTickets);
    const transformer = servicenow.rule.Targets[0]?.InputTransformer;
    expect(transformer).toBeDefined();
    for (const matched of servicenow.events) {
      let body = transformer?.InputTemplate ?? "";
      for (const [name, path] of Object.entries(transformer?.InputPathsMap ?? {})) {
        const value = valueAt(matched, path);
        expect(value, `${path} in ${JSON.stringify(matched.detail)}`).toBeTypeOf("string");
        body = body.replaceAll(`<${name}>`, String(value));
      }
      expect(JSON.parse(body)).toMatchObject({
        u_number: matched.detail.ticketId,
        u_state: matched.detail.outcome,
        u_event_id: matched.detail.eventId,
      });
    }
  });
});
