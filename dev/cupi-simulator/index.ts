import { randomBytes } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { listen } from "../listen.ts";
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
  type Fields,
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
  /**
   * What a session cookie no longer valid (expired or invalidated) meets: "reauthenticate" (default)
   * falls back to the Basic header and opens a new session; "reject" answers 401 even with a valid
   * Basic header, so the client must drop its cookies and resend with Basic only.
   */
  staleSessionPolicy?: "reauthenticate" | "reject";
  /** Probability (0..1) of a random fault on a served request. */
  faultRate?: number;
  /** Kinds drawn for random faults; default "503", "500-html" and "drop". */
  faultKinds?: FaultKind[];
  /** Seeds the random faults and latency, so a run can be replayed. */
  seed?: number;
  /**
   * Watches each served request: when it arrives ("received"), once its effect is applied and
   * its answer is ready but not sent ("served"), and once the answer is sent ("answered"). For
   * soaks that kill a client at a chosen point.
   */
  onExchange?: (request: RecordedRequest, stage: ExchangeStage, status?: number) => void;
}

export type ExchangeStage = "received" | "served" | "answered";

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
  /** TLS handshakes completed: new connections over HTTPS (0 over HTTP). */
  tlsHandshakes: number;
  /** Most requests in progress at once, throttled ones not counted. */
  peakConcurrency: number;
  throttled: number;
  /** Credential PUTs CUC took (answered 204): events applied, where each is one PUT. */
  updates: number;
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
  /**
   * CUC goes down (an upgrade, a reboot): open connections are cut and new ones refused until
   * `endOutage`, which listens again on the same address.
   */
  startOutage(): Promise<void>;
  endOutage(): Promise<void>;
  readonly stats: SimulatorStats;
  readonly requests: RecordedRequest[];
  /** The stored state, secret included, for assertions; throws for an unknown objectId. */
  credentialOf(objectId: string, kind: CredentialKind): CredentialSnapshot;
  /** Simulates failed sign-ins (or an administrator lock); only the fields given change. */
  setHackedState(objectId: string, kind: CredentialKind, state: HackedState): void;
  /** An administrator edits an authentication rule (e.g. a longer minimum length). */
  changeRule(
    objectId: string,
    changes: Partial<Omit<SimulatedAuthenticationRule, "objectId">>,
  ): void;
  /**
   * CUC's clocks as its answers show them: TimeChanged written in a time zone
   * `timeChangedZoneMinutes` ahead of UTC (CUC's database time; default 0, UTC), and a `Date`
   * header `dateLagMs` behind the moment of answering (Tomcat reuses a formatted date for up to a
   * second; default 0). Changing the zone is what daylight saving time does to a CUC.
   */
  setClocks(clocks: { timeChangedZoneMinutes?: number; dateLagMs?: number }): void;
  /** A clean slate between tests: zeroes the stats, forgets the recorded requests and drops the
   * injected faults not yet consumed. */
  resetStats(): void;
}

const SESSION_COOKIE = "JSESSIONIDSSO";
const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
const SERVER_BUSY = "Server busy";

/** An answer worked out in full before it is sent, so that an after-apply fault can withhold it. */
interface Reply {
  status: number;
  body?: Body;
  headers?: Record<string, string | string[]>;
}

const UNAUTHORIZED: Reply = {
  status: 401,
  body: tomcatErrorPage(401, "Unauthorized"),
  headers: { "www-authenticate": 'Basic realm="Cisco Unity Connection"' },
};

function serverBusy(mediaType: MediaType): Reply {
  return { status: 503, body: renderError(mediaType, "SERVER_BUSY", SERVER_BUSY) };
}

function internalError(): Reply {
  return { status: 500, body: tomcatErrorPage(500, "Internal Server Error") };
}

function errorReply(status: number, mediaType: MediaType, code: string, message: string): Reply {
  return { status, body: renderError(mediaType, code, message) };
}

/** 200 with the resource, or 404 ErrorDetails when there is none. */
function found(mediaType: MediaType, root: string, fields: Fields | undefined): Reply {
  if (fields === undefined) return errorReply(404, mediaType, "NOT_FOUND", `${root} not found`);
  return { status: 200, body: renderResource(mediaType, root, fields) };
}

type Route =
  | { name: "version" }
  | { name: "users" }
  | { name: "user"; objectId: string }
  | { name: "alternateExtensions"; objectId: string }
  | { name: "credential"; objectId: string; kind: CredentialKind }
  | { name: "rule"; objectId: string };

const ROUTE_METHODS: Record<Route["name"], readonly string[]> = {
  version: ["GET"],
  users: ["GET"],
  user: ["GET"],
  alternateExtensions: ["GET"],
  credential: ["GET", "PUT"],
  rule: ["GET"],
};

function matchRoute(pathname: string): Route | undefined {
  const path = pathname.replace(/\/+$/, "");
  if (path === "/vmrest/version") return { name: "version" };
  if (path === "/vmrest/users") return { name: "users" };
  const user = /^\/vmrest\/users\/([^/]+)$/.exec(path)?.[1];
  if (user !== undefined) return { name: "user", objectId: user.toLowerCase() };
  const alternates = /^\/vmrest\/users\/([^/]+)\/alternateextensions$/.exec(path)?.[1];
  if (alternates !== undefined) {
    return { name: "alternateExtensions", objectId: alternates.toLowerCase() };
  }
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
    tlsHandshakes: 0,
    peakConcurrency: 0,
    throttled: 0,
    updates: 0,
    faults: {
      "503": 0,
      "500-html": 0,
      drop: 0,
      slow: 0,
      "drop-after-apply": 0,
      "slow-after-apply": 0,
    },
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
  readonly #rejectStaleSessions: boolean;
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
  #timeChangedZoneMs = 0;
  #dateLagMs = 0;
  #closed: Promise<void> | undefined;
  readonly #onExchange: CupiSimulatorOptions["onExchange"];

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
    this.#rejectStaleSessions = options.staleSessionPolicy === "reject";
    this.#secure = options.tls !== undefined;
    this.#onExchange = options.onExchange;
    this.#server = options.tls
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, this.#onRequest)
      : createHttpServer(this.#onRequest);
    this.#server.on("secureConnection", () => {
      this.#stats.tlsHandshakes += 1;
    });
  }

  async listen(host: string, port: number): Promise<void> {
    this.#url = `${this.#secure ? "https" : "http"}://${await listen(this.#server, host, port)}`;
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

  startOutage(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#server.close((error) => (error === undefined ? resolve() : reject(error)));
      this.#server.closeAllConnections();
    });
  }

  async endOutage(): Promise<void> {
    const { hostname, port } = new URL(this.#url);
    await listen(this.#server, hostname.replace(/^\[(.*)\]$/, "$1"), Number(port));
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

  changeRule(objectId: string, changes: Partial<Omit<SimulatedAuthenticationRule, "objectId">>) {
    this.#directory.changeRule(objectId, changes);
  }

  setClocks(clocks: { timeChangedZoneMinutes?: number; dateLagMs?: number }): void {
    if (clocks.timeChangedZoneMinutes !== undefined) {
      this.#timeChangedZoneMs = clocks.timeChangedZoneMinutes * 60_000;
    }
    if (clocks.dateLagMs !== undefined) this.#dateLagMs = clocks.dateLagMs;
  }

  resetStats(): void {
    this.#stats = emptyStats();
    this.#requests = [];
    this.#faults.clearInjected();
  }

  readonly #onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.#handle(request, response).catch((error: unknown) => {
      console.error("cupi-simulator: request failed", error);
      this.#send(response, internalError());
    });
  };

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://cupi-simulator");
    const cookies = parseCookies(request.headers.cookie);
    const mediaType = negotiate(request.headers.accept);
    this.#stats.requests += 1;
    const recorded: RecordedRequest = {
      method: request.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      hasBasicAuth: /^basic /i.test(request.headers.authorization ?? ""),
      cookieNames: [...cookies.keys()],
      contentType: request.headers["content-type"],
      accept: request.headers.accept,
    };
    this.#requests.push(recorded);
    this.#onExchange?.(recorded, "received");

    if (this.#inFlight >= this.#maxConcurrent) {
      this.#stats.throttled += 1;
      this.#send(response, serverBusy(mediaType));
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
          this.#send(response, serverBusy(mediaType));
          return;
        case "500-html":
          this.#send(response, internalError());
          return;
        case "slow":
          if (!(await pause(fault.delayMs, abandoned))) return;
          break;
        case "drop-after-apply":
        case "slow-after-apply":
        case undefined:
          break;
      }
      const reply = await this.#serve(request, url, cookies, mediaType);
      if (this.#onExchange !== undefined) {
        const onExchange = this.#onExchange;
        onExchange(recorded, "served", reply.status);
        response.once("finish", () => onExchange(recorded, "answered", reply.status));
      }
      if (fault?.kind === "drop-after-apply") {
        request.socket.destroy();
        return;
      }
      if (fault?.kind === "slow-after-apply" && !(await pause(fault.delayMs, abandoned))) return;
      this.#send(response, reply);
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
    url: URL,
    cookies: Map<string, string>,
    mediaType: MediaType,
  ): Promise<Reply> {
    const setCookie = this.#authenticate(request, cookies);
    if (setCookie === undefined) return UNAUTHORIZED;
    const reply = await this.#route(request, url, mediaType);
    if (setCookie.length === 0) return reply;
    return { ...reply, headers: { ...reply.headers, "set-cookie": setCookie } };
  }

  async #route(request: IncomingMessage, url: URL, mediaType: MediaType): Promise<Reply> {
    const route = matchRoute(url.pathname);
    if (route === undefined) return errorReply(404, mediaType, "NOT_FOUND", "Resource not found");
    const method = request.method ?? "";
    const allowed = ROUTE_METHODS[route.name];
    if (!allowed.includes(method)) {
      return {
        ...errorReply(405, mediaType, "METHOD_NOT_ALLOWED", "Method not allowed"),
        headers: { allow: allowed.join(", ") },
      };
    }

    switch (route.name) {
      case "version":
        return {
          status: 200,
          body: renderResource(mediaType, "VersionInfo", { version: CUC_VERSION }),
        };
      case "users":
        return this.#listUsers(url.searchParams, mediaType);
      case "user": {
        const user = this.#directory.user(route.objectId);
        return found(mediaType, "User", user && this.#directory.userFields(user));
      }
      case "alternateExtensions": {
        const items = this.#directory.alternateExtensionFields(route.objectId);
        if (items === undefined) return errorReply(404, mediaType, "NOT_FOUND", "User not found");
        const body = renderList(
          mediaType,
          "AlternateExtensions",
          "AlternateExtension",
          items.length,
          items,
        );
        return { status: 200, body };
      }
      case "credential":
        if (method === "PUT") {
          return this.#putCredential(request, route.objectId, route.kind, mediaType);
        }
        return found(
          mediaType,
          "Credential",
          this.#directory.credentialFields(route.objectId, route.kind),
        );
      case "rule":
        return found(mediaType, "AuthenticationRule", this.#directory.ruleFields(route.objectId));
    }
  }

  /**
   * Basic must match the account whenever it is sent. A live session cookie saves the fresh
   * authentication; a request without a live cookie needs Basic, and then opens a session. Gives
   * the Set-Cookie lines to send (none for a live session), or undefined when refused.
   */
  #authenticate(request: IncomingMessage, cookies: Map<string, string>): string[] | undefined {
    const authorization = request.headers.authorization;
    if (authorization !== undefined && !this.#isAccount(authorization)) return undefined;
    const sessionId = cookies.get(SESSION_COOKIE);
    if (sessionId !== undefined) {
      if (this.#renewSession(sessionId)) return [];
      if (this.#rejectStaleSessions) return undefined;
    }
    if (authorization === undefined) return undefined;
    this.#stats.freshAuthentications += 1;
    return this.#openSession();
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

  #listUsers(params: URLSearchParams, mediaType: MediaType): Reply {
    const queryText = params.get("query");
    const query = queryText === null ? undefined : parseUserQuery(queryText);
    const pageNumber = pageParameter(params.get("pageNumber"), 1);
    if ((queryText !== null && query === undefined) || pageNumber === undefined) {
      return errorReply(400, mediaType, "INVALID_PARAMETER", "Invalid query");
    }
    // Without a query, every user: all aliases start with "".
    const matches = this.#directory.findUsers(
      query?.column ?? "alias",
      query?.operator ?? "startswith",
      query?.value ?? "",
    );
    const rowsPerPage = pageParameter(params.get("rowsPerPage"), Math.max(matches.length, 1));
    if (rowsPerPage === undefined) {
      return errorReply(400, mediaType, "INVALID_PARAMETER", "Invalid rowsPerPage");
    }
    const page = matches.slice((pageNumber - 1) * rowsPerPage, pageNumber * rowsPerPage);
    const items = page.map((user) => this.#directory.userFields(user));
    return { status: 200, body: renderList(mediaType, "Users", "User", matches.length, items) };
  }

  async #putCredential(
    request: IncomingMessage,
    objectId: string,
    kind: CredentialKind,
    mediaType: MediaType,
  ): Promise<Reply> {
    const bodyType = bodyMediaType(request.headers["content-type"]);
    if (bodyType === undefined) {
      return errorReply(415, mediaType, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type");
    }
    const fields = parseCredentialBody(bodyType, await readText(request));
    if (fields === undefined) {
      return errorReply(400, mediaType, "INVALID_PARAMETER", "Invalid request body");
    }
    const databaseTime = new Date(Date.now() + this.#timeChangedZoneMs);
    const outcome = this.#directory.update(objectId, kind, fields, databaseTime);
    if (outcome.status === 204) {
      this.#stats.updates += 1;
      return { status: 204 };
    }
    return errorReply(outcome.status, mediaType, outcome.code, outcome.message);
  }

  #send(response: ServerResponse, reply: Reply): void {
    if (response.headersSent || response.destroyed) return;
    if (this.#dateLagMs > 0) {
      response.setHeader("date", new Date(Date.now() - this.#dateLagMs).toUTCString());
    }
    const { body } = reply;
    if (body === undefined) {
      response.writeHead(reply.status, reply.headers).end();
      return;
    }
    response.writeHead(reply.status, {
      ...reply.headers,
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
