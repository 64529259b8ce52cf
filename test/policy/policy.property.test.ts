/**
 * Property tests against an oracle: a second, independent reading of the policy rules written here
 * with regular expressions and precomputed lists, sharing no code with lib/policy.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CredentialPolicyContext,
  checkPassword,
  checkPin,
  generatePassword,
  generatePin,
} from "../../lib/policy/index.ts";

// ---------------------------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------------------------

const fold = (text: string): string => text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
const reverse = (text: string): string => [...text].reverse().join("");
const longEnough = (term: string): boolean => [...term].length >= 3;
const minimumOf = (ruleMin: number | undefined, fallback: number): number =>
  typeof ruleMin === "number" && Number.isFinite(ruleMin)
    ? Math.max(fallback, Math.ceil(ruleMin))
    : fallback;

/** Every three-character run, both directions; digits wrap 8-9-0-1 like the keypad. */
const RUNS: readonly string[] = (() => {
  const windows = (line: string): string[] =>
    Array.from({ length: line.length - 2 }, (_, start) => line.slice(start, start + 3));
  const ascending = [...windows("abcdefghijklmnopqrstuvwxyz"), ...windows("012345678901")];
  return [...ascending, ...ascending.map(reverse)];
})();

const KEYPAD_LINE_PATTERNS = ["123", "456", "789", "147", "2580", "369", "159", "357"].map(
  (line) => new RegExp(`^[${line}]+$`),
);
const KEY_FOR_LETTER = "22233344455566677778889999"; // a..z

const spellOnKeypad = (name: string): string =>
  fold(name)
    .replace(/[^a-z]/g, "")
    .replace(/[a-z]/g, (letter) => KEY_FOR_LETTER.charAt(letter.charCodeAt(0) - 97));

const containsEither = (haystack: string, term: string): boolean =>
  haystack.includes(term) || haystack.includes(reverse(term));

function oraclePinRules(pin: string, context: CredentialPolicyContext): string[] {
  const rules: string[] = [];
  if (pin.length < minimumOf(context.minLength, 6)) rules.push("min-length");
  if (pin.length > 256) rules.push("max-length");
  if (/[^0-9]/.test(pin)) rules.push("digits-only");
  if (!/^[0-9]+$/.test(pin)) return rules.sort();

  const size = pin.length;
  const hasShortPeriod = Array.from({ length: Math.floor(size / 2) }, (_, index) => index + 1).some(
    (period) => pin.slice(period) === pin.slice(0, size - period),
  );
  if (hasShortPeriod) rules.push("repeated-group");
  const distinctDigits = [...pin]
    .sort()
    .join("")
    .replace(/(.)\1+/g, "$1");
  if (distinctDigits.length <= 2) rules.push("two-distinct-digits");
  if (/(.)\1\1/.test(pin)) rules.push("digit-repeated-thrice");
  if (RUNS.some((run) => pin.includes(run))) rules.push("sequential-run");
  if (KEYPAD_LINE_PATTERNS.some((line) => line.test(pin))) rules.push("keypad-line");
  const extensionDigits = (context.extensions ?? []).map((ext) => ext.replace(/[^0-9]/g, ""));
  if (
    extensionDigits
      .filter(longEnough)
      .some((ext) => containsEither(pin, ext) || containsEither(ext, pin))
  ) {
    rules.push("contains-extension");
  }
  const spelled = [context.firstName ?? "", context.lastName ?? ""].map(spellOnKeypad);
  if (spelled.filter(longEnough).some((digits) => pin.includes(digits) || digits.includes(pin))) {
    rules.push("name-on-keypad");
  }
  return rules.sort();
}

function oraclePasswordRules(password: string, context: CredentialPolicyContext): string[] {
  const rules: string[] = [];
  const folded = fold(password);
  if (password.length < minimumOf(context.minLength, 12)) rules.push("min-length");
  if (password.length > 256) rules.push("max-length");
  if (/[^\x21-\x7e]/.test(password)) rules.push("printable-ascii");
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/];
  if (classes.filter((pattern) => pattern.test(password)).length < 3) {
    rules.push("character-classes");
  }
  const alias = fold((context.alias ?? "").trim());
  if (longEnough(alias) && containsEither(folded, alias)) rules.push("contains-alias");
  const names = [context.firstName ?? "", context.lastName ?? ""].map((name) => fold(name.trim()));
  if (names.filter(longEnough).some((name) => containsEither(folded, name))) {
    rules.push("contains-name");
  }
  const extensionTerms = (context.extensions ?? []).flatMap((ext) => [
    fold(ext.trim()),
    ext.replace(/[^0-9]/g, ""),
  ]);
  if (extensionTerms.filter(longEnough).some((term) => containsEither(folded, term))) {
    rules.push("contains-extension");
  }
  const lowered = password.toLowerCase();
  if (/(.)\1\1/u.test(lowered)) rules.push("character-repeated-thrice");
  if (RUNS.some((run) => lowered.includes(run))) rules.push("sequential-run");
  return rules.sort();
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const DIGITS = [..."0123456789"];
const LETTERS = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"];
const digitString = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...DIGITS), minLength, maxLength });

const nameArbitrary = fc.oneof(
  fc.constantFrom("Smith", "Ann", "Li", "O'Brien", "Müller", "Nguyễn", "Zoë", "Jo-Ann", " Bo ", ""),
  fc.string({ unit: fc.constantFrom(...LETTERS, " ", "-", "'", "é"), maxLength: 12 }),
);
const extensionArbitrary = fc.oneof(
  digitString(3, 6),
  digitString(1, 2),
  digitString(10, 12).map((digits) => `+${digits}`),
  digitString(6, 6).map((digits) => `${digits.slice(0, 3)}-${digits.slice(3)}`),
);
const aliasArbitrary = fc.oneof(
  fc.string({
    unit: fc.constantFrom(...LETTERS, ...DIGITS, ".", "_"),
    minLength: 1,
    maxLength: 10,
  }),
  fc.constantFrom("jsmith", "Ann", "ab", "  xy  ", "müller"),
);

const contextArbitrary: fc.Arbitrary<CredentialPolicyContext> = fc.record(
  {
    minLength: fc.integer({ min: 4, max: 20 }),
    alias: aliasArbitrary,
    extensions: fc.array(extensionArbitrary, { maxLength: 5 }),
    firstName: nameArbitrary,
    lastName: nameArbitrary,
  },
  { requiredKeys: [] },
);

/** Pieces of the user's own data, so context rules fire often enough to be compared. */
function contextPieces(context: CredentialPolicyContext): string[] {
  const pieces = [
    ...(context.extensions ?? []),
    context.alias ?? "",
    context.firstName ?? "",
    context.lastName ?? "",
    spellOnKeypad(context.firstName ?? ""),
    spellOnKeypad(context.lastName ?? ""),
  ].filter((piece) => piece !== "");
  return [...pieces, ...pieces.map(reverse), ...pieces.map((piece) => piece.toUpperCase())];
}

function candidateArbitrary(
  context: CredentialPolicyContext,
  alphabet: readonly string[],
  patterns: readonly string[],
  maxChunks: number,
): fc.Arbitrary<string> {
  const chunk = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 6 }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...patterns) },
    { weight: 1, arbitrary: fc.constantFrom("", ...contextPieces(context)) },
  );
  return fc.array(chunk, { maxLength: maxChunks }).map((chunks) => chunks.join(""));
}

const PIN_PATTERNS = ["408408", "123", "987", "890", "121212", "888", "159", "2580", "x", " "];
const PASSWORD_PATTERNS = ["abc", "CbA", "321", "901", "aAa", "!!!", " ", "é", "\t", "€", "ß"];
const ASCII_VISIBLE = Array.from({ length: 94 }, (_, index) => String.fromCharCode(33 + index));

/** Counts of each verdict, so a property cannot pass by only ever seeing one kind of value. */
function tally(): { seen: Map<string, number>; record: (rules: readonly string[]) => void } {
  const seen = new Map<string, number>();
  const record = (rules: readonly string[]): void => {
    for (const rule of rules.length === 0 ? ["compliant"] : rules) {
      seen.set(rule, (seen.get(rule) ?? 0) + 1);
    }
  };
  return { seen, record };
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const GENERATION_CONTEXTS = 2000;
const VALUES_PER_CONTEXT = 10; // 20,000 PINs and 20,000 passwords

describe("generated credentials satisfy the oracle", () => {
  it(`${GENERATION_CONTEXTS * VALUES_PER_CONTEXT} PINs over random contexts`, () => {
    let generated = 0;
    fc.assert(
      fc.property(contextArbitrary, (context) => {
        const expectedLength = minimumOf(context.minLength, 6);
        for (let index = 0; index < VALUES_PER_CONTEXT; index++) {
          const pin = generatePin(context);
          expect(pin).toHaveLength(expectedLength);
          expect(oraclePinRules(pin, context)).toEqual([]);
          generated++;
        }
      }),
      { numRuns: GENERATION_CONTEXTS },
    );
    expect(generated).toBe(GENERATION_CONTEXTS * VALUES_PER_CONTEXT);
  });

  it(`${GENERATION_CONTEXTS * VALUES_PER_CONTEXT} passwords over random contexts`, () => {
    let generated = 0;
    fc.assert(
      fc.property(contextArbitrary, (context) => {
        const expectedLength = Math.max(16, minimumOf(context.minLength, 12));
        for (let index = 0; index < VALUES_PER_CONTEXT; index++) {
          const password = generatePassword(context);
          expect(password).toHaveLength(expectedLength);
          expect(password).toMatch(/^[!-~]+$/);
          expect(password).not.toMatch(/[0O1lI]/);
          expect(oraclePasswordRules(password, context)).toEqual([]);
          generated++;
        }
      }),
      { numRuns: GENERATION_CONTEXTS },
    );
    expect(generated).toBe(GENERATION_CONTEXTS * VALUES_PER_CONTEXT);
  });
});

const AGREEMENT_RUNS = 10_000;

describe("checks agree with the oracle on arbitrary values", () => {
  it("checkPin", () => {
    const { seen, record } = tally();
    fc.assert(
      fc.property(
        contextArbitrary.chain((context) =>
          fc.tuple(fc.constant(context), candidateArbitrary(context, DIGITS, PIN_PATTERNS, 4)),
        ),
        ([context, pin]) => {
          const expected = oraclePinRules(pin, context);
          expect(
            checkPin(pin, context)
              .map((violation) => violation.rule)
              .sort(),
          ).toEqual(expected);
          record(expected);
        },
      ),
      { numRuns: AGREEMENT_RUNS },
    );
    const pinRules = [
      "compliant",
      "min-length",
      "digits-only",
      "repeated-group",
      "two-distinct-digits",
      "digit-repeated-thrice",
      "sequential-run",
      "keypad-line",
      "contains-extension",
      "name-on-keypad",
    ];
    for (const rule of pinRules) expect(seen.get(rule) ?? 0, rule).toBeGreaterThan(50);
  });

  it("checkPassword", () => {
    const { seen, record } = tally();
    fc.assert(
      fc.property(
        contextArbitrary.chain((context) =>
          fc.tuple(
            fc.constant(context),
            candidateArbitrary(context, ASCII_VISIBLE, PASSWORD_PATTERNS, 6),
          ),
        ),
        ([context, password]) => {
          const expected = oraclePasswordRules(password, context);
          expect(
            checkPassword(password, context)
              .map((violation) => violation.rule)
              .sort(),
          ).toEqual(expected);
          record(expected);
        },
      ),
      { numRuns: AGREEMENT_RUNS },
    );
    const passwordRules = [
      "compliant",
      "min-length",
      "printable-ascii",
      "character-classes",
      "contains-alias",
      "contains-name",
      "contains-extension",
      "character-repeated-thrice",
      "sequential-run",
    ];
    for (const rule of passwordRules) expect(seen.get(rule) ?? 0, rule).toBeGreaterThan(50);
  });

  it("max-length agrees at the 256 boundary", () => {
    fc.assert(
      fc.property(fc.integer({ min: 250, max: 262 }), contextArbitrary, (length, context) => {
        const pin = "835291".repeat(44).slice(0, length);
        const password = "Tq7#mWx4-Ry9Zk".repeat(19).slice(0, length);
        const pinRules = checkPin(pin, context)
          .map((violation) => violation.rule)
          .sort();
        const passwordRules = checkPassword(password, context)
          .map((v) => v.rule)
          .sort();
        expect(pinRules).toEqual(oraclePinRules(pin, context));
        expect(passwordRules).toEqual(oraclePasswordRules(password, context));
        expect(pinRules.includes("max-length")).toBe(length > 256);
        expect(passwordRules.includes("max-length")).toBe(length > 256);
      }),
      { numRuns: 300 },
    );
  });
});

describe("violation messages never carry the value", () => {
  it("for PINs and passwords of six or more characters", () => {
    fc.assert(
      fc.property(
        contextArbitrary,
        fc.oneof(digitString(6, 12), fc.string({ minLength: 6, maxLength: 20 })),
        (context, value) => {
          for (const { message } of [
            ...checkPin(value, context),
            ...checkPassword(value, context),
          ]) {
            expect(message).not.toContain(value);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
