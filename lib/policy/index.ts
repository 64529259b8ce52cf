export { policyContextFor } from "./cupi-context.ts";
export { CredentialGenerationError } from "./errors.ts";
export {
  DEFAULT_PASSWORD_LENGTH,
  type GenerationContext,
  generatePassword,
  generatePin,
  MAX_GENERATION_ATTEMPTS,
  PASSWORD_ALPHABET,
} from "./generator.ts";
export {
  DEFAULT_PASSWORD_MIN_LENGTH,
  DEFAULT_PIN_MIN_LENGTH,
  MAX_CREDENTIAL_LENGTH,
} from "./limits.ts";
export { checkPassword } from "./password-rules.ts";
export { checkPin } from "./pin-rules.ts";
export type { CredentialPolicyContext, PolicyRule, PolicyViolation } from "./types.ts";
