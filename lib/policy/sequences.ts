const CODE_0 = 48;
const CODE_9 = 57;
const CODE_A = 97;
const CODE_Z = 122;

function isDigitCode(code: number): boolean {
  return code >= CODE_0 && code <= CODE_9;
}

function isLowerLetterCode(code: number): boolean {
  return code >= CODE_A && code <= CODE_Z;
}

/**
 * Whether three characters form an ascending or descending run of digits or of letters
 * (case-insensitive). Digits wrap around (8-9-0, 0-9-8) because 0 follows 9 on a phone keypad,
 * so a server may count that as a run too; letters do not wrap.
 */
export function isSequentialTriple(first: string, second: string, third: string): boolean {
  const a = first.toLowerCase().charCodeAt(0);
  const b = second.toLowerCase().charCodeAt(0);
  const c = third.toLowerCase().charCodeAt(0);
  if (isDigitCode(a) && isDigitCode(b) && isDigitCode(c)) {
    const step = (b - a + 10) % 10;
    return (step === 1 || step === 9) && (c - b + 10) % 10 === step;
  }
  if (isLowerLetterCode(a) && isLowerLetterCode(b) && isLowerLetterCode(c)) {
    const step = b - a;
    return (step === 1 || step === -1) && c - b === step;
  }
  return false;
}

/** Case-insensitive: "aAa" counts, so a server that folds case cannot reject what we accept. */
export function isRepeatedTriple(first: string, second: string, third: string): boolean {
  const a = first.toLowerCase();
  return a === second.toLowerCase() && a === third.toLowerCase();
}

export function hasSequentialRun(value: string): boolean {
  return someTriple(value, isSequentialTriple);
}

export function hasRepeatedTriple(value: string): boolean {
  return someTriple(value, isRepeatedTriple);
}

function someTriple(value: string, test: (a: string, b: string, c: string) => boolean): boolean {
  const chars = Array.from(value);
  for (let index = 2; index < chars.length; index++) {
    const [a, b, c] = [chars[index - 2], chars[index - 1], chars[index]];
    if (a !== undefined && b !== undefined && c !== undefined && test(a, b, c)) return true;
  }
  return false;
}
