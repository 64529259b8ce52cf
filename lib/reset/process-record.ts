import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyUnknownError,
  IdempotencyValidationError,
  makeIdempotent,
} from "@aws-lambda-powertools/idempotency";
import type { BasePersistenceLayer } from "@aws-lambda-powertools/idempotency/persistence";
import type { Context } from "aws-lambda";
import type { AccountRef, AuthorizationPolicy } from "../authorization/policy.ts";
import type { ClusterConfig, ServiceConfig } from "../config/config.ts";
import type { CupiClient } from "../cupi/client.ts";
import { CupiError } from "../cupi/errors.ts";
import type { CredentialKind, CupiUser } from "../cupi/types.ts";
import type { ResetEvent } from "../events/contract.ts";
import { type ParsedRecord, parseRecordBody } from "../events/parse.ts";
import { type ErrorCode, PermanentFailure, TransientFailure } from "../outcome/failures.ts";
import { CredentialGenerationError } from "../policy/errors.ts";
import { generatePassword, generatePin, policyContextFor } from "../policy/index.ts";
import { secretName } from "../secrets/secret-name.ts";
import {
  SecretNotFoundError,
  type SecretStore,
  SecretUnavailableError,
  selectSecretValue,
} from "../secrets/secret-store.ts";
import { SecretValue } from "../secrets/secret-value.ts";
import type { AttemptLog } from "./attempts.ts";
import { type CupiConnections, ServiceAccountError } from "./cupi-connections.ts";
import { sendNewValue, settleEarlierAttempt } from "./lost-answers.ts";
import type { Claim, OrderingGuard } from "./ordering.ts";
import { type CredentialChange, credentialsOf, needsNewValue, planChanges } from "./plan.ts";

export interface ResetDependencies {
  readonly config: ServiceConfig;
  /** Which source may request which action, and the accounts never changed. */
  readonly authorization: AuthorizationPolicy;
  readonly secrets: SecretStore;
  readonly connections: CupiConnections;
  /** Refuses events older than what was already applied; off without a state table. */
  readonly ordering?: OrderingGuard | undefined;
  /** PUTs whose outcome was never learned; off without a state table. */
  readonly attempts?: AttemptLog | undefined;
  /** Applies each eventId once; off without a state table. */
  readonly idempotency?: { readonly persistenceStore: BasePersistenceLayer } | undefined;
}

/** A record's CUPI calls: bounded by its deadline, cut by its signal. */
type RecordCall = { readonly deadline: number; readonly signal?: AbortSignal };

/** What is remembered of an applied event; a duplicate delivery gets it back unchanged. */
export interface AppliedReset {
  readonly objectId: string;
  readonly alias: string;
  readonly appliedAt: string;
  /** True when this delivery was a duplicate of an event already applied. */
  readonly duplicate: boolean;
}

/** The CUPI field names one PUT changed on one credential; never their values. */
export interface FieldsChanged {
  readonly credential: CredentialKind;
  readonly fields: readonly string[];
}

/**
 * What an attempt learnt and did, for the audit record: filled in as it goes, so that a failure
 * after a first PUT (an offboard whose password is refused) still says what was changed.
 */
export interface AttemptEffects {
  user: { readonly alias: string; readonly objectId: string } | undefined;
  /** Changes this delivery made or found made by an earlier delivery of the event. */
  readonly changed: FieldsChanged[];
  /**
   * Every change is in the attempt log: if this delivery ends in a retry, the delivery that
   * settles the event finds them there and audits them, so this one does not.
   */
  recorded: boolean;
}

/** What became of a record; every record ends in exactly one of these. */
export type RecordOutcome =
  | {
      readonly status: "applied";
      readonly event: ResetEvent;
      readonly applied: AppliedReset;
      readonly effects?: AttemptEffects;
    }
  | {
      readonly status: "dead-lettered";
      readonly code: ErrorCode;
      readonly reason: string;
      readonly event: ResetEvent | undefined;
      readonly eventId: string | undefined;
      readonly effects?: AttemptEffects;
    }
  | {
      readonly status: "retry";
      readonly reason: string;
      readonly event: ResetEvent | undefined;
      readonly effects?: AttemptEffects;
      /** CUC is known to be unavailable: the next try waits the longest backoff. */
      readonly cucUnavailable?: boolean;
      /** How long the record stays hidden before its next receive, once that is set. */
      readonly retryInSeconds?: number;
    };

/** Hears of an event applied by this delivery (never of a duplicate). */
export type OnApplied = (outcome: Extract<RecordOutcome, { status: "applied" }>) => void;

/**
 * Applies SQS message bodies: validate, authorize against configuration and the authorization
 * policy (protected accounts before and right after the user lookup), resolve the user, check
 * ordering, fetch or generate the new values, and PUT them to CUPI — once per eventId. Permanent
 * failures come back as `dead-lettered` (and are not remembered, so a replay after a fix runs
 * again), transient ones as `retry`; it only throws on a bug.
 */
export class ResetProcessor {
  readonly #apply: (
    event: ResetEvent,
    call: RecordCall,
    effects: AttemptEffects,
    onApplied: OnApplied | undefined,
  ) => Promise<AppliedReset>;
  readonly #idempotencyConfig: IdempotencyConfig | undefined;

  constructor(dependencies: ResetDependencies) {
    const apply = async (
      event: ResetEvent,
      call: RecordCall,
      effects: AttemptEffects,
      onApplied: OnApplied | undefined,
    ): Promise<AppliedReset> => {
      const user = await applyEvent(event, call, dependencies, effects);
      const applied = {
        objectId: user.objectId,
        alias: user.alias,
        appliedAt: new Date().toISOString(),
        duplicate: false,
      };
      // Before the event is remembered as applied: a container killed in between leaves it to be
      // applied (and so reported) again, never remembered and unreported.
      onApplied?.({ status: "applied", event, applied, effects });
      return applied;
    };
    const idempotency = dependencies.idempotency;
    if (idempotency === undefined) {
      this.#apply = apply;
      this.#idempotencyConfig = undefined;
      return;
    }
    this.#idempotencyConfig = new IdempotencyConfig({
      // The producer's business id: SQS messageIds change on redrive and replay.
      eventKeyJmesPath: "eventId",
      // The same eventId with another payload is a producer bug, not a duplicate.
      payloadValidationJmesPath: "@",
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: dependencies.config.idempotencyExpirySeconds,
      responseHook: (response) => ({ ...(response as unknown as AppliedReset), duplicate: true }),
    });
    this.#apply = makeIdempotent(apply, {
      persistenceStore: idempotency.persistenceStore,
      config: this.#idempotencyConfig,
      // Stable across function renames and stages sharing a table.
      keyPrefix: "cupi-reset",
      dataIndexArgument: 0,
    });
  }

  /** In-progress idempotency records then expire with the invocation that wrote them. */
  registerLambdaContext(context: Context): void {
    this.#idempotencyConfig?.registerLambdaContext(context);
  }

  process(body: string, deadline: number, signal?: AbortSignal): Promise<RecordOutcome> {
    return this.processParsed(parseRecordBody(body), deadline, signal);
  }

  /**
   * `deadline` (epoch ms) bounds the record's CUPI calls; `signal` cuts every CUPI call of the
   * record when it aborts (its AWS calls are cut by the caller's abort scope). `onApplied` hears
   * of an event this delivery applied before the event is remembered as applied.
   */
  async processParsed(
    parsed: ParsedRecord,
    deadline: number,
    signal?: AbortSignal,
    onApplied?: OnApplied,
  ): Promise<RecordOutcome> {
    if (!parsed.ok) {
      return {
        status: "dead-lettered",
        code: "INVALID_EVENT",
        reason: parsed.reason,
        event: undefined,
        eventId: parsed.eventId,
      };
    }
    const { event } = parsed;
    const effects: AttemptEffects = { user: undefined, changed: [], recorded: true };
    try {
      const call = signal === undefined ? { deadline } : { deadline, signal };
      const applied = await this.#apply(event, call, effects, onApplied);
      return { status: "applied", event, applied, effects };
    } catch (error) {
      const failure = classify(error, event, signal);
      return failure instanceof PermanentFailure
        ? {
            status: "dead-lettered",
            code: failure.code,
            reason: failure.message,
            event,
            eventId: event.eventId,
            effects,
          }
        : {
            status: "retry",
            reason: failure.message,
            event,
            effects,
            cucUnavailable: failure.cucUnavailable,
          };
    }
  }
}

async function applyEvent(
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
  if (needsNewValue(event.action)) {
    for (const kind of kinds) {
      newValues.set(kind, await newValueFor(event, kind, user, withFreshAccount, call, secrets));
    }
  }
  const changes = planChanges(event, user.ldapIntegrated, newValues);
  const attempts = dependencies.attempts;
  let claim: Claim | undefined;
  try {
    claim = await dependencies.ordering?.claim(event, user.objectId, kinds, call.deadline);
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
  if (attempts !== undefined) {
    for (const predecessor of claim?.predecessors ?? []) {
      await settleEarlierAttempt({
        attempts,
        eventId: predecessor.eventId,
        objectId: user.objectId,
        kind: predecessor.kind,
        cupi: withFreshAccount,
        call,
      });
    }
  }
  const deliverTo = deliveryTarget(event);
  let delivered = false;
  let completed = false;
  const landed = new Set<CredentialKind>();
  try {
    for (const change of changes) {
      const value = newValues.get(change.kind);
      // Stored before CUPI is called: a reset whose value nobody could read would lock the user out.
      const deliver = async (): Promise<void> => {
        if (deliverTo === undefined || value === undefined) return;
        await secrets.put(deliverTo, deliveryDocument(event, { [change.kind]: value.reveal() }));
        delivered = true;
      };
      const put = () =>
        withFreshAccount((cupi) =>
          cupi.updateCredential(user.objectId, change.kind, change.update, call),
        );
      if (change.update.Credentials === undefined || attempts === undefined) {
        effects.recorded = false;
        await deliver();
        await put();
      } else {
        await sendNewValue({
          attempts,
          eventId: event.eventId,
          objectId: user.objectId,
          kind: change.kind,
          cupi: withFreshAccount,
          call,
          beforeSending: deliver,
          put,
        });
      }
      landed.add(change.kind);
      effects.changed.push({ credential: change.kind, fields: Object.keys(change.update) });
    }
    completed = true;
  } catch (error) {
    if (delivered && [...newValues.keys()].some((kind) => !landed.has(kind))) {
      // The helpdesk must not hand out a value CUC never took; a retry delivers a new one.
      await secrets
        .put(deliverTo as string, deliveryDocument(event, { status: "not-applied" }))
        .catch(() => undefined);
    }
    throw error;
  } finally {
    await claim?.release(completed);
  }
  return user;
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
 * This service's own configuration and authorization policy: allowed actions (both must allow),
 * known clusters, delivery secrets.
 */
function authorize(
  event: ResetEvent,
  config: ServiceConfig,
  authorization: AuthorizationPolicy,
): ClusterConfig {
  if (!config.allowedActions.has(event.action)) {
    throw new PermanentFailure(
      "ACTION_NOT_ALLOWED",
      `action ${event.action} is not in this deployment's ALLOWED_ACTIONS`,
    );
  }
  const sourceRefusal = authorization.refusalForSource(event.source, event.action);
  if (sourceRefusal !== undefined) throw new PermanentFailure("ACTION_NOT_ALLOWED", sourceRefusal);
  const source = event.newCredential;
  if (source !== undefined && "secretId" in source) {
    // The function can read the service account's secret: an event must never point at it.
    if (config.serviceAccountSecretNames.has(secretName(source.secretId))) {
      throw new PermanentFailure(
        "ACTION_NOT_ALLOWED",
        "newCredential.secretId names a CUPI service-account secret",
      );
    }
    const prefix = config.resetSecretPrefix;
    if (prefix !== undefined && !secretName(source.secretId).startsWith(prefix)) {
      throw new PermanentFailure(
        "ACTION_NOT_ALLOWED",
        `newCredential.secretId must start with ${prefix}`,
      );
    }
  }
  const deliverTo = deliveryTarget(event);
  if (deliverTo !== undefined) {
    const prefix = config.deliverySecretPrefix;
    if (prefix === undefined || !secretName(deliverTo).startsWith(prefix)) {
      throw new PermanentFailure(
        "ACTION_NOT_ALLOWED",
        prefix === undefined
          ? "deliverTo is not enabled here (DELIVERY_SECRET_PREFIX is not set)"
          : `deliverTo secret must start with ${prefix}`,
      );
    }
  }
  const cluster =
    event.cluster === undefined ? config.defaultCluster : config.clusters.get(event.cluster);
  if (cluster === undefined) {
    throw new PermanentFailure(
      "ACTION_NOT_ALLOWED",
      event.cluster === undefined
        ? "the event names no cluster and no default cluster is configured"
        : `cluster ${event.cluster} is not configured in CUPI_CLUSTERS`,
    );
  }
  return cluster;
}

function refuseProtectedAccount(
  authorization: AuthorizationPolicy,
  account: AccountRef,
  serviceAccount: string,
): void {
  const refusal = authorization.refusalForAccount(account, serviceAccount);
  if (refusal !== undefined) throw new PermanentFailure("ACTION_NOT_ALLOWED", refusal);
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
): Promise<SecretValue> {
  const source = event.newCredential;
  if (source !== undefined && "secretId" in source) {
    return selectSecretValue(source.secretId, await secrets.fresh(source.secretId), source.jsonKey);
  }
  // Generated: offboarding, or `{ "generate": true }`. Respect the user's rule and extensions.
  const [credential, alternateExtensions] = await withFreshAccount((cupi) =>
    Promise.all([
      cupi.getCredential(user.objectId, kind, call),
      kind === "pin" ? cupi.getAlternateExtensions(user.objectId, call) : Promise.resolve([]),
    ]),
  );
  const ruleId = credential.credentialPolicyObjectId;
  const rule =
    ruleId === undefined
      ? undefined
      : await withFreshAccount((cupi) => cupi.getAuthenticationRule(ruleId, call)).catch(
          (error: unknown) => {
            // A rule that cannot be read leaves the generator's own, stricter defaults.
            if (error instanceof CupiError && error.kind === "not-found") return undefined;
            throw error;
          },
        );
  const context = policyContextFor(user, rule, alternateExtensions);
  return new SecretValue(kind === "pin" ? generatePin(context) : generatePassword(context));
}

function deliveryTarget(event: ResetEvent): string | undefined {
  const source = event.newCredential;
  return source !== undefined && "generate" in source ? source.deliverTo?.secretId : undefined;
}

function deliveryDocument(event: ResetEvent, content: Record<string, string>): SecretValue {
  return new SecretValue(
    JSON.stringify({
      ...content,
      eventId: event.eventId,
      ...(event.ticketId === undefined ? {} : { ticketId: event.ticketId }),
      writtenAt: new Date().toISOString(),
    }),
  );
}

const CUPI_CODES: Partial<Record<CupiError["kind"], ErrorCode>> = {
  "not-found": "USER_NOT_FOUND",
  ambiguous: "AMBIGUOUS_USER",
  rejected: "CREDENTIAL_REJECTED",
  "not-permitted": "NOT_PERMITTED",
  "invalid-input": "INVALID_EVENT",
};

/** Turns any failure into a permanent (DLQ) or transient (redeliver) verdict with a reason. */
function classify(
  error: unknown,
  event: ResetEvent,
  signal: AbortSignal | undefined,
): PermanentFailure | TransientFailure {
  if (error instanceof PermanentFailure || error instanceof TransientFailure) return error;
  // Whatever the call made of being cut short, the deadline is what failed it: retried.
  if (signal?.aborted === true) {
    const reason = signal.reason instanceof Error ? signal.reason.message : "aborted";
    // CupiError messages are redacted; of anything else only the type is safe to log.
    const detail =
      error instanceof CupiError
        ? `: ${error.message}`
        : error instanceof Error
          ? ` (${error.name})`
          : "";
    return new TransientFailure(`${reason}${detail}`);
  }
  if (error instanceof IdempotencyValidationError) {
    return new PermanentFailure(
      "INVALID_EVENT",
      `eventId ${event.eventId} was already used for a different event; a new event needs a new eventId`,
    );
  }
  if (error instanceof IdempotencyAlreadyInProgressError) {
    return new TransientFailure("another delivery of this eventId is being processed");
  }
  if (error instanceof IdempotencyUnknownError) {
    return new TransientFailure(`idempotency store unavailable (${error.name})`);
  }
  if (error instanceof CupiError) {
    // Faults of the deployment rather than of the event (an untrusted certificate, a redirect,
    // an unreadable answer) are retried too: dead-lettering every event on its first receive
    // would leave no time to fix the configuration while the queue-age alarm fires.
    const code = error.retryable ? undefined : CUPI_CODES[error.kind];
    if (code === undefined) {
      return new TransientFailure(error.message, { cucUnavailable: error.kind === "unavailable" });
    }
    const reason =
      error.kind === "rejected" && error.cupiMessage !== undefined
        ? `CUPI refused the change: ${error.cupiMessage}`
        : error.message;
    // A value CUPI cannot carry was never sent: the credential, not the event, is at fault.
    return new PermanentFailure(
      error.kind === "invalid-input" && error.operation.startsWith("updateCredential")
        ? "CREDENTIAL_REJECTED"
        : code,
      reason,
    );
  }
  if (error instanceof SecretNotFoundError) {
    return new PermanentFailure("SECRET_NOT_FOUND", error.message);
  }
  if (error instanceof CredentialGenerationError) {
    return new PermanentFailure("CREDENTIAL_REJECTED", error.message);
  }
  // The service account's secret is the deployment's, not the event's: retried like the above.
  if (error instanceof SecretUnavailableError || error instanceof ServiceAccountError) {
    return new TransientFailure(error.message);
  }
  // Unknown failures (bugs included) are retried, then dead-lettered by the redrive policy:
  // never dropped, never dead-lettered with a guessed reason.
  return new TransientFailure(
    `unexpected error: ${error instanceof Error ? error.name : typeof error}`,
  );
}
