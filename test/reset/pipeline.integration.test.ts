import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import { DELIVERY_PREFIX, type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";
import {
  captureOutput,
  type DeadLetterMessage,
  drain,
  eventFactory,
  isDeadLetterOf,
  lambdaContext,
  readDeadLetters,
  send,
  sqsRecord,
  startPipeline,
} from "../helpers/pipeline.ts";

// Canary values: none of them may ever appear in output or a DLQ message.
const RESET_PIN = "739164";
const RESET_PASSWORD = "CANARY-Reset-Passw0rd-x";
const PLAINTEXT_PIN = "CANARY-plaintext-pin";
const SERVICE_PASSWORD_MARKER = "Simulated-HelpDesk-1";

const ids = {
  jsmith: "0b4e934c-dd78-4fc9-9e64-69acf166123e",
  mrossi: "73aa24b9-7d93-4376-add9-bf39198d0c76",
  lhansen: "7a240271-135d-40a7-9a46-f214ec7586ec",
  cucadmin: "cd6ea232-4087-4d84-a411-bec54b0b4f4f",
  kwong: "5e1f0c1a-2b3c-4d5e-8f70-0123456789ab",
};

const users: SimulatedUser[] = [
  {
    objectId: ids.jsmith,
    alias: "jsmith",
    firstName: "John",
    lastName: "Smith",
    dtmfAccessId: "1001",
    pin: "480916",
    password: "Kq7#vRt2pLm9",
  },
  {
    objectId: ids.mrossi,
    alias: "mrossi",
    firstName: "Maria",
    lastName: "Rossi",
    dtmfAccessId: "2002",
    pin: "739451",
    password: "Xw4$pQz8Lm2n",
  },
  {
    objectId: ids.lhansen,
    alias: "lhansen",
    firstName: "Lars",
    lastName: "Hansen",
    dtmfAccessId: "3003",
    ldapType: 1,
    pin: "602817",
  },
  {
    objectId: ids.cucadmin,
    alias: "cucadmin",
    dtmfAccessId: "9000",
    roles: ["System Administrator"],
  },
  {
    objectId: ids.kwong,
    alias: "kwong",
    firstName: "Kim",
    lastName: "Wong",
    dtmfAccessId: "4010",
    pin: "518027",
  },
  { objectId: "77b08785-c40c-414d-9483-84e517c24c1b", alias: "dup.user" },
  { objectId: "d40241cc-b70a-4b2e-b73f-08c9521be1fc", alias: "dup.user" },
];

const secrets = {
  "cupi-reset/resets/jsmith-pin": JSON.stringify({ pin: RESET_PIN }),
  "cupi-reset/resets/jsmith-password": RESET_PASSWORD,
  "cupi-reset/resets/trivial-pin": JSON.stringify({ pin: "123456" }),
  [`${DELIVERY_PREFIX}INC0042`]: "{}",
  "outside/delivery": "{}",
};

const event = eventFactory("test", {
  action: "reset-pin",
  newCredential: { secretId: "cupi-reset/resets/jsmith-pin", jsonKey: "pin" },
});

let stack: LocalStack;
let pipeline: ReturnType<typeof startPipeline>;
const output = captureOutput();

beforeAll(async () => {
  stack = await startLocalStack({
    users,
    secrets,
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: 3,
  });
  pipeline = startPipeline(stack);
});

afterAll(async () => {
  await pipeline?.handler.close();
  await stack?.close();
});

beforeEach(() => {
  stack.simulator.resetStats();
});

async function run(...bodies: unknown[]): Promise<{ ids: string[]; dlq: DeadLetterMessage[] }> {
  const sent: string[] = [];
  for (const body of bodies) sent.push(await send(stack.sqs, stack.queues.queueUrl, body));
  await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
  const dlq = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
  return { ids: sent, dlq: dlq.filter((letter) => isDeadLetterOf(letter, sent)) };
}

function expectNoCanaries(...texts: string[]): void {
  for (const text of texts) {
    for (const canary of [
      RESET_PIN,
      RESET_PASSWORD,
      PLAINTEXT_PIN,
      SERVICE_PASSWORD_MARKER,
      "CANARY",
    ]) {
      expect(text).not.toContain(canary);
    }
  }
}

describe("the reset pipeline on the local stack", () => {
  it("resets a PIN from a secret's JSON key, with settings in the same PUT", async () => {
    const { dlq } = await run(event({ settings: { mustChange: true } }));
    expect(dlq).toEqual([]);
    expect(stack.simulator.credentialOf(ids.jsmith, "pin")).toMatchObject({
      value: RESET_PIN,
      CredMustChange: true,
    });
    expect(output.text()).toContain('"outcome":"applied"');
    expectNoCanaries(output.text());
  });

  it("resets a web password from a whole SecretString, by objectId", async () => {
    await run(
      event({
        user: { objectId: ids.jsmith },
        action: "reset-password",
        newCredential: { secretId: "cupi-reset/resets/jsmith-password" },
      }),
    );
    expect(stack.simulator.credentialOf(ids.jsmith, "password").value).toBe(RESET_PASSWORD);
    expectNoCanaries(output.text());
  });

  it("generates a policy-compliant PIN and delivers it to the helpdesk's secret first", async () => {
    const { dlq } = await run(
      event({
        user: { alias: "mrossi" },
        newCredential: { generate: true, deliverTo: { secretId: `${DELIVERY_PREFIX}INC0042` } },
        settings: { mustChange: true },
      }),
    );
    expect(dlq).toEqual([]);
    const delivered = JSON.parse(
      stack.secretsManager.secretValue(`${DELIVERY_PREFIX}INC0042`) ?? "{}",
    );
    const applied = stack.simulator.credentialOf(ids.mrossi, "pin");
    expect(applied.value).toMatch(/^\d{6,}$/);
    expect(delivered.pin).toBe(applied.value);
    expect(delivered.eventId).toMatch(/^test-/);
    expect(output.text()).not.toContain(applied.value as string);
  });

  it("changes settings only, unlocks, and offboards (PIN and password; PIN only for LDAP)", async () => {
    stack.simulator.setHackedState(ids.kwong, "pin", {
      hackCount: 4,
      timeHacked: "2026-11-27 10:00:00.000",
      locked: true,
    });
    const { dlq } = await run(
      event({
        user: { alias: "kwong" },
        action: "update-password-settings",
        newCredential: undefined,
        settings: { cantChange: true },
      }),
      event({ user: { alias: "kwong" }, action: "unlock-pin", newCredential: undefined }),
      event({
        user: { alias: "mrossi" },
        action: "offboard",
        newCredential: undefined,
        source: "hr-offboarding",
      }),
      event({
        user: { alias: "lhansen" },
        action: "offboard",
        newCredential: undefined,
        source: "hr-offboarding",
      }),
    );
    expect(dlq).toEqual([]);
    expect(stack.simulator.credentialOf(ids.kwong, "password")).toMatchObject({
      CantChange: true,
      changes: 0,
    });
    expect(stack.simulator.credentialOf(ids.kwong, "pin")).toMatchObject({
      HackCount: 0,
      TimeHacked: "",
      Locked: false,
    });
    for (const kind of ["pin", "password"] as const) {
      expect(stack.simulator.credentialOf(ids.mrossi, kind)).toMatchObject({
        Locked: true,
        CantChange: true,
      });
    }
    expect(stack.simulator.credentialOf(ids.lhansen, "pin")).toMatchObject({
      Locked: true,
      CantChange: true,
    });
    const ldapPasswordPuts = stack.simulator.requests.filter(
      (request) =>
        request.method === "PUT" && request.path.includes(`${ids.lhansen}/credential/password`),
    );
    expect(ldapPasswordPuts).toEqual([]);
  });

  it("accepts SNS (raw delivery off) and EventBridge envelopes", async () => {
    const inner = event({
      user: { alias: "kwong" },
      action: "update-pin-settings",
      newCredential: undefined,
      settings: { doesntExpire: true },
    });
    const sns = {
      Type: "Notification",
      MessageId: "m-1",
      TopicArn: "arn:aws:sns:us-east-1:000000000000:resets",
      Message: JSON.stringify(inner),
    };
    const bridged = {
      version: "0",
      id: "e-1",
      "detail-type": "CredentialReset",
      source: "helpdesk.app",
      detail: event({
        user: { alias: "kwong" },
        action: "update-pin-settings",
        newCredential: undefined,
        settings: { doesntExpire: false },
      }),
    };
    await run(sns);
    expect(stack.simulator.credentialOf(ids.kwong, "pin").DoesntExpire).toBe(true);
    await run(bridged);
    expect(stack.simulator.credentialOf(ids.kwong, "pin").DoesntExpire).toBe(false);
  });

  it.each([
    ["INVALID_EVENT", "not json {", /not valid JSON/],
    [
      "INVALID_EVENT",
      event({ user: { alias: "jsmith", objectId: ids.jsmith } }),
      /user: must be exactly one of/,
    ],
    ["INVALID_EVENT", event({ user: { alias: "../admin" } }), /user/],
    ["USER_NOT_FOUND", event({ user: { alias: "nobody" } }), /no user has this alias/],
    [
      "USER_NOT_FOUND",
      event({ user: { objectId: "0b4e934c-dd78-4fc9-9e64-69acf1661fff" } }),
      /404/,
    ],
    ["AMBIGUOUS_USER", event({ user: { alias: "dup.user" } }), /2 users match/],
    [
      "SECRET_NOT_FOUND",
      event({ newCredential: { secretId: "cupi-reset/resets/missing" } }),
      /does not exist/,
    ],
    [
      "SECRET_NOT_FOUND",
      event({ newCredential: { secretId: "cupi-reset/resets/jsmith-pin", jsonKey: "nope" } }),
      /has no key "nope"/,
    ],
    [
      "CREDENTIAL_REJECTED",
      event({ newCredential: { secretId: "cupi-reset/resets/trivial-pin", jsonKey: "pin" } }),
      /CUPI refused the change: Trivial/,
    ],
    ["NOT_PERMITTED", event({ user: { alias: "cucadmin" } }), /403/],
    ["ACTION_NOT_ALLOWED", event({ cluster: "emea" }), /cluster emea is not configured/],
    [
      "ACTION_NOT_ALLOWED",
      event({ newCredential: { secretId: "cupi-reset/service-account", jsonKey: "password" } }),
      /names a CUPI service-account secret/,
    ],
    [
      "ACTION_NOT_ALLOWED",
      event({ newCredential: { generate: true, deliverTo: { secretId: "outside/delivery" } } }),
      /must start with cupi-reset\/delivery\//,
    ],
  ])("dead-letters %s with a specific reason (%#)", async (code, body, reason) => {
    const { ids: sent, dlq } = await run(body);
    expect(dlq).toHaveLength(1);
    const [letter] = dlq as [DeadLetterMessage];
    expect(letter.attributes).toMatchObject({
      errorCode: code,
      sourceMessageId: sent[0],
      receiveCount: "1",
    });
    expect(letter.attributes.errorMessage).toMatch(reason);
    expect(Date.parse(letter.attributes.failedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(letter.body).toBe(typeof body === "string" ? body : JSON.stringify(body));
    if (typeof body !== "string") expect(letter.attributes.eventId).toBe(body.eventId);
    expectNoCanaries(output.text(), JSON.stringify(letter));
  });

  it("refuses a message carrying a credential value and removes it from the DLQ copy", async () => {
    const body = event({
      newCredential: { secretId: "cupi-reset/resets/jsmith-pin", pin: PLAINTEXT_PIN },
    });
    const { dlq } = await run(body);
    const [letter] = dlq as [DeadLetterMessage];
    expect(letter.attributes.errorCode).toBe("INVALID_EVENT");
    expect(letter.attributes.errorMessage).toMatch(
      /carries a credential value \(newCredential\.pin\)/,
    );
    expect(JSON.parse(letter.body).newCredential.pin).toBe("[removed]");
    expectNoCanaries(output.text(), JSON.stringify(letter));
  });

  it("retries a transient CUC failure through SQS and applies the reset exactly once", async () => {
    const before = stack.simulator.credentialOf(ids.kwong, "pin").changes;
    // More server errors than one delivery's in-call retries can absorb.
    stack.simulator.injectFaults(...Array<"500-html">(4).fill("500-html"));
    const { dlq } = await run(
      event({ user: { alias: "kwong" }, newCredential: { generate: true } }),
    );
    expect(dlq).toEqual([]);
    expect(stack.simulator.credentialOf(ids.kwong, "pin").changes).toBe(before + 1);
    expect(output.text()).toContain('"outcome":"retry"');
    expect(output.text()).toContain('"receiveCount":2');
    // Server errors are not CUC's throttle: no throttling warning.
    expect(output.text()).not.toContain('"cupiThrottle"');
  });

  it("waits out CUC's 503s within the delivery, pausing instead of using up its attempts", async () => {
    const before = stack.simulator.credentialOf(ids.kwong, "pin").changes;
    // More 503s than the client's 4 attempts: the adaptive limit paces them instead.
    stack.simulator.injectFaults(...Array<"503">(6).fill("503"));
    const { dlq } = await run(
      event({ user: { alias: "kwong" }, newCredential: { generate: true } }),
    );
    expect(dlq).toEqual([]);
    expect(stack.simulator.credentialOf(ids.kwong, "pin").changes).toBe(before + 1);
    expect(output.text()).not.toContain('"outcome":"retry"');
    expect(output.text()).not.toContain('"receiveCount":2');
    // One warning for the invocation, with what the limit made of it.
    const warnings = output
      .text()
      .split("\n")
      .filter((line) => line.includes('"cupiThrottle"'))
      .map((line) => JSON.parse(line) as { cupiThrottle: Array<Record<string, unknown>> });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.cupiThrottle).toEqual([
      expect.objectContaining({
        origin: new URL(stack.environment.CUPI_BASE_URL ?? "").origin,
        throttled: 6,
        pauses: expect.any(Number),
        limit: 1,
      }),
    ]);
  });
});

describe("the handler's batch semantics", () => {
  function batch(...bodies: unknown[]): SQSEvent {
    return {
      Records: bodies.map((body, index) =>
        sqsRecord(`msg-${randomUUID()}-${index}`, body, stack.queues.queueArn),
      ),
    };
  }

  it("fails only the transient records of a mixed batch", async () => {
    // The service account is cached first, so the throttling below hits only the reset's secret.
    await pipeline.handler(
      batch(event({ user: { alias: "kwong" }, action: "unlock-pin", newCredential: undefined })),
      lambdaContext(60_000),
    );
    // Secrets Manager throttles the one record that reads a secret, beyond the SDK's 3 attempts.
    stack.secretsManager.failNext("GetSecretValue", "ThrottlingException", 3);
    const input = batch(
      event({ user: { alias: "nobody" } }),
      event({ user: { alias: "kwong" } }),
      "garbage",
      event({
        user: { alias: "kwong" },
        action: "update-pin-settings",
        newCredential: undefined,
        settings: { locked: false },
      }),
    );
    const response = await pipeline.handler(input, lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: input.Records[1]?.messageId }]);
    const dlq = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
    const codes = dlq
      .filter((letter) =>
        input.Records.some((record) => record.messageId === letter.attributes.sourceMessageId),
      )
      .map((letter) => letter.attributes.errorCode)
      .sort();
    expect(codes).toEqual(["INVALID_EVENT", "USER_NOT_FOUND"]);
  });

  it("reports every record of a fully failed batch (powertools#5624 does not bite)", async () => {
    stack.simulator.injectFaults(...Array<"500-html">(40).fill("500-html"));
    const input = batch(
      event({
        user: { alias: "kwong" },
        action: "update-pin-settings",
        newCredential: undefined,
        settings: { locked: false },
      }),
      event({
        user: { alias: "kwong" },
        action: "update-pin-settings",
        newCredential: undefined,
        settings: { locked: false },
      }),
    );
    const response = await pipeline.handler(input, lambdaContext(60_000));
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      input.Records.map((record) => record.messageId).sort(),
    );
  });

  it("does not start records when too little Lambda time is left", async () => {
    const input = batch(event({}), event({}));
    const response = await pipeline.handler(input, lambdaContext(3_000));
    expect(response.batchItemFailures).toHaveLength(2);
    expect(stack.simulator.stats.requests).toBe(0);
  });
});

describe("time and credentials", () => {
  it("abandons a CUPI call that would outlive the invocation and returns in time", async () => {
    const tight = createResetHandlerFromEnvironment(
      { ...process.env, RECORD_MIN_TIME_MS: "200", DEADLINE_SAFETY_MS: "600" },
      new Logger({ serviceName: "cupi-reset", logLevel: "SILENT" }),
    );
    try {
      stack.simulator.injectFaults({ kind: "slow", delayMs: 20_000 });
      const started = Date.now();
      const input: SQSEvent = {
        Records: [
          sqsRecord(
            "slow-1",
            event({ user: { alias: "kwong" }, action: "unlock-pin", newCredential: undefined }),
            stack.queues.queueArn,
          ),
        ],
      };
      const response = await tight(input, lambdaContext(2_000));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "slow-1" }]);
    } finally {
      await tight.close();
    }
  });

  it("reports a permanent failure as failed when the DLQ send itself fails", async () => {
    const noDlq = createResetHandlerFromEnvironment(
      { ...process.env, DLQ_URL: `${stack.queues.dlqUrl}-does-not-exist` },
      new Logger({ serviceName: "cupi-reset", logLevel: "SILENT" }),
    );
    try {
      const input: SQSEvent = {
        Records: [
          sqsRecord("dlq-down-1", event({ user: { alias: "nobody" } }), stack.queues.queueArn),
        ],
      };
      const response = await noDlq(input, lambdaContext(60_000));
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "dlq-down-1" }]);
    } finally {
      await noDlq.close();
    }
  });

  it("retries, rather than dead-letters, a cluster whose certificate is not trusted", async () => {
    stack.secretsManager.putSecret(
      "cupi-reset/service-account-untrusted",
      JSON.stringify({ username: "helpdesk", password: SERVICE_PASSWORD_MARKER }),
    );
    const clusters = JSON.stringify({
      // Another origin than the other tests', so their circuit breaker state cannot interfere.
      lab: {
        baseUrl: stack.simulator.url.replace("127.0.0.1", "localhost"),
        secretId: "cupi-reset/service-account-untrusted",
      },
    });
    const withCluster = createResetHandlerFromEnvironment(
      { ...process.env, CUPI_CLUSTERS: clusters },
      new Logger({ serviceName: "cupi-reset", logLevel: "INFO" }),
    );
    try {
      const body = event({ cluster: "lab" });
      const messageId = `tls-${String(body.eventId)}`;
      const input: SQSEvent = { Records: [sqsRecord(messageId, body, stack.queues.queueArn)] };
      // A deployment fault: dead-lettering every event at once would leave no time to fix it.
      expect(await withCluster(input, lambdaContext(60_000))).toEqual({
        batchItemFailures: [{ itemIdentifier: messageId }],
      });
      const letters = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
      expect(letters.filter((letter) => isDeadLetterOf(letter, [messageId]))).toEqual([]);
      expect(output.text()).toMatch(/certificate is not trusted/);
    } finally {
      await withCluster.close();
    }
  });

  it("re-reads a rotated service-account secret after a 401 and goes on", async () => {
    const rotated = await startLocalStack({
      users,
      secrets,
      visibilityTimeoutSeconds: 1,
      servicePassword: "CANARY-old-password",
    });
    const saved = { ...process.env };
    try {
      const rotatedPipeline = startPipeline(rotated);
      await send(
        rotated.sqs,
        rotated.queues.queueUrl,
        event({ user: { alias: "kwong" }, action: "unlock-pin", newCredential: undefined }),
      );
      // First delivery: the cached password is refused, re-read once, still refused: retried.
      expect((await rotatedPipeline.poller.pollOnce())?.failedMessageIds).toHaveLength(1);
      // One refused login, not one per retry: repeated 401s would lock the account out.
      expect(rotated.simulator.stats.requests).toBe(1);
      const account = JSON.parse(
        rotated.secretsManager.secretValue("cupi-reset/service-account") ?? "{}",
      );
      rotated.secretsManager.putSecret(
        "cupi-reset/service-account",
        JSON.stringify({ ...account, password: SERVICE_PASSWORD_MARKER }),
      );
      await drain(rotatedPipeline.poller, rotated.sqs, rotated.queues.queueUrl);
      expect(await readDeadLetters(rotated.sqs, rotated.queues.dlqUrl)).toEqual([]);
      expect(rotated.simulator.credentialOf(ids.kwong, "pin").Locked).toBe(false);
      await rotatedPipeline.handler.close();
    } finally {
      Object.assign(process.env, saved);
      await rotated.close();
    }
  });
});

describe("replayed messages", () => {
  it("keep their replayCount when they are dead-lettered again", async () => {
    const { MessageId } = await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queues.queueUrl,
        MessageBody: JSON.stringify(event({ user: { alias: "nobody" } })),
        MessageAttributes: { replayCount: { DataType: "String", StringValue: "2" } },
      }),
    );
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    const letter = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).find((candidate) =>
      isDeadLetterOf(candidate, [MessageId ?? ""]),
    );
    expect(letter?.attributes).toMatchObject({ errorCode: "USER_NOT_FOUND", replayCount: "2" });
  });
});
