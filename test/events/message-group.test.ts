import { describe, expect, it } from "vitest";
import { messageGroupOfBody, userMessageGroup } from "../../lib/events/message-group.ts";

const OBJECT_ID = "0b4e934c-dd78-4fc9-9e64-69acf166123e";

function body(overrides: Record<string, unknown>): string {
  return JSON.stringify({
    version: 1,
    eventId: "hd-INC1-1",
    occurredAt: "2026-11-28T10:00:00Z",
    source: "helpdesk",
    user: { alias: "jsmith" },
    action: "unlock-pin",
    ...overrides,
  });
}

describe("the FIFO message group of an event", () => {
  it("is the user as the event names them: the alias, or the objectId", () => {
    expect(userMessageGroup({ alias: "jsmith" })).toBe("jsmith");
    expect(userMessageGroup({ objectId: OBJECT_ID })).toBe(OBJECT_ID);
  });

  it("is in lower case: CUC compares aliases and objectIds without case", () => {
    expect(userMessageGroup({ alias: "JSmith" })).toBe("jsmith");
    expect(userMessageGroup({ objectId: OBJECT_ID.toUpperCase() })).toBe(OBJECT_ID);
  });

  it("is the same for every event of that user, whatever else differs", () => {
    expect(messageGroupOfBody(body({ eventId: "a" }))).toBe("jsmith");
    expect(messageGroupOfBody(body({ eventId: "b", cluster: "emea" }))).toBe("jsmith");
    expect(messageGroupOfBody(body({ user: { objectId: OBJECT_ID } }))).toBe(OBJECT_ID);
  });

  it("reads the event inside an SNS envelope", () => {
    const sns = JSON.stringify({
      Type: "Notification",
      TopicArn: "arn:aws:sns:eu-west-1:123456789012:resets",
      Message: body({ user: { alias: "mrossi" } }),
    });
    expect(messageGroupOfBody(sns)).toBe("mrossi");
  });

  it("is undefined for a body that is not a valid event", () => {
    expect(messageGroupOfBody("not json")).toBeUndefined();
    expect(messageGroupOfBody(body({ user: {} }))).toBeUndefined();
  });
});
