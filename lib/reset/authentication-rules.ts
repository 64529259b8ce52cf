// CUC's authentication rules are few and rarely change: each is read once per cache period and
// shared by every value generated under it, and the strictest one seen in force for a credential
// lets the next values be generated without reading the user's own.
import type { AuthenticationRule, CredentialKind } from "../cupi/types.ts";

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

/** What a value generated without the user's own rule must meet: the strictest seen in force. */
export interface StrictestRule {
  /** The longest MinLength seen; undefined: none of the rules sets one (the generator's default). */
  readonly minLength: number | undefined;
}

export class AuthenticationRuleCache {
  readonly #ttlMs: number;
  readonly #entries = new Map<
    string,
    { readonly rule: Promise<AuthenticationRule | undefined>; readonly until: number }
  >();
  /** Rules seen in force, by cluster, credential and rule id ("" for a credential with none). */
  readonly #inForce = new Map<
    string,
    { readonly minLength: number | undefined; readonly until: number }
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

  /** Notes the rule a user's credential was read to be under (undefined: none, or unreadable). */
  noteInForce(
    cluster: string,
    kind: CredentialKind,
    ruleId: string | undefined,
    rule: AuthenticationRule | undefined,
  ): void {
    const key = `${cluster}\n${kind}\n${(ruleId ?? "").toLowerCase()}`;
    this.#inForce.set(key, { minLength: rule?.minLength, until: Date.now() + this.#ttlMs });
  }

  /**
   * The strictest of the rules seen in force for `kind` in the cache period, or undefined when
   * none was: a value meeting it meets each of them (only MinLength varies what is generated; the
   * trivial-value checks are always applied).
   */
  strictestInForce(cluster: string, kind: CredentialKind): StrictestRule | undefined {
    const prefix = `${cluster}\n${kind}\n`;
    const now = Date.now();
    let seen = false;
    let minLength: number | undefined;
    for (const [key, entry] of this.#inForce) {
      if (!key.startsWith(prefix) || entry.until <= now) continue;
      seen = true;
      if (entry.minLength !== undefined) minLength = Math.max(minLength ?? 0, entry.minLength);
    }
    return seen ? { minLength } : undefined;
  }

  /** Forgets a cluster's rules: CUC refused a value generated under one of them. */
  forget(cluster: string): void {
    for (const map of [this.#entries, this.#inForce]) {
      for (const key of map.keys()) {
        if (key.startsWith(`${cluster}\n`)) map.delete(key);
      }
    }
  }
}
