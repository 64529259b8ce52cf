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
import type { BlastRadiusGuard } from "../guard/blast-radius.ts";
import { PermanentFailure, TransientFailure } from "../outcome/failures.ts";
import type { SecretStore } from "../secrets/secret-store.ts";
import type { SecretValue } from "../secrets/secret-value.ts";
import type { AttemptLog } from "./attempts.ts";
import type { AuthenticationRuleCache } from "./authentication-rules.ts";
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
import {
  type NewValue,
  newValueFor,
  rulesChanged,
  type ValueSources,
  valueForUser,
} from "./new-values.ts";
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
  /** Bounds the changes per source and per user in an hour; off without a state table. */
  readonly guard?: BlastRadiusGuard | undefined;
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
  // Offboarding must know whether the user is LDAP-integrated: read the user if the list left
  // its LdapType out (CUC's list shows it; a list trimmed by a proxy or a release might not).
  const user =
    event.action === "offboard" && found.ldapTypeMissing === true
      ? await withFreshAccount((cupi) => cupi.getUser(found.objectId, call))
      : found;

  const kinds = credentialsOf(event.action, user.ldapIntegrated);
  // Values first (no side effects), so an event failing on its secret claims nothing.
  const newValues = new Map<CredentialKind, SecretValue>();
  // Rules from the cache that values were generated under: CUC refusing one may mean it changed.
  const cachedRules = new Map<string, AuthenticationRule | undefined>();
  // Credentials whose value was generated without the user's own rule and alternate extensions.
  const withoutUserReads = new Set<CredentialKind>();
  const useValue = (kind: CredentialKind, generated: NewValue): void => {
    newValues.set(kind, generated.value);
    if (generated.cachedRule !== undefined) {
      cachedRules.set(generated.cachedRule.ruleId, generated.cachedRule.rule);
    }
    if (generated.withoutUserReads === true) withoutUserReads.add(kind);
  };
  const sources: ValueSources = {
    secrets,
    rules: dependencies.authenticationRules,
    cluster: cluster.name,
    cupi: withFreshAccount,
    call,
  };
  if (needsNewValue(event.action)) {
    for (const kind of kinds) useValue(kind, await newValueFor(event, kind, user, sources));
  }
  const changes = planChanges(event, user.ldapIntegrated, newValues);
  // Counted with the claim, last before anything changes: a refused or held event changed nothing.
  const guardWrites = await dependencies.guard?.writesFor(
    event.eventId,
    event.source,
    user.objectId,
  );
  if (dependencies.ordering === undefined) await guardWrites?.writeAlone();
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
      guardWrites,
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
        { conflict: "ordering" },
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
    for (const [index, planned] of changes.entries()) {
      sent.add(planned.kind);
      const send = async (
        change: CredentialChange,
        begunWithClaim: boolean,
      ): Promise<number | undefined> => {
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
        if (change.update.Credentials === undefined || attempts === undefined) {
          effects.recorded = false;
          await deliver();
          await put();
          // Settings may move TimeChanged too: the next event's baseline must know of this PUT.
          return withFreshAccount(async (cupi) => cupi.clock.latestAnswer);
        }
        return sendNewValue({
          attempts,
          eventId: event.eventId,
          objectId: user.objectId,
          kind: change.kind,
          cupi: withFreshAccount,
          call,
          lastChange: claim?.lastChange(change.kind) ?? "unknown",
          clockBaseline: config.lostAnswerBaseline === "clock",
          timeChangedAfterClaim: readAfterClaim.get(change.kind),
          begun: begunWithClaim ? clock?.baseline : undefined,
          morePutsFollow: index < changes.length - 1,
          beforeSending: deliver,
          put,
        });
      };
      let change = planned;
      let answered: number | undefined;
      try {
        answered = await send(change, claim?.alongside === true);
      } catch (error) {
        const refused = error instanceof CupiError && error.kind === "rejected";
        if (!refused || !withoutUserReads.has(change.kind)) throw error;
        // Generated under the strictest rule seen, not the user's own: the user may be under a
        // stricter (or changed) rule, or hold the value as an alternate extension. Once more,
        // generated for the user, in this delivery (the refused PUT changed nothing).
        withoutUserReads.delete(change.kind);
        dependencies.authenticationRules.forget(cluster.name);
        const regenerated = await valueForUser(change.kind, user, sources);
        useValue(change.kind, regenerated);
        change = { ...change, update: { ...change.update, Credentials: regenerated.value } };
        answered = await send(change, false);
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
      const changed = await rulesChanged(cachedRules, (ruleId) =>
        withFreshAccount((cupi) => cupi.getAuthenticationRule(ruleId, call)),
      );
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
