import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "../listen.ts";
import { SecretStore, ServiceError } from "./store.ts";
import {
  accessKeyIdOf,
  clientRequestTokenOf,
  errorBody,
  errorStatus,
  integerIn,
  JSON_1_1,
  type JsonObject,
  nameFiltersOf,
  newVersionOf,
  optionalBoolean,
  optionalString,
  parseRequestBody,
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

const MAX_BODY_BYTES = 1024 * 1024;
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

/** Own keys only: "constructor" or "toString" must not reach Object.prototype. */
function handlerOf(operation: string): Handler | undefined {
  return Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

class StandInServer implements SecretsManagerStandIn {
  readonly #store: SecretStore;
  readonly #server: Server;
  /** Operation → error types still to answer with, in order. */
  readonly #failures = new Map<string, string[]>();
  #requests: RecordedRequest[] = [];
  #url = "";
  #closed: Promise<void> | undefined;

  constructor(region: string) {
    this.#store = new SecretStore(region);
    this.#server = createServer(this.#onRequest);
  }

  async listen(host: string, port: number): Promise<void> {
    this.#url = `http://${await listen(this.#server, host, port)}`;
  }

  get url(): string {
    return this.#url;
  }

  get requests(): RecordedRequest[] {
    return this.#requests.map((request) => ({ ...request }));
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve, reject) => {
      this.#server.close((error) => (error === undefined ? resolve() : reject(error)));
      // The SDK keeps its sockets alive; they would otherwise hold close() open.
      this.#server.closeAllConnections();
    });
    return this.#closed;
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
    // A misspelt operation would otherwise wait forever for a call that never comes.
    if (handlerOf(operation) === undefined) {
      throw new RangeError(`unknown operation ${operation}; one of ${OPERATION_NAMES.join(", ")}`);
    }
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError("count must be a positive integer");
    const queue = this.#failures.get(operation) ?? [];
    queue.push(...Array.from({ length: count }, () => errorType));
    this.#failures.set(operation, queue);
  }

  resetRequests(): void {
    this.#requests = [];
  }

  readonly #onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.#handle(request, response).catch((error: unknown) => {
      console.error("secrets-manager stand-in: request failed", error);
      this.#sendError(response, "InternalServiceError", "The stand-in failed; see its log.");
    });
  };

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const header = request.headers["x-amz-target"];
    const target = typeof header === "string" ? header : "";
    const operation = target.startsWith(TARGET_PREFIX)
      ? target.slice(TARGET_PREFIX.length)
      : target;
    const text = await readBody(request);
    let input: JsonObject | ServiceError;
    try {
      input =
        text === undefined
          ? new ServiceError("SerializationException", "The request body is too large.")
          : parseRequestBody(text);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      input = error;
    }
    this.#record(operation, input, request.headers.authorization);

    try {
      const handler = target.startsWith(TARGET_PREFIX) ? handlerOf(operation) : undefined;
      if (handler === undefined) {
        throw new ServiceError(
          "UnknownOperationException",
          `The Secrets Manager stand-in does not know the target ${JSON.stringify(target)}.`,
        );
      }
      const injected = this.#failures.get(operation)?.shift();
      if (injected !== undefined) {
        throw new ServiceError(injected, `${injected} injected by the stand-in (failNext).`);
      }
      if (input instanceof ServiceError) throw input;
      this.#send(response, 200, JSON.stringify(handler(this.#store, input)));
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      this.#sendError(response, error.type, error.message);
    }
  }

  /** Only the operation, the secret's name or ARN and the key id: never a value or a signature. */
  #record(operation: string, input: JsonObject | ServiceError, authorization?: string): void {
    const secretId = input instanceof ServiceError ? undefined : (input.SecretId ?? input.Name);
    const accessKeyId = accessKeyIdOf(authorization);
    this.#requests.push({
      operation,
      ...(typeof secretId === "string" ? { secretId } : {}),
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
    });
  }

  #sendError(response: ServerResponse, type: string, message: string): void {
    this.#send(response, errorStatus(type), errorBody(type, message), {
      "x-amzn-errortype": type,
    });
  }

  #send(
    response: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    if (response.headersSent || response.destroyed) return;
    response.writeHead(status, {
      ...headers,
      "content-type": JSON_1_1,
      "content-length": Buffer.byteLength(body),
      "x-amzn-requestid": randomUUID(),
    });
    response.end(body);
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
