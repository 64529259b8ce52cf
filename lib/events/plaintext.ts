/**
 * Credential values never travel in messages: they live in Secrets Manager. A message holding a
 * field with one of these names (any letter case, at any depth) is refused, and the value is
 * removed from every copy that leaves the function.
 */
const CREDENTIAL_FIELD_NAMES: ReadonlySet<string> = new Set([
  "value",
  "pin",
  "password",
  "credentials",
  "credential",
  "passcode",
  "passwd",
  "secretstring",
  "newpin",
  "newpassword",
]);

export const REMOVED = "[removed]";

export function isCredentialField(name: string): boolean {
  return CREDENTIAL_FIELD_NAMES.has(name.toLowerCase());
}

/** Dot paths of every credential-named field, including inside JSON held in strings (SNS). */
export function findCredentialFields(value: unknown, path = ""): string[] {
  if (typeof value === "string") {
    const nested = parseJsonObject(value);
    return nested === undefined ? [] : findCredentialFields(nested, path);
  }
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    return isCredentialField(key) ? [childPath] : findCredentialFields(child, childPath);
  });
}

/** The same JSON with every credential-named field's value replaced by `[removed]`. */
export function withoutCredentialValues(value: unknown): unknown {
  if (typeof value === "string") {
    const nested = parseJsonObject(value);
    return nested === undefined ? value : JSON.stringify(withoutCredentialValues(nested));
  }
  if (Array.isArray(value)) return value.map(withoutCredentialValues);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [
      key,
      isCredentialField(key) ? REMOVED : withoutCredentialValues(child),
    ]),
  );
}

/**
 * A message body fit to leave the function (for the DLQ): credential values removed, whether the
 * body is valid JSON or only looks like it.
 */
export function scrubBody(body: string): string {
  const parsed = parseJson(body);
  if (parsed.ok) return JSON.stringify(withoutCredentialValues(parsed.value));
  // Broken JSON can still carry `"pin": "1234"`: remove such pairs textually.
  return body.replace(
    /("([A-Za-z]+)"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)/g,
    (pair, prefix: string, name: string) =>
      isCredentialField(name) ? `${prefix}"${REMOVED}"` : pair,
  );
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function parseJsonObject(text: string): object | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  const parsed = parseJson(text);
  return parsed.ok && typeof parsed.value === "object" && parsed.value !== null
    ? parsed.value
    : undefined;
}
