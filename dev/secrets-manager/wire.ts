// Secrets Manager's request fields: secret values, version tokens and labels, list filters.
import { fieldReaders } from "../aws-json/fields.ts";
import type { JsonObject } from "../aws-json/wire.ts";
import type { NameFilter, NewVersion, SecretPayload } from "./store.ts";

export const TARGET_PREFIX = "secretsmanager.";

const MAX_SECRET_BYTES = 65_536;

const fields = fieldReaders("InvalidParameterException");
const { invalid, optionalStringList } = fields;
export const { optionalString, requiredString, optionalBoolean, integerIn } = fields;

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
