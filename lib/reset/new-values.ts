// The new value of one credential: read from the event's secret, or generated to meet CUC's rules
// for the user; under the strictest rule already seen in force when there is one, so that most
// generated values cost no CUPI read.
import type { CallOptions, CupiClient } from "../cupi/client.ts";
import { CupiError } from "../cupi/errors.ts";
import type { AuthenticationRule, CredentialKind, CupiUser } from "../cupi/types.ts";
import type { ResetEvent } from "../events/contract.ts";
import { generatePassword, generatePin, policyContextFor } from "../policy/index.ts";
import type { CredentialPolicyContext } from "../policy/types.ts";
import { type SecretStore, selectSecretValue } from "../secrets/secret-store.ts";
import { SecretValue } from "../secrets/secret-value.ts";
import type { AuthenticationRuleCache, KnownRule } from "./authentication-rules.ts";

/** Where a record's values come from: its cluster's CUPI (behind the 401 retry) and caches. */
export interface ValueSources {
  readonly secrets: SecretStore;
  readonly rules: AuthenticationRuleCache;
  readonly cluster: string;
  readonly cupi: <T>(operation: (cupi: CupiClient) => Promise<T>) => Promise<T>;
  readonly call: CallOptions;
}

export interface NewValue {
  readonly value: SecretValue;
  /**
   * Generated under the strictest rule seen in force, without reading the user's own rule and
   * alternate extensions: if CUC refuses it, `valueForUser` generates one that reads them.
   */
  readonly withoutUserReads?: true;
  /** The user's rule it was generated under, when that came from the cache. */
  readonly cachedRule?: { readonly ruleId: string; readonly rule: AuthenticationRule | undefined };
}

/**
 * The event's secret's value, or a generated one (offboarding, `{ "generate": true }`). A cluster
 * holds few rules per credential; a value meeting the strictest seen (the longest MinLength, the
 * trivial-value checks always on) meets the user's too unless the user is under a stricter one
 * not yet seen, or it happens to contain an alternate extension: CUC refuses it, and the record
 * sends one from `valueForUser`. The price is a value that may be longer than the user's rule asks.
 */
export async function newValueFor(
  event: ResetEvent,
  kind: CredentialKind,
  user: CupiUser,
  sources: ValueSources,
): Promise<NewValue> {
  const source = event.newCredential;
  if (source !== undefined && "secretId" in source) {
    const value = selectSecretValue(
      source.secretId,
      await sources.secrets.fresh(source.secretId),
      source.jsonKey,
    );
    return { value };
  }
  const strictest = sources.rules.strictestInForce(sources.cluster, kind);
  if (strictest === undefined) return valueForUser(kind, user, sources);
  return { value: generated(kind, policyContextFor(user, strictest)), withoutUserReads: true };
}

/** A value generated under the user's own rule and extensions, read from CUC (the rule cached). */
export async function valueForUser(
  kind: CredentialKind,
  user: CupiUser,
  sources: ValueSources,
): Promise<NewValue> {
  const { cupi, call, rules, cluster } = sources;
  const [credential, alternateExtensions] = await cupi((client) =>
    Promise.all([
      client.getCredential(user.objectId, kind, call),
      kind === "pin" ? client.getAlternateExtensions(user.objectId, call) : Promise.resolve([]),
    ]),
  );
  const ruleId = credential.credentialPolicyObjectId;
  const known: KnownRule =
    ruleId === undefined
      ? { rule: undefined, cached: false }
      : await rules
          .get(cluster, ruleId, () => cupi((client) => client.getAuthenticationRule(ruleId, call)))
          .catch((error: unknown) => {
            // A rule that cannot be read leaves the generator's own, stricter defaults.
            if (error instanceof CupiError && error.kind === "not-found") {
              return { rule: undefined, cached: false };
            }
            throw error;
          });
  rules.noteInForce(cluster, kind, ruleId, known.rule);
  const value = generated(kind, policyContextFor(user, known.rule, alternateExtensions));
  return ruleId !== undefined && known.cached
    ? { value, cachedRule: { ruleId, rule: known.rule } }
    : { value };
}

/**
 * Whether any rule a value was generated under now reads differently from CUC (or cannot be read
 * now: then the refusal is retried rather than judged on a stale rule).
 */
export async function rulesChanged(
  cached: ReadonlyMap<string, AuthenticationRule | undefined>,
  read: (ruleId: string) => Promise<AuthenticationRule>,
): Promise<boolean> {
  for (const [ruleId, rule] of cached) {
    const now = await read(ruleId).catch(() => undefined);
    if (now === undefined || JSON.stringify(now) !== JSON.stringify(rule)) return true;
  }
  return false;
}

function generated(kind: CredentialKind, context: CredentialPolicyContext): SecretValue {
  return new SecretValue(kind === "pin" ? generatePin(context) : generatePassword(context));
}
