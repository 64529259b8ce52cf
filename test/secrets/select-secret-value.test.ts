import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { SecretNotFoundError, selectSecretValue } from "../../lib/secrets/secret-store.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";

const SECRET_ID = "cupi-reset/resets/demo/jsmith-pin";
const CANARY = "CANARY-5b0e7d";

/** The error selectSecretValue throws, checked to be a SecretNotFoundError that leaks nothing. */
function refusal(secretString: string, jsonKey: string): SecretNotFoundError {
  let thrown: unknown;
  try {
    selectSecretValue(SECRET_ID, new SecretValue(secretString), jsonKey);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(SecretNotFoundError);
  const error = thrown as SecretNotFoundError;
  expect(error.name).toBe("SecretNotFoundError");
  expect(error.retryable).toBe(false);
  for (const shown of [error.message, String(error), error.stack ?? "", inspect(error)]) {
    expect(shown).not.toContain(CANARY);
  }
  return error;
}

describe("selectSecretValue", () => {
  it("without a jsonKey, uses the whole SecretString, JSON or not", () => {
    for (const text of ["604729", '{"pin":"604729"}', ` ${CANARY} `]) {
      const secret = new SecretValue(text);
      const selected = selectSecretValue(SECRET_ID, secret, undefined);
      expect(selected).toBe(secret);
      expect(selected.reveal()).toBe(text);
    }
  });

  it("with a jsonKey, uses that key's string", () => {
    const secret = new SecretValue(JSON.stringify({ pin: "604729", password: CANARY }));
    const selected = selectSecretValue(SECRET_ID, secret, "pin");
    expect(selected).toBeInstanceOf(SecretValue);
    expect(selected.reveal()).toBe("604729");
    expect(selectSecretValue(SECRET_ID, secret, "password").reveal()).toBe(CANARY);
  });

  it("keeps a PIN's leading zeros and every character of the string", () => {
    const secret = new SecretValue(JSON.stringify({ pin: "007351", password: ' a"b\\c ' }));
    expect(selectSecretValue(SECRET_ID, secret, "pin").reveal()).toBe("007351");
    expect(selectSecretValue(SECRET_ID, secret, "password").reveal()).toBe(' a"b\\c ');
  });

  it("takes the key literally: no paths, exact letter case", () => {
    const secret = new SecretValue(JSON.stringify({ "a.b": "582913", a: { b: "x" }, PIN: "y" }));
    expect(selectSecretValue(SECRET_ID, secret, "a.b").reveal()).toBe("582913");
    expect(refusal(JSON.stringify({ PIN: CANARY }), "pin").message).toBe(
      `secret ${SECRET_ID} has no key "pin"`,
    );
  });

  it("refuses a JSON object without the key", () => {
    expect(refusal(JSON.stringify({ password: CANARY }), "pin").message).toBe(
      `secret ${SECRET_ID} has no key "pin"`,
    );
  });

  it.each([
    ["an array", JSON.stringify([CANARY])],
    ["a string", JSON.stringify(CANARY)],
    ["null", "null"],
  ])("refuses JSON that is %s, having no keys", (_name, text) => {
    expect(refusal(text, "pin").message).toBe(`secret ${SECRET_ID} has no key "pin"`);
  });

  it.each([
    ["a number, which has lost any leading zero", '{"pin": 7351, "note": "CANARY-5b0e7d"}'],
    ["a number with a fraction", '{"pin": 604729.0}'],
    ["an empty string", '{"pin": "", "password": "CANARY-5b0e7d"}'],
    ["true", '{"pin": true}'],
    ["null", '{"pin": null}'],
    ["an object", '{"pin": {"value": "CANARY-5b0e7d"}}'],
    ["an array", '{"pin": ["CANARY-5b0e7d"]}'],
  ])("refuses a key holding %s", (_name, text) => {
    expect(refusal(text, "pin").message).toBe(
      `secret ${SECRET_ID} key "pin" must hold a non-empty string`,
    );
  });

  it.each([
    ["plain text", CANARY],
    ["broken JSON", `{"pin": "${CANARY}"`],
    ["JSON with a trailing comma", `{"pin": "${CANARY}",}`],
    ["single-quoted JSON", `{'pin': '${CANARY}'}`],
    ["an empty string", ""],
  ])("refuses %s, without quoting it as JSON.parse would", (_name, text) => {
    expect(refusal(text, "pin").message).toBe(
      `secret ${SECRET_ID} is not JSON, so it has no key "pin"`,
    );
  });

  // Inherited properties are no keys of the secret.
  it("says a key named like an Object.prototype member is missing", () => {
    expect(refusal("{}", "constructor").message).toBe(
      `secret ${SECRET_ID} has no key "constructor"`,
    );
  });
});
