import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";

/** CUPI fields as they travel: every value is a string, in XML and in JSON alike. */
export type Fields = Record<string, string>;

export type MediaType = "xml" | "json";

export interface Body {
  contentType: string;
  text: string;
}

const XML_CONTENT_TYPE = "application/xml; charset=utf-8";
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  suppressEmptyNode: false,
  processEntities: true,
});

const parser = new XMLParser({
  ignoreDeclaration: true,
  parseTagValue: false,
  // Credentials must arrive byte for byte, surrounding spaces included.
  trimValues: false,
  // Also decodes numeric character references (&#60;), which any XML writer may use.
  htmlEntities: true,
});

/** CUPI answers XML unless the client asks for JSON. */
export function negotiate(accept: string | undefined): MediaType {
  return accept?.toLowerCase().includes("application/json") ? "json" : "xml";
}

/** The media type of a request body, or undefined when CUPI would refuse it with 415. */
export function bodyMediaType(contentType: string | undefined): MediaType | undefined {
  const essence = contentType?.split(";")[0]?.trim().toLowerCase();
  if (essence === "application/xml" || essence === "text/xml") return "xml";
  if (essence === "application/json") return "json";
  return undefined;
}

/** One resource: `<Root>…</Root>` in XML, the bare object in JSON. */
export function renderResource(
  mediaType: MediaType,
  root: string,
  content: Record<string, unknown>,
): Body {
  if (mediaType === "json")
    return { contentType: JSON_CONTENT_TYPE, text: JSON.stringify(content) };
  return {
    contentType: XML_CONTENT_TYPE,
    text: XML_DECLARATION + builder.build({ [root]: content }),
  };
}

/**
 * A list page: `<Users total="N"><User>…</User></Users>` in XML. JSON keeps CUPI's quirks: a page of
 * one item is a single object rather than an array, and an empty page has no item key at all.
 */
export function renderList(
  mediaType: MediaType,
  root: string,
  itemName: string,
  total: number,
  items: readonly Fields[],
): Body {
  const list: Record<string, unknown> = { "@total": String(total) };
  if (items.length > 0)
    list[itemName] = mediaType === "json" && items.length === 1 ? items[0] : items;
  return renderResource(mediaType, root, list);
}

export function renderError(mediaType: MediaType, code: string, message: string): Body {
  return renderResource(mediaType, "ErrorDetails", { errors: { code, message } });
}

const TOMCAT_DESCRIPTIONS = {
  401: "The request has not been applied to the target resource because it lacks valid authentication credentials for that resource.",
  500: "The server encountered an unexpected condition that prevented it from fulfilling the request.",
} as const;

/** The HTML error page Tomcat serves when a failure happens outside the CUPI application. */
export function tomcatErrorPage(status: keyof typeof TOMCAT_DESCRIPTIONS, reason: string): Body {
  const title = `HTTP Status ${status} – ${reason}`;
  return {
    contentType: "text/html;charset=utf-8",
    text:
      `<!doctype html><html lang="en"><head><title>${title}</title></head><body>` +
      `<h1>${title}</h1><hr class="line" /><p><b>Type</b> Status Report</p>` +
      `<p><b>Description</b> ${TOMCAT_DESCRIPTIONS[status]}</p><hr class="line" />` +
      "<h3>Apache Tomcat</h3></body></html>",
  };
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "";
  return undefined;
}

function parseXmlCredential(text: string): unknown {
  if (XMLValidator.validate(text) !== true) return undefined;
  const document: unknown = parser.parse(text);
  if (typeof document !== "object" || document === null || !("Credential" in document)) {
    return undefined;
  }
  const credential = document.Credential;
  // `<Credential/>` parses to "" and is an update with no fields.
  if (typeof credential === "string") return credential.trim() === "" ? {} : undefined;
  return credential;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The fields of a PUT `Credential` body, or undefined when the body is malformed. A field holding
 * structure instead of text is malformed too: silently ignoring it could drop a new credential.
 */
export function parseCredentialBody(mediaType: MediaType, text: string): Fields | undefined {
  const credential = mediaType === "xml" ? parseXmlCredential(text) : parseJson(text);
  if (typeof credential !== "object" || credential === null || Array.isArray(credential)) {
    return undefined;
  }
  const fields: Fields = {};
  for (const [name, value] of Object.entries(credential)) {
    // Whitespace between XML elements, kept because values are not trimmed.
    if (name === "#text") continue;
    const text = scalarText(value);
    if (text === undefined) return undefined;
    fields[name] = text;
  }
  return fields;
}
