import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A secret string (a PIN, a password, a service-account password) that cannot leak by accident:
 * string conversion, JSON serialisation and `util.inspect` all print `[redacted]`. Only `reveal()`
 * returns the value, so every place that handles plaintext is easy to find.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretValue(${REDACTED})`;
  }
}

/**
 * Replaces every occurrence of each secret in `text`, for messages that might echo a secret back.
 * With `xmlEscaped`, the secret's XML-escaped form is replaced too (an echo inside an XML body).
 */
export function redactSecrets(
  text: string,
  secrets: readonly SecretValue[],
  options: { xmlEscaped?: boolean } = {},
): string {
  let redacted = text;
  for (const secret of secrets) {
    const value = secret.reveal();
    // Very short values (a 1-2 character fragment) would shred ordinary text and protect nothing.
    if (value.length < 3) continue;
    const forms = options.xmlEscaped ? [value, escapeXml(value)] : [value];
    for (const form of forms) redacted = redacted.split(form).join(REDACTED);
  }
  return redacted;
}

function escapeXml(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
