import { describe, expect, it } from "vitest";
import { parseRecordBody } from "../../lib/events/parse.ts";

const EVENT = {
  version: 1,
  eventId: "hd-INC0012345-1",
  occurredAt: "2026-11-28T10:00:00Z",
  source: "helpdesk",
  user: { alias: "jsmith" },
  action: "reset-pin",
  newCredential: { secretId: "cupi/resets/INC0012345", jsonKey: "pin" },
};

const CANARY = "CANARY-3e9d41";

function sns(message: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: "m-1",
    TopicArn: "arn:aws:sns:us-east-1:123456789012:cupi-reset-requests",
    Message: message,
  });
}

function eventBridge(detail: unknown): string {
  return JSON.stringify({ "detail-type": "Credential Reset Requested", source: "hd", detail });
}

function failure(body: string): { reason: string; eventId: string | undefined } {
  const parsed = parseRecordBody(body);
  if (parsed.ok) throw new Error("expected the body to be refused");
  return { reason: parsed.reason, eventId: parsed.eventId };
}

describe("a valid event", () => {
  it("comes back validated, with the envelope it came in", () => {
    expect(parseRecordBody(JSON.stringify(EVENT))).toEqual({
      ok: true,
      event: EVENT,
      envelope: "sqs",
    });
    expect(parseRecordBody(sns(JSON.stringify(EVENT)))).toEqual({
      ok: true,
      event: EVENT,
      envelope: "sns",
    });
    expect(parseRecordBody(eventBridge(EVENT))).toEqual({
      ok: true,
      event: EVENT,
      envelope: "eventbridge",
    });
  });

  it("is accepted with surrounding white space", () => {
    expect(parseRecordBody(`\n  ${JSON.stringify(EVENT, null, 2)}  \n`).ok).toBe(true);
  });
});

describe("each reason a body is refused", () => {
  it.each(["", "not json", `{"eventId":"${CANARY}",`, "{'eventId': 'x'}", "undefined"])(
    "%j is not JSON",
    (body) => {
      expect(failure(body)).toEqual({ reason: "body is not valid JSON", eventId: undefined });
    },
  );

  it("an SNS Message that is not a string", () => {
    const body = JSON.stringify({ Type: "Notification", TopicArn: "arn:t", Message: EVENT });
    expect(failure(body)).toEqual({ reason: "SNS Message must be a string", eventId: undefined });
  });

  it("an SNS Message that is not JSON, even one holding an eventId", () => {
    expect(failure(sns(`{"eventId":"hd-1","note":"${CANARY}"`))).toEqual({
      reason: "SNS Message is not valid JSON",
      eventId: undefined,
    });
  });

  it("a credential value, named by path and never quoted", () => {
    const body = JSON.stringify({ ...EVENT, newCredential: { pin: CANARY } });
    expect(failure(body)).toEqual({
      reason:
        "message carries a credential value (newCredential.pin); values must come from Secrets Manager",
      eventId: "hd-INC0012345-1",
    });
  });

  it("every credential value, in any case, at any depth, in arrays", () => {
    const body = JSON.stringify({
      ...EVENT,
      Password: CANARY,
      user: { alias: "jsmith", extra: [{ VALUE: CANARY }] },
    });
    const { reason } = failure(body);
    expect(reason).toBe(
      "message carries a credential value (user.extra[0].VALUE, Password); values must come from Secrets Manager",
    );
  });

  it("a credential value inside an SNS Message, with the inner eventId", () => {
    expect(failure(sns(JSON.stringify({ ...EVENT, Credentials: CANARY })))).toEqual({
      reason:
        "message carries a credential value (Message.Credentials); values must come from Secrets Manager",
      eventId: "hd-INC0012345-1",
    });
  });

  it("a credential value inside an EventBridge detail", () => {
    expect(failure(eventBridge({ ...EVENT, newPin: CANARY })).reason).toBe(
      "message carries a credential value (detail.newPin); values must come from Secrets Manager",
    );
  });

  it("a credential value in the envelope around the event", () => {
    const body = JSON.stringify({ ...JSON.parse(eventBridge(EVENT)), passcode: CANARY });
    expect(failure(body).reason).toBe(
      "message carries a credential value (passcode); values must come from Secrets Manager",
    );
  });

  it("a credential value wins over every other problem of the event", () => {
    const body = JSON.stringify({ version: 2, user: {}, pin: CANARY });
    expect(failure(body).reason).toBe(
      "message carries a credential value (pin); values must come from Secrets Manager",
    );
  });

  it("a schema violation, with the contract's reason", () => {
    const body = JSON.stringify({ ...EVENT, user: { alias: "jsmith", objectId: CANARY } });
    expect(failure(body)).toEqual({
      reason: 'user: must be exactly one of { "objectId": "<GUID>" } or { "alias": "<alias>" }',
      eventId: "hd-INC0012345-1",
    });
  });

  it("a schema violation inside an envelope", () => {
    expect(failure(eventBridge({ ...EVENT, action: "reset" })).reason).toMatch(
      /^action: must be one of reset-pin, /,
    );
    expect(failure(sns(JSON.stringify({ ...EVENT, newCredential: undefined }))).reason).toBe(
      "newCredential: is required for reset-pin and reset-password",
    );
  });

  it.each(["null", "42", '"text"', "[]", "true"])("%s is no event", (body) => {
    expect(failure(body).eventId).toBeUndefined();
    expect(failure(body).reason).toMatch(/must be a JSON object \(event contract v1\)/);
  });

  it("joins several reasons with semicolons", () => {
    const body = JSON.stringify({ ...EVENT, version: 2, source: "" });
    expect(failure(body).reason).toBe(
      "version: must be 1; source: must be 1-64 characters of A-Z a-z 0-9 . _ : -",
    );
  });

  it("shows five reasons and counts the rest", () => {
    const body = JSON.stringify({
      version: 2,
      eventId: "",
      occurredAt: "",
      source: "",
      user: {},
      action: "",
      cluster: "",
    });
    const reasons = failure(body).reason.split("; ");
    expect(reasons).toHaveLength(6);
    expect(reasons[0]).toBe("version: must be 1");
    expect(reasons[4]).toMatch(/^user: /);
    expect(reasons[5]).toBe("and 2 more");
  });

  it("does not count when there are exactly five", () => {
    const body = JSON.stringify({
      ...EVENT,
      version: 2,
      eventId: "",
      occurredAt: "",
      source: "",
      user: {},
    });
    const { reason } = failure(body);
    expect(reason.split("; ")).toHaveLength(5);
    expect(reason).not.toContain("more");
  });
});

describe("the eventId of a refused body", () => {
  it.each([
    ["the body", (event: object) => JSON.stringify(event)],
    ["an SNS Message", (event: object) => sns(JSON.stringify(event))],
    ["an EventBridge detail", (event: object) => eventBridge(event)],
  ])("is taken from %s when well-formed", (_name, wrap) => {
    expect(failure(wrap({ ...EVENT, action: "nope" })).eventId).toBe("hd-INC0012345-1");
    expect(failure(wrap({ eventId: "e".repeat(128) })).eventId).toBe("e".repeat(128));
  });

  it.each([
    ["empty", ""],
    ["too long", "e".repeat(129)],
    ["with a space", `hd ${CANARY}`],
    ["with a newline", "hd-1\nforged: yes"],
    ["a number", 12345],
    ["null", null],
    ["an object", { id: "hd-1" }],
  ])("is left out when it is %s", (_name, eventId) => {
    expect(failure(JSON.stringify({ ...EVENT, eventId, action: "nope" })).eventId).toBeUndefined();
  });

  it("is not taken from the envelope", () => {
    const body = JSON.stringify({ eventId: "outer-1", "detail-type": "x", detail: { nope: 1 } });
    expect(failure(body).eventId).toBeUndefined();
  });
});

describe("reasons never repeat submitted values", () => {
  const invalidValues: Record<string, unknown> = {
    version: CANARY,
    eventId: `${CANARY} x`,
    occurredAt: CANARY,
    source: `${CANARY}/x`,
    requestedBy: `${CANARY}\u0000`,
    ticketId: `${CANARY}\n`,
    action: CANARY,
    cluster: `${CANARY}/x`,
  };

  it.each(Object.keys(invalidValues))("an invalid %s", (field) => {
    const { reason } = failure(JSON.stringify({ ...EVENT, [field]: invalidValues[field] }));
    expect(reason).toMatch(new RegExp(`^${field}: `));
    expect(reason).not.toContain("CANARY");
  });

  it.each([
    ["alias", { alias: `${CANARY} x` }],
    ["objectId", { objectId: CANARY }],
    ["both", { alias: CANARY, objectId: CANARY }],
    ["unknown field", { alias: "jsmith", name: CANARY }],
  ])("an invalid user (%s)", (_name, user) => {
    expect(failure(JSON.stringify({ ...EVENT, user })).reason).not.toContain("CANARY");
  });

  it.each([
    { secretId: `${CANARY} x` },
    { secretId: "s", jsonKey: `${CANARY}\n` },
    { secretId: "s", jsonKey: 5, note: CANARY },
    { generate: CANARY },
    { generate: true, deliverTo: { secretId: `${CANARY} x` } },
    { generate: true, deliverTo: CANARY },
  ])("an invalid newCredential %j", (newCredential) => {
    expect(failure(JSON.stringify({ ...EVENT, newCredential })).reason).not.toContain("CANARY");
  });

  it("an invalid settings flag", () => {
    const body = JSON.stringify({ ...EVENT, settings: { mustChange: CANARY } });
    expect(failure(body).reason).toBe("settings.mustChange: must be true or false");
  });

  it("a credential value, at every position", () => {
    for (const body of [
      JSON.stringify({ ...EVENT, pin: CANARY }),
      JSON.stringify({ ...EVENT, user: { alias: "jsmith", password: CANARY } }),
      JSON.stringify({ ...EVENT, newCredential: { value: CANARY } }),
      sns(JSON.stringify({ ...EVENT, secretString: CANARY })),
      eventBridge({ ...EVENT, settings: { newPassword: CANARY } }),
    ]) {
      expect(failure(body).reason).not.toContain("CANARY");
    }
  });

  // valibot's default message would quote what it received.
  it("a settings value that is no object", () => {
    const body = JSON.stringify({ ...EVENT, settings: CANARY });
    expect(failure(body).reason).not.toContain("CANARY");
  });
});

describe("envelope details and hostile shapes", () => {
  // SNS puts message attributes in the envelope as { "Type", "Value" }: "Value" is no credential.
  it("accepts an SNS notification with message attributes", () => {
    const body = JSON.stringify({
      ...JSON.parse(sns(JSON.stringify(EVENT))),
      MessageAttributes: { priority: { Type: "String", Value: "high" } },
    });
    expect(parseRecordBody(body).ok).toBe(true);
  });

  // A deeply nested body (200 KB, within SQS's 256 KiB) must get a reason, not a stack overflow.
  it("refuses a deeply nested body instead of throwing", () => {
    const depth = 100_000;
    const body = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    expect(parseRecordBody(body).ok).toBe(false);
  });
});
