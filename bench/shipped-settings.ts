import { readFileSync } from "node:fs";

/** serverless.yml's settings for the reset function and its event source mapping. */
export interface ShippedSettings {
  /** The `cupiMaxInFlight` param: CUPI_MAX_IN_FLIGHT, per container. */
  readonly cupiMaxInFlight: number;
  /** The SQS event source's `batchSize`. */
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  /** The event source mapping's maximumConcurrency: containers at once. */
  readonly maximumConcurrency: number;
  /** The function's `timeout`, in seconds. */
  readonly timeoutSeconds: number;
}

/** Read from serverless.yml, so the figures follow the shipped defaults when they change. */
export function shippedSettings(
  yaml = readFileSync(new URL("../serverless.yml", import.meta.url), "utf8"),
): ShippedSettings {
  const number = (pattern: RegExp, name: string): number => {
    const value = Number(pattern.exec(yaml)?.[1]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`serverless.yml: no ${name}`);
    return value;
  };
  return {
    cupiMaxInFlight: number(/^\s*cupiMaxInFlight:\s*"?(\d+)"?/m, "cupiMaxInFlight"),
    batchSize: number(/^\s*batchSize:\s*(\d+)/m, "batchSize"),
    // The standard queue's (custom.batchingWindowSeconds; FIFO sources have none).
    maximumBatchingWindowSeconds: number(
      /^\s*fifo-false:\s*(\d+)/m,
      "custom.batchingWindowSeconds.fifo-false",
    ),
    maximumConcurrency: number(/^\s*maximumConcurrency:\s*(\d+)/m, "maximumConcurrency"),
    timeoutSeconds: number(/^\s{2}timeout:\s*(\d+)/m, "provider timeout"),
  };
}
