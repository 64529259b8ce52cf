// EventBridge event patterns: refused as PutRule refuses them, matched as a rule matches events.
import { type JsonObject, ServiceError } from "../aws-json/wire.ts";

type Scalar = string | number | boolean | null;
type NumericOperator = "<" | "<=" | "=" | ">" | ">=";

type Condition =
  | { readonly kind: "equals"; readonly value: Scalar }
  | { readonly kind: "prefix"; readonly prefix: string }
  | { readonly kind: "anything-but"; readonly excluded: readonly (string | number)[] }
  | { readonly kind: "exists"; readonly exists: boolean }
  | {
      readonly kind: "numeric";
      readonly comparisons: readonly (readonly [NumericOperator, number])[];
    };

/** One leaf of a pattern: the dotted path of its keys, and the conditions any of which may hold. */
interface FieldPattern {
  readonly path: string;
  readonly conditions: readonly Condition[];
}

export interface EventPattern {
  readonly fields: readonly FieldPattern[];
}

/** Operators AWS has that the stand-in does not: refused by name, never matched wrongly. */
const UNSUPPORTED_OPERATORS = new Set(["suffix", "equals-ignore-case", "wildcard", "cidr"]);
const SUPPORTED = "exact values, prefix, anything-but (a value or a list), exists and numeric";
const NUMERIC_OPERATORS = new Set<string>(["<", "<=", "=", ">", ">="]);

function invalidPattern(reason: string): ServiceError {
  return new ServiceError(
    "InvalidEventPatternException",
    `Event pattern is not valid. Reason: ${reason}`,
  );
}

function unsupported(what: string): ServiceError {
  return invalidPattern(
    `the EventBridge stand-in does not support ${what}; it supports ${SUPPORTED}.`,
  );
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is Scalar {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

/** `numeric`: one comparison, or a range from a lower bound (> or >=) to an upper (< or <=). */
function numericCondition(value: unknown): Condition {
  if (!Array.isArray(value)) throw invalidPattern("Value of numeric must be an array.");
  if (value.length === 0 || value.length % 2 !== 0) {
    throw invalidPattern(`Invalid member in numeric match: ${JSON.stringify(value)}`);
  }
  if (value.length > 4) throw invalidPattern("Too many terms in numeric range expression");
  const comparisons: [NumericOperator, number][] = [];
  for (let i = 0; i < value.length; i += 2) {
    const operator: unknown = value[i];
    const operand: unknown = value[i + 1];
    if (typeof operator !== "string" || !NUMERIC_OPERATORS.has(operator)) {
      throw invalidPattern(`Unrecognized numeric range operator: ${String(operator)}`);
    }
    if (typeof operand !== "number") {
      throw invalidPattern(`Value of ${operator === "=" ? "equals" : operator} must be numeric`);
    }
    comparisons.push([operator as NumericOperator, operand]);
  }
  const [lower, upper] = comparisons;
  if (upper !== undefined && lower !== undefined) {
    if (lower[0] !== ">" && lower[0] !== ">=") {
      throw invalidPattern("Too many elements in numeric expression");
    }
    if (upper[0] !== "<" && upper[0] !== "<=") {
      throw invalidPattern(`Bad numeric range operator: ${upper[0]}`);
    }
    if (upper[1] <= lower[1]) throw invalidPattern("Bottom must be less than top");
  }
  return { kind: "numeric", comparisons };
}

function anythingButCondition(value: unknown): Condition {
  if (isObject(value)) {
    throw unsupported(`"anything-but" with ${Object.keys(value).join(", ") || "an object"}`);
  }
  const excluded = Array.isArray(value) ? value : [value];
  if (excluded.length === 0) throw invalidPattern("Empty arrays are not allowed");
  for (const item of excluded) {
    if (typeof item === "string" || typeof item === "number") continue;
    throw invalidPattern(
      Array.isArray(value)
        ? "Inside anything but list, start|null|boolean is not supported."
        : "Value of anything-but must be an array or single string/number value.",
    );
  }
  return { kind: "anything-but", excluded: excluded as (string | number)[] };
}

function conditionOf(item: unknown): Condition {
  if (isScalar(item)) return { kind: "equals", value: item };
  if (!isObject(item)) {
    throw invalidPattern("Match value must be String, number, true, false, or null");
  }
  const entries = Object.entries(item);
  const [entry] = entries;
  if (entry === undefined || entries.length !== 1) {
    throw invalidPattern("Only one key allowed in match expression");
  }
  const [operator, value] = entry;
  if (UNSUPPORTED_OPERATORS.has(operator)) throw unsupported(`the "${operator}" operator`);
  switch (operator) {
    case "prefix":
      if (isObject(value)) throw unsupported(`"prefix" with ${Object.keys(value).join(", ")}`);
      if (typeof value !== "string") throw invalidPattern("prefix match pattern must be a string");
      return { kind: "prefix", prefix: value };
    case "anything-but":
      return anythingButCondition(value);
    case "exists":
      if (typeof value !== "boolean") {
        throw invalidPattern("exists match pattern must be either true or false.");
      }
      return { kind: "exists", exists: value };
    case "numeric":
      return numericCondition(value);
    default:
      throw invalidPattern(`Unrecognized match type ${operator}`);
  }
}

function collectFields(pattern: JsonObject, parentPath: string, into: FieldPattern[]): void {
  for (const [key, value] of Object.entries(pattern)) {
    if (key === "$or") throw unsupported('"$or"');
    const path = parentPath === "" ? key : `${parentPath}.${key}`;
    if (isObject(value)) {
      collectFields(value, path, into);
    } else if (Array.isArray(value)) {
      if (value.length === 0) throw invalidPattern("Empty arrays are not allowed");
      into.push({ path, conditions: value.map(conditionOf) });
    } else {
      throw invalidPattern(`"${key}" must be an object or an array`);
    }
  }
}

/** Parses and checks an EventPattern; throws InvalidEventPatternException as PutRule does. */
export function parseEventPattern(text: string): EventPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidPattern("Filter is not valid JSON");
  }
  if (!isObject(parsed)) throw invalidPattern("Filter is not an object");
  const fields: FieldPattern[] = [];
  collectFields(parsed, "", fields);
  return { fields };
}

/**
 * Every leaf value of the event under its dotted path. Array elements all count as values of the
 * array's path, and "a.b" as a key is the same path as "b" inside "a", as in EventBridge.
 */
function leavesOf(value: unknown, path: string, into: Map<string, unknown[]>): void {
  if (Array.isArray(value)) {
    for (const element of value) leavesOf(element, path, into);
  } else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      leavesOf(child, path === "" ? key : `${path}.${key}`, into);
    }
  } else {
    const leaves = into.get(path) ?? [];
    leaves.push(value);
    into.set(path, leaves);
  }
}

function compare(value: number, [operator, operand]: readonly [NumericOperator, number]): boolean {
  switch (operator) {
    case "<":
      return value < operand;
    case "<=":
      return value <= operand;
    case "=":
      return value === operand;
    case ">":
      return value > operand;
    case ">=":
      return value >= operand;
  }
}

/** A field absent, an empty array or an object has no leaves: only `exists: false` holds then. */
function holds(condition: Condition, leaves: readonly unknown[]): boolean {
  switch (condition.kind) {
    case "equals":
      return leaves.some((leaf) => leaf === condition.value);
    case "prefix":
      return leaves.some((leaf) => typeof leaf === "string" && leaf.startsWith(condition.prefix));
    case "anything-but":
      return leaves.some((leaf) => !condition.excluded.includes(leaf as string | number));
    case "exists":
      return condition.exists === leaves.length > 0;
    case "numeric":
      return leaves.some(
        (leaf) =>
          typeof leaf === "number" &&
          condition.comparisons.every((comparison) => compare(leaf, comparison)),
      );
  }
}

/** Every field of the pattern must hold; within a field, any one of its conditions. */
export function matchesPattern(pattern: EventPattern, event: JsonObject): boolean {
  const leaves = new Map<string, unknown[]>();
  leavesOf(event, "", leaves);
  return pattern.fields.every(({ path, conditions }) =>
    conditions.some((condition) => holds(condition, leaves.get(path) ?? [])),
  );
}
