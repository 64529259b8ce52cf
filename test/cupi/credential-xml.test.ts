import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { buildCredentialXml, MAX_CREDENTIAL_LENGTH } from "../../lib/cupi/credential-xml.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";

// An independent reading of the XML, the way a server would parse it.
const parser = new XMLParser({ parseTagValue: false, trimValues: false });
const credentialOf = (xml: string): Record<string, string> => parser.parse(xml).Credential;

describe("buildCredentialXml", () => {
  it("writes the XML declaration, a Credential root and only the fields given", () => {
    const xml = buildCredentialXml({ Credentials: new SecretValue("635241") });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Credential><Credentials>635241</Credentials></Credential>',
    );
  });

  it("uses CUPI's exact field names and never EncryptionType", () => {
    const xml = buildCredentialXml({
      Credentials: new SecretValue("My1stPassword!"),
      CantChange: true,
      CredMustChange: false,
      DoesntExpire: false,
      Locked: true,
      HackCount: 0,
      TimeHacked: "",
    });
    expect(Object.keys(credentialOf(xml))).toEqual([
      "Credentials",
      "CantChange",
      "CredMustChange",
      "DoesntExpire",
      "Locked",
      "HackCount",
      "TimeHacked",
    ]);
    expect(credentialOf(xml)).toMatchObject({ CantChange: "true", Locked: "true", HackCount: "0" });
    expect(xml).not.toContain("EncryptionType");
    expect(xml).not.toContain("<MustChange>");
  });

  it("sends a settings-only update without a Credentials element", () => {
    const xml = buildCredentialXml({ CantChange: true });
    expect(xml).toContain("<CantChange>true</CantChange>");
    expect(xml).not.toContain("Credentials");
  });

  it("writes the unlock recipe with an empty TimeHacked element", () => {
    const xml = buildCredentialXml({ HackCount: 0, TimeHacked: "", Locked: false });
    expect(credentialOf(xml)).toEqual({ Locked: "false", HackCount: "0", TimeHacked: "" });
  });

  it.each([
    `<&>"'`,
    "]]>",
    "a]]><![CDATA[b",
    "<Credentials>x</Credentials>",
    "&amp;already-escaped",
    "pässwörd-Ünïcode-✓",
  ])("escapes %j so it arrives intact", (password) => {
    const xml = buildCredentialXml({ Credentials: new SecretValue(password) });
    expect(credentialOf(xml).Credentials).toBe(password);
    expect(xml.match(/<Credentials>/g)).toHaveLength(1);
  });

  it("refuses an empty update, an empty or oversized value and unencodable characters", () => {
    expect(() => buildCredentialXml({})).toThrow(/at least one field/);
    expect(() => buildCredentialXml({ Credentials: new SecretValue("") })).toThrow(/empty/);
    const long = new SecretValue("x".repeat(MAX_CREDENTIAL_LENGTH + 1));
    expect(() => buildCredentialXml({ Credentials: long })).toThrow(/longer than 256/);
    expect(() => buildCredentialXml({ Credentials: new SecretValue("ab\u0000cd") })).toThrow(
      /character XML cannot carry/,
    );
    for (const whitespace of ["\r", "\n", "\t"]) {
      expect(() =>
        buildCredentialXml({ Credentials: new SecretValue(`ab${whitespace}cd`) }),
      ).toThrow(/tabs or line breaks/);
    }
    expect(() => buildCredentialXml({ HackCount: -1 })).toThrow(/non-negative integer/);
    expect(() => buildCredentialXml({ TimeHacked: "<x>" })).toThrow(/TimeHacked/);
  });

  it("never puts the refused value in its error", () => {
    const canary = "CANARY-pw\u0001-4711";
    expect(() => buildCredentialXml({ Credentials: new SecretValue(canary) })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("CANARY") }),
    );
  });
});
