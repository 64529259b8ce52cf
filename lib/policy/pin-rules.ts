import { extensionDigitForms, nameKeypadForms } from "./context-terms.ts";
import { isOnOneKeypadLine } from "./keypad.ts";
import { DEFAULT_PIN_MIN_LENGTH, effectiveMinLength, MAX_CREDENTIAL_LENGTH } from "./limits.ts";
import { hasRepeatedTriple, hasSequentialRun } from "./sequences.ts";
import { containsForwardOrReversed } from "./text.ts";
import type { CredentialPolicyContext, PolicyRule, PolicyViolation } from "./types.ts";

/**
 * Whether the PIN is a shorter block repeated at least twice, a trailing partial block allowed
 * (408408, 1212, 4084084): the value has a period no longer than half its length.
 */
export function isRepeatedGroup(pin: string): boolean {
  for (let period = 1; period * 2 <= pin.length; period++) {
    let periodic = true;
    for (let index = period; index < pin.length && periodic; index++) {
      periodic = pin[index] === pin[index - period];
    }
    if (periodic) return true;
  }
  return false;
}

function countDistinctCharacters(value: string): number {
  return new Set(value).size;
}

function touchesExtension(pin: string, extension: string): boolean {
  // A PIN lifted out of a longer (e.g. E.164) extension is as guessable as one containing it.
  return containsForwardOrReversed(pin, extension) || containsForwardOrReversed(extension, pin);
}

function matchesNameOnKeypad(pin: string, nameDigits: string): boolean {
  return pin.includes(nameDigits) || nameDigits.includes(pin);
}

/**
 * Checks a voicemail PIN against CUC's trivial-PIN rules, read conservatively.
 * Returns [] when the PIN is compliant. A value that is not a non-empty digit string gets only the
 * length and digits-only verdicts, since the digit-pattern rules assume digits.
 */
export function checkPin(pin: string, context: CredentialPolicyContext = {}): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  const report = (rule: PolicyRule, message: string): void => {
    violations.push({ rule, message });
  };

  const minLength = effectiveMinLength(context.minLength, DEFAULT_PIN_MIN_LENGTH);
  if (pin.length < minLength) report("min-length", `PIN must be at least ${minLength} digits long`);
  if (pin.length > MAX_CREDENTIAL_LENGTH) {
    report("max-length", `PIN must be at most ${MAX_CREDENTIAL_LENGTH} digits long`);
  }
  if (/\D/.test(pin)) report("digits-only", "PIN must contain digits only");
  if (!/^\d+$/.test(pin)) return violations;

  if (isRepeatedGroup(pin)) report("repeated-group", "PIN must not be a group of digits repeated");
  if (countDistinctCharacters(pin) <= 2) {
    report("two-distinct-digits", "PIN must use at least three different digits");
  }
  if (hasRepeatedTriple(pin)) {
    report("digit-repeated-thrice", "PIN must not use the same digit three times in a row");
  }
  if (hasSequentialRun(pin)) {
    report("sequential-run", "PIN must not contain three ascending or descending digits in a row");
  }
  if (isOnOneKeypadLine(pin)) {
    report("keypad-line", "PIN must not lie on one straight line of the keypad");
  }
  if (extensionDigitForms(context).some((extension) => touchesExtension(pin, extension))) {
    report(
      "contains-extension",
      "PIN must not contain or be part of an extension, forward or reversed",
    );
  }
  if (nameKeypadForms(context).some((nameDigits) => matchesNameOnKeypad(pin, nameDigits))) {
    report(
      "name-on-keypad",
      "PIN must not match the keypad digits of the user's first or last name",
    );
  }
  return violations;
}
