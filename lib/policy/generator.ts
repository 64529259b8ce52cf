import { CredentialGenerationError } from "./errors.ts";
import {
  DEFAULT_PASSWORD_MIN_LENGTH,
  DEFAULT_PIN_MIN_LENGTH,
  effectiveMinLength,
  MAX_CREDENTIAL_LENGTH,
} from "./limits.ts";
import { checkPassword } from "./password-rules.ts";
import { checkPin } from "./pin-rules.ts";
import { pickRandom, randomDistinctIndices } from "./random.ts";
import { isRepeatedTriple, isSequentialTriple } from "./sequences.ts";
import type { CredentialPolicyContext } from "./types.ts";

export type GenerationContext = CredentialPolicyContext & { readonly length?: number };

/** Default length of a generated password, when the policy minimum is not higher. */
export const DEFAULT_PASSWORD_LENGTH = 16;

/** Candidates are built to avoid local patterns, so only context matches cause rejections. */
export const MAX_GENERATION_ATTEMPTS = 1000;

const PIN_DIGITS = Array.from("0123456789");

// Passwords are read off a screen by users: no whitespace and no look-alikes (0/O, 1/l/I).
// Symbols are limited to ones that survive XML, JSON, shells and e-mail without quoting.
const PASSWORD_LOWERCASE = Array.from("abcdefghijkmnopqrstuvwxyz");
const PASSWORD_UPPERCASE = Array.from("ABCDEFGHJKLMNPQRSTUVWXYZ");
const PASSWORD_DIGITS = Array.from("23456789");
const PASSWORD_SYMBOLS = Array.from("!#$%*+-=?@");
const PASSWORD_CLASSES = [
  PASSWORD_LOWERCASE,
  PASSWORD_UPPERCASE,
  PASSWORD_DIGITS,
  PASSWORD_SYMBOLS,
];
/** The characters a generated password is drawn from. */
export const PASSWORD_ALPHABET: readonly string[] = PASSWORD_CLASSES.flat();

function resolveLength(
  requested: number | undefined,
  minLength: number,
  defaultLength: number,
): number {
  const length = requested ?? Math.max(defaultLength, minLength);
  if (!Number.isInteger(length) || length < minLength || length > MAX_CREDENTIAL_LENGTH) {
    throw new CredentialGenerationError(
      `Cannot generate a credential of length ${length}: the policy needs a whole length between ${minLength} and ${MAX_CREDENTIAL_LENGTH}`,
    );
  }
  return length;
}

/**
 * Appends one random character per position, each from that position's pool minus any character
 * that would complete a run (abc, 321) or a triple (aaa) with the two before it.
 */
function buildAvoidingLocalPatterns(pools: readonly (readonly string[])[]): string {
  const chars: string[] = [];
  for (const pool of pools) {
    const [beforePrevious, previous] = [chars.at(-2), chars.at(-1)];
    const allowed =
      beforePrevious === undefined || previous === undefined
        ? pool
        : pool.filter(
            (char) =>
              !isSequentialTriple(beforePrevious, previous, char) &&
              !isRepeatedTriple(beforePrevious, previous, char),
          );
    chars.push(pickRandom(allowed));
  }
  return chars.join("");
}

function generateCompliant(build: () => string, isCompliant: (value: string) => boolean): string {
  for (let attempt = 0; attempt < MAX_GENERATION_ATTEMPTS; attempt++) {
    const candidate = build();
    if (isCompliant(candidate)) return candidate;
  }
  throw new CredentialGenerationError(
    `No compliant credential found in ${MAX_GENERATION_ATTEMPTS} attempts; the user's data rules out too many values`,
  );
}

/**
 * A random voicemail PIN that passes {@link checkPin} for `context`.
 * Length defaults to the effective minimum, max(6, context.minLength).
 * @throws CredentialGenerationError when the length is impossible or no compliant PIN is found.
 */
export function generatePin(context: GenerationContext = {}): string {
  const minLength = effectiveMinLength(context.minLength, DEFAULT_PIN_MIN_LENGTH);
  const length = resolveLength(context.length, minLength, minLength);
  const pools = Array.from({ length }, () => PIN_DIGITS);
  return generateCompliant(
    () => buildAvoidingLocalPatterns(pools),
    (pin) => checkPin(pin, context).length === 0,
  );
}

/**
 * A random web password that passes {@link checkPassword} for `context` and holds all four
 * character classes, drawn from {@link PASSWORD_ALPHABET} (no whitespace, no 0/O/1/l/I).
 * Length defaults to max(16, effective minimum), the effective minimum being max(12, context.minLength).
 * @throws CredentialGenerationError when the length is impossible or no compliant password is found.
 */
export function generatePassword(context: GenerationContext = {}): string {
  const minLength = effectiveMinLength(context.minLength, DEFAULT_PASSWORD_MIN_LENGTH);
  const length = resolveLength(context.length, minLength, DEFAULT_PASSWORD_LENGTH);
  const buildCandidate = (): string => {
    // One random position per class guarantees all four; the rest come from the whole alphabet.
    const pools: (readonly string[])[] = Array.from({ length }, () => PASSWORD_ALPHABET);
    randomDistinctIndices(PASSWORD_CLASSES.length, length).forEach((position, classIndex) => {
      pools[position] = PASSWORD_CLASSES[classIndex] ?? PASSWORD_ALPHABET;
    });
    return buildAvoidingLocalPatterns(pools);
  };
  return generateCompliant(
    buildCandidate,
    (password) => checkPassword(password, context).length === 0,
  );
}
