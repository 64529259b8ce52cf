/**
 * A protected-account pattern: an alias glob, anchored at both ends, where `*` stands for any run
 * of characters (none included) and every other character is itself, compared case-insensitively
 * as CUC compares aliases. `admin*` protects `Administrator` and `admin-jdoe`, not `sysadmin`.
 * No regular expressions: matching is a left-to-right scan, linear in the alias, so no policy
 * file can make a lookup backtrack (ReDoS).
 */
const ALIAS_PATTERN = /^[A-Za-z0-9._@*-]{1,64}$/;

export const ALIAS_PATTERN_RULE = "must be 1-64 of letters, digits, . _ - @ and the wildcard *";

export function isAliasPattern(value: string): boolean {
  return ALIAS_PATTERN.test(value);
}

export class AliasPattern {
  readonly source: string;
  /** The literal pieces between the wildcards, lowercased; a pattern without `*` has one. */
  readonly #pieces: readonly string[];

  constructor(source: string) {
    if (!isAliasPattern(source)) throw new TypeError(`alias pattern ${ALIAS_PATTERN_RULE}`);
    this.source = source;
    this.#pieces = source.toLowerCase().split("*");
  }

  matches(alias: string): boolean {
    const text = alias.toLowerCase();
    const pieces = this.#pieces;
    const first = pieces[0] ?? "";
    if (pieces.length === 1) return text === first;
    const last = pieces[pieces.length - 1] ?? "";
    if (!text.startsWith(first)) return false;
    // Leftmost placement of each middle piece leaves the most room for the rest: no backtracking.
    let position = first.length;
    for (const piece of pieces.slice(1, -1)) {
      const found = text.indexOf(piece, position);
      if (found === -1) return false;
      position = found + piece.length;
    }
    return text.length - last.length >= position && text.endsWith(last);
  }
}
