// Serves one AWS JSON 1.1 service over HTTP: dispatch on X-Amz-Target, injected failures, errors.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "../listen.ts";
import {
  errorBody,
  errorStatus,
  JSON_1_1,
  type JsonObject,
  parseRequestBody,
  ServiceError,
} from "./wire.ts";

export type Operation = (input: JsonObject) => JsonObject;

export interface ReceivedRequest {
  /** X-Amz-Target without the service's prefix (the whole header when it lacks the prefix). */
  readonly operation: string;
  /** The parsed body, or the error the request is answered with because it is not one. */
  readonly input: JsonObject | ServiceError;
  readonly authorization: string | undefined;
}

export interface JsonServiceDefinition {
  /** As messages and logs name it, e.g. "Secrets Manager". */
  readonly name: string;
  /** What X-Amz-Target holds before the operation, e.g. "secretsmanager.". */
  readonly targetPrefix: string;
  readonly operations: Readonly<Record<string, Operation>>;
  /** The service's error type for its own failure (HTTP 500), e.g. InternalServiceError. */
  readonly internalErrorType: string;
  /** Sees every request, answered or refused, before its answer. */
  readonly onRequest: (request: ReceivedRequest) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;

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

/** The HTTP side of a stand-in: the service's state lives in its operations. */
export class JsonService {
  readonly #definition: JsonServiceDefinition;
  readonly #server: Server;
  /** Operation → error types still to answer with, in order. */
  readonly #failures = new Map<string, string[]>();
  #url = "";
  #closed: Promise<void> | undefined;

  constructor(definition: JsonServiceDefinition) {
    this.#definition = definition;
    this.#server = createServer(this.#onRequest);
  }

  async listen(host: string, port: number): Promise<void> {
    this.#url = `http://${await listen(this.#server, host, port)}`;
  }

  get url(): string {
    return this.#url;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve, reject) => {
      this.#server.close((error) => (error === undefined ? resolve() : reject(error)));
      // The SDK keeps its sockets alive; they would otherwise hold close() open.
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }

  /** The next `count` calls of `operation` fail with `errorType`, whatever they ask. */
  failNext(operation: string, errorType: string, count = 1): void {
    // A misspelt operation would otherwise wait forever for a call that never comes.
    if (this.#operationOf(operation) === undefined) {
      const known = Object.keys(this.#definition.operations).join(", ");
      throw new RangeError(`unknown operation ${operation}; one of ${known}`);
    }
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError("count must be a positive integer");
    const queue = this.#failures.get(operation) ?? [];
    queue.push(...Array.from({ length: count }, () => errorType));
    this.#failures.set(operation, queue);
  }

  /** Own keys only: "constructor" or "toString" must not reach Object.prototype. */
  #operationOf(name: string): Operation | undefined {
    const { operations } = this.#definition;
    return Object.hasOwn(operations, name) ? operations[name] : undefined;
  }

  readonly #onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.#handle(request, response).catch((error: unknown) => {
      console.error(`${this.#definition.name} stand-in: request failed`, error);
      this.#sendError(
        response,
        this.#definition.internalErrorType,
        "The stand-in failed; see its log.",
      );
    });
  };

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { name, targetPrefix } = this.#definition;
    const header = request.headers["x-amz-target"];
    const target = typeof header === "string" ? header : "";
    const prefixed = target.startsWith(targetPrefix);
    const operation = prefixed ? target.slice(targetPrefix.length) : target;
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
    this.#definition.onRequest({ operation, input, authorization: request.headers.authorization });

    try {
      const handler = prefixed ? this.#operationOf(operation) : undefined;
      if (handler === undefined) {
        throw new ServiceError(
          "UnknownOperationException",
          `The ${name} stand-in does not know the target ${JSON.stringify(target)}.`,
        );
      }
      const injected = this.#failures.get(operation)?.shift();
      if (injected !== undefined) {
        throw new ServiceError(injected, `${injected} injected by the stand-in (failNext).`);
      }
      if (input instanceof ServiceError) throw input;
      this.#send(response, 200, JSON.stringify(handler(input)));
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      this.#sendError(response, error.type, error.message);
    }
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
