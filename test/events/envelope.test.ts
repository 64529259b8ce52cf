import { describe, expect, it } from "vitest";
import { unwrapEnvelope } from "../../lib/events/envelope.ts";

const EVENT = {
  version: 1,
  eventId: "hd-INC0012345-1",
  occurredAt: "2026-11-28T10:00:00Z",
  source: "helpdesk",
  user: { alias: "jsmith" },
  action: "unlock-pin",
};

/** An SNS notification as SQS receives it with raw message delivery off. */
function snsNotification(message: unknown): Record<string, unknown> {
  return {
    Type: "Notification",
    MessageId: "5d3c0b1e-8f7a-5c2b-9e4d-0a1b2c3d4e5f",
    TopicArn: "arn:aws:sns:us-east-1:123456789012:cupi-reset-requests",
    Message: message,
    Timestamp: "2026-11-28T10:00:00.123Z",
    SignatureVersion: "1",
    Signature: "EXAMPLE",
    SigningCertURL: "https://sns.us-east-1.amazonaws.com/cert.pem",
    UnsubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
  };
}

/** An EventBridge event as an SQS target receives it. */
function eventBridgeEvent(detail: unknown): Record<string, unknown> {
  return {
    version: "0",
    id: "a1b2c3d4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
    "detail-type": "Credential Reset Requested",
    source: "com.example.helpdesk",
    account: "123456789012",
    time: "2026-11-28T10:00:00Z",
    region: "us-east-1",
    resources: [],
    detail,
  };
}

describe("a plain SQS body", () => {
  it("is the event itself", () => {
    const body = { ...EVENT };
    const unwrapped = unwrapEnvelope(body);
    expect(unwrapped).toEqual({ ok: true, envelope: "sqs", payload: EVENT });
    expect(unwrapped.ok && unwrapped.payload).toBe(body);
  });

  it.each([null, "text", 42, true, [EVENT]])(
    "passes %j through for validation to refuse",
    (body) => {
      expect(unwrapEnvelope(body)).toEqual({ ok: true, envelope: "sqs", payload: body });
    },
  );
});

describe("SNS (raw message delivery off)", () => {
  it("parses the event out of the Message string", () => {
    expect(unwrapEnvelope(snsNotification(JSON.stringify(EVENT)))).toEqual({
      ok: true,
      envelope: "sns",
      payload: EVENT,
    });
  });

  it("hands on whatever JSON the Message holds, for validation to judge", () => {
    expect(unwrapEnvelope(snsNotification("null"))).toEqual({
      ok: true,
      envelope: "sns",
      payload: null,
    });
    expect(unwrapEnvelope(snsNotification("[1]"))).toEqual({
      ok: true,
      envelope: "sns",
      payload: [1],
    });
  });

  it.each([
    ["an object", EVENT],
    ["a number", 1],
    ["null", null],
  ])("refuses a Message that is %s", (_name, message) => {
    expect(unwrapEnvelope(snsNotification(message))).toEqual({
      ok: false,
      envelope: "sns",
      reason: "SNS Message must be a string",
    });
  });

  it.each(["not json", "{", "", '{"eventId":"CANARY-sns-1",'])(
    "refuses a Message that is not JSON (%j) without quoting it",
    (message) => {
      const unwrapped = unwrapEnvelope(snsNotification(message));
      expect(unwrapped).toEqual({
        ok: false,
        envelope: "sns",
        reason: "SNS Message is not valid JSON",
      });
    },
  );

  it("needs Type Notification, a TopicArn string and a Message to be SNS", () => {
    const sns = snsNotification(JSON.stringify(EVENT));
    const { Message: _message, ...withoutMessage } = sns;
    const { TopicArn: _topic, ...withoutTopic } = sns;
    for (const body of [
      { ...sns, Type: "SubscriptionConfirmation" },
      { ...sns, TopicArn: 5 },
      withoutTopic,
      withoutMessage,
    ]) {
      expect(unwrapEnvelope(body)).toEqual({ ok: true, envelope: "sqs", payload: body });
    }
  });

  it("takes an SNS notification for SNS even when it also looks like EventBridge", () => {
    const body = { ...snsNotification(JSON.stringify(EVENT)), "detail-type": "x", detail: {} };
    expect(unwrapEnvelope(body)).toEqual({ ok: true, envelope: "sns", payload: EVENT });
  });
});

describe("EventBridge", () => {
  it("takes the event from detail", () => {
    const detail = { ...EVENT };
    const unwrapped = unwrapEnvelope(eventBridgeEvent(detail));
    expect(unwrapped).toEqual({ ok: true, envelope: "eventbridge", payload: EVENT });
    expect(unwrapped.ok && unwrapped.payload).toBe(detail);
  });

  it("hands on a detail that is no event, for validation to refuse", () => {
    expect(unwrapEnvelope(eventBridgeEvent(null))).toEqual({
      ok: true,
      envelope: "eventbridge",
      payload: null,
    });
    expect(unwrapEnvelope(eventBridgeEvent(JSON.stringify(EVENT)))).toEqual({
      ok: true,
      envelope: "eventbridge",
      payload: JSON.stringify(EVENT),
    });
  });

  it("needs both detail-type and detail", () => {
    const event = eventBridgeEvent(EVENT);
    const { detail: _detail, ...withoutDetail } = event;
    const { "detail-type": _type, ...withoutType } = event;
    for (const body of [withoutDetail, withoutType]) {
      expect(unwrapEnvelope(body)).toEqual({ ok: true, envelope: "sqs", payload: body });
    }
  });
});
