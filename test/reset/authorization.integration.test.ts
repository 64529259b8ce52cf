import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_ACCOUNT } from "../../dev/cupi-simulator/demo-account.ts";
import type { SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import {
  captureOutput,
  type DeadLetterMessage,
  drain,
  eventFactory,
  isDeadLetterOf,
  readDeadLetters,
  send,
  startPipeline,
} from "../helpers/pipeline.ts";

// A canary value: it must not appear in an audit record.
const RESET_PIN = "730582";

const ids = {
  jsmith: "0b4e934c-dd78-4fc9-9e64-69acf166123e",
  operator: "2c0b1f6e-8a41-4d0b-9d51-3c2f5e6a7b01",
  reception: "2c0b1f6e-8a41-4d0b-9d51-3c2f5e6a7b02",
  serviceAccount: "2c0b1f6e-8a41-4d0b-9d51-3c2f5e6a7b03",
  adminJdoe: "2c0b1f6e-8a41-4d0b-9d51-3c2f5e6a7b04",
  leaver: "2c0b1f6e-8a41-4d0b-9d51-3c2f5e6a7b05",
  halfLeaver: "2c0b1f6e-8a41-4d0b-9d51-3c2f5e6a7b06",
};

// No administrator roles: without the policy, CUPI would let every one of them be changed.
const users: SimulatedUser[] = [
  { objectId: ids.jsmith, alias: "jsmith", dtmfAccessId: "1001", pin: "480916" },
  { objectId: ids.operator, alias: "operator", dtmfAccessId: "0", pin: "602817" },
  { objectId: ids.reception, alias: "reception.desk", dtmfAccessId: "1000", pin: "602817" },
  { objectId: ids.serviceAccount, alias: DEMO_ACCOUNT.username, pin: "602817" },
  { objectId: ids.adminJdoe, alias: "admin-jdoe", dtmfAccessId: "1900", pin: "602817" },
  {
    objectId: ids.leaver,
    alias: "leaver",
    dtmfAccessId: "1500",
    pin: "602817",
    password: "Kq7#vRt2pLm9",
  },
  {
    objectId: ids.halfLeaver,
    alias: "half.leaver",
    dtmfAccessId: "1501",
    pin: "602817",
    password: "Kq7#vRt2pLm9",
  },
];

const RESET_SECRET = "cupi-reset/resets/pin";

// The shipped default, plus an objectId only a deployment can know.
const policyDirectory = mkdtempSync(join(tmpdir(), "cupi-reset-authz-"));
const policyPath = join(policyDirectory, "authorization-policy.json");
const shipped = JSON.parse(readFileSync("config/authorization-policy.json", "utf8"));
writeFileSync(
  policyPath,
  JSON.stringify({
    ...shipped,
    protectedAccounts: { ...shipped.protectedAccounts, objectIds: [ids.reception] },
  }),
);

const event = eventFactory("authz");

let stack: LocalStack;
let pipeline: ReturnType<typeof startPipeline>;
const output = captureOutput();

beforeAll(async () => {
  stack = await startLocalStack({
    users,
    secrets: { [RESET_SECRET]: JSON.stringify({ pin: RESET_PIN }) },
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: 3,
  });
  pipeline = startPipeline(stack, { AUTHORIZATION_POLICY_PATH: policyPath });
});

afterAll(async () => {
  await pipeline?.handler.close();
  await stack?.close();
  rmSync(policyDirectory, { recursive: true, force: true });
});

beforeEach(() => {
  stack.simulator.resetStats();
  stack.secretsManager.resetRequests();
});

async function run(...bodies: unknown[]): Promise<DeadLetterMessage[]> {
  const sent: string[] = [];
  for (const body of bodies) sent.push(await send(stack.sqs, stack.queues.queueUrl, body));
  await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
  const dlq = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
  // In the order sent, whatever order the DLQ returns them in.
  return sent.flatMap((id) => dlq.filter((letter) => isDeadLetterOf(letter, [id])));
}

/** A refusal must leave CUC untouched: no PUT, whatever else was asked. */
function puts(): number {
  return stack.simulator.requests.filter((request) => request.method === "PUT").length;
}

function resetSecretReads(): number {
  return stack.secretsManager.requests.filter((request) => request.secretId === RESET_SECRET)
    .length;
}

function expectRefused(letter: DeadLetterMessage | undefined, reason: string): void {
  expect(letter?.attributes.errorCode).toBe("ACTION_NOT_ALLOWED");
  expect(letter?.attributes.errorMessage).toBe(reason);
}

function auditRecords(): Record<string, unknown>[] {
  return output
    .text()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.audit === true);
}

describe("the authorization policy on the local stack", () => {
  it("applies an allowed action to an unprotected user (so a refusal below is the policy's)", async () => {
    expect(await run(event({}))).toEqual([]);
    expect(puts()).toBe(1);
  });

  it("refuses an unknown source, and an action its source may not request, calling no CUPI", async () => {
    const [unknown, notAllowed] = await run(
      event({ source: "payroll" }),
      event({
        source: "hr-offboarding",
        action: "reset-pin",
        newCredential: { secretId: RESET_SECRET, jsonKey: "pin" },
      }),
    );
    expectRefused(
      unknown,
      "source payroll is not in the authorization policy: it may request nothing",
    );
    expectRefused(
      notAllowed,
      "source hr-offboarding may not request reset-pin (the authorization policy allows it: offboard)",
    );
    expect(stack.simulator.requests).toEqual([]);
    expect(resetSecretReads()).toBe(0);
  });

  it("refuses a protected alias, in any case, or one matching a pattern, before the lookup", async () => {
    const [operator, admin] = await run(
      event({ user: { alias: "Operator" } }),
      event({ user: { alias: "admin-jdoe" } }),
    );
    expectRefused(operator, "user Operator is a protected account (protectedAccounts.aliases)");
    expectRefused(
      admin,
      "user admin-jdoe is a protected account (protectedAccounts.patterns admin*)",
    );
    expect(stack.simulator.requests).toEqual([]);
  });

  it("refuses a protected objectId: named in the event, or found by the lookup", async () => {
    const [byObjectId, byAlias] = await run(
      event({ user: { objectId: ids.reception } }),
      event({
        user: { alias: "reception.desk" },
        action: "reset-pin",
        newCredential: { secretId: RESET_SECRET, jsonKey: "pin" },
      }),
    );
    expectRefused(
      byObjectId,
      `user ${ids.reception} is a protected account (protectedAccounts.objectIds)`,
    );
    expectRefused(
      byAlias,
      `user reception.desk ${ids.reception} is a protected account (protectedAccounts.objectIds)`,
    );
    // The lookup only: no PUT, and the new value's secret was never read.
    expect(stack.simulator.requests.map((request) => request.method)).toEqual(["GET"]);
    expect(resetSecretReads()).toBe(0);
    expect(stack.simulator.credentialOf(ids.reception, "pin").value).toBe("602817");
  });

  it("refuses the CUPI service account's own user, by alias or by objectId", async () => {
    const [byAlias, byObjectId] = await run(
      event({ user: { alias: DEMO_ACCOUNT.username.toUpperCase() } }),
      event({ user: { objectId: ids.serviceAccount } }),
    );
    expectRefused(
      byAlias,
      `user ${DEMO_ACCOUNT.username.toUpperCase()} is the CUPI service account this function signs in with`,
    );
    expectRefused(
      byObjectId,
      `user ${DEMO_ACCOUNT.username} ${ids.serviceAccount} is the CUPI service account this function signs in with`,
    );
    expect(puts()).toBe(0);
    expect(stack.simulator.requests).toHaveLength(1);
  });

  it("refuses a user whose alias, found by objectId, matches a pattern", async () => {
    const [letter] = await run(
      event({ user: { objectId: ids.adminJdoe }, action: "unlock-password" }),
    );
    expectRefused(
      letter,
      `user admin-jdoe ${ids.adminJdoe} is a protected account (protectedAccounts.patterns admin*)`,
    );
    expect(stack.simulator.requests.map((request) => request.method)).toEqual(["GET"]);
  });

  it("still applies ALLOWED_ACTIONS: the policy allowing is not enough", async () => {
    const restricted = startPipeline(stack, {
      AUTHORIZATION_POLICY_PATH: policyPath,
      ALLOWED_ACTIONS: "reset-pin",
    });
    try {
      const id = await send(stack.sqs, stack.queues.queueUrl, event({}));
      await drain(restricted.poller, stack.sqs, stack.queues.queueUrl);
      const [letter] = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((candidate) =>
        isDeadLetterOf(candidate, [id]),
      );
      expectRefused(letter, "action unlock-pin is not in this deployment's ALLOWED_ACTIONS");
      expect(stack.simulator.requests).toEqual([]);
    } finally {
      await restricted.handler.close();
      delete process.env.ALLOWED_ACTIONS;
    }
  });
});

describe("the audit record", () => {
  it("says who asked for what, on whom, and which CUPI fields changed, never a value", async () => {
    const applied = event({
      action: "reset-pin",
      newCredential: { secretId: RESET_SECRET, jsonKey: "pin" },
      settings: { mustChange: true },
    });
    expect(await run(applied)).toEqual([]);
    const records = auditRecords();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      level: "INFO",
      message: "audit",
      service: "cupi-reset",
      audit: true,
      eventId: applied.eventId,
      source: "helpdesk",
      requestedBy: "agent@example.com",
      ticketId: applied.ticketId,
      action: "reset-pin",
      targetUser: { alias: "jsmith", objectId: ids.jsmith },
      fieldsChanged: [{ credential: "pin", fields: ["Credentials", "CredMustChange"] }],
      outcome: "applied",
    });
    expect(records[0]).not.toHaveProperty("errorCode");
    expect(stack.simulator.credentialOf(ids.jsmith, "pin").value).toBe(RESET_PIN);
    const serialized = JSON.stringify(records);
    for (const secret of [RESET_PIN, DEMO_ACCOUNT.password]) {
      expect(serialized).not.toContain(secret);
    }
  });

  it("lists both credentials of an offboard, with generated values nowhere", async () => {
    const offboard = event({
      source: "hr-offboarding",
      user: { alias: "leaver" },
      action: "offboard",
    });
    expect(await run(offboard)).toEqual([]);
    const [record] = auditRecords();
    expect(record).toMatchObject({
      outcome: "applied",
      targetUser: { alias: "leaver", objectId: ids.leaver },
      fieldsChanged: [
        { credential: "pin", fields: ["Credentials", "Locked", "CantChange"] },
        { credential: "password", fields: ["Credentials", "Locked", "CantChange"] },
      ],
    });
    const text = JSON.stringify(record);
    for (const kind of ["pin", "password"] as const) {
      expect(text).not.toContain(stack.simulator.credentialOf(ids.leaver, kind).value);
    }
  });

  it("audits a change made by a delivery that ended in a retry once, when the event settles", async () => {
    // An offboard makes 7 GETs (user twice, credentials, extensions, rules), then for each of
    // the PIN and the password a TimeChanged snapshot and the PUT. CUC fails the password's PUT
    // with a 500 (which may have taken effect, so it is not re-sent) and every try of the
    // TimeChanged read that would tell.
    stack.simulator.injectFaults(
      ...Array<"none">(10).fill("none"),
      ...Array<"500-html">(5).fill("500-html"),
    );
    const pinChanges = () => stack.simulator.credentialOf(ids.halfLeaver, "pin").changes;
    const pinChangesBefore = pinChanges();
    const offboard = event({
      source: "hr-offboarding",
      user: { alias: "half.leaver" },
      action: "offboard",
    });
    expect(await run(offboard)).toEqual([]);
    // The attempt log knew the PIN had landed: the redelivery changed only the password.
    expect(pinChanges()).toBe(pinChangesBefore + 1);
    const records = auditRecords().filter((record) => record.eventId === offboard.eventId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      outcome: "applied",
      targetUser: { alias: "half.leaver", objectId: ids.halfLeaver },
      fieldsChanged: [
        { credential: "pin", fields: ["Credentials", "Locked", "CantChange"] },
        { credential: "password", fields: ["Credentials", "Locked", "CantChange"] },
      ],
    });
  });

  it("records refusals and other dead letters with their errorCode and reason", async () => {
    const refusedEarly = event({ source: "payroll", requestedBy: "mallory@example.com" });
    const refusedLate = event({ user: { objectId: ids.reception } });
    const refusedAfterLookup = event({ user: { alias: "reception.desk" } });
    const notFound = event({ user: { alias: "nobody" } });
    await run(refusedEarly, refusedLate, refusedAfterLookup, notFound);
    const byEventId = new Map(auditRecords().map((record) => [record.eventId, record]));
    expect(byEventId.size).toBe(4);
    expect(byEventId.get(refusedEarly.eventId)).toMatchObject({
      source: "payroll",
      requestedBy: "mallory@example.com",
      ticketId: refusedEarly.ticketId,
      action: "unlock-pin",
      targetUser: { alias: "jsmith" },
      fieldsChanged: [],
      outcome: "refused",
      errorCode: "ACTION_NOT_ALLOWED",
      reason: "source payroll is not in the authorization policy: it may request nothing",
    });
    expect(byEventId.get(refusedLate.eventId)).toMatchObject({
      targetUser: { objectId: ids.reception },
      outcome: "refused",
    });
    expect(byEventId.get(refusedAfterLookup.eventId)).toMatchObject({
      targetUser: { alias: "reception.desk", objectId: ids.reception },
      fieldsChanged: [],
      outcome: "refused",
      errorCode: "ACTION_NOT_ALLOWED",
    });
    expect(byEventId.get(notFound.eventId)).toMatchObject({
      targetUser: { alias: "nobody" },
      outcome: "dead-lettered",
      errorCode: "USER_NOT_FOUND",
    });
  });

  it("is written once per action: a duplicate delivery changes nothing and adds none", async () => {
    const once = event({ user: { alias: "jsmith" }, action: "unlock-pin" });
    await run(once);
    await run(once);
    expect(puts()).toBe(1);
    expect(auditRecords().filter((record) => record.eventId === once.eventId)).toHaveLength(1);
    expect(output.text()).toContain('"duplicate":true');
  });
});
