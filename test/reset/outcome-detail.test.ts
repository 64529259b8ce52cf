import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { sqsRecord } from "../../dev/sqs/lambda-event.ts";
import { validateResetEvent } from "../../lib/events/contract.ts";
import { ERROR_CODES, type ErrorCode } from "../../lib/outcome/failures.ts";
import { OUTCOME_DETAIL_TYPES } from "../../lib/outcome/outcome-event.ts";
import { outcomeEventOf } from "../../lib/reset/outcome-detail.ts";
import type { AttemptEffects } from "../../lib/reset/record-outcome.ts";

const schema = JSON.parse(
  readFileSync(new URL("../../schemas/reset-outcome.v1.schema.json", import.meta.url), "utf8"),
) as { properties: { errorCode: { enum: string[] } } };
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);
const QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:cupi-reset";
const SETTLED = new Date("2026-12-06T10:00:05.000Z");

function parsedEvent(overrides: Record<string, unknown> = {}) {
  const result = validateResetEvent({
    version: 1,
    eventId: "hd-INC1-1",
    occurredAt: "2026-12-06T10:00:00Z",
    source: "helpdesk",
    requestedBy: "agent@example.com",
    ticketId: "INC1",
    user: { alias: "jsmith" },
    action: "reset-pin",
    newCredential: { generate: true, deliverTo: { secretId: "cupi-reset/delivery/INC1" } },
    ...overrides,
  });
  if (!result.ok) throw new Error(result.reasons.join("; "));
  return result.event;
}

const resolved = { alias: "jsmith", objectId: "11111111-2222-3333-4444-555555555555" };
const pinChanged = [{ credential: "pin" as const, fields: ["Credentials", "CredMustChange"] }];
const effects = (changed = pinChanged): AttemptEffects => ({
  user: resolved,
  changed: [...changed],
  recorded: true,
});

function expectValid(detail: unknown): void {
  const valid = validate(detail);
  expect(validate.errors ?? [], JSON.stringify(detail)).toEqual([]);
  expect(valid).toBe(true);
}

describe("outcome events (contract v1)", () => {
  it("an applied event names the resolved user, the fields changed and the delivery secret", () => {
    const event = parsedEvent();
    const { detailType, detail } = outcomeEventOf(
      sqsRecord("m-1", event, QUEUE_ARN, 2),
      {
        status: "applied",
        event,
        applied: {
          ...resolved,
          appliedAt: "2026-12-06T10:00:04.000Z",
          fieldsChanged: pinChanged,
          duplicate: false,
        },
        effects: effects(),
      },
      SETTLED,
    );
    expect(detailType).toBe("Credential Reset Applied");
    expect(detail).toEqual({
      version: 1,
      eventId: "hd-INC1-1",
      sourceMessageId: "m-1",
      ticketId: "INC1",
      requestedBy: "agent@example.com",
      source: "helpdesk",
      action: "reset-pin",
      user: resolved,
      outcome: "applied",
      fieldsChanged: pinChanged,
      deliveredTo: "cupi-reset/delivery/INC1",
      appliedAt: "2026-12-06T10:00:04.000Z",
      occurredAt: "2026-12-06T10:00:00Z",
      settledAt: "2026-12-06T10:00:05.000Z",
      receiveCount: 2,
      duplicate: false,
    });
    expectValid(detail);
  });

  it("a duplicate reports what the first delivery changed and when, not this delivery's nothing", () => {
    const event = parsedEvent({ newCredential: { secretId: "cupi-reset/resets/x" } });
    const { detail } = outcomeEventOf(
      sqsRecord("m-2", event, QUEUE_ARN, 3),
      {
        status: "applied",
        event,
        applied: {
          ...resolved,
          appliedAt: "2026-12-06T09:00:00.000Z",
          fieldsChanged: pinChanged,
          duplicate: true,
        },
        effects: effects([]),
      },
      SETTLED,
    );
    expect(detail).toMatchObject({
      duplicate: true,
      fieldsChanged: pinChanged,
      appliedAt: "2026-12-06T09:00:00.000Z",
    });
    expect(detail).not.toHaveProperty("deliveredTo");
    expectValid(detail);
  });

  it("an idempotency record written before fieldsChanged was kept reports an empty list", () => {
    const event = parsedEvent({ action: "unlock-pin", newCredential: undefined });
    const { detail } = outcomeEventOf(
      sqsRecord("m-3", event, QUEUE_ARN),
      {
        status: "applied",
        event,
        applied: { ...resolved, appliedAt: "2026-12-06T09:00:00.000Z", duplicate: true },
      },
      SETTLED,
    );
    expect(detail.fieldsChanged).toEqual([]);
    expectValid(detail);
  });

  it.each([
    ["USER_NOT_FOUND", "Credential Reset Failed", "failed"],
    ["RETRIES_EXHAUSTED", "Credential Reset Failed", "failed"],
    ["ACTION_NOT_ALLOWED", "Credential Reset Refused", "refused"],
    ["STALE_EVENT", "Credential Reset Refused", "refused"],
  ] as const)("%s is announced as %s", (code, detailType, kind) => {
    const event = parsedEvent();
    const announced = outcomeEventOf(
      sqsRecord("m-4", event, QUEUE_ARN),
      {
        status: "dead-lettered",
        code,
        reason: `because of ${code}`,
        event,
        eventId: event.eventId,
        effects: { user: undefined, changed: [], recorded: true },
      },
      SETTLED,
    );
    expect(announced.detailType).toBe(detailType);
    expect(announced.detail).toMatchObject({
      outcome: kind,
      errorCode: code,
      reason: `because of ${code}`,
      // Never looked up: the user as the event named it.
      user: { alias: "jsmith" },
      duplicate: false,
    });
    // A failure hands out no value: the delivery secret is not named.
    expect(announced.detail).not.toHaveProperty("deliveredTo");
    expectValid(announced.detail);
  });

  it("a failure after a first change says what was changed", () => {
    const event = parsedEvent({ action: "offboard", newCredential: undefined });
    const { detail } = outcomeEventOf(
      sqsRecord("m-5", event, QUEUE_ARN),
      {
        status: "dead-lettered",
        code: "CREDENTIAL_REJECTED",
        reason: "password refused",
        event,
        eventId: event.eventId,
        effects: effects(),
      },
      SETTLED,
    );
    expect(detail).toMatchObject({ user: resolved, fieldsChanged: pinChanged });
    expectValid(detail);
  });

  it("an unparseable body is announced by its message id, without an eventId", () => {
    const { detailType, detail } = outcomeEventOf(
      sqsRecord("m-6", "{not json", QUEUE_ARN),
      {
        status: "dead-lettered",
        code: "INVALID_EVENT",
        reason: "body is not JSON",
        event: undefined,
        eventId: undefined,
      },
      SETTLED,
    );
    expect(detailType).toBe("Credential Reset Failed");
    expect(detail).toEqual({
      version: 1,
      sourceMessageId: "m-6",
      outcome: "failed",
      errorCode: "INVALID_EVENT",
      reason: "body is not JSON",
      fieldsChanged: [],
      settledAt: "2026-12-06T10:00:05.000Z",
      receiveCount: 1,
      duplicate: false,
    });
    expectValid(detail);
  });

  it("the schema knows every error code, and refuses what the contract rules out", () => {
    expect(new Set(schema.properties.errorCode.enum)).toEqual(new Set<ErrorCode>(ERROR_CODES));
    expect(Object.values(OUTCOME_DETAIL_TYPES)).toHaveLength(3);
    const failed = {
      version: 1,
      sourceMessageId: "m",
      outcome: "failed",
      errorCode: "USER_NOT_FOUND",
      reason: "r",
      fieldsChanged: [],
      settledAt: "2026-12-06T10:00:05.000Z",
      receiveCount: 1,
      duplicate: false,
    };
    expect(validate(failed)).toBe(true);
    expect(validate({ ...failed, errorCode: "STALE_EVENT" })).toBe(false);
    expect(validate({ ...failed, outcome: "refused" })).toBe(false);
    expect(validate({ ...failed, reason: undefined })).toBe(false);
    expect(validate({ ...failed, pin: "1234" })).toBe(false);
    expect(
      validate({ ...failed, outcome: "applied", errorCode: undefined, reason: undefined }),
    ).toBe(false);
  });
});
