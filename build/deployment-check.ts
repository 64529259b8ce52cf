// osls plugin: refuses to package a deployment that could not work (checks in
// deployment-parameters.ts), and shapes the reset function to the clusters it was given.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkDeployment, type DeploymentParameters } from "./deployment-parameters.ts";

interface Serverless {
  readonly serviceDir: string;
  readonly configurationInput: { readonly params?: Record<string, Record<string, unknown>> };
  readonly processedInput: { readonly options: { readonly param?: readonly string[] } };
  readonly service: {
    readonly provider: { readonly stage: string; environment?: Record<string, unknown> };
    readonly functions: Record<
      string,
      { environment?: Record<string, unknown>; layers?: unknown[] }
    >;
    readonly resources: { readonly Resources: Record<string, ResourceWithPolicies> };
  };
  readonly classes: { readonly Error: new (message: string) => Error };
}

interface ResourceWithPolicies {
  readonly Properties: {
    readonly Policies?: { PolicyDocument: { Statement: { Sid?: string; Resource?: unknown }[] } }[];
  };
}

interface PluginUtilities {
  readonly log: { warning(message: string): void; notice(message: string): void };
}

/** The ResetRole statement that lists the service-account secrets, in serverless.yml. */
const SERVICE_ACCOUNT_STATEMENT = "ServiceAccountSecrets";

export default class DeploymentCheck {
  readonly hooks: Record<string, () => void>;

  constructor(serverless: Serverless, _options: unknown, { log }: PluginUtilities) {
    const check = () => checkAndShape(serverless, log);
    // `deploy function` updates the code and configuration without packaging the stack.
    this.hooks = {
      "before:package:initialize": check,
      "before:deploy:function:initialize": check,
    };
  }
}

function checkAndShape(serverless: Serverless, log: PluginUtilities["log"]): void {
  const parameters = resolvedParameters(serverless);
  const { provider, functions } = serverless.service;
  const reset = functions.reset;
  if (reset === undefined)
    throw new serverless.classes.Error("deployment check: no reset function");
  // One cluster named by cupiBaseUrl, or only cupiClusters: then no default cluster at all.
  if ((parameters.cupiBaseUrl ?? "").trim() === "" && provider.environment !== undefined) {
    delete provider.environment.CUPI_BASE_URL;
    delete provider.environment.CUPI_SECRET_ID;
  }
  const parameterNames = parametersOfVariables(serverless.serviceDir);
  const verdict = checkDeployment(
    parameters,
    { ...provider.environment, ...reset.environment },
    (variable) => parameterNames.get(variable),
  );
  for (const warning of verdict.warnings) log.warning(warning);
  if (verdict.errors.length > 0) {
    throw new serverless.classes.Error(
      `cannot package this deployment:\n  - ${verdict.errors.join("\n  - ")}\nSee the README, "Deploying with osls".`,
    );
  }
  grantServiceAccountSecrets(serverless, verdict.serviceAccountSecrets);
  const layer = (parameters.authorizationPolicyLayerArn ?? "").trim();
  if (layer !== "") reset.layers = [...(reset.layers ?? []), layer];
}

/** As osls resolves `${param:…}`: `--param` first, then the stage's params, then the defaults. */
function resolvedParameters(serverless: Serverless): DeploymentParameters {
  const configured = serverless.configurationInput.params ?? {};
  const fromCli = (serverless.processedInput.options.param ?? []).flatMap((item) => {
    const match = /^([^=]+)=(.+)$/.exec(item);
    return match === null ? [] : [[match[1], match[2]?.trimEnd()]];
  });
  const strings = (record: Record<string, unknown> | undefined) =>
    Object.entries(record ?? {})
      .filter(([, value]) => value != null)
      .map(([name, value]) => [name, String(value)]);
  return Object.fromEntries([
    ...strings(configured.default),
    ...strings(configured[serverless.service.provider.stage]),
    ...fromCli,
  ]);
}

/** Which parameter each environment variable is set from (`NAME: ${param:name…}` in serverless.yml). */
function parametersOfVariables(serviceDir: string): Map<string, string> {
  const text = readFileSync(join(serviceDir, "serverless.yml"), "utf8");
  return new Map(
    [...text.matchAll(/^\s+([A-Z][A-Z0-9_]*): \$\{param:([A-Za-z0-9]+)/gm)].map(
      ([, variable, parameter]) => [variable as string, parameter as string],
    ),
  );
}

/** Exactly the clusters' service-account secrets: a name gets Secrets Manager's 6-letter suffix. */
function grantServiceAccountSecrets(serverless: Serverless, secretIds: readonly string[]): void {
  const statement = serverless.service.resources.Resources.ResetRole?.Properties.Policies?.flatMap(
    (policy) => policy.PolicyDocument.Statement,
  ).find((candidate) => candidate.Sid === SERVICE_ACCOUNT_STATEMENT);
  if (statement === undefined) {
    throw new serverless.classes.Error(
      `deployment check: ResetRole has no statement ${SERVICE_ACCOUNT_STATEMENT} to grant the service-account secrets in`,
    );
  }
  statement.Resource = secretIds.map((secretId) =>
    secretId.startsWith("arn:")
      ? secretId
      : {
          "Fn::Sub": `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${secretId}-??????`,
        },
  );
}
