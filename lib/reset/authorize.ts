// Whether this deployment may do what an event asks: its configuration and authorization policy.
import type { AccountRef, AuthorizationPolicy } from "../authorization/policy.ts";
import type { ClusterConfig, ServiceConfig } from "../config/config.ts";
import type { ResetEvent } from "../events/contract.ts";
import { PermanentFailure } from "../outcome/failures.ts";
import { secretName } from "../secrets/secret-name.ts";
import { deliveryTarget } from "./delivery.ts";

/**
 * This service's own configuration and authorization policy: allowed actions (both must allow),
 * known clusters, delivery secrets.
 */
export function authorize(
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

export function refuseProtectedAccount(
  authorization: AuthorizationPolicy,
  account: AccountRef,
  serviceAccount: string,
): void {
  const refusal = authorization.refusalForAccount(account, serviceAccount);
  if (refusal !== undefined) throw new PermanentFailure("ACTION_NOT_ALLOWED", refusal);
}
