import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type CupiSimulator,
  type CupiSimulatorOptions,
  createCupiSimulator,
} from "../../dev/cupi-simulator/index.ts";
import { createDevCertificates, type DevCertificates } from "../../dev/tls.ts";
import { CupiClient, type CupiClientOptions, CupiError } from "../../lib/cupi/index.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";
import { startStubServer } from "../helpers/stub-server.ts";

// Canary values: if any of these shows up in an error, a log line or a printed object, a secret leaked.
const SERVICE_PASSWORD = "CANARY-svc-Pa55word-7731";
const NEW_PIN = "739164";
const NEW_PASSWORD = `CANARY-W3b<&>"']]>pw`;

const ACCOUNT = { username: "svc-cupi-reset", password: new SecretValue(SERVICE_PASSWORD) };
const JSMITH = "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c01";
const ADMIN = "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c02";
const LOCKED = "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c03";
const ALTERNATE = "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c06";
const UNKNOWN = "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1effff";
const PIN_RULE = "0a7e1c52-1111-4c2b-8d6f-9a0b1c2d3e4f";

const users = [
  {
    objectId: JSMITH,
    alias: "jsmith",
    firstName: "John",
    lastName: "Smith",
    dtmfAccessId: "4021",
    pin: "520813",
    password: "Initial-Passw0rd!",
    pinPolicyObjectId: PIN_RULE,
  },
  { objectId: ADMIN, alias: "cucadmin", roles: ["System Administrator"], dtmfAccessId: "4000" },
  { objectId: LOCKED, alias: "locked.user", dtmfAccessId: "4022" },
  {
    objectId: ALTERNATE,
    alias: "alt.user",
    dtmfAccessId: "4023",
    alternateExtensions: ["5550173", "82947"],
  },
  { objectId: "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c04", alias: "dup.user" },
  { objectId: "6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c05", alias: "dup.user" },
];
const rules = [
  {
    objectId: PIN_RULE,
    minLength: 6,
    prevCredCount: 5,
    trivialCredChecking: true,
    maxHacks: 3,
    maxDays: 180,
    minDuration: 0,
  },
];

let certificates: DevCertificates;
let simulator: CupiSimulator;
const clients: CupiClient[] = [];

function client(overrides: Partial<CupiClientOptions> = {}): CupiClient {
  const created = new CupiClient({
    baseUrl: simulator.url,
    caCertificate: certificates.ca.cert,
    account: ACCOUNT,
    retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    // These tests inject 503s to test retries; the adaptive limit's pauses have tests of their own.
    adaptiveLimit: false,
    ...overrides,
  });
  clients.push(created);
  return created;
}

/** A simulated CUC over HTTPS with this file's users, rules and service account. */
function startHost(overrides: Partial<CupiSimulatorOptions> = {}): Promise<CupiSimulator> {
  return createCupiSimulator({
    users,
    rules,
    tls: certificates.server,
    account: { username: ACCOUNT.username, password: SERVICE_PASSWORD },
    ...overrides,
  });
}

async function failure(promise: Promise<unknown>): Promise<CupiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CupiError);
  return error as CupiError;
}

function expectNoCanary(...shown: unknown[]): void {
  const basicToken = Buffer.from(`${ACCOUNT.username}:${SERVICE_PASSWORD}`).toString("base64");
  for (const item of shown) {
    const text = typeof item === "string" ? item : inspect(item, { depth: 10, showHidden: true });
    for (const canary of [SERVICE_PASSWORD, NEW_PIN, NEW_PASSWORD, basicToken, "CANARY"]) {
      expect(text).not.toContain(canary);
    }
  }
}

beforeAll(async () => {
  certificates = await createDevCertificates();
  simulator = await startHost();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((created) => created.close()));
  simulator.resetStats();
});

afterAll(async () => {
  await simulator?.close();
});

describe("CupiClient against the simulator over HTTPS", () => {
  it("checks health with /vmrest/version", async () => {
    await expect(client().version()).resolves.toMatch(/^\d+\.\d+/);
    expect(simulator.requests.at(-1)?.path).toBe("/vmrest/version");
  });

  it.each(["xml", "json"] as const)("finds a user by alias (%s)", async (responseFormat) => {
    const user = await client({ responseFormat }).findUserByAlias("JSmith");
    expect(user).toMatchObject({ objectId: JSMITH, alias: "jsmith", dtmfAccessId: "4021" });
    expect(simulator.requests.at(-1)?.accept).toContain(responseFormat);
  });

  it.each(["xml", "json"] as const)(
    "reports an unknown alias as not-found and a duplicate as ambiguous (%s)",
    async (responseFormat) => {
      const cupi = client({ responseFormat });
      const missing = await failure(cupi.findUserByAlias("nobody"));
      expect(missing).toMatchObject({ kind: "not-found", retryable: false });
      const duplicate = await failure(cupi.findUserByAlias("dup.user"));
      expect(duplicate).toMatchObject({ kind: "ambiguous", retryable: false });
    },
  );

  it("refuses unsafe identifiers before sending anything", async () => {
    const cupi = client();
    for (const attempt of [
      cupi.findUserByAlias("../users"),
      cupi.findUserByAlias("jsmith) or (alias startswith a"),
      cupi.getUser("../../version"),
      cupi.updateCredential(`${JSMITH}/../x`, "pin", { Locked: false }),
    ]) {
      expect(await failure(attempt)).toMatchObject({ kind: "invalid-input", retryable: false });
    }
    expect(simulator.stats.requests).toBe(0);
  });

  it("reads a user by objectId and reports an unknown one as not-found", async () => {
    const cupi = client();
    await expect(cupi.getUser(JSMITH.toUpperCase())).resolves.toMatchObject({
      alias: "jsmith",
      firstName: "John",
      lastName: "Smith",
      ldapIntegrated: false,
    });
    expect(await failure(cupi.getUser(UNKNOWN))).toMatchObject({
      kind: "not-found",
      status: 404,
      attempts: 1,
    });
  });

  it("tells a missing user from a base URL that does not lead to CUPI", async () => {
    // The right base URL: a 404 is believed once /vmrest/version answered, and then for a while.
    const cupi = client();
    simulator.resetStats();
    expect(await failure(cupi.getUser(UNKNOWN))).toMatchObject({ kind: "not-found" });
    expect(await failure(cupi.getCredential(UNKNOWN, "pin"))).toMatchObject({ kind: "not-found" });
    expect(simulator.requests.filter((request) => request.path === "/vmrest/version")).toHaveLength(
      1,
    );
    // A path CUC does not serve answers 404 to everything: never a missing user.
    const misdirected = client({ baseUrl: `${simulator.url}/cuc` });
    for (const call of [
      () => misdirected.findUserByAlias("jsmith"),
      () => misdirected.getUser(JSMITH),
      () => misdirected.updateCredential(JSMITH, "pin", { Credentials: new SecretValue("860241") }),
    ]) {
      const error = await failure(call());
      expect(error).toMatchObject({ kind: "not-cupi", retryable: true, status: 404 });
      expect(error.message).toMatch(/the base URL does not lead to CUPI/);
    }
  });

  it("drops a trailing /vmrest from the base URL", async () => {
    const cupi = client({ baseUrl: `${simulator.url}/vmrest/` });
    await expect(cupi.getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
  });

  it("resets a PIN, reads the credential and its authentication rule", async () => {
    const cupi = client();
    await cupi.updateCredential(JSMITH, "pin", {
      Credentials: new SecretValue(NEW_PIN),
      CredMustChange: true,
    });
    const applied = simulator.credentialOf(JSMITH, "pin");
    expect(applied.value).toBe(NEW_PIN);
    expect(applied.CredMustChange).toBe(true);
    const credential = await cupi.getCredential(JSMITH, "pin");
    expect(credential).toMatchObject({ credMustChange: true, credentialPolicyObjectId: PIN_RULE });
    const rule = await cupi.getAuthenticationRule(credential.credentialPolicyObjectId ?? "");
    expect(rule).toMatchObject({ objectId: PIN_RULE, minLength: 6, prevCredCount: 5 });
    const put = simulator.requests.find((request) => request.method === "PUT");
    expect(put).toMatchObject({
      path: `/vmrest/users/${JSMITH}/credential/pin`,
      contentType: "application/xml",
    });
  });

  it("delivers a password with XML special characters intact", async () => {
    await client().updateCredential(JSMITH, "password", {
      Credentials: new SecretValue(NEW_PASSWORD),
    });
    expect(simulator.credentialOf(JSMITH, "password").value).toBe(NEW_PASSWORD);
  });

  it("changes settings alone without touching the value", async () => {
    const before = simulator.credentialOf(JSMITH, "password");
    await client().updateCredential(JSMITH, "password", { CantChange: true, DoesntExpire: true });
    const after = simulator.credentialOf(JSMITH, "password");
    expect(after).toMatchObject({ CantChange: true, DoesntExpire: true, value: before.value });
    expect(after.changes).toBe(before.changes);
  });

  it("unlocks a hacked PIN with the unlock recipe", async () => {
    simulator.setHackedState(LOCKED, "pin", {
      hackCount: 5,
      timeHacked: "2026-11-27 09:00:00.000",
      locked: true,
    });
    await client().updateCredential(LOCKED, "pin", { HackCount: 0, TimeHacked: "", Locked: false });
    expect(simulator.credentialOf(LOCKED, "pin")).toMatchObject({
      HackCount: 0,
      TimeHacked: "",
      Locked: false,
    });
  });

  it("keeps CUPI's reason for a policy rejection and does not retry it", async () => {
    const cupi = client();
    const trivial = await failure(
      cupi.updateCredential(JSMITH, "pin", { Credentials: new SecretValue("123456") }),
    );
    expect(trivial).toMatchObject({ kind: "rejected", status: 400, retryable: false, attempts: 1 });
    expect(trivial.cupiMessage).toMatch(/trivial/i);
    await cupi.updateCredential(JSMITH, "pin", { Credentials: new SecretValue("860241") });
    const repeat = await failure(
      cupi.updateCredential(JSMITH, "pin", { Credentials: new SecretValue("860241") }),
    );
    expect(repeat.cupiMessage).toMatch(/Repeat credentials prohibited/);
    expect(simulator.stats.requests).toBe(3);
    expectNoCanary(trivial, repeat, trivial.message, repeat.message);
  });

  it("reports a user with administrator roles as not-permitted", async () => {
    const error = await failure(
      client().updateCredential(ADMIN, "pin", { Credentials: new SecretValue("860241") }),
    );
    expect(error).toMatchObject({ kind: "not-permitted", status: 403, retryable: false });
  });

  it("reports bad service credentials as authentication without hammering CUC", async () => {
    const wrong = { username: ACCOUNT.username, password: new SecretValue("CANARY-wrong-pw") };
    const cupi = client({ account: wrong });
    const error = await failure(cupi.version());
    expect(error).toMatchObject({ kind: "authentication", status: 401, retryable: true });
    expect(simulator.stats.requests).toBe(1);
    expectNoCanary(error, cupi, String(cupi));
    cupi.updateAccount(ACCOUNT);
    await expect(cupi.version()).resolves.toBeTruthy();
  });

  it("reuses CUC's session cookies instead of authenticating every request", async () => {
    const cupi = client();
    for (let index = 0; index < 10; index++) await cupi.getUser(JSMITH);
    expect(simulator.stats.requests).toBe(10);
    expect(simulator.stats.freshAuthentications).toBe(1);
    expect(simulator.requests.at(-1)?.hasBasicAuth).toBe(true);
    expect(simulator.requests.at(-1)?.cookieNames).toEqual(
      expect.arrayContaining(["JSESSIONIDSSO", "JSESSIONID"]),
    );
  });

  it("drops an expired session on 401 and retries once without it", async () => {
    const strict = await startHost({
      staleSessionPolicy: "reject",
    });
    try {
      const cupi = new CupiClient({
        baseUrl: strict.url,
        caCertificate: certificates.ca.cert,
        account: ACCOUNT,
      });
      clients.push(cupi);
      await cupi.getUser(JSMITH);
      strict.invalidateSessions();
      await expect(cupi.getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
      expect(strict.requests).toHaveLength(3);
      expect(strict.requests[1]?.cookieNames).toContain("JSESSIONIDSSO");
      expect(strict.requests[2]?.cookieNames).toEqual([]);
      expect(strict.stats.freshAuthentications).toBe(2);
    } finally {
      await strict.close();
    }
  });

  it("does not send a refused service account again during the cool-down", async () => {
    const wrong = { username: ACCOUNT.username, password: new SecretValue("CANARY-wrong-pw") };
    const cupi = client({ account: wrong, authenticationCooldownMs: 60_000 });
    await failure(cupi.version());
    const second = await failure(cupi.getUser(JSMITH));
    expect(second).toMatchObject({ kind: "authentication", retryable: true });
    expect(simulator.stats.requests).toBe(1);
    cupi.updateAccount(ACCOUNT);
    await expect(cupi.getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
  });

  it("does not re-send a new credential that CUC may already have applied", async () => {
    simulator.injectFaults("drop-after-apply");
    const before = simulator.credentialOf(JSMITH, "pin").changes;
    const error = await failure(
      client().updateCredential(JSMITH, "pin", { Credentials: new SecretValue("602958") }),
    );
    expect(error).toMatchObject({ kind: "network", retryable: true, mayHaveTakenEffect: true });
    expect(error.attempts).toBe(1);
    expect(simulator.credentialOf(JSMITH, "pin").changes).toBe(before + 1);
  });

  it("re-sends an idempotent settings change after a lost answer", async () => {
    simulator.injectFaults("drop-after-apply");
    await client().updateCredential(JSMITH, "pin", { DoesntExpire: true });
    expect(simulator.stats.requests).toBe(2);
    expect(simulator.credentialOf(JSMITH, "pin").DoesntExpire).toBe(true);
  });

  it("refuses a deadline that is not epoch milliseconds", async () => {
    await expect(client().version({ deadline: 30_000 })).rejects.toThrow(RangeError);
    await expect(client().version({ deadline: Number.NaN })).rejects.toThrow(RangeError);
  });

  it("reads alternate extensions", async () => {
    await expect(client().getAlternateExtensions(ALTERNATE)).resolves.toEqual(["5550173", "82947"]);
    await expect(client().getAlternateExtensions(JSMITH)).resolves.toEqual([]);
  });

  it.each([
    ["503", ["503", "503"]],
    ["dropped connection", ["drop"]],
    ["500 HTML page", ["500-html", "503"]],
  ] as const)("retries a %s and succeeds", async (_name, faults) => {
    simulator.injectFaults(...faults);
    await expect(client().getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
    expect(simulator.stats.requests).toBe(faults.length + 1);
  });

  it("retries a PUT after a 503 and applies it once", async () => {
    simulator.injectFaults("503");
    const before = simulator.credentialOf(JSMITH, "pin").changes;
    await client().updateCredential(JSMITH, "pin", { Credentials: new SecretValue("947150") });
    expect(simulator.credentialOf(JSMITH, "pin").changes).toBe(before + 1);
  });

  it("reports the server error with the HTML page's message when attempts run out", async () => {
    simulator.injectFaults("500-html", "500-html");
    const error = await failure(client({ retry: { maxAttempts: 2, baseDelayMs: 1 } }).version());
    expect(error).toMatchObject({ kind: "server", status: 500, attempts: 2, retryable: true });
    expect(error.cupiMessage).toMatch(/500/);
  });

  it("stops retrying at the caller's deadline", async () => {
    simulator.injectFaults(...Array<"503">(50).fill("503"));
    // Without it, the busy answers would open the breaker this simulator's tests share.
    const cupi = client({
      retry: { maxAttempts: 50, baseDelayMs: 40, maxDelayMs: 80 },
      circuitBreaker: false,
    });
    const started = Date.now();
    const error = await failure(cupi.getUser(JSMITH, { deadline: Date.now() + 300 }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.retryable).toBe(true);
    expect(simulator.stats.requests).toBeLessThan(50);
  });

  it("abandons a response slower than the header timeout and retries", async () => {
    simulator.injectFaults({ kind: "slow", delayMs: 5_000 });
    const started = Date.now();
    const cupi = client({ timeouts: { headersMs: 300 } });
    await expect(cupi.getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("reports a call that never got a free slot before its deadline as a CupiError", async () => {
    const slow = await startHost();
    try {
      // "localhost": its own per-host limiter, so the limit of 1 binds only this test.
      const cupi = new CupiClient({
        baseUrl: slow.url.replace("127.0.0.1", "localhost"),
        caCertificate: certificates.ca.cert,
        account: ACCOUNT,
        maxInFlight: 1,
      });
      clients.push(cupi);
      slow.injectFaults({ kind: "slow", delayMs: 1_000 });
      const holder = cupi.getUser(JSMITH);
      const waiting = await failure(cupi.getUser(JSMITH, { deadline: Date.now() + 200 }));
      expect(waiting).toMatchObject({
        kind: "timeout",
        retryable: true,
        mayHaveTakenEffect: false,
      });
      expect(waiting.message).toMatch(/waiting for a free request slot/);
      await holder;
      expect(slow.stats.requests).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it("abandons a slow call at the deadline as a retryable timeout", async () => {
    simulator.injectFaults({ kind: "slow", delayMs: 5_000 });
    const error = await failure(client().getUser(JSMITH, { deadline: Date.now() + 300 }));
    expect(error).toMatchObject({ kind: "timeout", retryable: true });
  });

  it("keeps every client of a host in this process within one in-flight limit", async () => {
    const slow = await startHost({
      latencyMs: 20,
    });
    try {
      // Two clients, two connection pools: only the shared per-host limiter keeps them at 2.
      const options = { baseUrl: slow.url, caCertificate: certificates.ca.cert, account: ACCOUNT };
      const first = new CupiClient({ ...options, maxInFlight: 2 });
      const second = new CupiClient({ ...options, maxInFlight: 2 });
      clients.push(first, second);
      await Promise.all(
        Array.from({ length: 24 }, (_, index) => (index % 2 ? first : second).getUser(JSMITH)),
      );
      expect(slow.stats.requests).toBe(24);
      expect(slow.stats.peakConcurrency).toBe(2);
      expect(slow.stats.throttled).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it("refuses a server whose certificate it does not trust, without retrying", async () => {
    const untrusting = new CupiClient({ baseUrl: simulator.url, account: ACCOUNT });
    clients.push(untrusting);
    const error = await failure(untrusting.version());
    expect(error).toMatchObject({ kind: "tls", retryable: false, attempts: 1 });
    const otherCa = await createDevCertificates();
    const wrongCa = await failure(client({ caCertificate: otherCa.ca.cert }).version());
    expect(wrongCa.kind).toBe("tls");
  });

  it("keeps the service password and new values out of errors and printed objects", async () => {
    const cupi = client();
    const errors = [
      await failure(cupi.updateCredential(ADMIN, "pin", { Credentials: new SecretValue(NEW_PIN) })),
      await failure(cupi.getUser(UNKNOWN)),
    ];
    expectNoCanary(...errors, ...errors.map(String), cupi, String(cupi), JSON.stringify(cupi));
  });
});

describe("CupiClient configuration and unusual answers", () => {
  it("refuses http:// unless local development is explicit, and bad base URLs", () => {
    const base = { account: ACCOUNT };
    expect(() => new CupiClient({ ...base, baseUrl: "http://cuc.example.com" })).toThrow(
      /must use https/,
    );
    expect(() => new CupiClient({ ...base, baseUrl: "ftp://cuc.example.com" })).toThrow(/https/);
    expect(() => new CupiClient({ ...base, baseUrl: "https://u:p@cuc.example.com" })).toThrow(
      /credentials/,
    );
    expect(() => new CupiClient({ ...base, baseUrl: "https://cuc?x=1" })).toThrow(/query/);
    expect(() => new CupiClient({ ...base, baseUrl: "not a url" })).toThrow(/valid URL/);
    expect(
      () => new CupiClient({ ...base, baseUrl: "https://cuc.example.com", caCertificate: "x" }),
    ).toThrow(/PEM/);
  });

  it("talks to an http:// simulator when allowInsecureHttp is set", async () => {
    const plain = await createCupiSimulator({
      users,
      rules,
      account: { username: ACCOUNT.username, password: SERVICE_PASSWORD },
    });
    try {
      const cupi = new CupiClient({
        baseUrl: plain.url,
        account: ACCOUNT,
        allowInsecureHttp: true,
      });
      await expect(cupi.findUserByAlias("jsmith")).resolves.toMatchObject({ objectId: JSMITH });
      await cupi.close();
    } finally {
      await plain.close();
    }
  });

  it("refuses to follow a redirect", async () => {
    const target = await startStubServer((_request, _body, response) => response.end("hi"));
    const redirecting = await startStubServer((_request, _body, response) => {
      response.writeHead(302, { location: `${target.url}/vmrest/version` }).end();
    });
    try {
      const cupi = new CupiClient({
        baseUrl: redirecting.url,
        account: ACCOUNT,
        allowInsecureHttp: true,
      });
      const error = await failure(cupi.version());
      expect(error).toMatchObject({ kind: "client-bug", status: 302, retryable: false });
      expect(target.received).toHaveLength(0);
      await cupi.close();
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });

  it("scrubs a credential that the server echoes back in its error", async () => {
    const echoing = await startStubServer((_request, body, response) => {
      const value = /<Credentials>(.*)<\/Credentials>/.exec(body)?.[1] ?? "";
      response
        .writeHead(400, { "content-type": "application/xml" })
        .end(
          `<ErrorDetails><errors><code>INVALID</code><message>PIN ${value} is trivial</message></errors></ErrorDetails>`,
        );
    });
    try {
      const cupi = new CupiClient({
        baseUrl: echoing.url,
        account: ACCOUNT,
        allowInsecureHttp: true,
      });
      const error = await failure(
        cupi.updateCredential(JSMITH, "pin", { Credentials: new SecretValue(NEW_PIN) }),
      );
      expect(echoing.received[0]?.body).toContain(NEW_PIN);
      expect(error.cupiMessage).toBe("PIN [redacted] is trivial");
      expectNoCanary(error, error.message);
      await cupi.close();
    } finally {
      await echoing.close();
    }
  });

  it.each([
    ["near the 300-character clip", `${"x".repeat(290)} PIN {value} is trivial`],
    ["with its whitespace folded", "bad value: {value}"],
    [
      "XML-escaped",
      "<ErrorDetails><errors><message>bad {escaped}</message></errors></ErrorDetails>",
    ],
  ])("scrubs an echoed secret %s", async (_case, template) => {
    const secret = `Ab1  <&>"' CANARY-${"z".repeat(12)}`;
    const escaped = secret
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&apos;");
    const stub = await startStubServer((_request, _body, response) => {
      response
        .writeHead(400)
        .end(template.replace("{value}", secret).replace("{escaped}", escaped));
    });
    try {
      const cupi = new CupiClient({ baseUrl: stub.url, account: ACCOUNT, allowInsecureHttp: true });
      const error = await failure(
        cupi.updateCredential(JSMITH, "password", { Credentials: new SecretValue(secret) }),
      );
      // The marker itself may be clipped at 300 characters; the secret must not survive either way.
      expect(error.cupiMessage).toMatch(/\[red/);
      for (const shown of [error.message, error.cupiMessage ?? "", inspect(error, { depth: 10 })]) {
        expect(shown).not.toContain("CANARY");
        expect(shown).not.toContain("zzzzzzzzzzzz");
      }
      await cupi.close();
    } finally {
      await stub.close();
    }
  });

  it.each([405, 415])("treats HTTP %i as a permanent client bug", async (status) => {
    const stub = await startStubServer((_request, _body, response) => {
      response.writeHead(status).end();
    });
    try {
      const cupi = new CupiClient({ baseUrl: stub.url, account: ACCOUNT, allowInsecureHttp: true });
      const error = await failure(cupi.version());
      expect(error).toMatchObject({ kind: "client-bug", status, retryable: false, attempts: 1 });
      await cupi.close();
    } finally {
      await stub.close();
    }
  });

  it("reports a refused connection as a retryable network error after its retries", async () => {
    const stub = await startStubServer(() => {});
    const url = stub.url;
    await stub.close();
    const cupi = new CupiClient({
      baseUrl: url,
      account: ACCOUNT,
      allowInsecureHttp: true,
      retry: { maxAttempts: 3, baseDelayMs: 1 },
    });
    const error = await failure(cupi.version());
    expect(error).toMatchObject({ kind: "network", retryable: true, attempts: 3 });
    await cupi.close();
  });
});

describe("CupiClient's circuit breaker (one per host per process)", () => {
  const hosts: CupiSimulator[] = [];
  /** A call deadline before any of these tests' cool-downs end (1 s), with room for a loaded machine. */
  const soon = () => ({ deadline: Date.now() + 500 });
  const UNTIL = /circuit breaker open for https:\/\/localhost:\d+ until \d{4}-\d\d-\d\dT[\d:.]+Z/;

  afterAll(async () => {
    await Promise.all(hosts.map((host) => host.close()));
  });

  /**
   * A CUC host of its own, reached as `localhost`: the other tests' hosts are `127.0.0.1`, so even
   * a reused port cannot share their breakers; these stay open, their ports taken, until the end.
   */
  async function freshHost(overrides: Partial<CupiClientOptions> = {}) {
    const host = await startHost({
      host: "localhost",
    });
    hosts.push(host);
    const connect = (more: Partial<CupiClientOptions> = {}): CupiClient => {
      const created = new CupiClient({
        baseUrl: `https://localhost:${new URL(host.url).port}`,
        caCertificate: certificates.ca.cert,
        account: ACCOUNT,
        retry: { maxAttempts: 10, baseDelayMs: 1, maxDelayMs: 2 },
        adaptiveLimit: false,
        ...overrides,
        ...more,
      });
      clients.push(created);
      return created;
    };
    return { host, cupi: connect(), connect };
  }

  it("stops sending after a run of 503s and fails fast with unavailable, for every client", async () => {
    const { host, cupi, connect } = await freshHost({
      circuitBreaker: { failureThreshold: 3, coolDownMs: 60_000 },
    });
    host.injectFaults(...Array<"503">(20).fill("503"));
    const opening = await failure(cupi.getUser(JSMITH));
    // The fourth attempt found the circuit open: in-call retries stop there.
    expect(opening).toMatchObject({ kind: "unavailable", retryable: true, attempts: 3 });
    expect(opening.message).toMatch(UNTIL);
    expect(host.stats.requests).toBe(3);
    expect(cupi.circuitBreaker?.snapshot()).toMatchObject({ state: "open", openings: 1 });

    const started = Date.now();
    const refused = await failure(cupi.updateCredential(JSMITH, "pin", { Locked: false }));
    const another = await failure(connect().version());
    expect(Date.now() - started).toBeLessThan(100);
    for (const error of [refused, another]) {
      expect(error).toMatchObject({
        kind: "unavailable",
        retryable: true,
        attempts: 0,
        mayHaveTakenEffect: false,
      });
      expect(error.message).toMatch(UNTIL);
    }
    expect(host.stats.requests).toBe(3);
  });

  it("lets a single trial through after the cool-down; calls made meanwhile wait for its verdict", async () => {
    const { host, cupi } = await freshHost({
      circuitBreaker: { failureThreshold: 2, coolDownMs: 1_000 },
    });
    host.injectFaults("503", "503");
    // Its deadline comes before the cool-down ends: the call does not wait for it.
    expect(await failure(cupi.getUser(JSMITH, soon()))).toMatchObject({ kind: "unavailable" });
    expect(host.stats.requests).toBe(2);
    await sleep(1_050);

    // The trial is slow: the calls made meanwhile meet the half-open circuit and wait, unsent,
    // rather than fail at once (each such failure would cost a record one of its retries).
    host.injectFaults({ kind: "slow", delayMs: 300 });
    const trial = cupi.getUser(JSMITH);
    const meanwhile = Promise.all([
      cupi.getUser(JSMITH),
      cupi.version(),
      cupi.getCredential(JSMITH, "pin"),
    ]);
    await sleep(150);
    expect(cupi.circuitBreaker?.state).toBe("half-open");
    expect(host.stats.requests).toBe(3);
    await expect(trial).resolves.toMatchObject({ alias: "jsmith" });
    await expect(meanwhile).resolves.toHaveLength(3);
    expect(host.stats.requests).toBe(6);
    expect(cupi.circuitBreaker?.state).toBe("closed");
  });

  it("re-opens for another cool-down when the trial fails; a call waits it out only if its deadline allows", async () => {
    const { host, cupi } = await freshHost({
      circuitBreaker: { failureThreshold: 1, coolDownMs: 1_000 },
    });
    host.injectFaults("503");
    await failure(cupi.version(soon()));
    await sleep(1_050);
    host.injectFaults("500-html");
    const trial = await failure(cupi.version(soon()));
    expect(trial).toMatchObject({ kind: "unavailable", attempts: 1 });
    expect(trial.message).toMatch(UNTIL);
    expect(cupi.circuitBreaker?.snapshot()).toMatchObject({ state: "open", openings: 2 });

    // A deadline before the cool-down ends: refused at once, nothing sent.
    const started = Date.now();
    const refused = await failure(cupi.version(soon()));
    expect(refused).toMatchObject({ kind: "unavailable", attempts: 0 });
    expect(Date.now() - started).toBeLessThan(80);
    expect(host.stats.requests).toBe(2);
    // A deadline past it: the call waits for the cool-down and is the next trial.
    await expect(cupi.version({ deadline: Date.now() + 2_000 })).resolves.toBeTruthy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(host.stats.requests).toBe(3);
    expect(cupi.circuitBreaker?.state).toBe("closed");
  });

  it("takes any other answer (404, 400, 403) as CUC being up", async () => {
    const { host, cupi } = await freshHost({
      circuitBreaker: { failureThreshold: 2, coolDownMs: 60_000 },
      retry: { maxAttempts: 1 },
    });
    // The first 404 is checked against /vmrest/version (one request more), the others trusted.
    for (let index = 0; index < 4; index++) {
      expect(await failure(cupi.getUser(UNKNOWN))).toMatchObject({ kind: "not-found" });
    }
    // Each answer between two busy ones breaks the run of consecutive failures.
    host.injectFaults("503");
    expect(await failure(cupi.version())).toMatchObject({ kind: "busy" });
    await failure(cupi.getUser(UNKNOWN));
    host.injectFaults("503");
    await failure(cupi.version());
    const trivial = cupi.updateCredential(JSMITH, "pin", {
      Credentials: new SecretValue("123456"),
    });
    expect(await failure(trivial)).toMatchObject({ kind: "rejected" });
    host.injectFaults("503");
    await failure(cupi.version());
    const admin = cupi.updateCredential(ADMIN, "pin", { Credentials: new SecretValue("860241") });
    expect(await failure(admin)).toMatchObject({ kind: "not-permitted" });
    host.injectFaults("503");
    await failure(cupi.version());
    await expect(cupi.getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
    expect(host.stats.requests).toBe(13);
    expect(cupi.circuitBreaker?.snapshot()).toMatchObject({
      state: "closed",
      openings: 0,
      failures: 4,
      successes: 9,
    });
  });

  it("counts an attempt's own timeout but not the caller's deadline cutting it short", async () => {
    const { host, cupi } = await freshHost({
      circuitBreaker: { failureThreshold: 2, coolDownMs: 60_000 },
      retry: { maxAttempts: 1 },
      timeouts: { headersMs: 150 },
    });
    host.injectFaults(...Array(3).fill({ kind: "slow", delayMs: 5_000 }));
    for (let index = 0; index < 3; index++) {
      const cut = await failure(cupi.version({ deadline: Date.now() + 50 }));
      expect(cut.message).toMatch(/stopped at the deadline/);
    }
    expect(cupi.circuitBreaker?.snapshot()).toMatchObject({ state: "closed", failures: 0 });

    host.injectFaults(...Array(2).fill({ kind: "slow", delayMs: 5_000 }));
    for (let index = 0; index < 2; index++) {
      expect(await failure(cupi.version())).toMatchObject({ kind: "timeout" });
    }
    expect(await failure(cupi.version())).toMatchObject({ kind: "unavailable" });
    expect(host.stats.requests).toBe(5);
  });

  it("takes no verdict from a refused service account, which sends nothing", async () => {
    const { host, cupi, connect } = await freshHost({
      circuitBreaker: { failureThreshold: 2, coolDownMs: 200 },
      retry: { maxAttempts: 1 },
    });
    const wrong = { username: ACCOUNT.username, password: new SecretValue("CANARY-wrong-pw") };
    const refused = connect({ account: wrong, authenticationCooldownMs: 60_000 });
    await failure(refused.version());
    host.injectFaults("503", "503");
    await failure(cupi.version());
    await failure(cupi.version());
    await sleep(250);
    expect(await failure(refused.version())).toMatchObject({ kind: "authentication" });
    expect(cupi.circuitBreaker?.snapshot()).toMatchObject({ state: "half-open", openings: 1 });
    await expect(cupi.version()).resolves.toBeTruthy();
    expect(cupi.circuitBreaker?.state).toBe("closed");
    expect(host.stats.requests).toBe(4);
  });

  it("keeps sending when disabled", async () => {
    const { host, cupi } = await freshHost({
      circuitBreaker: false,
      retry: { maxAttempts: 4, baseDelayMs: 1 },
    });
    host.injectFaults(...Array<"503">(8).fill("503"));
    expect(cupi.circuitBreaker).toBeUndefined();
    expect(await failure(cupi.version())).toMatchObject({ kind: "busy", attempts: 4 });
    expect(await failure(cupi.version())).toMatchObject({ kind: "busy", attempts: 4 });
    expect(host.stats.requests).toBe(8);
  });
});

describe("CupiClient's adaptive limit (one per host per process)", () => {
  it("learns how many requests CUC serves at once: every call succeeds, few 503s, no opened circuit", async () => {
    const small = await startHost({
      maxConcurrent: 2,
      latencyMs: 20,
    });
    try {
      const cupi = new CupiClient({
        baseUrl: small.url,
        caCertificate: certificates.ca.cert,
        account: ACCOUNT,
        maxInFlight: 5,
        // Short pauses keep the test quick; the shape of the reaction is what is tested.
        adaptiveLimit: { minPauseMs: 5, maxPauseMs: 50 },
        circuitBreaker: { failureThreshold: 2, coolDownMs: 60_000 },
      });
      clients.push(cupi);
      await Promise.all(Array.from({ length: 60 }, () => cupi.getUser(JSMITH)));
      const { throttled, requests } = small.stats;
      expect(requests - throttled).toBe(60);
      // The slow start overshoots once; afterwards the limit stays at CUC's 2.
      expect(throttled).toBeGreaterThan(0);
      expect(throttled).toBeLessThan(15);
      expect(cupi.limiter.limit).toBeLessThanOrEqual(2);
      expect(cupi.limiter.stats.throttled).toBe(throttled);
      expect(cupi.circuitBreaker?.snapshot()).toMatchObject({ state: "closed", openings: 0 });
    } finally {
      await small.close();
    }
  });

  it("retries 503s past maxAttempts, paced by the limit's pauses, until CUC serves the call", async () => {
    const busy = await startHost();
    try {
      const cupi = new CupiClient({
        baseUrl: busy.url,
        caCertificate: certificates.ca.cert,
        account: ACCOUNT,
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
        adaptiveLimit: { minPauseMs: 10, maxPauseMs: 40, random: () => 0.5 },
      });
      clients.push(cupi);
      busy.injectFaults(...Array<"503">(4).fill("503"));
      const started = Date.now();
      await expect(cupi.getUser(JSMITH)).resolves.toMatchObject({ alias: "jsmith" });
      // Pauses of 10, 40, 40 and 40 ms came between the five attempts.
      expect(Date.now() - started).toBeGreaterThanOrEqual(120);
      expect(busy.stats.requests).toBe(5);
      expect(cupi.limiter.stats).toMatchObject({ throttled: 4, pauses: 4 });
    } finally {
      await busy.close();
    }
  });
});
