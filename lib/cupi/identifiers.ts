/** CUC objectIds are 36-character GUIDs (CUC writes them in lowercase). */
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A conservative alias pattern: letters, digits and `. _ - @`, starting with a letter or digit, at
 * most 64 characters. Anything else (spaces, parentheses, slashes, `..`) could change the meaning
 * of a CUPI query or path, so it is refused before any URL is built.
 */
const ALIAS = /^[A-Za-z0-9](?:[A-Za-z0-9_@-]|\.(?!\.)){0,63}$/;

export class UnsafeIdentifierError extends Error {
  override readonly name = "UnsafeIdentifierError";
}

export function isObjectId(value: string): boolean {
  return OBJECT_ID.test(value);
}

export function isAlias(value: string): boolean {
  return ALIAS.test(value);
}

/** Returns the objectId in CUC's lowercase form, or throws when it is not a GUID. */
export function requireObjectId(value: string): string {
  if (!isObjectId(value)) {
    throw new UnsafeIdentifierError("objectId must be a 36-character GUID");
  }
  return value.toLowerCase();
}

export function requireAlias(value: string): string {
  if (!isAlias(value)) {
    throw new UnsafeIdentifierError(
      "alias must be 1-64 letters, digits or . _ - @, starting with a letter or digit",
    );
  }
  return value;
}

/**
 * Joins path segments, encoding each one, so no value can add a segment or a query. Empty and dot
 * segments are refused: encoding leaves them as they are, and servers resolve them.
 */
export function vmrestPath(...segments: readonly string[]): string {
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new UnsafeIdentifierError("a CUPI path segment must not be empty, . or ..");
    }
  }
  return `/vmrest/${segments.map((segment) => encodeURIComponent(segment)).join("/")}`;
}
