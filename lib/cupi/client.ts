import { redactSecrets, SecretValue } from "../secrets/secret-value.ts";
import { parseErrorBody } from "./body.ts";
import {
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitPermit,
  circuitBreakerForOrigin,
} from "./circuit-breaker.ts";
import { buildCredentialXml, CredentialXmlError } from "./credential-xml.ts";
import { type CucClock, clockForOrigin } from "./cuc-clock.ts";
import { EndpointCheck } from "./endpoint-check.ts";
import {
  parseAlternateExtensions,
  parseAuthenticationRule,
  parseCredential,
  parseUser,
  parseUserList,
  parseVersion,
  UnexpectedBodyError,
} from "./entities.ts";
import { CupiError, type CupiErrorKind, kindForStatus, RETRIED_IN_CALL } from "./errors.ts";
import { requireAlias, requireObjectId, UnsafeIdentifierError, vmrestPath } from "./identifiers.ts";
import {
  type AdaptiveLimitOptions,
  type ConcurrencyLimiter,
  type LoadSignal,
  limiterForOrigin,
} from "./limiter.ts";
import { DEFAULT_RETRY, type RetryOptions, retryWithBackoff } from "./retry.ts";
import { DEFAULT_SESSION_TTL_MS, SessionCookies } from "./session-cookies.ts";
import { type CupiHttpRequest, CupiTransport, type CupiTransportOptions } from "./transport.ts";
import type {
  AuthenticationRule,
  CredentialKind,
  CredentialState,
  CredentialUpdate,
  CupiAccount,
  CupiUser,
} from "./types.ts";

export interface CupiClientOptions extends Omit<CupiTransportOptions, "connections"> {
  readonly account: CupiAccount;
  /**
   * Most requests in flight at once to this host, for the whole process. Default 2: CUC serves
   * only 5 at once, shared with administrators in its web pages.
   */
  readonly maxInFlight?: number;
  /**
   * Below `maxInFlight`, the limit adapts to CUC's 503s (see `AdaptiveLimitOptions`): it starts at
   * 1, rises while calls succeed, halves on a 503 and pauses on a 503 at 1, so that containers
   * that do not know about each other share CUC without tipping it into 503s. `false` keeps the
   * limit at `maxInFlight`. Shared by every client of the host in the process.
   */
  readonly adaptiveLimit?: AdaptiveLimitOptions | false;
  readonly retry?: RetryOptions;
  /** Deadline for a call whose caller passes none. Default 30 s. */
  readonly defaultCallTimeoutMs?: number;
  /** How long CUC's session cookies are replayed. Default 60 s, as Cisco's own SDK does. */
  readonly sessionTtlMs?: number;
  /** The representation asked for; both are understood whatever the server sends. Default xml. */
  readonly responseFormat?: "xml" | "json";
  /**
   * After a 401, how long the same account is not tried again (calls fail at once with
   * `authentication`). `updateAccount` with other credentials ends it. Default 60 s.
   */
  readonly authenticationCooldownMs?: number;
  /**
   * Shared by every client of this host in the process. After `failureThreshold` (default 5)
   * consecutive `server`, `timeout` or `network` attempts (and `busy` ones when the limit is not
   * adaptive), attempts fail at once with `unavailable`, sending nothing, for `coolDownMs`
   * (default 30 s); then one trial attempt closes it again or re-opens it. Any other answer
   * counts as CUC being up. `false` disables it.
   */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
}

export const DEFAULT_AUTHENTICATION_COOLDOWN_MS = 60_000;

export const DEFAULT_MAX_IN_FLIGHT = 2;
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** The failures that say CUC is down or overloaded; any other answer shows that it is up. */
const CUC_DOWN_KINDS: ReadonlySet<CupiErrorKind> = new Set([
  "busy",
  "server",
  "timeout",
  "network",
]);

export interface CallOptions {
  /** Epoch milliseconds by which the call must be over, retries included (e.g. Lambda's end). */
  readonly deadline?: number;
  readonly signal?: AbortSignal;
}

interface Exchange {
  readonly operation: string;
  readonly request: Omit<CupiHttpRequest, "headers"> & { readonly contentType?: string };
  /** Values sent in this request that must never come back out in an error. */
  readonly secrets?: readonly SecretValue[];
}

/**
 * A client for the parts of CUPI that credential resets need. Every call is bounded by a deadline,
 * retried with full-jitter backoff when CUC is busy or unreachable, and throttled with all other
 * clients of the same host in this process.
 */
export class CupiClient {
  readonly #transport: CupiTransport;
  readonly #limiter: ConcurrencyLimiter;
  readonly #circuitBreaker: CircuitBreaker | undefined;
  readonly #cookies: SessionCookies;
  readonly #retry: Required<RetryOptions>;
  readonly #defaultCallTimeoutMs: number;
  readonly #accept: string;
  readonly #authenticationCooldownMs: number;
  readonly #endpoint = new EndpointCheck();
  readonly #clock: CucClock;
  #username: string;
  #password: SecretValue;
  #authorization: string;
  #rejectedAuthorization: { authorization: string; until: number } | undefined;

  constructor(options: CupiClientOptions) {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#transport = new CupiTransport({ ...options, connections: maxInFlight });
    this.#limiter = limiterForOrigin(
      this.#transport.origin,
      maxInFlight,
      options.adaptiveLimit ?? {},
    );
    this.#circuitBreaker =
      options.circuitBreaker === false
        ? undefined
        : circuitBreakerForOrigin(this.#transport.origin, options.circuitBreaker);
    this.#clock = clockForOrigin(this.#transport.origin);
    this.#cookies = new SessionCookies(options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS);
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#defaultCallTimeoutMs = options.defaultCallTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.#accept = options.responseFormat === "json" ? "application/json" : "application/xml";
    this.#authenticationCooldownMs =
      options.authenticationCooldownMs ?? DEFAULT_AUTHENTICATION_COOLDOWN_MS;
    this.#username = options.account.username;
    this.#password = options.account.password;
    this.#authorization = basicAuthorization(options.account);
  }

  get origin(): string {
    return this.#transport.origin;
  }

  /** The process-wide limiter for this host (for metrics: limit, in flight, peak, queued, 503s). */
  get limiter(): ConcurrencyLimiter {
    return this.#limiter;
  }

  /** The process-wide circuit breaker for this host (for metrics and logs); undefined if disabled. */
  get circuitBreaker(): CircuitBreaker | undefined {
    return this.#circuitBreaker;
  }

  /** CUC's clock as its answers to this process showed it (their `Date` headers). */
  get clock(): CucClock {
    return this.#clock;
  }

  /** Switches to a refreshed service account (after a 401) and drops the old session. */
  updateAccount(account: CupiAccount): void {
    this.#username = account.username;
    this.#password = account.password;
    this.#authorization = basicAuthorization(account);
    this.#cookies.clear();
  }

  /** Health and authentication check: `GET /vmrest/version`. */
  version(call?: CallOptions): Promise<string> {
    return this.#get("version", () => vmrestPath("version"), parseVersion, call);
  }

  /** The one user whose alias is exactly `alias` (case-insensitive, as CUC compares aliases). */
  async findUserByAlias(alias: string, call?: CallOptions): Promise<CupiUser> {
    const operation = "findUserByAlias";
    const { users } = await this.#get(
      operation,
      () =>
        `${vmrestPath("users")}?query=${encodeURIComponent(`(alias is ${requireAlias(alias)})`)}`,
      parseUserList,
      call,
    );
    const matches = users.filter((user) => user.alias.toLowerCase() === alias.toLowerCase());
    if (matches.length === 0) {
      throw new CupiError("no user has this alias", { kind: "not-found", operation });
    }
    if (matches.length > 1) {
      throw new CupiError(`${matches.length} users match this alias exactly`, {
        kind: "ambiguous",
        operation,
      });
    }
    return matches[0] as CupiUser;
  }

  getUser(objectId: string, call?: CallOptions): Promise<CupiUser> {
    return this.#get(
      "getUser",
      () => vmrestPath("users", requireObjectId(objectId)),
      parseUser,
      call,
    );
  }

  /** The user's alternate extensions, which generated PINs must avoid like the primary one. */
  getAlternateExtensions(objectId: string, call?: CallOptions): Promise<string[]> {
    return this.#get(
      "getAlternateExtensions",
      () => vmrestPath("users", requireObjectId(objectId), "alternateextensions"),
      parseAlternateExtensions,
      call,
    );
  }

  getCredential(
    objectId: string,
    kind: CredentialKind,
    call?: CallOptions,
  ): Promise<CredentialState> {
    return this.#get(
      `getCredential(${kind})`,
      () => credentialPath(requireObjectId(objectId), kind),
      parseCredential,
      call,
    );
  }

  /** `PUT /vmrest/users/{objectId}/credential/{pin|password}` with only the fields given. */
  async updateCredential(
    objectId: string,
    kind: CredentialKind,
    update: CredentialUpdate,
    call?: CallOptions,
  ): Promise<void> {
    const operation = `updateCredential(${kind})`;
    const id = guard(operation, () => requireObjectId(objectId));
    const body = guard(operation, () => buildCredentialXml(update));
    await this.#call(
      {
        operation,
        request: {
          method: "PUT",
          path: credentialPath(id, kind),
          body,
          contentType: "application/xml",
        },
        secrets: update.Credentials === undefined ? [] : [update.Credentials],
      },
      call,
    );
  }

  getAuthenticationRule(ruleObjectId: string, call?: CallOptions): Promise<AuthenticationRule> {
    return this.#get(
      "getAuthenticationRule",
      () => vmrestPath("authenticationrules", requireObjectId(ruleObjectId)),
      parseAuthenticationRule,
      call,
    );
  }

  close(): Promise<void> {
    return this.#transport.close();
  }

  toString(): string {
    return `CupiClient(${this.#transport.origin} as ${this.#username})`;
  }

  /** A GET whose path is built (and its identifiers checked) before anything is sent. */
  async #get<T>(
    operation: string,
    path: () => string,
    parse: (body: string) => T,
    call: CallOptions | undefined,
  ): Promise<T> {
    const request = { method: "GET", path: guard(operation, path) } as const;
    const body = await this.#call({ operation, request }, call);
    try {
      return parse(body);
    } catch (error) {
      if (!(error instanceof UnexpectedBodyError)) throw error;
      throw new CupiError(`unreadable response: ${error.message}`, {
        kind: "client-bug",
        operation,
      });
    }
  }

  async #call(exchange: Exchange, call: CallOptions | undefined): Promise<string> {
    const deadline = validDeadline(call?.deadline) ?? Date.now() + this.#defaultCallTimeoutMs;
    // Re-sending a new credential that CUC may already hold would bounce off its history
    // ("Repeat credentials prohibited") and turn a success into a failure; other calls are
    // idempotent.
    const idempotent = exchange.request.method === "GET" || (exchange.secrets ?? []).length === 0;
    let attempts = 0;
    try {
      return await retryWithBackoff(
        {
          options: this.#retry,
          deadline,
          shouldRetry: (error: CupiError) =>
            RETRIED_IN_CALL.has(error.kind) && (idempotent || !error.mayHaveTakenEffect),
          // The adaptive limit paces what CUC's throttle turned away: pausing this host for the
          // whole process, not only this call.
          paced: (error: CupiError) => error.kind === "busy" && this.#limiter.adaptive,
          onDeadline: (attempted, lastError) =>
            new CupiError(
              `stopped at the deadline after ${attempted} attempt(s)${lastError ? `; last error: ${lastError.message}` : ""}`,
              {
                kind: "timeout",
                operation: exchange.operation,
                attempts: attempted,
                mayHaveTakenEffect: lastError?.mayHaveTakenEffect ?? false,
              },
            ),
          ...(call?.signal === undefined ? {} : { signal: call.signal }),
        },
        async ({ attempt, signal }) => {
          for (;;) {
            // Before taking a request slot: the trial this waits for may need it.
            await this.#circuitBreaker?.untilAdmissible(deadline, signal);
            try {
              return await this.#limiter
                .run(
                  () => {
                    // A refused account sends nothing, so it says nothing about CUC: checked first.
                    this.#refuseRejectedAccount(exchange.operation);
                    const permit = this.#admit(exchange.operation);
                    attempts = attempt;
                    return this.#attempt(exchange, signal, permit);
                  },
                  signal,
                  loadSignal,
                )
                .catch((error: unknown) => {
                  if (!signal.aborted || error !== signal.reason) throw error;
                  // The deadline struck while waiting for a free slot: nothing was sent.
                  throw new CupiError("abandoned while waiting for a free request slot", {
                    kind: "timeout",
                    operation: exchange.operation,
                    attempts: Math.max(0, attempt - 1),
                    cause: error,
                  });
                });
            } catch (error) {
              // Another call took the trial between the wait and the slot: wait for its verdict.
              const lostTheTrial =
                error instanceof CupiError &&
                error.kind === "unavailable" &&
                !signal.aborted &&
                this.#circuitBreaker?.mayAdmitBefore(deadline) === true;
              if (!lostTheTrial) throw error;
            }
          }
        },
      );
    } catch (error) {
      if (!(error instanceof CupiError)) throw error;
      const counted = error.withAttempts(Math.max(attempts, error.attempts));
      if (counted.kind !== "not-found" || counted.status !== 404) throw counted;
      throw await this.#endpoint.explain(counted, () =>
        this.version({ deadline, ...(call?.signal === undefined ? {} : { signal: call.signal }) }),
      );
    }
  }

  /** The circuit breaker's permit for one attempt; fails at once, sending nothing, when open. */
  #admit(operation: string): CircuitPermit | undefined {
    const breaker = this.#circuitBreaker;
    if (breaker === undefined) return undefined;
    const permit = breaker.admit();
    if (permit !== undefined) return permit;
    // Past its cool-down, the circuit stays open until the trial request in flight succeeds.
    const { openUntil } = breaker.snapshot();
    const until =
      openUntil === undefined ? "its trial request succeeds" : new Date(openUntil).toISOString();
    throw new CupiError(
      `circuit breaker open for ${this.#transport.origin} until ${until} after repeated transient failures; nothing sent`,
      { kind: "unavailable", operation, attempts: 0 },
    );
  }

  /** Runs one attempt, giving the circuit breaker its verdict. */
  async #attempt(
    exchange: Exchange,
    signal: AbortSignal,
    permit: CircuitPermit | undefined,
  ): Promise<string> {
    try {
      const body = await this.#exchangeWithSession(exchange, signal);
      permit?.succeeded();
      return body;
    } catch (error) {
      if (!(error instanceof CupiError)) permit?.abandoned();
      // With an adaptive limit, 503s are its business: they pause sending, and a CUC that sheds
      // load is up. Without one, a run of 503s is what opens the circuit.
      else if (error.kind === "busy" && this.#limiter.adaptive) permit?.abandoned();
      else if (!CUC_DOWN_KINDS.has(error.kind)) permit?.succeeded();
      // Cut short by the caller's deadline or signal: no sign that CUC is down.
      else if (signal.aborted) permit?.abandoned();
      else permit?.failed();
      throw error;
    }
  }

  /** One attempt. A 401 with a replayed session is retried once without it: sessions expire. */
  async #exchangeWithSession(exchange: Exchange, signal: AbortSignal): Promise<string> {
    const sentCookies = this.#cookies.header() !== undefined;
    const response = await this.#exchange(exchange, signal);
    if (response.status === 401 && sentCookies) {
      this.#cookies.clear();
      return this.#result(exchange, await this.#exchange(exchange, signal));
    }
    return this.#result(exchange, response);
  }

  async #exchange(exchange: Exchange, signal: AbortSignal) {
    const { contentType, ...request } = exchange.request;
    const cookie = this.#cookies.header();
    const response = await this.#transport.send(
      {
        ...request,
        headers: {
          authorization: this.#authorization,
          accept: this.#accept,
          ...(contentType === undefined ? {} : { "content-type": contentType }),
          ...(cookie === undefined ? {} : { cookie }),
        },
      },
      exchange.operation,
      signal,
    );
    this.#cookies.remember(response.setCookies);
    this.#clock.observe(response.date);
    return response;
  }

  /**
   * After CUC refused the service account, further logins with it are not sent for a while:
   * repeated 401s can lock the account out, for every help desk tool that shares it.
   */
  #refuseRejectedAccount(operation: string): void {
    const rejection = this.#rejectedAuthorization;
    if (rejection === undefined || rejection.authorization !== this.#authorization) return;
    if (Date.now() >= rejection.until) {
      this.#rejectedAuthorization = undefined;
      return;
    }
    throw new CupiError("the service account was refused recently; not retrying it yet", {
      kind: "authentication",
      operation,
      status: 401,
    });
  }

  #result(exchange: Exchange, response: { status: number; body: string }): string {
    const { status, body } = response;
    if (status >= 200 && status < 300) return body;
    const sentCookies = this.#cookies.values();
    const operation = exchange.operation;
    if (status >= 300 && status < 400) {
      throw new CupiError(`refused to follow a ${status} redirect`, {
        kind: "client-bug",
        operation,
        status,
      });
    }
    if (status === 401) {
      this.#cookies.clear();
      this.#rejectedAuthorization = {
        authorization: this.#authorization,
        until: Date.now() + this.#authenticationCooldownMs,
      };
    }
    // Whatever this request carried may come back quoted: the new value, the service password,
    // the Authorization header and the session cookies. Redacted in the raw body (any escaping)
    // and again in the decoded message before it is clipped.
    const secrets = [
      ...(exchange.secrets ?? []),
      this.#password,
      new SecretValue(this.#authorization),
      new SecretValue(this.#authorization.replace(/^Basic /, "")),
      ...sentCookies.map((value) => new SecretValue(value)),
    ];
    const scrub = (text: string) => redactSecrets(text, secrets, { xmlEscaped: true });
    const parsed = parseErrorBody(scrub(body), scrub);
    const cupiMessage = parsed.message;
    const kind = kindForStatus(status, cupiMessage);
    throw new CupiError(`HTTP ${status}${cupiMessage === undefined ? "" : `: ${cupiMessage}`}`, {
      kind,
      operation,
      status,
      // A 503 is CUC's throttle turning the request away; a 500 may come after it acted.
      mayHaveTakenEffect: status >= 500 && status !== 503,
      ...(parsed.code === undefined ? {} : { cupiCode: parsed.code }),
      ...(cupiMessage === undefined ? {} : { cupiMessage }),
    });
  }
}

/** What an attempt's outcome tells the adaptive limit: a 503 is CUC's throttle at work. */
function loadSignal(outcome: { error: unknown } | { value: unknown }): LoadSignal {
  if ("value" in outcome) return "served";
  const { error } = outcome;
  if (!(error instanceof CupiError)) return "neutral";
  if (error.kind === "busy") return "throttled";
  // Any other answer from CUC (a 404, a 400) was served; a timeout or a dropped connection says
  // nothing certain about the throttle.
  return error.status === undefined ? "neutral" : "served";
}

/** Deadlines are epoch milliseconds; a small number is a duration passed by mistake. */
function validDeadline(deadline: number | undefined): number | undefined {
  if (deadline === undefined) return undefined;
  if (!Number.isFinite(deadline) || deadline < 1e12) {
    throw new RangeError("deadline must be epoch milliseconds, e.g. Date.now() + remaining time");
  }
  return deadline;
}

function credentialPath(objectId: string, kind: CredentialKind): string {
  return vmrestPath("users", objectId, "credential", kind);
}

function basicAuthorization(account: CupiAccount): string {
  if (account.username === "" || account.username.includes(":")) {
    throw new TypeError("CUPI username must be non-empty and contain no colon");
  }
  const token = Buffer.from(`${account.username}:${account.password.reveal()}`, "utf8");
  return `Basic ${token.toString("base64")}`;
}

/** Runs an input check, turning its failure into a permanent `invalid-input` error. */
function guard<T>(operation: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof UnsafeIdentifierError || error instanceof CredentialXmlError) {
      throw new CupiError(error.message, { kind: "invalid-input", operation });
    }
    throw error;
  }
}
