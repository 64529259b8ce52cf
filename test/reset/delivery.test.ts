// The delivery secret's documents as a value goes pending → applied, not-applied or superseded,
// against an in-memory store: what is overwritten, and what is left alone.
import { describe, expect, it } from "vitest";
import { type ResetEvent, validateResetEvent } from "../../lib/events/contract.ts";
import { confirmDelivery, pendingDocument, withdrawSuperseded } from "../../lib/reset/delivery.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";

const SECRET = "cupi-reset/delivery/helpdesk/INC1";

function resetEvent(eventId: string): ResetEvent {
  const result = validateResetEvent({
    version: 1,
    eventId,
    occurredAt: "2026-12-06T10:00:00Z",
    source: "helpdesk",
    ticketId: "INC1",
    user: { alias: "jsmith" },
    action: "reset-pin",
    newCredential: { generate: true, deliverTo: { secretId: SECRET } },
  });
  if (!result.ok) throw new Error(result.reasons.join("; "));
  return result.event;
}

/** One secret's versions, newest last. */
function store(initial: SecretValue) {
  const versions = [initial.reveal()];
  return {
    versions,
    current: () => JSON.parse(versions.at(-1) ?? "{}") as Record<string, unknown>,
    fresh: async () => new SecretValue(versions.at(-1) ?? ""),
    put: async (_secretId: string, value: SecretValue) => {
      versions.push(value.reveal());
    },
  };
}

const event = resetEvent("hd-INC1-1");

describe("delivery documents", () => {
  it("confirms this event's pending value as applied, read back when this delivery has none", async () => {
    const secrets = store(pendingDocument(event, "pin", new SecretValue("480917")));
    await confirmDelivery(secrets, SECRET, event, "pin", undefined);
    expect(secrets.current()).toEqual({
      status: "applied",
      pin: "480917",
      eventId: "hd-INC1-1",
      ticketId: "INC1",
      appliedAt: expect.any(String),
    });
  });

  it("leaves another event's pending value alone when confirming without a value", async () => {
    const secrets = store(pendingDocument(resetEvent("hd-INC1-2"), "pin", new SecretValue("1")));
    await confirmDelivery(secrets, SECRET, event, "pin", undefined);
    expect(secrets.versions).toHaveLength(1);
  });

  it("withdraws this event's pending value as superseded, without the value", async () => {
    const secrets = store(pendingDocument(event, "pin", new SecretValue("480917")));
    await withdrawSuperseded(secrets, SECRET, event, ["pin"]);
    expect(secrets.current()).toEqual({
      status: "superseded",
      eventId: "hd-INC1-1",
      ticketId: "INC1",
      writtenAt: expect.any(String),
    });
    expect(secrets.versions.at(-1)).not.toContain("480917");
  });

  it("does not withdraw another event's value, nor a value of another credential", async () => {
    const other = store(pendingDocument(resetEvent("hd-INC1-2"), "pin", new SecretValue("1")));
    await withdrawSuperseded(other, SECRET, event, ["pin"]);
    expect(other.versions).toHaveLength(1);
    const password = store(pendingDocument(event, "password", new SecretValue("Pw-1")));
    await withdrawSuperseded(password, SECRET, event, ["pin"]);
    expect(password.versions).toHaveLength(1);
  });
});
