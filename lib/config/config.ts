import { CupiBaseUrlError, parseCupiBaseUrl } from "../cupi/base-url.ts";
import { ACTIONS, type Action, isAction, isClusterName } from "../events/contract.ts";
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from "../redelivery/backoff.ts";
import { secretName } from "../secrets/secret-name.ts";

/** One CUC cluster: where its publisher answers and which secret holds the service account. */
export interface ClusterConfig {
  readonly name: string;
  readonly baseUrl: string;
  /** Secrets Manager secret: JSON `{"username","password","caCertificate"?}`. */
  readonly secretId: string;
}

export interface ServiceConfig {
  /** The cluster used when an event names none (from CUPI_BASE_URL and CUPI_SECRET_ID). */
  readonly defaultCluster: ClusterConfig | undefined;
  /** Named clusters from CUPI_CLUSTERS, selected by an event's `cluster`. */
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  readonly dlqUrl: string;
  /** ALLOWED_ACTIONS (comma-separated); default: every action. */
  readonly allowedActions: ReadonlySet<Action>;
  /**
   * AUTHORIZATION_POLICY_PATH: the authorization policy file (which source may request which
   * action, protected accounts); unset: config/authorization-policy.json, built into the bundle.
   */
  readonly authorizationPolicyPath: string | undefined;
  /** RESET_SECRET_PREFIX: `newCredential.secretId` must start with it; unset: any name. */
  readonly resetSecretPrefix: string | undefined;
  /** The service-account secrets' names (default and clusters): never a source of new values. */
  readonly serviceAccountSecretNames: ReadonlySet<string>;
  /** DELIVERY_SECRET_PREFIX: `deliverTo` secrets must start with it; unset means no delivery. */
  readonly deliverySecretPrefix: string | undefined;
  /**
   * CUPI_MAX_IN_FLIGHT: the most requests in flight per CUC host per container; the adaptive
   * limit stays at or below it. Default 2.
   */
  readonly cupiMaxInFlight: number;
  /**
   * CUPI_ADAPTIVE_LIMIT=off keeps CUPI_MAX_IN_FLIGHT fixed (503s then count as failures for the
   * circuit breaker); otherwise the limit adapts to CUC's 503s below it, pausing up to
   * CUPI_MAX_PAUSE_MS (default 20 s) when even one request is too many, and remembering a 503
   * for CUPI_CONTENTION_MEMORY_MS (default 30 s; see docs/performance.md).
   */
  readonly cupiAdaptiveLimit:
    | { readonly maxPauseMs: number; readonly contentionMemoryMs: number }
    | false;
  /**
   * RECORD_CONCURRENCY: records of a batch processed at once. Default twice CUPI_MAX_IN_FLIGHT,
   * so that while one record waits on DynamoDB or Secrets Manager another has a CUPI request
   * ready: CUC's slots stay busy without more requests in flight.
   */
  readonly recordConcurrency: number;
  /** CUPI_ALLOW_INSECURE_HTTP=true permits http:// (the local simulator only). */
  readonly allowInsecureHttp: boolean;
  /**
   * CIRCUIT_BREAKER_FAILURES / CIRCUIT_BREAKER_COOLDOWN_MS: after this many transient failures in
   * a row against a CUC host, stop calling it for the cool-down. Defaults 5 and 30 s.
   */
  readonly circuitBreaker: { readonly failureThreshold: number; readonly coolDownMs: number };
  /** CUPI_CONNECT_TIMEOUT_MS / CUPI_HEADERS_TIMEOUT_MS / CUPI_BODY_TIMEOUT_MS: 5, 10, 10 s. */
  readonly cupiTimeouts: {
    readonly connectMs: number;
    readonly headersMs: number;
    readonly bodyMs: number;
  };
  /** SERVICE_SECRET_CACHE_SECONDS: how long the service account is reused. Default 300. */
  readonly serviceSecretCacheSeconds: number;
  /** RECORD_MIN_TIME_MS: a record is not started with less Lambda time left. Default 10 s. */
  readonly recordMinTimeMs: number;
  /** RECORD_TIMEOUT_MS: the most time one record may take. Default 20 s. */
  readonly recordTimeoutMs: number;
  /** DEADLINE_SAFETY_MS: work stops this long before Lambda's own timeout. Default 2 s. */
  readonly deadlineSafetyMs: number;
  /**
   * STATE_TABLE: DynamoDB table for idempotency records and ordering watermarks. Unset: both
   * are off (local experiments only; every deployment sets it).
   */
  readonly stateTable: string | undefined;
  /** IDEMPOTENCY_EXPIRY_SECONDS: how long an applied eventId is remembered. Default 7 days. */
  readonly idempotencyExpirySeconds: number;
  /**
   * RETRY_BASE_DELAY_SECONDS / RETRY_MAX_DELAY_SECONDS: a record that failed transiently is
   * hidden for a backoff doubling from the base per receive up to the maximum (defaults 30 s and
   * 15 minutes; the maximum at most SQS's 12 hours).
   */
  readonly retryBackoff: RetryBackoff;
  /**
   * CUPI_LOST_ANSWER_BASELINE: what a PUT whose answer was lost is settled against. "clock" (the
   * default): CUC's own clock, from its answers' `Date` header, costing no request when sound, else
   * a TimeChanged read; "timechanged": always a TimeChanged read before the PUT (one CUC request
   * more per new value), e.g. for a CUC whose API answers from nodes whose clocks disagree.
   */
  readonly lostAnswerBaseline: "clock" | "timechanged";
  /**
   * OUTCOME_EVENT_BUS: the EventBridge bus (a name or an ARN) each settled record's outcome is
   * published to. Unset: no outcome events.
   */
  readonly outcomeEventBus: string | undefined;
}

export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

/** How long an applied eventId is remembered unless IDEMPOTENCY_EXPIRY_SECONDS says otherwise. */
export const DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS = 7 * 24 * 3600;

/** Reads and checks the configuration once, at cold start: a bad value stops the function there. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ServiceConfig {
  const allowInsecureHttp = booleanFlag("CUPI_ALLOW_INSECURE_HTTP", env.CUPI_ALLOW_INSECURE_HTTP);
  const clusters = parseClusters(env.CUPI_CLUSTERS, allowInsecureHttp);
  const baseUrl = nonEmpty(env.CUPI_BASE_URL);
  const secretId = nonEmpty(env.CUPI_SECRET_ID);
  if ((baseUrl === undefined) !== (secretId === undefined)) {
    throw new ConfigurationError("CUPI_BASE_URL and CUPI_SECRET_ID must be set together");
  }
  if (baseUrl === undefined && clusters.size === 0) {
    throw new ConfigurationError("set CUPI_BASE_URL and CUPI_SECRET_ID, or CUPI_CLUSTERS");
  }
  const dlqUrl = queueUrl("DLQ_URL", env.DLQ_URL);
  const cupiMaxInFlight = positiveInteger("CUPI_MAX_IN_FLIGHT", env.CUPI_MAX_IN_FLIGHT, 2);
  return {
    defaultCluster:
      baseUrl === undefined || secretId === undefined
        ? undefined
        : {
            name: "default",
            baseUrl: cupiBaseUrl("CUPI_BASE_URL", baseUrl, allowInsecureHttp),
            secretId,
          },
    clusters,
    dlqUrl,
    outcomeEventBus: eventBus(env.OUTCOME_EVENT_BUS),
    allowedActions: parseActions(env.ALLOWED_ACTIONS),
    authorizationPolicyPath: nonEmpty(env.AUTHORIZATION_POLICY_PATH),
    resetSecretPrefix: nonEmpty(env.RESET_SECRET_PREFIX),
    serviceAccountSecretNames: new Set(
      [secretId, ...[...clusters.values()].map((cluster) => cluster.secretId)]
        .filter((name): name is string => name !== undefined)
        .map(secretName),
    ),
    deliverySecretPrefix: nonEmpty(env.DELIVERY_SECRET_PREFIX),
    cupiMaxInFlight,
    cupiAdaptiveLimit: adaptiveLimit(env),
    recordConcurrency: positiveInteger(
      "RECORD_CONCURRENCY",
      env.RECORD_CONCURRENCY,
      2 * cupiMaxInFlight,
    ),
    allowInsecureHttp,
    cupiTimeouts: {
      connectMs: positiveInteger("CUPI_CONNECT_TIMEOUT_MS", env.CUPI_CONNECT_TIMEOUT_MS, 5_000),
      headersMs: positiveInteger("CUPI_HEADERS_TIMEOUT_MS", env.CUPI_HEADERS_TIMEOUT_MS, 10_000),
      bodyMs: positiveInteger("CUPI_BODY_TIMEOUT_MS", env.CUPI_BODY_TIMEOUT_MS, 10_000),
    },
    circuitBreaker: {
      failureThreshold: positiveInteger(
        "CIRCUIT_BREAKER_FAILURES",
        env.CIRCUIT_BREAKER_FAILURES,
        5,
      ),
      coolDownMs: positiveInteger(
        "CIRCUIT_BREAKER_COOLDOWN_MS",
        env.CIRCUIT_BREAKER_COOLDOWN_MS,
        30_000,
      ),
    },
    serviceSecretCacheSeconds: positiveInteger(
      "SERVICE_SECRET_CACHE_SECONDS",
      env.SERVICE_SECRET_CACHE_SECONDS,
      300,
    ),
    recordMinTimeMs: positiveInteger("RECORD_MIN_TIME_MS", env.RECORD_MIN_TIME_MS, 10_000),
    recordTimeoutMs: positiveInteger("RECORD_TIMEOUT_MS", env.RECORD_TIMEOUT_MS, 20_000),
    deadlineSafetyMs: positiveInteger("DEADLINE_SAFETY_MS", env.DEADLINE_SAFETY_MS, 2_000),
    stateTable: nonEmpty(env.STATE_TABLE),
    idempotencyExpirySeconds: positiveInteger(
      "IDEMPOTENCY_EXPIRY_SECONDS",
      env.IDEMPOTENCY_EXPIRY_SECONDS,
      DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS,
    ),
    retryBackoff: retryBackoff(env),
    lostAnswerBaseline: lostAnswerBaseline(env.CUPI_LOST_ANSWER_BASELINE),
  };
}

function lostAnswerBaseline(value: string | undefined): ServiceConfig["lostAnswerBaseline"] {
  const setting = nonEmpty(value) ?? "clock";
  if (setting !== "clock" && setting !== "timechanged") {
    throw new ConfigurationError(
      `CUPI_LOST_ANSWER_BASELINE must be "clock" or "timechanged", not ${JSON.stringify(setting)}`,
    );
  }
  return setting;
}

/** SQS's longest visibility timeout. */
const MAX_VISIBILITY_SECONDS = 43_200;

function retryBackoff(env: Readonly<Record<string, string | undefined>>): RetryBackoff {
  const baseDelaySeconds = positiveInteger(
    "RETRY_BASE_DELAY_SECONDS",
    env.RETRY_BASE_DELAY_SECONDS,
    DEFAULT_RETRY_BACKOFF.baseDelaySeconds,
  );
  const maxDelaySeconds = positiveInteger(
    "RETRY_MAX_DELAY_SECONDS",
    env.RETRY_MAX_DELAY_SECONDS,
    DEFAULT_RETRY_BACKOFF.maxDelaySeconds,
  );
  if (maxDelaySeconds > MAX_VISIBILITY_SECONDS) {
    throw new ConfigurationError(
      `RETRY_MAX_DELAY_SECONDS must be at most ${MAX_VISIBILITY_SECONDS} (SQS's longest visibility timeout)`,
    );
  }
  if (baseDelaySeconds > maxDelaySeconds) {
    throw new ConfigurationError(
      "RETRY_BASE_DELAY_SECONDS must not exceed RETRY_MAX_DELAY_SECONDS",
    );
  }
  return { baseDelaySeconds, maxDelaySeconds };
}

function parseClusters(
  value: string | undefined,
  allowInsecureHttp: boolean,
): Map<string, ClusterConfig> {
  const clusters = new Map<string, ClusterConfig>();
  if (nonEmpty(value) === undefined) return clusters;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value as string);
  } catch {
    throw new ConfigurationError("CUPI_CLUSTERS must be JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError('CUPI_CLUSTERS must map names to { "baseUrl", "secretId" }');
  }
  for (const [name, entry] of Object.entries(parsed)) {
    if (!isClusterName(name)) {
      throw new ConfigurationError(
        `CUPI_CLUSTERS: cluster name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 . _ -`,
      );
    }
    const { baseUrl, secretId } = (entry ?? {}) as Record<string, unknown>;
    if (typeof baseUrl !== "string" || typeof secretId !== "string" || secretId === "") {
      throw new ConfigurationError(`CUPI_CLUSTERS.${name} needs string baseUrl and secretId`);
    }
    clusters.set(name, {
      name,
      baseUrl: cupiBaseUrl(`CUPI_CLUSTERS.${name}.baseUrl`, baseUrl, allowInsecureHttp),
      secretId,
    });
  }
  return clusters;
}

function parseActions(value: string | undefined): Set<Action> {
  if (nonEmpty(value) === undefined) return new Set(ACTIONS);
  const actions = new Set<Action>();
  for (const item of (value as string).split(",").map((part) => part.trim())) {
    if (item === "") continue;
    if (!isAction(item)) throw new ConfigurationError(`ALLOWED_ACTIONS: unknown action ${item}`);
    actions.add(item);
  }
  if (actions.size === 0) throw new ConfigurationError("ALLOWED_ACTIONS lists no action");
  return actions;
}

/** The base URL as the client will use it (a trailing `/vmrest` dropped), or what is wrong. */
function cupiBaseUrl(name: string, value: string, allowInsecureHttp: boolean): string {
  try {
    return parseCupiBaseUrl(value, allowInsecureHttp).href.replace(/\/$/, "");
  } catch (error) {
    if (!(error instanceof CupiBaseUrlError)) throw error;
    throw new ConfigurationError(
      error.insecureHttp
        ? `${name} must use https://; http:// is only for the local simulator, with CUPI_ALLOW_INSECURE_HTTP=true`
        : `${name} ${error.message.replace(/^CUPI base URL /, "")}`,
    );
  }
}

// An SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<name>, or an emulator's
// http://host:port/…/<name>. The name is SQS's: 1-80 of A-Z a-z 0-9 _ -, optionally .fifo.
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}(?:\.fifo)?$/;

function queueUrl(name: string, value: string | undefined): string {
  const url = nonEmpty(value);
  if (url === undefined) throw new ConfigurationError(`${name} is required`);
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  const queueName = parsed?.pathname.split("/").at(-1) ?? "";
  if (
    parsed === undefined ||
    (parsed.protocol !== "https:" && parsed.protocol !== "http:") ||
    !QUEUE_NAME.test(queueName)
  ) {
    throw new ConfigurationError(
      `${name} must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>), not ${JSON.stringify(url.slice(0, 200))}`,
    );
  }
  return url;
}

/** "true" or "false" in any case; anything else is a mistake worth stopping for. */
function booleanFlag(name: string, value: string | undefined): boolean {
  const setting = nonEmpty(value)?.toLowerCase();
  if (setting === undefined || setting === "false") return false;
  if (setting === "true") return true;
  throw new ConfigurationError(`${name} must be "true" or "false", not ${JSON.stringify(value)}`);
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (nonEmpty(value) === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value as string) || parsed < 1) {
    throw new ConfigurationError(`${name} must be a positive integer`);
  }
  return parsed;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function adaptiveLimit(
  env: Readonly<Record<string, string | undefined>>,
): ServiceConfig["cupiAdaptiveLimit"] {
  const setting = nonEmpty(env.CUPI_ADAPTIVE_LIMIT) ?? "on";
  if (setting !== "on" && setting !== "off") {
    throw new ConfigurationError(`CUPI_ADAPTIVE_LIMIT must be "on" or "off", not "${setting}"`);
  }
  if (setting === "off") return false;
  return {
    maxPauseMs: positiveInteger("CUPI_MAX_PAUSE_MS", env.CUPI_MAX_PAUSE_MS, 20_000),
    contentionMemoryMs: positiveInteger(
      "CUPI_CONTENTION_MEMORY_MS",
      env.CUPI_CONTENTION_MEMORY_MS,
      30_000,
    ),
  };
}

// EventBridge's own rules for EventBusName: a bus name, or a bus ARN.
const EVENT_BUS =
  /^(?:[A-Za-z0-9._/-]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._/-]{1,256})$/;

function eventBus(value: string | undefined): string | undefined {
  const bus = nonEmpty(value);
  if (bus !== undefined && !EVENT_BUS.test(bus)) {
    throw new ConfigurationError(
      "OUTCOME_EVENT_BUS must be an EventBridge bus name (A-Z a-z 0-9 . _ / -) or a bus ARN",
    );
  }
  return bus;
}
