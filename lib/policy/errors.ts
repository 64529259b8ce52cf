/**
 * No compliant value can be produced for this context (impossible length, or every attempt
 * rejected). Retrying with the same context cannot help. The message never holds a secret.
 */
export class CredentialGenerationError extends Error {
  readonly retryable = false;
  override readonly name = "CredentialGenerationError";
}
