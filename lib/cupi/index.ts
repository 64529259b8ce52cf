export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
  type CircuitPermit,
  type CircuitState,
  DEFAULT_CIRCUIT_BREAKER,
} from "./circuit-breaker.ts";
export {
  type CallOptions,
  CupiClient,
  type CupiClientOptions,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_IN_FLIGHT,
} from "./client.ts";
export { buildCredentialXml, MAX_CREDENTIAL_LENGTH } from "./credential-xml.ts";
export { CupiError, type CupiErrorKind } from "./errors.ts";
export { isAlias, isObjectId } from "./identifiers.ts";
export {
  type AdaptiveLimitOptions,
  ConcurrencyLimiter,
  DEFAULT_ADAPTIVE_LIMIT,
  type LimiterStats,
} from "./limiter.ts";
export type { RetryOptions } from "./retry.ts";
export { type CupiTimeouts, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_TIMEOUTS } from "./transport.ts";
export * from "./types.ts";
