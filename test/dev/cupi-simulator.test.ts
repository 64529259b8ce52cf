import { readFile } from "node:fs/promises";
import { XMLParser } from "fast-xml-parser";
import { Agent, type Dispatcher, Pool, request } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type CupiSimulator,
  type CupiSimulatorOptions,
  createCupiSimulator,
  DEFAULT_PIN_RULE_ID,
  type SimulatedUser,
} from "../../dev/cupi-simulator/index.ts";
import { createDevCertificates, type DevCertificates } from "../../dev/tls.ts";

const ACCOUNT = { username: "helpdesk", password: "Test-Only-Account-1" };
const BASIC = `Basic ${Buffer.from(`${ACCOUNT.username}:${ACCOUNT.password}`).toString("base64")}`;
const WRONG_BASIC = `Basic ${Buffer.from(`${ACCOUNT.username}:not-the-password`).toString("base64")}`;

const JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";
const LDAP_USER = "7a240271-135d-40a7-9a46-f214ec7586ec";
const ADMIN = "cd6ea232-4087-4d84-a411-bec54b0b4f4f";
const FIRST_DUP = "77b08785-c40c-414d-9483-84e517c24c1b";
const SECOND_DUP = "d40241cc-b70a-4b2e-b73f-08c9521be1fc";
const SYMBOLS = "5f0e7a1c-2b3d-4c5e-8f90-a1b2c3d4e5f6";
const ALTERNATES = "3c9a51d2-6e4f-4b7a-8c1d-2e3f4a5b6c7d";
const UNKNOWN = "00000000-0000-4000-8000-000000000000";
const LENIENT_RULE = "9e8d7c6b-5a49-4382-9170-fedcba987654";
const SEED_PIN = "480916";

const USERS: SimulatedUser[] = [
  {
    objectId: JSMITH,
    alias: "jsmith",
    firstName: "John",
    lastName: "Smith",
    dtmfAccessId: "1001",
    pin: SEED_PIN,
    password: "Kq7#vRt2pLm9",
  },
  {
    objectId: LDAP_USER,
    alias: "lhansen",
    dtmfAccessId: "3003",
    alternateExtensions: ["+4722003003"],
    ldapType: 1,
    pin: "602817",
  },
  { objectId: ADMIN, alias: "cucadmin", roles: ["System Administrator"] },
  { objectId: FIRST_DUP, alias: "dup.user", firstName: "Dana" },
  { objectId: SECOND_DUP, alias: "dup.user", firstName: "Dora" },
  { objectId: SYMBOLS, alias: "sym.user", passwordPolicyObjectId: LENIENT_RULE },
  {
    objectId: ALTERNATES,
    alias: "alt.user",
    dtmfAccessId: "4004",
    alternateExtensions: ["82947", "+1 (408) 555-0173"],
    pin: SEED_PIN,
  },
];

const RULES = [
  {
    objectId: LENIENT_RULE,
    minLength: 1,
    prevCredCount: 5,
    trivialCredChecking: false,
    maxHacks: 3,
    maxDays: 0,
    minDuration: 0,
  },
];

const BASE_OPTIONS: CupiSimulatorOptions = { users: USERS, rules: RULES, account: ACCOUNT };

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface CallOptions {
  method?: "GET" | "PUT";
  accept?: string;
  contentType?: string;
  body?: string;
  /** null sends no Authorization header. */
  authorization?: string | null;
  cookie?: string;
  signal?: AbortSignal;
}

async function call(
  simulator: CupiSimulator,
  dispatcher: Dispatcher,
  path: string,
  options: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  const authorization = options.authorization === undefined ? BASIC : options.authorization;
  if (authorization !== null) headers.authorization = authorization;
  if (options.accept !== undefined) headers.accept = options.accept;
  if (options.contentType !== undefined) headers["content-type"] = options.contentType;
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  const response = await request(`${simulator.url}${path}`, {
    method: options.method ?? "GET",
    headers,
    dispatcher,
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: await response.body.text(),
  };
}

function setCookies(reply: Reply): string[] {
  const header = reply.headers["set-cookie"];
  return header === undefined ? [] : [header].flat();
}

/** The `JSESSIONIDSSO=…` pair to send back, as a client replaying its session would. */
function sessionCookie(reply: Reply): string {
  const cookie = setCookies(reply).find((line) => line.startsWith("JSESSIONIDSSO="));
  if (cookie === undefined) throw new Error("no JSESSIONIDSSO cookie");
  return cookie.split(";")[0] ?? "";
}

function errorOf(reply: Reply): { code: string; message: string } {
  return xml.parse(reply.body).ErrorDetails.errors;
}

function credentialXml(fields: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Credential>${fields}</Credential>`;
}

function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

let certificates: DevCertificates;
let agent: Agent;

beforeAll(async () => {
  certificates = await createDevCertificates();
  agent = new Agent({ connect: { ca: certificates.ca.cert } });
});

afterAll(async () => {
  await agent.close();
});

describe("CUPI simulator over HTTPS", () => {
  let simulator: CupiSimulator;
  const get = (path: string, options: CallOptions = {}) => call(simulator, agent, path, options);
  const put = (path: string, body: string, contentType = "application/xml") =>
    call(simulator, agent, path, { method: "PUT", body, contentType });
  const pinOf = (objectId: string) => `/vmrest/users/${objectId}/credential/pin`;
  const passwordOf = (objectId: string) => `/vmrest/users/${objectId}/credential/password`;

  beforeEach(async () => {
    simulator = await createCupiSimulator({ ...BASE_OPTIONS, tls: certificates.server });
  });

  afterEach(async () => {
    await simulator.close();
  });

  it("serves the version in XML and JSON to a client that trusts the dev CA", async () => {
    expect(simulator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const asXml = await get("/vmrest/version");
    expect(asXml.status).toBe(200);
    expect(asXml.headers["content-type"]).toContain("application/xml");
    expect(asXml.body).toContain("<VersionInfo><version>15.0.1.10000-10</version></VersionInfo>");
    const asJson = await get("/vmrest/version", { accept: "application/json" });
    expect(JSON.parse(asJson.body)).toEqual({ version: "15.0.1.10000-10" });
  });

  it("is refused by a client that does not trust the dev CA", async () => {
    const untrusting = new Agent();
    try {
      await expect(call(simulator, untrusting, "/vmrest/version")).rejects.toMatchObject({
        code: expect.stringMatching(/CERT|SIGNATURE|ISSUER/),
      });
    } finally {
      await untrusting.close();
    }
  });

  it("counts TLS handshakes: one per connection, not per request", async () => {
    // One connection each, as the CUPI client's pool: a bare Agent may open a second one for a
    // request sent the moment the previous answer was read.
    const fresh = () =>
      new Pool(simulator.url, { connections: 1, connect: { ca: certificates.ca.cert } });
    const [first, second] = [fresh(), fresh()];
    try {
      expect(simulator.stats.tlsHandshakes).toBe(0);
      for (let i = 0; i < 3; i++) await call(simulator, first, "/vmrest/version");
      expect(simulator.stats.tlsHandshakes).toBe(1);
      await call(simulator, second, "/vmrest/version");
      expect(simulator.stats).toMatchObject({ requests: 4, tlsHandshakes: 2 });
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("finds a user by alias in XML, case-insensitively", async () => {
    const reply = await get("/vmrest/users?query=(alias%20is%20JSMITH)");
    expect(reply.status).toBe(200);
    const users = xml.parse(reply.body).Users;
    expect(users["@total"]).toBe("1");
    expect(users.User.ObjectId).toBe(JSMITH);
    expect(users.User.Alias).toBe("jsmith");
  });

  it("keeps CUPI's JSON list quirks: one user is an object, none has no User key", async () => {
    const json = { accept: "application/json" };
    const one = JSON.parse((await get("/vmrest/users?query=(alias%20is%20jsmith)", json)).body);
    expect(one["@total"]).toBe("1");
    expect(Array.isArray(one.User)).toBe(false);
    expect(one.User).toMatchObject({ ObjectId: JSMITH, Alias: "jsmith", LdapType: "0" });

    const none = await get("/vmrest/users?query=(alias%20is%20nobody)", json);
    expect(none.status).toBe(200);
    expect(JSON.parse(none.body)).toEqual({ "@total": "0" });

    const two = JSON.parse((await get("/vmrest/users?query=(alias%20is%20dup.user)", json)).body);
    expect(two["@total"]).toBe("2");
    expect(two.User.map((user: { ObjectId: string }) => user.ObjectId)).toEqual([
      FIRST_DUP,
      SECOND_DUP,
    ]);
  });

  it("answers zero matches in XML with total 0 and no User", async () => {
    const reply = await get("/vmrest/users?query=(alias%20is%20nobody)");
    expect(reply.status).toBe(200);
    expect(xml.parse(reply.body).Users).toEqual({ "@total": "0" });
  });

  it("matches with startswith and pages from 1", async () => {
    const reply = await get(
      "/vmrest/users?query=(alias%20startswith%20DUP)&rowsPerPage=1&pageNumber=2",
    );
    const users = xml.parse(reply.body).Users;
    expect(users["@total"]).toBe("2");
    expect(users.User.ObjectId).toBe(SECOND_DUP);
  });

  it("answers a malformed query with 400 ErrorDetails", async () => {
    for (const query of [
      "(alias%20equals%20jsmith)",
      "alias%20is%20jsmith",
      "(extension%20is%201)",
    ]) {
      const reply = await get(`/vmrest/users?query=${query}`);
      expect(reply.status, query).toBe(400);
      expect(errorOf(reply).message).toBeTruthy();
    }
    const json = await get("/vmrest/users?query=(alias)", { accept: "application/json" });
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body).errors.code).toBeTruthy();
  });

  it("returns a user by objectId, and 404 ErrorDetails for an unknown one", async () => {
    const reply = await get(`/vmrest/users/${JSMITH}`);
    expect(xml.parse(reply.body).User).toMatchObject({
      ObjectId: JSMITH,
      Alias: "jsmith",
      DtmfAccessId: "1001",
      FirstName: "John",
      LastName: "Smith",
      LdapType: "0",
      UserVoicePinURI: `/vmrest/users/${JSMITH}/credential/pin`,
      UserWebPasswordURI: `/vmrest/users/${JSMITH}/credential/password`,
    });
    const ldap = JSON.parse(
      (await get(`/vmrest/users/${LDAP_USER}`, { accept: "application/json" })).body,
    );
    expect(ldap.LdapType).toBe("1");

    const unknown = await get(`/vmrest/users/${UNKNOWN}`);
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown).code).toBeTruthy();
  });

  it("lists alternate extensions, with CUPI's JSON list quirks", async () => {
    const path = (objectId: string) => `/vmrest/users/${objectId}/alternateextensions`;
    const two = await get(path(ALTERNATES));
    expect(two.status).toBe(200);
    const list = xml.parse(two.body).AlternateExtensions;
    expect(list["@total"]).toBe("2");
    expect(list.AlternateExtension).toEqual([
      { ObjectId: expect.any(String), DtmfAccessId: "82947", IdIndex: "1" },
      { ObjectId: expect.any(String), DtmfAccessId: "+1 (408) 555-0173", IdIndex: "2" },
    ]);
    const objectIds = list.AlternateExtension.map((item: { ObjectId: string }) => item.ObjectId);
    for (const objectId of objectIds) {
      expect(objectId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(new Set(objectIds).size).toBe(2);

    const json = { accept: "application/json" };
    const again = JSON.parse((await get(path(ALTERNATES), json)).body);
    expect(again.AlternateExtension.map((item: { ObjectId: string }) => item.ObjectId)).toEqual(
      objectIds,
    );
    const one = JSON.parse((await get(path(LDAP_USER), json)).body);
    expect(one).toEqual({
      "@total": "1",
      AlternateExtension: {
        ObjectId: expect.any(String),
        DtmfAccessId: "+4722003003",
        IdIndex: "1",
      },
    });
    expect(JSON.parse((await get(path(JSMITH), json)).body)).toEqual({ "@total": "0" });
    expect(xml.parse((await get(path(JSMITH))).body).AlternateExtensions).toEqual({
      "@total": "0",
    });

    const unknown = await get(path(UNKNOWN));
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown).code).toBe("NOT_FOUND");
  });

  it("rejects a PIN containing or lifted from an alternate extension as trivial", async () => {
    const updatesBefore = simulator.stats.updates;
    for (const pin of ["829470", "550173"]) {
      const reply = await put(
        pinOf(ALTERNATES),
        credentialXml(`<Credentials>${pin}</Credentials>`),
      );
      expect(reply.status, pin).toBe(400);
      expect(errorOf(reply).message).toMatch(
        /^Trivial passwords or PINs are not allowed: .*extension/,
      );
    }
    expect(simulator.credentialOf(ALTERNATES, "pin")).toMatchObject({
      value: SEED_PIN,
      changes: 0,
    });
    // The same PIN suits a user without that alternate extension.
    const control = await put(pinOf(JSMITH), credentialXml("<Credentials>829470</Credentials>"));
    expect(control.status).toBe(204);
    // Only the PUT CUC took counts as an update.
    expect(simulator.stats.updates - updatesBefore).toBe(1);
  });

  it("describes a credential without revealing it", async () => {
    const reply = await get(pinOf(JSMITH));
    expect(reply.status).toBe(200);
    expect(reply.body).not.toContain(SEED_PIN);
    expect(xml.parse(reply.body).Credential).toMatchObject({
      Credentials: "",
      CantChange: "false",
      CredMustChange: "false",
      DoesntExpire: "false",
      Locked: "false",
      Hacked: "false",
      HackCount: "0",
      TimeHacked: "",
      CredentialPolicyObjectId: DEFAULT_PIN_RULE_ID,
      TimeChanged: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/),
    });
  });

  it("serves authentication rules", async () => {
    const rule = xml.parse((await get(`/vmrest/authenticationrules/${DEFAULT_PIN_RULE_ID}`)).body);
    expect(rule.AuthenticationRule).toMatchObject({
      ObjectId: DEFAULT_PIN_RULE_ID,
      MinLength: "6",
      PrevCredCount: "5",
      TrivialCredChecking: "true",
    });
    expect((await get(`/vmrest/authenticationrules/${UNKNOWN}`)).status).toBe(404);
  });

  it("answers 404 ErrorDetails to an unknown path", async () => {
    const reply = await get("/vmrest/mailboxes");
    expect(reply.status).toBe(404);
    expect(errorOf(reply).code).toBeTruthy();
  });

  it("refuses a PUT without Content-Type with 415", async () => {
    const reply = await call(simulator, agent, pinOf(JSMITH), {
      method: "PUT",
      body: credentialXml("<Credentials>739215</Credentials>"),
    });
    expect(reply.status).toBe(415);
    expect(simulator.requests.at(-1)?.contentType).toBeUndefined();
    expect(simulator.credentialOf(JSMITH, "pin").value).toBe(SEED_PIN);
  });

  it("resets a PIN with an XML PUT, answering 204", async () => {
    const reply = await put(pinOf(JSMITH), credentialXml("<Credentials>739215</Credentials>"));
    expect(reply.status).toBe(204);
    expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({
      value: "739215",
      changes: 1,
      history: 2,
    });
    // The password is a separate resource.
    expect(simulator.credentialOf(JSMITH, "password").changes).toBe(0);
  });

  it("applies a JSON PUT as a partial update, ignoring unknown fields", async () => {
    const body = JSON.stringify({ Credentials: "508173", CredMustChange: "true", Unknown: "x" });
    expect((await put(pinOf(JSMITH), body, "application/json")).status).toBe(204);
    expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({
      value: "508173",
      CredMustChange: true,
      CantChange: false,
    });
  });

  it("rejects too short, trivial and repeated PINs with 400, never echoing them", async () => {
    const cases = [
      { pin: "73921", message: /at least 6/ },
      { pin: "123456", message: /^Trivial passwords or PINs are not allowed: ./ },
      { pin: SEED_PIN, message: /^Repeat credentials prohibited by credential policy$/ },
    ];
    for (const { pin, message } of cases) {
      const reply = await put(pinOf(JSMITH), credentialXml(`<Credentials>${pin}</Credentials>`));
      expect(reply.status, pin).toBe(400);
      expect(errorOf(reply).message).toMatch(message);
      expect(reply.body).not.toContain(pin);
    }
    expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({ value: SEED_PIN, changes: 0 });
  });

  it("forgets credentials older than PrevCredCount", async () => {
    for (const pin of ["739215", "508173", "264810", "630952", "817394"]) {
      const reply = await put(pinOf(JSMITH), credentialXml(`<Credentials>${pin}</Credentials>`));
      expect(reply.status, pin).toBe(204);
    }
    const reused = await put(
      pinOf(JSMITH),
      credentialXml(`<Credentials>${SEED_PIN}</Credentials>`),
    );
    expect(reused.status).toBe(204);
    expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({ history: 5, changes: 6 });
  });

  it("applies the rule's MinLength, not a stricter one", async () => {
    // 10 characters: enough for the default rule's MinLength of 8.
    const reply = await put(
      passwordOf(JSMITH),
      credentialXml("<Credentials>Wq8!mZp4Ls</Credentials>"),
    );
    expect(reply.status).toBe(204);
    expect(simulator.credentialOf(JSMITH, "password").value).toBe("Wq8!mZp4Ls");
  });

  it("refuses a cleartext credential sent with an EncryptionType", async () => {
    const reply = await put(
      pinOf(JSMITH),
      credentialXml("<Credentials>739215</Credentials><EncryptionType>4</EncryptionType>"),
    );
    expect(reply.status).toBe(400);
    expect(errorOf(reply).message).toBe("Invalid Credential");
    expect(simulator.credentialOf(JSMITH, "pin").value).toBe(SEED_PIN);
  });

  it("answers 403 Not Authorized for a user holding administrator roles", async () => {
    const reply = await put(pinOf(ADMIN), credentialXml("<Credentials>739215</Credentials>"));
    expect(reply.status).toBe(403);
    expect(errorOf(reply).message).toBe("Not Authorized");
    expect(simulator.credentialOf(ADMIN, "pin").changes).toBe(0);
  });

  it("refuses a web password for an LDAP user but resets their PIN", async () => {
    const password = await put(
      passwordOf(LDAP_USER),
      credentialXml("<Credentials>Wq8!mZp4Ls</Credentials>"),
    );
    expect(password.status).toBe(400);
    expect(simulator.credentialOf(LDAP_USER, "password").changes).toBe(0);
    const pin = await put(pinOf(LDAP_USER), credentialXml("<Credentials>739215</Credentials>"));
    expect(pin.status).toBe(204);
  });

  it("unlocks with HackCount 0, an empty TimeHacked and Locked false", async () => {
    simulator.setHackedState(JSMITH, "pin", {
      hackCount: 5,
      timeHacked: "2026-01-02 03:04:05.678",
      locked: true,
    });
    const locked = xml.parse((await get(pinOf(JSMITH))).body).Credential;
    expect(locked).toMatchObject({ Hacked: "true", HackCount: "5", Locked: "true" });

    const reply = await put(
      pinOf(JSMITH),
      credentialXml("<HackCount>0</HackCount><TimeHacked></TimeHacked><Locked>false</Locked>"),
    );
    expect(reply.status).toBe(204);
    expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({
      HackCount: 0,
      TimeHacked: "",
      Locked: false,
      value: SEED_PIN,
      changes: 0,
    });
    expect(xml.parse((await get(pinOf(JSMITH))).body).Credential.Hacked).toBe("false");
  });

  it("round-trips XML special characters exactly, up to 256 characters", async () => {
    // Leading and trailing spaces too: nothing may be trimmed.
    const tricky = ` <&>"' ]]> &amp; `;
    const longest = tricky + "x".repeat(256 - tricky.length);
    expect(
      (
        await put(
          passwordOf(SYMBOLS),
          credentialXml(`<Credentials>${escapeXml(longest)}</Credentials>`),
        )
      ).status,
    ).toBe(204);
    expect(simulator.credentialOf(SYMBOLS, "password").value).toBe(longest);

    // CDATA (split around "]]>") and numeric character references mean the same text.
    const cdata = "<Credentials><![CDATA[a<&]]]]><![CDATA[>b]]>&#60;&#x27;</Credentials>";
    expect((await put(passwordOf(SYMBOLS), credentialXml(cdata))).status).toBe(204);
    expect(simulator.credentialOf(SYMBOLS, "password").value).toBe("a<&]]>b<'");

    const json = JSON.stringify({ Credentials: tricky });
    expect((await put(passwordOf(SYMBOLS), json, "application/json")).status).toBe(204);
    expect(simulator.credentialOf(SYMBOLS, "password").value).toBe(tricky);

    const tooLong = `${longest}y`;
    const refused = await put(
      passwordOf(SYMBOLS),
      credentialXml(`<Credentials>${escapeXml(tooLong)}</Credentials>`),
    );
    expect(refused.status).toBe(400);
    expect(refused.body).not.toContain("xxxxxxxx");
  });

  it("answers a Tomcat HTML 401 without or with a wrong Basic header", async () => {
    for (const authorization of [null, WRONG_BASIC, "Bearer token"]) {
      const reply = await get("/vmrest/version", { authorization });
      expect(reply.status).toBe(401);
      expect(reply.headers["content-type"]).toContain("text/html");
      expect(reply.body).toContain("HTTP Status 401");
      expect(setCookies(reply)).toEqual([]);
    }
    expect(simulator.stats.freshAuthentications).toBe(0);
  });

  it("spares fresh authentications for requests that replay the session cookie", async () => {
    const first = await get("/vmrest/version");
    const cookies = setCookies(first);
    expect(cookies.map((line) => line.split("=")[0])).toEqual([
      "JSESSIONIDSSO",
      "JSESSIONID",
      "REQUEST_TOKEN_KEY",
    ]);
    for (const line of cookies) expect(line).toMatch(/; Path=\/vmrest; Secure; HttpOnly$/);

    const cookie = sessionCookie(first);
    for (let index = 0; index < 4; index++) {
      const replay = await get(`/vmrest/users/${JSMITH}`, { cookie });
      expect(replay.status).toBe(200);
      expect(setCookies(replay)).toEqual([]);
    }
    expect(simulator.stats.freshAuthentications).toBe(1);

    expect((await get("/vmrest/version", { cookie, authorization: WRONG_BASIC })).status).toBe(401);
    expect((await get("/vmrest/version", { cookie, authorization: null })).status).toBe(200);
    expect((await get("/vmrest/version")).status).toBe(200);
    expect(simulator.stats.freshAuthentications).toBe(2);
  });

  it("treats cookies issued before invalidateSessions as stale", async () => {
    const cookie = sessionCookie(await get("/vmrest/version"));
    simulator.invalidateSessions();
    expect((await get("/vmrest/version", { cookie, authorization: null })).status).toBe(401);
    const renewed = await get("/vmrest/version", { cookie });
    expect(renewed.status).toBe(200);
    expect(simulator.stats.freshAuthentications).toBe(2);
    expect(sessionCookie(renewed)).not.toBe(cookie);
  });

  it("answers a stale cookie with 401 under staleSessionPolicy reject, even with valid Basic", async () => {
    const strict = await createCupiSimulator({
      ...BASE_OPTIONS,
      tls: certificates.server,
      staleSessionPolicy: "reject",
    });
    try {
      const cookie = sessionCookie(await call(strict, agent, "/vmrest/version"));
      expect((await call(strict, agent, "/vmrest/version", { cookie })).status).toBe(200);
      strict.invalidateSessions();

      const refused = await call(strict, agent, "/vmrest/version", { cookie });
      expect(refused.status).toBe(401);
      expect(refused.headers["content-type"]).toContain("text/html");
      expect(refused.body).toContain("HTTP Status 401");
      expect(setCookies(refused)).toEqual([]);

      // The client drops its cookies and resends with Basic only.
      const renewed = await call(strict, agent, "/vmrest/version");
      expect(renewed.status).toBe(200);
      const fresh = sessionCookie(renewed);
      expect(fresh).not.toBe(cookie);
      expect((await call(strict, agent, "/vmrest/version", { cookie: fresh })).status).toBe(200);
      expect(strict.stats.freshAuthentications).toBe(2);
    } finally {
      await strict.close();
    }
  });

  it.each([
    { policy: "reauthenticate", status: 200, freshAuthentications: 2 },
    { policy: "reject", status: 401, freshAuthentications: 1 },
  ] as const)(
    "answers an expired cookie with valid Basic $status under staleSessionPolicy $policy",
    async ({ policy, status, freshAuthentications }) => {
      const shortLived = await createCupiSimulator({
        ...BASE_OPTIONS,
        tls: certificates.server,
        sessionTtlMs: 50,
        staleSessionPolicy: policy,
      });
      try {
        const cookie = sessionCookie(await call(shortLived, agent, "/vmrest/version"));
        await new Promise((resolve) => setTimeout(resolve, 80));
        expect((await call(shortLived, agent, "/vmrest/version", { cookie })).status).toBe(status);
        expect(shortLived.stats.freshAuthentications).toBe(freshAuthentications);
      } finally {
        await shortLived.close();
      }
    },
  );

  it("records requests without the Authorization value", async () => {
    const cookie = sessionCookie(await get("/vmrest/users?query=(alias%20is%20jsmith)"));
    await get("/vmrest/version", { cookie, accept: "application/json" });
    await put(pinOf(JSMITH), credentialXml("<Credentials>739215</Credentials>"));
    expect(simulator.requests).toEqual([
      {
        method: "GET",
        path: "/vmrest/users",
        query: { query: "(alias is jsmith)" },
        hasBasicAuth: true,
        cookieNames: [],
        contentType: undefined,
        accept: undefined,
      },
      {
        method: "GET",
        path: "/vmrest/version",
        query: {},
        hasBasicAuth: true,
        cookieNames: ["JSESSIONIDSSO"],
        contentType: undefined,
        accept: "application/json",
      },
      expect.objectContaining({ method: "PUT", contentType: "application/xml" }),
    ]);
    const recorded = JSON.stringify(simulator.requests);
    expect(recorded).not.toContain(BASIC.slice("Basic ".length));
    expect(recorded).not.toContain(ACCOUNT.password);
    expect(recorded).not.toContain("739215");
    expect(simulator.stats.requests).toBe(3);

    simulator.injectFaults("503");
    simulator.resetStats();
    expect(simulator.requests).toEqual([]);
    expect(simulator.stats.requests).toBe(0);
    // Faults injected for one test do not leak into the next.
    expect((await get("/vmrest/version")).status).toBe(200);
  });

  it("expires idle sessions after sessionTtlMs", async () => {
    const shortLived = await createCupiSimulator({
      ...BASE_OPTIONS,
      tls: certificates.server,
      sessionTtlMs: 50,
    });
    try {
      const cookie = sessionCookie(await call(shortLived, agent, "/vmrest/version"));
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect((await call(shortLived, agent, "/vmrest/version", { cookie })).status).toBe(200);
      expect(shortLived.stats.freshAuthentications).toBe(2);
    } finally {
      await shortLived.close();
    }
  });
});

describe("CUPI simulator load and faults (HTTP)", () => {
  const simulators: CupiSimulator[] = [];
  const start = async (options: Partial<CupiSimulatorOptions> = {}) => {
    const simulator = await createCupiSimulator({ ...BASE_OPTIONS, ...options });
    simulators.push(simulator);
    return simulator;
  };

  afterEach(async () => {
    await Promise.all(simulators.splice(0).map((simulator) => simulator.close()));
  });

  it("serves plain HTTP without Secure cookies when no TLS is given", async () => {
    const simulator = await start();
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const reply = await call(simulator, agent, "/vmrest/version");
    expect(reply.status).toBe(200);
    for (const line of setCookies(reply)) expect(line).not.toContain("Secure");
  });

  it("adds latency drawn from the configured range", async () => {
    const simulator = await start({ latencyMs: { min: 120, max: 160 } });
    const started = performance.now();
    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it("answers 503 Server busy beyond 5 requests at once, never serving more", async () => {
    const simulator = await start({ latencyMs: 300 });
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => call(simulator, agent, "/vmrest/version")),
    );
    const statuses = replies.map((reply) => reply.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 503, 503, 503]);
    for (const reply of replies.filter((candidate) => candidate.status === 503)) {
      expect(errorOf(reply).message).toBe("Server busy");
    }
    expect(simulator.stats).toMatchObject({ requests: 8, throttled: 3, peakConcurrency: 5 });
    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
  });

  it("refuses connections during an outage and serves again on the same address after it", async () => {
    const simulator = await start();
    const url = simulator.url;
    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
    await simulator.startOutage();
    await expect(call(simulator, agent, "/vmrest/version")).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    await simulator.endOutage();
    expect(simulator.url).toBe(url);
    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
  });

  it("consumes injected faults in order, one per request", async () => {
    const simulator = await start();
    simulator.injectFaults("503", "500-html", "drop", { kind: "slow", delayMs: 200 });

    const busy = await call(simulator, agent, "/vmrest/version");
    expect(busy.status).toBe(503);
    expect(errorOf(busy).message).toBe("Server busy");

    const html = await call(simulator, agent, "/vmrest/version");
    expect(html.status).toBe(500);
    expect(html.headers["content-type"]).toContain("text/html");
    expect(html.body).toContain("HTTP Status 500");

    await expect(call(simulator, agent, "/vmrest/version")).rejects.toThrow();

    const slowStart = performance.now();
    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
    expect(performance.now() - slowStart).toBeGreaterThanOrEqual(190);

    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
    expect(simulator.stats.faults).toEqual({
      "503": 1,
      "500-html": 1,
      drop: 1,
      slow: 1,
      "drop-after-apply": 0,
      "slow-after-apply": 0,
    });
  });

  it("stops a slow response when the client gives up, freeing its slot", async () => {
    const simulator = await start({ maxConcurrent: 1 });
    simulator.injectFaults("slow");
    const abandoned = call(simulator, agent, "/vmrest/version", {
      signal: AbortSignal.timeout(100),
    });
    await expect(abandoned).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
    expect(simulator.stats.throttled).toBe(0);
  });

  it("closes promptly while a slow response is pending", async () => {
    const simulator = await start();
    simulator.injectFaults("slow");
    const pending = call(simulator, agent, "/vmrest/version");
    const outcome = pending.then(
      () => "answered",
      () => "failed",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closeStart = performance.now();
    await simulator.close();
    expect(performance.now() - closeStart).toBeLessThan(1000);
    expect(await outcome).toBe("failed");
  });

  describe("after-apply faults", () => {
    const pinPath = `/vmrest/users/${JSMITH}/credential/pin`;
    const putPin = (simulator: CupiSimulator, pin: string, signal?: AbortSignal) =>
      call(simulator, agent, pinPath, {
        method: "PUT",
        contentType: "application/xml",
        body: credentialXml(`<Credentials>${pin}</Credentials>`),
        ...(signal === undefined ? {} : { signal }),
      });

    it("applies a PUT and then drops the connection without answering", async () => {
      const simulator = await start();
      simulator.injectFaults("drop-after-apply");
      await expect(putPin(simulator, "739215")).rejects.toThrow();
      expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({ value: "739215", changes: 1 });
      expect(simulator.stats.faults["drop-after-apply"]).toBe(1);

      // A blind retry now meets the change it already made.
      const retry = await putPin(simulator, "739215");
      expect(retry.status).toBe(400);
      expect(errorOf(retry).message).toBe("Repeat credentials prohibited by credential policy");
    });

    it("applies a PUT and withholds the answer for delayMs", async () => {
      const simulator = await start();
      simulator.injectFaults({ kind: "slow-after-apply", delayMs: 300 });
      const started = performance.now();
      const pending = putPin(simulator, "739215");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(simulator.credentialOf(JSMITH, "pin")).toMatchObject({ value: "739215", changes: 1 });
      expect((await pending).status).toBe(204);
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect(simulator.stats.faults["slow-after-apply"]).toBe(1);
    });

    it("stops withholding when the client gives up, freeing its slot", async () => {
      const simulator = await start({ maxConcurrent: 1 });
      simulator.injectFaults("slow-after-apply");
      await expect(putPin(simulator, "739215", AbortSignal.timeout(100))).rejects.toThrow();
      expect(simulator.credentialOf(JSMITH, "pin").changes).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await call(simulator, agent, "/vmrest/version")).status).toBe(200);
      expect(simulator.stats.throttled).toBe(0);
    });

    it("closes promptly while an applied answer is withheld", async () => {
      const simulator = await start();
      simulator.injectFaults("slow-after-apply");
      const outcome = putPin(simulator, "739215").then(
        () => "answered",
        () => "failed",
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(simulator.credentialOf(JSMITH, "pin").changes).toBe(1);
      const closeStart = performance.now();
      await simulator.close();
      expect(performance.now() - closeStart).toBeLessThan(1000);
      expect(await outcome).toBe("failed");
    });
  });

  it("draws random faults from the seed, so a seed replays the same run", async () => {
    const run = async () => {
      const simulator = await start({ faultRate: 0.5, faultKinds: ["503", "500-html"], seed: 42 });
      const statuses: number[] = [];
      for (let index = 0; index < 20; index++) {
        statuses.push((await call(simulator, agent, "/vmrest/version")).status);
      }
      const { faults } = simulator.stats;
      expect(faults["503"] + faults["500-html"]).toBe(statuses.filter((s) => s !== 200).length);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain(200);
    expect(first).toContain(503);
    expect(first).toContain(500);
  });

  it("loads the demo seed, which holds an ambiguous alias, an LDAP user and an administrator", async () => {
    const seed: SimulatedUser[] = JSON.parse(
      await readFile(new URL("../../dev/cupi-simulator/users.json", import.meta.url), "utf8"),
    );
    const simulator = await start({ users: seed });
    const duplicates = await call(simulator, agent, "/vmrest/users?query=(alias%20is%20dup.user)");
    expect(xml.parse(duplicates.body).Users["@total"]).toBe("2");
    expect(seed.some((user) => (user.ldapType ?? 0) !== 0)).toBe(true);
    const admin = seed.find((user) => user.alias === "cucadmin");
    const refused = await call(
      simulator,
      agent,
      `/vmrest/users/${admin?.objectId}/credential/pin`,
      {
        method: "PUT",
        contentType: "application/xml",
        body: credentialXml("<Credentials>739215</Credentials>"),
      },
    );
    expect(refused.status).toBe(403);
  });
});
