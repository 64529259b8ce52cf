import { describe, expect, it } from "vitest";
import { detectFormat, parseErrorBody } from "../../lib/cupi/body.ts";
import {
  parseAlternateExtensions,
  parseAuthenticationRule,
  parseCredential,
  parseUser,
  parseUserList,
  UnexpectedBodyError,
} from "../../lib/cupi/entities.ts";

const JSMITH_ID = "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
const MROSSI_ID = "2f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";

describe("parseErrorBody", () => {
  it("reads ErrorDetails XML", () => {
    const body =
      "<ErrorDetails><errors><code>INVALID_PARAMETER</code><message>Trivial passwords or PINs are not allowed: PIN matches extension</message></errors></ErrorDetails>";
    expect(parseErrorBody(body)).toEqual({
      code: "INVALID_PARAMETER",
      message: "Trivial passwords or PINs are not allowed: PIN matches extension",
    });
  });

  it("reads several ErrorDetails errors and unescapes entities", () => {
    const body =
      '<?xml version="1.0"?><ErrorDetails><errors><code>A</code><message>x &lt; 6</message></errors><errors><code>B</code><message>second</message></errors></ErrorDetails>';
    expect(parseErrorBody(body)).toEqual({ code: "A", message: "x < 6; second" });
  });

  it("reads JSON errors as an object and as an array", () => {
    expect(parseErrorBody('{"errors":{"code":"NOT_FOUND","message":"No user"}}')).toEqual({
      code: "NOT_FOUND",
      message: "No user",
    });
    expect(
      parseErrorBody('{"errors":[{"code":"E1","message":"one"},{"code":"E2","message":"two"}]}'),
    ).toEqual({ code: "E1", message: "one; two" });
  });

  it("reads a Tomcat HTML error page", () => {
    const html = `<!doctype html><html lang="en"><head><title>HTTP Status 500 – Internal Server Error</title></head>
      <body><h1>HTTP Status 500 – Internal Server Error</h1><hr class="line" />
      <p><b>Type</b> Exception Report</p><p><b>Message</b> Request processing failed &amp; stopped</p></body></html>`;
    expect(parseErrorBody(html)).toEqual({
      code: undefined,
      message: "HTTP Status 500 – Internal Server Error: Request processing failed & stopped",
    });
  });

  it("reads an old-style Tomcat page and raw text, and clips long bodies", () => {
    const oldTomcat =
      "<html><head><title>Apache Tomcat/7.0 - Error report</title></head><body><h1>HTTP Status 401 - </h1><p><b>message</b> <u>Bad credentials</u></p></body></html>";
    expect(parseErrorBody(oldTomcat).message).toBe("HTTP Status 401: Bad credentials");
    expect(parseErrorBody("  Server   busy\n").message).toBe("Server busy");
    expect(parseErrorBody("x".repeat(1000)).message).toHaveLength(300);
    expect(parseErrorBody("")).toEqual({ code: undefined, message: undefined });
  });

  it("falls back to the text of unexpected XML and JSON", () => {
    expect(parseErrorBody("<Fault><reason>Oops</reason></Fault>").message).toBe("Oops");
    expect(parseErrorBody('{"unexpected":true}').message).toBe('{"unexpected":true}');
  });
});

describe("detectFormat", () => {
  it("looks at the content, not the label", () => {
    expect(detectFormat(' {"a":1}')).toBe("json");
    expect(detectFormat("<Users/>")).toBe("xml");
    expect(detectFormat("<!DOCTYPE html><html></html>")).toBe("html");
    expect(detectFormat('<?xml version="1.0"?>\n<html><body/></html>')).toBe("html");
    expect(detectFormat("Server busy")).toBe("text");
  });
});

const userXml = (id: string, alias: string, extra = "") =>
  `<User><URI>/vmrest/users/${id}</URI><ObjectId>${id}</ObjectId><Alias>${alias}</Alias><FirstName>John</FirstName><LastName>Smith</LastName><DtmfAccessId>1001</DtmfAccessId>${extra}</User>`;

describe("parseUserList", () => {
  it("reads the XML list with its total", () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?><Users total="2">${userXml(JSMITH_ID, "jsmith")}${userXml(MROSSI_ID, "mrossi", "<LdapType>3</LdapType>")}</Users>`;
    const list = parseUserList(body);
    expect(list.total).toBe(2);
    expect(list.users.map((user) => [user.alias, user.ldapIntegrated])).toEqual([
      ["jsmith", false],
      ["mrossi", true],
    ]);
    // Without LdapType, not-integrated is a guess, and says so (offboarding reads the user).
    expect(list.users[0]).toEqual({
      objectId: JSMITH_ID,
      alias: "jsmith",
      dtmfAccessId: "1001",
      firstName: "John",
      lastName: "Smith",
      ldapIntegrated: false,
      ldapTypeMissing: true,
    });
    expect(list.users[1]?.ldapTypeMissing).toBeUndefined();
  });

  it("reads a one-user XML list and an empty one", () => {
    expect(
      parseUserList(`<Users total="1">${userXml(JSMITH_ID, "jsmith")}</Users>`).users,
    ).toHaveLength(1);
    expect(parseUserList('<Users total="0"/>')).toEqual({ total: 0, users: [] });
  });

  it("reads the JSON list in all three shapes: array, single object, absent", () => {
    const jsmith = { ObjectId: JSMITH_ID, Alias: "jsmith", DtmfAccessId: "1001", LdapType: "0" };
    const mrossi = { ObjectId: MROSSI_ID, Alias: "mrossi" };
    const several = parseUserList(JSON.stringify({ "@total": "2", User: [jsmith, mrossi] }));
    expect(several.users.map((user) => user.alias)).toEqual(["jsmith", "mrossi"]);
    const single = parseUserList(JSON.stringify({ "@total": "1", User: jsmith }));
    expect(single).toMatchObject({ total: 1, users: [{ alias: "jsmith", dtmfAccessId: "1001" }] });
    expect(parseUserList('{"@total":"0"}')).toEqual({ total: 0, users: [] });
  });

  it("lowercases objectIds and refuses users without ObjectId or Alias", () => {
    const upper = JSMITH_ID.toUpperCase();
    expect(parseUser(userXml(upper, "jsmith")).objectId).toBe(JSMITH_ID);
    expect(() => parseUser("<User><Alias>x</Alias></User>")).toThrow(UnexpectedBodyError);
    expect(() => parseUserList("Server busy")).toThrow(UnexpectedBodyError);
    expect(() => parseUserList("<Users><User><ObjectId>1</ObjectId></User></Users>")).toThrow(
      /no Alias/,
    );
  });
});

describe("parseAlternateExtensions", () => {
  it("reads XML and all JSON list shapes", () => {
    const xml =
      '<AlternateExtensions total="2"><AlternateExtension><DtmfAccessId>5551001</DtmfAccessId></AlternateExtension><AlternateExtension><DtmfAccessId>+390255512002</DtmfAccessId></AlternateExtension></AlternateExtensions>';
    expect(parseAlternateExtensions(xml)).toEqual(["5551001", "+390255512002"]);
    expect(
      parseAlternateExtensions('{"@total":"1","AlternateExtension":{"DtmfAccessId":"77"}}'),
    ).toEqual(["77"]);
    expect(parseAlternateExtensions('{"@total":"0"}')).toEqual([]);
    expect(parseAlternateExtensions('<AlternateExtensions total="0"/>')).toEqual([]);
  });
});

describe("parseCredential and parseAuthenticationRule", () => {
  it("reads a credential from XML and JSON alike", () => {
    const xml =
      "<Credential><Credentials/><CantChange>false</CantChange><CredMustChange>true</CredMustChange><DoesntExpire>false</DoesntExpire><Locked>true</Locked><Hacked>true</Hacked><HackCount>3</HackCount><TimeHacked>2026-11-27 10:00:00.000</TimeHacked><CredentialPolicyObjectId>9a1c2b3c-4d5e-6f70-8192-a3b4c5d6e7f8</CredentialPolicyObjectId></Credential>";
    const json = JSON.stringify({
      CantChange: "false",
      CredMustChange: "true",
      DoesntExpire: "false",
      Locked: "true",
      Hacked: "true",
      HackCount: "3",
      TimeHacked: "2026-11-27 10:00:00.000",
      CredentialPolicyObjectId: "9a1c2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
    });
    const expected = {
      cantChange: false,
      credMustChange: true,
      doesntExpire: false,
      locked: true,
      hacked: true,
      hackCount: 3,
      timeHacked: "2026-11-27 10:00:00.000",
      credentialPolicyObjectId: "9a1c2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
      timeChanged: undefined,
    };
    expect(parseCredential(xml)).toEqual(expected);
    expect(parseCredential(json)).toEqual(expected);
  });

  it("reads an authentication rule", () => {
    const rule = parseAuthenticationRule(
      "<AuthenticationRule><ObjectId>9a1c2b3c-4d5e-6f70-8192-a3b4c5d6e7f8</ObjectId><MinLength>8</MinLength><PrevCredCount>5</PrevCredCount><TrivialCredChecking>true</TrivialCredChecking><MaxHacks>3</MaxHacks><MaxDays>180</MaxDays><MinDuration>1440</MinDuration></AuthenticationRule>",
    );
    expect(rule).toEqual({
      objectId: "9a1c2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
      minLength: 8,
      prevCredCount: 5,
      trivialCredChecking: true,
      maxHacks: 3,
      maxDays: 180,
      minDuration: 1440,
    });
  });
});
