/** The cookies CUC sets to mark an authenticated session; replaying them spares it a login. */
const SESSION_COOKIES: ReadonlySet<string> = new Set(["JSESSIONIDSSO", "JSESSIONID"]);

/** Cisco's own SDK replays session cookies for 60 seconds; so does this client by default. */
export const DEFAULT_SESSION_TTL_MS = 60_000;

interface StoredCookie {
  readonly value: string;
  readonly expiresAt: number;
}

/**
 * Holds CUC's session cookies for one host. Basic authentication is still sent on every request;
 * the cookies only let CUC skip re-authenticating it.
 */
export class SessionCookies {
  readonly #cookies = new Map<string, StoredCookie>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(ttlMs = DEFAULT_SESSION_TTL_MS, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Remembers the session cookies among `Set-Cookie` header values. */
  remember(setCookieHeaders: readonly string[]): void {
    for (const header of setCookieHeaders) {
      const [pair = "", ...attributes] = header.split(";");
      const separator = pair.indexOf("=");
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      if (!SESSION_COOKIES.has(name)) continue;
      const value = pair.slice(separator + 1).trim();
      const lifetime = Math.min(this.#ttlMs, maxAgeMs(attributes) ?? this.#ttlMs);
      if (value === "" || lifetime <= 0) this.#cookies.delete(name);
      else this.#cookies.set(name, { value, expiresAt: this.#now() + lifetime });
    }
  }

  /** The `Cookie` header to send, or undefined when no live session cookie is held. */
  header(): string | undefined {
    const now = this.#now();
    const pairs: string[] = [];
    for (const [name, cookie] of this.#cookies) {
      if (cookie.expiresAt > now) pairs.push(`${name}=${cookie.value}`);
      else this.#cookies.delete(name);
    }
    return pairs.length === 0 ? undefined : pairs.join("; ");
  }

  /** The values held, to be kept out of anything echoed back in an error. */
  values(): string[] {
    return [...this.#cookies.values()].map((cookie) => cookie.value);
  }

  clear(): void {
    this.#cookies.clear();
  }

  toString(): string {
    return `SessionCookies(${this.#cookies.size} held)`;
  }
}

function maxAgeMs(attributes: readonly string[]): number | undefined {
  for (const attribute of attributes) {
    const match = /^\s*max-age\s*=\s*(-?\d+)\s*$/i.exec(attribute);
    if (match?.[1] !== undefined) return Number(match[1]) * 1000;
  }
  return undefined;
}
