import fc from "fast-check";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCredentialXml, CredentialXmlError } from "../../lib/cupi/credential-xml.ts";
import {
  isAlias,
  isObjectId,
  requireAlias,
  requireObjectId,
  UnsafeIdentifierError,
  vmrestPath,
} from "../../lib/cupi/identifiers.ts";
import { CupiClient, CupiError } from "../../lib/cupi/index.ts";
import type { CredentialUpdate } from "../../lib/cupi/types.ts";
import { ACTIONS, validateResetEvent } from "../../lib/events/contract.ts";
import { unwrapEnvelope } from "../../lib/events/envelope.ts";
import { parseRecordBody } from "../../lib/events/parse.ts";
import { inspectBody, scrubBody } from "../../lib/events/plaintext.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";
import { type StubServer, startStubServer } from "../helpers/stub-server.ts";

/**
 * Issue 5, "Hostile input": whatever arrives in a message body, the parser answers with a valid
 * event or a reason (never an exception, never a polluted prototype, never a quoted value);
 * identifiers cannot change a CUPI URL; the credential XML carries exactly the value given; the
 * DLQ copy of a body never keeps a credential value.
 */

const RUNS = 2_000;
const SQS_MAX_BODY_BYTES = 262_144;

// ---------------------------------------------------------------------------------------------
// Strings

const ALNUM = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"];
const alnum = fc.constantFrom(...ALNUM);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const controlCharacter = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom("\u2028", "\u2029", "\u200b", "\u200e", "\u202e", "\ufeff", "\ufffe", "\uffff"),
);
/** Any UTF-16 unit sequence: any code point, lone surrogates, control and format characters. */
const hostileUnit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: controlCharacter },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 2, arbitrary: fc.constantFrom('"', "\\", "{", "}", "[", "]", ":", ",", "/", "%") },
);
const hostileString = (maxLength = 24) => fc.string({ unit: hostileUnit, maxLength });

/**
 * Canary values: every string value the parser properties submit is wrapped in these markers, so
 * a reason that quotes (more than 3 characters of) a submitted value is caught.
 */
const CANARY_START = "Cnry";
const CANARY_END = "yrnC";
const CANARY_MARK = /Cnry|yrnC/;
const canaryToken = fc
  .string({ unit: alnum, minLength: 4, maxLength: 12 })
  .map((token) => `${CANARY_START}${token}`);
const canaryText = hostileString().map((text) => `${CANARY_START}${text}${CANARY_END}`);

// ---------------------------------------------------------------------------------------------
// JSON documents with any keys (own `__proto__` included), duplicates and JSON held in strings

class Obj {
  readonly entries: Array<[string, Doc]>;
  constructor(entries: Array<[string, Doc]>) {
    this.entries = entries;
  }
}
/** A string value holding the JSON text of a document, as an SNS `Message` does. */
class Embedded {
  readonly doc: Doc;
  constructor(doc: Doc) {
    this.doc = doc;
  }
}
type Doc = string | number | boolean | null | Doc[] | Obj | Embedded;

function serialize(doc: Doc): string {
  if (doc instanceof Obj) {
    return `{${doc.entries.map(([key, value]) => `${JSON.stringify(key)}:${serialize(value)}`).join(",")}}`;
  }
  if (doc instanceof Embedded) return JSON.stringify(serialize(doc.doc));
  if (Array.isArray(doc)) return `[${doc.map(serialize).join(",")}]`;
  return JSON.stringify(doc);
}

function toDoc(value: unknown): Doc {
  if (Array.isArray(value)) return value.map(toDoc);
  if (typeof value === "object" && value !== null) {
    return new Obj(Object.entries(value).map(([key, child]) => [key, toDoc(child)]));
  }
  return value as Doc;
}

/** Every string value submitted, at any depth, also inside embedded JSON. */
function submittedStrings(doc: Doc, into: string[] = []): string[] {
  if (typeof doc === "string") into.push(doc);
  else if (doc instanceof Embedded) {
    into.push(serialize(doc.doc));
    submittedStrings(doc.doc, into);
  } else if (doc instanceof Obj) for (const [, value] of doc.entries) submittedStrings(value, into);
  else if (Array.isArray(doc)) for (const value of doc) submittedStrings(value, into);
  return into;
}

function objectsIn(doc: Doc, into: Obj[] = []): Obj[] {
  if (doc instanceof Obj) {
    into.push(doc);
    for (const [, value] of doc.entries) objectsIn(value, into);
  } else if (doc instanceof Embedded) objectsIn(doc.doc, into);
  else if (Array.isArray(doc)) for (const value of doc) objectsIn(value, into);
  return into;
}

const POLLUTION_KEYS = ["__proto__", "constructor", "prototype"] as const;
const CONTRACT_FIELDS = [
  "version",
  "eventId",
  "occurredAt",
  "source",
  "requestedBy",
  "ticketId",
  "user",
  "alias",
  "objectId",
  "action",
  "newCredential",
  "secretId",
  "jsonKey",
  "generate",
  "deliverTo",
  "settings",
  "cantChange",
  "mustChange",
  "doesntExpire",
  "locked",
  "cluster",
  "Type",
  "TopicArn",
  "Message",
  "detail",
  "detail-type",
] as const;
const CREDENTIAL_KEYS = ["pin", "PIN", "Password", "credentials", "newPin", "secretString"];

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...POLLUTION_KEYS) },
  { weight: 3, arbitrary: fc.constantFrom(...CONTRACT_FIELDS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...CREDENTIAL_KEYS, "toString", "valueOf", "__defineSetter__"),
  },
  { weight: 2, arbitrary: hostileString(8) },
);

/** The payload a prototype-pollution attack puts under `__proto__` or `constructor.prototype`. */
const pollutionPayload = canaryToken.map(
  (token) =>
    new Obj([
      ["polluted", token],
      ["toString", token],
      ["prototype", new Obj([["polluted", token]])],
    ]),
);

const leaf: fc.Arbitrary<Doc> = fc.oneof(
  { weight: 4, arbitrary: canaryText },
  { weight: 1, arbitrary: canaryToken },
  { weight: 1, arbitrary: fc.constantFrom<Doc>(null, true, false, 0, 1, -1, 1.5, 1e308, 2 ** 53) },
);

const { doc } = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { maxDepth: 5, depthIdentifier: "doc" },
    leaf,
    fc.array(tie("doc"), { maxLength: 4 }),
    fc
      .array(fc.tuple(key, fc.oneof(tie("doc"), pollutionPayload)), { maxLength: 5 })
      .map((entries) => new Obj(entries)),
    tie("doc").map((inner) => new Embedded(inner)),
  ),
}));

// ---------------------------------------------------------------------------------------------
// Valid events, then mutated

const occurredAt = fc.constantFrom(
  "2026-11-28T10:00:00Z",
  "2024-02-29T23:59:59.999999999+14:00",
  "1999-12-31t12:30:45-08:00",
);
const printable = fc
  .string({ unit: fc.constantFrom("a", " ", "é", "✓", "@", ".", "😀", "\u00a0"), maxLength: 40 })
  .map((text) => `${CANARY_START}${text}${CANARY_END}`);
const settings = (options: { required: boolean; lockable: boolean }) => {
  const value = fc
    .record(
      {
        cantChange: fc.boolean(),
        mustChange: fc.boolean(),
        doesntExpire: fc.boolean(),
        locked: options.lockable ? fc.boolean() : fc.constant(false),
      },
      { requiredKeys: [] },
    )
    .filter((chosen) => Object.keys(chosen).length > 0);
  return options.required
    ? value.map((chosen) => ({ settings: chosen }))
    : fc
        .option(value, { nil: undefined })
        .map((chosen) => (chosen === undefined ? {} : { settings: chosen }));
};

const validEvent: fc.Arbitrary<Record<string, unknown>> = fc
  .constantFrom(...ACTIONS)
  .chain((action) => {
    const reset = action === "reset-pin" || action === "reset-password";
    const settingsOnly = action.startsWith("update-");
    const unlock = action.startsWith("unlock-");
    return fc
      .tuple(
        fc.record(
          {
            version: fc.constant(1),
            eventId: canaryToken,
            occurredAt,
            source: canaryToken,
            requestedBy: printable,
            ticketId: canaryToken,
            user: fc.oneof(fc.record({ objectId: fc.uuid() }), fc.record({ alias: canaryToken })),
            action: fc.constant(action),
            cluster: canaryToken,
          },
          { requiredKeys: ["version", "eventId", "occurredAt", "source", "user", "action"] },
        ),
        reset
          ? fc
              .oneof(
                fc.record(
                  {
                    secretId: canaryToken.map((token) => `cupi/resets/${token}`),
                    jsonKey: canaryToken,
                  },
                  { requiredKeys: ["secretId"] },
                ),
                fc.record(
                  {
                    generate: fc.constant(true),
                    deliverTo: fc.record({
                      secretId: canaryToken.map((token) => `cupi/delivery/${token}`),
                    }),
                  },
                  { requiredKeys: ["generate"] },
                ),
              )
              .map((newCredential) => ({ newCredential }))
          : fc.constant({}),
        action === "offboard"
          ? fc.constant({})
          : settings({ required: settingsOnly, lockable: !unlock }),
      )
      .map(([event, credential, chosen]) => ({ ...event, ...credential, ...chosen }));
  });

type Mutation = {
  kind: "delete" | "set" | "add" | "recase" | "stringify" | "duplicate" | "pollute";
  target: number;
  entry: number;
  key: string;
  value: Doc;
};

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("delete", "set", "add", "recase", "stringify", "duplicate", "pollute"),
  target: fc.nat(),
  entry: fc.nat(),
  key,
  value: fc.oneof(doc, pollutionPayload),
});

function mutate(root: Doc, mutations: readonly Mutation[]): void {
  for (const change of mutations) {
    const objects = objectsIn(root);
    const target = objects[change.target % objects.length];
    if (target === undefined) continue;
    const index = target.entries.length === 0 ? -1 : change.entry % target.entries.length;
    const entry = target.entries[index];
    switch (change.kind) {
      case "add":
        target.entries.push([change.key, change.value]);
        break;
      case "pollute":
        target.entries.push([
          POLLUTION_KEYS[change.entry % POLLUTION_KEYS.length] ?? "__proto__",
          change.value,
        ]);
        break;
      case "delete":
        if (index >= 0) target.entries.splice(index, 1);
        break;
      case "set":
        if (entry) entry[1] = change.value;
        break;
      case "recase":
        if (entry) entry[0] = change.entry % 2 ? entry[0].toUpperCase() : entry[0].toLowerCase();
        break;
      case "stringify":
        if (entry) entry[1] = serialize(entry[1]);
        break;
      case "duplicate":
        if (entry) target.entries.push([entry[0], change.value]);
        break;
    }
  }
}

type Wrapping = "none" | "sns" | "sns-object" | "eventbridge" | "sns-in-eventbridge";
const wrapping = fc.constantFrom<Wrapping>(
  "none",
  "none",
  "sns",
  "sns-object",
  "eventbridge",
  "sns-in-eventbridge",
);
const snsOf = (message: Doc) =>
  new Obj([
    ["Type", "Notification"],
    ["TopicArn", "arn:aws:sns:region:account:topic"],
    ["Message", message],
  ]);
function wrap(inner: Doc, how: Wrapping): Doc {
  switch (how) {
    case "none":
      return inner;
    case "sns":
      return snsOf(new Embedded(inner));
    case "sns-object":
      return snsOf(inner);
    case "eventbridge":
      return new Obj([
        ["detail-type", "Credential Reset Requested"],
        ["detail", inner],
      ]);
    case "sns-in-eventbridge":
      return wrap(snsOf(new Embedded(inner)), "eventbridge");
  }
}

type TextBreak = { kind: "none" | "truncate" | "append" | "prefix"; at: number; junk: string };
const textBreak: fc.Arbitrary<TextBreak> = fc.record({
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant("none" as const) },
    { weight: 3, arbitrary: fc.constantFrom("truncate", "append", "prefix") },
  ),
  at: fc.nat(),
  junk: fc.constantFrom(",", "}", "]", '"', "\\", "\ufeff", " x", "{", "null"),
});
function breakText(text: string, change: TextBreak): string {
  switch (change.kind) {
    case "none":
      return text;
    case "truncate":
      return text.slice(0, change.at % (text.length + 1));
    case "append":
      return text + change.junk;
    case "prefix":
      return change.junk + text;
  }
}

// ---------------------------------------------------------------------------------------------
// The verdict every body must get

const EXEMPT_VALUES: ReadonlySet<string> = new Set<string>([...ACTIONS, "true", "false", "null"]);
const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
let prototypeSnapshot: Array<Map<string, unknown>>;

function snapshotPrototypes(): Array<Map<string, unknown>> {
  return PROTOTYPES.map(
    (prototype) =>
      new Map(
        Reflect.ownKeys(prototype).map((name) => {
          const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
          return [String(name), descriptor?.value ?? descriptor?.get];
        }),
      ),
  );
}

function expectNoPollution(): void {
  const now = snapshotPrototypes();
  for (const [index, before] of prototypeSnapshot.entries()) {
    const after = now[index] ?? new Map();
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [name, value] of before) expect(after.get(name)).toBe(value);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
}

/** Object keys in order, own `__proto__` included, for comparing two JSON values. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== "object" || value === null) return value;
  return Object.keys(value)
    .sort()
    .map((name) => [name, canonical((value as Record<string, unknown>)[name])]);
}

/**
 * Runs the parser on `body` and checks the verdict. `submitted` are the string values the body
 * carries: none longer than 3 characters may appear in a reason.
 */
function expectVerdict(
  body: string,
  submitted: readonly string[],
): ReturnType<typeof parseRecordBody> {
  let result: ReturnType<typeof parseRecordBody> | undefined;
  expect(() => {
    result = parseRecordBody(body);
  }).not.toThrow();
  if (result === undefined) throw new Error("unreachable");
  expectNoPollution();
  if (result.ok) {
    // A valid event, exactly the one sent: nothing dropped, nothing added, plain data.
    const payload = unwrapEnvelope(JSON.parse(body));
    expect(payload.ok).toBe(true);
    if (!payload.ok) throw new Error("unreachable");
    expect(JSON.stringify(canonical(result.event))).toBe(
      JSON.stringify(canonical(payload.payload)),
    );
    expect(validateResetEvent(JSON.parse(JSON.stringify(result.event))).ok).toBe(true);
    expect(inspectBody(JSON.parse(body)).credentialFields).toEqual([]);
  } else {
    expect(typeof result.reason).toBe("string");
    expect(result.reason.trim()).not.toBe("");
    expect(result.reason).not.toMatch(CANARY_MARK);
    for (const value of submitted) {
      if ([...value].length > 3 && !EXEMPT_VALUES.has(value)) {
        expect(result.reason.includes(value), `reason quotes ${JSON.stringify(value)}`).toBe(false);
      }
    }
    if (result.eventId !== undefined) expect(result.eventId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  }
  return result;
}

beforeAll(() => {
  prototypeSnapshot = snapshotPrototypes();
});

describe("parseRecordBody on hostile bodies", () => {
  it("answers arbitrary Unicode text, control characters included, with a reason", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          hostileString(200),
          fc.string({ unit: "grapheme", maxLength: 100 }),
          fc.string({ unit: controlCharacter, maxLength: 50 }),
          fc.string({ unit: "binary-ascii", maxLength: 200 }),
        ),
        (body) => {
          expectVerdict(body, [body]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers arbitrary JSON (pollution keys at every level, duplicates, embedded JSON)", () => {
    fc.assert(
      fc.property(doc, wrapping, (document, how) => {
        const wrapped = wrap(document, how);
        expectVerdict(serialize(wrapped), submittedStrings(wrapped));
      }),
      { numRuns: RUNS },
    );
  });

  it("accepts every valid event as it is, in each envelope", () => {
    fc.assert(
      fc.property(
        validEvent,
        fc.constantFrom<Wrapping>("none", "sns", "eventbridge"),
        (event, how) => {
          const body = serialize(wrap(toDoc(event), how));
          const result = expectVerdict(body, []);
          expect(result).toMatchObject({ ok: true, event });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers mutated valid events with the event or a reason that quotes no value", () => {
    fc.assert(
      fc.property(
        validEvent,
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        wrapping,
        textBreak,
        (event, mutations, how, change) => {
          const root = toDoc(event);
          mutate(root, mutations);
          const wrapped = wrap(root, how);
          expectVerdict(breakText(serialize(wrapped), change), submittedStrings(wrapped));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses a valid event with a prototype-pollution key added at any level", () => {
    fc.assert(
      fc.property(
        validEvent,
        fc.nat(),
        fc.constantFrom(...POLLUTION_KEYS),
        pollutionPayload,
        wrapping,
        (event, target, pollutionKey, payload, how) => {
          const root = toDoc(event);
          const objects = objectsIn(root);
          objects[target % objects.length]?.entries.push([pollutionKey, payload]);
          const wrapped = wrap(root, how);
          const result = expectVerdict(serialize(wrapped), submittedStrings(wrapped));
          // The contract is closed: an extra key, whatever its name, is not silently dropped.
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses bodies nesting deeper than 32 levels, exactly from the 34th", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 40, max: 120_000 })),
        fc.constantFrom("array", "object", "pollution", "settings"),
        (depth, shape) => {
          let body: string;
          let innermost: number;
          if (shape === "array") {
            body = "[".repeat(depth) + "]".repeat(depth);
            innermost = depth - 1;
          } else if (shape === "object" || shape === "pollution") {
            const field = shape === "object" ? "a" : POLLUTION_KEYS[depth % 3];
            body = `${`{"${field}":`.repeat(depth)}"Cnryleaf"${"}".repeat(depth)}`;
            innermost = depth;
          } else {
            // A reset-pin event whose settings nest `depth` levels down.
            const event = JSON.stringify({
              version: 1,
              eventId: "deep-1",
              occurredAt: "2026-11-28T10:00:00Z",
              source: "helpdesk",
              user: { alias: "jsmith" },
              action: "reset-pin",
              newCredential: { secretId: "cupi/resets/x" },
              settings: "@",
            });
            body = event.replace('"@"', `${'{"x":'.repeat(depth)}true${"}".repeat(depth)}`);
            innermost = depth + 1;
          }
          const result = expectVerdict(body, ["Cnryleaf"]);
          expect(result.ok).toBe(false);
          if (!result.ok && innermost > 32) expect(result.reason).toMatch(/nests deeper than 32/);
          if (!result.ok && innermost <= 32) expect(result.reason).not.toMatch(/nests deeper/);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("answers very long strings, keys and bodies near the SQS size limit", () => {
    const base = {
      version: 1,
      eventId: "long-1",
      occurredAt: "2026-11-28T10:00:00Z",
      source: "helpdesk",
      user: { alias: "jsmith" },
      action: "reset-pin",
      newCredential: { secretId: "cupi/resets/x" },
    };
    const targetBytes = (body: string) => Buffer.byteLength(body, "utf8");
    fc.assert(
      fc.property(
        fc.constantFrom("eventId", "requestedBy", "ticketId", "alias", "secretId", "extra", "pad"),
        fc.constantFrom("a", "é", "😀", " ", "\u0000", "\\"),
        fc.integer({ min: 200, max: SQS_MAX_BODY_BYTES }),
        (field, unit, size) => {
          const unitBytes = Buffer.byteLength(JSON.stringify(unit), "utf8") - 2;
          const filler =
            CANARY_START + unit.repeat(Math.max(1, Math.floor((size - 400) / unitBytes)));
          let event: Record<string, unknown>;
          switch (field) {
            case "alias":
              event = { ...base, user: { alias: filler } };
              break;
            case "secretId":
              event = { ...base, newCredential: { secretId: `cupi/resets/${filler}` } };
              break;
            case "extra":
              event = { ...base, [`k${unit.repeat(8)}`]: filler };
              break;
            case "pad":
              event = base;
              break;
            default:
              event = { ...base, [field]: filler };
          }
          let body = JSON.stringify(event);
          if (field === "pad") {
            // A valid event padded with whitespace up to the limit: still that event.
            body = `${body}${" ".repeat(Math.max(0, size - targetBytes(body)))}`;
          }
          expect(targetBytes(body)).toBeLessThanOrEqual(SQS_MAX_BODY_BYTES);
          const result = expectVerdict(body, [filler]);
          if (field === "pad") expect(result).toMatchObject({ ok: true, event: base });
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Identifiers and URLs

const BASE = "https://cuc.example.com:8443";
const URL_SPECIALS = [
  "/",
  "\\",
  "?",
  "#",
  "%",
  "%2e",
  "%2E",
  "%2f",
  "%00",
  ".",
  "..",
  "@",
  ":",
  ";",
  "&",
  "=",
  "+",
  " ",
  "\t",
  "\n",
  "\u0000",
  "\u00a0",
  "\ufeff",
  "\u2215",
  "\uff0e",
  "\uff0f",
  "~",
  "'",
  "(",
  ")",
  "*",
  "!",
  "$",
  ",",
  "[",
  "]",
  "<",
  ">",
  '"',
  "`",
  "{",
  "}",
  "|",
];
const urlUnit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...URL_SPECIALS) },
  { weight: 4, arbitrary: alnum },
  { weight: 1, arbitrary: fc.constantFrom("-", "_") },
  { weight: 1, arbitrary: hostileUnit },
);
const urlHostile = fc.oneof(
  fc.string({ unit: urlUnit, maxLength: 24 }),
  fc.constantFrom(
    "",
    ".",
    "..",
    "...",
    "%2e%2e",
    ".%2e",
    "a/../b",
    "a?b=c",
    "a#b",
    "//evil.example",
  ),
);
/** Near-identifiers: GUIDs and aliases with one hostile change. */
const nearIdentifier = fc.oneof(
  fc.uuid(),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.string({
    unit: fc.oneof(alnum, fc.constantFrom(".", "_", "-", "@")),
    minLength: 1,
    maxLength: 66,
  }),
  fc
    .tuple(fc.oneof(fc.uuid(), canaryToken), fc.nat(), urlUnit)
    .map(
      ([id, at, inserted]) =>
        id.slice(0, at % (id.length + 1)) + inserted + id.slice(at % (id.length + 1)),
    ),
);
const identifierCandidate = fc.oneof(urlHostile, nearIdentifier);

/** The URL a path resolves to, split into decoded path segments. */
function resolved(path: string): { url: URL; segments: string[] } {
  const url = new URL(path, BASE);
  return { url, segments: url.pathname.split("/").slice(1).map(decodeURIComponent) };
}

describe("identifiers cannot change a CUPI URL", () => {
  it("accepts only objectIds that stay one path segment, unchanged", () => {
    fc.assert(
      fc.property(identifierCandidate, (candidate) => {
        if (!isObjectId(candidate)) {
          expect(() => requireObjectId(candidate)).toThrow(UnsafeIdentifierError);
          return;
        }
        const id = requireObjectId(candidate);
        expect(id).toBe(candidate.toLowerCase());
        const { url, segments } = resolved(vmrestPath("users", id, "credential", "pin"));
        expect(url.origin).toBe(BASE);
        expect(url.search).toBe("");
        expect(url.hash).toBe("");
        expect(segments).toEqual(["vmrest", "users", id, "credential", "pin"]);
      }),
      { numRuns: RUNS },
    );
  });

  it("accepts only aliases that stay one path segment and one query value, unchanged", () => {
    fc.assert(
      fc.property(identifierCandidate, (candidate) => {
        if (!isAlias(candidate)) {
          expect(() => requireAlias(candidate)).toThrow(UnsafeIdentifierError);
          return;
        }
        const alias = requireAlias(candidate);
        // Nothing that could end CUPI's `(alias is …)` clause or start another one.
        expect(alias).toMatch(/^[^\s()]+$/);
        const { url, segments } = resolved(vmrestPath("users", alias));
        expect(url.origin).toBe(BASE);
        expect(segments).toEqual(["vmrest", "users", alias]);
        // The lookup URL, built as CupiClient.findUserByAlias builds it.
        const lookup = new URL(
          `${vmrestPath("users")}?query=${encodeURIComponent(`(alias is ${alias})`)}`,
          BASE,
        );
        expect(lookup.pathname).toBe("/vmrest/users");
        expect(lookup.hash).toBe("");
        expect([...lookup.searchParams]).toEqual([["query", `(alias is ${alias})`]]);
      }),
      { numRuns: RUNS },
    );
  });

  it("vmrestPath keeps any segments as segments, or refuses them", () => {
    fc.assert(
      fc.property(fc.array(urlHostile, { minLength: 1, maxLength: 4 }), (segments) => {
        let path: string;
        try {
          path = vmrestPath(...segments);
        } catch (error) {
          if (segments.some((segment) => ["", ".", ".."].includes(segment))) {
            expect(error).toBeInstanceOf(UnsafeIdentifierError);
          } else {
            // encodeURIComponent cannot encode a lone surrogate; identifiers never reach here
            // with one (isObjectId and isAlias refuse them first).
            expect(segments.some((segment) => !segment.isWellFormed())).toBe(true);
            expect(error).toBeInstanceOf(URIError);
          }
          return;
        }
        expect(segments.some((segment) => ["", ".", ".."].includes(segment))).toBe(false);
        const { url, segments: decoded } = resolved(path);
        expect(url.origin).toBe(BASE);
        expect(url.search).toBe("");
        expect(url.hash).toBe("");
        expect(decoded).toEqual(["vmrest", ...segments]);
      }),
      { numRuns: RUNS },
    );
  });

  describe("through the client, on the wire", () => {
    let stub: StubServer;
    let cupi: CupiClient;

    beforeAll(async () => {
      // CUPI as it answers unknown identifiers: a 404, an empty search, and its version (which
      // tells a missing user from a base URL that does not lead to CUPI).
      stub = await startStubServer((request, _body, response) => {
        const xml = { "content-type": "application/xml" };
        if (request.url === "/prefix/vmrest/version") {
          response.writeHead(200, xml).end("<VersionInfo><version>15.0.1</version></VersionInfo>");
        } else if (request.url?.startsWith("/prefix/vmrest/users?")) {
          response.writeHead(200, xml).end('<Users total="0"/>');
        } else response.writeHead(404, xml).end("<ErrorDetails/>");
      });
      cupi = new CupiClient({
        baseUrl: `${stub.url}/prefix`,
        allowInsecureHttp: true,
        circuitBreaker: false,
        account: { username: "svc", password: new SecretValue("hostile-input-svc") },
      });
    });

    afterAll(async () => {
      await cupi?.close();
      await stub?.close();
    });

    // Leaves out the client's one check of /vmrest/version after its first 404.
    const requestsForIdentifiers = () =>
      stub.received.filter((request) => request.url !== "/prefix/vmrest/version");

    it("sends a request only for a valid identifier, to exactly its path", async () => {
      await fc.assert(
        fc.asyncProperty(identifierCandidate, async (candidate) => {
          stub.received.length = 0;
          // Expected request targets, worked out only for identifiers that are valid.
          const calls: Array<[() => string, () => Promise<unknown>, boolean]> = [
            [
              () => `/prefix/vmrest/users/${candidate.toLowerCase()}`,
              () => cupi.getUser(candidate),
              isObjectId(candidate),
            ],
            [
              () => `/prefix/vmrest/users/${candidate.toLowerCase()}/credential/pin`,
              () => cupi.getCredential(candidate, "pin"),
              isObjectId(candidate),
            ],
            [
              () => `/prefix/vmrest/users?query=${encodeURIComponent(`(alias is ${candidate})`)}`,
              () => cupi.findUserByAlias(candidate),
              isAlias(candidate),
            ],
          ];
          for (const [path, call, valid] of calls) {
            const error = await call().then(
              () => undefined,
              (thrown: unknown) => thrown,
            );
            expect(error).toBeInstanceOf(CupiError);
            expect((error as CupiError).kind).toBe(valid ? "not-found" : "invalid-input");
            if (valid) expect(requestsForIdentifiers().at(-1)?.url).toBe(path());
          }
          const expected = calls.filter(([, , valid]) => valid).length;
          expect(requestsForIdentifiers()).toHaveLength(expected);
        }),
        { numRuns: 300 },
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Credential XML

const xmlReader = new XMLParser({
  // Text compared exactly: no trimming, no conversion of "123" or "true"; entities as by default.
  trimValues: false,
  parseTagValue: false,
  ignoreDeclaration: true,
});
const FIELD_ORDER = [
  "Credentials",
  "CantChange",
  "CredMustChange",
  "DoesntExpire",
  "Locked",
  "HackCount",
  "TimeHacked",
] as const;

const XML_HOSTILE = [
  "<",
  ">",
  "&",
  '"',
  "'",
  "]]>",
  "&amp;",
  "&lt;",
  "&#60;",
  "&#x3C;",
  "&e;",
  "<![CDATA[",
  "<!--",
  "-->",
  "<?xml ",
  "<!DOCTYPE x [<!ENTITY e 'x'>]>",
  "</Credentials>",
  "<Credentials>",
  "</Credential><Locked>true</Locked><Credential>",
  " ",
  "\u0085",
  "\u2028",
  "😀",
  "é",
  "a",
  "1",
];
const printableUnit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...XML_HOSTILE) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: alnum },
);
const atMost256CodePoints = (text: string) => [...text].slice(0, 256).join("");
const printableCredential = fc.oneof(
  fc.string({ unit: printableUnit, maxLength: 80 }).map(atMost256CodePoints),
  fc.string({ unit: "grapheme", maxLength: 256 }).map(atMost256CodePoints),
  fc
    .tuple(fc.integer({ min: 250, max: 256 }), fc.constantFrom("a", "<", "&", "😀", "é"))
    .map(([length, unit]) => unit.repeat(length)),
);
/** Anything: control characters, lone surrogates, non-characters. */
const anyCredential = fc.oneof(
  printableCredential,
  fc.string({ unit: hostileUnit, maxLength: 64 }),
  fc.string({ unit: "binary", maxLength: 256 }).map(atMost256CodePoints),
);

function isXmlCharacter(codePoint: number): boolean {
  return (
    codePoint === 0x9 ||
    codePoint === 0xa ||
    codePoint === 0xd ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    (codePoint >= 0x10000 && codePoint <= 0x10ffff)
  );
}
/** What CUPI's Credentials can carry: 1-256 UTF-16 units of XML characters, on one line. */
function carriable(text: string): boolean {
  return (
    text !== "" &&
    text.length <= 256 &&
    [...text].every(
      (character) =>
        isXmlCharacter(character.codePointAt(0) ?? 0) && !["\t", "\n", "\r"].includes(character),
    )
  );
}

const otherFields = fc.record(
  {
    CantChange: fc.boolean(),
    CredMustChange: fc.boolean(),
    DoesntExpire: fc.boolean(),
    Locked: fc.boolean(),
    HackCount: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, Number.NaN, 2 ** 53)),
    TimeHacked: fc.oneof(fc.constant(""), printableCredential),
  },
  { requiredKeys: [] },
);

/** Builds the XML and reads it back, or returns the typed error. */
function roundTrip(update: CredentialUpdate): Record<string, unknown> | CredentialXmlError {
  let xml: string;
  try {
    xml = buildCredentialXml(update);
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialXmlError);
    return error as CredentialXmlError;
  }
  expect(XMLValidator.validate(xml)).toBe(true);
  const given = FIELD_ORDER.filter((field) => update[field] !== undefined);
  // Exactly the elements given, once each, and the single root.
  const elements = [...xml.matchAll(/<([A-Za-z_][\w.:-]*)/g)].map((match) => match[1]);
  expect(elements).toEqual(["Credential", ...given]);
  expect(xml.match(/<Credentials>/g) ?? []).toHaveLength(given.includes("Credentials") ? 1 : 0);
  const parsed = xmlReader.parse(xml) as Record<string, unknown>;
  expect(Object.keys(parsed)).toEqual(["Credential"]);
  const credential = parsed.Credential as Record<string, unknown>;
  expect(Object.keys(credential)).toEqual(given);
  return credential;
}

describe("buildCredentialXml", () => {
  it("carries any printable Credentials of up to 256 code points exactly, or refuses it", () => {
    fc.assert(
      fc.property(anyCredential, (value) => {
        const read = roundTrip({ Credentials: new SecretValue(value) });
        if (read instanceof CredentialXmlError) {
          expect(carriable(value), `refused ${JSON.stringify(value)}`).toBe(false);
          if (value.length >= 8) expect(read.message).not.toContain(value);
          return;
        }
        expect(carriable(value), `accepted ${JSON.stringify(value)}`).toBe(true);
        expect(read.Credentials).toBe(value);
      }),
      { numRuns: RUNS },
    );
  });

  it("writes only the fields given, each read back as given, or refuses the update", () => {
    fc.assert(
      fc.property(
        fc.option(printableCredential, { nil: undefined }),
        otherFields,
        (value, other) => {
          const update: CredentialUpdate = {
            ...other,
            ...(value === undefined ? {} : { Credentials: new SecretValue(value) }),
          };
          const read = roundTrip(update);
          const hackCountOk =
            other.HackCount === undefined ||
            (Number.isSafeInteger(other.HackCount) && other.HackCount >= 0);
          const timeHackedOk =
            other.TimeHacked === undefined ||
            [...other.TimeHacked].every(
              (c) => isXmlCharacter(c.codePointAt(0) ?? 0) && !"<>&".includes(c),
            );
          const expected =
            Object.keys(update).length > 0 &&
            hackCountOk &&
            timeHackedOk &&
            (value === undefined || carriable(value));
          expect(read instanceof CredentialXmlError).toBe(!expected);
          if (read instanceof CredentialXmlError) return;
          for (const field of FIELD_ORDER) {
            const given = update[field];
            if (given === undefined) continue;
            expect(read[field]).toBe(given instanceof SecretValue ? given.reveal() : String(given));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  // Fixed (was reported): lib/cupi/credential-xml.ts (fieldText) let a carriage return through in a
  // string field (TimeHacked), but XML parsers normalise line ends (CR and CRLF become LF), so CUC
  // would read another value than the one sent. Credentials refuses tabs and line breaks for this
  // very reason. Harmless today (the service only ever sends TimeHacked ""), but the builder's
  // promise is "every value escaped". Remove `.fails` once fieldText refuses (or escapes as
  // &#13;) carriage returns.
  it("does not send a TimeHacked that a parser reads back differently", () => {
    for (const value of ["a\rb", "a\r\nb"]) {
      const read = roundTrip({ TimeHacked: value });
      if (!(read instanceof CredentialXmlError)) expect(read.TimeHacked).toBe(value);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The DLQ copy of a body

/**
 * A credential value: digits and `@` only, which nothing else in these bodies contains, so any
 * four characters of it surviving in the scrubbed text are caught.
 */
const credentialValue: fc.Arbitrary<Doc> = fc.oneof(
  fc.stringMatching(/^[0-9]{4,12}$/).map((digits) => `@@${digits}@@`),
  fc.integer({ min: 10_000, max: 2 ** 31 }),
  fc.stringMatching(/^[0-9]{4,8}$/).map((digits) => [`@@${digits}@@`]),
  fc.stringMatching(/^[0-9]{4,8}$/).map((digits) => new Obj([["x", `@@${digits}@@`]])),
);
const CREDENTIAL_NAMES = [
  "value",
  "pin",
  "password",
  "credentials",
  "credential",
  "passcode",
  "passwd",
  "secretString",
  "newPin",
  "newPassword",
];
const credentialKey = fc
  .tuple(fc.constantFrom(...CREDENTIAL_NAMES), fc.constantFrom("same", "upper", "lower", "title"))
  .map(([name, style]) =>
    style === "upper"
      ? name.toUpperCase()
      : style === "lower"
        ? name.toLowerCase()
        : style === "title"
          ? `${name.charAt(0).toUpperCase()}${name.slice(1)}`
          : name,
  );
/** Keys and text without digits or `@`. */
const plainText = fc.string({
  unit: fc.constantFrom("a", "b", "z", " ", "é", "✓", '"', "\\", "{", "}", ":", ",", "[", "]"),
  maxLength: 10,
});
const plainKey = fc.oneof(
  fc.constantFrom("action", "user", "Message", "detail", "alias", ...POLLUTION_KEYS),
  fc.string({ unit: fc.constantFrom("a", "k", "é", " ", "_"), minLength: 1, maxLength: 6 }),
);

/**
 * The first entry of each key only: JSON.parse keeps the last of duplicate keys, and what it drops
 * is the it.fails below.
 */
function uniqueKeys<T>(entries: Array<[string, T]>): Array<[string, T]> {
  const seen = new Set<string>();
  return entries.filter(([name]) => !seen.has(name) && seen.add(name) !== undefined);
}

/** The document itself if it is an object or an array, else an array holding it. */
function container(doc: Doc): Doc {
  return doc instanceof Obj || Array.isArray(doc) ? doc : [doc];
}

function hasCredentialKey(doc: Doc): boolean {
  if (doc instanceof Embedded) return hasCredentialKey(doc.doc);
  if (Array.isArray(doc)) return doc.some(hasCredentialKey);
  if (!(doc instanceof Obj)) return false;
  return doc.entries.some(
    ([name, value]) =>
      CREDENTIAL_NAMES.some((known) => known.toLowerCase() === name.toLowerCase()) ||
      hasCredentialKey(value),
  );
}

/** Documents with credential values under credential keys; `embed` is how deep JSON-in-a-string
 * may nest. */
function scrubDoc(embed: number): fc.Arbitrary<Doc> {
  return fc.letrec<{ node: Doc }>((tie) => ({
    node: fc.oneof(
      { maxDepth: 5, depthIdentifier: `scrub-${embed}` },
      plainText,
      fc.constantFrom<Doc>(true, false, null),
      fc.array(tie("node"), { maxLength: 3 }),
      fc
        .array(
          fc.oneof(
            fc.tuple(plainKey, tie("node")),
            fc.tuple(credentialKey, fc.oneof(credentialValue, tie("node"))),
          ),
          { maxLength: 4 },
        )
        .map((entries) => new Obj(uniqueKeys(entries))),
      // JSON text of an object or array (double-encoded JSON: the it.fails below).
      ...(embed > 0 ? [scrubDoc(embed - 1).map((inner) => new Embedded(container(inner)))] : []),
    ),
  })).node;
}

/**
 * An SNS notification as SNS writes it (attributes are `{ Type, Value }`), credential-named
 * attributes included; its Message holds JSON `embed` levels deep.
 */
const snsNotification = (embed: number) =>
  fc
    .tuple(
      scrubDoc(embed),
      fc.array(
        fc.oneof(
          fc.tuple(credentialKey, credentialValue),
          fc.tuple(plainKey, plainText as fc.Arbitrary<Doc>),
        ),
        { maxLength: 3 },
      ),
    )
    .map(
      ([message, attributes]) =>
        new Obj([
          ["Type", "Notification"],
          ["TopicArn", "arn:aws:sns:region:account:topic"],
          ["Message", new Embedded(container(message))],
          [
            "MessageAttributes",
            new Obj(
              uniqueKeys(attributes).map(([name, value]) => [
                name,
                new Obj([
                  ["Type", "String"],
                  ["Value", value],
                ]),
              ]),
            ),
          ],
        ]),
    );

/** Longest run of a credential value (4+ characters of digits or `@`) left in the text. */
const SURVIVOR = /[0-9@]{4,}/;

function expectScrubbed(body: string): void {
  let scrubbed = "";
  expect(() => {
    scrubbed = scrubBody(body);
  }).not.toThrow();
  expect(scrubbed).not.toMatch(SURVIVOR);
}

/** For fixed bodies that hold other digits (dates, \u escapes): only the canary must go. */
function expectCanaryRemoved(body: string): void {
  const scrubbed = scrubBody(body);
  expect(scrubbed).not.toContain("4821");
}

describe("scrubBody, the DLQ copy", () => {
  it("removes every credential value from valid JSON, however nested", () => {
    fc.assert(
      fc.property(fc.oneof(scrubDoc(3), snsNotification(2)), (document) => {
        const body = serialize(document);
        expectScrubbed(body);
        // Bodies carrying nothing to remove are kept byte for byte.
        if (!hasCredentialKey(document)) expect(scrubBody(body)).toBe(body);
      }),
      { numRuns: RUNS },
    );
  });

  it("removes every credential value from broken JSON: cut short, or with junk around it", () => {
    fc.assert(
      fc.property(
        // Text that is not JSON is scanned with one level of JSON-in-a-string escaping (deeper
        // levels: the it.fails below).
        fc.oneof(scrubDoc(1), snsNotification(0)),
        textBreak.filter((change) => change.kind !== "none"),
        (document, change) => {
          const body = breakText(serialize(document), change);
          expectScrubbed(body);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("removes every credential value from broken JSON held in a string of valid JSON", () => {
    // Cut short or with junk after it; junk before it is the it.fails below.
    const cut = textBreak.filter((change) => change.kind !== "prefix");
    fc.assert(
      fc.property(scrubDoc(1), cut, plainKey, (inner, change, name) => {
        const broken = breakText(serialize(container(inner)), change);
        expectScrubbed(JSON.stringify({ [name]: broken, note: "x" }));
        expectScrubbed(
          serialize(
            new Obj([
              ["Message", broken],
              ["detail", [broken]],
            ]),
          ),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("removes what nests deeper than 32 levels", () => {
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 200 }), credentialKey, (depth, name) => {
        expectScrubbed(`${'{"a":'.repeat(depth)}{"${name}":"@@1234@@"}${"}".repeat(depth)}`);
        expectScrubbed(`${"[".repeat(depth)}{"${name}":"@@1234@@"}${"]".repeat(depth)}`);
      }),
      { numRuns: 200 },
    );
  });

  // Fixed (was reported): lib/events/plaintext.ts:117 (scrubBody) and lib/events/parse.ts:28
  // (parseRecordBody) inspect the value JSON.parse returns, which keeps only the last of duplicate
  // keys. A credential under a key that a later duplicate shadows is not seen: parseRecordBody
  // accepts the event (first example: a valid unlock-pin), and scrubBody, finding nothing to
  // remove, returns the original text, credential included, for the DLQ. Remove `.fails` once both
  // also scan the raw text (e.g. refuse when scrubText(body) !== body, and return the re-serialised
  // or scrubText'd body then) or refuse duplicate keys.
  it("refuses and removes a credential hidden under a duplicate key", () => {
    const event =
      '{"version":1,"eventId":"dup-1","occurredAt":"2026-11-28T10:00:00Z","source":"helpdesk",' +
      '"user":{"alias":"jsmith","pin":"@@4821@@"},"user":{"alias":"jsmith"},"action":"unlock-pin"}';
    expect(parseRecordBody(event)).toMatchObject({ ok: false });
    expectCanaryRemoved(event);
    expectCanaryRemoved('{"a":{"pin":"@@4821@@"},"a":{}}');
  });

  // Fixed (was reported): lib/events/plaintext.ts:89-93 (withoutCredentialValues) replaces only the
  // `Value` of a credential-named SNS message attribute, and only when the attribute is an object.
  // inspectBody reports `MessageAttributes.pin` (parseRecordBody refuses the body for carrying a
  // credential), yet the DLQ copy keeps the value when the attribute is a bare string or carries
  // it in another member. Remove `.fails` once the whole attribute is replaced.
  it("removes a credential-named SNS attribute whatever its shape", () => {
    const sns = (attribute: unknown) =>
      JSON.stringify({
        Type: "Notification",
        TopicArn: "arn:aws:sns:region:account:topic",
        Message: "{}",
        MessageAttributes: { pin: attribute },
      });
    expect(parseRecordBody(sns("@@4821@@"))).toMatchObject({ ok: false });
    expectScrubbed(sns("@@4821@@"));
    expectScrubbed(sns({ Type: "String", Value: "x", StringValue: "@@4821@@" }));
  });

  // Fixed (was reported): lib/events/plaintext.ts:55-59 (inspectBody) and :85-96
  // (withoutCredentialValues) look only at the names of SNS message attributes, never inside them,
  // so a credential field within an attribute (its Value holding JSON, or a nested object) is
  // neither refused by parseRecordBody nor removed from the DLQ copy. Remove `.fails` once
  // attribute contents are walked like any other value (the `Value` key itself excepted).
  it("removes a credential held inside an SNS attribute of another name", () => {
    const event = {
      version: 1,
      eventId: "sns-attr-1",
      occurredAt: "2026-11-28T10:00:00Z",
      source: "helpdesk",
      user: { alias: "jsmith" },
      action: "unlock-pin",
    };
    const body = JSON.stringify({
      Type: "Notification",
      TopicArn: "arn:aws:sns:region:account:topic",
      Message: JSON.stringify(event),
      MessageAttributes: {
        note: { Type: "String", Value: JSON.stringify({ pin: "@@4821@@" }) },
      },
    });
    expect(parseRecordBody(body)).toMatchObject({ ok: false });
    expectCanaryRemoved(body);
  });

  // Fixed (was reported): lib/events/plaintext.ts:195 (embeddedJson) treats a string as JSON, whole or
  // broken, only when it starts with `{` or `[`. Broken JSON held in a string with anything before
  // it (`,{"pin": …`, `x {"pin": …`) is taken for plain text: neither refused by parseRecordBody
  // nor scrubbed for the DLQ, although the same text as a whole body is scrubbed. Remove `.fails`
  // once strings that are not JSON go through scrubText whatever their first character.
  it("removes a credential from broken JSON in a string, whatever comes before it", () => {
    expectScrubbed(JSON.stringify({ Message: ',{"pin":"@@4821@@"}' }));
    expectScrubbed(JSON.stringify({ requestedBy: 'agent {"pin": "@@4821@@"}' }));
  });

  // BUG (reported), same place: a string holding double-encoded JSON (a JSON string literal of
  // JSON text, as a producer that stringifies twice writes it) starts with `"` and is taken for
  // plain text, so a credential in it is neither refused nor scrubbed. Remove `.fails` once
  // embeddedJson also parses strings starting with `"` and walks the string they hold.
  it("removes a credential from double-encoded JSON held in a string", () => {
    const twice = JSON.stringify(JSON.stringify({ pin: "@@4821@@" }));
    expectScrubbed(JSON.stringify({ Message: twice }));
    expect(parseRecordBody(JSON.stringify({ version: 1, Message: twice }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/credential/),
    });
  });

  // Fixed (was reported): lib/events/plaintext.ts:122 (the KEY pattern of scrubText) recognises keys
  // written plainly or with one level of JSON-in-a-string escaping (`\"pin\"`). When the body is
  // not valid JSON, a credential two levels down (`\\\"pin\\\"`: JSON in a string in a string, as
  // an SNS Message holding an event with a JSON-encoded field) or a key spelt with a \u escape
  // (`"p\u0069n"`) survives. Remove `.fails` once scrubText matches any escaping depth (and
  // removes to the end of the text when the value's end cannot be found at that depth).
  it("removes a credential from broken JSON at any escaping depth", () => {
    const doubly = JSON.stringify({
      Message: JSON.stringify({ x: JSON.stringify({ pin: "@@4821@@" }) }),
    });
    expectScrubbed(doubly.slice(0, -2));
    expectCanaryRemoved('{"p\\u0069n": "@@4821@@", ');
  });
});
