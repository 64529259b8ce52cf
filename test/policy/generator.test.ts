import { randomInt } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CredentialGenerationError,
  checkPassword,
  checkPin,
  generatePassword,
  generatePin,
} from "../../lib/policy/index.ts";

// Pass-through spy: lets the tests see that node:crypto is the randomness source.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, randomInt: vi.fn(actual.randomInt) };
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.mocked(randomInt).mockClear();
});

function expectGenerationError(generate: () => string): CredentialGenerationError {
  try {
    generate();
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialGenerationError);
    expect(error).toBeInstanceOf(Error);
    const generationError = error as CredentialGenerationError;
    expect(generationError.retryable).toBe(false);
    expect(generationError.name).toBe("CredentialGenerationError");
    return generationError;
  }
  throw new Error("expected a CredentialGenerationError");
}

describe("randomness", () => {
  it("draws from crypto.randomInt and never from Math.random", () => {
    const mathRandom = vi.spyOn(Math, "random").mockImplementation(() => {
      throw new Error("Math.random must not be used");
    });
    generatePin();
    generatePassword();
    expect(mathRandom).not.toHaveBeenCalled();
    // At least one draw per character of the 6-digit PIN and the 16-character password.
    expect(vi.mocked(randomInt).mock.calls.length).toBeGreaterThanOrEqual(22);
  });

  it("produces values that vary", () => {
    const pins = new Set(Array.from({ length: 1000 }, () => generatePin()));
    const passwords = new Set(Array.from({ length: 1000 }, () => generatePassword()));
    expect(pins.size).toBeGreaterThan(990);
    expect(passwords.size).toBe(1000);
  });

  it("spreads PIN digits evenly", () => {
    const counts = new Map<string, number>();
    const sampleCount = 5000;
    for (let sample = 0; sample < sampleCount; sample++) {
      for (const digit of generatePin({ length: 12 }))
        counts.set(digit, (counts.get(digit) ?? 0) + 1);
    }
    const expected = (sampleCount * 12) / 10;
    expect([...counts.keys()].sort().join("")).toBe("0123456789");
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(expected * 0.85);
      expect(count).toBeLessThan(expected * 1.15);
    }
  });
});

describe("generatePin", () => {
  it("defaults to the effective minimum length", () => {
    expect(generatePin()).toMatch(/^\d{6}$/);
    expect(generatePin({ minLength: 4 })).toMatch(/^\d{6}$/);
    expect(generatePin({ minLength: 9 })).toMatch(/^\d{9}$/);
  });

  it("honours a requested length within the policy", () => {
    expect(generatePin({ length: 8 })).toMatch(/^\d{8}$/);
    expect(generatePin({ length: 256 })).toMatch(/^\d{256}$/);
  });

  it("returns PINs that pass checkPin for the context", () => {
    const context = { extensions: ["4127", "593"], firstName: "Ann", lastName: "Smith" };
    for (let sample = 0; sample < 200; sample++)
      expect(checkPin(generatePin(context), context)).toEqual([]);
  });

  it.each([
    [{ length: 5 }],
    [{ length: 7, minLength: 8 }],
    [{ length: 257 }],
    [{ length: 6.5 }],
    [{ minLength: 257 }],
  ])("refuses the impossible length in %j before drawing any digit", (context) => {
    expectGenerationError(() => generatePin(context));
    expect(randomInt).not.toHaveBeenCalled();
  });

  it("gives up after bounded attempts when every PIN would contain an extension", () => {
    const everyThreeDigits = Array.from({ length: 1000 }, (_, value) =>
      String(value).padStart(3, "0"),
    );
    const startedAt = performance.now();
    const error = expectGenerationError(() => generatePin({ extensions: everyThreeDigits }));
    expect(performance.now() - startedAt).toBeLessThan(5000);
    expect(error.message).not.toMatch(/\d{6}/);
  });
});

describe("generatePassword", () => {
  const AMBIGUOUS_OR_BLANK = /[0O1lI\s]/;

  it("defaults to 16 characters, or the effective minimum when higher", () => {
    expect(generatePassword()).toHaveLength(16);
    expect(generatePassword({ minLength: 14 })).toHaveLength(16);
    expect(generatePassword({ minLength: 20 })).toHaveLength(20);
  });

  it("honours a requested length within the policy", () => {
    expect(generatePassword({ length: 12 })).toHaveLength(12);
    expect(generatePassword({ length: 256 })).toHaveLength(256);
  });

  it("uses all four classes and no blank or look-alike characters", () => {
    for (let sample = 0; sample < 500; sample++) {
      const password = generatePassword({ length: 12 });
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[0-9]/);
      expect(password).toMatch(/[^a-zA-Z0-9]/);
      expect(password).not.toMatch(AMBIGUOUS_OR_BLANK);
    }
  });

  it("returns passwords that pass checkPassword for the context", () => {
    const context = { alias: "jsmith", extensions: ["4127"], firstName: "Ann", lastName: "Smith" };
    for (let sample = 0; sample < 200; sample++) {
      expect(checkPassword(generatePassword(context), context)).toEqual([]);
    }
  });

  it.each([
    [{ length: 11 }],
    [{ length: 13, minLength: 14 }],
    [{ length: 257 }],
    [{ minLength: 300 }],
  ])("refuses the impossible length in %j before drawing any character", (context) => {
    expectGenerationError(() => generatePassword(context));
    expect(randomInt).not.toHaveBeenCalled();
  });
});
