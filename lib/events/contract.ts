import * as v from "valibot";
import { isAlias, isObjectId } from "../cupi/identifiers.ts";

/**
 * Event contract v1: the SQS message body that helpdesk and HR systems send. The contract is
 * closed — an unknown field is refused rather than ignored, so a misspelt `mustChange` cannot
 * silently become a reset without it. `schemas/reset-event.v1.schema.json` is the same contract in
 * JSON Schema for producers.
 */
export const ACTIONS = [
  "reset-pin",
  "reset-password",
  "update-pin-settings",
  "update-password-settings",
  "unlock-pin",
  "unlock-password",
  "offboard",
] as const;

export type Action = (typeof ACTIONS)[number];

const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export function isEventId(value: string): boolean {
  return EVENT_ID.test(value);
}

const SOURCE = /^[A-Za-z0-9._:-]{1,64}$/;
export function isSource(value: string): boolean {
  return SOURCE.test(value);
}

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}
// RFC 3339 date-time: a time zone is mandatory, fractions optional.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
// A Secrets Manager name (letters, digits, /_+=.@-) or a full secret ARN.
const SECRET_ID =
  /^(?:[A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$/;
const CLUSTER = /^[A-Za-z0-9._-]{1,64}$/;
// Free text that ends up in logs and DLQ attributes: printable, one line.
const NO_CONTROL_CHARACTERS = /^\P{Cc}*$/u;

export function isClusterName(value: string): boolean {
  return CLUSTER.test(value);
}

/**
 * Checks each part by number: the pattern lets through what the calendar and the clock do not
 * (February 30, 24:00, an offset of +99:00), and Date.parse is too lenient to tell.
 */
function isRealDateTime(value: string): boolean {
  const parts = RFC3339.exec(value)
    ?.slice(1)
    .map((part) => (part === undefined ? 0 : Number(part)));
  if (parts === undefined) return false;
  const [
    year = 0,
    month = 0,
    day = 0,
    hour = 0,
    minute = 0,
    second = 0,
    offsetHour = 0,
    offsetMinute = 0,
  ] = parts;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59
  );
}

/**
 * The message of a closed object: says which field is unknown or missing, and never quotes a
 * submitted value (it could be a credential sent by mistake).
 */
const closedObject =
  (name: string, shape: string) =>
  (issue: v.BaseIssue<unknown>): string =>
    issue.expected === "never"
      ? `is not a field of ${name}`
      : issue.received === "undefined" && issue.path !== undefined
        ? "is required"
        : `must be ${shape}`;

const secretId = v.pipe(
  v.string("must be a string"),
  v.regex(SECRET_ID, "must be a Secrets Manager secret name or ARN"),
);

// Lengths in code points, as JSON Schema counts them, not UTF-16 units.
const text = (maxLength: number) =>
  v.pipe(
    v.string("must be a string"),
    v.minLength(1, "must not be empty"),
    v.check((value) => [...value].length <= maxLength, `must be at most ${maxLength} characters`),
    v.regex(NO_CONTROL_CHARACTERS, "must not contain control characters"),
  );

const userSchema = v.union(
  [
    v.strictObject({
      objectId: v.pipe(
        v.string("must be a string"),
        v.check(isObjectId, "must be a 36-character GUID"),
      ),
    }),
    v.strictObject({
      alias: v.pipe(
        v.string("must be a string"),
        v.check(
          isAlias,
          "must be 1-64 letters, digits or . _ - @, starting with a letter or digit",
        ),
      ),
    }),
  ],
  'must be exactly one of { "objectId": "<GUID>" } or { "alias": "<alias>" }',
);

const newCredentialSchema = v.union(
  [
    v.strictObject({
      secretId,
      jsonKey: v.optional(text(256)),
    }),
    v.strictObject({
      generate: v.literal(true, "must be true"),
      deliverTo: v.optional(
        v.strictObject(
          { secretId },
          closedObject("deliverTo", '{ "secretId": "<secret name or ARN>" }'),
        ),
      ),
    }),
  ],
  'must be exactly one of { "secretId", "jsonKey"? } or { "generate": true, "deliverTo"? }',
);

const flag = v.optional(v.boolean("must be true or false"));

const settingsSchema = v.pipe(
  v.strictObject(
    {
      cantChange: flag,
      mustChange: flag,
      doesntExpire: flag,
      locked: flag,
    },
    closedObject("settings", "an object of true/false settings"),
  ),
  v.check((settings) => Object.keys(settings).length > 0, "must set at least one setting"),
);

const RESETS: ReadonlySet<Action> = new Set(["reset-pin", "reset-password"]);
const SETTINGS_ONLY: ReadonlySet<Action> = new Set([
  "update-pin-settings",
  "update-password-settings",
]);
const UNLOCKS: ReadonlySet<Action> = new Set(["unlock-pin", "unlock-password"]);

export const resetEventSchema = v.pipe(
  v.strictObject(
    {
      version: v.literal(1, "must be 1"),
      eventId: v.pipe(
        v.string("must be a string"),
        v.regex(EVENT_ID, "must be 1-128 characters of A-Z a-z 0-9 . _ : -"),
      ),
      occurredAt: v.pipe(
        v.string("must be a string"),
        v.regex(RFC3339, "must be an RFC 3339 date-time with a time zone"),
        v.check(isRealDateTime, "must be a real date and time"),
      ),
      source: v.pipe(
        v.string("must be a string"),
        v.regex(SOURCE, "must be 1-64 characters of A-Z a-z 0-9 . _ : -"),
      ),
      requestedBy: v.optional(text(256)),
      ticketId: v.optional(text(128)),
      user: userSchema,
      action: v.picklist(ACTIONS, `must be one of ${ACTIONS.join(", ")}`),
      newCredential: v.optional(newCredentialSchema),
      settings: v.optional(settingsSchema),
      cluster: v.optional(
        v.pipe(v.string("must be a string"), v.regex(CLUSTER, "must be 1-64 of A-Z a-z 0-9 . _ -")),
      ),
    },
    closedObject("event contract v1", "a JSON object (event contract v1)"),
  ),
  v.forward(
    v.check(
      (event) => !RESETS.has(event.action) || event.newCredential !== undefined,
      "is required for reset-pin and reset-password",
    ),
    ["newCredential"],
  ),
  v.forward(
    v.check(
      (event) => RESETS.has(event.action) || event.newCredential === undefined,
      "is only allowed with reset-pin and reset-password",
    ),
    ["newCredential"],
  ),
  v.forward(
    v.check(
      (event) => !SETTINGS_ONLY.has(event.action) || event.settings !== undefined,
      "is required for update-pin-settings and update-password-settings",
    ),
    ["settings"],
  ),
  v.forward(
    v.check(
      (event) => !UNLOCKS.has(event.action) || event.settings?.locked !== true,
      "cannot lock the credential that an unlock action unlocks",
    ),
    ["settings"],
  ),
  v.forward(
    v.check(
      (event) => event.action !== "offboard" || event.settings === undefined,
      "is not allowed with offboard, which always locks and sets cantChange",
    ),
    ["settings"],
  ),
);

export type ResetEvent = v.InferOutput<typeof resetEventSchema>;
export type UserRef = ResetEvent["user"];
export type NewCredential = NonNullable<ResetEvent["newCredential"]>;
export type CredentialSettings = NonNullable<ResetEvent["settings"]>;

/** Validates a parsed body; the reasons name fields and rules, never the values. */
export function validateResetEvent(
  input: unknown,
): { ok: true; event: ResetEvent } | { ok: false; reasons: string[] } {
  // valibot takes an array for an object with every field missing; say what is really wrong.
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, reasons: ["must be a JSON object (event contract v1)"] };
  }
  const result = v.safeParse(resetEventSchema, input, { abortPipeEarly: true });
  if (result.success) return { ok: true, event: result.output };
  return {
    ok: false,
    reasons: result.issues.map((issue) => {
      const path = v.getDotPath(issue);
      return path === null ? issue.message : `${path}: ${issue.message}`;
    }),
  };
}
