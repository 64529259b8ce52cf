// Applies one event to CUC: resolves the user, fetches or generates the new values, claims the
// user's credentials in time order, and sends each change, settling what earlier attempts left
// unknown.
import type { BasePersistenceLayer } from "@aws-lambda-powertools/idempotency/persistence";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AuthorizationPolicy } from "../authorization/policy.ts";
import type { ClusterConfig, ServiceConfig } from "../config/config.ts";
import type { CupiClient } from "../cupi/client.ts";
import { CupiError } from "../cupi/errors.ts";
import type { AuthenticationRule, CredentialKind, CupiUser } from "../cupi/types.ts";
import type { ResetEvent } from "../events/contract.ts";
import { PermanentFailure, TransientFailure } from "../outcome/failures.ts";
import { generatePassword, generatePin, policyContextFor } from "../policy/index.ts";
import { type SecretStore, selectSecretValue } from "../secrets/secret-store.ts";
import { SecretValue } from "../secrets/secret-value.ts";
import type { AttemptLog } from "./attempts.ts";
import type { AuthenticationRuleCache, KnownRule } from "./authentication-rules.ts";
import { authorize, refuseProtectedAccount } from "./authorize.ts";
import { type CupiConnections, ServiceAccountError } from "./cupi-connections.ts";
import {
  confirmDelivery,
  deliveryTarget,
  notAppliedDocument,
  pendingDocument,
  withdrawSuperseded,
} from "./delivery.ts";
import { clockBaselineForClaim, sendNewValue, settleEarlierAttempt } from "./lost-answers.ts";
import type { Claim, OrderingGuard } from "./ordering.ts";
import { type CredentialChange, credentialsOf, needsNewValue, planChanges } from "./plan.ts";
import type { AttemptEffects } from "./record-outcome.ts";

export interface ResetDependencies {
  readonly config: ServiceConfig;
  /** Which source may request which action, and the accounts never changed. */
  readonly authorization: AuthorizationPolicy;
  readonly secrets: SecretStore;
  readonly connections: CupiConnections;
  /** Authentication rules read for generated values, shared by the records of the container. */
  readonly authenticationRules: AuthenticationRuleCache;
  /** Refuses events older than what was already applied; off without a state table. */
  readonly ordering?: OrderingGuard | undefined;
  /** PUTs whose outcome was never learned; off without a state table. */
  readonly attempts?: AttemptLog | undefined;
  /** Applies each eventId once; off without a state table. */
  readonly idempotency?: { readonly persistenceStore: BasePersistenceLayer } | undefined;
  /**
   * The state table's client, for each record's closing writes (ClosingWrites): sent with the
   * idempotency record's completion by a StateTableIdempotency store, else on their own.
   */
  readonly stateTable?: DynamoDBClient | undefined;
}

/** A record's CUPI calls: bounded by its deadline, cut by its signal. */
export type RecordCall = { readonly deadline: number; readonly signal?: AbortSignal };

export async function applyEvent(
  event: ResetEvent,
  call: RecordCall,
  dependencies: ResetDependencies,
  effects: AttemptEffects,
): Promise<CupiUser> {
  const { config, secrets, connections, authorization } = dependencies;
  const cluster = authorize(event, config, authorization);
  let client = await connections.client(cluster);
  const serviceAccount = await serviceAccountAlias(secrets, cluster);
  // Before the lookup: a protected alias or objectId in the event costs no CUPI call at all.
  refuseProtectedAccount(authorization, event.user, serviceAccount);
  // A 401 may mean the service password was rotated: re-read the secret once and try again.
  const withFreshAccount = async <T>(operation: (cupi: CupiClient) => Promise<T>): Promise<T> => {
    try {
      return await operation(client);
    } catch (error) {
      if (!(error instanceof CupiError) || error.kind !== "authentication") throw error;
      client = await connections.client(cluster, true);
      return operation(client);
    }
  };

  const found = await withFreshAccount((cupi) =>
    "objectId" in event.user
      ? cupi.getUser(event.user.objectId, call)
      : cupi.findUserByAlias(event.user.alias, call),
  );
  effects.user = { alias: found.alias, objectId: found.objectId };
  // The event may name a protected user by another identifier (an objectId, another case).
  refuseProtectedAccount(authorization, found, serviceAccount);
  // A user list may not say whether the user is LDAP-integrated; offboarding must know.
  const user =
    event.action === "offboard" && "alias" in event.user
      ? await withFreshAccount((cupi) => cupi.getUser(found.objectId, call))
      : found;

  const kinds = credentialsOf(event.action, user.ldapIntegrated);
  // Values first (no side effects), so an event failing on its secret claims nothing.
  const newValues = new Map<CredentialKind, SecretValue>();
  // Rules from the cache that values were generated under: CUC refusing one may mean it changed.
  const cachedRules = new Map<string, AuthenticationRule | undefined>();
  const readRule = (ruleId: string) =>
    withFreshAccount((cupi) => cupi.getAuthenticationRule(ruleId, call));
  if (needsNewValue(event.action)) {
    const rules = (ruleId: string) =>
      dependencies.authenticationRules.get(cluster.name, ruleId, () => readRule(ruleId));
    for (const kind of kinds) {
      const generated = await newValueFor(
        event,
        kind,
        user,
        withFreshAccount,
        call,
        secrets,
        rules,
      );
      newValues.set(kind, generated.value);
      if (generated.cachedRule !== undefined) {
        cachedRules.set(generated.cachedRule.ruleId, generated.cachedRule.rule);
      }
    }
  }
  const changes = planChanges(event, user.ldapIntegrated, newValues);
  const attempts = dependencies.attempts;
  // CUC's clock before the claim: then the claim begins the attempts in its own call.
  const clock =
    config.lostAnswerBaseline === "clock"
      ? clockBaselineForClaim(client.clock.latestAnswer, client.clock.offsetMs)
      : undefined;
  const attemptKinds = changes
    .filter((change) => change.update.Credentials !== undefined)
    .map((change) => change.kind);
  const alongside =
    attempts === undefined || clock === undefined || attemptKinds.length === 0
      ? undefined
      : {
          items: attempts.beginWithClaim(event.eventId, attemptKinds, clock.baseline),
          kinds: attemptKinds,
          changedBefore: clock.changedBefore,
        };
  let claim: Claim | undefined;
  try {
    claim = await dependencies.ordering?.claim(
      event,
      user.objectId,
      kinds,
      call.deadline,
      alongside,
    );
  } catch (error) {
    const stale = error instanceof PermanentFailure && error.code === "STALE_EVENT";
    if (!stale || attempts === undefined) throw error;
    const earlier = await earlierAttempts(attempts, event.eventId, changes);
    // Stale now, but an earlier delivery's PUTs landed before the newer event took over: the
    // event was applied (and superseded), not refused.
    if (earlier === "landed") {
      for (const change of changes) {
        effects.changed.push({ credential: change.kind, fields: Object.keys(change.update) });
      }
      const deliverTo = deliveryTarget(event);
      if (deliverTo !== undefined) {
        await afterCucTookIt(() =>
          withdrawSuperseded(secrets, deliverTo, event, [...newValues.keys()]),
        );
      }
      return user;
    }
    // The newer event settles this one's unsettled PUT as it takes over: ask again after it.
    if (earlier === "unsettled") {
      throw new TransientFailure(
        "a newer event holds this credential; this event's earlier PUT is not settled yet",
      );
    }
    throw error;
  }
  const deliverTo = deliveryTarget(event);
  // Values this delivery wrote to the delivery secret (as pending).
  const delivered = new Map<CredentialKind, SecretValue>();
  let completed = false;
  const landed = new Set<CredentialKind>();
  // Changes this delivery started to send (an attempt begun with the claim may never be).
  const sent = new Set<CredentialKind>();
  // When CUC answered this event's PUT of each credential: kept on its watermark for the next.
  const answeredAt = new Map<CredentialKind, number>();
  // TimeChanged read after the claim, while settling another event's attempt.
  const readAfterClaim = new Map<CredentialKind, string>();
  try {
    // Before this event's own attempt: nothing has changed the credential since they held it.
    for (const predecessor of claim?.predecessors ?? []) {
      if (attempts === undefined) break;
      const timeChanged = await settleEarlierAttempt({
        attempts,
        eventId: predecessor.eventId,
        objectId: user.objectId,
        kind: predecessor.kind,
        cupi: withFreshAccount,
        call,
      });
      if (timeChanged !== undefined) readAfterClaim.set(predecessor.kind, timeChanged);
      claim?.settled(predecessor);
    }
    for (const [index, change] of changes.entries()) {
      sent.add(change.kind);
      const value = newValues.get(change.kind);
      // Stored before CUPI is called: a reset whose value nobody could read would lock the user out.
      const deliver = async (): Promise<void> => {
        if (deliverTo === undefined || value === undefined) return;
        await secrets.put(deliverTo, pendingDocument(event, change.kind, value));
        delivered.set(change.kind, value);
      };
      const put = () =>
        withFreshAccount((cupi) =>
          cupi.updateCredential(user.objectId, change.kind, change.update, call),
        );
      let answered: number | undefined;
      if (change.update.Credentials === undefined || attempts === undefined) {
        effects.recorded = false;
        await deliver();
        await put();
        // Settings may move TimeChanged too: the next event's baseline must know of this PUT.
        answered = await withFreshAccount(async (cupi) => cupi.clock.latestAnswer);
      } else {
        answered = await sendNewValue({
          attempts,
          eventId: event.eventId,
          objectId: user.objectId,
          kind: change.kind,
          cupi: withFreshAccount,
          call,
          lastChange: claim?.lastChange(change.kind) ?? "unknown",
          clockBaseline: config.lostAnswerBaseline === "clock",
          timeChangedAfterClaim: readAfterClaim.get(change.kind),
          begun: claim?.alongside === true ? clock?.baseline : undefined,
          morePutsFollow: index < changes.length - 1,
          beforeSending: deliver,
          put,
        });
      }
      if (answered !== undefined) answeredAt.set(change.kind, answered);
      landed.add(change.kind);
      effects.changed.push({ credential: change.kind, fields: Object.keys(change.update) });
    }
    completed = true;
    await afterCucTookIt(() => confirmDeliveries(secrets, event, changes, delivered));
  } catch (error) {
    for (const kind of claim?.alongside === true ? (alongside?.kinds ?? []) : []) {
      if (!sent.has(kind)) await attempts?.forgetAtClose(event.eventId, kind);
    }
    if (delivered.size > 0 && [...newValues.keys()].some((kind) => !landed.has(kind))) {
      // The helpdesk must not hand out a value CUC never took; a retry delivers a new one.
      await secrets.put(deliverTo as string, notAppliedDocument(event)).catch(() => undefined);
    }
    if (cachedRules.size > 0 && error instanceof CupiError && error.kind === "rejected") {
      dependencies.authenticationRules.forget(cluster.name);
      const changed = await rulesChanged(cachedRules, readRule);
      // Refused under the rule as it still stands: the refusal is the event's to carry.
      if (changed) {
        throw new TransientFailure(
          `CUC refused a value generated under a rule that has since changed (${error.message}); retried under the rule as it is now`,
        );
      }
    }
    throw error;
  } finally {
    await claim?.release(completed, answeredAt);
  }
  return user;
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

/**
 * Secrets Manager work once CUC took the change: its failure (throttling, a key the role may not
 * decrypt with, a secret scheduled for deletion) must not make an applied event look refused, so
 * it is retried; the redelivery finds the PUT landed and does this part again.
 */
async function afterCucTookIt(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw new TransientFailure(
      `CUC took the change; updating the delivery secret failed (${error instanceof Error ? error.name : "unknown"})`,
    );
  }
}

/**
 * Once CUC took every change, a delivered value is marked applied: this delivery's own, or the
 * one an earlier delivery wrote whose PUT landed. Failing here retries the event, and its next
 * delivery confirms what it finds pending.
 */
async function confirmDeliveries(
  secrets: SecretStore,
  event: ResetEvent,
  changes: readonly CredentialChange[],
  delivered: ReadonlyMap<CredentialKind, SecretValue>,
): Promise<void> {
  const deliverTo = deliveryTarget(event);
  if (deliverTo === undefined) return;
  for (const change of changes) {
    if (change.update.Credentials === undefined) continue;
    await confirmDelivery(secrets, deliverTo, event, change.kind, delivered.get(change.kind));
  }
}

/**
 * What the attempt log holds of an event's earlier deliveries: every change a new value whose PUT
 * landed, some PUT whose outcome is still unknown, or neither.
 */
async function earlierAttempts(
  attempts: AttemptLog,
  eventId: string,
  changes: readonly CredentialChange[],
): Promise<"landed" | "unsettled" | "none"> {
  let landed = changes.length > 0;
  for (const change of changes) {
    const attempt =
      change.update.Credentials === undefined
        ? undefined
        : await attempts.read(eventId, change.kind);
    if (attempt !== undefined && !attempt.applied) return "unsettled";
    landed &&= attempt?.applied === true;
  }
  return landed ? "landed" : "none";
}

/**
 * The alias the function signs in to CUPI with (the service-account secret's username), read from
 * the cached secret the client was just built from: it follows a rotation to another account.
 */
async function serviceAccountAlias(secrets: SecretStore, cluster: ClusterConfig): Promise<string> {
  const secret = await secrets.cached(cluster.secretId);
  let username: unknown;
  try {
    ({ username } = JSON.parse(secret.reveal()) as { username?: unknown });
  } catch {
    throw new ServiceAccountError(`service-account secret ${cluster.secretId} is not JSON`);
  }
  if (typeof username !== "string" || username === "") {
    throw new ServiceAccountError(
      `service-account secret ${cluster.secretId} needs a string "username"`,
    );
  }
  return username;
}

async function newValueFor(
  event: ResetEvent,
  kind: CredentialKind,
  user: CupiUser,
  withFreshAccount: <T>(operation: (cupi: CupiClient) => Promise<T>) => Promise<T>,
  call: RecordCall,
  secrets: SecretStore,
  rules: (ruleId: string) => Promise<KnownRule>,
): Promise<{
  readonly value: SecretValue;
  /** The rule it was generated under, when that came from the cache. */
  readonly cachedRule?: { readonly ruleId: string; readonly rule: AuthenticationRule | undefined };
}> {
  const source = event.newCredential;
  if (source !== undefined && "secretId" in source) {
    const value = selectSecretValue(
      source.secretId,
      await secrets.fresh(source.secretId),
      source.jsonKey,
    );
    return { value };
  }
  // Generated: offboarding, or `{ "generate": true }`. Respect the user's rule and extensions.
  const [credential, alternateExtensions] = await withFreshAccount((cupi) =>
    Promise.all([
      cupi.getCredential(user.objectId, kind, call),
      kind === "pin" ? cupi.getAlternateExtensions(user.objectId, call) : Promise.resolve([]),
    ]),
  );
  const ruleId = credential.credentialPolicyObjectId;
  const known: KnownRule =
    ruleId === undefined
      ? { rule: undefined, cached: false }
      : await rules(ruleId).catch((error: unknown) => {
          // A rule that cannot be read leaves the generator's own, stricter defaults.
          if (error instanceof CupiError && error.kind === "not-found") {
            return { rule: undefined, cached: false };
          }
          throw error;
        });
  const context = policyContextFor(user, known.rule, alternateExtensions);
  const value = new SecretValue(kind === "pin" ? generatePin(context) : generatePassword(context));
  return ruleId !== undefined && known.cached
    ? { value, cachedRule: { ruleId, rule: known.rule } }
    : { value };
}
