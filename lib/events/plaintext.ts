/**
 * Credential values never travel in messages: they live in Secrets Manager. A message holding a
 * field with one of these names (any letter case, at any depth, also inside JSON held in a string
 * such as an SNS `Message` or attribute, or in text that only looks like JSON) is refused, and the
 * value is removed from every copy that leaves the function.
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

/** Deeper bodies are refused: no event needs them, and walking them could exhaust the stack. */
export const MAX_NESTING = 32;

/** SNS message attributes are `{ Type, Value }`: these two keys are the envelope's, not data. */
const SNS_ATTRIBUTE_KEYS: ReadonlySet<string> = new Set(["Type", "Value"]);

export function isCredentialField(name: string): boolean {
  return CREDENTIAL_FIELD_NAMES.has(name.toLowerCase());
}

export interface BodyInspection {
  /** Dot paths of credential-named fields; `(text)` marks one found in text, not in parsed JSON. */
  readonly credentialFields: string[];
  readonly tooDeep: boolean;
  /** A repeated key: JSON.parse keeps the last, and an earlier one could hide a value. */
  readonly duplicateKeys: boolean;
}

/** Looks for credential-named fields, nesting beyond MAX_NESTING, and repeated keys. */
export function inspectBody(value: unknown): BodyInspection {
  const found: string[] = [];
  let tooDeep = false;
  let duplicateKeys = false;
  const walk = (node: unknown, path: string, depth: number): void => {
    if (depth > MAX_NESTING) {
      tooDeep = true;
      return;
    }
    if (typeof node === "string") {
      const nested = embeddedJson(node);
      if (nested.kind === "json") {
        duplicateKeys ||= hasDuplicateKeys(node);
        walk(nested.value, path, depth + 1);
      } else if (scrubText(node) !== node) found.push(`${path}(text)`);
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const snsAttributes = isSnsNotification(node) ? node.MessageAttributes : undefined;
    for (const [key, child] of Object.entries(node)) {
      const childPath = Array.isArray(node) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (isCredentialField(key)) found.push(childPath);
      else if (child === snsAttributes && isObject(child)) {
        for (const [name, attribute] of Object.entries(child)) {
          const attributePath = `${childPath}.${name}`;
          if (isCredentialField(name)) found.push(attributePath);
          else if (isObject(attribute)) {
            for (const [part, content] of Object.entries(attribute)) {
              const partPath = `${attributePath}.${part}`;
              if (!SNS_ATTRIBUTE_KEYS.has(part) && isCredentialField(part)) found.push(partPath);
              else walk(content, partPath, depth + 3);
            }
          } else walk(attribute, attributePath, depth + 2);
        }
      } else walk(child, childPath, depth + 1);
    }
  };
  walk(value, "", 0);
  return { credentialFields: found, tooDeep, duplicateKeys };
}

export function findCredentialFields(value: unknown): string[] {
  return inspectBody(value).credentialFields;
}

/** The same JSON with every credential-named field's value replaced by `[removed]`. */
export function withoutCredentialValues(value: unknown, depth = 0): unknown {
  if (depth > MAX_NESTING) return `${REMOVED}: nested too deep`;
  if (typeof value === "string") {
    const nested = embeddedJson(value);
    if (nested.kind === "json")
      return JSON.stringify(withoutCredentialValues(nested.value, depth + 1));
    return scrubText(value);
  }
  if (Array.isArray(value)) return value.map((item) => withoutCredentialValues(item, depth + 1));
  if (!isObject(value)) return value;
  const snsAttributes = isSnsNotification(value) ? value.MessageAttributes : undefined;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => {
      if (isCredentialField(key)) return [key, REMOVED];
      if (child === snsAttributes && isObject(child)) {
        return [
          key,
          Object.fromEntries(
            Object.entries(child).map(([name, attribute]) => [
              name,
              isCredentialField(name)
                ? REMOVED
                : isObject(attribute)
                  ? Object.fromEntries(
                      Object.entries(attribute).map(([part, content]) => [
                        part,
                        !SNS_ATTRIBUTE_KEYS.has(part) && isCredentialField(part)
                          ? REMOVED
                          : withoutCredentialValues(content, depth + 3),
                      ]),
                    )
                  : withoutCredentialValues(attribute, depth + 2),
            ]),
          ),
        ];
      }
      return [key, withoutCredentialValues(child, depth + 1)];
    }),
  );
}

/**
 * A message body fit to leave the function (for the DLQ): credential values removed, whether the
 * body is valid JSON or only looks like it.
 */
export function scrubBody(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return scrubText(body);
  }
  const { credentialFields, tooDeep, duplicateKeys } = inspectBody(parsed);
  // Operators compare DLQ bodies with what producers sent: keep the text when nothing is removed.
  if (credentialFields.length === 0 && !tooDeep && !duplicateKeys && !hasDuplicateKeys(body)) {
    return body;
  }
  // Re-serialised: a repeated key's hidden earlier value is dropped with it.
  return JSON.stringify(withoutCredentialValues(parsed));
}

// `"pin": …` in JSON text; `\"pin\": …` in JSON text held in a JSON string (and deeper); keys
// may spell letters as \u escapes. Bounded repetitions keep the scan linear on long text.
const KEY = /(\\{0,16})"((?:[A-Za-z]|\\u[0-9A-Fa-f]{4}){1,24})\1"\s{0,64}:\s{0,64}/g;

/**
 * Removes credential values from text that only looks like JSON (it may be cut short, broken, or
 * nested in strings). When the end of a value cannot be found, everything after its key is
 * removed: too much is better than a leaked secret.
 */
export function scrubText(text: string): string {
  let scrubbed = "";
  let copiedUpTo = 0;
  KEY.lastIndex = 0;
  for (let match = KEY.exec(text); match !== null; match = KEY.exec(text)) {
    const name = (match[2] ?? "").replace(/\\u([0-9A-Fa-f]{4})/g, (_escape, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
    if (!isCredentialField(name)) continue;
    const backslashes = match[1]?.length ?? 0;
    const valueStart = match.index + match[0].length;
    // One level of string nesting is read exactly; deeper ones are cut off wholesale.
    const valueEnd =
      backslashes === 0
        ? endOfValue(text, valueStart, false)
        : backslashes === 1
          ? endOfValue(text, valueStart, true)
          : text.length;
    const quote = backslashes === 0 ? '"' : `${"\\".repeat(backslashes)}"`;
    scrubbed += `${text.slice(copiedUpTo, valueStart)}${quote}${REMOVED}${quote}`;
    copiedUpTo = valueEnd;
    KEY.lastIndex = valueEnd;
  }
  return scrubbed + text.slice(copiedUpTo);
}

/** Whether valid JSON text repeats a key within one object (compared after unescaping). */
export function hasDuplicateKeys(json: string): boolean {
  const objects: Array<Set<string> | undefined> = [];
  let expectingKey = false;
  for (let index = 0; index < json.length; index++) {
    const character = json[index];
    if (character === '"') {
      const end = endOfString(json, index + 1, false);
      const keys = objects.at(-1);
      if (expectingKey && keys !== undefined) {
        const key = JSON.parse(json.slice(index, end)) as string;
        if (keys.has(key)) return true;
        keys.add(key);
        expectingKey = false;
      }
      index = end - 1;
    } else if (character === "{") {
      objects.push(new Set());
      expectingKey = true;
    } else if (character === "[") {
      objects.push(undefined);
    } else if (character === "}" || character === "]") {
      objects.pop();
    } else if (character === ",") {
      expectingKey = objects.at(-1) !== undefined;
    }
  }
  return false;
}

const BARE_VALUE_END = /[,}\]\s]/g;

function endOfValue(text: string, start: number, escaped: boolean): number {
  const quote = escaped ? '\\"' : '"';
  if (text.startsWith(quote, start)) return endOfString(text, start + quote.length, escaped);
  const opening = text[start];
  if (opening === "[" || opening === "{") return endOfBrackets(text, start, escaped);
  BARE_VALUE_END.lastIndex = start;
  const bare = BARE_VALUE_END.exec(text);
  return bare === null ? text.length : bare.index;
}

/** After the opening quote: the index just past the closing one, or the end of the text. */
function endOfString(text: string, from: number, escaped: boolean): number {
  for (let index = from; index < text.length; index++) {
    if (text[index] !== "\\" && text[index] !== '"') continue;
    let backslashes = 0;
    while (text[index + backslashes] === "\\") backslashes++;
    if (text[index + backslashes] === '"') {
      // Plain JSON: an even run escapes itself. Inside a JSON string, `\"` closes (1, 5, 9 …
      // backslashes) and `\\\"` is an escaped quote of the inner text (3, 7 …).
      const closes = escaped ? backslashes % 4 === 1 : backslashes % 2 === 0;
      if (closes) return index + backslashes + 1;
    }
    index += Math.max(0, backslashes - 1) + (backslashes > 0 ? 1 : 0);
  }
  return text.length;
}

function endOfBrackets(text: string, start: number, escaped: boolean): number {
  let depth = 0;
  const quote = escaped ? '\\"' : '"';
  for (let index = start; index < text.length; index++) {
    if (text.startsWith(quote, index)) {
      index = endOfString(text, index + quote.length, escaped) - 1;
      continue;
    }
    const character = text[index];
    if (character === "[" || character === "{") depth++;
    else if (character === "]" || character === "}") {
      depth--;
      if (depth === 0) return index + 1;
    }
  }
  return text.length;
}

type Embedded = { kind: "json"; value: unknown } | { kind: "text" };

/** A string holding JSON (an SNS Message, a double-encoded body), or just text. */
function embeddedJson(text: string): Embedded {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[" && start !== '"') return { kind: "text" };
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch {
    return { kind: "text" };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSnsNotification(value: unknown): value is Record<string, unknown> {
  return isObject(value) && value.Type === "Notification" && typeof value.TopicArn === "string";
}
