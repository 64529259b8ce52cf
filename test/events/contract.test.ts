import { describe, expect, it } from "vitest";
import { ACTIONS, isEventId, validateResetEvent } from "../../lib/events/contract.ts";
import { schemaAccepts } from "./schema-validator.ts";

/** The sample event of the contract (issue 3), verbatim. */
const SAMPLE = {
  version: 1,
  eventId: "hd-INC0012345-1",
  occurredAt: "2026-11-28T10:00:00Z",
  source: "helpdesk",
  requestedBy: "agent@example.com",
  ticketId: "INC0012345",
  user: { alias: "jsmith" },
  action: "reset-pin",
  newCredential: { secretId: "cupi/resets/INC0012345", jsonKey: "pin" },
  settings: { cantChange: false, mustChange: true, doesntExpire: false, locked: false },
};

const GUID = "0b4e934c-dd78-4fc9-9e64-69acf166123e";

/** A valid unlock: the smallest event that needs neither newCredential nor settings. */
const BASE = {
  version: 1,
  eventId: "hd-INC0012345-1",
  occurredAt: "2026-11-28T10:00:00Z",
  source: "helpdesk",
  user: { alias: "jsmith" },
  action: "unlock-pin",
};

const RESET = { ...BASE, action: "reset-pin", newCredential: { generate: true } };

const USER_UNION =
  'user: must be exactly one of { "objectId": "<GUID>" } or { "alias": "<alias>" }';
const CREDENTIAL_UNION =
  'newCredential: must be exactly one of { "secretId", "jsonKey"? } or { "generate": true, "deliverTo"? }';
const NOT_AN_OBJECT = "must be a JSON object (event contract v1)";
const SECRET_ID_RULE = "must be a Secrets Manager secret name or ARN";

function reasonsOf(input: unknown): string[] {
  const result = validateResetEvent(input);
  if (result.ok) throw new Error("expected the event to be refused");
  return result.reasons;
}

/** Valid under the runtime contract, unchanged by it, and valid under the published schema. */
function expectValid(input: Record<string, unknown>): void {
  const result = validateResetEvent(input);
  expect(result).toEqual({ ok: true, event: input });
  expect(schemaAccepts(input)).toBe(true);
}

/** Refused with exactly these reasons, and refused by the published schema too. */
function expectRefused(input: unknown, reasons: string[]): void {
  expect(reasonsOf(input)).toEqual(reasons);
  expect(schemaAccepts(input)).toBe(false);
}

describe("valid events", () => {
  it("accepts the sample event of the contract as it is", () => {
    expectValid(SAMPLE);
  });

  it.each([
    ["reset-pin from a secret key", { newCredential: { secretId: "cupi/x", jsonKey: "pin" } }],
    ["reset-pin from a whole secret", { newCredential: { secretId: "cupi/x" } }],
    [
      "reset-pin from a secret ARN",
      {
        newCredential: {
          secretId: "arn:aws:secretsmanager:eu-central-1:123456789012:secret:cupi/x-AbCdEf",
        },
      },
    ],
    [
      "reset-pin from a GovCloud secret ARN",
      {
        newCredential: {
          secretId: "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x",
        },
      },
    ],
    ["reset-pin generated", { newCredential: { generate: true } }],
    [
      "reset-pin generated and delivered",
      { newCredential: { generate: true, deliverTo: { secretId: "cupi-reset/delivery/j" } } },
    ],
    [
      "reset-pin with settings",
      { newCredential: { generate: true }, settings: { mustChange: true, locked: true } },
    ],
  ])("%s", (_name, fields) => {
    expectValid({ ...BASE, action: "reset-pin", ...fields });
  });

  it("accepts reset-password with each form of newCredential", () => {
    expectValid({
      ...BASE,
      action: "reset-password",
      newCredential: { secretId: "s", jsonKey: "k" },
    });
    expectValid({
      ...BASE,
      action: "reset-password",
      newCredential: { generate: true, deliverTo: { secretId: "d" } },
      settings: { mustChange: true },
    });
  });

  it.each(["update-pin-settings", "update-password-settings"])(
    "accepts %s with any one setting, true or false",
    (action) => {
      for (const key of ["cantChange", "mustChange", "doesntExpire", "locked"]) {
        for (const flag of [true, false]) {
          expectValid({ ...BASE, action, settings: { [key]: flag } });
        }
      }
    },
  );

  it.each(["unlock-pin", "unlock-password"])(
    "accepts %s without settings, or with settings that do not lock",
    (action) => {
      expectValid({ ...BASE, action });
      expectValid({ ...BASE, action, settings: { locked: false, mustChange: true } });
      expectValid({ ...BASE, action, settings: { cantChange: true } });
    },
  );

  it("accepts offboard by alias and by objectId in either letter case", () => {
    expectValid({ ...BASE, action: "offboard" });
    expectValid({ ...BASE, action: "offboard", user: { objectId: GUID } });
    expectValid({ ...BASE, action: "offboard", user: { objectId: GUID.toUpperCase() } });
  });

  it("accepts the optional fields at their longest", () => {
    expectValid({
      ...BASE,
      eventId: "e".repeat(128),
      source: "s".repeat(64),
      requestedBy: "r".repeat(256),
      ticketId: "t".repeat(128),
      cluster: "c".repeat(64),
      user: { alias: `a${"b".repeat(63)}` },
    });
    expectValid({
      ...RESET,
      newCredential: { secretId: "s".repeat(512), jsonKey: "k".repeat(256) },
    });
  });

  it("accepts every character the identifier rules allow", () => {
    expectValid({
      ...BASE,
      eventId: "AZaz09._:-",
      source: "AZaz09._:-",
      cluster: "AZaz09._-",
      user: { alias: "j.smith_2-x@example.com" },
      requestedBy: "Agent Ünïcode <agent@example.com> ✓",
      ticketId: "INC 0012345 / näive\u00a0(nbsp)",
    });
    expectValid({ ...RESET, newCredential: { secretId: "a/b_c+d=e.f@g-h" } });
  });

  it("lists the seven actions of the contract, in its order", () => {
    expect(ACTIONS).toEqual([
      "reset-pin",
      "reset-password",
      "update-pin-settings",
      "update-password-settings",
      "unlock-pin",
      "unlock-password",
      "offboard",
    ]);
  });
});

describe("occurredAt (RFC 3339)", () => {
  it.each([
    "2026-11-28T10:00:00Z",
    "2026-11-28T10:00:00z",
    "2026-11-28t10:00:00Z",
    "2026-11-28 10:00:00Z",
    "2026-11-28T10:00:00+05:30",
    "2026-11-28T10:00:00-08:00",
    "2026-11-28T10:00:00-00:00",
    "2026-11-28T10:00:00+23:59",
    "2026-11-28T10:00:00.5Z",
    "2026-11-28T10:00:00.123456789+01:00",
    "2026-11-28T23:59:59Z",
    "2026-11-28T00:00:00Z",
    "2024-02-29T12:00:00Z",
    "2000-02-29T12:00:00Z",
    "2026-12-31T23:59:59.999Z",
    "1999-01-01T00:00:00Z",
  ])("accepts %s", (occurredAt) => {
    expectValid({ ...BASE, occurredAt });
  });

  it.each([
    "2026-11-28T10:00:00",
    "2026-11-28",
    "2026-11-28T10:00Z",
    "2026-11-28T10:00:00.Z",
    "2026-11-28T10:00:00.1234567890Z",
    "2026-11-28T10:00:00+0100",
    "2026-11-28T10:00:00+01",
    "2026-11-28_10:00:00Z",
    "2026-11-28T10:00:00 Z",
    " 2026-11-28T10:00:00Z",
    "2026-11-28T10:00:00Z\n",
    "26-11-28T10:00:00Z",
    "2026-11-28T1:00:00Z",
    "Sat, 28 Nov 2026 10:00:00 GMT",
    "",
  ])("refuses %j as not RFC 3339", (occurredAt) => {
    expectRefused({ ...BASE, occurredAt }, [
      "occurredAt: must be an RFC 3339 date-time with a time zone",
    ]);
  });

  it.each([
    "2026-02-30T10:00:00Z",
    "2026-02-29T10:00:00Z",
    "1900-02-29T10:00:00Z",
    "2026-04-31T10:00:00Z",
    "2026-00-10T10:00:00Z",
    "2026-13-10T10:00:00Z",
    "2026-01-00T10:00:00Z",
    "2026-01-32T10:00:00Z",
    "2026-11-28T25:00:00Z",
    "2026-11-28T10:60:00Z",
    "2026-11-28T10:00:60Z",
    "2026-11-28T10:00:00+24:00",
    "2026-11-28T10:00:00+01:60",
  ])("refuses %s as no real date and time", (occurredAt) => {
    expectRefused({ ...BASE, occurredAt }, ["occurredAt: must be a real date and time"]);
  });

  // Date.parse would take hour 24 and, after a space separator, offset hours up to 99; Date.UTC
  // would map the years 0-99 to 1900-1999.
  it.each(["2026-11-28T24:00:00Z", "2026-11-28 10:00:00+24:00", "2026-11-28 10:00:00-99:00"])(
    "refuses %s",
    (occurredAt) => {
      expect(validateResetEvent({ ...BASE, occurredAt }).ok).toBe(false);
    },
  );

  it("accepts 0000-02-29, a leap day", () => {
    expect(validateResetEvent({ ...BASE, occurredAt: "0000-02-29T10:00:00Z" }).ok).toBe(true);
  });

  it("the JSON Schema refuses hour 24 and offsets of 24 hours", () => {
    for (const occurredAt of ["2026-11-28T24:00:00Z", "2026-11-28 10:00:00+24:00"]) {
      expect(schemaAccepts({ ...BASE, occurredAt })).toBe(false);
    }
  });

  it("refuses an epoch number", () => {
    expectRefused({ ...BASE, occurredAt: 1_764_324_000_000 }, ["occurredAt: must be a string"]);
  });
});

describe("identifiers and free text", () => {
  it.each([
    ["", "empty"],
    ["e".repeat(129), "129 characters"],
    ["hd INC1", "a space"],
    ["hd/INC1", "a slash"],
    ["hé", "a non-ASCII letter"],
  ])("refuses eventId %j (%s)", (eventId) => {
    expect(isEventId(eventId)).toBe(false);
    expectRefused({ ...BASE, eventId }, [
      "eventId: must be 1-128 characters of A-Z a-z 0-9 . _ : -",
    ]);
  });

  it("isEventId agrees with the contract on good ids", () => {
    expect(isEventId("hd-INC0012345-1")).toBe(true);
    expect(isEventId("e".repeat(128))).toBe(true);
  });

  it.each(["", "s".repeat(65), "help desk", "help/desk"])("refuses source %j", (source) => {
    expectRefused({ ...BASE, source }, ["source: must be 1-64 characters of A-Z a-z 0-9 . _ : -"]);
  });

  it.each(["", "c".repeat(65), "eu:west", "eu west", "eu/west"])(
    "refuses cluster %j",
    (cluster) => {
      expectRefused({ ...BASE, cluster }, ["cluster: must be 1-64 of A-Z a-z 0-9 . _ -"]);
    },
  );

  it.each([
    ["requestedBy", 256],
    ["ticketId", 128],
  ] as const)("%s: empty, too long, control characters", (field, max) => {
    expectRefused({ ...BASE, [field]: "" }, [`${field}: must not be empty`]);
    expectRefused({ ...BASE, [field]: "x".repeat(max + 1) }, [
      `${field}: must be at most ${max} characters`,
    ]);
    for (const control of ["\n", "\r", "\t", "\u0000", "\u001f", "\u007f", "\u0085", "\u009f"]) {
      expectRefused({ ...BASE, [field]: `a${control}b` }, [
        `${field}: must not contain control characters`,
      ]);
    }
  });

  it("jsonKey follows the same free-text rules", () => {
    const withKey = (jsonKey: string) => ({ ...RESET, newCredential: { secretId: "s", jsonKey } });
    expectRefused(withKey(""), ["newCredential.jsonKey: must not be empty"]);
    expectRefused(withKey("k".repeat(257)), [
      "newCredential.jsonKey: must be at most 256 characters",
    ]);
    expectRefused(withKey("pin\n"), ["newCredential.jsonKey: must not contain control characters"]);
  });

  it.each([
    "",
    "cupi reset",
    "cupi\\reset",
    "s".repeat(513),
    "arn:aws:secretsmanager:us-east-1:12345:secret:x",
    "arn:aws:secretsmanager:US-EAST-1:123456789012:secret:x",
    "arn:aws:ssm:us-east-1:123456789012:secret:x",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
    "arn:aws:secretsmanager:us-east-1:123456789012:parameter:x",
  ])("refuses secretId %j, as the source and as the delivery secret", (secretId) => {
    expectRefused({ ...RESET, newCredential: { secretId } }, [
      `newCredential.secretId: ${SECRET_ID_RULE}`,
    ]);
    expectRefused({ ...RESET, newCredential: { generate: true, deliverTo: { secretId } } }, [
      `newCredential.deliverTo.secretId: ${SECRET_ID_RULE}`,
    ]);
  });
});

describe("user", () => {
  it.each([
    ["both forms", { alias: "jsmith", objectId: GUID }],
    ["neither form", {}],
    ["an unknown field", { alias: "jsmith", name: "John" }],
    ["only an unknown field", { email: "j@example.com" }],
    ["a non-string alias", { alias: 42 }],
    ["a non-string objectId", { objectId: 42 }],
    ["null", null],
    ["a string", "jsmith"],
    ["an array", [{ alias: "jsmith" }]],
  ])("refuses %s", (_name, user) => {
    expectRefused({ ...BASE, user }, [USER_UNION]);
  });

  it.each(["", "../admin", "a..b", ".hidden", "j smith", "jsmith)", "a".repeat(65), "jsmith%2F"])(
    "refuses alias %j",
    (alias) => {
      expectRefused({ ...BASE, user: { alias } }, [
        "user.alias: must be 1-64 letters, digits or . _ - @, starting with a letter or digit",
      ]);
    },
  );

  it.each([
    "",
    GUID.replaceAll("-", ""),
    `${GUID}0`,
    GUID.slice(1),
    GUID.replace("0", "g"),
    `{${GUID}}`,
    `${GUID}/credential`,
  ])("refuses objectId %j", (objectId) => {
    expectRefused({ ...BASE, user: { objectId } }, ["user.objectId: must be a 36-character GUID"]);
  });
});

describe("action", () => {
  it.each(["RESET-PIN", "reset", "reset_pin", "", 1, null])("refuses %j", (action) => {
    expectRefused({ ...BASE, action }, [
      "action: must be one of reset-pin, reset-password, update-pin-settings, update-password-settings, unlock-pin, unlock-password, offboard",
    ]);
  });
});

describe("newCredential", () => {
  it.each([
    ["empty", {}],
    ["generate false", { generate: false }],
    ["generate as a string", { generate: "true" }],
    ["both forms", { secretId: "s", generate: true }],
    ["jsonKey with generate", { generate: true, jsonKey: "pin" }],
    ["deliverTo with a secret", { secretId: "s", deliverTo: { secretId: "d" } }],
    ["an unknown field next to secretId", { secretId: "s", version: "AWSCURRENT" }],
    ["an unknown field next to generate", { generate: true, length: 8 }],
    ["an unknown field in deliverTo", { generate: true, deliverTo: { secretId: "d", key: "k" } }],
    ["an empty deliverTo", { generate: true, deliverTo: {} }],
    ["deliverTo as a string", { generate: true, deliverTo: "d" }],
    ["deliverTo null", { generate: true, deliverTo: null }],
    ["a non-string secretId", { secretId: 5 }],
    ["a non-string jsonKey", { secretId: "s", jsonKey: 5 }],
    ["null", null],
    ["a string", "cupi/x"],
  ])("refuses %s", (_name, newCredential) => {
    expectRefused({ ...RESET, newCredential }, [CREDENTIAL_UNION]);
  });
});

describe("settings", () => {
  it("refuses an empty settings object", () => {
    expectRefused({ ...BASE, settings: {} }, ["settings: must set at least one setting"]);
  });

  it.each(["true", 1, 0, null, "false"])("refuses a flag of %j", (flag) => {
    for (const key of ["cantChange", "mustChange", "doesntExpire", "locked"]) {
      expectRefused({ ...BASE, settings: { [key]: flag } }, [
        `settings.${key}: must be true or false`,
      ]);
    }
  });

  it.each([
    ["a misspelt flag", { mustchange: true }, "mustchange"],
    ["a CUPI field name", { CredMustChange: true }, "CredMustChange"],
    ["an unknown flag next to a good one", { mustChange: true, expires: false }, "expires"],
  ])("refuses %s, naming the field", (_name, settings, unknown) => {
    const reasons = reasonsOf({ ...BASE, settings });
    expect(reasons).toHaveLength(1);
    expect(reasons[0]?.startsWith(`settings.${unknown}: `)).toBe(true);
    expect(schemaAccepts({ ...BASE, settings })).toBe(false);
  });

  it.each([5, "x", true, ["mustChange"]])("refuses settings of %j", (settings) => {
    const reasons = reasonsOf({ ...BASE, settings });
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^settings(\.0)?: /);
    expect(schemaAccepts({ ...BASE, settings })).toBe(false);
  });
});

describe("rules across fields", () => {
  it.each(["reset-pin", "reset-password"])("%s requires newCredential", (action) => {
    expectRefused({ ...BASE, action }, [
      "newCredential: is required for reset-pin and reset-password",
    ]);
    expectRefused({ ...BASE, action, settings: { mustChange: true } }, [
      "newCredential: is required for reset-pin and reset-password",
    ]);
  });

  it.each(ACTIONS.filter((action) => !action.startsWith("reset-")))(
    "%s refuses newCredential",
    (action) => {
      for (const newCredential of [{ generate: true }, { secretId: "s", jsonKey: "pin" }]) {
        const event = {
          ...BASE,
          action,
          newCredential,
          ...(action.startsWith("update-") ? { settings: { mustChange: true } } : {}),
        };
        expectRefused(event, ["newCredential: is only allowed with reset-pin and reset-password"]);
      }
    },
  );

  it.each(["update-pin-settings", "update-password-settings"])("%s requires settings", (action) => {
    expectRefused({ ...BASE, action }, [
      "settings: is required for update-pin-settings and update-password-settings",
    ]);
  });

  it.each(["unlock-pin", "unlock-password"])("%s cannot set locked: true", (action) => {
    expectRefused({ ...BASE, action, settings: { locked: true } }, [
      "settings: cannot lock the credential that an unlock action unlocks",
    ]);
    expectRefused({ ...BASE, action, settings: { mustChange: true, locked: true } }, [
      "settings: cannot lock the credential that an unlock action unlocks",
    ]);
  });

  it("locked: true is fine where nothing is unlocked", () => {
    expectValid({ ...BASE, action: "update-pin-settings", settings: { locked: true } });
    expectValid({ ...RESET, settings: { locked: true } });
  });

  it.each([{ locked: true }, { locked: false }, { mustChange: false }, { cantChange: true }])(
    "offboard refuses settings %j",
    (settings) => {
      expectRefused({ ...BASE, action: "offboard", settings }, [
        "settings: is not allowed with offboard, which always locks and sets cantChange",
      ]);
    },
  );

  it("stops at the first broken cross-field rule", () => {
    expectRefused(
      {
        ...BASE,
        action: "offboard",
        newCredential: { generate: true },
        settings: { locked: true },
      },
      ["newCredential: is only allowed with reset-pin and reset-password"],
    );
    expectRefused({ ...BASE, action: "offboard", settings: { locked: true } }, [
      "settings: is not allowed with offboard, which always locks and sets cantChange",
    ]);
  });

  it("checks the rules across fields only once every field is valid", () => {
    // A bad eventId stops the pipe: the missing newCredential is not reported yet.
    expectRefused({ ...BASE, action: "reset-pin", eventId: "" }, [
      "eventId: must be 1-128 characters of A-Z a-z 0-9 . _ : -",
    ]);
  });
});

describe("the object itself", () => {
  it.each([null, "event", 42, true])("refuses %j as no object", (input) => {
    expectRefused(input, [NOT_AN_OBJECT]);
  });

  it("refuses an array", () => {
    expect(validateResetEvent([]).ok).toBe(false);
    expect(schemaAccepts([])).toBe(false);
  });

  it.each([
    ["an unknown top-level field", { extra: 1 }, "extra"],
    ["a misspelt field", { occuredAt: "2026-11-28T10:00:00Z" }, "occuredAt"],
    ["a field of a later version", { priority: "high" }, "priority"],
  ])("refuses %s and names it", (_name, extra, key) => {
    expectRefused({ ...BASE, ...extra }, [`${key}: is not a field of event contract v1`]);
  });

  it.each([2, 0, "1", null, true])("refuses version %j", (version) => {
    expectRefused({ ...BASE, version }, ["version: must be 1"]);
  });

  it.each(["version", "eventId", "occurredAt", "source", "user", "action"])(
    "refuses an event without %s, naming the field",
    (field) => {
      const event: Record<string, unknown> = { ...BASE };
      delete event[field];
      const reasons = reasonsOf(event);
      expect(reasons).toHaveLength(1);
      expect(reasons[0]?.startsWith(`${field}: `)).toBe(true);
      expect(schemaAccepts(event)).toBe(false);
    },
  );

  it.each([
    ["eventId", 5, "eventId: must be a string"],
    ["source", null, "source: must be a string"],
    ["requestedBy", 5, "requestedBy: must be a string"],
    ["ticketId", ["INC1"], "ticketId: must be a string"],
    ["cluster", { name: "emea" }, "cluster: must be a string"],
  ])("refuses a %s of the wrong type", (field, value, reason) => {
    expectRefused({ ...BASE, [field]: value }, [reason]);
  });

  it("reports every field's problem, in field order", () => {
    expectRefused(
      {
        version: 2,
        eventId: "",
        occurredAt: 5,
        source: "",
        user: {},
        action: "x",
        settings: {},
        cluster: "",
        extra: 1,
      },
      [
        "version: must be 1",
        "eventId: must be 1-128 characters of A-Z a-z 0-9 . _ : -",
        "occurredAt: must be a string",
        "source: must be 1-64 characters of A-Z a-z 0-9 . _ : -",
        USER_UNION,
        "action: must be one of reset-pin, reset-password, update-pin-settings, update-password-settings, unlock-pin, unlock-password, offboard",
        "settings: must set at least one setting",
        "cluster: must be 1-64 of A-Z a-z 0-9 . _ -",
        "extra: is not a field of event contract v1",
      ],
    );
  });

  it("never repeats a refused value in the reasons", () => {
    const canary = "CANARY 7f3a";
    const reasons = reasonsOf({
      version: canary,
      eventId: canary,
      occurredAt: canary,
      source: canary,
      requestedBy: `${canary}\n`,
      ticketId: `${canary}\u0000`,
      user: { alias: canary },
      action: canary,
      cluster: canary,
    });
    expect(reasons).toHaveLength(9);
    for (const reason of reasons) expect(reason).not.toContain("CANARY");
    for (const secretId of [canary, `arn:aws:secretsmanager:x:1:secret:${canary}`]) {
      for (const newCredential of [
        { secretId },
        { secretId: "s", jsonKey: `${canary}\n` },
        { generate: true, deliverTo: { secretId } },
      ]) {
        for (const reason of reasonsOf({ ...RESET, newCredential })) {
          expect(reason).not.toContain("CANARY");
        }
      }
    }
    expect(reasonsOf({ ...BASE, user: { objectId: canary } }).join()).not.toContain("CANARY");
  });

  // valibot's default message ("… but received "<value>"") would repeat the submitted value.
  it("never repeats a non-object settings value in the reasons", () => {
    expect(reasonsOf({ ...BASE, settings: "CANARY-settings" }).join()).not.toContain("CANARY");
  });

  it("says a missing field is required", () => {
    const { eventId: _dropped, ...event } = BASE;
    expect(reasonsOf(event)).toEqual(["eventId: is required"]);
  });
});
