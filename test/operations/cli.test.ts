// The operator CLI as operators run it: a subprocess on Node 24, against the local stack over
// real sockets. Every failure is one line and a non-zero exit, never a stack trace.
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import users from "../../dev/cupi-simulator/users.json" with { type: "json" };
import {
  createLocalSqsClient,
  type LocalQueues,
  startLocalQueues,
} from "../../dev/sqs/local-queues.ts";
import packageJson from "../../package.json" with { type: "json" };
import { drain, eventFactory, useLocalPipeline } from "../helpers/pipeline.ts";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bin/cupi-reset.ts with `env` only (no inherited AWS settings), `stdin` piped in. */
function cli(args: readonly string[], env: Record<string, string> = {}, stdin = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/cupi-reset.ts", ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        // No region or credentials from this machine's ~/.aws: each test says what it has.
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
        AWS_EC2_METADATA_DISABLED: "true",
        ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const STACK_TRACE = /\n\s+at /;

function expectOneLineFailure(run: Run, line: string | RegExp): void {
  expect(run.code).toBe(1);
  expect(run.stderr).not.toMatch(STACK_TRACE);
  if (typeof line === "string") expect(run.stderr).toBe(`cupi-reset: ${line}\n`);
  else expect(run.stderr).toMatch(line);
}

const COMMANDS = [
  [],
  ["check"],
  ["send"],
  ["dlq"],
  ["dlq", "list"],
  ["dlq", "replay"],
  ["status"],
  ["seed-secret"],
  ["guard"],
  ["guard", "status"],
  ["guard", "release"],
];

describe("the CLI's help, version and usage errors", () => {
  it.each(COMMANDS.map((command) => [command.join(" ") || "(no command)", command] as const))(
    "prints help and the version for `cupi-reset %s`",
    async (_, command) => {
      const runs = await Promise.all(
        ["--help", "-h", "--version"].map((flag) => cli([...command, flag])),
      );
      for (const run of runs) {
        expect(run.code).toBe(0);
        expect(run.stderr).toBe("");
      }
      const [help, short, version] = runs as [Run, Run, Run];
      expect(help.stdout).toMatch(new RegExp(`^Usage: cupi-reset ${command.join(" ")}`.trim()));
      expect(short.stdout).toBe(help.stdout);
      expect(version.stdout).toBe(`${packageJson.version}\n`);
    },
  );

  it("names an unknown command, then shows the commands", async () => {
    const run = await cli(["sned", "a.json"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: unknown command 'sned'\n\(Did you mean send\?\)\n/);
    expect(run.stderr).toMatch(/\nUsage: cupi-reset \[options\] \[command\]\n/);
    expect(run.stderr).not.toMatch(STACK_TRACE);
  });

  it("names an unknown flag, and points at the command's help", async () => {
    const run = await cli(["send", "--bogus", "a.json"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "error: unknown option '--bogus'\n(cupi-reset send --help for usage)\n",
    );
  });

  it.each([
    [["--rate", "0"], "--rate must be above 0"],
    [["--rate", "fast"], "--rate must be a number"],
    [["--all", "--rate", "900"], "--rate must be 1 to 500"],
    [["--error-code", "SECRET_NOT_FOUD"], /^cupi-reset: --error-code must be one of /],
    [["--all", "--event-id", "e-1"], "--event-id is not an option of --all (--rate, --force)"],
    [
      ["--since", "2026-11-28T10:00:00Z", "--until", "2026-11-28T09:00:00Z"],
      "--until must be later than --since",
    ],
  ])("refuses dlq replay %j by its flags' names", async (flags, line) => {
    expectOneLineFailure(await cli(["dlq", "replay", ...flags]), line);
  });
});

const OBJECT_ID_OF_JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";
const OBJECT_ID_OF_MROSSI = "73aa24b9-7d93-4376-add9-bf39198d0c76";

describe("check, send and seed-secret on the local stack", () => {
  const local = useLocalPipeline({ users });
  const event = eventFactory("cli");
  let files: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    files = await mkdtemp(join(tmpdir(), "cupi-reset-cli-"));
    env = { ...local.stack.environment };
  });

  async function file(name: string, body: unknown): Promise<string> {
    const path = join(files, name);
    await writeFile(path, typeof body === "string" ? body : JSON.stringify(body));
    return path;
  }

  it("reports each file of a send (sent, unreadable, refused) and exits 1 when any was not sent", async () => {
    const ok = await file("ok.json", event());
    const missing = join(files, "missing.json");
    const invalid = await file("invalid.json", "{ not json");
    const alsoOk = await file("also-ok.json", event());

    const run = await cli(["send", ok, missing, invalid, alsoOk], env);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe("");
    const lines = run.stdout.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${ok}: sent as [0-9a-f-]{36}$`)),
      `${missing}: unreadable: no such file`,
      `${invalid}: refused: INVALID_EVENT: body is not valid JSON`,
      expect.stringMatching(new RegExp(`^${alsoOk}: sent as [0-9a-f-]{36}$`)),
    ]);
  });

  it("refuses protected accounts and unknown sources in check and send, as the function would", async () => {
    const protectedAlias = await file("admin.json", event({ user: { alias: "Administrator" } }));
    const protectedPattern = await file("svc.json", event({ user: { alias: "svc-backup" } }));
    const unknownSource = await file("source.json", event({ source: "intranet" }));
    const expected = (path: string) =>
      [
        `${protectedAlias}: refused: ACTION_NOT_ALLOWED: user Administrator is a protected account (protectedAccounts.aliases)`,
        `${protectedPattern}: refused: ACTION_NOT_ALLOWED: user svc-backup is a protected account (protectedAccounts.patterns svc-*)`,
        `${unknownSource}: refused: ACTION_NOT_ALLOWED: source intranet is not in the authorization policy: it may request nothing`,
        `${path}: valid`,
      ].join("\n");
    const ok = await file("fine.json", event());

    const checked = await cli(["check", protectedAlias, protectedPattern, unknownSource, ok], {});
    expect(checked.code).toBe(1);
    expect(checked.stdout.trim()).toBe(expected(ok));

    const sent = await cli(["send", protectedAlias, protectedPattern, unknownSource], env);
    expect(sent.code).toBe(1);
    expect(sent.stdout.trim()).toBe(expected(ok).split("\n").slice(0, 3).join("\n"));
  });

  it("applies AUTHORIZATION_POLICY_PATH, ALLOWED_ACTIONS and RESET_SECRET_PREFIX from the shell", async () => {
    const policy = await file("policy.json", {
      version: 1,
      sources: { helpdesk: ["unlock-pin", "reset-pin"] },
      protectedAccounts: { objectIds: [OBJECT_ID_OF_JSMITH] },
    });
    const byObjectId = await file("by-id.json", event({ user: { objectId: OBJECT_ID_OF_JSMITH } }));
    const reset = await file(
      "reset.json",
      event({ action: "reset-pin", newCredential: { secretId: "elsewhere/x", jsonKey: "pin" } }),
    );

    const run = await cli(["check", byObjectId, reset], {
      AUTHORIZATION_POLICY_PATH: policy,
      RESET_SECRET_PREFIX: "cupi-reset/resets/",
    });
    expect(run.stdout.trim().split("\n")).toEqual([
      `${byObjectId}: refused: ACTION_NOT_ALLOWED: user ${OBJECT_ID_OF_JSMITH} is a protected account (protectedAccounts.objectIds)`,
      `${reset}: refused: ACTION_NOT_ALLOWED: newCredential.secretId must start with cupi-reset/resets/`,
    ]);

    const narrowed = await cli(["check", reset], { ALLOWED_ACTIONS: "unlock-pin" });
    expect(narrowed.stdout).toBe(
      `${reset}: refused: ACTION_NOT_ALLOWED: action reset-pin is not in this deployment's ALLOWED_ACTIONS\n`,
    );
  });

  it("says in one line what is missing: QUEUE_URL, a region, the queue itself", async () => {
    const ok = await file("region.json", event());
    const { AWS_REGION: _region, QUEUE_URL: _queue, ...withoutQueue } = env;
    expectOneLineFailure(
      await cli(["send", ok], withoutQueue),
      "QUEUE_URL is not set: set it, or pass --queue-url",
    );
    expectOneLineFailure(
      await cli(["send", ok], { ...withoutQueue, QUEUE_URL: local.stack.queues.queueUrl }),
      "no AWS region: set AWS_REGION (or AWS_PROFILE with a region)",
    );
    expectOneLineFailure(
      await cli(["send", ok], { ...env, QUEUE_URL: `${local.stack.queues.queueUrl}-nope` }),
      "the queue does not exist: check QUEUE_URL / DLQ_URL (or --queue-url / --dlq-url) and the region",
    );
    expectOneLineFailure(
      // Nothing listens on the discard port.
      await cli(["dlq", "list"], {
        ...env,
        AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:9",
        DLQ_URL: "http://127.0.0.1:9/000000000000/dlq",
      }),
      /^cupi-reset: cannot reach AWS \(connect ECONNREFUSED 127\.0\.0\.1:9\): /,
    );
  });

  it("lists eventId, source and action of redriven and INVALID_EVENT messages from their bodies", async () => {
    const { sqs, queues } = local.stack;
    const redriven = event({ source: "hr-offboarding", action: "offboard" });
    // As the function dead-letters an invalid event: its eventId, nothing else, in attributes.
    const invalid = event({ action: "unlock-pin", newCredential: { pin: "[removed]" } });
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queues.dlqUrl, MessageBody: JSON.stringify(redriven) }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.dlqUrl,
        MessageBody: JSON.stringify(invalid),
        MessageAttributes: {
          errorCode: { DataType: "String", StringValue: "INVALID_EVENT" },
          errorMessage: { DataType: "String", StringValue: "message carries a credential value" },
          eventId: { DataType: "String", StringValue: invalid.eventId as string },
        },
      }),
    );

    const run = await cli(["dlq", "list"], env);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `  -  ${redriven.eventId} hr-offboarding offboard  failed transiently until the queue's maxReceiveCount`,
    );
    expect(run.stdout).toContain(
      `  -  ${invalid.eventId} helpdesk unlock-pin  message carries a credential value`,
    );
  });

  it("shows a source's hour and lifts its budget for a while (guard status, guard release)", async () => {
    const before = await cli(["guard", "status", "helpdesk"], env);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(
      /^source helpdesk: \d+ changes in the last hour, no budget in this shell's authorization policy\n$/,
    );
    const released = await cli(["guard", "release", "helpdesk", "--for", "30m"], env);
    expect(released.code).toBe(0);
    const until = Date.parse(/until (\S+)\n$/.exec(released.stdout)?.[1] ?? "");
    expect(until - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(until - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    const after = await cli(["guard", "status", "helpdesk"], env);
    expect(after.stdout).toContain(`; lifted until ${new Date(until).toISOString()}`);
    expectOneLineFailure(
      await cli(["guard", "release", "helpdesk", "--for", "3d"], env),
      /option '--for <duration>' argument '3d' is invalid\. must be 1m to 24h, as 30m or 2h/,
    );
    const { STATE_TABLE: _table, ...withoutTable } = env;
    expectOneLineFailure(
      await cli(["guard", "status", "helpdesk"], withoutTable),
      "STATE_TABLE is not set: set it, or pass --table",
    );
  });

  it("seeds a new PIN's secret without showing it, and an event sent then applies it", async () => {
    const canary = "739146";
    const secretId = "cupi-reset/resets/INC-CLI-1";

    const seeded = await cli(["seed-secret", secretId, "--pin", "-"], env, `${canary}\n`);
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toBe(
      `${secretId}: created (the pin is not shown); an event takes it with "newCredential": {"secretId":"${secretId}","jsonKey":"pin"}\n`,
    );
    const reseeded = await cli(["seed-secret", secretId, "--pin"], env, canary);
    expect(reseeded.stdout).toMatch(/: updated \(the pin is not shown\)/);

    const reset = await file(
      "reset-seeded.json",
      event({
        action: "reset-pin",
        user: { alias: "mrossi" },
        newCredential: { secretId, jsonKey: "pin" },
      }),
    );
    const sent = await cli(["send", reset], env);
    expect(sent.code).toBe(0);
    await drain(local.pipeline.poller, local.stack.sqs, local.stack.queues.queueUrl);
    expect(local.stack.simulator.credentialOf(OBJECT_ID_OF_MROSSI, "pin").value).toBe(canary);

    // Refused before any call: a value on the command line, the service account's secret.
    const onCommandLine = await cli(["seed-secret", secretId, "--pin", canary], env);
    expectOneLineFailure(
      onCommandLine,
      "--pin takes the value from standard input (--pin -), never from the command line",
    );
    expectOneLineFailure(
      await cli(["seed-secret", "cupi-reset/service-account", "--password", "-"], env, canary),
      "cupi-reset/service-account is a CUPI service-account secret; it is never seeded",
    );
    // With nothing set in the shell (as npm start's pasted environment): the shipped prefix holds.
    const {
      CUPI_BASE_URL: _cuc,
      CUPI_SECRET_ID: _account,
      RESET_SECRET_PREFIX: _prefix,
      ...bare
    } = env;
    expectOneLineFailure(
      await cli(["seed-secret", "cupi-reset/service-account", "--password", "-"], bare, canary),
      "cupi-reset/service-account does not start with the shipped resetSecretPrefix (cupi-reset/resets/)",
    );
    // Failing after reading the value: Secrets Manager out of reach.
    const unreachable = await cli(
      ["seed-secret", secretId, "--pin", "-"],
      { ...env, AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:9" },
      canary,
    );
    expect(unreachable.code).toBe(1);
    for (const run of [seeded, reseeded, sent, onCommandLine, unreachable]) {
      expect(run.stdout + run.stderr).not.toContain(canary);
    }
  });
});

describe("send to a FIFO queue", () => {
  let queues: LocalQueues;
  beforeAll(async () => {
    queues = await startLocalQueues({ fifo: true });
  });
  afterAll(async () => {
    await queues?.close();
  });

  it("groups by the user as the event names them, deduplicated by eventId", async () => {
    const event = eventFactory("fifo");
    const dir = await mkdtemp(join(tmpdir(), "cupi-reset-fifo-"));
    const bodies = [
      event({ user: { alias: "jsmith" } }),
      event({ user: { objectId: OBJECT_ID_OF_JSMITH } }),
      event({ user: { alias: "mrossi" }, cluster: "emea" }),
    ];
    const paths = await Promise.all(
      bodies.map(async (body, index) => {
        const path = join(dir, `${index}.json`);
        await writeFile(path, JSON.stringify(body));
        return path;
      }),
    );
    const env = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_SQS: queues.endpoint,
      QUEUE_URL: queues.queueUrl,
      // The events name the default cluster and emea: both must be configured.
      CUPI_BASE_URL: "https://cuc.example.com",
      CUPI_SECRET_ID: "cupi-reset/service-account",
      CUPI_CLUSTERS: JSON.stringify({
        emea: { baseUrl: "https://cuc-emea.example.com", secretId: "cupi-reset/emea" },
      }),
    };

    const run = await cli(["send", ...paths], env);
    expect(run).toMatchObject({ code: 0, stderr: "" });

    const sqs = createLocalSqsClient(queues.endpoint);
    const { Messages: received = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.queueUrl,
        MaxNumberOfMessages: 10,
        AttributeNames: ["All"],
      }),
    );
    sqs.destroy();
    const grouping = received.map((message) => [
      JSON.parse(message.Body ?? "{}").eventId,
      message.Attributes?.MessageGroupId,
      message.Attributes?.MessageDeduplicationId,
    ]);
    expect(grouping.sort()).toEqual([
      ["fifo-1", "jsmith", "fifo-1"],
      ["fifo-2", OBJECT_ID_OF_JSMITH, "fifo-2"],
      ["fifo-3", "mrossi", "fifo-3"],
    ]);
  });
});
