import { describe, expect, it } from "vitest";
import type { CredentialPolicyContext, PolicyRule } from "../../lib/policy/index.ts";
import {
  checkPassword,
  DEFAULT_PASSWORD_MIN_LENGTH,
  MAX_CREDENTIAL_LENGTH,
} from "../../lib/policy/index.ts";

function rulesOf(password: string, context?: CredentialPolicyContext): PolicyRule[] {
  return checkPassword(password, context).map((violation) => violation.rule);
}

const COMPLIANT_PASSWORD = "Tq7#mWx4-Ry9"; // 12 characters, all four classes

describe("checkPassword", () => {
  it("accepts a compliant password", () => {
    expect(checkPassword(COMPLIANT_PASSWORD)).toEqual([]);
  });

  describe("length", () => {
    it("needs the default minimum of twelve characters", () => {
      expect(DEFAULT_PASSWORD_MIN_LENGTH).toBe(12);
      expect(rulesOf(COMPLIANT_PASSWORD.slice(0, 11))).toEqual(["min-length"]);
    });

    it("takes the authentication rule's MinLength when it is above the default", () => {
      expect(rulesOf(COMPLIANT_PASSWORD, { minLength: 14 })).toEqual(["min-length"]);
      expect(rulesOf(`${COMPLIANT_PASSWORD}Kp`, { minLength: 14 })).toEqual([]);
      expect(rulesOf(COMPLIANT_PASSWORD, { minLength: 8 })).toEqual([]);
    });

    it("refuses more than 256 characters", () => {
      const atLimit = "Tq7#mWx4-Ry9Zk".repeat(19).slice(0, MAX_CREDENTIAL_LENGTH);
      expect(rulesOf(atLimit)).toEqual([]);
      expect(rulesOf(`${atLimit}p`)).toEqual(["max-length"]);
    });
  });

  it.each([
    ["tq7#mwx4-ry9", 3],
    ["TQ7#MWX4-RY9", 3],
    ["Tq7pmWx4kRy9", 3],
    ["Tq%#mWx&-Ryz", 3],
  ])("accepts %s with three classes", (password) => {
    expect(rulesOf(password)).toEqual([]);
  });

  it.each([["tqxpmwxzkryv"], ["tq7pmwx4kry9"], ["TQ#%MWX&-RYZ"], ["94725836#%@!"]])(
    "rejects %s for fewer than three classes",
    (password) => {
      expect(rulesOf(password)).toEqual(["character-classes"]);
    },
  );

  it.each([["Tq7# mWx4-Ry9"], ["Tq7#mWx4-Ry9\n"], ["Tq7#mWx4-Ry9é"], ["Tq7#\u0000mWx4-Ry9"]])(
    "rejects %j for characters other than visible ASCII",
    (password) => {
      expect(rulesOf(password)).toEqual(["printable-ascii"]);
    },
  );

  describe("alias", () => {
    it("rejects the alias or its reverse, in any case", () => {
      const context = { alias: "jsmith" };
      expect(rulesOf("Xq7#JSmith-9p", context)).toEqual(["contains-alias"]);
      expect(rulesOf("Xq7#htimsj-9p", context)).toEqual(["contains-alias"]);
      expect(rulesOf(COMPLIANT_PASSWORD, context)).toEqual([]);
    });

    it("ignores aliases shorter than three characters", () => {
      expect(rulesOf("Xq7#js-9pWm4", { alias: "js" })).toEqual([]);
    });
  });

  it("rejects the first or last name, forward or reversed", () => {
    expect(rulesOf("Xq7#SMITH-9p", { lastName: "Smith" })).toEqual(["contains-name"]);
    expect(rulesOf("Xq7#nhoj-9pW", { firstName: "John" })).toEqual(["contains-name"]);
    expect(rulesOf("Xq7#Muller-9", { lastName: "Müller" })).toEqual(["contains-name"]);
  });

  describe("extensions", () => {
    it("rejects an extension or its reverse", () => {
      const context = { extensions: ["4127", "+1 593"] };
      expect(rulesOf("Xq#4127mWp-z", context)).toEqual(["contains-extension"]);
      expect(rulesOf("Xq#7214mWp-z", context)).toEqual(["contains-extension"]);
      expect(rulesOf("Xq#1593mWp-z", context)).toEqual(["contains-extension"]);
      expect(rulesOf("Xq#+1 593mWp", context)).toContain("contains-extension");
      expect(rulesOf(COMPLIANT_PASSWORD, context)).toEqual([]);
    });

    it("ignores extensions shorter than three digits", () => {
      expect(rulesOf("Tq7#mWx4-Ry9", { extensions: ["7", "94"] })).toEqual([]);
    });
  });

  it.each([["Tq7#mWWWx4-R"], ["Tq7#mWwWx4-R"], ["Tq7#m!!!x4-R"], ["Tq7#m999x4-R"]])(
    "rejects %s for a character three times in a row",
    (password) => {
      expect(rulesOf(password)).toEqual(["character-repeated-thrice"]);
    },
  );

  it.each([
    ["Tq7#abcx4-Rz"],
    ["Tq7#aBcx4-Rz"],
    ["Tq7#FEDx4-Rz"],
    ["Tq7#m234-Rzx"],
    ["Tq7#m321-Rzx"],
    ["Tq7#m890-Rzx"],
  ])("rejects %s for an ascending or descending run", (password) => {
    expect(rulesOf(password)).toEqual(["sequential-run"]);
  });

  it.each([["Tq7#acex4-Rz"], ["Tq7#yzAx4-Rz"], ["Tq7#m2a3-Rzx"], ["Tq7#m9:;-Rzx"]])(
    "does not call %s a run",
    (password) => {
      expect(rulesOf(password)).toEqual([]);
    },
  );

  it("never puts the password in a violation message", () => {
    const context = { alias: "jsmith", extensions: ["4127"], lastName: "Smith", minLength: 40 };
    for (const password of [
      "jsmith4127",
      "abcdefghijkl",
      "aaaaaaaaaaaa",
      "Tq7# mWx4-Ry9",
      "htimsj",
    ]) {
      const violations = checkPassword(password, context);
      expect(violations.length).toBeGreaterThan(1);
      for (const { message } of violations) expect(message).not.toContain(password);
    }
  });
});
