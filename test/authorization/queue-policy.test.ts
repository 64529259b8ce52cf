import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

const ACCOUNT = "123456789012";
const HELPDESK_ROLE = `arn:aws:iam::${ACCOUNT}:role/helpdesk-producer`;
const HR_ROLE = "arn:aws:iam::210987654321:role/hr-producer";
const TOPIC = `arn:aws:sns:eu-west-1:${ACCOUNT}:credential-resets`;
const RULE = `arn:aws:events:eu-west-1:${ACCOUNT}:rule/credential-resets`;
/** What the template's `Fn::GetAtt` stand for here. */
const REPLAY_ROLE = "GetAtt:ReplayRole.Arn";
const QUEUE = "GetAtt:ResetQueue.Arn";

type Template = {
  Conditions: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};

interface Statement {
  Effect: "Allow" | "Deny";
  Principal: "*" | { AWS?: string[]; Service?: string[] };
  Action: string;
  Resource: string;
  Condition?: Record<string, Record<string, string[]>>;
}

/** A SendMessage as the queue policy sees it: who calls, and for SNS and EventBridge, from what. */
interface Sender {
  principalArn?: string;
  service?: string;
  sourceArn?: string;
}

const NO_VALUE = Symbol("AWS::NoValue");

/** Resolves the few intrinsic functions the queue policy uses, as CloudFormation would. */
function resolve(node: unknown, template: Template): unknown {
  if (Array.isArray(node)) {
    return node.map((item) => resolve(item, template)).filter((item) => item !== NO_VALUE);
  }
  if (typeof node !== "object" || node === null) return node;
  const entries = Object.entries(node);
  const [name, argument] = entries[0] ?? [];
  if (entries.length === 1) {
    const args = argument as unknown[];
    switch (name) {
      case "Ref":
        return argument === "AWS::NoValue" ? NO_VALUE : `Ref:${argument}`;
      case "Fn::GetAtt":
        return `GetAtt:${args.join(".")}`;
      case "Fn::If":
        return resolve(
          resolve(template.Conditions[args[0] as string], template) ? args[1] : args[2],
          template,
        );
      case "Fn::Not":
        return !resolve(args[0], template);
      case "Fn::Equals":
        return resolve(args[0], template) === resolve(args[1], template);
      case "Fn::Split":
        return (resolve(args[1], template) as string).split(args[0] as string);
      case "Fn::Join":
        return (resolve(args[1], template) as string[]).join(args[0] as string);
    }
  }
  return Object.fromEntries(
    entries
      .map(([key, value]) => [key, resolve(value, template)] as const)
      .filter(([, value]) => value !== NO_VALUE),
  );
}

const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

/** IAM's ARN wildcards: `*` any run, `?` one character. */
const arnLike = (value: string, pattern: string): boolean =>
  new RegExp(
    `^${pattern
      .split("")
      .map((char) =>
        char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
      )
      .join("")}$`,
  ).test(value);

/**
 * IAM's condition operators as the policy uses them. A missing key makes a negated operator true
 * and a positive one false: the rule the Deny statement relies on.
 */
function conditionHolds(operator: string, value: string | undefined, expected: string[]): boolean {
  switch (operator) {
    case "StringNotEquals":
      return value === undefined || !expected.includes(value);
    case "ArnLike":
      return value !== undefined && expected.some((pattern) => arnLike(value, pattern));
    case "ArnNotLike":
      return value === undefined || !expected.some((pattern) => arnLike(value, pattern));
    default:
      throw new Error(`condition operator ${operator} is not modelled here`);
  }
}

function applies(statement: Statement, sender: Sender): boolean {
  const principal = statement.Principal;
  const principalMatches =
    principal === "*" ||
    (sender.principalArn !== undefined &&
      asList(principal.AWS ?? []).includes(sender.principalArn)) ||
    (sender.service !== undefined && asList(principal.Service ?? []).includes(sender.service));
  const keys: Record<string, string | undefined> = {
    "aws:PrincipalArn": sender.principalArn,
    "aws:SourceArn": sender.sourceArn,
  };
  return (
    principalMatches &&
    statement.Action === "sqs:SendMessage" &&
    statement.Resource === QUEUE &&
    Object.entries(statement.Condition ?? {}).every(([operator, block]) =>
      Object.entries(block).every(([key, expected]) =>
        conditionHolds(operator, keys[key], asList(expected)),
      ),
    )
  );
}

/** The queue policy's own verdict; "not granted" leaves it to the sender's IAM policies. */
function verdict(statements: Statement[], sender: Sender): "denied" | "allowed" | "not granted" {
  const matching = statements.filter((statement) => applies(statement, sender));
  if (matching.some((statement) => statement.Effect === "Deny")) return "denied";
  return matching.length > 0 ? "allowed" : "not granted";
}

/**
 * The queue policy as `osls print` resolves serverless.yml with these params: the same resources
 * `npm run package` puts in the template, without building (and racing) a bundle.
 */
async function queuePolicy(
  params: string[],
): Promise<{ queues: unknown; statements: Statement[] }> {
  const { stdout } = await run(
    process.execPath,
    [
      "node_modules/osls/bin/serverless.js",
      "print",
      "--format",
      "json",
      ...params.map((param) => `--param=${param}`),
    ],
    {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: "offline",
        AWS_SECRET_ACCESS_KEY: "offline",
        AWS_REGION: "eu-west-1",
      },
      timeout: 60_000,
    },
  );
  const { resources: template } = JSON.parse(stdout) as { resources: Template };
  const policy = template.Resources.ResetQueuePolicy;
  expect(policy?.Type).toBe("AWS::SQS::QueuePolicy");
  const properties = resolve(policy?.Properties, template) as {
    Queues: unknown;
    PolicyDocument: { Statement: Statement[] };
  };
  return { queues: properties.Queues, statements: properties.PolicyDocument.Statement };
}

const senders: Record<string, Sender> = {
  "the helpdesk role": { principalArn: HELPDESK_ROLE },
  "the HR role, in another account": { principalArn: HR_ROLE },
  "the SNS topic": { service: "sns.amazonaws.com", sourceArn: TOPIC },
  "the EventBridge rule": { service: "events.amazonaws.com", sourceArn: RULE },
  "the replay function": { principalArn: REPLAY_ROLE },
  "another role of the account": { principalArn: `arn:aws:iam::${ACCOUNT}:role/admin` },
  "the account root": { principalArn: `arn:aws:iam::${ACCOUNT}:root` },
  "another SNS topic": {
    service: "sns.amazonaws.com",
    sourceArn: `arn:aws:sns:eu-west-1:${ACCOUNT}:other`,
  },
  "SNS without a source": { service: "sns.amazonaws.com" },
  "a topic of another account": {
    service: "sns.amazonaws.com",
    sourceArn: "arn:aws:sns:eu-west-1:999999999999:credential-resets",
  },
};

let configured: Awaited<ReturnType<typeof queuePolicy>>;
let unconfigured: Awaited<ReturnType<typeof queuePolicy>>;

beforeAll(async () => {
  [configured, unconfigured] = await Promise.all([
    queuePolicy([
      `producerRoleArns=${HELPDESK_ROLE},${HR_ROLE}`,
      `producerSourceArns=${TOPIC},${RULE}`,
    ]),
    queuePolicy([]),
  ]);
}, 60_000);

describe("the reset queue's policy (serverless.yml)", () => {
  it("is attached to the reset queue and denies nothing but SendMessage", () => {
    expect(configured.queues).toEqual(["Ref:ResetQueue"]);
    for (const { statements } of [configured, unconfigured]) {
      const denials = statements.filter((statement) => statement.Effect === "Deny");
      expect(denials).toHaveLength(1);
      // Management (SetQueueAttributes, this policy itself) stays with the account's IAM.
      expect(statements.map((statement) => statement.Action)).toEqual(
        statements.map(() => "sqs:SendMessage"),
      );
    }
  });

  it.each([
    ["the helpdesk role", "allowed"],
    ["the HR role, in another account", "allowed"],
    ["the SNS topic", "allowed"],
    ["the EventBridge rule", "allowed"],
    ["the replay function", "not granted"],
    ["another role of the account", "denied"],
    ["the account root", "denied"],
    ["another SNS topic", "denied"],
    ["SNS without a source", "denied"],
    ["a topic of another account", "denied"],
  ])("with producers configured, %s: %s", (sender, expected) => {
    expect(verdict(configured.statements, senders[sender] as Sender)).toBe(expected);
  });

  it.each([
    ["the helpdesk role", "denied"],
    ["the SNS topic", "denied"],
    ["the EventBridge rule", "denied"],
    ["another role of the account", "denied"],
    ["the replay function", "not granted"],
  ])("with no producer configured, %s: %s", (sender, expected) => {
    expect(verdict(unconfigured.statements, senders[sender] as Sender)).toBe(expected);
  });
});
