import { isEventId, type ResetEvent, validateResetEvent } from "./contract.ts";
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
  const eventId = wellFormedEventId(unwrapped.payload);
  const { credentialFields: carried, tooDeep, duplicateKeys } = inspectBody(json);
  if (tooDeep) {
    return { ok: false, reason: `body nests deeper than ${MAX_NESTING} levels`, eventId };
  }
  if (duplicateKeys || hasDuplicateKeys(body)) {
    return {
      ok: false,
      reason: "body repeats a key within one object; a repeated key could hide a value",
      eventId,
    };
  }
  if (carried.length > 0) {
    return {
      ok: false,
      reason: `message carries a credential value (${carried.join(", ")}); values must come from Secrets Manager`,
      eventId,
    };
  }
  const validation = validateResetEvent(unwrapped.payload);
  if (!validation.ok) {
    const shown = validation.reasons.slice(0, MAX_REASONS);
    const more = validation.reasons.length - shown.length;
    return {
      ok: false,
      reason: `${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`,
      eventId,
    };
  }
  return { ok: true, event: validation.event, envelope: unwrapped.envelope };
}

function wellFormedEventId(payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null || !("eventId" in payload)) return undefined;
  const { eventId } = payload;
  return typeof eventId === "string" && isEventId(eventId) ? eventId : undefined;
}
