import type { Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, REDACTED } from "../../lib/logging/logger.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";
import { captureOutput } from "../helpers/pipeline.ts";

const CANARY = "Canary-9fQ2-xV7m";
const output = captureOutput();

/** Each JSON log line printed, parsed. */
function logged(): Array<Record<string, unknown>> {
  return output
    .text()
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function onlyLog(): Record<string, unknown> {
  const lines = logged();
  expect(lines).toHaveLength(1);
  return lines[0] as Record<string, unknown>;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("createLogger's redaction", () => {
  it.each([
    "Credentials",
    "credentials",
    "password",
    "PASSWORD",
    "pin",
    "Pin",
    "authorization",
    "Authorization",
    "SecretString",
    "secretstring",
    "secret",
    "Secret",
    "cookie",
    "Cookie",
    "set-cookie",
    "Set-Cookie",
  ])("replaces the value of %s at the top level", (key) => {
    createLogger().info("attempt", { [key]: CANARY });
    expect(onlyLog()[key]).toBe(REDACTED);
    expect(output.text()).not.toContain(CANARY);
  });

  it("replaces them at any depth, in arrays, and whatever the value's type", () => {
    createLogger().info("attempt", {
      request: {
        headers: { Authorization: `Basic ${CANARY}`, Cookie: [`JSESSIONIDSSO=${CANARY}`] },
        body: { Credential: { Credentials: CANARY, CredMustChange: true } },
      },
      attempts: [{ pin: CANARY }, [{ deeper: [{ password: { value: CANARY } }] }]],
      secret: { SecretString: CANARY, Name: "cupi-reset/service-account" },
      pin: 739164,
    });
    const line = onlyLog();
    expect(line.request).toEqual({
      headers: { Authorization: REDACTED, Cookie: REDACTED },
      body: { Credential: { Credentials: REDACTED, CredMustChange: true } },
    });
    expect(line.attempts).toEqual([{ pin: REDACTED }, [{ deeper: [{ password: REDACTED }] }]]);
    expect(line.secret).toBe(REDACTED);
    expect(line.pin).toBe(REDACTED);
    expect(output.text()).not.toContain(CANARY);
    expect(output.text()).not.toContain("739164");
  });

  it("replaces them in errors, through their cause chains", () => {
    const root = Object.assign(new Error("CUC refused the login"), {
      authorization: `Basic ${CANARY}`,
    });
    const middle = new Error("PUT failed", {
      cause: Object.assign(root, { response: { "set-cookie": [`JSESSIONID=${CANARY}`] } }),
    });
    const top = Object.assign(new Error("reset failed", { cause: middle }), {
      update: { Credentials: new SecretValue(CANARY), Locked: true },
      sent: [{ password: CANARY }],
    });
    const plainCause = new Error("secret unreadable", {
      cause: { SecretString: CANARY, name: "cupi-reset/resets/x" },
    });
    const logger = createLogger();
    logger.error("as the extra argument", top);
    logger.error("as attributes", { error: plainCause, failures: [top] });

    const [first, second] = logged() as [Record<string, unknown>, Record<string, unknown>];
    expect(first.error).toMatchObject({
      name: "Error",
      message: "reset failed",
      update: { Credentials: REDACTED, Locked: true },
      sent: [{ password: REDACTED }],
      cause: {
        message: "PUT failed",
        cause: {
          message: "CUC refused the login",
          authorization: REDACTED,
          response: { "set-cookie": REDACTED },
        },
      },
    });
    expect(second.error).toMatchObject({
      message: "secret unreadable",
      cause: { SecretString: REDACTED, name: "cupi-reset/resets/x" },
    });
    expect(second.failures).toMatchObject([{ sent: [{ password: REDACTED }] }]);
    expect(output.text()).not.toContain(CANARY);
  });

  it("redacts keys appended to every log line and in child loggers", () => {
    const logger = createLogger();
    logger.appendKeys({ cookie: `JSESSIONIDSSO=${CANARY}` });
    const child = logger.createChild({ persistentKeys: { password: CANARY } });
    logger.info("parent");
    child.info("child", { nested: { secretString: CANARY } });
    const [parent, fromChild] = logged() as [Record<string, unknown>, Record<string, unknown>];
    expect(parent.cookie).toBe(REDACTED);
    expect(fromChild).toMatchObject({ password: REDACTED, nested: { secretString: REDACTED } });
    expect(output.text()).not.toContain(CANARY);
  });

  it("prints a SecretValue as [redacted] under any key", () => {
    createLogger().info("values", {
      newValue: new SecretValue(CANARY),
      values: [new SecretValue(CANARY)],
    });
    expect(onlyLog()).toMatchObject({ newValue: REDACTED, values: [REDACTED] });
    expect(output.text()).not.toContain(CANARY);
  });

  it("leaves other fields alone, including ones that only resemble secret keys", () => {
    const fields = {
      eventId: "hd-INC0012345-1",
      action: "reset-pin",
      credential: "pin",
      kind: "password",
      secretId: "cupi-reset/resets/INC0012345",
      pinLength: 6,
      passwordRule: "6f1c2a4e-8b3d-4e5f-9a70-000000000003",
      cookieNames: ["JSESSIONIDSSO"],
      settings: { mustChange: true, locked: false },
      durationMs: 42,
    };
    const error = Object.assign(new Error("CUPI updateCredential(pin): HTTP 400"), {
      kind: "rejected",
      status: 400,
    });
    createLogger().warn("record dead-lettered", { ...fields, error });
    const line = onlyLog();
    expect(line).toMatchObject({ ...fields, message: "record dead-lettered" });
    expect(line.error).toMatchObject({
      message: "CUPI updateCredential(pin): HTTP 400",
      kind: "rejected",
      status: 400,
    });
    expect(output.text()).not.toContain(REDACTED);
  });

  it("keeps an absent value absent rather than claiming a redacted one", () => {
    createLogger().info("no secret here", { account: { password: undefined, pin: null } });
    expect(onlyLog().account).toEqual({ pin: null });
  });
});

describe("createLogger's ordinary behaviour", () => {
  it("names the service and adds the Lambda context", () => {
    const logger = createLogger();
    logger.addContext({
      functionName: "cupi-reset-reset",
      awsRequestId: "request-1",
      invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:cupi-reset-reset",
      memoryLimitInMB: "1024",
    } as unknown as Context);
    logger.info("hello");
    expect(onlyLog()).toMatchObject({
      level: "INFO",
      message: "hello",
      service: "cupi-reset",
      function_name: "cupi-reset-reset",
      function_request_id: "request-1",
    });
  });

  it("logs at INFO and above by default", () => {
    const logger = createLogger();
    logger.debug("hidden");
    logger.info("shown");
    logger.error("also shown");
    expect(logged().map((line) => line.level)).toEqual(["INFO", "ERROR"]);
  });

  it("takes its level from the option, or from POWERTOOLS_LOG_LEVEL", () => {
    createLogger({ logLevel: "DEBUG" }).debug("option");
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "WARN");
    const fromEnvironment = createLogger();
    fromEnvironment.info("hidden");
    fromEnvironment.warn("environment");
    createLogger({ logLevel: "SILENT" }).error("silenced");
    expect(logged().map((line) => line.message)).toEqual(["option", "environment"]);
  });
});
