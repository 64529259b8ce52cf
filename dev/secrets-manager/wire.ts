import { type NameFilter, type NewVersion, type SecretPayload, ServiceError } from "./store.ts";

export const JSON_1_1 = "application/x-amz-json-1.1";
export const TARGET_PREFIX = "secretsmanager.";

/** The HTTP status of an error type; AWS answers every other error type with 400. */
const ERROR_STATUS: Record<string, number> = {
  InternalServiceError: 500,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

const MAX_SECRET_BYTES = 65_536;

export type JsonObject = Record<string, unknown>;

export function errorStatus(type: string): number {
  return ERROR_STATUS[type] ?? 400;
}

/** The SDK takes the error type from `__type` (or the x-amzn-ErrorType header) and `message`. */
export function errorBody(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}

/** The key id from a SigV4 `Credential=AKID/date/region/service/aws4_request`; nothing else. */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(authorization ?? "")?.[1];
}

function invalid(message: string): ServiceError {
  return new ServiceError("InvalidParameterException", message);
}

export function parseRequestBody(text: string): JsonObject {
  let body: unknown;
  try {
    body = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new ServiceError("SerializationException", "The request body is not valid JSON.");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ServiceError("SerializationException", "The request body must be a JSON object.");
  }
  return body as JsonObject;
}

export function optionalString(input: JsonObject, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(`${key} must be a string.`);
  return value;
}

export function requiredString(input: JsonObject, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined || value === "") throw invalid(`You must specify ${key}.`);
  return value;
}

export function optionalBoolean(input: JsonObject, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalid(`${key} must be a boolean.`);
  return value;
}

export function integerIn(
  input: JsonObject,
  key: string,
  range: { min: number; max: number; fallback: number },
): number {
  const value = input[key] ?? range.fallback;
  if (!Number.isInteger(value) || (value as number) < range.min || (value as number) > range.max) {
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

/** SecretString or SecretBinary (base64 on the wire), never both. */
export function payloadOf(input: JsonObject): SecretPayload | undefined {
  const text = optionalString(input, "SecretString");
  const binary = optionalString(input, "SecretBinary");
  if (text !== undefined && binary !== undefined) {
    throw invalid(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (text !== undefined) {
    if (Buffer.byteLength(text) > MAX_SECRET_BYTES) throw invalid("SecretString is too long.");
    return { SecretString: text };
  }
  if (binary === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(binary) || binary.length % 4 !== 0) {
    throw invalid("SecretBinary must be base64.");
  }
  if (Buffer.from(binary, "base64").length > MAX_SECRET_BYTES) {
    throw invalid("SecretBinary is too long.");
  }
  return { SecretBinary: binary };
}

/** AWS wants 32 to 64 characters; the SDK fills in a UUID when the caller gives none. */
export function clientRequestTokenOf(input: JsonObject): string | undefined {
  const token = optionalString(input, "ClientRequestToken");
  if (token !== undefined && (token.length < 32 || token.length > 64)) {
    throw invalid("ClientRequestToken must be 32 to 64 characters long.");
  }
  return token;
}

/** The value, token and (PutSecretValue only) labels of a new version, if the request has one. */
export function newVersionOf(
  input: JsonObject,
  options: { withStages: boolean },
): NewVersion | undefined {
  const payload = payloadOf(input);
  if (payload === undefined) return undefined;
  const stages = options.withStages ? optionalStringList(input, "VersionStages") : undefined;
  if (stages !== undefined && (stages.length === 0 || stages.length > 20)) {
    throw invalid("VersionStages must have 1 to 20 labels.");
  }
  return { payload, token: clientRequestTokenOf(input), stages };
}

/** Only the `name` filter: others would be silently ignored, which hides mistakes. */
export function nameFiltersOf(input: JsonObject): NameFilter[] {
  const filters = input.Filters;
  if (filters === undefined || filters === null) return [];
  if (!Array.isArray(filters)) throw invalid("Filters must be a list.");
  return filters.map((filter: unknown) => {
    if (typeof filter !== "object" || filter === null) throw invalid("A filter must be an object.");
    const fields = filter as JsonObject;
    if (fields.Key !== "name") {
      throw invalid(`The stand-in supports only the "name" filter, not ${String(fields.Key)}.`);
    }
    const values = optionalStringList(fields, "Values");
    if (values === undefined || values.length === 0) throw invalid("A filter needs Values.");
    return { values };
  });
}
