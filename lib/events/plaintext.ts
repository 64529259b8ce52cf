/**
 * Credential values never travel in messages: they live in Secrets Manager. A message holding a
 * field with one of these names (any letter case, at any depth, also inside JSON held in a string
 * such as an SNS `Message`) is refused, and the value is removed from every copy that leaves the
 * function.
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

export function isCredentialField(name: string): boolean {
  return CREDENTIAL_FIELD_NAMES.has(name.toLowerCase());
}

export interface BodyInspection {
  /** Dot paths of credential-named fields; `(text)` marks one found in unparseable JSON text. */
  readonly credentialFields: string[];
  readonly tooDeep: boolean;
}

/** Looks for credential-named fields, and for nesting beyond MAX_NESTING. */
export function inspectBody(value: unknown): BodyInspection {
  const found: string[] = [];
  let tooDeep = false;
  const walk = (node: unknown, path: string, depth: number): void => {
    if (depth > MAX_NESTING) {
      tooDeep = true;
      return;
    }
    if (typeof node === "string") {
      const nested = embeddedJson(node);
      if (nested.kind === "json") walk(nested.value, path, depth + 1);
      else if (nested.kind === "broken" && scrubText(node) !== node) found.push(`${path}(text)`);
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const snsAttributes = isSnsNotification(node) ? node.MessageAttributes : undefined;
    for (const [key, child] of Object.entries(node)) {
      const childPath = Array.isArray(node) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (isCredentialField(key)) found.push(childPath);
      else if (child === snsAttributes && isObject(child)) {
        // SNS writes attributes as { name: { Type, Value } }: only the names can be credentials.
        for (const name of Object.keys(child)) {
          if (isCredentialField(name)) found.push(`${childPath}.${name}`);
        }
      } else walk(child, childPath, depth + 1);
    }
  };
  walk(value, "", 0);
  return { credentialFields: found, tooDeep };
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
    return nested.kind === "broken" ? scrubText(value) : value;
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
              isCredentialField(name) && isObject(attribute)
                ? { ...attribute, Value: REMOVED }
                : attribute,
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
  const { credentialFields, tooDeep } = inspectBody(parsed);
  // Operators compare DLQ bodies with what producers sent: keep the text when nothing is removed.
  if (credentialFields.length === 0 && !tooDeep) return body;
  return JSON.stringify(withoutCredentialValues(parsed));
}

// `"pin": …` in JSON text, or `\"pin\": …` in JSON text held inside a JSON string.
const KEY = /(\\?)"([A-Za-z]+)\1"\s*:\s*/g;

/**
 * Removes credential values from text that only looks like JSON (it may be cut short or broken).
 * When the end of a value cannot be found, everything after its key is removed: too much is
 * better than a leaked secret.
 */
export function scrubText(text: string): string {
  let scrubbed = "";
  let copiedUpTo = 0;
  KEY.lastIndex = 0;
  for (let match = KEY.exec(text); match !== null; match = KEY.exec(text)) {
    if (!isCredentialField(match[2] ?? "")) continue;
    const escaped = match[1] === "\\";
    const valueStart = match.index + match[0].length;
    const valueEnd = endOfValue(text, valueStart, escaped);
    scrubbed +=
      text.slice(copiedUpTo, valueStart) + (escaped ? `\\"${REMOVED}\\"` : `"${REMOVED}"`);
    copiedUpTo = valueEnd;
    KEY.lastIndex = valueEnd;
  }
  return scrubbed + text.slice(copiedUpTo);
}

function endOfValue(text: string, start: number, escaped: boolean): number {
  const quote = escaped ? '\\"' : '"';
  if (text.startsWith(quote, start)) return endOfString(text, start + quote.length, escaped);
  const opening = text[start];
  if (opening === "[" || opening === "{") return endOfBrackets(text, start, escaped);
  const bare = /[,}\]\s]/.exec(text.slice(start));
  return bare === null ? text.length : start + bare.index;
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

type Embedded = { kind: "json"; value: unknown } | { kind: "broken" } | { kind: "text" };

/** A string holding JSON (an SNS Message), broken JSON, or just text. */
function embeddedJson(text: string): Embedded {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return { kind: "text" };
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch {
    return { kind: "broken" };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSnsNotification(value: unknown): value is Record<string, unknown> {
  return isObject(value) && value.Type === "Notification" && typeof value.TopicArn === "string";
}
