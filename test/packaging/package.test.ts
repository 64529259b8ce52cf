import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_DEPLOYMENT_PARAMS } from "../../dev/container/packaged.ts";
import users from "../../dev/cupi-simulator/users.json" with { type: "json" };
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import {
  DEFAULT_RETRY_BACKOFF,
  guaranteedRetryWindowSeconds,
} from "../../lib/redelivery/backoff.ts";
import { METRIC_NAMES, METRICS_NAMESPACE } from "../../lib/reset/invocation-metrics.ts";
import { readDeadLetters, sqsRecord } from "../helpers/pipeline.ts";

const run = promisify(execFile);
const JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";

let workDir: string;
let zipEntries: string[];
let stack: LocalStack;
let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
let handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
/** The packaged handler's last run's standard output. */
let lastStdout = "";

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "cupi-reset-package-"));
  // The same command as `npm run package`, offline, with dummy credentials.
  await run(
    process.execPath,
    [
      "node_modules/osls/bin/serverless.js",
      "package",
      "--package",
      workDir,
      ...EXAMPLE_DEPLOYMENT_PARAMS,
    ],
    {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: "offline",
        AWS_SECRET_ACCESS_KEY: "offline",
        AWS_REGION: "eu-west-1",
      },
      timeout: 120_000,
    },
  );
  template = JSON.parse(
    await readFile(join(workDir, "cloudformation-template-update-stack.json"), "utf8"),
  );
  const files = unzipSync(await readFile(join(workDir, "reset.zip")));
  zipEntries = Object.keys(files).sort();
  for (const [name, content] of Object.entries(files)) {
    const target = join(workDir, "unzipped", name);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  stack = await startLocalStack({
    users,
    secrets: { "cupi-reset/resets/jsmith-pin": JSON.stringify({ pin: "739164" }) },
  });
  // A fresh Node process, as in Lambda: a test runner's globals (vitest provides `require`) must
  // not hide a bundle that cannot load on its own.
  const runner = join(workDir, "invoke.mjs");
  await writeFile(
    runner,
    `const { handler } = await import(${JSON.stringify(pathToFileURL(join(workDir, "unzipped/functions/reset.mjs")).href)});
const context = { getRemainingTimeInMillis: () => 60000, awsRequestId: "package-smoke", functionName: "cupi-reset-dev-reset" };
const event = JSON.parse(process.argv[2]);
process.stdout.write("RESPONSE " + JSON.stringify(await handler(event, context)) + "\\n");`,
  );
  handler = async (event) => {
    const { stdout } = await run(process.execPath, [runner, JSON.stringify(event)], {
      env: { ...process.env, ...stack.environment },
      timeout: 60_000,
    });
    lastStdout = stdout;
    const line = stdout.split("\n").find((candidate) => candidate.startsWith("RESPONSE "));
    return JSON.parse(line?.slice("RESPONSE ".length) ?? "null");
  };
}, 180_000);

afterAll(async () => {
  await stack?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("the packaged Lambda artifact", () => {
  it("holds one ESM bundle (and its source map) that loads and resets a PIN", async () => {
    expect(zipEntries).toEqual(["functions/reset.mjs", "functions/reset.mjs.map"]);
    const base = {
      version: 1,
      occurredAt: "2026-11-28T10:00:00Z",
      source: "helpdesk",
      action: "reset-pin",
      newCredential: { secretId: "cupi-reset/resets/jsmith-pin", jsonKey: "pin" },
    };
    const response = await handler({
      Records: [
        sqsRecord(
          "ok",
          { ...base, eventId: "zip-1", user: { alias: "jsmith" } },
          stack.queues.queueArn,
        ),
        sqsRecord(
          "bad",
          { ...base, eventId: "zip-2", user: { alias: "nobody" } },
          stack.queues.queueArn,
        ),
      ],
    });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(stack.simulator.credentialOf(JSMITH, "pin").value).toBe("739164");
    const dlq = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
    expect(dlq.map((letter) => letter.attributes.errorCode)).toEqual(["USER_NOT_FOUND"]);
    // Its metrics, in embedded metric format on standard output, as CloudWatch Logs extracts them.
    const documents = lastStdout
      .split("\n")
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    expect(documents).toEqual([
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            expect.objectContaining({
              Namespace: METRICS_NAMESPACE,
              Dimensions: [["service", "cluster"], ["service"]],
            }),
          ],
        }),
        cluster: "default",
        EventsApplied: 1,
        EventsDeadLettered: 1,
        CupiRequests: stack.simulator.stats.requests,
      }),
      expect.objectContaining({ errorCode: "USER_NOT_FOUND", EventsDeadLettered: 1 }),
    ]);
  });

  it("has a dashboard and alarms that read the metrics the handler prints", () => {
    const resources = template.Resources;
    const named = (expression: string) =>
      [...expression.matchAll(/MetricName=\\?"(\w+)\\?"/g)].map((match) => match[1]);
    // The dashboard's body with CloudFormation's substitutions made: valid JSON for CloudWatch.
    const dashboardBody = resources.Dashboard?.Properties.DashboardBody as
      | { "Fn::Sub": [string, object] }
      | undefined;
    expect(dashboardBody).toBeDefined();
    const [body, variables] = dashboardBody?.["Fn::Sub"] ?? ["", {}];
    expect(Object.keys(variables).sort()).toEqual(["DeadLetterQueue", "Queue", "Service"]);
    const dashboard = JSON.parse(
      body.replaceAll(/\$\{[\w:.]+\}/g, (name) => `placeholder-${name.slice(2, -1)}`),
    ) as { widgets: { properties: { metrics?: unknown[][]; alarms?: string[] } }[] };
    const metricNames = dashboard.widgets.flatMap((widget) =>
      (widget.properties.metrics ?? []).flatMap((row) =>
        typeof row[0] === "object"
          ? named((row[0] as { expression: string }).expression)
          : row[0] === "CupiReset" || row[0] === "."
            ? [row[1] as string]
            : [],
      ),
    );
    const alarms = Object.entries(resources).filter(
      ([, resource]) => resource.Type === "AWS::CloudWatch::Alarm",
    );
    const alarmMetricNames = alarms.flatMap(([, alarm]) =>
      ((alarm.Properties.Metrics ?? []) as { MetricStat?: { Metric: { MetricName: string } } }[])
        .filter((query) => query.MetricStat !== undefined)
        .map((query) => query.MetricStat?.Metric.MetricName),
    );
    expect(
      new Set(
        [...metricNames, ...alarmMetricNames].filter(
          (name) =>
            name !== "ApproximateAgeOfOldestMessage" &&
            name !== "ApproximateNumberOfMessagesVisible",
        ),
      ),
    ).toEqual(new Set(METRIC_NAMES));
    // Every alarm is on the dashboard.
    expect(
      dashboard.widgets
        .flatMap((widget) => widget.properties.alarms ?? [])
        .map((arn) => arn.replace(/^placeholder-/, "").replace(/\.Arn$/, ""))
        .sort(),
    ).toEqual(alarms.map(([name]) => name).sort());
    expect(
      alarms.map(([name, alarm]) => [
        name,
        alarm.Properties.Threshold,
        alarm.Properties.EvaluationPeriods,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ["FailureRateAlarm", "20", 2],
        ["CucThrottlingAlarm", "5", 3],
      ]),
    );
  });

  it("defines the queue, DLQ and event source mapping as the design requires", () => {
    const { Resources: resources } = template;
    const queue = resources.ResetQueue?.Properties ?? {};
    const dlq = resources.ResetDeadLetterQueue?.Properties ?? {};
    const fn = resources.ResetLambdaFunction?.Properties ?? {};
    const mapping = Object.values(resources).find(
      (resource) => resource.Type === "AWS::Lambda::EventSourceMapping",
    )?.Properties;
    expect(fn.Runtime).toBe("nodejs24.x");
    expect(Number(queue.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * Number(fn.Timeout));
    // The function dead-letters on the last receive; the redrive policy is the safety net. Its
    // receives, with the shipped backoff, ride out at least 6 hours of CUC outage, and the queue
    // keeps a message longer than the longest retry window.
    const receives = Number((queue.RedrivePolicy as { maxReceiveCount: unknown }).maxReceiveCount);
    const environment = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    const backoff = {
      baseDelaySeconds: Number(environment.RETRY_BASE_DELAY_SECONDS),
      maxDelaySeconds: Number(environment.RETRY_MAX_DELAY_SECONDS),
    };
    expect(backoff).toEqual(DEFAULT_RETRY_BACKOFF);
    expect(guaranteedRetryWindowSeconds(receives, backoff)).toBeGreaterThanOrEqual(6 * 3600);
    expect(Number(queue.MessageRetentionPeriod)).toBeGreaterThan(
      receives * backoff.maxDelaySeconds,
    );
    expect(Number(dlq.MessageRetentionPeriod)).toBe(14 * 24 * 3600);
    expect(Number(dlq.MessageRetentionPeriod)).toBeGreaterThan(
      Number(queue.MessageRetentionPeriod),
    );
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(mapping).toMatchObject({
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(fn.VpcConfig).toEqual({
      SecurityGroupIds: { "Fn::Split": [",", "sg-0123456789abcdef0"] },
      SubnetIds: { "Fn::Split": [",", "subnet-0123456789abcdef0,subnet-0fedcba9876543210"] },
    });
    expect(environment).toMatchObject({
      STATE_TABLE: { Ref: "StateTable" },
      RESET_SECRET_PREFIX: "cupi-reset/resets/",
      DELIVERY_SECRET_PREFIX: "cupi-reset/delivery/",
      CUPI_MAX_IN_FLIGHT: "1",
    });
  });

  it("keeps idempotency and ordering state in an on-demand table with TTL", () => {
    expect(template.Resources.StateTable?.Properties).toMatchObject({
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "expiration", Enabled: true },
    });
  });

  it("alarms on DLQ depth and on the age of the oldest queued event", () => {
    const alarms = Object.values(template.Resources)
      .filter((resource) => resource.Type === "AWS::CloudWatch::Alarm")
      .map((alarm) => alarm.Properties);
    expect(alarms).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          MetricName: "ApproximateNumberOfMessagesVisible",
          Dimensions: [
            { Name: "QueueName", Value: { "Fn::GetAtt": ["ResetDeadLetterQueue", "QueueName"] } },
          ],
          Threshold: 0,
        }),
        expect.objectContaining({
          MetricName: "ApproximateAgeOfOldestMessage",
          Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": ["ResetQueue", "QueueName"] } }],
        }),
      ]),
    );
  });

  it("grants the function only the secrets, delivery prefix and DLQ it needs", () => {
    const role = template.Resources.ResetRole?.Properties as {
      Policies: Array<{
        PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown }> };
      }>;
    };
    const statements = role.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
    const grants = (action: string) =>
      JSON.stringify(
        statements.filter((statement) => statement.Action.includes(action)).map((s) => s.Resource),
      );
    expect(grants("secretsmanager:GetSecretValue")).toContain(
      "secret:cupi-reset/service-account-??????",
    );
    // CloudFormation's own placeholders, as the template holds them.
    const arnPrefix =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation !Sub string, not a template
      "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:";
    // The service account's (written by the deployment check), then the reset and delivery ones.
    expect(JSON.parse(grants("secretsmanager:GetSecretValue"))).toEqual([
      [{ "Fn::Sub": `${arnPrefix}cupi-reset/service-account-??????` }],
      [
        { "Fn::Sub": `${arnPrefix}cupi-reset/resets/*` },
        { "Fn::Sub": `${arnPrefix}cupi-reset/delivery/*` },
      ],
    ]);
    expect(grants("dynamodb:UpdateItem")).toBe('[{"Fn::GetAtt":["StateTable","Arn"]}]');
    expect(grants("secretsmanager:PutSecretValue")).toContain("secret:cupi-reset/delivery/*");
    expect(grants("sqs:SendMessage")).toContain("ResetDeadLetterQueue");
    const actions = statements.flatMap((statement) => statement.Action);
    expect(actions.filter((action) => action.includes("*"))).toEqual([]);
  });

  it("gives the replay function a role of its own with only what replay needs", () => {
    type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
    const statementsOf = (role: string): Statement[] => {
      const properties = template.Resources[role]?.Properties as
        | { Policies: Array<{ PolicyDocument: { Statement: Statement[] } }> }
        | undefined;
      return (properties?.Policies ?? []).flatMap((policy) => policy.PolicyDocument.Statement);
    };
    const replay = template.Resources.ReplayLambdaFunction?.Properties ?? {};
    expect(replay).toMatchObject({ Handler: "functions/replay.handler", Timeout: 900 });
    expect(replay.Role).toEqual({ "Fn::GetAtt": ["ReplayRole", "Arn"] });
    expect(template.Resources.ResetLambdaFunction?.Properties.Role).toEqual({
      "Fn::GetAtt": ["ResetRole", "Arn"],
    });
    expect(
      Object.values(template.Resources).filter(
        (resource) => resource.Type === "AWS::Lambda::EventSourceMapping",
      ),
    ).toHaveLength(1);

    expect(statementsOf("ReplayRole")).toEqual([
      {
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: {
          "Fn::Sub": expect.stringMatching(/:log-group:\/aws\/lambda\/cupi-reset-dev-replay:\*$/),
        },
      },
      {
        Effect: "Allow",
        Action: [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:GetQueueAttributes",
          "sqs:StartMessageMoveTask",
          "sqs:ListMessageMoveTasks",
        ],
        Resource: { "Fn::GetAtt": ["ResetDeadLetterQueue", "Arn"] },
      },
      {
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: { "Fn::GetAtt": ["ResetQueue", "Arn"] },
      },
    ]);

    // The worker may send to the DLQ, and read its own queue through the event source mapping;
    // it may not empty the DLQ nor put messages back on its own queue.
    const resetGrants = statementsOf("ResetRole").flatMap((statement) =>
      [statement.Action]
        .flat()
        .map((action) => ({ action, resource: JSON.stringify(statement.Resource) })),
    );
    const replayOnly = resetGrants.filter(
      ({ action, resource }) =>
        ["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"].includes(action) ||
        (["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"].includes(
          action,
        ) &&
          resource.includes("ResetDeadLetterQueue")) ||
        (action === "sqs:SendMessage" && resource.includes('"ResetQueue"')),
    );
    expect(replayOnly).toEqual([]);
  });
});
