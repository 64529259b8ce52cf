import { randomBytes } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type CredentialKind,
  type CredentialSnapshot,
  Directory,
  type HackedState,
  type SimulatedAuthenticationRule,
  type SimulatedUser,
} from "./directory.ts";
import {
  DEFAULT_RANDOM_FAULT_KINDS,
  type FaultKind,
  FaultPlan,
  type FaultSpec,
  seededRandom,
} from "./faults.ts";
import {
  type Body,
  bodyMediaType,
  type MediaType,
  negotiate,
  parseCredentialBody,
  renderError,
  renderList,
  renderResource,
  tomcatErrorPage,
} from "./wire.ts";

export {
  type CredentialKind,
  type CredentialSnapshot,
  DEFAULT_PASSWORD_RULE_ID,
  DEFAULT_PIN_RULE_ID,
  DEFAULT_RULES,
  type HackedState,
  type SimulatedAuthenticationRule,
  type SimulatedUser,
} from "./directory.ts";
export { DEFAULT_SLOW_DELAY_MS, type FaultKind, type FaultSpec } from "./faults.ts";

export const CUC_VERSION = "15.0.1.10000-10";

export interface CupiSimulatorOptions {
  users: SimulatedUser[];
  /** Added to (or, by objectId, replacing) DEFAULT_RULES. */
  rules?: SimulatedAuthenticationRule[];
  /** HTTPS when given, else HTTP. */
  tls?: { key: string; cert: string };
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** The API account, checked with HTTP Basic. */
  account: { username: string; password: string };
  /** Requests served at once (default 5, as CUC); one more is answered 503 "Server busy". */
  maxConcurrent?: number;
  /** Added to every served request. */
  latencyMs?: number | { min: number; max: number };
  /** Idle lifetime of a session cookie; default 30 minutes. */
  sessionTtlMs?: number;
  /** Probability (0..1) of a random fault on a served request. */
  faultRate?: number;
  /** Kinds drawn for random faults; default "503", "500-html" and "drop". */
  faultKinds?: FaultKind[];
  /** Seeds the random faults and latency, so a run can be replayed. */
  seed?: number;
}

/** What a request carried, minus anything secret: no Authorization value, no body, no cookie value. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  hasBasicAuth: boolean;
  cookieNames: string[];
  contentType: string | undefined;
  accept: string | undefined;
}

export interface SimulatorStats {
  requests: number;
  freshAuthentications: number;
  /** Most requests in progress at once, throttled ones not counted. */
  peakConcurrency: number;
  throttled: number;
  faults: Record<FaultKind, number>;
}

export interface CupiSimulator {
  /** For example https://127.0.0.1:41234 */
  readonly url: string;
  close(): Promise<void>;
  /** Faults for the next served requests, one each, in order, ahead of any random fault. */
  injectFaults(...faults: FaultSpec[]): void;
  /** Makes every session cookie issued so far invalid. */
  invalidateSessions(): void;
  readonly stats: SimulatorStats;
  readonly requests: RecordedRequest[];
  /** The stored state, secret included, for assertions; throws for an unknown objectId. */
  credentialOf(objectId: string, kind: CredentialKind): CredentialSnapshot;
  /** Simulates failed sign-ins (or an administrator lock); only the fields given change. */
  setHackedState(objectId: string, kind: CredentialKind, state: HackedState): void;
  /** A clean slate between tests: zeroes the stats, forgets the recorded requests and drops the
   * injected faults not yet consumed. */
  resetStats(): void;
}

const SESSION_COOKIE = "JSESSIONIDSSO";
const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
const SERVER_BUSY = "Server busy";

type Route =
  | { name: "version" }
  | { name: "users" }
  | { name: "user"; objectId: string }
  | { name: "credential"; objectId: string; kind: CredentialKind }
  | { name: "rule"; objectId: string };

const ROUTE_METHODS: Record<Route["name"], readonly string[]> = {
  version: ["GET"],
  users: ["GET"],
  user: ["GET"],
  credential: ["GET", "PUT"],
  rule: ["GET"],
};

function matchRoute(pathname: string): Route | undefined {
  const path = pathname.replace(/\/+$/, "");
  if (path === "/vmrest/version") return { name: "version" };
  if (path === "/vmrest/users") return { name: "users" };
  const user = /^\/vmrest\/users\/([^/]+)$/.exec(path)?.[1];
  if (user !== undefined) return { name: "user", objectId: user.toLowerCase() };
  const credential = /^\/vmrest\/users\/([^/]+)\/credential\/(pin|password)$/.exec(path);
  if (credential?.[1] !== undefined) {
    const kind = credential[2] === "pin" ? "pin" : "password";
    return { name: "credential", objectId: credential[1].toLowerCase(), kind };
  }
  const rule = /^\/vmrest\/authenticationrules\/([^/]+)$/.exec(path)?.[1];
  if (rule !== undefined) return { name: "rule", objectId: rule.toLowerCase() };
  return undefined;
}

interface UserQuery {
  column: "alias" | "objectid";
  operator: "is" | "startswith";
  value: string;
}

/** `(alias is jsmith)`, `(objectid startswith 0a1b)`: one column, one operator, one value. */
function parseUserQuery(query: string): UserQuery | undefined {
  const match = /^\(\s*(\w+)\s+(\w+)\s+(.+?)\s*\)$/.exec(query);
  const column = match?.[1]?.toLowerCase();
  const operator = match?.[2]?.toLowerCase();
  const value = match?.[3];
  if (column !== "alias" && column !== "objectid") return undefined;
  if (operator !== "is" && operator !== "startswith") return undefined;
  return value === undefined ? undefined : { column, operator, value };
}

/** A page parameter: absent gives the fallback, anything but a positive integer gives undefined. */
function pageParameter(text: string | null, fallback: number): number | undefined {
  if (text === null) return fallback;
  return /^[1-9]\d*$/.test(text) ? Number(text) : undefined;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of header?.split(";") ?? []) {
    const separator = pair.indexOf("=");
    if (separator > 0)
      cookies.set(pair.slice(0, separator).trim(), pair.slice(separator + 1).trim());
  }
  return cookies;
}

function sessionToken(): string {
  return randomBytes(16).toString("hex").toUpperCase();
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Waits unless the client leaves or the simulator closes first; tells whether to carry on. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms > 0) {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      return false;
    }
  }
  return !signal.aborted;
}

function emptyStats(): SimulatorStats {
  return {
    requests: 0,
    freshAuthentications: 0,
    peakConcurrency: 0,
    throttled: 0,
    faults: { "503": 0, "500-html": 0, drop: 0, slow: 0 },
  };
}

class SimulatorServer implements CupiSimulator {
  readonly #directory: Directory;
  readonly #faults: FaultPlan;
  readonly #latencyRandom: () => number;
  readonly #latencyMs: number | { min: number; max: number };
  readonly #account: string;
  readonly #maxConcurrent: number;
  readonly #sessionTtlMs: number;
  readonly #secure: boolean;
  readonly #server: Server;
  /** Aborted by close(), to cut short latency and slow faults still waiting. */
  readonly #closing = new AbortController();
  /** Session cookie value → expiry time. */
  readonly #sessions = new Map<string, number>();
  #stats = emptyStats();
  #requests: RecordedRequest[] = [];
  #inFlight = 0;
  #url = "";
  #closed: Promise<void> | undefined;

  constructor(options: CupiSimulatorOptions) {
    const maxConcurrent = options.maxConcurrent ?? 5;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError("maxConcurrent must be a positive integer");
    }
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.#directory = new Directory(options.users, options.rules ?? [], new Date());
    this.#faults = new FaultPlan(
      options.faultRate ?? 0,
      options.faultKinds ?? DEFAULT_RANDOM_FAULT_KINDS,
      seededRandom(seed),
    );
    this.#latencyRandom = seededRandom(seed + 1);
    this.#latencyMs = options.latencyMs ?? 0;
    this.#account = `${options.account.username}:${options.account.password}`;
    this.#maxConcurrent = maxConcurrent;
    this.#sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
    this.#secure = options.tls !== undefined;
    this.#server = options.tls
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, this.#onRequest)
      : createHttpServer(this.#onRequest);
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("not listening on TCP");
    const hostname = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.#url = `${this.#secure ? "https" : "http"}://${hostname}:${address.port}`;
  }

  get url(): string {
    return this.#url;
  }

  get stats(): SimulatorStats {
    return { ...this.#stats, faults: { ...this.#stats.faults } };
  }

  get requests(): RecordedRequest[] {
    return [...this.#requests];
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve, reject) => {
      this.#closing.abort();
      this.#server.close((error) => (error === undefined ? resolve() : reject(error)));
      // Keep-alive sockets and stalled requests would otherwise hold close() open.
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }

  injectFaults(...faults: FaultSpec[]): void {
    this.#faults.inject(faults);
  }

  invalidateSessions(): void {
    this.#sessions.clear();
  }

  credentialOf(objectId: string, kind: CredentialKind): CredentialSnapshot {
    return this.#directory.snapshot(objectId, kind);
  }

  setHackedState(objectId: string, kind: CredentialKind, state: HackedState): void {
    this.#directory.setHackedState(objectId, kind, state);
  }

  resetStats(): void {
    this.#stats = emptyStats();
    this.#requests = [];
    this.#faults.clearInjected();
  }

  readonly #onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.#handle(request, response).catch((error: unknown) => {
      console.error("cupi-simulator: request failed", error);
      this.#send(response, 500, tomcatErrorPage(500, "Internal Server Error"));
    });
  };

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://cupi-simulator");
    const cookies = parseCookies(request.headers.cookie);
    const mediaType = negotiate(request.headers.accept);
    this.#stats.requests += 1;
    this.#requests.push({
      method: request.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      hasBasicAuth: /^basic /i.test(request.headers.authorization ?? ""),
      cookieNames: [...cookies.keys()],
      contentType: request.headers["content-type"],
      accept: request.headers.accept,
    });

    if (this.#inFlight >= this.#maxConcurrent) {
      this.#stats.throttled += 1;
      this.#send(response, 503, renderError(mediaType, "SERVER_BUSY", SERVER_BUSY));
      return;
    }
    this.#inFlight += 1;
    this.#stats.peakConcurrency = Math.max(this.#stats.peakConcurrency, this.#inFlight);
    const disconnected = new AbortController();
    response.once("close", () => disconnected.abort());
    const abandoned = AbortSignal.any([disconnected.signal, this.#closing.signal]);
    try {
      if (!(await pause(this.#latency(), abandoned))) return;
      const fault = this.#faults.next();
      if (fault !== undefined) this.#stats.faults[fault.kind] += 1;
      switch (fault?.kind) {
        case "drop":
          request.socket.destroy();
          return;
        case "503":
          this.#send(response, 503, renderError(mediaType, "SERVER_BUSY", SERVER_BUSY));
          return;
        case "500-html":
          this.#send(response, 500, tomcatErrorPage(500, "Internal Server Error"));
          return;
        case "slow":
          if (!(await pause(fault.delayMs, abandoned))) return;
          break;
        case undefined:
          break;
      }
      await this.#serve(request, response, url, cookies, mediaType);
    } finally {
      this.#inFlight -= 1;
    }
  }

  #latency(): number {
    const latency = this.#latencyMs;
    if (typeof latency === "number") return latency;
    return latency.min + this.#latencyRandom() * (latency.max - latency.min);
  }

  async #serve(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    cookies: Map<string, string>,
    mediaType: MediaType,
  ): Promise<void> {
    if (!this.#authenticate(request, response, cookies)) {
      this.#send(response, 401, tomcatErrorPage(401, "Unauthorized"), {
        "www-authenticate": 'Basic realm="Cisco Unity Connection"',
      });
      return;
    }
    const route = matchRoute(url.pathname);
    if (route === undefined) {
      this.#send(response, 404, renderError(mediaType, "NOT_FOUND", "Resource not found"));
      return;
    }
    const method = request.method ?? "";
    const allowed = ROUTE_METHODS[route.name];
    if (!allowed.includes(method)) {
      this.#send(
        response,
        405,
        renderError(mediaType, "METHOD_NOT_ALLOWED", "Method not allowed"),
        {
          allow: allowed.join(", "),
        },
      );
      return;
    }

    switch (route.name) {
      case "version":
        this.#send(
          response,
          200,
          renderResource(mediaType, "VersionInfo", { version: CUC_VERSION }),
        );
        return;
      case "users":
        this.#listUsers(response, url.searchParams, mediaType);
        return;
      case "user": {
        const user = this.#directory.user(route.objectId);
        this.#sendFound(response, mediaType, "User", user && this.#directory.userFields(user));
        return;
      }
      case "credential":
        if (method === "PUT") {
          await this.#putCredential(request, response, route.objectId, route.kind, mediaType);
        } else {
          const fields = this.#directory.credentialFields(route.objectId, route.kind);
          this.#sendFound(response, mediaType, "Credential", fields);
        }
        return;
      case "rule":
        this.#sendFound(
          response,
          mediaType,
          "AuthenticationRule",
          this.#directory.ruleFields(route.objectId),
        );
        return;
    }
  }

  /**
   * Basic must match the account whenever it is sent. A live session cookie saves the fresh
   * authentication; a request without a live cookie needs Basic, and then opens a session.
   */
  #authenticate(
    request: IncomingMessage,
    response: ServerResponse,
    cookies: Map<string, string>,
  ): boolean {
    const authorization = request.headers.authorization;
    if (authorization !== undefined && !this.#isAccount(authorization)) return false;
    const sessionId = cookies.get(SESSION_COOKIE);
    if (sessionId !== undefined && this.#renewSession(sessionId)) return true;
    if (authorization === undefined) return false;
    this.#stats.freshAuthentications += 1;
    response.setHeader("set-cookie", this.#openSession());
    return true;
  }

  #isAccount(authorization: string): boolean {
    const token = /^basic\s+(\S+)$/i.exec(authorization)?.[1];
    return token !== undefined && Buffer.from(token, "base64").toString("utf8") === this.#account;
  }

  #renewSession(sessionId: string): boolean {
    const now = Date.now();
    const expiresAt = this.#sessions.get(sessionId);
    if (expiresAt === undefined || expiresAt <= now) return false;
    this.#sessions.set(sessionId, now + this.#sessionTtlMs);
    return true;
  }

  #openSession(): string[] {
    const now = Date.now();
    for (const [sessionId, expiresAt] of this.#sessions) {
      if (expiresAt <= now) this.#sessions.delete(sessionId);
    }
    const sessionId = sessionToken();
    this.#sessions.set(sessionId, now + this.#sessionTtlMs);
    const attributes = `; Path=/vmrest${this.#secure ? "; Secure" : ""}; HttpOnly`;
    return [
      `${SESSION_COOKIE}=${sessionId}${attributes}`,
      `JSESSIONID=${sessionToken()}${attributes}`,
      `REQUEST_TOKEN_KEY=${sessionToken()}${attributes}`,
    ];
  }

  #listUsers(response: ServerResponse, params: URLSearchParams, mediaType: MediaType): void {
    const queryText = params.get("query");
    const query = queryText === null ? undefined : parseUserQuery(queryText);
    const pageNumber = pageParameter(params.get("pageNumber"), 1);
    if ((queryText !== null && query === undefined) || pageNumber === undefined) {
      this.#send(response, 400, renderError(mediaType, "INVALID_PARAMETER", "Invalid query"));
      return;
    }
    // Without a query, every user: all aliases start with "".
    const matches = this.#directory.findUsers(
      query?.column ?? "alias",
      query?.operator ?? "startswith",
      query?.value ?? "",
    );
    const rowsPerPage = pageParameter(params.get("rowsPerPage"), Math.max(matches.length, 1));
    if (rowsPerPage === undefined) {
      this.#send(response, 400, renderError(mediaType, "INVALID_PARAMETER", "Invalid rowsPerPage"));
      return;
    }
    const page = matches.slice((pageNumber - 1) * rowsPerPage, pageNumber * rowsPerPage);
    const items = page.map((user) => this.#directory.userFields(user));
    this.#send(response, 200, renderList(mediaType, "Users", "User", matches.length, items));
  }

  async #putCredential(
    request: IncomingMessage,
    response: ServerResponse,
    objectId: string,
    kind: CredentialKind,
    mediaType: MediaType,
  ): Promise<void> {
    const bodyType = bodyMediaType(request.headers["content-type"]);
    if (bodyType === undefined) {
      this.#send(
        response,
        415,
        renderError(mediaType, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"),
      );
      return;
    }
    const fields = parseCredentialBody(bodyType, await readText(request));
    if (fields === undefined) {
      this.#send(
        response,
        400,
        renderError(mediaType, "INVALID_PARAMETER", "Invalid request body"),
      );
      return;
    }
    const outcome = this.#directory.update(objectId, kind, fields, new Date());
    if (outcome.status === 204) {
      response.writeHead(204).end();
      return;
    }
    this.#send(response, outcome.status, renderError(mediaType, outcome.code, outcome.message));
  }

  #sendFound(
    response: ServerResponse,
    mediaType: MediaType,
    root: string,
    fields: Record<string, string> | undefined,
  ): void {
    if (fields === undefined) {
      this.#send(response, 404, renderError(mediaType, "NOT_FOUND", `${root} not found`));
    } else {
      this.#send(response, 200, renderResource(mediaType, root, fields));
    }
  }

  #send(
    response: ServerResponse,
    status: number,
    body: Body,
    headers: Record<string, string> = {},
  ): void {
    if (response.headersSent || response.destroyed) return;
    response.writeHead(status, {
      ...headers,
      "content-type": body.contentType,
      "content-length": Buffer.byteLength(body.text),
    });
    response.end(body.text);
  }
}

export async function createCupiSimulator(options: CupiSimulatorOptions): Promise<CupiSimulator> {
  const simulator = new SimulatorServer(options);
  await simulator.listen(options.host ?? "127.0.0.1", options.port ?? 0);
  return simulator;
}
