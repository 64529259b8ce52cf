import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { redactSecrets, SecretValue } from "../../lib/secrets/secret-value.ts";

const CANARY = "CANARY-secret-90417";

describe("SecretValue", () => {
  it("reveals the value only through reveal()", () => {
    const secret = new SecretValue(CANARY);
    expect(secret.reveal()).toBe(CANARY);
    expect(secret.length).toBe(CANARY.length);
    for (const shown of [
      String(secret),
      `${secret}`,
      JSON.stringify({ secret }),
      inspect(secret),
      inspect({ nested: { secret } }, { depth: 10, showHidden: true }),
    ]) {
      expect(shown).not.toContain(CANARY);
      expect(shown).toContain("[redacted]");
    }
  });
});

describe("redactSecrets", () => {
  it("removes every occurrence of each secret", () => {
    const text = `bad value ${CANARY} (was ${CANARY}), pin 8675309`;
    const redacted = redactSecrets(text, [new SecretValue(CANARY), new SecretValue("8675309")]);
    expect(redacted).toBe("bad value [redacted] (was [redacted]), pin [redacted]");
  });

  it("leaves text alone for fragments too short to mean anything", () => {
    expect(redactSecrets("a b c", [new SecretValue("a")])).toBe("a b c");
  });
});
