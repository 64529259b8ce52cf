// What a deployment's parameters must be: the checks `osls package` runs before building anything,
// so that a stack that would retry every event is never deployed.
import { ConfigurationError, loadConfig } from "../lib/config/config.ts";

/** The parameters as osls resolved them (CLI `--param`, then the stage's, then the defaults). */
export type DeploymentParameters = Readonly<Record<string, string | undefined>>;

export interface DeploymentVerdict {
  /** Each a sentence naming the parameter; any error stops packaging. */
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** The secrets of the CUC service accounts the function may read: names or ARNs. */
  readonly serviceAccountSecrets: readonly string[];
}

// EC2's resource ids: the prefix, then 8 or 17 hex digits.
const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const SECURITY_GROUP_ID = /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const PLACEHOLDER_ID = /^(?:subnet|sg)-0+$/;

/** Stands in for CloudFormation references (the DLQ's URL, the table's name) while checking. */
const RESOURCE_PLACEHOLDERS: Readonly<Record<string, string>> = {
  DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/cupi-reset-dlq",
  STATE_TABLE: "cupi-reset-state",
};

/**
 * Checks the parameters and the reset function's environment built from them (`environment`:
 * values that are CloudFormation references are not strings and are checked as placeholders), by
 * the function's own `loadConfig`, so a setting it would refuse at cold start fails packaging
 * instead, with the same words. `parameterOf` names the parameter an environment variable comes
 * from, for the messages.
 */
export function checkDeployment(
  parameters: DeploymentParameters,
  environment: Readonly<Record<string, unknown>>,
  parameterOf: (variable: string) => string | undefined,
): DeploymentVerdict {
  const errors: string[] = [];
  const warnings: string[] = [];
  const value = (name: string) => parameters[name]?.trim() ?? "";

  if (value("cupiBaseUrl") === "" && value("cupiClusters") === "") {
    errors.push(
      'parameter cupiBaseUrl is required: --param="cupiBaseUrl=https://<your CUC publisher>" (or cupiClusters, for several clusters)',
    );
  }
  errors.push(...resourceIdErrors("subnetIds", value("subnetIds"), SUBNET_ID, "subnet-0abc…"));
  errors.push(
    ...resourceIdErrors(
      "securityGroupIds",
      value("securityGroupIds"),
      SECURITY_GROUP_ID,
      "sg-0abc…",
    ),
  );
  if (!["true", "false"].includes(value("fifo"))) {
    errors.push(`parameter fifo must be "true" or "false", not ${JSON.stringify(value("fifo"))}`);
  }
  const policyPath = value("authorizationPolicyPath");
  // The function has its bundle and /opt: a policy file of its own can only come from a layer.
  if (policyPath !== "" && !policyPath.startsWith("/opt/")) {
    errors.push(
      `parameter authorizationPolicyPath must be under /opt/, where a layer puts files, not ${JSON.stringify(policyPath)} (or edit config/authorization-policy.json, built into the bundle)`,
    );
  } else if (policyPath !== "" && value("authorizationPolicyLayerArn") === "") {
    errors.push(
      "parameter authorizationPolicyPath is under /opt, where only a layer puts files: set authorizationPolicyLayerArn to the layer that holds it",
    );
  }
  for (const name of ["failureRateAlarmPercent", "throttleAlarmPercent"]) {
    if (parameters[name] === undefined) continue;
    const percent = Number(value(name));
    if (value(name) === "" || !(percent > 0 && percent < 100)) {
      errors.push(
        `parameter ${name} must be a percentage above 0 and below 100, not ${JSON.stringify(value(name))}`,
      );
    }
  }
  if (value("alarmTopicArn") === "") {
    warnings.push(
      "parameter alarmTopicArn is empty: the alarms (DLQ depth, queue age, failure rate, CUC throttling) will notify no one (set it to an SNS topic ARN)",
    );
  }

  let serviceAccountSecrets: string[] = [];
  if (errors.length === 0) {
    try {
      const config = loadConfig(functionEnvironment(environment));
      serviceAccountSecrets = [
        ...(config.defaultCluster === undefined ? [] : [config.defaultCluster.secretId]),
        ...[...config.clusters.values()].map((cluster) => cluster.secretId),
      ];
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      errors.push(withParameterNames(error.message, parameterOf));
    }
  }
  return { errors, warnings, serviceAccountSecrets: [...new Set(serviceAccountSecrets)] };
}

function resourceIdErrors(name: string, list: string, pattern: RegExp, example: string): string[] {
  if (list === "") {
    return [
      `parameter ${name} is required: the VPC ${name === "subnetIds" ? "subnets" : "security groups"} that reach CUC, comma-separated (${example})`,
    ];
  }
  return list.split(",").flatMap((id) => {
    const trimmed = id.trim();
    if (PLACEHOLDER_ID.test(trimmed)) return [`parameter ${name}: ${trimmed} is a placeholder`];
    if (!pattern.test(trimmed))
      return [`parameter ${name}: ${JSON.stringify(trimmed)} is not such an id (${example})`];
    return [];
  });
}

/** The environment the function will see: strings as they are, references as placeholders. */
function functionEnvironment(environment: Readonly<Record<string, unknown>>) {
  return Object.fromEntries(
    Object.entries(environment).map(([name, setting]) => [
      name,
      typeof setting === "string" ? setting : (RESOURCE_PLACEHOLDERS[name] ?? "placeholder"),
    ]),
  );
}

/** "CUPI_BASE_URL must use https://" → "parameter cupiBaseUrl (CUPI_BASE_URL) must use https://". */
function withParameterNames(
  message: string,
  parameterOf: (variable: string) => string | undefined,
) {
  return message.replace(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g, (variable) => {
    const parameter = parameterOf(variable);
    return parameter === undefined ? variable : `parameter ${parameter} (${variable})`;
  });
}
