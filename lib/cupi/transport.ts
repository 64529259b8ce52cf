import { X509Certificate } from "node:crypto";
import { getCACertificates } from "node:tls";
import { Pool } from "undici";
import { parseCupiBaseUrl } from "./base-url.ts";
import { CupiError } from "./errors.ts";

export interface CupiTimeouts {
  /** TCP and TLS connection set-up. Default 5 s. */
  readonly connectMs?: number;
  /** From sending the request to receiving the response headers. Default 10 s. */
  readonly headersMs?: number;
  /** Longest silence while receiving the response body. Default 10 s. */
  readonly bodyMs?: number;
}

export const DEFAULT_TIMEOUTS: Required<CupiTimeouts> = {
  connectMs: 5_000,
  headersMs: 10_000,
  bodyMs: 10_000,
};

/**
 * Idle keep-alive connections are closed after this long: below Tomcat's default 20 s keep-alive
 * and the 60 s idle timeout of typical load balancers, so the client never reuses a connection the
 * other side has just dropped.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 15_000;

/** CUPI answers are small; anything larger is not a CUPI answer this client needs. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface CupiTransportOptions {
  /** `https://cuc-publisher.example.com` (optionally with a path prefix). From configuration only. */
  readonly baseUrl: string;
  /** A PEM CA certificate to trust, for this client only, besides the system's CAs. */
  readonly caCertificate?: string;
  /** Permits an `http://` base URL. For the local simulator only; never for a real CUC. */
  readonly allowInsecureHttp?: boolean;
  readonly timeouts?: CupiTimeouts;
  readonly keepAliveTimeoutMs?: number;
  /** Connections in the pool; the client sets it to its in-flight limit. */
  readonly connections: number;
}

export interface CupiHttpRequest {
  readonly method: "GET" | "PUT";
  /** Path below the base URL, already encoded, e.g. `/vmrest/users?query=…`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface CupiHttpResponse {
  readonly status: number;
  readonly setCookies: readonly string[];
  /** The answer's `Date` header: CUC's clock when it answered. */
  readonly date: string | undefined;
  readonly body: string;
}

/**
 * Owns the connections to one CUC host: TLS trust, keep-alive, timeouts. It sends one request and
 * reports transport failures as `CupiError`s; retries, throttling and sessions live in the client.
 */
export class CupiTransport {
  readonly origin: string;
  readonly #pathPrefix: string;
  readonly #pool: Pool;

  constructor(options: CupiTransportOptions) {
    const url = parseCupiBaseUrl(options.baseUrl, options.allowInsecureHttp === true);
    this.origin = url.origin;
    this.#pathPrefix = url.pathname.replace(/\/+$/, "");
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      allowH2: false,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      keepAliveMaxTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
      connectTimeout: timeouts.connectMs,
      maxResponseSize: MAX_RESPONSE_BYTES,
      connect: {
        rejectUnauthorized: true,
        ...(options.caCertificate === undefined
          ? {}
          : { ca: trustedCertificates(options.caCertificate) }),
      },
    });
  }

  async send(
    request: CupiHttpRequest,
    operation: string,
    signal: AbortSignal,
  ): Promise<CupiHttpResponse> {
    try {
      const response = await this.#pool.request({
        method: request.method,
        path: this.#pathPrefix + request.path,
        headers: request.headers,
        body: request.body ?? null,
        signal,
      });
      const body = await response.body.text();
      const setCookie = response.headers["set-cookie"];
      const setCookies = setCookie === undefined ? [] : [setCookie].flat();
      const date = response.headers.date;
      return {
        status: response.statusCode,
        setCookies,
        date: typeof date === "string" ? date : undefined,
        body,
      };
    } catch (error) {
      throw transportError(error, operation);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  toString(): string {
    return `CupiTransport(${this.origin})`;
  }
}

/** Whether `value` is a PEM certificate Node can trust (the service account's caCertificate). */
export function isPemCertificate(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    new X509Certificate(value);
    return true;
  } catch {
    return false;
  }
}

function requirePem(pem: string): string {
  if (!isPemCertificate(pem)) throw new TypeError("CUPI CA certificate must be a PEM certificate");
  return pem;
}

/**
 * The certificates this client trusts: Node's defaults (bundled roots and NODE_EXTRA_CA_CERTS),
 * plus the private CA that issued the CUC certificate.
 */
function trustedCertificates(caCertificate: string): string[] {
  return [...getCACertificates("default"), requirePem(caCertificate)];
}

/** Failures before the request left this process: CUC cannot have acted on it. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT",
]);

const NETWORK_CODES = new Set([
  "UND_ERR_SOCKET",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** This side's mistakes or a peer that does not speak HTTP: retrying cannot help. */
const CLIENT_BUG_CODES = new Set([
  "UND_ERR_INVALID_ARG",
  "UND_ERR_HEADERS_OVERFLOW",
  "UND_ERR_RES_EXCEEDED_MAX_SIZE",
  "UND_ERR_DESTROYED",
  "UND_ERR_CLOSED",
  "UND_ERR_NOT_SUPPORTED",
]);

function transportError(error: unknown, operation: string): CupiError {
  const code = errorCode(error);
  const details = { operation, cause: error, mayHaveTakenEffect: !NOT_SENT_CODES.has(code) };
  if (isAbort(error)) {
    return new CupiError("abandoned at the deadline", { ...details, kind: "timeout" });
  }
  if (TIMEOUT_CODES.has(code)) {
    return new CupiError(`timed out (${code})`, { ...details, kind: "timeout" });
  }
  if (NETWORK_CODES.has(code)) {
    return new CupiError(`connection failed (${code})`, { ...details, kind: "network" });
  }
  if (isTlsCode(code)) {
    return new CupiError(tlsSummary(code), { ...details, kind: "tls", mayHaveTakenEffect: false });
  }
  if (CLIENT_BUG_CODES.has(code) || code.startsWith("HPE_")) {
    return new CupiError(`CUC's answer could not be used (${code})`, {
      ...details,
      kind: "client-bug",
    });
  }
  // Unknown failures are retried: a message redelivered in vain is safer than one dropped.
  return new CupiError(`connection failed (${code || "unknown error"})`, {
    ...details,
    kind: "network",
  });
}

function isAbort(error: unknown): boolean {
  const name = error instanceof Error ? error.name : "";
  return name === "AbortError" || name === "TimeoutError" || errorCode(error) === "UND_ERR_ABORTED";
}

function errorCode(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined ? "" : errorCode(cause);
}

function isTlsCode(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|EPROTO/.test(code);
}

function tlsSummary(code: string): string {
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `the CUC certificate does not name this host (${code}); use the host name it was issued for`;
  }
  if (code === "CERT_HAS_EXPIRED") {
    return `the CUC certificate has expired (${code}); renew it on CUC, or check this host's clock`;
  }
  if (code === "CERT_NOT_YET_VALID") {
    return `the CUC certificate is not yet valid (${code}); check the clocks of CUC and this host`;
  }
  if (code.startsWith("ERR_SSL") || code === "EPROTO") {
    return `the TLS handshake failed (${code}); is the base URL's port an HTTPS port?`;
  }
  return `the CUC certificate is not trusted (${code}); trust its CA with caCertificate`;
}
