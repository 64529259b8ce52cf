import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageProject } from "../../dev/container/packaged.ts";

/**
 * Issue 5, "Least privilege, proven": the CloudFormation template that `npm run package` produces,
 * read as AWS would deploy it. Both roles hold exactly the grants listed here; any new grant, role
 * or policy fails this test until it is added on purpose.
 */

const GUARDED_SERVICES = ["secretsmanager", "sqs", "dynamodb", "kms", "events"] as const;

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Template {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
}
interface Statement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: unknown;
}
interface Grant {
  action: string;
  resource: string;
}

const HR_BUS = "arn:aws:events:eu-west-1:210987654321:event-bus/hr-outcomes";
const variants = [
  { name: "standard queues", params: [] as string[], outcomeEventBus: "default" },
  {
    name: "FIFO queues, outcomes on another account's bus",
    params: ["--param=fifo=true", `--param=outcomeEventBus=${HR_BUS}`],
    outcomeEventBus: HR_BUS,
  },
];
const templates = new Map<string, Template>();
let workDir: string;

async function packageTemplate(params: readonly string[], index: number): Promise<Template> {
  const { output } = await packageProject(join(workDir, `variant-${index}`), params);
  return JSON.parse(
    await readFile(join(output, "cloudformation-template-update-stack.json"), "utf8"),
  );
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "cupi-reset-least-privilege-"));
  const packaged = await Promise.all(
    variants.map((variant, index) => packageTemplate(variant.params, index)),
  );
  for (const [index, variant] of variants.entries()) {
    templates.set(variant.name, packaged[index] as Template);
  }
}, 240_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : ([value].flat() as T[]);

function statementsOf(properties: Json): Statement[] {
  const policies = (properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: unknown } }>;
  return policies.flatMap((policy) => list(policy.PolicyDocument.Statement as Statement));
}

/** Every (action, resource) an Allow statement grants; resources as JSON text. */
function grantsOf(statements: readonly Statement[]): Grant[] {
  return statements
    .filter((statement) => statement.Effect === "Allow")
    .flatMap((statement) =>
      list(statement.Action).flatMap((action) =>
        list(statement.Resource).map((resource) => ({
          action,
          resource: JSON.stringify(resource),
        })),
      ),
    );
}

const service = (action: string) => action.split(":")[0]?.toLowerCase() ?? "";
const render = (grants: readonly Grant[]) =>
  grants.map(({ action, resource }) => `${action} ${resource}`).sort();

const getAtt = (name: string) => JSON.stringify({ "Fn::GetAtt": [name, "Arn"] });
const sub = (arn: string) => JSON.stringify({ "Fn::Sub": arn });
/** CloudFormation's pseudo parameters as Fn::Sub writes them. */
const PARTITION = `\${AWS::Partition}`;
const REGION = `\${AWS::Region}`;
const ACCOUNT = `\${AWS::AccountId}`;
const SECRET_ARN = `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:`;

const PSEUDO: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": "eu-west-1",
  "AWS::AccountId": "123456789012",
};

/**
 * A template condition built of Fn::Equals, Fn::Not, Fn::Select and Fn::Split over literal
 * strings (packaged parameters), else undefined.
 */
function conditionValue(template: Template, name: unknown): boolean | undefined {
  const evaluate = (value: unknown): unknown => {
    if (typeof value === "string" || typeof value === "number") return value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    const [[intrinsic, argument]] = Object.entries(value) as [[string, unknown]];
    const args = Array.isArray(argument) ? argument.map(evaluate) : [];
    switch (intrinsic) {
      case "Fn::Equals":
        return args.length === 2 && args.every((arg) => arg !== undefined)
          ? args[0] === args[1]
          : undefined;
      case "Fn::Not":
        return typeof args[0] === "boolean" ? !args[0] : undefined;
      case "Fn::Split":
        return typeof args[0] === "string" && typeof args[1] === "string"
          ? args[1].split(args[0])
          : undefined;
      case "Fn::Select": {
        const list = Array.isArray(argument) ? evaluate(argument[1]) : undefined;
        return Array.isArray(list) ? list[Number(args[0])] : undefined;
      }
      default:
        return undefined;
    }
  };
  if (typeof name !== "string") return undefined;
  const value = evaluate(template.Conditions?.[name]);
  return typeof value === "boolean" ? value : undefined;
}

/** The text of an ARN the template spells out (plain, Fn::Sub or Fn::Join), else undefined. */
function arnText(resource: string): string | undefined {
  const text = (value: unknown): string | undefined => {
    if (typeof value === "string") return value;
    if (typeof value !== "object" || value === null) return undefined;
    if ("Ref" in value) {
      const name = (value as { Ref: unknown }).Ref;
      return typeof name === "string" && name in PSEUDO ? `\${${name}}` : undefined;
    }
    if ("Fn::Sub" in value) return text([(value as { "Fn::Sub": unknown })["Fn::Sub"]].flat()[0]);
    if ("Fn::Join" in value) {
      const [separator, parts] = (value as { "Fn::Join": [unknown, unknown] })["Fn::Join"];
      if (typeof separator !== "string" || !Array.isArray(parts)) return undefined;
      const texts = parts.map(text);
      return texts.every((part) => part !== undefined) ? texts.join(separator) : undefined;
    }
    return undefined;
  };
  return text(JSON.parse(resource));
}

/**
 * Whether a grant for Secrets Manager, SQS, DynamoDB or KMS reaches further than named resources:
 * a wildcard action, `*`, a wildcard region, account or resource name (for Secrets Manager, a
 * wildcard after a non-empty name prefix is a prefix grant, allowed), or anything this test cannot
 * read (fail closed). References to resources of the template are fine.
 */
function isWildcardGrant({ action, resource }: Grant, template: Template): boolean {
  if (action.includes("*") || action.includes("?")) return true;
  const parsed = JSON.parse(resource) as Record<string, unknown>;
  // A choice between resources: the branch the template's condition picks, or both if unknown.
  const choice = parsed?.["Fn::If"];
  if (Array.isArray(choice) && choice.length === 3) {
    const [condition, whenTrue, whenFalse] = choice as [unknown, unknown, unknown];
    const picked = conditionValue(template, condition);
    const branches = picked === undefined ? [whenTrue, whenFalse] : [picked ? whenTrue : whenFalse];
    return branches.some((branch) =>
      isWildcardGrant({ action, resource: JSON.stringify(branch) }, template),
    );
  }
  const reference = parsed?.["Fn::GetAtt"] ?? parsed?.Ref;
  if (reference !== undefined) {
    const target = [reference].flat()[0];
    return typeof target !== "string" || template.Resources[target] === undefined;
  }
  let arn = arnText(resource);
  if (arn === undefined) return true;
  for (const [name, value] of Object.entries(PSEUDO)) arn = arn.replaceAll(`\${${name}}`, value);
  if (arn === "*") return true;
  const [prefix, , , region = "*", account = "*", ...rest] = arn.split(":");
  const name = rest.join(":");
  if (prefix !== "arn" || `${region}${account}`.includes("*") || name === "") return true;
  if (service(action) === "secretsmanager") return !/^secret:[^*?]+/.test(name);
  return name.includes("*") || name.includes("?");
}

describe("the wildcard check (its own test)", () => {
  const template: Template = { Resources: { Queue: { Type: "AWS::SQS::Queue", Properties: {} } } };
  const arn = (rest: string) => `arn:${PARTITION}:${rest}`;
  it.each([
    ["sqs:*", getAtt("Queue")],
    ["sqs:Send*", getAtt("Queue")],
    ["sqs:SendMessage", JSON.stringify("*")],
    ["sqs:SendMessage", getAtt("NotInTheTemplate")],
    ["sqs:SendMessage", sub(arn(`sqs:${REGION}:${ACCOUNT}:*`))],
    ["sqs:SendMessage", sub(arn(`sqs:*:${ACCOUNT}:queue`))],
    ["dynamodb:GetItem", sub(arn(`dynamodb:${REGION}:*:table/state`))],
    ["kms:Decrypt", JSON.stringify("*")],
    ["kms:Decrypt", JSON.stringify({ "Fn::Join": ["", ["arn:aws:kms:", "*", ":1:key/*"]] })],
    ["secretsmanager:GetSecretValue", sub(`${SECRET_ARN}*`)],
    ["secretsmanager:GetSecretValue", JSON.stringify({ "Fn::If": ["c", "*", "x"] })],
    ["events:PutEvents", sub(arn(`events:${REGION}:${ACCOUNT}:event-bus/*`))],
    [
      "events:PutEvents",
      JSON.stringify({ "Fn::If": ["c", "arn:aws:events:eu-west-1:1:event-bus/b", "*"] }),
    ],
  ])("flags %s on %s", (action, resource) => {
    expect(isWildcardGrant({ action, resource }, template)).toBe(true);
  });
  it.each([
    ["sqs:SendMessage", getAtt("Queue")],
    ["secretsmanager:GetSecretValue", sub(`${SECRET_ARN}cupi-reset/resets/*`)],
    ["secretsmanager:GetSecretValue", sub(`${SECRET_ARN}cupi-reset/service-account-??????`)],
    ["dynamodb:GetItem", sub(arn(`dynamodb:${REGION}:${ACCOUNT}:table/state`))],
    [
      "events:PutEvents",
      JSON.stringify({
        "Fn::If": [
          "c",
          "arn:aws:events:eu-west-1:1:event-bus/b",
          { "Fn::Sub": `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:event-bus/default` },
        ],
      }),
    ],
  ])("passes %s on %s", (action, resource) => {
    expect(isWildcardGrant({ action, resource }, template)).toBe(false);
  });
});

describe.each(variants)("the packaged template ($name)", ({ name, outcomeEventBus }) => {
  const template = () => templates.get(name) as Template;
  const resources = () => template().Resources;
  const ofType = (type: string) =>
    Object.entries(resources()).filter(([, resource]) => resource.Type === type);
  const roleOfFunction = (functionName: string): string => {
    const role = resources()[functionName]?.Properties.Role as { "Fn::GetAtt": [string, string] };
    return role["Fn::GetAtt"][0];
  };
  const roleStatements = (roleName: string) =>
    statementsOf(resources()[roleName]?.Properties ?? {});

  it("has two IAM roles, one per function, and no other IAM resources", () => {
    const iam = Object.entries(resources())
      .filter(([, resource]) => resource.Type.startsWith("AWS::IAM::"))
      .map(([logical, resource]) => `${logical} ${resource.Type}`)
      .sort();
    expect(iam).toEqual(["ReplayRole AWS::IAM::Role", "ResetRole AWS::IAM::Role"]);
    expect(roleOfFunction("ResetLambdaFunction")).toBe("ResetRole");
    expect(roleOfFunction("ReplayLambdaFunction")).toBe("ReplayRole");
    for (const role of ["ResetRole", "ReplayRole"]) {
      const trust = resources()[role]?.Properties.AssumeRolePolicyDocument as {
        Statement: Statement[];
      };
      expect(trust.Statement).toHaveLength(1);
      const [only = { Effect: "missing" }] = trust.Statement;
      expect(only).toMatchObject({ Effect: "Allow" });
      expect(list(only.Action)).toEqual(["sts:AssumeRole"]);
      expect(list((only.Principal as { Service?: unknown } | undefined)?.Service)).toEqual([
        "lambda.amazonaws.com",
      ]);
    }
  });

  it("grants no * action or * resource for Secrets Manager, SQS, DynamoDB or KMS in any role", () => {
    const statements = ofType("AWS::IAM::Role").flatMap(([, role]) =>
      statementsOf(role.Properties),
    );
    expect(statements.length).toBeGreaterThan(0);
    // NotAction and NotResource are wildcards in disguise.
    expect(
      statements.filter((s) => s.NotAction !== undefined || s.NotResource !== undefined),
    ).toEqual([]);
    const guarded = grantsOf(statements).filter(({ action }) =>
      (GUARDED_SERVICES as readonly string[]).includes(service(action)),
    );
    expect(guarded.length).toBeGreaterThan(0);
    expect(guarded.filter((grant) => isWildcardGrant(grant, template()))).toEqual([]);
  });

  it("gives the reset function exactly its own grants", () => {
    const role = roleOfFunction("ResetLambdaFunction");
    const grants = grantsOf(roleStatements(role));
    expect(
      render(
        grants.filter(({ action }) => service(action) !== "logs" && service(action) !== "ec2"),
      ),
    ).toEqual(
      render([
        {
          action: "secretsmanager:GetSecretValue",
          resource: sub(`${SECRET_ARN}cupi-reset/service-account-??????`),
        },
        {
          action: "secretsmanager:GetSecretValue",
          resource: sub(`${SECRET_ARN}cupi-reset/resets/*`),
        },
        {
          action: "secretsmanager:GetSecretValue",
          resource: sub(`${SECRET_ARN}cupi-reset/delivery/*`),
        },
        {
          action: "secretsmanager:PutSecretValue",
          resource: sub(`${SECRET_ARN}cupi-reset/delivery/*`),
        },
        {
          action: "events:PutEvents",
          resource: JSON.stringify({
            "Fn::If": [
              "OutcomeEventBusIsArn",
              outcomeEventBus,
              {
                "Fn::Sub": `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:event-bus/${outcomeEventBus}`,
              },
            ],
          }),
        },
        { action: "sqs:SendMessage", resource: getAtt("ResetDeadLetterQueue") },
        { action: "sqs:ReceiveMessage", resource: getAtt("ResetQueue") },
        { action: "sqs:DeleteMessage", resource: getAtt("ResetQueue") },
        { action: "sqs:GetQueueAttributes", resource: getAtt("ResetQueue") },
        { action: "sqs:GetQueueUrl", resource: getAtt("ResetQueue") },
        { action: "sqs:ChangeMessageVisibility", resource: getAtt("ResetQueue") },
        { action: "dynamodb:GetItem", resource: getAtt("StateTable") },
        { action: "dynamodb:BatchGetItem", resource: getAtt("StateTable") },
        { action: "dynamodb:PutItem", resource: getAtt("StateTable") },
        { action: "dynamodb:UpdateItem", resource: getAtt("StateTable") },
        { action: "dynamodb:DeleteItem", resource: getAtt("StateTable") },
        // The claim's transaction checks the offboarding with a ConditionCheck.
        { action: "dynamodb:ConditionCheckItem", resource: getAtt("StateTable") },
      ]),
    );
    // Logs: the reset function's own log group only, nothing account-wide.
    const logs = grants.filter(({ action }) => service(action) === "logs");
    expect([...new Set(logs.map(({ action }) => action))].sort()).toEqual([
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]);
    for (const { resource } of logs) {
      expect(arnText(resource)).toMatch(/\/aws\/lambda\/cupi-reset-dev-reset:\*$/);
    }
    // Network interfaces for the VPC, which EC2 grants on `*` only; nothing else from EC2.
    expect(
      [
        ...new Set(
          grants.filter(({ action }) => service(action) === "ec2").map(({ action }) => action),
        ),
      ].sort(),
    ).toEqual([
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:UnassignPrivateIpAddresses",
    ]);
    expect(resources()[role]?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("publishes outcome events on the configured bus only", () => {
    const [grant] = grantsOf(roleStatements("ResetRole")).filter(
      ({ action }) => service(action) === "events",
    );
    const [condition, asArn, asName] = (
      JSON.parse(grant?.resource ?? "{}") as { "Fn::If": [string, unknown, unknown] }
    )["Fn::If"];
    const isArn = conditionValue(template(), condition);
    expect(isArn).toBe(outcomeEventBus.startsWith("arn:"));
    const bus = arnText(JSON.stringify(isArn ? asArn : asName))?.replaceAll(
      /\$\{AWS::(\w+)\}/g,
      (_, name: string) => PSEUDO[`AWS::${name}`] ?? "?",
    );
    expect(bus).toBe(
      isArn ? outcomeEventBus : `arn:aws:events:eu-west-1:123456789012:event-bus/default`,
    );
    const environment = resources().ResetLambdaFunction?.Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(environment.Variables.OUTCOME_EVENT_BUS).toBe(outcomeEventBus);
  });

  // The worker must not write into the replay function's audit trail, nor into any log group.
  it("lets the reset role write only the reset function's own logs", () => {
    const role = roleOfFunction("ResetLambdaFunction");
    const logs = grantsOf(roleStatements(role)).filter(({ action }) => service(action) === "logs");
    for (const { resource } of logs) {
      expect(arnText(resource)).toMatch(/\/aws\/lambda\/cupi-reset-dev-reset:/);
    }
    expect(resources()[role]?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("encrypts both queues at rest", () => {
    const queues = ofType("AWS::SQS::Queue");
    expect(queues.map(([logical]) => logical).sort()).toEqual([
      "ResetDeadLetterQueue",
      "ResetQueue",
    ]);
    for (const [, queue] of queues) {
      const { SqsManagedSseEnabled: managed, KmsMasterKeyId: kmsKey } = queue.Properties;
      expect(managed === true || (kmsKey !== undefined && managed !== false)).toBe(true);
    }
  });

  it("keeps dead letters longer than events, and hides an event for 6 function timeouts", () => {
    const mappings = ofType("AWS::Lambda::EventSourceMapping");
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]?.[1].Properties as {
      EventSourceArn: { "Fn::GetAtt": [string, string] };
      FunctionName: { "Fn::GetAtt": [string, string] };
    };
    const queueName = mapping.EventSourceArn["Fn::GetAtt"][0];
    const functionName = mapping.FunctionName["Fn::GetAtt"][0];
    expect([queueName, functionName]).toEqual(["ResetQueue", "ResetLambdaFunction"]);
    const queue = resources()[queueName]?.Properties ?? {};
    const redrive = queue.RedrivePolicy as {
      deadLetterTargetArn: { "Fn::GetAtt": [string, string] };
      maxReceiveCount: number;
    };
    const dlq = resources()[redrive.deadLetterTargetArn["Fn::GetAtt"][0]]?.Properties ?? {};
    expect(Number(dlq.MessageRetentionPeriod)).toBeGreaterThan(
      Number(queue.MessageRetentionPeriod),
    );
    const timeout = Number(resources()[functionName]?.Properties.Timeout);
    expect(timeout).toBeGreaterThan(0);
    expect(Number(queue.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * timeout);
  });

  it("encrypts the state table and keeps point-in-time recovery", () => {
    const tables = ofType("AWS::DynamoDB::Table");
    expect(tables.map(([logical]) => logical)).toEqual(["StateTable"]);
    for (const [, table] of tables) {
      expect(table.Properties).toMatchObject({
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });

  it("allows no one-and-all principal in a queue policy", () => {
    /** Both outcomes of an Fn::If, AWS::NoValue left out. */
    const outcomes = (value: unknown): Statement[] => {
      if (typeof value !== "object" || value === null) return [];
      if ("Fn::If" in value) {
        const [, whenTrue, whenFalse] = (value as { "Fn::If": unknown[] })["Fn::If"];
        return [...outcomes(whenTrue), ...outcomes(whenFalse)];
      }
      return "Effect" in value ? [value as Statement] : [];
    };
    for (const [, policy] of ofType("AWS::SQS::QueuePolicy")) {
      const statements = list(
        (policy.Properties.PolicyDocument as { Statement: unknown }).Statement,
      )
        .flatMap(outcomes)
        .filter((statement) => statement.Effect === "Allow");
      for (const statement of statements) {
        const principal = JSON.stringify(statement.Principal);
        expect(principal === '"*"' || principal === '{"AWS":"*"}').toBe(false);
      }
    }
  });
});
