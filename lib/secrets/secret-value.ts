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

/** Replaces every occurrence of each secret in `text`; for messages that might echo a secret back. */
export function redactSecrets(text: string, secrets: readonly SecretValue[]): string {
  let redacted = text;
  for (const secret of secrets) {
    const value = secret.reveal();
    // Very short values (a 1-2 character fragment) would shred ordinary text and protect nothing.
    if (value.length >= 3) redacted = redacted.split(value).join(REDACTED);
  }
  return redacted;
}
