import { XMLBuilder } from "fast-xml-parser";
import type { CredentialUpdate } from "./types.ts";

const builder = new XMLBuilder({ ignoreAttributes: false, processEntities: true });

/** CUPI field order, as in Cisco's examples; only the fields present in an update are written. */
const FIELD_ORDER = [
  "Credentials",
  "CantChange",
  "CredMustChange",
  "DoesntExpire",
  "Locked",
  "HackCount",
  "TimeHacked",
] as const satisfies readonly (keyof CredentialUpdate)[];

/** CUPI's Credentials field is a String of at most 256 characters. */
export const MAX_CREDENTIAL_LENGTH = 256;

// XML 1.0 cannot carry most control characters at all, escaped or not.
const NOT_XML_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export class CredentialXmlError extends Error {
  override readonly name = "CredentialXmlError";
}

/**
 * Builds the body of `PUT /vmrest/users/{id}/credential/{pin|password}`: an XML declaration and a
 * `<Credential>` root holding only the fields being changed, every value escaped.
 */
export function buildCredentialXml(update: CredentialUpdate): string {
  const credential: Record<string, string> = {};
  for (const field of FIELD_ORDER) {
    const value = update[field];
    if (value === undefined) continue;
    credential[field] = field === "Credentials" ? credentialsText(update) : fieldText(field, value);
  }
  if (Object.keys(credential).length === 0) {
    throw new CredentialXmlError("a credential update needs at least one field");
  }
  return builder.build({
    "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
    Credential: credential,
  });
}

function credentialsText(update: CredentialUpdate): string {
  const value = update.Credentials?.reveal() ?? "";
  if (value === "") throw new CredentialXmlError("Credentials must not be empty");
  if (value.length > MAX_CREDENTIAL_LENGTH) {
    throw new CredentialXmlError(`Credentials is longer than ${MAX_CREDENTIAL_LENGTH} characters`);
  }
  if (NOT_XML_CHARACTER.test(value)) {
    throw new CredentialXmlError("Credentials contains a character XML cannot carry");
  }
  // XML parsers normalise line ends and CUC would store something else than what was meant.
  if (/[\t\r\n]/.test(value)) {
    throw new CredentialXmlError("Credentials must not contain tabs or line breaks");
  }
  return value;
}

function fieldText(field: string, value: unknown): string {
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new CredentialXmlError(`${field} must be a non-negative integer`);
    }
    return String(value);
  }
  if (typeof value === "string") {
    // Line ends, too: XML parsers normalise them, so CUC would read another value.
    if (NOT_XML_CHARACTER.test(value) || /[<>&\r\n\t]/.test(value)) {
      throw new CredentialXmlError(`${field} has characters that do not belong in it`);
    }
    return value;
  }
  throw new CredentialXmlError(`${field} has an unsupported value type`);
}
