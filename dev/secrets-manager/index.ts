// Secrets Manager stand-in: the real SDK's JSON 1.1 protocol over HTTP, state in SecretStore.
import { JsonService, type ReceivedRequest } from "../aws-json/server.ts";
import { accessKeyIdOf, type JsonObject, ServiceError } from "../aws-json/wire.ts";
import { SecretStore } from "./store.ts";
import {
  clientRequestTokenOf,
  integerIn,
  nameFiltersOf,
  newVersionOf,
  optionalBoolean,
  optionalString,
  payloadOf,
  requiredString,
  TARGET_PREFIX,
} from "./wire.ts";

export { ACCOUNT_ID } from "./store.ts";

export interface SecretsManagerStandInOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Used in ARNs; default us-east-1. */
  region?: string;
  /** Name → SecretString, created before the first request. */
  secrets?: Record<string, string>;
}

/** What a request carried, minus anything secret: no signature, no secret value. */
export interface RecordedRequest {
  operation: string;
  secretId?: string;
  accessKeyId?: string;
}

export interface SecretsManagerStandIn {
  /** For example http://127.0.0.1:41234 */
  readonly url: string;
  close(): Promise<void>;
  /** Creates the secret or adds a version that becomes AWSCURRENT; returns the ARN. */
  putSecret(name: string, value: string): string;
  /** The AWSCURRENT SecretString; undefined for an unknown secret or one without a string value. */
  secretValue(name: string): string | undefined;
  /** Versions stored, labelled or not; 0 for an unknown secret. */
  versionsOf(name: string): number;
  /**
   * The next `count` (default 1) calls of `operation` fail with the AWS error type given, e.g.
   * "ThrottlingException", "AccessDeniedException", "InternalServiceError" (HTTP 500).
   */
  failNext(operation: string, errorType: string, count?: number): void;
  readonly requests: RecordedRequest[];
  resetRequests(): void;
}

const DEFAULT_RECOVERY_WINDOW_DAYS = 30;

type Handler = (store: SecretStore, input: JsonObject) => JsonObject;

const OPERATIONS: Record<string, Handler> = {
  CreateSecret: (store, input) =>
    store.create(requiredString(input, "Name"), {
      payload: payloadOf(input),
      description: optionalString(input, "Description"),
      token: clientRequestTokenOf(input),
    }),
  GetSecretValue: (store, input) =>
    store.getValue(
      requiredString(input, "SecretId"),
      optionalString(input, "VersionId"),
      optionalString(input, "VersionStage"),
    ),
  PutSecretValue: (store, input) => {
    const secretId = requiredString(input, "SecretId");
    const version = newVersionOf(input, { withStages: true });
    if (version === undefined) {
      throw new ServiceError(
        "InvalidParameterException",
        "You must provide either SecretString or SecretBinary.",
      );
    }
    return store.putValue(secretId, version);
  },
  UpdateSecret: (store, input) =>
    store.update(requiredString(input, "SecretId"), {
      description: optionalString(input, "Description"),
      version: newVersionOf(input, { withStages: false }),
    }),
  DescribeSecret: (store, input) => store.describe(requiredString(input, "SecretId")),
  ListSecrets: (store, input) =>
    store.list({
      includeDeleted: optionalBoolean(input, "IncludePlannedDeletion") ?? false,
      nameFilters: nameFiltersOf(input),
      maxResults: integerIn(input, "MaxResults", { min: 1, max: 100, fallback: 100 }),
      nextToken: optionalString(input, "NextToken"),
    }),
  DeleteSecret: (store, input) => {
    const secretId = requiredString(input, "SecretId");
    const force = optionalBoolean(input, "ForceDeleteWithoutRecovery") ?? false;
    if (force && input.RecoveryWindowInDays !== undefined) {
      throw new ServiceError(
        "InvalidParameterException",
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    const recoveryWindowDays = integerIn(input, "RecoveryWindowInDays", {
      min: 7,
      max: 30,
      fallback: DEFAULT_RECOVERY_WINDOW_DAYS,
    });
    return store.delete(secretId, { force, recoveryWindowDays });
  },
};

export const OPERATION_NAMES: readonly string[] = Object.keys(OPERATIONS);

class StandInServer implements SecretsManagerStandIn {
  readonly #store: SecretStore;
  readonly #service: JsonService;
  #requests: RecordedRequest[] = [];

  constructor(region: string) {
    this.#store = new SecretStore(region);
    const store = this.#store;
    this.#service = new JsonService({
      name: "Secrets Manager",
      targetPrefix: TARGET_PREFIX,
      operations: Object.fromEntries(
        Object.entries(OPERATIONS).map(([name, handler]) => [
          name,
          (input: JsonObject) => handler(store, input),
        ]),
      ),
      internalErrorType: "InternalServiceError",
      onRequest: (request) => this.#record(request),
    });
  }

  listen(host: string, port: number): Promise<void> {
    return this.#service.listen(host, port);
  }

  get url(): string {
    return this.#service.url;
  }

  get requests(): RecordedRequest[] {
    return this.#requests.map((request) => ({ ...request }));
  }

  close(): Promise<void> {
    return this.#service.close();
  }

  putSecret(name: string, value: string): string {
    return this.#store.seed(name, value);
  }

  secretValue(name: string): string | undefined {
    return this.#store.currentString(name);
  }

  versionsOf(name: string): number {
    return this.#store.versionCount(name);
  }

  failNext(operation: string, errorType: string, count = 1): void {
    this.#service.failNext(operation, errorType, count);
  }

  resetRequests(): void {
    this.#requests = [];
  }

  /** Only the operation, the secret's name or ARN and the key id: never a value or a signature. */
  #record({ operation, input, authorization }: ReceivedRequest): void {
    const secretId = input instanceof ServiceError ? undefined : (input.SecretId ?? input.Name);
    const accessKeyId = accessKeyIdOf(authorization);
    this.#requests.push({
      operation,
      ...(typeof secretId === "string" ? { secretId } : {}),
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
    });
  }
}

export async function startSecretsManagerStandIn(
  options: SecretsManagerStandInOptions = {},
): Promise<SecretsManagerStandIn> {
  const standIn = new StandInServer(options.region ?? "us-east-1");
  for (const [name, value] of Object.entries(options.secrets ?? {})) standIn.putSecret(name, value);
  await standIn.listen(options.host ?? "127.0.0.1", options.port ?? 0);
  return standIn;
}
