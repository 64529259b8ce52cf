// Whether the reset function would take an event, as far as can be told without AWS or CUC: the
// contract, then this deployment's configuration and authorization policy as the shell sets them.
import { type AuthorizationPolicy, loadAuthorizationPolicy } from "../authorization/policy.ts";
import { loadConfig, type ServiceConfig } from "../config/config.ts";
import type { ResetEvent } from "../events/contract.ts";
import { parseRecordBody } from "../events/parse.ts";
import { type ErrorCode, PermanentFailure } from "../outcome/failures.ts";
import { authorize, refuseProtectedAccount } from "../reset/authorize.ts";

export type EventVerdict =
  | { readonly ok: true; readonly event: ResetEvent }
  | { readonly ok: false; readonly errorCode: ErrorCode; readonly reason: string };

export interface OfflineRules {
  readonly config: ServiceConfig;
  readonly policy: AuthorizationPolicy;
  /** Whether the shell names the CUC clusters, so that an event's `cluster` can be checked. */
  readonly checksCluster: boolean;
}

/**
 * The service account's alias is in its secret, which an offline check does not read. No alias
 * is empty, so this protects nobody more: the function itself still refuses the service account.
 */
const SERVICE_ACCOUNT_NOT_READ = "";

/**
 * The rules as the function would load them from this environment: ALLOWED_ACTIONS,
 * RESET_SECRET_PREFIX, DELIVERY_SECRET_PREFIX, AUTHORIZATION_POLICY_PATH (else the built-in
 * policy), CUPI_CLUSTERS. Checking an event needs neither the DLQ nor a CUC connection: when the
 * shell names none, stand-ins satisfy the configuration's loader, and the cluster goes unchecked.
 */
export function offlineRulesFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): OfflineRules {
  const checksCluster = Boolean(env.CUPI_BASE_URL?.trim() || env.CUPI_CLUSTERS?.trim());
  const config = loadConfig({
    DLQ_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/offline-check",
    ...(checksCluster
      ? {}
      : // A secret name no event can carry (it has spaces): it refuses no event's secretId.
        { CUPI_BASE_URL: "https://cuc.invalid", CUPI_SECRET_ID: "no service account here" }),
    ...Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim())),
  });
  return {
    config,
    policy: loadAuthorizationPolicy(config.authorizationPolicyPath),
    checksCluster,
  };
}

/**
 * The verdict on a message body: refused as the function would refuse it before calling CUC, or
 * the event. Protected accounts are checked as the event names the user; the function checks the
 * user CUC returns too (the same person under another name), which needs CUC.
 */
export function checkEventOffline(body: string, rules: OfflineRules): EventVerdict {
  const parsed = parseRecordBody(body);
  if (!parsed.ok) return { ok: false, errorCode: "INVALID_EVENT", reason: parsed.reason };
  const { cluster: _unchecked, ...withoutCluster } = parsed.event;
  try {
    authorize(rules.checksCluster ? parsed.event : withoutCluster, rules.config, rules.policy);
    refuseProtectedAccount(rules.policy, parsed.event.user, SERVICE_ACCOUNT_NOT_READ);
  } catch (error) {
    if (!(error instanceof PermanentFailure)) throw error;
    return { ok: false, errorCode: error.code, reason: error.message };
  }
  return { ok: true, event: parsed.event };
}
