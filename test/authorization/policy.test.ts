import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AuthorizationPolicy,
  loadAuthorizationPolicy,
  parseAuthorizationPolicy,
} from "../../lib/authorization/policy.ts";
import { ConfigurationError } from "../../lib/config/config.ts";
import { ACTIONS } from "../../lib/events/contract.ts";

const SERVICE_ACCOUNT = "svcCupiReset";
const OBJECT_ID = "0b4e934c-dd78-4fc9-9e64-69acf166123e";

const DEFAULT_FILE = JSON.parse(readFileSync("config/authorization-policy.json", "utf8")) as {
  sources: Record<string, string[]>;
  protectedAccounts: Record<string, string[]>;
};

const directory = mkdtempSync(join(tmpdir(), "cupi-reset-policy-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let files = 0;
function policyFile(content: string): string {
  files += 1;
  const path = join(directory, `policy-${files}.json`);
  writeFileSync(path, content);
  return path;
}

function refusal(load: () => AuthorizationPolicy): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error("expected the policy to be refused");
}

const valid = {
  version: 1,
  sources: { helpdesk: ["unlock-pin"] },
  protectedAccounts: { aliases: ["operator"], objectIds: [OBJECT_ID], patterns: ["admin*"] },
};

describe("the default policy (config/authorization-policy.json)", () => {
  const policy = loadAuthorizationPolicy(undefined);

  it("is the shipped file, and the file is valid on its own", () => {
    const fromFile = loadAuthorizationPolicy("config/authorization-policy.json");
    for (const action of ACTIONS) {
      for (const source of ["helpdesk", "hr-offboarding", "payroll"]) {
        expect(policy.refusalForSource(source, action)).toBe(
          fromFile.refusalForSource(source, action),
        );
      }
    }
  });

  it("lets helpdesk reset, unlock and change settings, and hr-offboarding offboard only", () => {
    const helpdeskActions = ACTIONS.filter((action) => action !== "offboard");
    for (const action of helpdeskActions) {
      expect(policy.refusalForSource("helpdesk", action)).toBeUndefined();
      expect(policy.refusalForSource("hr-offboarding", action)).toBe(
        `source hr-offboarding may not request ${action} (the authorization policy allows it: offboard)`,
      );
    }
    expect(policy.refusalForSource("hr-offboarding", "offboard")).toBeUndefined();
    expect(policy.refusalForSource("helpdesk", "offboard")).toMatch(
      /^source helpdesk may not request offboard \(the authorization policy allows it: reset-pin, /,
    );
  });

  it("refuses any other source, matching source names exactly", () => {
    for (const source of ["payroll", "Helpdesk", "helpdesk ", "hr", "constructor", "__proto__"]) {
      expect(policy.refusalForSource(source, "unlock-pin")).toBe(
        `source ${source} is not in the authorization policy: it may request nothing`,
      );
    }
  });

  it.each([
    ["administrator", "aliases"],
    ["Administrator", "aliases"],
    ["operator", "aliases"],
    ["OPERATOR", "aliases"],
    ["UndeliverableMessagesMailbox", "aliases"],
    ["UnityConnection", "aliases"],
    ["admin", "patterns admin*"],
    ["admin-jdoe", "patterns admin*"],
    ["helpdesk-admin", "patterns *-admin"],
    ["svc-backup", "patterns svc-*"],
    ["backup-svc", "patterns *-svc"],
  ])("protects %s (protectedAccounts.%s)", (alias, rule) => {
    expect(policy.refusalForAccount({ alias }, SERVICE_ACCOUNT)).toBe(
      `user ${alias} is a protected account (protectedAccounts.${rule})`,
    );
  });

  it.each(["jsmith", "mrossi", "sysadmin", "cucadmin", "operator2", "dup.user", "svc"])(
    "leaves %s to the event",
    (alias) => {
      expect(policy.refusalForAccount({ alias, objectId: OBJECT_ID }, SERVICE_ACCOUNT)).toBe(
        undefined,
      );
    },
  );

  it("always protects the service account the function signs in with, in any case", () => {
    expect(policy.refusalForAccount({ alias: "SVCcupiRESET" }, SERVICE_ACCOUNT)).toBe(
      "user SVCcupiRESET is the CUPI service account this function signs in with",
    );
    expect(
      policy.refusalForAccount({ alias: "svccupireset", objectId: OBJECT_ID }, SERVICE_ACCOUNT),
    ).toBe(
      `user svccupireset ${OBJECT_ID} is the CUPI service account this function signs in with`,
    );
    expect(policy.refusalForAccount({ alias: "jsmith" }, "jsmith")).toMatch(/service account/);
    // Known by objectId only (before the lookup), it is recognised once CUPI names it.
    expect(policy.refusalForAccount({ objectId: OBJECT_ID }, SERVICE_ACCOUNT)).toBeUndefined();
  });
});

describe("a policy file", () => {
  it("protects objectIds in any case, and aliases given in any case", () => {
    const policy = parseAuthorizationPolicy(
      {
        ...valid,
        protectedAccounts: { aliases: ["Reception.Desk"], objectIds: [OBJECT_ID.toUpperCase()] },
      },
      "test",
    );
    expect(policy.refusalForAccount({ objectId: OBJECT_ID }, SERVICE_ACCOUNT)).toBe(
      `user ${OBJECT_ID} is a protected account (protectedAccounts.objectIds)`,
    );
    expect(policy.refusalForAccount({ alias: "reception.desk" }, SERVICE_ACCOUNT)).toMatch(
      /protectedAccounts.aliases/,
    );
    // Patterns are for aliases: no pattern, no default protection carried over.
    expect(policy.refusalForAccount({ alias: "administrator" }, SERVICE_ACCOUNT)).toBeUndefined();
  });

  it("may leave out the protected-account lists, but not protectedAccounts itself", () => {
    const policy = parseAuthorizationPolicy({ ...valid, protectedAccounts: {} }, "test");
    expect(policy.refusalForAccount({ alias: "operator" }, SERVICE_ACCOUNT)).toBeUndefined();
    expect(policy.refusalForSource("helpdesk", "unlock-pin")).toBeUndefined();
    expect(policy.refusalForSource("helpdesk", "reset-pin")).toMatch(/allows it: unlock-pin\)$/);
  });

  it("is read from AUTHORIZATION_POLICY_PATH", () => {
    const policy = loadAuthorizationPolicy(policyFile(JSON.stringify(valid)));
    expect(policy.refusalForAccount({ alias: "admin2" }, SERVICE_ACCOUNT)).toMatch(/admin\*/);
    expect(policy.refusalForSource("hr-offboarding", "offboard")).toMatch(/not in the/);
  });

  it("that cannot be read or is not JSON stops the function, naming the path", () => {
    const missing = join(directory, "missing.json");
    expect(refusal(() => loadAuthorizationPolicy(missing))).toBe(
      `authorization policy AUTHORIZATION_POLICY_PATH=${missing}: cannot be read (ENOENT)`,
    );
    expect(refusal(() => loadAuthorizationPolicy(directory))).toBe(
      `authorization policy AUTHORIZATION_POLICY_PATH=${directory}: cannot be read (EISDIR)`,
    );
    const broken = policyFile('{ "version": 1, ');
    expect(refusal(() => loadAuthorizationPolicy(broken))).toBe(
      `authorization policy AUTHORIZATION_POLICY_PATH=${broken}: is not valid JSON`,
    );
  });

  it.each<[string, unknown, string]>([
    ["an array", [valid], "must be a JSON object"],
    ["null", null, "must be a JSON object"],
    ["no version", { ...valid, version: undefined }, "version: is required"],
    ["version 2", { ...valid, version: 2 }, "version: must be 1"],
    ["no sources", { ...valid, sources: undefined }, "sources: is required"],
    ["sources as a list", { ...valid, sources: ["helpdesk"] }, "sources: must map each source"],
    [
      "an unknown action",
      { ...valid, sources: { helpdesk: ["unlock-pin", "reset-voicemail"] } },
      "sources.helpdesk.1: must be one of reset-pin, reset-password,",
    ],
    [
      "actions as a string",
      { ...valid, sources: { helpdesk: "unlock-pin" } },
      "sources.helpdesk: must be an array of actions",
    ],
    [
      "no action for a source",
      { ...valid, sources: { helpdesk: [] } },
      "sources.helpdesk: must list at least one action (leave the source out to refuse it)",
    ],
    [
      "a source no event can carry",
      { ...valid, sources: { "help desk": ["unlock-pin"] } },
      "sources.help desk: is not a source name",
    ],
    ["a misspelt field", { ...valid, protectedAcounts: {} }, "protectedAcounts: is not a field"],
    [
      "no protectedAccounts",
      { ...valid, protectedAccounts: undefined },
      "protectedAccounts: is required",
    ],
    [
      "protectedAccounts as a list",
      { ...valid, protectedAccounts: ["operator"] },
      "protectedAccounts: must be {",
    ],
    [
      "an unknown protected-account list",
      { ...valid, protectedAccounts: { alias: ["operator"] } },
      "protectedAccounts.alias: is not a field",
    ],
    [
      "an alias CUC cannot have",
      { ...valid, protectedAccounts: { aliases: ["operator", "../admin"] } },
      "protectedAccounts.aliases.1: must be an alias",
    ],
    [
      "a number for an alias",
      { ...valid, protectedAccounts: { aliases: [42] } },
      "protectedAccounts.aliases.0: must be a string",
    ],
    [
      "aliases as a string",
      { ...valid, protectedAccounts: { aliases: "operator" } },
      "protectedAccounts.aliases: must be an array",
    ],
    [
      "an objectId that is no GUID",
      { ...valid, protectedAccounts: { objectIds: ["jsmith"] } },
      "protectedAccounts.objectIds.0: must be a 36-character GUID",
    ],
    [
      "a regular expression for a pattern",
      { ...valid, protectedAccounts: { patterns: ["^(admin)+$"] } },
      "protectedAccounts.patterns.0: must be 1-64 of letters, digits, . _ - @ and the wildcard *",
    ],
    [
      "a budget that is no number",
      { ...valid, limits: { helpdesk: { perHour: "200" } } },
      "limits.helpdesk.perHour: must be a number",
    ],
    [
      "a budget of none",
      { ...valid, limits: { helpdesk: { perHour: 0 } } },
      "limits.helpdesk.perHour: must be at least 1 (leave the source out of the policy to refuse it)",
    ],
    [
      "a budget larger than the state table can count",
      { ...valid, limits: { helpdesk: { perHour: 10_001 } } },
      "limits.helpdesk.perHour: must be at most 10000",
    ],
    [
      "a misspelt budget field",
      { ...valid, limits: { helpdesk: { perhour: 200 } } },
      "limits.helpdesk.perHour: is required; limits.helpdesk.perhour: is not a field",
    ],
    [
      "a budget for a source the policy does not have",
      { ...valid, limits: { helpdsk: { perHour: 200 } } },
      "limits.helpdsk: is not a source of the policy",
    ],
    [
      "a fractional user limit",
      { ...valid, userLimit: { perHour: 2.5 } },
      "userLimit.perHour: must be a whole number",
    ],
    [
      "a user limit above 100",
      { ...valid, userLimit: { perHour: 101 } },
      "userLimit.perHour: must be at most 100",
    ],
    [
      "an over-long pattern",
      { ...valid, protectedAccounts: { patterns: ["admin*", `${"a".repeat(64)}*`] } },
      "protectedAccounts.patterns.1: must be 1-64 of letters",
    ],
  ])("with %s is refused with a message naming the field", (_, document, expected) => {
    const message = refusal(() => loadAuthorizationPolicy(policyFile(JSON.stringify(document))));
    expect(message.startsWith("authorization policy AUTHORIZATION_POLICY_PATH=")).toBe(true);
    expect(message).toContain(`: ${expected}`);
  });

  it("gives each source its budget, if it has one, and users 5 changes an hour unless it says", () => {
    const limited = parseAuthorizationPolicy(
      {
        ...valid,
        sources: { ...valid.sources, hr: ["offboard"] },
        limits: { hr: { perHour: 2000 } },
      },
      "test",
    );
    expect([limited.budgetOf("hr"), limited.budgetOf("helpdesk")]).toEqual([2000, undefined]);
    expect(limited.userChangesPerHour).toBe(5);
    expect(
      parseAuthorizationPolicy({ ...valid, userLimit: { perHour: 12 } }, "test").userChangesPerHour,
    ).toBe(12);
  });

  it("reports every bad field at once", () => {
    const message = refusal(() =>
      parseAuthorizationPolicy(
        { ...valid, version: 0, protectedAccounts: { objectIds: ["x"], patterns: ["a b"] } },
        "test",
      ),
    );
    expect(message).toBe(
      "authorization policy test: version: must be 1; protectedAccounts.objectIds.0: must be a 36-character GUID; protectedAccounts.patterns.0: must be 1-64 of letters, digits, . _ - @ and the wildcard *",
    );
  });

  it("ships a default that protects the CUC system accounts", () => {
    expect(DEFAULT_FILE.protectedAccounts.aliases).toEqual(
      expect.arrayContaining(["administrator", "operator", "undeliverablemessagesmailbox"]),
    );
    expect(Object.keys(DEFAULT_FILE.sources).sort()).toEqual(["helpdesk", "hr-offboarding"]);
  });
});
