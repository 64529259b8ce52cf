import { describe, expect, it } from "vitest";
import type { CredentialPolicyContext, PolicyRule } from "../../lib/policy/index.ts";
import { checkPin, DEFAULT_PIN_MIN_LENGTH, MAX_CREDENTIAL_LENGTH } from "../../lib/policy/index.ts";
import { keypadDigitsOf } from "../../lib/policy/keypad.ts";

function rulesOf(pin: string, context?: CredentialPolicyContext): PolicyRule[] {
  return checkPin(pin, context).map((violation) => violation.rule);
}

// Six digits, three or more distinct, no run, no triple, off any keypad line.
const COMPLIANT_PIN = "835291";

describe("checkPin", () => {
  it("accepts a compliant PIN", () => {
    expect(checkPin(COMPLIANT_PIN)).toEqual([]);
    expect(checkPin("40827193")).toEqual([]);
  });

  describe("length", () => {
    it("needs the default minimum of six digits", () => {
      expect(DEFAULT_PIN_MIN_LENGTH).toBe(6);
      expect(rulesOf("83529")).toEqual(["min-length"]);
      expect(rulesOf("")).toEqual(["min-length"]);
    });

    it("takes the authentication rule's MinLength when it is above the default", () => {
      expect(rulesOf(COMPLIANT_PIN, { minLength: 8 })).toEqual(["min-length"]);
      expect(rulesOf("83529174", { minLength: 8 })).toEqual([]);
      expect(checkPin(COMPLIANT_PIN, { minLength: 8 })[0]?.message).toContain("8");
    });

    it("keeps the default when the rule's MinLength is lower or unusable", () => {
      expect(rulesOf("83529", { minLength: 4 })).toEqual(["min-length"]);
      expect(rulesOf(COMPLIANT_PIN, { minLength: 4 })).toEqual([]);
      expect(rulesOf("83529", { minLength: Number.NaN })).toEqual(["min-length"]);
      expect(rulesOf("8352917", { minLength: 6.5 })).toEqual([]);
      expect(rulesOf(COMPLIANT_PIN, { minLength: 6.5 })).toEqual(["min-length"]);
    });

    it("refuses more than 256 digits", () => {
      const longPin = "835291".repeat(43).slice(0, MAX_CREDENTIAL_LENGTH + 1);
      expect(rulesOf(longPin)).toContain("max-length");
      expect(rulesOf(longPin.slice(0, MAX_CREDENTIAL_LENGTH))).not.toContain("max-length");
    });
  });

  it("needs digits only, and then skips the digit-pattern rules", () => {
    expect(rulesOf("83529a")).toEqual(["digits-only"]);
    expect(rulesOf(" 835291")).toEqual(["digits-only"]);
    expect(rulesOf("８３５２９１")).toEqual(["digits-only"]); // full-width digits
    expect(rulesOf("aaaaaa")).toEqual(["digits-only"]);
  });

  it.each([
    ["408408"],
    ["123123"],
    ["738738"],
    ["29462946"],
    ["4084084"], // a block repeated with a partial tail
    ["3939393"],
  ])("rejects the repeated group %s", (pin) => {
    expect(rulesOf(pin)).toContain("repeated-group");
  });

  it.each([["408480"], ["40840"], ["835291"]])("does not call %s a repeated group", (pin) => {
    expect(rulesOf(pin)).not.toContain("repeated-group");
  });

  it.each([["121212"], ["112211"], ["838883"], ["000000"], ["99119911"]])(
    "rejects %s for using two different digits or fewer",
    (pin) => {
      expect(rulesOf(pin)).toContain("two-distinct-digits");
    },
  );

  it("accepts three different digits", () => {
    expect(rulesOf("112233")).not.toContain("two-distinct-digits");
  });

  it.each([["28883"], ["288830"], ["940000"], ["7772946"]])(
    "rejects %s for a digit three times in a row",
    (pin) => {
      expect(rulesOf(pin)).toContain("digit-repeated-thrice");
    },
  );

  it("accepts a digit twice in a row", () => {
    expect(rulesOf("288309")).toEqual([]);
  });

  it.each([
    ["012345"],
    ["987654"],
    ["401239"], // ascending run inside
    ["486542"], // descending run inside
    ["478906"], // 8-9-0: 0 follows 9 on the keypad
    ["409817"], // 0-9-8 reversed
    ["490127"], // 9-0-1
  ])("rejects %s for a run of three ascending or descending digits", (pin) => {
    expect(rulesOf(pin)).toContain("sequential-run");
  });

  it.each([["135792"], ["124578"], ["864207"]])("does not call %s a run", (pin) => {
    expect(rulesOf(pin)).not.toContain("sequential-run");
  });

  it.each([
    ["159"],
    ["147"],
    ["2580"],
    ["369"],
    ["357"],
    ["123"],
    ["456"],
    ["789"],
    ["159951"],
    ["25802580"],
    ["08520852"],
    ["7537535"],
  ])("rejects %s for lying on one keypad line", (pin) => {
    expect(rulesOf(pin)).toContain("keypad-line");
  });

  it.each([["1596"], ["2581"], ["835291"], ["1379"]])(
    "does not put %s on one keypad line",
    (pin) => {
      expect(rulesOf(pin)).not.toContain("keypad-line");
    },
  );

  describe("extensions", () => {
    const context = { extensions: ["4127", "593"] };

    it("rejects a PIN containing an extension or its reverse", () => {
      expect(rulesOf("941276", context)).toEqual(["contains-extension"]);
      expect(rulesOf("972146", context)).toEqual(["contains-extension"]);
      expect(rulesOf("805938", context)).toEqual(["contains-extension"]);
      expect(rulesOf("803958", context)).toEqual(["contains-extension"]);
      expect(rulesOf(COMPLIANT_PIN, context)).toEqual([]);
    });

    it("checks alternate extensions and ignores formatting", () => {
      expect(rulesOf("941276", { extensions: ["5300", "(412) 7"] })).toEqual([
        "contains-extension",
      ]);
    });

    it("rejects a PIN taken from a longer extension", () => {
      expect(rulesOf("082719", { extensions: ["+14082719350"] })).toEqual(["contains-extension"]);
      expect(rulesOf("917280", { extensions: ["+14082719350"] })).toEqual(["contains-extension"]);
    });

    it("ignores extensions shorter than three digits", () => {
      expect(rulesOf(COMPLIANT_PIN, { extensions: ["83", "5", ""] })).toEqual([]);
    });
  });

  describe("names on the keypad", () => {
    it("spells names with keypad digits, accents dropped and non-letters ignored", () => {
      expect(keypadDigitsOf("Smith")).toBe("76484");
      expect(keypadDigitsOf("O'Brien")).toBe("627436");
      expect(keypadDigitsOf("Müller")).toBe("685537");
      expect(keypadDigitsOf("Quinn-Waxy 2")).toBe("784669299");
    });

    it("rejects a PIN equal to, containing, or contained in a name's keypad digits", () => {
      expect(keypadDigitsOf("Hughes")).toBe("484437");
      expect(rulesOf("484437", { lastName: "Hughes" })).toEqual(["name-on-keypad"]);
      expect(rulesOf("764849", { lastName: "Smith" })).toEqual(["name-on-keypad"]);
      expect(rulesOf("972864", { firstName: "Pat", lastName: "Smith" })).toEqual([
        "name-on-keypad",
      ]);
      expect(rulesOf("786743", { firstName: "Christopher" })).toEqual(["name-on-keypad"]);
      expect(rulesOf("764849", { firstName: "Smith" })).toEqual(["name-on-keypad"]);
    });

    it("ignores names spelling fewer than three digits", () => {
      expect(rulesOf("835291", { firstName: "Al", lastName: "T." })).toEqual([]);
      expect(rulesOf("835291", { lastName: "Smith" })).toEqual([]);
    });
  });

  it("never puts the PIN in a violation message", () => {
    const context = { extensions: ["408"], lastName: "Smith", minLength: 8 };
    for (const pin of [
      "408408",
      "123123",
      "121212",
      "28883",
      "012345",
      "987654",
      "2580258",
      "7648409",
    ]) {
      const violations = checkPin(pin, context);
      expect(violations.length).toBeGreaterThan(0);
      for (const { message } of violations) expect(message).not.toContain(pin);
    }
  });
});
