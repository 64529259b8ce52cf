import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import {
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { SecretValue } from "./secret-value.ts";

/** The secret does not exist, is not readable by this function, or lacks the expected content. */
export class SecretNotFoundError extends Error {
  override readonly name = "SecretNotFoundError";
  readonly retryable = false;
}

/** Secrets Manager could not answer now (throttling, a 5xx, the network): try again later. */
export class SecretUnavailableError extends Error {
  override readonly name = "SecretUnavailableError";
  readonly retryable = true;
}

const PERMANENT_ERRORS = new Set([
  "ResourceNotFoundException",
  "AccessDeniedException",
  "InvalidRequestException",
  "InvalidParameterException",
  "DecryptionFailure",
  "ValidationException",
]);

export interface SecretStoreOptions {
  readonly client: SecretsManagerClient;
  /** How long a cached secret (the CUPI service account) is reused. Default 300 s. */
  readonly cacheSeconds?: number;
}

export const DEFAULT_SECRET_CACHE_SECONDS = 300;

/**
 * Reads and writes secrets. Powertools' SecretsProvider caches what may be cached; one-time values
 * are always fetched fresh. Errors say which secret and why, never what it holds.
 */
export class SecretStore {
  readonly #client: SecretsManagerClient;
  readonly #provider: SecretsProvider;
  readonly #cacheSeconds: number;

  constructor(options: SecretStoreOptions) {
    this.#client = options.client;
    this.#provider = new SecretsProvider({ awsSdkV3Client: options.client });
    this.#cacheSeconds = options.cacheSeconds ?? DEFAULT_SECRET_CACHE_SECONDS;
  }

  /** A secret reused for the cache period: the service account. `refresh` skips the cache. */
  cached(secretId: string, refresh = false): Promise<SecretValue> {
    return this.#get(secretId, { maxAge: this.#cacheSeconds, forceFetch: refresh });
  }

  /** A one-time value (a new PIN or password): never cached. */
  fresh(secretId: string): Promise<SecretValue> {
    return this.#get(secretId, { maxAge: 0, forceFetch: true });
  }

  /** Stores a new AWSCURRENT version of an existing secret (never creates one). */
  async put(secretId: string, value: SecretValue): Promise<void> {
    try {
      await this.#client.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: value.reveal() }),
      );
    } catch (error) {
      throw classify(secretId, "store a value in", error);
    }
  }

  async #get(
    secretId: string,
    options: { maxAge: number; forceFetch: boolean },
  ): Promise<SecretValue> {
    let value: string | Uint8Array | undefined;
    try {
      value = await this.#provider.get(secretId, options);
    } catch (error) {
      throw classify(secretId, "read", (error as Error).cause ?? error);
    }
    if (typeof value !== "string") {
      throw new SecretNotFoundError(`secret ${secretId} has no SecretString`);
    }
    return new SecretValue(value);
  }
}

function classify(secretId: string, verb: string, error: unknown): Error {
  const type = error instanceof Error ? error.name : "UnknownError";
  if (error instanceof ResourceNotFoundException || type === "ResourceNotFoundException") {
    return new SecretNotFoundError(`secret ${secretId} does not exist`);
  }
  if (PERMANENT_ERRORS.has(type)) {
    return new SecretNotFoundError(`cannot ${verb} secret ${secretId}: ${type}`);
  }
  return new SecretUnavailableError(`cannot ${verb} secret ${secretId} now: ${type}`, {
    cause: error,
  });
}

/**
 * The value a reset uses: the whole SecretString, or one key of it when it holds JSON. Parse
 * errors are reported without the text, since JSON.parse quotes its input.
 */
export function selectSecretValue(
  secretId: string,
  secret: SecretValue,
  jsonKey: string | undefined,
): SecretValue {
  if (jsonKey === undefined) return secret;
  let document: unknown;
  try {
    document = JSON.parse(secret.reveal());
  } catch {
    throw new SecretNotFoundError(`secret ${secretId} is not JSON, so it has no key "${jsonKey}"`);
  }
  const value =
    typeof document === "object" &&
    document !== null &&
    !Array.isArray(document) &&
    Object.hasOwn(document, jsonKey)
      ? (document as Record<string, unknown>)[jsonKey]
      : undefined;
  if (typeof value === "string" && value !== "") return new SecretValue(value);
  throw new SecretNotFoundError(
    value === undefined
      ? `secret ${secretId} has no key "${jsonKey}"`
      : // A PIN stored as a JSON number would already have lost its leading zeros.
        `secret ${secretId} key "${jsonKey}" must hold a non-empty string`,
  );
}
