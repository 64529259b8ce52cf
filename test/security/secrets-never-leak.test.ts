// Canary values (PINs, passwords, the CUPI service password, a private CA's key, a session cookie)
// go through every action, every failure path and every log level of the real pipeline on the
// local stack. None of them, in any encoding or in pieces, may come out: not on stdout or stderr,
// not in a thrown error, not in a DLQ body or attribute, not in the state table.
import { createPrivateKey, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { format, inspect } from "node:util";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { DEMO_ACCOUNT } from "../../dev/cupi-simulator/demo-account.ts";
import type { FaultSpec, SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import {
  DELIVERY_PREFIX,
  type LocalStack,
  SERVICE_ACCOUNT_SECRET,
  startLocalStack,
} from "../../dev/local-stack.ts";
import { LOCAL_REGION } from "../../dev/sqs/local-queues.ts";
import { createDevCertificates, type DevCertificates } from "../../dev/tls.ts";
import { CupiClient } from "../../lib/cupi/client.ts";
import { DeadLetterQueue } from "../../lib/deadletter/dead-letter-queue.ts";
import { createLogger } from "../../lib/logging/logger.ts";
import { CupiConnections } from "../../lib/reset/cupi-connections.ts";
import { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";
import { SecretStore, selectSecretValue } from "../../lib/secrets/secret-store.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";
import {
  captureOutput,
  type DeadLetterMessage,
  drain,
  isDeadLetterOf,
  lambdaContext,
  readDeadLetters,
  send,
  sqsRecord,
  startPipeline,
} from "../helpers/pipeline.ts";
import { type StubServer, startStubServer } from "../helpers/stub-server.ts";

// Each password has the characters that XML, JSON and URLs escape up front, and a long plain tail,
// so that an escaped or clipped copy still shows.
const RESET_PIN = "905827316048";
const RESET_PASSWORD = `Zq7"Kx&w<Vp3-mT9bR4nL8cY2`;
const SERVICE_PASSWORD = `Svc&"Rq8<Wn5-zLk7Tb3Xp9hD6`;
/** Held by a cluster's secret but refused by CUC: the 401 path. */
const REFUSED_SERVICE_PASSWORD = "Old-Svc-Pw-Jf4Ku8Np2Rt6Wz";
/** Sent in messages by a producer that should not: refused and removed. */
const PLAINTEXT = "Plain-Cred-Hq3Wm7Zx5Lv9Bn";
/** A control character XML cannot carry: refused before any request. */
const UNSENDABLE = "Bell\u0007-Cred-Gt5Yp8Ns2Kd4";
/** What the echoing CUC sets as its session. */
const SESSION_COOKIE = randomBytes(16).toString("hex").toUpperCase();

/** The shortest piece of a secret that counts as a leak: error messages are clipped. */
const PIECE = 10;
const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
type Level = (typeof LEVELS)[number];

const RESETS = "cupi-reset/resets/";
const REFUSED_ACCOUNT_SECRET = "cupi-reset/service-account-refused";
const ECHO_ACCOUNT_SECRET = "cupi-reset/service-account-echo";
const PASTED_KEY_ACCOUNT_SECRET = "cupi-reset/service-account-pasted-key";

function userId(n: number): string {
  return `5ec0e7a1-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

const ids = {
  jsmith: userId(1),
  mrossi: userId(2),
  kwong: userId(3),
  leaver: userId(4),
  lhansen: userId(5),
  pgarcia: userId(6),
  dup1: userId(7),
  dup2: userId(8),
  repeat: userId(9),
  stale: userId(10),
  rejected: userId(11),
  secrets: userId(12),
  delivered: userId(13),
  faults: [20, 21, 22, 23, 24, 25, 26].map(userId),
};

const person = (objectId: string, alias: string, extension: string): SimulatedUser => ({
  objectId,
  alias,
  dtmfAccessId: extension,
  pin: "480916",
  password: "Kq7#vRt2pLm9",
});
const { password: _, ...ldapUser } = person(ids.lhansen, "lhansen", "3003");

const users: SimulatedUser[] = [
  person(ids.jsmith, "jsmith", "1001"),
  person(ids.mrossi, "mrossi", "2002"),
  person(ids.kwong, "kwong", "4010"),
  person(ids.leaver, "tleaver", "4020"),
  { ...ldapUser, ldapType: 1 },
  { ...person(ids.pgarcia, "pgarcia", "9000"), roles: ["System Administrator"] },
  { objectId: ids.dup1, alias: "dup.user" },
  { objectId: ids.dup2, alias: "dup.user" },
  person(ids.repeat, "rrepeat", "4030"),
  person(ids.stale, "sstale", "4040"),
  person(ids.rejected, "jreject", "4050"),
  person(ids.secrets, "msecret", "4060"),
  person(ids.delivered, "ddeliver", "4070"),
  ...ids.faults.map((id, index) => person(id, `fault${index}`, `47${index}0`)),
];

/**
 * An EC key's private scalar, as a JWK writes it and as the base64 characters of the PEM that
 * encode it alone (the rest of a PEM is common to every key of the curve, or public).
 */
function privateKeyTraces(pem: string): string[] {
  const scalar = createPrivateKey(pem).export({ format: "jwk" }).d ?? "";
  const base64 = pem.replace(/-----[^-]+-----|\s/g, "");
  const at = Buffer.from(base64, "base64").indexOf(Buffer.from(scalar, "base64url"));
  if (scalar === "" || at < 0) throw new Error("the key's private scalar is not in its PEM");
  const length = Buffer.from(scalar, "base64url").length;
  return [scalar, base64.slice(Math.ceil(at / 3) * 4, Math.floor((at + length) / 3) * 4)];
}

/** The Authorization header's token, without the part that encodes only the username. */
function basicToken(password: string): string {
  const prefix = `${DEMO_ACCOUNT.username}:`;
  const token = Buffer.from(prefix + password).toString("base64");
  return token.slice(Math.ceil(Buffer.byteLength(prefix) / 3) * 4);
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Forms in which a secret has still leaked: escaped for XML, JSON or a URL, or a piece of it. */
function tracesOf(secret: string): string[] {
  const traces = new Set([
    secret,
    escapeXml(secret),
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
  ]);
  for (let start = 0; start + PIECE <= secret.length; start++) {
    traces.add(secret.slice(start, start + PIECE));
  }
  return [...traces];
}

let certificates: DevCertificates;
let canaries: Record<string, string>;

/** The names of the canaries (and of `learned` secrets) found in `texts`. */
function leaks(texts: readonly string[], learned: Record<string, string> = {}): string[] {
  const text = texts.join("\n");
  return Object.entries({ ...canaries, ...learned })
    .filter(([, secret]) => tracesOf(secret).some((trace) => text.includes(trace)))
    .map(([name]) => name);
}

/** Everything an error shows: message, stack, properties and causes, hidden ones included. */
function exposed(error: unknown): string[] {
  return [
    String(error),
    error instanceof Error ? (error.stack ?? "") : "",
    inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    JSON.stringify(error) ?? "",
  ];
}

interface Echo {
  readonly reply: (value: string, request: IncomingMessage, body: string) => EchoReply;
}
interface EchoReply {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

const errorXml = (message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><ErrorDetails><errors><code>INVALID_PARAMETER</code>` +
  `<message>${message}</message></errors></ErrorDetails>`;
const errorJson = (message: string): string =>
  JSON.stringify({ errors: { code: "INVALID_PARAMETER", message } });
const tomcatPage = (status: number, message: string): string =>
  `<!doctype html><html><head><title>HTTP Status ${status}</title></head><body>` +
  `<h1>HTTP Status ${status}</h1><p><b>Message</b> ${message}</p></body></html>`;
/** HTML escaping as some servers do it: numeric references. */
const numericEntities = (text: string): string =>
  text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
/** The CUPI client keeps the first 300 characters of a message: the value straddles the cut. */
const clippedAcross = (value: string): string =>
  `${"Rejected".padEnd(300 - value.length + 2, ".")} ${value}`;

const xml = (status: number, text: string): EchoReply => ({
  status,
  contentType: "application/xml",
  text,
});
const json = (status: number, text: string): EchoReply => ({
  status,
  contentType: "application/json",
  text,
});

/** Ways a CUC (or a proxy in front of it) might echo what it was sent. */
const ECHOES: Record<string, Echo> = {
  "in XML ErrorDetails": {
    reply: (value) => xml(400, errorXml(`Invalid Credentials: ${escapeXml(value)}`)),
  },
  "in JSON errors": { reply: (value) => json(400, errorJson(`Invalid Credentials: ${value}`)) },
  "as plain text": {
    reply: (value) => ({
      status: 400,
      contentType: "text/plain",
      text: `Invalid Credentials: ${value}`,
    }),
  },
  "as the request body, escaped again in XML": {
    reply: (_, __, body) => xml(400, errorXml(`Cannot parse ${escapeXml(body)}`)),
  },
  "in JSON errors, clipped mid-value": {
    reply: (value) => json(400, errorJson(clippedAcross(value))),
  },
  "in a Tomcat 500 page with numeric entities": {
    reply: (value) => ({
      status: 500,
      contentType: "text/html",
      text: tomcatPage(500, `Could not store ${numericEntities(value)}`),
    }),
  },
  "with the request's Authorization and Cookie headers": {
    reply: (_, request) =>
      json(
        400,
        errorJson(
          `Rejected request: authorization=${request.headers.authorization}; cookie=${request.headers.cookie}`,
        ),
      ),
  },
  // Last: a 401 makes the client hold back that account for a minute.
  "in a 401 page with the request's Authorization header": {
    reply: (_, request) => ({
      status: 401,
      contentType: "text/html",
      text: tomcatPage(401, `Bad credentials: ${request.headers.authorization}`),
    }),
  },
};
const echoModes = Object.keys(ECHOES);
const echoUserId = (mode: string): string => userId(100 + echoModes.indexOf(mode));

function decodeXmlText(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** A CUC that knows every user and answers each credential PUT by echoing it, per its mode. */
function echoingCupi(request: IncomingMessage, body: string, response: ServerResponse): void {
  const path = new URL(request.url ?? "/", "http://stub").pathname;
  const user = /^\/vmrest\/users\/([^/]+)$/.exec(path)?.[1];
  const credential = /^\/vmrest\/users\/([^/]+)\/credential\/(pin|password)$/.exec(path)?.[1];
  if (request.method === "GET" && credential !== undefined) {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ TimeChanged: "2026-11-01 09:00:00.000", Locked: "false" }));
    return;
  }
  if (request.method === "GET" && user !== undefined) {
    response.writeHead(200, {
      "content-type": "application/json",
      "set-cookie": `JSESSIONIDSSO=${SESSION_COOKIE}; Path=/; Secure; HttpOnly`,
    });
    response.end(JSON.stringify({ ObjectId: user, Alias: "echo.user", DtmfAccessId: "5005" }));
    return;
  }
  const mode = echoModes.find((candidate) => echoUserId(candidate) === credential);
  const echo = mode === undefined ? undefined : ECHOES[mode];
  if (request.method !== "PUT" || echo === undefined) {
    response.writeHead(404, { "content-type": "application/json" });
    response.end(errorJson("Resource not found"));
    return;
  }
  const value = decodeXmlText(/<Credentials>([^<]*)<\/Credentials>/.exec(body)?.[1] ?? "");
  const reply = echo.reply(value, request, body);
  response.writeHead(reply.status, { "content-type": reply.contentType });
  response.end(reply.text);
}

/**
 * What code prints through `console`, which vitest routes around process.stdout and so around
 * captureOutput.
 */
function captureConsole(): { text: () => string } {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    for (const method of ["debug", "error", "info", "log", "trace", "warn"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(format(...args));
      });
    }
  });
  return { text: () => lines.join("\n") };
}

// captureOutput's afterEach restores both.
const output = captureOutput();
const consoleOutput = captureConsole();
/** Everything printed during the current test. */
const printed = (): string => `${output.text()}\n${consoleOutput.text()}`;
/** What the logger printed: the output without the metrics (EMF), printed at every log level. */
const logLines = (): string =>
  output
    .text()
    .split("\n")
    .filter((line) => !line.includes('"_aws"'))
    .join("\n");
let stub: StubServer;
const savedEnvironment = { ...process.env };

beforeAll(async () => {
  certificates = await createDevCertificates();
  canaries = {
    "reset PIN": RESET_PIN,
    "reset password": RESET_PASSWORD,
    "service password": SERVICE_PASSWORD,
    "service password (Authorization header)": basicToken(SERVICE_PASSWORD),
    "refused service password": REFUSED_SERVICE_PASSWORD,
    "refused service password (Authorization header)": basicToken(REFUSED_SERVICE_PASSWORD),
    "plaintext credential": PLAINTEXT,
    "unsendable credential": UNSENDABLE,
    "session cookie": SESSION_COOKIE,
    ...Object.fromEntries(
      privateKeyTraces(certificates.ca.key).map((trace, index) => [
        `CA private key ${index}`,
        trace,
      ]),
    ),
  };
  stub = await startStubServer(echoingCupi);
});

afterAll(async () => {
  await stub?.close();
  for (const name of Object.keys(process.env)) {
    if (!(name in savedEnvironment)) delete process.env[name];
  }
  Object.assign(process.env, savedEnvironment);
});

/** The local stack with canaries: the simulator accepts only the canary service password. */
function startCanaryStack(): Promise<LocalStack> {
  const account = { username: DEMO_ACCOUNT.username, password: SERVICE_PASSWORD };
  return startLocalStack({
    users,
    visibilityTimeoutSeconds: 1,
    // Three receives: the tests below fail a record on its first two (the third would be
    // dead-lettered as RETRIES_EXHAUSTED had it failed too).
    maxReceiveCount: 3,
    simulator: { account, tls: certificates.server },
    // As an operator might paste it: the private CA's whole bundle, its key included.
    serviceAccountSecret: JSON.stringify({
      ...account,
      caCertificate: certificates.ca.key + certificates.ca.cert,
    }),
    secrets: {
      [`${RESETS}pin`]: JSON.stringify({ pin: RESET_PIN, note: "for INC0042" }),
      [`${RESETS}password`]: RESET_PASSWORD,
      [`${RESETS}misspelt-key`]: JSON.stringify({ pinn: RESET_PIN }),
      [`${RESETS}not-a-string`]: JSON.stringify({ pin: { value: RESET_PIN } }),
      [`${RESETS}not-json`]: `pin=${RESET_PIN}`,
      [`${RESETS}unsendable`]: UNSENDABLE,
      [`${DELIVERY_PREFIX}pin`]: "{}",
      [`${DELIVERY_PREFIX}password`]: "{}",
      [`${DELIVERY_PREFIX}throttled`]: "{}",
      [`${DELIVERY_PREFIX}refused`]: "{}",
      "outside/delivery": "{}",
      [REFUSED_ACCOUNT_SECRET]: JSON.stringify({
        username: DEMO_ACCOUNT.username,
        password: REFUSED_SERVICE_PASSWORD,
        caCertificate: certificates.ca.cert,
      }),
      [ECHO_ACCOUNT_SECRET]: JSON.stringify(account),
      // The key pasted where the certificate belongs.
      [PASTED_KEY_ACCOUNT_SECRET]: JSON.stringify({
        ...account,
        caCertificate: certificates.ca.key,
      }),
    },
  });
}

function pipelineEnvironment(stack: LocalStack, level: Level): Record<string, string> {
  return {
    POWERTOOLS_LOG_LEVEL: level,
    RESET_SECRET_PREFIX: RESETS,
    CUPI_ALLOW_INSECURE_HTTP: "true",
    // A slow CUC fault then costs a second, not ten.
    CUPI_HEADERS_TIMEOUT_MS: "1000",
    CUPI_CLUSTERS: JSON.stringify({
      refused: { baseUrl: stack.simulator.url, secretId: REFUSED_ACCOUNT_SECRET },
      "pasted-key": { baseUrl: stack.simulator.url, secretId: PASTED_KEY_ACCOUNT_SECRET },
      echo: { baseUrl: stub.url, secretId: ECHO_ACCOUNT_SECRET },
    }),
  };
}

let counter = 0;
/** Events of one test are ordered in time: the ordering guard refuses older ones as stale. */
function event(overrides: Record<string, unknown>): Record<string, unknown> {
  counter += 1;
  return {
    version: 1,
    eventId: `canary-${counter}`,
    occurredAt: new Date(Date.UTC(2026, 10, 28, 10) + counter * 1000).toISOString(),
    source: "helpdesk",
    requestedBy: "agent@example.com",
    ticketId: `INC${10_000 + counter}`,
    user: { alias: "jsmith" },
    action: "reset-pin",
    newCredential: { secretId: `${RESETS}pin`, jsonKey: "pin" },
    ...overrides,
  };
}

const offboard = (user: Record<string, string>) =>
  event({ user, action: "offboard", source: "hr-offboarding", newCredential: undefined });

/** The value a secret held before its current one. */
async function previousSecretValue(stack: LocalStack, secretId: string): Promise<string> {
  const client = new SecretsManagerClient({
    region: LOCAL_REGION,
    endpoint: stack.secretsManager.url,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const { SecretString } = await client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSPREVIOUS" }),
    );
    return SecretString ?? "";
  } finally {
    client.destroy();
  }
}

describe.each(LEVELS)("at log level %s", (level) => {
  let stack: LocalStack;
  let pipeline: ReturnType<typeof startPipeline>;
  /** Every DLQ message read during the current test. */
  let letters: DeadLetterMessage[] = [];

  beforeAll(async () => {
    stack = await startCanaryStack();
    pipeline = startPipeline(stack, pipelineEnvironment(stack, level));
  });

  afterAll(async () => {
    await pipeline?.handler.close();
    await stack?.close();
  });

  beforeEach(() => {
    letters = [];
    stack.simulator.resetStats();
  });

  /** Sends the bodies, lets the pipeline drain the queue, and returns their DLQ messages. */
  async function run(...bodies: unknown[]): Promise<DeadLetterMessage[]> {
    const sent: string[] = [];
    for (const body of bodies) sent.push(await send(stack.sqs, stack.queues.queueUrl, body));
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    const read = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
    letters.push(...read);
    return read.filter((letter) => isDeadLetterOf(letter, sent));
  }

  /** One invocation of the handler with one record, as the n-th delivery of `body`. */
  async function invoke(body: unknown, receiveCount = 1): Promise<string[]> {
    const record: SQSRecord = sqsRecord(
      `direct-${eventIdOf(body)}`,
      body,
      stack.queues.queueArn,
      receiveCount,
    );
    const response = await pipeline.handler({ Records: [record] }, lambdaContext(60_000));
    return response.batchItemFailures.map((failure) => failure.itemIdentifier);
  }

  /** Delivers `body` again and again, as SQS would, until the handler stops reporting it. */
  async function deliverUntilDone(body: unknown, maxDeliveries = 3): Promise<number> {
    for (let delivery = 1; delivery <= maxDeliveries; delivery++) {
      if ((await invoke(body, delivery)).length === 0) return delivery;
    }
    throw new Error(`still retried after ${maxDeliveries} deliveries`);
  }

  /**
   * Asserts that no canary (nor a `learned` secret) came out of this test: in the output, the DLQ,
   * the state table, or the outcome events published so far.
   */
  async function expectNoLeaks(learned: Record<string, string> = {}): Promise<void> {
    const { Items } = await stack.dynamodb.client.send(
      new ScanCommand({ TableName: stack.dynamodb.tableName }),
    );
    const dlq = letters.map((letter) => JSON.stringify(letter));
    const outcomes = stack.eventBridge.published.map((published) => JSON.stringify(published));
    expect(leaks([printed(), ...dlq, JSON.stringify(Items ?? []), ...outcomes], learned)).toEqual(
      [],
    );
    expect(pipeline.poller.stats.handlerErrors).toBe(0);
  }

  const logsRecords = level === "DEBUG" || level === "INFO" || level === "WARN";

  it("applies every action without a canary coming out", async () => {
    stack.simulator.setHackedState(ids.kwong, "pin", { hackCount: 4, locked: true });
    stack.simulator.setHackedState(ids.jsmith, "password", { hackCount: 2 });
    const bodies = [
      event({ settings: { mustChange: true } }),
      event({
        user: { objectId: ids.jsmith },
        action: "reset-password",
        newCredential: { secretId: `${RESETS}password` },
      }),
      event({
        user: { alias: "mrossi" },
        newCredential: { generate: true, deliverTo: { secretId: `${DELIVERY_PREFIX}pin` } },
        settings: { mustChange: true },
      }),
      event({
        user: { alias: "kwong" },
        action: "reset-password",
        newCredential: { generate: true, deliverTo: { secretId: `${DELIVERY_PREFIX}password` } },
      }),
      event({ user: { alias: "mrossi" }, newCredential: { generate: true } }),
      event({
        user: { alias: "kwong" },
        action: "update-pin-settings",
        newCredential: undefined,
        settings: { doesntExpire: true },
      }),
      event({
        user: { alias: "jsmith" },
        action: "update-password-settings",
        newCredential: undefined,
        settings: { cantChange: false },
      }),
      event({ user: { alias: "kwong" }, action: "unlock-pin", newCredential: undefined }),
      event({ user: { alias: "jsmith" }, action: "unlock-password", newCredential: undefined }),
      offboard({ alias: "tleaver" }),
      offboard({ objectId: ids.lhansen }),
    ];
    // One by one: events for the same credential must not overtake each other.
    for (const body of bodies) expect(await run(body)).toEqual([]);

    expect(stack.simulator.credentialOf(ids.jsmith, "pin").value).toBe(RESET_PIN);
    expect(stack.simulator.credentialOf(ids.jsmith, "password")).toMatchObject({
      value: RESET_PASSWORD,
      HackCount: 0,
    });
    expect(stack.simulator.credentialOf(ids.kwong, "pin")).toMatchObject({
      Locked: false,
      DoesntExpire: true,
    });
    const generated = {
      "generated PIN": stack.simulator.credentialOf(ids.mrossi, "pin").value ?? "",
      "delivered password": stack.simulator.credentialOf(ids.kwong, "password").value ?? "",
      "offboarding PIN": stack.simulator.credentialOf(ids.leaver, "pin").value ?? "",
      "offboarding password": stack.simulator.credentialOf(ids.leaver, "password").value ?? "",
      "LDAP offboarding PIN": stack.simulator.credentialOf(ids.lhansen, "pin").value ?? "",
      "delivered PIN": JSON.parse(stack.secretsManager.secretValue(`${DELIVERY_PREFIX}pin`) ?? "{}")
        .pin,
    };
    expect(
      JSON.parse(stack.secretsManager.secretValue(`${DELIVERY_PREFIX}password`) ?? "{}"),
    ).toMatchObject({
      password: generated["delivered password"],
    });
    for (const value of Object.values(generated)) expect(value).toMatch(/^\S{6,}$/);
    expect(stack.simulator.credentialOf(ids.lhansen, "password").changes).toBe(0);
    expect(logLines().includes("credential reset applied")).toBe(
      level === "DEBUG" || level === "INFO",
    );
    // Every event's outcome was published, so the scan below reads them all.
    const appliedIds = stack.eventBridge.published
      .filter((published) => published.detail.outcome === "applied")
      .map((published) => published.detail.eventId);
    for (const body of bodies) expect(appliedIds).toContain(body.eventId);
    await expectNoLeaks(generated);
  });

  interface DeadLetterCase {
    readonly code: string;
    readonly what: string;
    readonly reason: RegExp;
    /** The last one fails; the ones before set the scene. */
    readonly bodies: () => unknown[];
    /** A delivery secret whose value was withdrawn when CUC refused it. */
    readonly withdrawn?: string;
  }
  const deadLetterCases: DeadLetterCase[] = [
    {
      code: "INVALID_EVENT",
      what: "body that is not JSON",
      reason: /not valid JSON/,
      bodies: () => ["not json {"],
    },
    {
      code: "INVALID_EVENT",
      what: "unsafe alias",
      reason: /^user/,
      bodies: () => [event({ user: { alias: "../admin" } })],
    },
    {
      code: "INVALID_EVENT",
      what: "unknown field",
      reason: /mustchange/,
      bodies: () => [event({ mustchange: true })],
    },
    {
      code: "USER_NOT_FOUND",
      what: "unknown alias",
      reason: /no user has this alias/,
      bodies: () => [event({ user: { alias: "nobody" } })],
    },
    {
      code: "AMBIGUOUS_USER",
      what: "alias of two users",
      reason: /2 users match/,
      bodies: () => [event({ user: { alias: "dup.user" } })],
    },
    {
      code: "SECRET_NOT_FOUND",
      what: "missing secret",
      reason: /does not exist/,
      bodies: () => [
        event({ user: { alias: "msecret" }, newCredential: { secretId: `${RESETS}none` } }),
      ],
    },
    {
      code: "SECRET_NOT_FOUND",
      what: "jsonKey missing beside the value",
      reason: /has no key "pin"/,
      bodies: () => [
        event({
          user: { alias: "msecret" },
          newCredential: { secretId: `${RESETS}misspelt-key`, jsonKey: "pin" },
        }),
      ],
    },
    {
      code: "SECRET_NOT_FOUND",
      what: "jsonKey holding an object",
      reason: /must hold a non-empty string/,
      bodies: () => [
        event({
          user: { alias: "msecret" },
          newCredential: { secretId: `${RESETS}not-a-string`, jsonKey: "pin" },
        }),
      ],
    },
    {
      code: "SECRET_NOT_FOUND",
      what: "jsonKey of a secret that is not JSON",
      reason: /is not JSON/,
      bodies: () => [
        event({
          user: { alias: "msecret" },
          newCredential: { secretId: `${RESETS}not-json`, jsonKey: "pin" },
        }),
      ],
    },
    {
      code: "CREDENTIAL_REJECTED",
      what: "value in the history",
      reason: /Repeat credentials/,
      bodies: () => [event({ user: { alias: "rrepeat" } }), event({ user: { alias: "rrepeat" } })],
    },
    {
      code: "CREDENTIAL_REJECTED",
      what: "value XML cannot carry",
      reason: /XML cannot carry/,
      bodies: () => [
        event({
          user: { alias: "jreject" },
          action: "reset-password",
          newCredential: { secretId: `${RESETS}unsendable` },
        }),
      ],
    },
    {
      code: "NOT_PERMITTED",
      what: "administrator",
      reason: /HTTP 403/,
      bodies: () => [event({ user: { alias: "pgarcia" } })],
    },
    {
      code: "NOT_PERMITTED",
      what: "administrator, after delivering a generated PIN",
      reason: /HTTP 403/,
      bodies: () => [
        event({
          user: { alias: "pgarcia" },
          newCredential: { generate: true, deliverTo: { secretId: `${DELIVERY_PREFIX}refused` } },
        }),
      ],
      withdrawn: `${DELIVERY_PREFIX}refused`,
    },
    {
      code: "ACTION_NOT_ALLOWED",
      what: "service-account secret as the source",
      reason: /service-account secret/,
      bodies: () => [
        event({ newCredential: { secretId: SERVICE_ACCOUNT_SECRET, jsonKey: "password" } }),
      ],
    },
    {
      code: "ACTION_NOT_ALLOWED",
      what: "secret outside RESET_SECRET_PREFIX",
      reason: /must start with cupi-reset\/resets\//,
      bodies: () => [event({ newCredential: { secretId: "outside/delivery", jsonKey: "pin" } })],
    },
    {
      code: "ACTION_NOT_ALLOWED",
      what: "deliverTo outside DELIVERY_SECRET_PREFIX",
      reason: /deliverTo secret must start with/,
      bodies: () => [
        event({ newCredential: { generate: true, deliverTo: { secretId: "outside/delivery" } } }),
      ],
    },
    {
      code: "ACTION_NOT_ALLOWED",
      what: "unknown cluster",
      reason: /cluster emea/,
      bodies: () => [event({ cluster: "emea" })],
    },
    {
      code: "STALE_EVENT",
      what: "older than the reset applied",
      reason: /a newer event .* was already applied/,
      bodies: () => {
        const older = event({ user: { alias: "sstale" } });
        return [event({ user: { alias: "sstale" } }), older];
      },
    },
  ];

  it.each(deadLetterCases)(
    "dead-letters $code ($what) without a canary coming out",
    async ({ code, reason, bodies, withdrawn }) => {
      const dead: DeadLetterMessage[] = [];
      for (const body of bodies()) dead.push(...(await run(body)));
      expect(dead.map((letter) => letter.attributes.errorCode)).toEqual([code]);
      expect(dead[0]?.attributes.errorMessage).toMatch(reason);
      expect(logLines().includes(`"errorCode":"${code}"`)).toBe(logsRecords);
      if (withdrawn === undefined) {
        await expectNoLeaks();
        return;
      }
      // Nobody may hand out a value CUC did not take; the value itself stays a secret.
      expect(stack.secretsManager.secretValue(withdrawn)).toContain("not-applied");
      const value = JSON.parse(await previousSecretValue(stack, withdrawn)).pin;
      expect(value).toMatch(/^\d{6,}$/);
      await expectNoLeaks({ "withdrawn PIN": value });
    },
  );

  it("refuses credentials carried in a message in any shape, and removes them from the DLQ copy", async () => {
    const carrying = [
      event({ newCredential: { secretId: `${RESETS}pin`, pin: PLAINTEXT } }),
      { ...event({}), Password: PLAINTEXT },
      event({ settings: { mustChange: true, extra: [{ passcode: PLAINTEXT }] } }),
      event({ ticketId: JSON.stringify({ newPin: PLAINTEXT }) }),
      {
        Type: "Notification",
        MessageId: "sns-1",
        TopicArn: "arn:aws:sns:eu-west-1:123456789012:resets",
        Message: JSON.stringify(event({ credentials: PLAINTEXT })),
      },
      {
        "detail-type": "CredentialReset",
        source: "hr",
        detail: event({ secretString: PLAINTEXT }),
      },
      `{"eventId": "broken-${counter}", "newPassword": "${PLAINTEXT}", "user": {`,
    ];
    const dead = await run(...carrying);
    expect(dead).toHaveLength(carrying.length);
    for (const letter of dead) {
      expect(letter.attributes.errorCode).toBe("INVALID_EVENT");
      expect(letter.attributes.errorMessage).toMatch(/credential value|not valid JSON/);
      expect(letter.body).toContain("[removed]");
    }
    await expectNoLeaks();
  });

  it("retries transient CUPI faults without a canary coming out", async () => {
    const [probe = "", ...faulted] = ids.faults;
    // Each fault is aimed at the PUT carrying the new value, wherever it comes in the exchange.
    expect(await deliverUntilDone(event({ user: { objectId: probe } }))).toBe(1);
    const beforePut = stack.simulator.requests.findIndex((request) => request.method === "PUT");
    expect(beforePut).toBeGreaterThan(0);
    const faults: FaultSpec[] = [
      "503",
      "500-html",
      "drop",
      { kind: "slow", delayMs: 1_500 },
      "drop-after-apply",
      { kind: "slow-after-apply", delayMs: 1_500 },
    ];
    for (const [index, fault] of faults.entries()) {
      const objectId = faulted[index] ?? "";
      stack.simulator.injectFaults(...Array<FaultSpec>(beforePut).fill("none"), fault);
      await deliverUntilDone(event({ user: { objectId } }));
      expect(stack.simulator.credentialOf(objectId, "pin").value).toBe(RESET_PIN);
    }
    expect(stack.simulator.stats.faults).toEqual({
      "503": 1,
      "500-html": 1,
      drop: 1,
      slow: 1,
      "drop-after-apply": 1,
      "slow-after-apply": 1,
    });
    await expectNoLeaks();
  });

  it("retries Secrets Manager throttling and outages without a canary coming out", async () => {
    const unlock = event({
      user: { alias: "ddeliver" },
      action: "unlock-pin",
      newCredential: undefined,
    });
    expect(await invoke(unlock)).toEqual([]);
    const reset = event({
      user: { alias: "ddeliver" },
      action: "reset-password",
      newCredential: { secretId: `${RESETS}password` },
    });
    stack.secretsManager.failNext("GetSecretValue", "ThrottlingException", 3);
    expect(await invoke(reset)).toHaveLength(1);
    stack.secretsManager.failNext("GetSecretValue", "InternalServiceError", 3);
    expect(await invoke(reset, 2)).toHaveLength(1);
    expect(await invoke(reset, 3)).toEqual([]);
    expect(stack.simulator.credentialOf(ids.delivered, "password").value).toBe(RESET_PASSWORD);

    const delivery = event({
      user: { alias: "ddeliver" },
      newCredential: { generate: true, deliverTo: { secretId: `${DELIVERY_PREFIX}throttled` } },
    });
    stack.secretsManager.failNext("PutSecretValue", "ThrottlingException", 3);
    expect(await invoke(delivery)).toHaveLength(1);
    expect(await invoke(delivery, 2)).toEqual([]);
    const delivered = JSON.parse(
      stack.secretsManager.secretValue(`${DELIVERY_PREFIX}throttled`) ?? "{}",
    ).pin;
    expect(delivered).toBe(stack.simulator.credentialOf(ids.delivered, "pin").value);
    expect(logLines().includes("ThrottlingException")).toBe(logsRecords);
    await expectNoLeaks({ "delivered PIN": delivered });
  });

  it("reports records as failed when the DLQ send fails, without a canary coming out", async () => {
    const withoutDlq = createResetHandlerFromEnvironment(
      { ...process.env, DLQ_URL: `${stack.queues.dlqUrl}-does-not-exist` },
      createLogger({ logLevel: level }),
    );
    try {
      const records = [
        event({ newCredential: { secretId: `${RESETS}pin`, pin: PLAINTEXT } }),
        event({ user: { alias: "pgarcia" } }),
      ].map((body, index) =>
        sqsRecord(`dlq-down-${counter}-${index}`, body, stack.queues.queueArn),
      );
      const response = await withoutDlq({ Records: records }, lambdaContext(60_000));
      expect(response.batchItemFailures).toHaveLength(2);
      expect(logLines().includes("DLQ send failed")).toBe(logsRecords);
    } finally {
      await withoutDlq.close();
    }
    await expectNoLeaks();
  });

  it("retries a service password CUC refuses (401) without a canary coming out", async () => {
    const body = event({ cluster: "refused", action: "unlock-pin", newCredential: undefined });
    expect(await invoke(body)).toHaveLength(1);
    expect(await invoke(body, 2)).toHaveLength(1);
    expect(stack.simulator.requests.some((request) => request.hasBasicAuth)).toBe(true);
    expect(logLines().includes("refused")).toBe(logsRecords);
    await expectNoLeaks();
  });

  it("retries a cluster whose secret holds the CA's private key, without a canary coming out", async () => {
    const body = event({ cluster: "pasted-key", action: "unlock-pin", newCredential: undefined });
    expect(await invoke(body)).toHaveLength(1);
    expect(stack.simulator.stats.requests).toBe(0);
    await expectNoLeaks();
  });

  for (const mode of Object.keys(ECHOES)) {
    it(`keeps a value CUC echoes back ${mode} out of the DLQ and logs`, async () => {
      const body = event({
        cluster: "echo",
        user: { objectId: echoUserId(mode) },
        action: "reset-password",
        newCredential: { secretId: `${RESETS}password` },
      });
      const received = stub.received.length;
      await run(body);
      expect(stub.received.slice(received).some((request) => request.method === "PUT")).toBe(true);
      await expectNoLeaks();
    });
  }
});

function eventIdOf(body: unknown): string {
  return typeof body === "object" && body !== null && "eventId" in body
    ? String(body.eventId)
    : "unknown";
}

describe("errors thrown by the parts that handle secrets", () => {
  let stack: LocalStack;
  const thrown: unknown[] = [];

  beforeAll(async () => {
    stack = await startCanaryStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    thrown.length = 0;
  });

  /** Runs `work`, expects it to throw an Error, and keeps the error for expectNoLeaks. */
  async function expectThrows(work: () => Promise<unknown>): Promise<void> {
    const error = await work().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(Error);
    thrown.push(error);
  }

  function expectNoLeaks(): void {
    expect(leaks([...thrown.flatMap(exposed), printed()])).toEqual([]);
  }

  function cupiClient(baseUrl: string, password: string): CupiClient {
    return new CupiClient({
      baseUrl,
      allowInsecureHttp: true,
      caCertificate: certificates.ca.cert,
      account: { username: DEMO_ACCOUNT.username, password: new SecretValue(password) },
      retry: { maxAttempts: 2, baseDelayMs: 10 },
      timeouts: { headersMs: 500 },
      circuitBreaker: false,
      // A fixed limit, so that two 503s end the call with CUC's "busy" answer, whose text is
      // what could leak; the adaptive limit would wait them out (tested in test/cupi).
      adaptiveLimit: false,
    });
  }

  for (const mode of Object.keys(ECHOES)) {
    it(`CupiClient: a value CUC echoes back ${mode}`, async () => {
      const client = cupiClient(stub.url, SERVICE_PASSWORD);
      try {
        await client.getUser(echoUserId(mode));
        await expectThrows(() =>
          client.updateCredential(echoUserId(mode), "password", {
            Credentials: new SecretValue(RESET_PASSWORD),
          }),
        );
        thrown.push(inspect(client, { depth: Number.POSITIVE_INFINITY, showHidden: true }));
      } finally {
        await client.close();
      }
      expectNoLeaks();
    });
  }

  it.each<[string, FaultSpec[]]>([
    ["503", ["503", "503"]],
    ["500 page", ["500-html"]],
    ["dropped connection", ["drop"]],
    ["slow answer", [{ kind: "slow", delayMs: 1_000 }]],
    ["lost answer", [{ kind: "slow-after-apply", delayMs: 1_000 }]],
  ])("CupiClient: %s while sending a new value", async (_, faults) => {
    const client = cupiClient(stack.simulator.url, SERVICE_PASSWORD);
    try {
      stack.simulator.injectFaults(...faults);
      await expectThrows(() =>
        client.updateCredential(ids.jsmith, "password", {
          Credentials: new SecretValue(RESET_PASSWORD),
        }),
      );
    } finally {
      await client.close();
    }
    expectNoLeaks();
  });

  it("CupiClient: a refused service password, and a value refused by policy", async () => {
    const refused = cupiClient(stack.simulator.url, REFUSED_SERVICE_PASSWORD);
    const accepted = cupiClient(stack.simulator.url, SERVICE_PASSWORD);
    try {
      await expectThrows(() => refused.getUser(ids.jsmith));
      await expectThrows(() => refused.getUser(ids.jsmith));
      await accepted.updateCredential(ids.repeat, "pin", {
        Credentials: new SecretValue(RESET_PIN),
      });
      await expectThrows(() =>
        accepted.updateCredential(ids.repeat, "pin", { Credentials: new SecretValue(RESET_PIN) }),
      );
      await expectThrows(() =>
        accepted.updateCredential(ids.jsmith, "password", {
          Credentials: new SecretValue(UNSENDABLE),
        }),
      );
    } finally {
      await Promise.all([refused.close(), accepted.close()]);
    }
    expectNoLeaks();
  });

  it("SecretStore: throttled and failing reads and writes, and malformed values", async () => {
    const client = new SecretsManagerClient({
      region: LOCAL_REGION,
      endpoint: stack.secretsManager.url,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });
    const store = new SecretStore({ client });
    try {
      stack.secretsManager.failNext("GetSecretValue", "ThrottlingException");
      await expectThrows(() => store.fresh(`${RESETS}pin`));
      stack.secretsManager.failNext("GetSecretValue", "InternalServiceError");
      await expectThrows(() => store.cached(SERVICE_ACCOUNT_SECRET, true));
      stack.secretsManager.failNext("PutSecretValue", "ThrottlingException");
      await expectThrows(() =>
        store.put(`${DELIVERY_PREFIX}pin`, new SecretValue(JSON.stringify({ pin: RESET_PIN }))),
      );
      await expectThrows(() =>
        store.put("cupi-reset/delivery/none", new SecretValue(RESET_PASSWORD)),
      );
      for (const [secretId, jsonKey] of [
        ["not-json", "pin"],
        ["misspelt-key", "pin"],
        ["not-a-string", "pin"],
      ] as const) {
        const value = await store.fresh(`${RESETS}${secretId}`);
        await expectThrows(async () => selectSecretValue(secretId, value, jsonKey));
        thrown.push(inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true }));
      }
    } finally {
      client.destroy();
    }
    expectNoLeaks();
  });

  it("CupiConnections: service-account secrets that are malformed or hold a key", async () => {
    const client = new SecretsManagerClient({
      region: LOCAL_REGION,
      endpoint: stack.secretsManager.url,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const connections = new CupiConnections(new SecretStore({ client }), {});
    stack.secretsManager.putSecret(
      "cupi-reset/service-account-broken",
      `{"username": "${DEMO_ACCOUNT.username}", "password": "${REFUSED_SERVICE_PASSWORD}"`,
    );
    stack.secretsManager.putSecret(
      "cupi-reset/service-account-numeric",
      JSON.stringify({ username: DEMO_ACCOUNT.username, password: 739164, note: SERVICE_PASSWORD }),
    );
    try {
      for (const secretId of [
        "cupi-reset/service-account-broken",
        "cupi-reset/service-account-numeric",
        PASTED_KEY_ACCOUNT_SECRET,
      ]) {
        await expectThrows(() =>
          connections.client({ name: secretId, baseUrl: stack.simulator.url, secretId }),
        );
      }
    } finally {
      await connections.close();
      client.destroy();
    }
    expectNoLeaks();
  });

  it("DeadLetterQueue: a failed send of a body carrying a credential", async () => {
    const deadLetters = new DeadLetterQueue(stack.sqs, `${stack.queues.dlqUrl}-does-not-exist`);
    await expectThrows(() =>
      deadLetters.send({
        body: JSON.stringify(
          event({ newCredential: { secretId: `${RESETS}pin`, pin: PLAINTEXT } }),
        ),
        errorCode: "INVALID_EVENT",
        errorMessage: "message carries a credential value (newCredential.pin)",
        sourceMessageId: "m-1",
        receiveCount: 1,
      }),
    );
    expectNoLeaks();
  });
});
