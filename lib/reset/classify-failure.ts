// Turns whatever failed a record into a verdict: permanent (dead-lettered with a code) or transient.
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyUnknownError,
  IdempotencyValidationError,
} from "@aws-lambda-powertools/idempotency";
import { CupiError } from "../cupi/errors.ts";
import type { ResetEvent } from "../events/contract.ts";
import { type ErrorCode, PermanentFailure, TransientFailure } from "../outcome/failures.ts";
import { CredentialGenerationError } from "../policy/errors.ts";
import { SecretNotFoundError, SecretUnavailableError } from "../secrets/secret-store.ts";
import { ServiceAccountError } from "./cupi-connections.ts";

const CUPI_CODES: Partial<Record<CupiError["kind"], ErrorCode>> = {
  "not-found": "USER_NOT_FOUND",
  ambiguous: "AMBIGUOUS_USER",
  rejected: "CREDENTIAL_REJECTED",
  "not-permitted": "NOT_PERMITTED",
  "invalid-input": "INVALID_EVENT",
};

/**
 * CUPI failures that say the deployment, not the event, is wrong: a base URL that does not lead to
 * CUPI, a service account CUC refuses, a certificate not trusted, a redirect or an answer that is
 * not CUPI's. Every event would fail alike, so none is dead-lettered for it: each is retried while
 * a person fixes the configuration (the per-invocation warning and the queue-age alarm say so).
 */
const DEPLOYMENT_FAULTS: ReadonlySet<CupiError["kind"]> = new Set([
  "not-cupi",
  "authentication",
  "tls",
  "client-bug",
]);

/**
 * Turns any failure into a permanent (DLQ) or transient (redeliver) verdict with a reason. The
 * rule (README, "Whose fault is it"): what is wrong with the event is dead-lettered with its code;
 * what is wrong with the deployment, or passing (CUC busy or down, AWS throttling), is retried.
 */
export function classify(
  error: unknown,
  event: ResetEvent,
  signal: AbortSignal | undefined,
): PermanentFailure | TransientFailure {
  if (error instanceof PermanentFailure || error instanceof TransientFailure) return error;
  // Whatever the call made of being cut short, the deadline is what failed it: retried.
  if (signal?.aborted === true) {
    const reason = signal.reason instanceof Error ? signal.reason.message : "aborted";
    // CupiError messages are redacted; of anything else only the type is safe to log.
    const detail =
      error instanceof CupiError
        ? `: ${error.message}`
        : error instanceof Error
          ? ` (${error.name})`
          : "";
    return new TransientFailure(`${reason}${detail}`);
  }
  if (error instanceof IdempotencyValidationError) {
    return new PermanentFailure(
      "INVALID_EVENT",
      `eventId ${event.eventId} was already used for a different event; a new event needs a new eventId`,
    );
  }
  if (error instanceof IdempotencyAlreadyInProgressError) {
    return new TransientFailure("another delivery of this eventId is being processed", {
      conflict: "idempotency",
    });
  }
  if (error instanceof IdempotencyUnknownError) {
    return new TransientFailure(`idempotency store unavailable (${error.name})`);
  }
  if (error instanceof CupiError) {
    if (DEPLOYMENT_FAULTS.has(error.kind)) {
      return new TransientFailure(error.message, { deploymentFault: true });
    }
    const code = error.retryable ? undefined : CUPI_CODES[error.kind];
    if (code === undefined) {
      return new TransientFailure(error.message, { cucUnavailable: error.kind === "unavailable" });
    }
    const reason =
      error.kind === "rejected" && error.cupiMessage !== undefined
        ? `CUPI refused the change: ${error.cupiMessage}`
        : error.message;
    // A value CUPI cannot carry was never sent: the credential, not the event, is at fault.
    return new PermanentFailure(
      error.kind === "invalid-input" && error.operation.startsWith("updateCredential")
        ? "CREDENTIAL_REJECTED"
        : code,
      reason,
    );
  }
  if (error instanceof SecretNotFoundError) {
    return new PermanentFailure("SECRET_NOT_FOUND", error.message);
  }
  if (error instanceof CredentialGenerationError) {
    return new PermanentFailure("CREDENTIAL_REJECTED", error.message);
  }
  // The service account's secret is the deployment's, not the event's.
  if (error instanceof ServiceAccountError) {
    return new TransientFailure(error.message, { deploymentFault: true });
  }
  if (error instanceof SecretUnavailableError) return new TransientFailure(error.message);
  // Unknown failures (bugs included) are retried, then dead-lettered by the redrive policy:
  // never dropped, never dead-lettered with a guessed reason.
  return new TransientFailure(
    `unexpected error: ${error instanceof Error ? error.name : typeof error}`,
  );
}
