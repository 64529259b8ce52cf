import { describe, expect, it } from "vitest";
import type { CredentialKind } from "../../lib/cupi/types.ts";
import { ACTIONS, type Action, type ResetEvent } from "../../lib/events/contract.ts";
import { credentialsOf, needsNewValue, planChanges, settingsUpdate } from "../../lib/reset/plan.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";

const BASE = {
  version: 1,
  eventId: "hd-INC0012345-1",
  occurredAt: "2026-11-28T10:00:00Z",
  source: "helpdesk",
  user: { alias: "jsmith" },
} as const;

function event(
  action: Action,
  extra: Pick<ResetEvent, "newCredential" | "settings"> = {},
): ResetEvent {
  return { ...BASE, action, ...extra };
}

const NEW_PIN = new SecretValue("604729");
const NEW_PASSWORD = new SecretValue("Xq7#vRt2pLm9");
const BOTH = new Map<CredentialKind, SecretValue>([
  ["pin", NEW_PIN],
  ["password", NEW_PASSWORD],
]);
const NONE = new Map<CredentialKind, SecretValue>();

const GENERATE = { newCredential: { generate: true } } as const;

describe("credentialsOf", () => {
  it.each([
    ["reset-pin", ["pin"]],
    ["update-pin-settings", ["pin"]],
    ["unlock-pin", ["pin"]],
    ["reset-password", ["password"]],
    ["update-password-settings", ["password"]],
    ["unlock-password", ["password"]],
  ] as const)("%s touches %j, LDAP or not", (action, kinds) => {
    expect(credentialsOf(action, false)).toEqual(kinds);
    expect(credentialsOf(action, true)).toEqual(kinds);
  });

  it("offboard touches the PIN, then the password, except for LDAP-integrated users", () => {
    expect(credentialsOf("offboard", false)).toEqual(["pin", "password"]);
    expect(credentialsOf("offboard", true)).toEqual(["pin"]);
  });
});

describe("needsNewValue", () => {
  it("is true for the resets and offboard only", () => {
    expect(ACTIONS.filter(needsNewValue)).toEqual(["reset-pin", "reset-password", "offboard"]);
  });
});

describe("settingsUpdate", () => {
  it.each([
    ["cantChange", "CantChange"],
    ["mustChange", "CredMustChange"],
    ["doesntExpire", "DoesntExpire"],
    ["locked", "Locked"],
  ])("maps %s to CUPI's %s, true and false alike", (setting, field) => {
    expect(settingsUpdate({ [setting]: true })).toStrictEqual({ [field]: true });
    expect(settingsUpdate({ [setting]: false })).toStrictEqual({ [field]: false });
  });

  it("maps all four at once", () => {
    expect(
      settingsUpdate({ cantChange: true, mustChange: false, doesntExpire: true, locked: false }),
    ).toStrictEqual({ CantChange: true, CredMustChange: false, DoesntExpire: true, Locked: false });
  });

  it("sends nothing for settings that are absent", () => {
    expect(settingsUpdate(undefined)).toStrictEqual({});
    expect(settingsUpdate({ mustChange: true })).toStrictEqual({ CredMustChange: true });
  });
});

describe("planChanges", () => {
  it("reset-pin: the new value, and nothing else without settings", () => {
    const changes = planChanges(event("reset-pin", GENERATE), false, BOTH);
    expect(changes).toStrictEqual([{ kind: "pin", update: { Credentials: NEW_PIN } }]);
    expect(changes[0]?.update.Credentials).toBe(NEW_PIN);
  });

  it("reset-password: the new value with the settings, in the same PUT", () => {
    const changes = planChanges(
      event("reset-password", {
        newCredential: { secretId: "cupi/x", jsonKey: "password" },
        settings: { mustChange: true, cantChange: false, doesntExpire: false, locked: false },
      }),
      false,
      BOTH,
    );
    expect(changes).toStrictEqual([
      {
        kind: "password",
        update: {
          Credentials: NEW_PASSWORD,
          CantChange: false,
          CredMustChange: true,
          DoesntExpire: false,
          Locked: false,
        },
      },
    ]);
    expect(changes[0]?.update.Credentials).toBe(NEW_PASSWORD);
  });

  it("reset-pin with locked: true locks the new PIN", () => {
    expect(
      planChanges(event("reset-pin", { ...GENERATE, settings: { locked: true } }), false, BOTH),
    ).toStrictEqual([{ kind: "pin", update: { Credentials: NEW_PIN, Locked: true } }]);
  });

  it.each([
    ["reset-pin", "pin"],
    ["reset-password", "password"],
  ] as const)("%s refuses to plan without a new %s", (action, kind) => {
    const other = new Map<CredentialKind, SecretValue>([
      [kind === "pin" ? "password" : "pin", NEW_PIN],
    ]);
    expect(() => planChanges(event(action, GENERATE), false, other)).toThrow(
      `planChanges needs a new ${kind} value`,
    );
  });

  it.each([
    ["update-pin-settings", "pin"],
    ["update-password-settings", "password"],
  ] as const)("%s sends the settings only, never a value", (action, kind) => {
    expect(
      planChanges(event(action, { settings: { cantChange: true } }), false, BOTH),
    ).toStrictEqual([{ kind, update: { CantChange: true } }]);
    expect(
      planChanges(
        event(action, { settings: { mustChange: true, doesntExpire: true, locked: true } }),
        true,
        NONE,
      ),
    ).toStrictEqual([{ kind, update: { CredMustChange: true, DoesntExpire: true, Locked: true } }]);
  });

  it.each([
    ["unlock-pin", "pin"],
    ["unlock-password", "password"],
  ] as const)("%s clears HackCount and TimeHacked and unlocks, without a value", (action, kind) => {
    expect(planChanges(event(action), false, BOTH)).toStrictEqual([
      { kind, update: { HackCount: 0, TimeHacked: "", Locked: false } },
    ]);
  });

  it.each([
    ["unlock-pin", "pin"],
    ["unlock-password", "password"],
  ] as const)("%s adds the settings to the unlock", (action, kind) => {
    expect(
      planChanges(
        event(action, { settings: { mustChange: true, cantChange: false, locked: false } }),
        false,
        NONE,
      ),
    ).toStrictEqual([
      {
        kind,
        update: {
          CantChange: false,
          CredMustChange: true,
          HackCount: 0,
          TimeHacked: "",
          Locked: false,
        },
      },
    ]);
  });

  it("offboard: both credentials, each with its own value, locked and unchangeable", () => {
    const changes = planChanges(event("offboard"), false, BOTH);
    expect(changes).toStrictEqual([
      { kind: "pin", update: { Credentials: NEW_PIN, Locked: true, CantChange: true } },
      { kind: "password", update: { Credentials: NEW_PASSWORD, Locked: true, CantChange: true } },
    ]);
    expect(changes[0]?.update.Credentials).toBe(NEW_PIN);
    expect(changes[1]?.update.Credentials).toBe(NEW_PASSWORD);
  });

  it("offboard of an LDAP-integrated user: the PIN only", () => {
    expect(planChanges(event("offboard"), true, BOTH)).toStrictEqual([
      { kind: "pin", update: { Credentials: NEW_PIN, Locked: true, CantChange: true } },
    ]);
    const pinOnly = new Map<CredentialKind, SecretValue>([["pin", NEW_PIN]]);
    expect(planChanges(event("offboard"), true, pinOnly)).toHaveLength(1);
  });

  it("offboard refuses to plan without a value for each credential", () => {
    const pinOnly = new Map<CredentialKind, SecretValue>([["pin", NEW_PIN]]);
    expect(() => planChanges(event("offboard"), false, pinOnly)).toThrow(
      "planChanges needs a new password value",
    );
    expect(() => planChanges(event("offboard"), true, NONE)).toThrow(
      "planChanges needs a new pin value",
    );
  });

  it("plans the same PUTs for LDAP and other users, offboard aside", () => {
    for (const action of ACTIONS.filter((action) => action !== "offboard")) {
      const input = event(action, {
        ...(action.startsWith("reset-") ? GENERATE : {}),
        ...(action.startsWith("update-") ? { settings: { mustChange: true } } : {}),
      });
      expect(planChanges(input, true, BOTH), action).toStrictEqual(planChanges(input, false, BOTH));
    }
  });

  it("is pure: the event and the values are left as they were", () => {
    const input = event("reset-pin", { ...GENERATE, settings: { mustChange: true } });
    const before = structuredClone(input);
    const values = new Map(BOTH);
    const first = planChanges(input, false, values);
    expect(planChanges(input, false, values)).toStrictEqual(first);
    expect(input).toStrictEqual(before);
    expect(values).toStrictEqual(BOTH);
  });

  it("never shows the value when a plan is logged", () => {
    const text = JSON.stringify(planChanges(event("offboard"), false, BOTH));
    expect(text).not.toContain("604729");
    expect(text).not.toContain("Xq7#vRt2pLm9");
  });
});
