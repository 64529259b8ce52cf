import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import demoSecrets from "../../dev/demo-secrets.json" with { type: "json" };
import { ACTIONS, type ResetEvent } from "../../lib/events/contract.ts";
import { parseRecordBody } from "../../lib/events/parse.ts";
import { ERROR_CODES, type ErrorCode } from "../../lib/outcome/failures.ts";
import { type CredentialPolicyContext, checkPassword, checkPin } from "../../lib/policy/index.ts";
import { selectSecretValue } from "../../lib/secrets/secret-store.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";
import { schemaAccepts } from "./schema-validator.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const README = readFileSync(new URL("README.md", EXAMPLES), "utf8");

interface SimulatedUser {
  objectId: string;
  alias: string;
  firstName?: string;
  lastName?: string;
  dtmfAccessId?: string;
  alternateExtensions?: string[];
  ldapType?: number;
  roles?: string[];
  pin?: string;
  password?: string;
}

const USERS = JSON.parse(
  readFileSync(new URL("../../dev/cupi-simulator/users.json", import.meta.url), "utf8"),
) as SimulatedUser[];

interface Row {
  file: string;
  envelope: "sqs" | "sns" | "eventbridge";
  outcome: "applied" | "dead-lettered";
  errorCode: ErrorCode | undefined;
}

const ENVELOPES = { none: "sqs", SNS: "sns", EventBridge: "eventbridge" } as const;

/** The cells of every row of README's tables (padded or not), header rows aside. */
const TABLE_ROWS = README.split("\n")
  .filter((line) => line.startsWith("|") && !/^\|[\s|:-]+$/.test(line))
  .map((line) =>
    line
      .slice(1, -1)
      .split("|")
      .map((cell) => cell.trim()),
  );

const codeSpan = (cell: string | undefined): string | undefined =>
  /`([^`]+)`/.exec(cell ?? "")?.[1];

/** The table of examples/README.md: one row per file, with its expected outcome. */
const ROWS: Row[] = TABLE_ROWS.filter(
  (cells) => cells.length === 5 && /^`[^`]+\.json`$/.test(cells[0] ?? ""),
).map(([file, , envelope, outcome, errorCode]) => ({
  file: codeSpan(file) as string,
  envelope: ENVELOPES[envelope as keyof typeof ENVELOPES],
  outcome: outcome as Row["outcome"],
  errorCode: codeSpan(errorCode) as ErrorCode | undefined,
}));

/** The secrets README says the local stack seeds: name to SecretString (first code span). */
const SEEDED = new Map(
  TABLE_ROWS.filter((cells) => cells.length === 3 && /^`[^`]+\/[^`]+`$/.test(cells[0] ?? "")).map(
    ([name, value]) => [codeSpan(name) as string, codeSpan(value) as string],
  ),
);

/** Secret names (they hold a slash) in README's "Must **not** exist" paragraph. */
const MUST_NOT_EXIST = [
  ...(README.match(/^Must \*\*not\*\* exist:[\s\S]*?\n\n/m)?.[0].matchAll(/`([^`]+\/[^`]+)`/g) ??
    []),
].map(([, name]) => name as string);

const DELIVERY_PREFIX = README.match(/`DELIVERY_SECRET_PREFIX=([^`]+)`/)?.[1];

function body(file: string): string {
  return readFileSync(new URL(file, EXAMPLES), "utf8");
}

/** The event inside the envelope, unwrapped here independently of lib/events/envelope.ts. */
function payload(row: Row): Record<string, unknown> {
  const outer = JSON.parse(body(row.file)) as Record<string, unknown>;
  if (row.envelope === "sns") return JSON.parse(outer.Message as string);
  if (row.envelope === "eventbridge") return outer.detail as Record<string, unknown>;
  return outer;
}

function validEvent(row: Row): ResetEvent {
  const parsed = parseRecordBody(body(row.file));
  if (!parsed.ok) throw new Error(`${row.file}: ${parsed.reason}`);
  return parsed.event;
}

function usersMatching(event: ResetEvent): SimulatedUser[] {
  return "alias" in event.user
    ? USERS.filter(
        (user) =>
          user.alias.toLowerCase() === (event.user as { alias: string }).alias.toLowerCase(),
      )
    : USERS.filter(
        (user) => user.objectId === (event.user as { objectId: string }).objectId.toLowerCase(),
      );
}

function theUser(event: ResetEvent): SimulatedUser {
  const users = usersMatching(event);
  expect(users).toHaveLength(1);
  return users[0] as SimulatedUser;
}

/** The user as the simulator's trivial-value check sees them (its default rules: 6 and 8). */
function policyContext(user: SimulatedUser, kind: "pin" | "password"): CredentialPolicyContext {
  return {
    minLength: kind === "pin" ? 6 : 8,
    alias: user.alias,
    extensions: [
      ...(user.dtmfAccessId === undefined ? [] : [user.dtmfAccessId]),
      ...(user.alternateExtensions ?? []),
    ],
    ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
    ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
  };
}

/** The value a reset from a seeded secret would send, read the way the function reads it. */
function seededValue(event: ResetEvent): string {
  const source = event.newCredential;
  if (source === undefined || !("secretId" in source)) throw new Error("not a reset from a secret");
  const seeded = SEEDED.get(source.secretId);
  if (seeded === undefined) throw new Error(`${source.secretId} is not seeded`);
  return selectSecretValue(source.secretId, new SecretValue(seeded), source.jsonKey).reveal();
}

function violations(event: ResetEvent, user: SimulatedUser): string[] {
  const kind = event.action === "reset-password" ? "password" : "pin";
  const check = kind === "pin" ? checkPin : checkPassword;
  return check(seededValue(event), policyContext(user, kind)).map((violation) => violation.rule);
}

describe("examples/README.md", () => {
  it("lists every example file exactly once, and only those", () => {
    const files = readdirSync(EXAMPLES).filter((file) => file.endsWith(".json"));
    expect(ROWS.map((row) => row.file).sort()).toEqual(files.sort());
    expect(new Set(ROWS.map((row) => row.file)).size).toBe(ROWS.length);
  });

  it("names each file after its outcome and uses only real error codes", () => {
    for (const row of ROWS) {
      expect(Object.values(ENVELOPES), row.file).toContain(row.envelope);
      if (row.outcome === "applied") {
        expect(row.file.startsWith("ok-"), row.file).toBe(true);
        expect(row.errorCode, row.file).toBeUndefined();
      } else {
        expect(row.outcome, row.file).toBe("dead-lettered");
        expect(row.file.startsWith("dlq-"), row.file).toBe(true);
        expect(ERROR_CODES, row.file).toContain(row.errorCode);
      }
    }
  });

  it("has applied examples of every action, both user forms and every envelope", () => {
    const applied = ROWS.filter((row) => row.outcome === "applied");
    const events = applied.map(validEvent);
    expect(new Set(events.map((event) => event.action))).toEqual(new Set(ACTIONS));
    expect(events.some((event) => "alias" in event.user)).toBe(true);
    expect(events.some((event) => "objectId" in event.user)).toBe(true);
    expect(new Set(applied.map((row) => row.envelope))).toEqual(
      new Set(["sqs", "sns", "eventbridge"]),
    );
  });

  it("dead-letters examples for the demo users' failure cases", () => {
    const codes = ROWS.map((row) => row.errorCode);
    for (const code of [
      "INVALID_EVENT",
      "USER_NOT_FOUND",
      "AMBIGUOUS_USER",
      "NOT_PERMITTED",
      "SECRET_NOT_FOUND",
    ]) {
      expect(codes).toContain(code);
    }
  });

  it("lists the secrets npm start seeds, and a delivery prefix", () => {
    expect(Object.fromEntries(SEEDED)).toEqual(demoSecrets);
    expect(DELIVERY_PREFIX).toBe("cupi-reset/delivery/");
    expect(MUST_NOT_EXIST.length).toBeGreaterThan(0);
    for (const name of MUST_NOT_EXIST) expect(SEEDED.has(name), name).toBe(false);
  });
});

describe.each(ROWS)("$file", (row) => {
  if (row.errorCode === "INVALID_EVENT") {
    it("is refused by parseRecordBody and by the JSON Schema", () => {
      expect(parseRecordBody(body(row.file)).ok).toBe(false);
      expect(schemaAccepts(payload(row))).toBe(false);
    });
    return;
  }

  it(`is a valid event in the ${row.envelope} envelope, by parseRecordBody and the JSON Schema`, () => {
    const parsed = parseRecordBody(body(row.file));
    expect(parsed.ok && parsed.envelope).toBe(row.envelope);
    expect(schemaAccepts(payload(row))).toBe(true);
  });

  it(`meets users, secrets and configuration that make it ${row.errorCode ?? "applied"}`, () => {
    const event = validEvent(row);
    const source = event.newCredential;
    const deliverTo = source !== undefined && "generate" in source ? source.deliverTo : undefined;
    switch (row.errorCode) {
      case undefined: {
        const user = theUser(event);
        expect(user.roles ?? []).toEqual([]);
        if (row.file.includes("-ldap")) expect(user.ldapType ?? 0).not.toBe(0);
        if (source !== undefined && "secretId" in source) {
          expect(violations(event, user)).toEqual([]);
          const current = event.action === "reset-pin" ? user.pin : user.password;
          expect(seededValue(event)).not.toBe(current);
        }
        if (deliverTo !== undefined) {
          expect(SEEDED.has(deliverTo.secretId)).toBe(true);
          expect(deliverTo.secretId.startsWith(DELIVERY_PREFIX as string)).toBe(true);
        }
        break;
      }
      case "USER_NOT_FOUND":
        expect(usersMatching(event)).toEqual([]);
        break;
      case "AMBIGUOUS_USER":
        expect(usersMatching(event).length).toBeGreaterThan(1);
        break;
      case "NOT_PERMITTED":
        expect(theUser(event).roles?.length).toBeGreaterThan(0);
        break;
      case "SECRET_NOT_FOUND":
        theUser(event);
        expect(MUST_NOT_EXIST).toContain(
          source !== undefined && "secretId" in source ? source.secretId : undefined,
        );
        break;
      case "CREDENTIAL_REJECTED":
        expect(violations(event, theUser(event)).length).toBeGreaterThan(0);
        break;
      case "ACTION_NOT_ALLOWED":
        theUser(event);
        expect(deliverTo?.secretId.startsWith(DELIVERY_PREFIX as string)).toBe(false);
        break;
      default:
        throw new Error(`no check for ${row.errorCode}`);
    }
  });
});
