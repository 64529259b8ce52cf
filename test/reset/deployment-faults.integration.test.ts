// Issue 12 §1: a misconfigured deployment is refused at cold start where it can be, and otherwise
// retried with a named reason and one warning per invocation — never dead-lettered as the events'
// fault. Over the local stack: real SQS, Secrets Manager stand-in, CUPI simulator over HTTPS.
import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalStack, SERVICE_ACCOUNT_SECRET, startLocalStack } from "../../dev/local-stack.ts";
import { ConfigurationError } from "../../lib/config/config.ts";
import { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";
import {
  captureOutput,
  eventFactory,
  isDeadLetterOf,
  lambdaContext,
  readDeadLetters,
  sqsRecord,
} from "../helpers/pipeline.ts";

const JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";
const UNKNOWN = "99999999-9999-4999-8999-999999999999";

const event = eventFactory("deployment-fault", { action: "unlock-pin" });
const output = captureOutput();
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    users: [{ objectId: JSMITH, alias: "jsmith", dtmfAccessId: "1001", pin: "480916" }],
    maxReceiveCount: 3,
  });
  Object.assign(process.env, stack.environment);
});

afterAll(async () => {
  await stack?.close();
});

beforeEach(() => {
  stack.simulator.resetStats();
});

type Handler = ReturnType<typeof createResetHandlerFromEnvironment>;

/** Runs one batch through a handler built from the stack's environment with `overrides`. */
async function runBatch(overrides: Record<string, string>, ...bodies: unknown[]) {
  const handler: Handler = createResetHandlerFromEnvironment(
    { ...stack.environment, ...overrides },
    new Logger({ serviceName: "cupi-reset", logLevel: "INFO" }),
  );
  try {
    const input: SQSEvent = {
      Records: bodies.map((body) => sqsRecord(`msg-${randomUUID()}`, body, stack.queues.queueArn)),
    };
    const response = await handler(input, lambdaContext(60_000));
    const messageIds = input.Records.map((record) => record.messageId);
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, messageIds),
    );
    return {
      retried: response.batchItemFailures.map((failure) => failure.itemIdentifier),
      messageIds,
      letters,
    };
  } finally {
    await handler.close();
  }
}

/** The structured log lines written so far. */
function logLines(): Record<string, unknown>[] {
  return output
    .text()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function deploymentWarnings() {
  return logLines().filter((line) => Array.isArray(line.deploymentFaults)) as {
    deploymentFaults: { reason: string; records: number }[];
  }[];
}

function retryReasons(): string[] {
  return logLines()
    .filter((line) => line.message === "record will be retried")
    .map((line) => String(line.reason));
}

describe("refused at cold start, with the setting named", () => {
  it.each([
    [
      { CUPI_BASE_URL: "http://x" },
      "CUPI_BASE_URL must use https://; http:// is only for the local simulator, with CUPI_ALLOW_INSECURE_HTTP=true",
    ],
    [{ CUPI_BASE_URL: "ftp://x" }, "CUPI_BASE_URL must use https://, not ftp://"],
    [{ CUPI_ALLOW_INSECURE_HTTP: "yes" }, 'CUPI_ALLOW_INSECURE_HTTP must be "true" or "false"'],
    [{ DLQ_URL: "not-a-url" }, "DLQ_URL must be an SQS queue URL"],
  ])("%j", (overrides, message) => {
    expect(() =>
      createResetHandlerFromEnvironment(
        { ...stack.environment, ...overrides },
        new Logger({ logLevel: "SILENT" }),
      ),
    ).toThrow(
      expect.objectContaining({
        name: ConfigurationError.name,
        message: expect.stringContaining(message),
      }),
    );
  });
});

describe("a base URL that does not lead to CUPI", () => {
  it("accepts a base URL ending in /vmrest, as npm start prints it, and applies the event", async () => {
    // By alias (the search) and by objectId (a direct read): one batch each, the same user.
    for (const user of [{ alias: "jsmith" }, { objectId: JSMITH }]) {
      const { retried, letters } = await runBatch(
        { CUPI_BASE_URL: `${stack.simulator.url}/vmrest/` },
        event({ user }),
      );
      expect(retried).toEqual([]);
      expect(letters).toEqual([]);
    }
    const requests = stack.simulator.requests;
    expect(requests.map((request) => request.path)).not.toContainEqual(
      expect.stringContaining("/vmrest/vmrest"),
    );
    expect(requests.filter((request) => request.method === "PUT")).toHaveLength(2);
  });

  it("retries every event of a wrong path, never USER_NOT_FOUND, with one warning for the batch", async () => {
    const before = deploymentWarnings().length;
    const { retried, messageIds, letters } = await runBatch(
      { CUPI_BASE_URL: `${stack.simulator.url}/cuc` },
      event({ user: { alias: "jsmith" } }),
      event({ user: { objectId: JSMITH } }),
      event({ user: { alias: "nobody" } }),
    );
    expect(retried.sort()).toEqual([...messageIds].sort());
    expect(letters).toEqual([]);
    const reasons = retryReasons().slice(-3);
    expect(reasons).toHaveLength(3);
    for (const reason of reasons) {
      expect(reason).toMatch(
        /the base URL does not lead to CUPI .*the base URL should be the server's address/,
      );
    }
    const warnings = deploymentWarnings().slice(before);
    expect(warnings).toHaveLength(1);
    const held = warnings[0]?.deploymentFaults.reduce((sum, fault) => sum + fault.records, 0);
    expect(held).toBe(3);
  });

  it("still dead-letters an unknown objectId as USER_NOT_FOUND once CUPI answered its version", async () => {
    const { retried, letters } = await runBatch({}, event({ user: { objectId: UNKNOWN } }));
    expect(retried).toEqual([]);
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["USER_NOT_FOUND"]);
    // The 404 was checked against /vmrest/version, which answered.
    expect(stack.simulator.requests.map((request) => request.path)).toContain("/vmrest/version");
    expect(deploymentWarnings().slice(-1)).toEqual([]);
  });

  it("dead-letters an unknown alias as USER_NOT_FOUND without asking for the version", async () => {
    const { letters } = await runBatch({}, event({ user: { alias: "nobody" } }));
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["USER_NOT_FOUND"]);
    expect(stack.simulator.requests.map((request) => request.path)).not.toContain(
      "/vmrest/version",
    );
  });
});

describe("a service account whose content is wrong", () => {
  it.each([
    ["not a pem", /"caCertificate" is not a PEM certificate/],
    [
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
      /"caCertificate" is not a PEM/,
    ],
  ])(
    "caCertificate %j: retried with the reason named, not 'unexpected error'",
    async (pem, reason) => {
      const secretId = `cupi-reset/service-account-${randomUUID()}`;
      stack.secretsManager.putSecret(
        secretId,
        JSON.stringify({ username: "helpdesk", password: "x", caCertificate: pem }),
      );
      const { retried, messageIds, letters } = await runBatch(
        { CUPI_SECRET_ID: secretId },
        event({ user: { alias: "jsmith" } }),
      );
      expect(retried).toEqual(messageIds);
      expect(letters).toEqual([]);
      expect(retryReasons().at(-1)).toMatch(reason);
      expect(retryReasons().at(-1)).toContain(secretId);
      expect(output.text()).not.toMatch(/unexpected error/);
      expect(deploymentWarnings().at(-1)?.deploymentFaults[0]?.reason).toMatch(reason);
      expect(stack.simulator.stats.requests).toBe(0);
    },
  );

  it("a service account CUC refuses is the deployment's fault", async () => {
    const secretId = `cupi-reset/service-account-${randomUUID()}`;
    const account = JSON.parse(
      stack.secretsManager.secretValue(SERVICE_ACCOUNT_SECRET) ?? "{}",
    ) as Record<string, string>;
    stack.secretsManager.putSecret(secretId, JSON.stringify({ ...account, password: "wrong" }));
    const { retried, messageIds, letters } = await runBatch(
      { CUPI_SECRET_ID: secretId },
      event({ user: { alias: "jsmith" } }),
    );
    expect(retried).toEqual(messageIds);
    expect(letters).toEqual([]);
    expect(deploymentWarnings().at(-1)?.deploymentFaults[0]?.reason).toMatch(
      /HTTP 401|the service account was refused/,
    );
  });
});
