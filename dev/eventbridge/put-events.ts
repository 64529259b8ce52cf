// PutEvents' entries, checked as EventBridge checks them, and each accepted one as rules see it.
import { randomUUID } from "node:crypto";
import { fieldReaders } from "../aws-json/fields.ts";
import type { JsonObject } from "../aws-json/wire.ts";

const MAX_ENTRIES = 10;
/**
 * The most all entries of one call may weigh, as EventBridge weighs them (below). AWS raised it to
 * 1 MiB in January 2026; the stand-in keeps 256 KiB, the limit this project's SQS messages are
 * designed for, so an event that passes here passes there.
 */
export const MAX_ENTRIES_BYTES = 256 * 1024;
/** What EventBridge counts for a Time, whatever its value. */
const TIME_BYTES = 14;

const { optionalString, optionalStringList, invalid } = fieldReaders("ValidationException");

export interface RequestEntry {
  readonly source: string | undefined;
  readonly detailType: string | undefined;
  readonly detail: string | undefined;
  readonly resources: readonly string[];
  /** Epoch seconds, as the JSON protocol carries a timestamp. */
  readonly time: number | undefined;
  /** A name or an ARN, as the caller gave it; absent means the default bus. */
  readonly eventBusName: string | undefined;
}

export interface EntryFailure {
  readonly ErrorCode: string;
  readonly ErrorMessage: string;
}

/** An accepted entry as rules match it and targets receive it. */
export type EventEnvelope = {
  readonly version: "0";
  readonly id: string;
  readonly "detail-type": string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: JsonObject;
};

function entryOf(value: unknown): RequestEntry {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("Each of Entries must be an object.");
  }
  const entry = value as JsonObject;
  const time = entry.Time;
  if (time !== undefined && time !== null && !(typeof time === "number" && Number.isFinite(time))) {
    throw invalid("Time must be a timestamp (epoch seconds).");
  }
  return {
    source: optionalString(entry, "Source"),
    detailType: optionalString(entry, "DetailType"),
    detail: optionalString(entry, "Detail"),
    resources: optionalStringList(entry, "Resources") ?? [],
    time: typeof time === "number" ? time : undefined,
    eventBusName: optionalString(entry, "EventBusName"),
  };
}

/** EventBridge's own reckoning: UTF-8 bytes of Source, DetailType, Detail and Resources, 14 for Time. */
function sizeOf(entry: RequestEntry): number {
  const texts = [entry.source, entry.detailType, entry.detail, ...entry.resources];
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text ?? ""), 0);
  return bytes + (entry.time === undefined ? 0 : TIME_BYTES);
}

/** The call's entries, or the ValidationException with which AWS refuses the whole call. */
export function requestEntries(input: JsonObject): RequestEntry[] {
  const entries = input.Entries;
  const constraint = (value: string, rule: string) =>
    invalid(
      `1 validation error detected: Value ${value} at 'entries' failed to satisfy constraint: Member must ${rule}`,
    );
  if (entries === undefined || entries === null) throw constraint("null", "not be null");
  if (!Array.isArray(entries)) throw invalid("Entries must be a list.");
  // AWS prints the entries themselves where the stand-in prints their count.
  const value = `'[${entries.length} entries]'`;
  if (entries.length < 1) throw constraint(value, "have length greater than or equal to 1");
  if (entries.length > MAX_ENTRIES) {
    throw constraint(value, `have length less than or equal to ${MAX_ENTRIES}`);
  }
  const parsed = entries.map(entryOf);
  if (parsed.reduce((sum, entry) => sum + sizeOf(entry), 0) > MAX_ENTRIES_BYTES) {
    throw invalid("Total size of the entries in the request is over the limit.");
  }
  return parsed;
}

function required(field: string): EntryFailure {
  return {
    ErrorCode: "InvalidArgument",
    ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
  };
}

/** The parsed Detail, or the failure AWS answers the entry with while the call succeeds. */
export type DetailCheck = { readonly detail: JsonObject } | { readonly failure: EntryFailure };

export function detailOf(entry: RequestEntry): DetailCheck {
  if (!entry.source) return { failure: required("Source") };
  if (!entry.detailType) return { failure: required("DetailType") };
  if (!entry.detail) return { failure: required("Detail") };
  const malformed = {
    failure: { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
  };
  let detail: unknown;
  try {
    detail = JSON.parse(entry.detail);
  } catch {
    return malformed;
  }
  // A string, a number or an array is valid JSON, and still malformed as a Detail.
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) return malformed;
  return { detail: detail as JsonObject };
}

/** Whole seconds, as EventBridge writes an event's time. */
function timeText(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function envelopeOf(
  entry: RequestEntry,
  detail: JsonObject,
  origin: { region: string; accountId: string },
): EventEnvelope {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": entry.detailType ?? "",
    source: entry.source ?? "",
    account: origin.accountId,
    time: timeText(entry.time === undefined ? Date.now() : entry.time * 1000),
    region: origin.region,
    resources: entry.resources,
    detail,
  };
}
