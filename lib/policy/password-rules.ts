import { aliasForm, extensionTextForms, nameForms } from "./context-terms.ts";
import {
  DEFAULT_PASSWORD_MIN_LENGTH,
  effectiveMinLength,
  MAX_CREDENTIAL_LENGTH,
} from "./limits.ts";
import { hasRepeatedTriple, hasSequentialRun } from "./sequences.ts";
import { containsForwardOrReversed, foldForComparison } from "./text.ts";
import type { CredentialPolicyContext, PolicyRule, PolicyViolation } from "./types.ts";

const REQUIRED_CLASS_COUNT = 3;

/** Lower, upper, digit, and any other visible ASCII character. */
const CHARACTER_CLASSES: readonly RegExp[] = [/[a-z]/, /[A-Z]/, /[0-9]/, /[!-/:-@[-`{-~]/];

export function countCharacterClasses(password: string): number {
  return CHARACTER_CLASSES.filter((characterClass) => characterClass.test(password)).length;
}

/** Whitespace, control and non-ASCII characters are refused: they may be trimmed or mis-encoded. */
function isVisibleAscii(password: string): boolean {
  return /^[!-~]*$/.test(password);
}

/**
 * Checks a web application password against CUC's trivial-password rules, read conservatively.
 * Returns [] when the password is compliant.
 */
export function checkPassword(
  password: string,
  context: CredentialPolicyContext = {},
): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  const report = (rule: PolicyRule, message: string): void => {
    violations.push({ rule, message });
  };
  const folded = foldForComparison(password);

  const minLength = effectiveMinLength(context.minLength, DEFAULT_PASSWORD_MIN_LENGTH);
  if (password.length < minLength) {
    report("min-length", `Password must be at least ${minLength} characters long`);
  }
  if (password.length > MAX_CREDENTIAL_LENGTH) {
    report("max-length", `Password must be at most ${MAX_CREDENTIAL_LENGTH} characters long`);
  }
  if (!isVisibleAscii(password)) {
    report("printable-ascii", "Password must use visible ASCII characters only, without spaces");
  }
  if (countCharacterClasses(password) < REQUIRED_CLASS_COUNT) {
    report(
      "character-classes",
      "Password must mix at least three of: lowercase, uppercase, digits, symbols",
    );
  }
  const alias = aliasForm(context);
  if (alias !== undefined && containsForwardOrReversed(folded, alias)) {
    report("contains-alias", "Password must not contain the user's alias, forward or reversed");
  }
  if (nameForms(context).some((name) => containsForwardOrReversed(folded, name))) {
    report(
      "contains-name",
      "Password must not contain the user's first or last name, forward or reversed",
    );
  }
  if (
    extensionTextForms(context).some((extension) => containsForwardOrReversed(folded, extension))
  ) {
    report("contains-extension", "Password must not contain an extension, forward or reversed");
  }
  if (hasRepeatedTriple(password)) {
    report("character-repeated-thrice", "Password must not use a character three times in a row");
  }
  if (hasSequentialRun(password)) {
    report(
      "sequential-run",
      "Password must not contain three ascending or descending letters or digits in a row",
    );
  }
  return violations;
}
