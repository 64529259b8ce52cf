// Delivering a generated value: which secret an event names, and the documents written there as
// the value goes from pending (written, not yet taken by CUC) to applied, or not-applied.
import type { CredentialKind } from "../cupi/types.ts";
import type { ResetEvent } from "../events/contract.ts";
import type { SecretStore } from "../secrets/secret-store.ts";
import { SecretValue } from "../secrets/secret-value.ts";

export function deliveryTarget(event: ResetEvent): string | undefined {
  const source = event.newCredential;
  return source !== undefined && "generate" in source ? source.deliverTo?.secretId : undefined;
}

/**
 * Written before the PUT, so that a value CUC takes is never lost with a killed container; marked
 * pending so that nobody hands it out as working yet.
 */
export function pendingDocument(
  event: ResetEvent,
  kind: CredentialKind,
  value: SecretValue,
): SecretValue {
  return document(event, { status: "pending", [kind]: value.reveal() }, "writtenAt");
}

/** Written once CUC took the value: the one document a helpdesk may hand out. */
export function appliedDocument(
  event: ResetEvent,
  kind: CredentialKind,
  value: SecretValue,
): SecretValue {
  return document(event, { status: "applied", [kind]: value.reveal() }, "appliedAt");
}

/** Replaces a pending value CUC never took: nothing to hand out; a retry delivers a new one. */
export function notAppliedDocument(event: ResetEvent): SecretValue {
  return document(event, { status: "not-applied" }, "writtenAt");
}

/** Replaces a value CUC took but a newer event has since replaced: it no longer works. */
export function supersededDocument(event: ResetEvent): SecretValue {
  return document(event, { status: "superseded" }, "writtenAt");
}

function document(
  event: ResetEvent,
  content: Record<string, string>,
  timeField: "writtenAt" | "appliedAt",
): SecretValue {
  return new SecretValue(
    JSON.stringify({
      ...content,
      eventId: event.eventId,
      ...(event.ticketId === undefined ? {} : { ticketId: event.ticketId }),
      [timeField]: new Date().toISOString(),
    }),
  );
}

/**
 * Marks the delivered value applied once CUC took it. `value` is this delivery's own; without it
 * (an earlier delivery's PUT landed, and this one generated nothing that CUC took) the pending
 * document that delivery wrote is read back and confirmed. Anything else in the secret (another
 * event's value, one already confirmed) is left as it is.
 */
export async function confirmDelivery(
  secrets: Pick<SecretStore, "fresh" | "put">,
  secretId: string,
  event: ResetEvent,
  kind: CredentialKind,
  value: SecretValue | undefined,
): Promise<void> {
  const landed = value ?? pendingValueOf(await secrets.fresh(secretId), event, kind);
  if (landed !== undefined) await secrets.put(secretId, appliedDocument(event, kind, landed));
}

/**
 * An earlier delivery's value landed, but a newer event has since changed the credential: the
 * pending value it left is withdrawn as superseded. Anything else in the secret is left alone.
 */
export async function withdrawSuperseded(
  secrets: Pick<SecretStore, "fresh" | "put">,
  secretId: string,
  event: ResetEvent,
  kinds: readonly CredentialKind[],
): Promise<void> {
  const stored = await secrets.fresh(secretId);
  if (kinds.some((kind) => pendingValueOf(stored, event, kind) !== undefined)) {
    await secrets.put(secretId, supersededDocument(event));
  }
}

function pendingValueOf(
  stored: SecretValue,
  event: ResetEvent,
  kind: CredentialKind,
): SecretValue | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored.reveal());
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  const value = fields[kind];
  return fields.status === "pending" &&
    fields.eventId === event.eventId &&
    typeof value === "string"
    ? new SecretValue(value)
    : undefined;
}
