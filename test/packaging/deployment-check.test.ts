// Issue 12 §2: packaging refuses a deployment that could not work, naming the parameter, and
// packages one cluster, two clusters and FIFO as the README describes them.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDeployment } from "../../build/deployment-parameters.ts";
import { EXAMPLE_DEPLOYMENT_PARAMS, packageProject } from "../../dev/container/packaged.ts";
import { SHIPPED_RESET_SECRET_PREFIX } from "../../lib/operations/seed-secret.ts";

const run = promisify(execFile);

const REQUIRED = {
  cupiBaseUrl: "https://cuc-pub.example.com",
  subnetIds: "subnet-0123456789abcdef0",
  securityGroupIds: "sg-0123456789abcdef0",
  fifo: "false",
  alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:ops",
};
const ENVIRONMENT = {
  CUPI_BASE_URL: REQUIRED.cupiBaseUrl,
  CUPI_SECRET_ID: "cupi-reset/service-account",
  DLQ_URL: { Ref: "ResetDeadLetterQueue" },
  STATE_TABLE: { Ref: "StateTable" },
};
const PARAMETER_OF: Record<string, string> = {
  CUPI_BASE_URL: "cupiBaseUrl",
  CUPI_CLUSTERS: "cupiClusters",
  ALLOWED_ACTIONS: "allowedActions",
};
const parameterOf = (variable: string) => PARAMETER_OF[variable];

describe("checkDeployment", () => {
  it("passes a complete deployment and lists its one service-account secret", () => {
    expect(checkDeployment(REQUIRED, ENVIRONMENT, parameterOf)).toEqual({
      errors: [],
      warnings: [],
      serviceAccountSecrets: ["cupi-reset/service-account"],
    });
  });

  it("names every missing or placeholder parameter at once", () => {
    const { errors } = checkDeployment(
      { fifo: "maybe", subnetIds: "subnet-00000000000000000, subnet-xyz", securityGroupIds: "" },
      {},
      parameterOf,
    );
    expect(errors).toEqual([
      'parameter cupiBaseUrl is required: --param="cupiBaseUrl=https://<your CUC publisher>" (or cupiClusters, for several clusters)',
      "parameter subnetIds: subnet-00000000000000000 is a placeholder",
      'parameter subnetIds: "subnet-xyz" is not such an id (subnet-0abc…)',
      "parameter securityGroupIds is required: the VPC security groups that reach CUC, comma-separated (sg-0abc…)",
      'parameter fifo must be "true" or "false", not "maybe"',
    ]);
  });

  it("refuses what the function would refuse at cold start, in its words, naming the parameter", () => {
    const verdict = (parameters: Record<string, string>, environment: Record<string, unknown>) =>
      checkDeployment(
        { ...REQUIRED, ...parameters },
        { ...ENVIRONMENT, ...environment },
        parameterOf,
      ).errors;
    expect(verdict({}, { CUPI_BASE_URL: "http://cuc" })).toEqual([
      "parameter cupiBaseUrl (CUPI_BASE_URL) must use https://; http:// is only for the local simulator, with CUPI_ALLOW_INSECURE_HTTP=true",
    ]);
    expect(verdict({}, { ALLOWED_ACTIONS: "reset-pin,nuke" })).toEqual([
      "parameter allowedActions (ALLOWED_ACTIONS): unknown action nuke",
    ]);
    expect(verdict({}, { CUPI_CLUSTERS: "{emea}" })).toEqual([
      "parameter cupiClusters (CUPI_CLUSTERS) must be JSON",
    ]);
  });

  it("grants the secrets of every cluster, named or by ARN, once each", () => {
    const clusters = JSON.stringify({
      emea: { baseUrl: "https://cuc-emea.example.com", secretId: "cupi-reset/emea" },
      amer: {
        baseUrl: "https://cuc-amer.example.com",
        secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:cupi-reset/amer-AbCdEf",
      },
      lab: { baseUrl: "https://cuc-lab.example.com", secretId: "cupi-reset/emea" },
    });
    const { errors, serviceAccountSecrets } = checkDeployment(
      { ...REQUIRED, cupiBaseUrl: "", cupiClusters: clusters },
      { DLQ_URL: { Ref: "ResetDeadLetterQueue" }, CUPI_CLUSTERS: clusters },
      parameterOf,
    );
    expect(errors).toEqual([]);
    expect(serviceAccountSecrets).toEqual([
      "cupi-reset/emea",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:cupi-reset/amer-AbCdEf",
    ]);
  });

  it("wants the alarms' thresholds as percentages", () => {
    const errorsFor = (failureRateAlarmPercent: string, throttleAlarmPercent: string) =>
      checkDeployment(
        { ...REQUIRED, failureRateAlarmPercent, throttleAlarmPercent },
        ENVIRONMENT,
        parameterOf,
      ).errors;
    expect(errorsFor("20", "2.5")).toEqual([]);
    expect(errorsFor("0", "100")).toEqual([
      'parameter failureRateAlarmPercent must be a percentage above 0 and below 100, not "0"',
      'parameter throttleAlarmPercent must be a percentage above 0 and below 100, not "100"',
    ]);
    expect(errorsFor("twenty", "")).toHaveLength(2);
  });

  it("warns when alarms notify no one, and wants the layer of a policy under /opt", () => {
    const verdict = checkDeployment(
      { ...REQUIRED, alarmTopicArn: "", authorizationPolicyPath: "/opt/policy.json" },
      ENVIRONMENT,
      parameterOf,
    );
    expect(verdict.warnings).toEqual([expect.stringMatching(/^parameter alarmTopicArn is empty/)]);
    expect(verdict.errors).toEqual([
      expect.stringMatching(
        /^parameter authorizationPolicyPath is under \/opt.*authorizationPolicyLayerArn/,
      ),
    ]);
    // Nothing but the bundle and /opt is there: a path elsewhere could never be read.
    expect(
      checkDeployment(
        { ...REQUIRED, authorizationPolicyPath: "config/my-policy.json" },
        ENVIRONMENT,
        parameterOf,
      ).errors,
    ).toEqual([expect.stringMatching(/^parameter authorizationPolicyPath must be under \/opt\//)]);
  });
});

describe("osls package", () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "cupi-reset-deployment-"));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses the shipped defaults alone, naming each required parameter, before building", async () => {
    const failed = await run(
      process.execPath,
      ["node_modules/osls/bin/serverless.js", "print", "--format", "json"],
      { env: { ...process.env, AWS_ACCESS_KEY_ID: "offline", AWS_SECRET_ACCESS_KEY: "offline" } },
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    // `print` resolves without packaging: the shipped defaults are a valid configuration to read.
    expect(failed).toBeUndefined();
    const refused = await run(
      process.execPath,
      ["node_modules/osls/bin/serverless.js", "package", "--package", join(work, "refused")],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: "offline",
          AWS_SECRET_ACCESS_KEY: "offline",
          AWS_REGION: "eu-west-1",
        },
      },
    ).then(
      () => "packaged",
      (error: { stdout: string; stderr: string }) => `${error.stdout}${error.stderr}`,
    );
    expect(refused).toContain("cannot package this deployment");
    for (const parameter of ["cupiBaseUrl", "subnetIds", "securityGroupIds"]) {
      expect(refused).toContain(`parameter ${parameter} is required`);
    }
    expect(refused).toContain("parameter alarmTopicArn is empty");
  }, 120_000);

  it("packages two clusters on a FIFO queue: exactly their secrets, no default cluster, no batching window", async () => {
    const clusters = {
      emea: { baseUrl: "https://cuc-emea.example.com/vmrest", secretId: "cupi-reset/emea" },
      amer: {
        baseUrl: "https://cuc-amer.example.com",
        secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:cupi-reset/amer-AbCdEf",
      },
    };
    // Not the example's cupiBaseUrl: these two are the only clusters.
    const { output } = await packageProject(
      join(work, "two-clusters"),
      [
        ...EXAMPLE_DEPLOYMENT_PARAMS.filter((param) => !param.startsWith("--param=cupiBaseUrl=")),
        `--param=cupiClusters=${JSON.stringify(clusters)}`,
        "--param=fifo=true",
        "--param=allowedActions=reset-pin,unlock-pin",
      ],
      { exampleParams: false },
    ).catch((error: { stderr?: string }) => {
      throw new Error(`packaging failed: ${error.stderr ?? error}`);
    });
    const template = JSON.parse(
      await readFile(join(output, "cloudformation-template-update-stack.json"), "utf8"),
    ) as {
      Conditions: Record<string, unknown>;
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const fn = template.Resources.ResetLambdaFunction?.Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    const variables = fn.Environment.Variables;
    expect(variables).not.toHaveProperty("CUPI_BASE_URL");
    expect(variables).not.toHaveProperty("CUPI_SECRET_ID");
    expect(JSON.parse(String(variables.CUPI_CLUSTERS))).toEqual(clusters);
    expect(variables.ALLOWED_ACTIONS).toBe("reset-pin,unlock-pin");

    const statements = (
      (template.Resources.ResetRole?.Properties ?? {}) as {
        Policies: { PolicyDocument: { Statement: { Sid?: string; Resource: unknown }[] } }[];
      }
    ).Policies.flatMap((policy) => policy.PolicyDocument.Statement);
    expect(
      statements.find((statement) => statement.Sid === "ServiceAccountSecrets")?.Resource,
    ).toEqual([
      {
        "Fn::Sub":
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation !Sub string
          "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:cupi-reset/emea-??????",
      },
      clusters.amer.secretId,
    ]);
    expect(JSON.stringify(statements)).not.toContain("cupi-reset/service-account");

    expect(template.Conditions.IsFifo).toEqual({ "Fn::Equals": ["true", "true"] });
    const mapping = Object.values(template.Resources).find(
      (resource) => resource.Type === "AWS::Lambda::EventSourceMapping",
    )?.Properties;
    expect(mapping).toMatchObject({
      BatchSize: 5,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    expect(mapping).not.toHaveProperty("MaximumBatchingWindowInSeconds");
  }, 180_000);

  it("seed-secret's fallback prefix is serverless.yml's resetSecretPrefix", async () => {
    const yaml = await readFile("serverless.yml", "utf8");
    expect(/^ {4}resetSecretPrefix: (.+)$/m.exec(yaml)?.[1]).toBe(SHIPPED_RESET_SECRET_PREFIX);
  });

  it("examples/deployment.params gives exactly the required parameters", () => {
    expect(EXAMPLE_DEPLOYMENT_PARAMS.map((param) => param.split("=")[1])).toEqual([
      "cupiBaseUrl",
      "subnetIds",
      "securityGroupIds",
    ]);
  });
});
