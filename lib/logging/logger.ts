import { Logger } from "@aws-lambda-powertools/logger";
import type { LogLevel } from "@aws-lambda-powertools/logger/types";

export const REDACTED = "[redacted]";

/**
 * Keys whose values are credentials or carry them (request headers, a secret's content). Secrets
 * are never logged on purpose; this catches the object that gets logged by mistake one day.
 */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  "credentials",
  "password",
  "pin",
  "authorization",
  "secretstring",
  "secret",
  "cookie",
  "set-cookie",
]);

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
}

/**
 * A JSON replacer: the value of a secret key becomes `[redacted]`, whatever it is. Powertools calls
 * it for every key at every depth, also inside errors it has turned into objects (their `cause`
 * chains included), so no walk of its own is needed. A `SecretValue` already serialises as
 * `[redacted]` through its `toJSON`.
 */
export function redactSecretKeys(key: string, value: unknown): unknown {
  // An absent value stays absent: a `[redacted]` would claim there was one.
  if (value === undefined || value === null) return value;
  return isSecretKey(key) ? REDACTED : value;
}

export interface LoggerOptions {
  /** Default: POWERTOOLS_LOG_LEVEL (or LOG_LEVEL), else INFO; Lambda's log-level control wins. */
  readonly logLevel?: LogLevel;
}

/** The service's Powertools Logger, redacting the values of secret keys in everything it prints. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return new Logger({
    serviceName: "cupi-reset",
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    jsonReplacerFn: redactSecretKeys,
  });
}
