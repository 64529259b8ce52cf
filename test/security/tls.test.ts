import { readdir, readFile } from "node:fs/promises";
import { createServer, get as httpsGet, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { getCACertificates } from "node:tls";
import { fileURLToPath } from "node:url";
import { request as undiciRequest } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type CupiSimulator, createCupiSimulator } from "../../dev/cupi-simulator/index.ts";
import { createDevCertificates, type DevCertificates } from "../../dev/tls.ts";
import { CupiClient, type CupiClientOptions, CupiError } from "../../lib/cupi/index.ts";
import { CupiConnections } from "../../lib/reset/cupi-connections.ts";
import type { SecretStore } from "../../lib/secrets/secret-store.ts";
import { SecretValue } from "../../lib/secrets/secret-value.ts";

/**
 * Issue 5, "TLS and network": the CUC certificate is checked against the private CA from
 * configuration (for the CUPI client only), every kind of bad certificate is refused with a reason
 * an operator can act on, http:// needs an explicit opt-in, redirects are never followed, and no
 * code path switches certificate checks off.
 */

const SERVICE_PASSWORD = "tls-test-service-password";
const ACCOUNT = { username: "svc-cupi-reset", password: new SecretValue(SERVICE_PASSWORD) };
const SIMULATOR_ACCOUNT = { username: ACCOUNT.username, password: SERVICE_PASSWORD };
const DAY_MS = 86_400_000;
const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** A CA, and certificates it issued for the loopback server: one good, the others faulty. */
interface Fixtures {
  trusted: DevCertificates;
  expired: DevCertificates;
  notYetValid: DevCertificates;
  wrongHost: DevCertificates;
  /** Valid for this host, but from another CA with the same name as the trusted one. */
  otherCa: DevCertificates;
}

let fixtures: Fixtures;
const simulators: CupiSimulator[] = [];
const clients: CupiClient[] = [];

beforeAll(async () => {
  const trusted = await createDevCertificates();
  const now = Date.now();
  fixtures = {
    trusted,
    expired: await createDevCertificates(undefined, {
      ca: trusted.ca,
      notBefore: new Date(now - 30 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    }),
    notYetValid: await createDevCertificates(undefined, {
      ca: trusted.ca,
      notBefore: new Date(now + DAY_MS),
      notAfter: new Date(now + 30 * DAY_MS),
    }),
    wrongHost: await createDevCertificates(["cuc.example.com"], { ca: trusted.ca }),
    otherCa: await createDevCertificates(),
  };
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.close()));
});

async function simulatorWith(tls: DevCertificates["server"] | undefined): Promise<CupiSimulator> {
  const simulator = await createCupiSimulator({
    users: [],
    account: SIMULATOR_ACCOUNT,
    ...(tls === undefined ? {} : { tls }),
  });
  simulators.push(simulator);
  return simulator;
}

function client(options: Partial<CupiClientOptions> & { baseUrl: string }): CupiClient {
  const created = new CupiClient({ account: ACCOUNT, circuitBreaker: false, ...options });
  clients.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<CupiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CupiError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

/** The OpenSSL / Node code of a failed plain request, wherever it nests its cause. */
function causeCode(error: unknown): string | undefined {
  for (let current: unknown = error; typeof current === "object" && current !== null; ) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === "string") return code;
    current = cause;
  }
  return undefined;
}

async function plainFailure(attempt: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await attempt();
  } catch (error) {
    return causeCode(error);
  }
  throw new Error("expected the plain request to fail");
}

function httpsGetStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsGet(url, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on("error", reject);
  });
}

describe("the private CA from configuration", () => {
  it("is trusted by the CUPI client configured with it", async () => {
    const simulator = await simulatorWith(fixtures.trusted.server);
    const cupi = client({ baseUrl: simulator.url, caCertificate: fixtures.trusted.ca.cert });
    await expect(cupi.version()).resolves.toMatch(/^\d+\.\d+/);
    expect(simulator.requests.map((request) => request.path)).toEqual(["/vmrest/version"]);
  });

  it("is trusted when it comes from the service-account secret", async () => {
    const simulator = await simulatorWith(fixtures.trusted.server);
    const secret = JSON.stringify({
      ...SIMULATOR_ACCOUNT,
      caCertificate: fixtures.trusted.ca.cert,
    });
    const secrets = { cached: async () => new SecretValue(secret) } as unknown as SecretStore;
    const connections = new CupiConnections(secrets, { circuitBreaker: false });
    try {
      const cluster = { name: "default", baseUrl: simulator.url, secretId: "cupi/service" };
      const cupi = await connections.client(cluster);
      await expect(cupi.version()).resolves.toMatch(/^\d+\.\d+/);
    } finally {
      await connections.close();
    }
  });

  it("is trusted for that client only: nothing else in the process trusts it", async () => {
    const simulator = await simulatorWith(fixtures.trusted.server);
    // A client trusting the CA has connected first: if it had widened a global trust store, the
    // requests below would succeed.
    const trusting = client({ baseUrl: simulator.url, caCertificate: fixtures.trusted.ca.cert });
    await trusting.version();
    const url = `${simulator.url}/vmrest/version`;

    expect(await plainFailure(() => fetch(url))).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    expect(await plainFailure(() => undiciRequest(url))).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    expect(await plainFailure(() => httpsGetStatus(url))).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");

    const untrusting = client({ baseUrl: simulator.url });
    const error = await failure(untrusting.version());
    expect(error).toMatchObject({ kind: "tls", retryable: false, attempts: 1 });
    expect(error.message).toContain("UNABLE_TO_VERIFY_LEAF_SIGNATURE");

    const caFingerprint = fixtures.trusted.ca.cert.replace(/\s+/g, "");
    for (const store of ["default", "system", "bundled", "extra"] as const) {
      const pems = getCACertificates(store).map((pem) => pem.replace(/\s+/g, ""));
      expect(pems, `the ${store} CA store`).not.toContain(caFingerprint);
    }
    // Only the trusting client's requests reached the server.
    expect(simulator.requests).toHaveLength(1);
  });
});

describe("certificates the client refuses", () => {
  type Case = {
    name: string;
    server: () => DevCertificates["server"];
    code: RegExp;
    says: RegExp;
  };
  const cases: Case[] = [
    {
      name: "signed by another CA",
      server: () => fixtures.otherCa.server,
      // Both CAs carry the same subject name, so OpenSSL finds the trusted one and the signature
      // check fails; a CA with another name gives UNABLE_TO_VERIFY_LEAF_SIGNATURE.
      code: /CERT_SIGNATURE_FAILURE|UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
      says: /not trusted/,
    },
    {
      name: "expired",
      server: () => fixtures.expired.server,
      code: /CERT_HAS_EXPIRED/,
      says: /EXPIRED/i,
    },
    {
      name: "not yet valid",
      server: () => fixtures.notYetValid.server,
      code: /CERT_NOT_YET_VALID/,
      says: /NOT_YET_VALID/i,
    },
    {
      name: "for another host (SAN cuc.example.com)",
      server: () => fixtures.wrongHost.server,
      code: /ERR_TLS_CERT_ALTNAME_INVALID/,
      says: /does not name this host/,
    },
  ];

  it.each(cases)("refuses a certificate $name with kind tls, saying which", async (test) => {
    const simulator = await simulatorWith(test.server());
    const cupi = client({ baseUrl: simulator.url, caCertificate: fixtures.trusted.ca.cert });
    const error = await failure(cupi.getUser("6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c01"));
    expect(error).toMatchObject({
      kind: "tls",
      retryable: false,
      attempts: 1,
      mayHaveTakenEffect: false,
    });
    expect(error.message).toMatch(test.code);
    expect(error.message).toMatch(test.says);
    expect(error.message).not.toContain(SERVICE_PASSWORD);
    // The handshake failed before any HTTP request (and its Authorization header) was sent.
    expect(simulator.requests).toHaveLength(0);
    expect(simulator.stats.requests).toBe(0);
  });

  it("gives each refusal its own message", async () => {
    const messages = new Set<string>();
    for (const test of cases) {
      const simulator = await simulatorWith(test.server());
      const cupi = client({ baseUrl: simulator.url, caCertificate: fixtures.trusted.ca.cert });
      messages.add((await failure(cupi.version())).message);
    }
    expect(messages.size).toBe(cases.length);
  });

  // An expired or not-yet-valid certificate needs renewing or a clock fixed, not another CA.
  it.each([
    ["expired", () => fixtures.expired.server, /has expired/],
    ["not yet valid", () => fixtures.notYetValid.server, /is not yet valid/],
  ] as const)(
    "says in words that a certificate is %s, without blaming the CA",
    async (_name, server, says) => {
      const simulator = await simulatorWith(server());
      const cupi = client({ baseUrl: simulator.url, caCertificate: fixtures.trusted.ca.cert });
      const { message } = await failure(cupi.version());
      expect(message).toMatch(says);
      expect(message).not.toMatch(/trust its CA/);
    },
  );

  it("keeps checking certificates when allowInsecureHttp is set for an https:// URL", async () => {
    const simulator = await simulatorWith(fixtures.trusted.server);
    const cupi = client({ baseUrl: simulator.url, allowInsecureHttp: true });
    expect(await failure(cupi.version())).toMatchObject({ kind: "tls", attempts: 1 });
    const wrongHost = await simulatorWith(fixtures.wrongHost.server);
    const lenient = client({
      baseUrl: wrongHost.url,
      allowInsecureHttp: true,
      caCertificate: fixtures.trusted.ca.cert,
    });
    expect((await failure(lenient.version())).message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(simulator.requests).toHaveLength(0);
    expect(wrongHost.requests).toHaveLength(0);
  });
});

describe("plain http://", () => {
  it("is refused before anything is sent unless allowInsecureHttp is set", async () => {
    const plain = await simulatorWith(undefined);
    expect(plain.url).toMatch(/^http:\/\//);
    for (const baseUrl of [plain.url, plain.url.replace("http://", "HTTP://")]) {
      expect(() => new CupiClient({ baseUrl, account: ACCOUNT })).toThrow(
        /must use https:\/\/.*allowInsecureHttp/,
      );
      expect(() => new CupiClient({ baseUrl, account: ACCOUNT, allowInsecureHttp: false })).toThrow(
        /must use https/,
      );
    }
    expect(plain.stats.requests).toBe(0);

    const allowed = client({ baseUrl: plain.url, allowInsecureHttp: true });
    await expect(allowed.version()).resolves.toMatch(/^\d+\.\d+/);
    expect(plain.stats.requests).toBe(1);
  });

  it("is not what an https:// client falls back to when the server speaks only HTTP", async () => {
    const plain = await simulatorWith(undefined);
    const cupi = client({
      baseUrl: plain.url.replace("http://", "https://"),
      caCertificate: fixtures.trusted.ca.cert,
    });
    const error = await failure(cupi.version());
    expect(error).toMatchObject({ kind: "tls", retryable: false, attempts: 1 });
    expect(error.message).toMatch(/TLS handshake failed/);
    expect(plain.stats.requests).toBe(0);
  });
});

describe("redirects", () => {
  let redirecting: Server;
  let redirectingUrl: string;
  let target: CupiSimulator;
  let location = "";
  let status = 302;

  beforeAll(async () => {
    // Another host: `localhost` rather than 127.0.0.1, with a certificate valid for it, so only
    // the client's refusal to follow redirects keeps the request from arriving.
    target = await simulatorWith(fixtures.trusted.server);
    redirecting = createServer(fixtures.trusted.server, (request, response) => {
      request.resume();
      response.writeHead(status, { location }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, "127.0.0.1", resolve));
    redirectingUrl = `https://127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    redirecting?.closeAllConnections();
    await new Promise((resolve) => redirecting?.close(resolve));
  });

  it.each([301, 302, 303, 307, 308])(
    "refuses a %i to another host and does not follow it",
    async (redirectStatus) => {
      status = redirectStatus;
      location = `${target.url.replace("127.0.0.1", "localhost")}/vmrest/version`;
      // The target itself would answer a client that went there.
      await expect(
        client({
          baseUrl: location.replace("/vmrest/version", ""),
          caCertificate: fixtures.trusted.ca.cert,
        }).version(),
      ).resolves.toMatch(/^\d/);
      target.resetStats();

      const cupi = client({ baseUrl: redirectingUrl, caCertificate: fixtures.trusted.ca.cert });
      const error = await failure(cupi.version());
      expect(error).toMatchObject({
        kind: "client-bug",
        status: redirectStatus,
        retryable: false,
        attempts: 1,
      });
      expect(error.message).toMatch(new RegExp(`refused to follow a ${redirectStatus} redirect`));
      const update = await failure(
        cupi.updateCredential("6c1b3a3e-5f0c-4d8e-9a51-0b9f5a1e2c01", "pin", {
          Credentials: new SecretValue("739164"),
        }),
      );
      expect(update).toMatchObject({ kind: "client-bug", status: redirectStatus });
      expect(target.requests).toHaveLength(0);
      expect(target.stats.requests).toBe(0);
    },
  );
});

describe("no code path switches certificate checks off", () => {
  const SCANNED = ["lib", "functions", "dev", "bin", ".ci", "serverless.yml", "package.json"];
  const SKIPPED_DIRECTORIES = new Set(["node_modules", ".git", ".serverless", ".esbuild"]);
  const TEXT_FILE = /\.(?:[cm]?[jt]s|json|ya?ml|sh|env)$|^[^.]+$/;

  /** What would turn certificate or host checks off, or widen the process's trust. */
  const FORBIDDEN: ReadonlyArray<[string, RegExp]> = [
    // Any value but a literal `true` (false, 0, a variable that might be false).
    ["rejectUnauthorized other than true", /rejectUnauthorized['"]?\s*[:=](?!\s*true\b)/],
    ["NODE_TLS_REJECT_UNAUTHORIZED", /NODE_TLS_REJECT_UNAUTHORIZED/],
    ["a checkServerIdentity override", /checkServerIdentity/],
    ["a process-wide CA change", /setDefaultCACertificates/],
  ];

  function violations(text: string): string[] {
    return FORBIDDEN.filter(([, pattern]) => pattern.test(text)).map(([name]) => name);
  }

  async function filesUnder(path: string): Promise<string[]> {
    const absolute = join(REPO, path);
    const entries = await readdir(absolute, { withFileTypes: true }).catch(() => undefined);
    if (entries === undefined) return [absolute];
    const nested = await Promise.all(
      entries
        .filter((entry) => !SKIPPED_DIRECTORIES.has(entry.name))
        .map((entry) =>
          entry.isDirectory()
            ? filesUnder(join(path, entry.name))
            : Promise.resolve(TEXT_FILE.test(entry.name) ? [join(absolute, entry.name)] : []),
        ),
    );
    return nested.flat();
  }

  it("recognises each forbidden pattern (the scanner's own check)", () => {
    expect(violations("connect: { rejectUnauthorized: false }")).toHaveLength(1);
    expect(violations('{ "rejectUnauthorized" : 0 }')).toHaveLength(1);
    expect(violations("options.rejectUnauthorized = insecure;")).toHaveLength(1);
    expect(violations("process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'")).toHaveLength(1);
    expect(violations("NODE_TLS_REJECT_UNAUTHORIZED: 0")).toHaveLength(1);
    expect(violations("{ checkServerIdentity: () => undefined }")).toHaveLength(1);
    expect(violations("tls.setDefaultCACertificates([pem])")).toHaveLength(1);
    expect(violations("connect: { rejectUnauthorized: true, ca }")).toEqual([]);
  });

  it("finds none in lib/, functions/, dev/, bin/, .ci/ or the deployment files", async () => {
    const files = (await Promise.all(SCANNED.map(filesUnder))).flat();
    const scanned = files.map((file) => relative(REPO, file));
    // The scan really covers the code: the transport that configures TLS, both entry points.
    expect(scanned).toEqual(
      expect.arrayContaining([
        "lib/cupi/transport.ts",
        "functions/reset.ts",
        "functions/replay.ts",
        "dev/tls.ts",
        "bin/cupi-reset.ts",
        "serverless.yml",
      ]),
    );
    expect(scanned.some((file) => file.startsWith("test/"))).toBe(false);
    const found: Record<string, string[]> = {};
    for (const file of files) {
      const hits = violations(await readFile(file, "utf8"));
      if (hits.length > 0) found[relative(REPO, file)] = hits;
    }
    expect(found).toEqual({});
    // The one TLS option the code does set is the safe one.
    expect(await readFile(join(REPO, "lib/cupi/transport.ts"), "utf8")).toMatch(
      /rejectUnauthorized: true/,
    );
  });
});
