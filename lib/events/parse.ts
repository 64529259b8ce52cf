import {
  type Action,
  isAction,
  isEventId,
  isSource,
  type ResetEvent,
  validateResetEvent,
} from "./contract.ts";
import { type Envelope, unwrapEnvelope } from "./envelope.ts";
import { hasDuplicateKeys, inspectBody, MAX_NESTING } from "./plaintext.ts";

export type ParsedRecord =
  | { ok: true; event: ResetEvent; envelope: Envelope }
  | {
      ok: false;
      /** Specific and free of values: which field, which rule. */
      reason: string;
      /** The producer's eventId when the body has a well-formed one, for the DLQ. */
      eventId: string | undefined;
      /** Its source and action when well-formed, for an operator reading the DLQ. */
      source?: string | undefined;
      action?: Action | undefined;
    };

const MAX_REASONS = 5;

/** From an SQS message body to a valid v1 event, or the reason it is not one. */
export function parseRecordBody(body: string): ParsedRecord {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: "body is not valid JSON", eventId: undefined };
  }
  const unwrapped = unwrapEnvelope(json);
  if (!unwrapped.ok) return { ok: false, reason: unwrapped.reason, eventId: undefined };
  const known = wellFormedFields(unwrapped.payload);
  const refused = (reason: string): ParsedRecord => ({ ok: false, reason, ...known });
  const { credentialFields: carried, tooDeep, duplicateKeys } = inspectBody(json);
  if (tooDeep) {
    return refused(`body nests deeper than ${MAX_NESTING} levels`);
  }
  if (duplicateKeys || hasDuplicateKeys(body)) {
    return refused("body repeats a key within one object; a repeated key could hide a value");
  }
  if (carried.length > 0) {
    return refused(
      `message carries a credential value (${carried.join(", ")}); values must come from Secrets Manager`,
    );
  }
  const validation = validateResetEvent(unwrapped.payload);
  if (!validation.ok) {
    const shown = validation.reasons.slice(0, MAX_REASONS);
    const more = validation.reasons.length - shown.length;
    return refused(`${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`);
  }
  return { ok: true, event: validation.event, envelope: unwrapped.envelope };
}

/**
 * The fields an operator finds a message by, each only when well-formed: never a free-text value,
 * which could be a credential sent by mistake.
 */
function wellFormedFields(payload: unknown): {
  eventId: string | undefined;
  source: string | undefined;
  action: Action | undefined;
} {
  const field = (name: string, isWellFormed: (value: string) => boolean): string | undefined => {
    if (typeof payload !== "object" || payload === null || !(name in payload)) return undefined;
    const value = (payload as Record<string, unknown>)[name];
    return typeof value === "string" && isWellFormed(value) ? value : undefined;
  };
  return {
    eventId: field("eventId", isEventId),
    source: field("source", isSource),
    action: field("action", isAction) as Action | undefined,
  };
}
