// Reads typed fields out of a JSON 1.1 request body, refusing a wrong type as the service does.
import { type JsonObject, ServiceError } from "./wire.ts";

export interface IntegerRange {
  min: number;
  max: number;
  fallback: number;
}

/**
 * The field readers of one service: a field of the wrong type, or a required one missing, fails
 * with that service's own error type (Secrets Manager: InvalidParameterException; EventBridge:
 * ValidationException).
 */
export function fieldReaders(invalidType: string) {
  const invalid = (message: string) => new ServiceError(invalidType, message);

  function optionalString(input: JsonObject, key: string): string | undefined {
    const value = input[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") throw invalid(`${key} must be a string.`);
    return value;
  }

  function requiredString(input: JsonObject, key: string): string {
    const value = optionalString(input, key);
    if (value === undefined || value === "") throw invalid(`You must specify ${key}.`);
    return value;
  }

  function optionalBoolean(input: JsonObject, key: string): boolean | undefined {
    const value = input[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") throw invalid(`${key} must be a boolean.`);
    return value;
  }

  function integerIn(input: JsonObject, key: string, range: IntegerRange): number {
    const value = input[key] ?? range.fallback;
    if (
      !Number.isInteger(value) ||
      (value as number) < range.min ||
      (value as number) > range.max
    ) {
      throw invalid(`${key} must be an integer from ${range.min} to ${range.max}.`);
    }
    return value as number;
  }

  function optionalStringList(input: JsonObject, key: string): string[] | undefined {
    const value = input[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      throw invalid(`${key} must be a list of strings.`);
    }
    return value;
  }

  return {
    invalid,
    optionalString,
    requiredString,
    optionalBoolean,
    integerIn,
    optionalStringList,
  };
}
