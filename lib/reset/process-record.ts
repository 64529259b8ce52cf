import type { ClusterConfig, ServiceConfig } from "../config/config.ts";
import type { CupiClient } from "../cupi/client.ts";
import { CupiError } from "../cupi/errors.ts";
import type { CredentialKind, CupiUser } from "../cupi/types.ts";
import type { ResetEvent } from "../events/contract.ts";
import { parseRecordBody } from "../events/parse.ts";
import { CredentialGenerationError } from "../policy/errors.ts";
import { generatePassword, generatePin, policyContextFor } from "../policy/index.ts";
import {
  SecretNotFoundError,
  type SecretStore,
  SecretUnavailableError,
  selectSecretValue,
} from "../secrets/secret-store.ts";
import { SecretValue } from "../secrets/secret-value.ts";
import { type CupiConnections, ServiceAccountError } from "./cupi-connections.ts";
import { type ErrorCode, PermanentFailure, TransientFailure } from "./outcome.ts";
import { credentialsOf, needsNewValue, planChanges } from "./plan.ts";

export interface ResetDependencies {
  readonly config: ServiceConfig;
  readonly secrets: SecretStore;
  readonly connections: CupiConnections;
}

/** What became of a record; every record ends in exactly one of these. */
export type RecordOutcome =
  | { readonly status: "applied"; readonly event: ResetEvent; readonly user: CupiUser }
  | {
      readonly status: "dead-lettered";
      readonly code: ErrorCode;
      readonly reason: string;
      readonly event: ResetEvent | undefined;
      readonly eventId: string | undefined;
    }
  | { readonly status: "retry"; readonly reason: string; readonly event: ResetEvent | undefined };

/**
 * Applies one SQS message body: validate, authorize against configuration, resolve the user,
 * fetch or generate the new values, and PUT them to CUPI. Permanent failures come back as
 * `dead-lettered`, transient ones as `retry`; it only throws on a bug.
 */
export async function processRecordBody(
  body: string,
  deadline: number,
  dependencies: ResetDependencies,
): Promise<RecordOutcome> {
  const parsed = parseRecordBody(body);
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
  try {
    const user = await applyEvent(event, deadline, dependencies);
    return { status: "applied", event, user };
  } catch (error) {
    const failure = classify(error);
    return failure instanceof PermanentFailure
      ? {
          status: "dead-lettered",
          code: failure.code,
          reason: failure.message,
          event,
          eventId: event.eventId,
        }
      : { status: "retry", reason: failure.message, event };
  }
}

async function applyEvent(
  event: ResetEvent,
  deadline: number,
  { config, secrets, connections }: ResetDependencies,
): Promise<CupiUser> {
  const cluster = authorize(event, config);
  const call = { deadline };
  let client = await connections.client(cluster);
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
  // A user list may not say whether the user is LDAP-integrated; offboarding must know.
  const user =
    event.action === "offboard" && "alias" in event.user
      ? await withFreshAccount((cupi) => cupi.getUser(found.objectId, call))
      : found;

  const newValues = new Map<CredentialKind, SecretValue>();
  if (needsNewValue(event.action)) {
    for (const kind of credentialsOf(event.action, user.ldapIntegrated)) {
      newValues.set(
        kind,
        await newValueFor(event, kind, user, (operation) => withFreshAccount(operation), {
          secrets,
          deadline,
        }),
      );
    }
  }
  for (const change of planChanges(event, user.ldapIntegrated, newValues)) {
    await withFreshAccount((cupi) =>
      cupi.updateCredential(user.objectId, change.kind, change.update, call),
    );
  }
  return user;
}

/** This service's own configuration: allowed actions, known clusters, delivery secrets. */
function authorize(event: ResetEvent, config: ServiceConfig): ClusterConfig {
  if (!config.allowedActions.has(event.action)) {
    throw new PermanentFailure(
      "ACTION_NOT_ALLOWED",
      `action ${event.action} is not in this deployment's ALLOWED_ACTIONS`,
    );
  }
  const deliverTo =
    event.newCredential !== undefined && "generate" in event.newCredential
      ? event.newCredential.deliverTo
      : undefined;
  if (deliverTo !== undefined) {
    const prefix = config.deliverySecretPrefix;
    if (prefix === undefined || !deliverTo.secretId.startsWith(prefix)) {
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

async function newValueFor(
  event: ResetEvent,
  kind: CredentialKind,
  user: CupiUser,
  withFreshAccount: <T>(operation: (cupi: CupiClient) => Promise<T>) => Promise<T>,
  { secrets, deadline }: { secrets: SecretStore; deadline: number },
): Promise<SecretValue> {
  const source = event.newCredential;
  if (source !== undefined && "secretId" in source) {
    return selectSecretValue(source.secretId, await secrets.fresh(source.secretId), source.jsonKey);
  }
  // Generated: offboarding, or `{ "generate": true }`. Respect the user's rule and extensions.
  const call = { deadline };
  const [credential, alternateExtensions] = await withFreshAccount((cupi) =>
    Promise.all([
      cupi.getCredential(user.objectId, kind, call),
      kind === "pin" ? cupi.getAlternateExtensions(user.objectId, call) : Promise.resolve([]),
    ]),
  );
  const rule =
    credential.credentialPolicyObjectId === undefined
      ? undefined
      : await withFreshAccount((cupi) =>
          cupi.getAuthenticationRule(credential.credentialPolicyObjectId as string, call),
        );
  const context = policyContextFor(user, rule, alternateExtensions);
  const value = new SecretValue(kind === "pin" ? generatePin(context) : generatePassword(context));
  if (source !== undefined && "generate" in source && source.deliverTo !== undefined) {
    // Stored before CUPI is called: a reset whose value nobody could read would lock the user out.
    await secrets.put(source.deliverTo.secretId, deliveryDocument(event, kind, value));
  }
  return value;
}

function deliveryDocument(
  event: ResetEvent,
  kind: CredentialKind,
  value: SecretValue,
): SecretValue {
  return new SecretValue(
    JSON.stringify({
      [kind]: value.reveal(),
      eventId: event.eventId,
      ...(event.ticketId === undefined ? {} : { ticketId: event.ticketId }),
      generatedAt: new Date().toISOString(),
    }),
  );
}

const CUPI_CODES: Partial<Record<CupiError["kind"], ErrorCode>> = {
  "not-found": "USER_NOT_FOUND",
  ambiguous: "AMBIGUOUS_USER",
  rejected: "CREDENTIAL_REJECTED",
  "not-permitted": "NOT_PERMITTED",
  "invalid-input": "INVALID_EVENT",
  "client-bug": "CUPI_ERROR",
  tls: "CUPI_ERROR",
};

/** Turns any failure into a permanent (DLQ) or transient (redeliver) verdict with a reason. */
function classify(error: unknown): PermanentFailure | TransientFailure {
  if (error instanceof PermanentFailure || error instanceof TransientFailure) return error;
  if (error instanceof CupiError) {
    const code = error.retryable ? undefined : CUPI_CODES[error.kind];
    if (code === undefined) return new TransientFailure(error.message);
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
  if (error instanceof SecretNotFoundError || error instanceof ServiceAccountError) {
    return new PermanentFailure("SECRET_NOT_FOUND", error.message);
  }
  if (error instanceof CredentialGenerationError) {
    return new PermanentFailure("CREDENTIAL_REJECTED", error.message);
  }
  if (error instanceof SecretUnavailableError) return new TransientFailure(error.message);
  // Unknown failures (bugs included) are retried, then dead-lettered by the redrive policy:
  // never dropped, never dead-lettered with a guessed reason.
  return new TransientFailure(
    `unexpected error: ${error instanceof Error ? error.name : typeof error}`,
  );
}
