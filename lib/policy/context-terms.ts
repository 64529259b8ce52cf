import { keypadDigitsOf } from "./keypad.ts";
import { foldForComparison } from "./text.ts";
import type { CredentialPolicyContext } from "./types.ts";

/** Shorter user data (a 2-digit extension, "Li") is ignored: matching it would rule out most values. */
export const MIN_TERM_LENGTH = 3;

function isLongEnough(term: string): boolean {
  return Array.from(term).length >= MIN_TERM_LENGTH;
}

function distinctLongEnough(terms: readonly string[]): string[] {
  return [...new Set(terms)].filter(isLongEnough);
}

/** Digits of each extension ("+1 408-555" -> "1408555"), so formatting cannot hide a match. */
export function extensionDigitForms(context: CredentialPolicyContext): string[] {
  return distinctLongEnough((context.extensions ?? []).map((ext) => ext.replace(/\D/g, "")));
}

/** Each extension as written (folded) and as digits, for matching inside a password. */
export function extensionTextForms(context: CredentialPolicyContext): string[] {
  const written = (context.extensions ?? []).map((ext) => foldForComparison(ext.trim()));
  return distinctLongEnough([...written, ...extensionDigitForms(context)]);
}

/** Keypad digits of the first and last name, each taken separately. */
export function nameKeypadForms(context: CredentialPolicyContext): string[] {
  return distinctLongEnough(
    [context.firstName, context.lastName].map((name) => keypadDigitsOf(name ?? "")),
  );
}

export function aliasForm(context: CredentialPolicyContext): string | undefined {
  const alias = foldForComparison((context.alias ?? "").trim());
  return isLongEnough(alias) ? alias : undefined;
}

export function nameForms(context: CredentialPolicyContext): string[] {
  return distinctLongEnough(
    [context.firstName, context.lastName].map((name) => foldForComparison((name ?? "").trim())),
  );
}
