// CUC's authentication rules are few and rarely change: each is read once per cache period and
// shared by every value generated under it, instead of once per generated value.
import type { AuthenticationRule } from "../cupi/types.ts";

/**
 * How long a rule read from CUC is used. Rules change by an administrator's hand, seldom; a value
 * generated under a rule changed meanwhile is refused by CUC, and then retried under the rule read
 * again (see `applyEvent`: only when the rule did change; a value refused under the rule as it
 * stands is the event's CREDENTIAL_REJECTED, as without the cache), so staleness costs a retry.
 */
export const DEFAULT_RULE_CACHE_MS = 5 * 60_000;

/** A rule and whether it was already known or read for this value. */
export interface KnownRule {
  readonly rule: AuthenticationRule | undefined;
  readonly cached: boolean;
}

export class AuthenticationRuleCache {
  readonly #ttlMs: number;
  readonly #entries = new Map<
    string,
    { readonly rule: Promise<AuthenticationRule | undefined>; readonly until: number }
  >();

  constructor(ttlMs = DEFAULT_RULE_CACHE_MS) {
    this.#ttlMs = ttlMs;
  }

  /**
   * Rule `ruleId` of `cluster`, from the cache or from `read` (shared by the calls that ask while
   * it is under way; a read that fails is not kept, and a caller that waited on it reads itself).
   */
  async get(
    cluster: string,
    ruleId: string,
    read: () => Promise<AuthenticationRule | undefined>,
  ): Promise<KnownRule> {
    const key = `${cluster}\n${ruleId.toLowerCase()}`;
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.until > Date.now()) {
      try {
        return { rule: await entry.rule, cached: true };
      } catch {
        // Another record's read failed, maybe at its own deadline: this one reads under its own.
      }
    }
    const rule = read();
    this.#entries.set(key, { rule, until: Date.now() + this.#ttlMs });
    try {
      return { rule: await rule, cached: false };
    } catch (error) {
      if (this.#entries.get(key)?.rule === rule) this.#entries.delete(key);
      throw error;
    }
  }

  /** Forgets a cluster's rules: CUC refused a value generated under one of them. */
  forget(cluster: string): void {
    for (const key of this.#entries.keys()) {
      if (key.startsWith(`${cluster}\n`)) this.#entries.delete(key);
    }
  }
}
