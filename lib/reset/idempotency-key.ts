// How an event's idempotency record is keyed: shared by the processor that writes it and the
// status lookup that reads it, so the two cannot drift apart.
import { IdempotencyConfig } from "@aws-lambda-powertools/idempotency";
import type { IdempotencyConfigOptions } from "@aws-lambda-powertools/idempotency/types";

/** Stable across function renames and stages sharing a table. */
export const IDEMPOTENCY_KEY_PREFIX = "cupi-reset";

/** Keyed on the producer's business id: SQS messageIds change on redrive and replay. */
export function idempotencyConfig(
  options: Omit<IdempotencyConfigOptions, "eventKeyJmesPath" | "throwOnNoIdempotencyKey"> = {},
): IdempotencyConfig {
  return new IdempotencyConfig({
    ...options,
    eventKeyJmesPath: "eventId",
    throwOnNoIdempotencyKey: true,
  });
}
