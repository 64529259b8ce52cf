// The AWS JSON 1.1 wire format the stand-ins speak: content type, request bodies, error answers.

export const JSON_1_1 = "application/x-amz-json-1.1";

export type JsonObject = Record<string, unknown>;

/** An AWS error as the wire carries it: `type` becomes `__type`, e.g. ResourceNotFoundException. */
export class ServiceError extends Error {
  readonly type: string;

  constructor(type: string, message: string) {
    super(message);
    this.name = type;
    this.type = type;
  }
}

/** The HTTP status of an error type; AWS answers every other error type with 400. */
const ERROR_STATUS: Record<string, number> = {
  InternalServiceError: 500,
  InternalException: 500,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

export function errorStatus(type: string): number {
  return Object.hasOwn(ERROR_STATUS, type) ? (ERROR_STATUS[type] ?? 400) : 400;
}

/** The SDK takes the error type from `__type` (or the x-amzn-ErrorType header) and `message`. */
export function errorBody(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}

/** The key id from a SigV4 `Credential=AKID/date/region/service/aws4_request`; nothing else. */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(authorization ?? "")?.[1];
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
