import { XMLParser } from "fast-xml-parser";

/** A parsed CUPI document: XML and JSON both end up as objects whose values are strings. */
export type CupiRecord = { readonly [field: string]: unknown };

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  // `<Users total="3">` becomes `{ "@total": "3" }`, the same key CUPI's JSON uses.
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

type BodyFormat = "json" | "xml" | "html" | "text";

/** Servers do not always label bodies truthfully (Tomcat error pages), so look at the content. */
export function detectFormat(body: string): BodyFormat {
  const start = body.trimStart();
  if (start.startsWith("{") || start.startsWith("[")) return "json";
  if (!start.startsWith("<")) return "text";
  return /^<(!doctype\s+html|html)[\s>]/i.test(start) || /<html[\s>]/i.test(start.slice(0, 512))
    ? "html"
    : "xml";
}

/**
 * Parses an XML or JSON CUPI body into a record, unwrapping the XML root element when it is the
 * expected one (`<Users>`, `<User>`, `<Credential>` …), since CUPI's JSON has no such wrapper.
 * Returns undefined for anything else.
 */
export function parseDocument(body: string, rootElement: string): CupiRecord | undefined {
  const format = detectFormat(body);
  let parsed: unknown;
  try {
    if (format === "json") parsed = JSON.parse(body);
    else if (format === "xml") parsed = unwrap(xmlParser.parse(body), rootElement);
    else return undefined;
  } catch {
    return undefined;
  }
  return isRecord(parsed) ? parsed : undefined;
}

function unwrap(parsed: unknown, rootElement: string): unknown {
  return isRecord(parsed) ? parsed[rootElement] : undefined;
}

export function isRecord(value: unknown): value is CupiRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** CUPI's JSON lists hold an object for one item, an array for several, and nothing for none. */
export function asList(value: unknown): CupiRecord[] {
  if (value === undefined || value === null || value === "") return [];
  return (Array.isArray(value) ? value : [value]).filter(isRecord);
}

export function text(record: CupiRecord, field: string): string | undefined {
  const value = record[field];
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

export function flag(record: CupiRecord, field: string): boolean | undefined {
  const value = text(record, field)?.toLowerCase();
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

export function integer(record: CupiRecord, field: string): number | undefined {
  const value = text(record, field);
  if (value === undefined || !/^-?\d+$/.test(value)) return undefined;
  return Number(value);
}

export interface ErrorBody {
  readonly code: string | undefined;
  readonly message: string | undefined;
}

const MAX_ERROR_MESSAGE = 300;

/**
 * Reads CUPI's error body in any of its shapes: `<ErrorDetails>` XML, JSON `errors` (an object or
 * an array), a Tomcat HTML page, or raw text.
 */
export function parseErrorBody(
  body: string,
  scrub: (text: string) => string = (text) => text,
): ErrorBody {
  // Scrubbed after decoding and before clipping: a secret echoed back must not survive in an
  // escaped form, or as a piece cut off at the clip.
  const message = (raw: string) => clip(scrub(raw));
  const format = detectFormat(body);
  if (format === "html") return { code: undefined, message: message(htmlMessage(body)) };
  if (format === "text") return { code: undefined, message: message(body) };
  const document = parseDocument(body, "ErrorDetails");
  const errors = document === undefined ? [] : asList(document.errors);
  if (errors.length === 0) return { code: undefined, message: message(stripTags(body)) };
  const codes = errors.map((error) => text(error, "code")).filter((code) => code !== undefined);
  const messages = errors.map((error) => text(error, "message")).filter((m) => m !== undefined);
  return { code: codes[0], message: message(messages.join("; ")) };
}

function htmlMessage(html: string): string {
  // Tomcat: <p><b>Message</b> the reason</p>; older pages: <b>message</b> <u>the reason</u>.
  const tomcatMessage = /<b>\s*message\s*<\/b>([\s\S]*?)<\/(p|u)>/i.exec(html)?.[1];
  const heading = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1];
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1];
  const parts = [heading ?? title, tomcatMessage].map((part) =>
    // "HTTP Status 401 - " ends in a separator when Tomcat has no description to add.
    stripTags(part ?? "")
      .trim()
      .replace(/\s*[-–]$/, ""),
  );
  return parts.filter((part) => part !== "").join(": ");
}

function stripTags(markup: string): string {
  return decodeBasicEntities(markup.replace(/<[^>]*>/g, " "));
}

function decodeBasicEntities(value: string): string {
  return value
    .replace(/&#(\d{1,7});/g, (_entity, code: string) => codePoint(Number(code)))
    .replace(/&#x([0-9a-f]{1,6});/gi, (_entity, code: string) =>
      codePoint(Number.parseInt(code, 16)),
    )
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&nbsp;/g, " ")
    .replace(/&amp;/g, "&");
}

function codePoint(code: number): string {
  return code <= 0x10ffff ? String.fromCodePoint(code) : "\uFFFD";
}

function clip(value: string): string | undefined {
  const collapsed = value.replace(/\s+/g, " ").trim();
  if (collapsed === "") return undefined;
  return collapsed.length > MAX_ERROR_MESSAGE
    ? `${collapsed.slice(0, MAX_ERROR_MESSAGE - 1)}…`
    : collapsed;
}
