import { foldForComparison } from "./text.ts";

const LETTERS_BY_KEY: Readonly<Record<string, string>> = {
  "2": "abc",
  "3": "def",
  "4": "ghi",
  "5": "jkl",
  "6": "mno",
  "7": "pqrs",
  "8": "tuv",
  "9": "wxyz",
};

const KEY_BY_LETTER: ReadonlyMap<string, string> = new Map(
  Object.entries(LETTERS_BY_KEY).flatMap(([key, letters]) =>
    Array.from(letters, (letter) => [letter, key] as const),
  ),
);

/** Digits dialled to spell `text` ("Smith" -> "76484"); accents are dropped, non-letters ignored. */
export function keypadDigitsOf(text: string): string {
  let digits = "";
  for (const char of foldForComparison(text)) digits += KEY_BY_LETTER.get(char) ?? "";
  return digits;
}

/** Rows, columns and diagonals of a phone keypad (0 sits below 8). */
const KEYPAD_LINES: readonly ReadonlySet<string>[] = [
  "123",
  "456",
  "789",
  "147",
  "2580",
  "369",
  "159",
  "357",
].map((line) => new Set(line));

/** Whether every digit of `digits` lies on one straight keypad line (e.g. 159, 2580, 123321). */
export function isOnOneKeypadLine(digits: string): boolean {
  return KEYPAD_LINES.some((line) => Array.from(digits).every((digit) => line.has(digit)));
}
