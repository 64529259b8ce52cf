export const DEFAULT_PIN_MIN_LENGTH = 6;
export const DEFAULT_PASSWORD_MIN_LENGTH = 12;
export { MAX_CREDENTIAL_LENGTH } from "../cupi/credential-xml.ts";

/**
 * The stricter of the service default and the authentication rule's MinLength.
 * A missing or non-finite MinLength is treated as unknown, so the default applies.
 */
export function effectiveMinLength(ruleMinLength: number | undefined, defaultMin: number): number {
  if (ruleMinLength === undefined || !Number.isFinite(ruleMinLength)) return defaultMin;
  return Math.max(defaultMin, Math.ceil(ruleMinLength));
}
