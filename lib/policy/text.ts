/** Case- and accent-insensitive form used to compare user data with a credential ("Müller" -> "muller"). */
export function foldForComparison(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

export function reversed(text: string): string {
  return Array.from(text).reverse().join("");
}

/** Whether `haystack` contains `term` or `term` reversed. */
export function containsForwardOrReversed(haystack: string, term: string): boolean {
  return haystack.includes(term) || haystack.includes(reversed(term));
}
