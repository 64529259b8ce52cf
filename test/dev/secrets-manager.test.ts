import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InternalServiceError,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  PutSecretValueCommand,
  paginateListSecrets,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
  SecretsManagerServiceException,
  UpdateSecretCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type SecretsManagerStandIn,
  startSecretsManagerStandIn,
} from "../../dev/secrets-manager/index.ts";
import { rejectionOf, standInClientConfig, withServiceEndpoint } from "../helpers/aws-stand-ins.ts";

const SERVICE_ACCOUNT = "cupi-reset/cupi-service-account";
const ARN_PATTERN = /^arn:aws:secretsmanager:us-east-1:000000000000:secret:(.+)-[A-Za-z0-9]{6}$/;
/** Unicode beyond the BMP, JSON and XML metacharacters, a newline: all must survive the wire. */
const AWKWARD_PASSWORD = `Pä$$wörd ☃😀 <&>"' \\ \n end`;
const DAY_SECONDS = 86_400;

let standIn: SecretsManagerStandIn;
const clients: SecretsManagerClient[] = [];

function clientOf(config: Partial<SecretsManagerClientConfig> = {}): SecretsManagerClient {
  const client = new SecretsManagerClient({ ...standInClientConfig(standIn.url), ...config });
  clients.push(client);
  return client;
}

function secondsAgo(date: Date | undefined): number {
  if (!(date instanceof Date)) throw new Error(`not a Date: ${String(date)}`);
  return (Date.now() - date.getTime()) / 1000;
}

beforeEach(async () => {
  standIn = await startSecretsManagerStandIn({
    secrets: { [SERVICE_ACCOUNT]: JSON.stringify({ username: "svc", password: "seed-1" }) },
  });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await standIn.close();
});

describe("Secrets Manager stand-in, driven by the real SDK client", () => {
  it("is found through AWS_ENDPOINT_URL_SECRETS_MANAGER, with no endpoint option", async () => {
    await withServiceEndpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", standIn.url, async () => {
      const client = new SecretsManagerClient({ ...standInClientConfig(), maxAttempts: 1 });
      clients.push(client);
      const secret = await client.send(new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT }));
      expect(JSON.parse(secret.SecretString ?? "")).toEqual({
        username: "svc",
        password: "seed-1",
      });
      expect(standIn.requests).toEqual([
        { operation: "GetSecretValue", secretId: SERVICE_ACCOUNT, accessKeyId: "AKIDLOCAL" },
      ]);
    });
  });

  it("round-trips a JSON SecretString with unicode and <&>\"' by name and by ARN", async () => {
    const client = clientOf();
    const value = JSON.stringify({ username: "svc-cupi-reset", password: AWKWARD_PASSWORD });
    const created = await client.send(
      new CreateSecretCommand({ Name: "cupi/prod", SecretString: value, Description: "CUPI" }),
    );
    expect(created.Name).toBe("cupi/prod");
    expect(created.ARN).toMatch(ARN_PATTERN);
    expect(ARN_PATTERN.exec(created.ARN ?? "")?.[1]).toBe("cupi/prod");

    for (const secretId of ["cupi/prod", created.ARN]) {
      const read = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
      expect(read.SecretString).toBe(value);
      expect(JSON.parse(read.SecretString ?? "").password).toBe(AWKWARD_PASSWORD);
      expect(read).toMatchObject({
        ARN: created.ARN,
        Name: "cupi/prod",
        VersionId: created.VersionId,
        VersionStages: ["AWSCURRENT"],
      });
      expect(read.SecretBinary).toBeUndefined();
      expect(secondsAgo(read.CreatedDate)).toBeLessThan(10);
    }
    expect(standIn.secretValue("cupi/prod")).toBe(value);
  });

  it("round-trips a SecretBinary and refuses a value that is both string and binary", async () => {
    const client = clientOf();
    const bytes = new Uint8Array([0, 1, 127, 128, 254, 255]);
    await client.send(new CreateSecretCommand({ Name: "tls/key", SecretBinary: bytes }));
    const read = await client.send(new GetSecretValueCommand({ SecretId: "tls/key" }));
    expect(read.SecretBinary).toEqual(bytes);
    expect(read.SecretString).toBeUndefined();
    expect(standIn.secretValue("tls/key")).toBeUndefined();

    const both = await rejectionOf(
      client.send(
        new CreateSecretCommand({ Name: "both", SecretString: "x", SecretBinary: bytes }),
      ),
    );
    expect(both).toBeInstanceOf(InvalidParameterException);
    expect(standIn.versionsOf("both")).toBe(0);
  });

  it("refuses to create a secret twice, but answers a retried create with the same token", async () => {
    const client = clientOf();
    const token = randomUUID();
    const first = await client.send(
      new CreateSecretCommand({ Name: "once", SecretString: "v1", ClientRequestToken: token }),
    );
    expect(first.VersionId).toBe(token);
    const retried = await client.send(
      new CreateSecretCommand({ Name: "once", SecretString: "v1", ClientRequestToken: token }),
    );
    expect(retried).toMatchObject({ ARN: first.ARN, VersionId: token });

    const again = await rejectionOf(
      client.send(new CreateSecretCommand({ Name: "once", SecretString: "v1" })),
    );
    expect(again).toBeInstanceOf(ResourceExistsException);
    expect(again.$metadata.httpStatusCode).toBe(400);
    expect(standIn.versionsOf("once")).toBe(1);
  });

  it("moves AWSCURRENT and AWSPREVIOUS along two puts", async () => {
    const client = clientOf();
    const created = await client.send(new CreateSecretCommand({ Name: "pin", SecretString: "1" }));
    const second = await client.send(
      new PutSecretValueCommand({ SecretId: "pin", SecretString: "2" }),
    );
    const third = await client.send(
      new PutSecretValueCommand({ SecretId: created.ARN, SecretString: "3" }),
    );
    expect(second.VersionStages).toEqual(["AWSCURRENT"]);
    expect(third).toMatchObject({ ARN: created.ARN, Name: "pin", VersionStages: ["AWSCURRENT"] });
    expect(new Set([created.VersionId, second.VersionId, third.VersionId]).size).toBe(3);

    const current = await client.send(new GetSecretValueCommand({ SecretId: "pin" }));
    expect(current).toMatchObject({ SecretString: "3", VersionId: third.VersionId });
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: "pin", VersionStage: "AWSPREVIOUS" }),
    );
    expect(previous).toMatchObject({ SecretString: "2", VersionStages: ["AWSPREVIOUS"] });
    const oldest = await client.send(
      new GetSecretValueCommand({ SecretId: "pin", VersionId: created.VersionId }),
    );
    expect(oldest).toMatchObject({ SecretString: "1", VersionStages: [] });

    const described = await client.send(new DescribeSecretCommand({ SecretId: "pin" }));
    expect(described.VersionIdsToStages).toEqual({
      [String(second.VersionId)]: ["AWSPREVIOUS"],
      [String(third.VersionId)]: ["AWSCURRENT"],
    });
    expect(standIn.versionsOf("pin")).toBe(3);
    expect(standIn.secretValue("pin")).toBe("3");
  });

  it("makes PutSecretValue idempotent on ClientRequestToken", async () => {
    const client = clientOf();
    const token = randomUUID();
    const put = (value: string) =>
      client.send(
        new PutSecretValueCommand({
          SecretId: SERVICE_ACCOUNT,
          SecretString: value,
          ClientRequestToken: token,
        }),
      );
    const first = await put("rotated");
    const retried = await put("rotated");
    expect(first.VersionId).toBe(token);
    expect(retried.VersionId).toBe(token);
    expect(standIn.versionsOf(SERVICE_ACCOUNT)).toBe(2);

    const changed = await rejectionOf(put("something else"));
    expect(changed).toBeInstanceOf(ResourceExistsException);
    expect(standIn.secretValue(SERVICE_ACCOUNT)).toBe("rotated");
    expect(standIn.versionsOf(SERVICE_ACCOUNT)).toBe(2);

    const short = await rejectionOf(
      client.send(
        new PutSecretValueCommand({
          SecretId: SERVICE_ACCOUNT,
          SecretString: "x",
          ClientRequestToken: "too-short",
        }),
      ),
    );
    expect(short).toBeInstanceOf(InvalidParameterException);
  });

  it("stages a version under the labels asked for, leaving AWSCURRENT where it was", async () => {
    const client = clientOf();
    const pending = await client.send(
      new PutSecretValueCommand({
        SecretId: SERVICE_ACCOUNT,
        SecretString: "next",
        VersionStages: ["AWSPENDING"],
      }),
    );
    expect(pending.VersionStages).toEqual(["AWSPENDING"]);
    expect(standIn.secretValue(SERVICE_ACCOUNT)).toContain("seed-1");
    const read = await client.send(
      new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT, VersionStage: "AWSPENDING" }),
    );
    expect(read).toMatchObject({ SecretString: "next", VersionId: pending.VersionId });
  });

  it("never creates a secret through PutSecretValue", async () => {
    const client = clientOf();
    const error = await rejectionOf(
      client.send(new PutSecretValueCommand({ SecretId: "missing", SecretString: "x" })),
    );
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(standIn.versionsOf("missing")).toBe(0);
    await expect(
      client.send(new DescribeSecretCommand({ SecretId: "missing" })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it("answers unknown secrets, versions and labels with a typed ResourceNotFoundException", async () => {
    const client = clientOf();
    const unknownSecret = await rejectionOf(
      client.send(new GetSecretValueCommand({ SecretId: "no/such/secret" })),
    );
    expect(unknownSecret).toBeInstanceOf(ResourceNotFoundException);
    expect(unknownSecret).toBeInstanceOf(SecretsManagerServiceException);
    expect(unknownSecret).toMatchObject({
      name: "ResourceNotFoundException",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: "Secrets Manager can't find the specified secret.",
    });
    expect(unknownSecret.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const unknownArn = await rejectionOf(
      client.send(
        new GetSecretValueCommand({
          SecretId: "arn:aws:secretsmanager:us-east-1:000000000000:secret:nope-AbCdEf",
        }),
      ),
    );
    expect(unknownArn).toBeInstanceOf(ResourceNotFoundException);
    for (const command of [
      new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT, VersionId: randomUUID() }),
      new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT, VersionStage: "AWSPREVIOUS" }),
    ]) {
      expect(await rejectionOf(client.send(command))).toBeInstanceOf(ResourceNotFoundException);
    }
  });

  it("describes a secret by name and by ARN", async () => {
    const client = clientOf();
    const created = await client.send(
      new CreateSecretCommand({ Name: "described", SecretString: "x", Description: "for tests" }),
    );
    for (const secretId of ["described", created.ARN]) {
      const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
      expect(described).toMatchObject({
        ARN: created.ARN,
        Name: "described",
        Description: "for tests",
        VersionIdsToStages: { [String(created.VersionId)]: ["AWSCURRENT"] },
      });
      expect(secondsAgo(described.CreatedDate)).toBeLessThan(10);
      expect(secondsAgo(described.LastChangedDate)).toBeLessThan(10);
      expect(described.DeletedDate).toBeUndefined();
    }
  });

  it("updates the value (as a new AWSCURRENT version) and the description by ARN", async () => {
    const client = clientOf();
    const { ARN } = await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));
    const updated = await client.send(
      new UpdateSecretCommand({ SecretId: ARN, SecretString: "updated" }),
    );
    expect(updated).toMatchObject({ ARN, Name: SERVICE_ACCOUNT });
    const current = await client.send(new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT }));
    expect(current).toMatchObject({ SecretString: "updated", VersionId: updated.VersionId });
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT, VersionStage: "AWSPREVIOUS" }),
    );
    expect(previous.SecretString).toContain("seed-1");

    const described = await client.send(
      new UpdateSecretCommand({ SecretId: SERVICE_ACCOUNT, Description: "service account" }),
    );
    expect(described.VersionId).toBeUndefined();
    expect(standIn.versionsOf(SERVICE_ACCOUNT)).toBe(2);
    const after = await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));
    expect(after.Description).toBe("service account");
  });

  it("lists secrets, filtered by name prefix, page by page", async () => {
    const client = clientOf();
    for (const name of ["cupi/a", "cupi/b", "cupi/c", "other/d"]) {
      await client.send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    }
    const all = await client.send(new ListSecretsCommand({}));
    expect(all.SecretList?.map((entry) => entry.Name)).toEqual([
      SERVICE_ACCOUNT,
      "cupi/a",
      "cupi/b",
      "cupi/c",
      "other/d",
    ]);
    expect(all.NextToken).toBeUndefined();
    const first = all.SecretList?.[1];
    expect(first?.ARN).toMatch(ARN_PATTERN);
    expect(Object.values(first?.SecretVersionsToStages ?? {})).toEqual([["AWSCURRENT"]]);

    const names: string[] = [];
    const pages = paginateListSecrets(
      { client, pageSize: 2 },
      { Filters: [{ Key: "name", Values: ["cupi/"] }] },
    );
    let pageCount = 0;
    for await (const page of pages) {
      pageCount += 1;
      names.push(...(page.SecretList ?? []).map((entry) => entry.Name ?? ""));
    }
    expect(names).toEqual(["cupi/a", "cupi/b", "cupi/c"]);
    expect(pageCount).toBe(2);

    const caseSensitive = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: "name", Values: ["CUPI/"] }] }),
    );
    expect(caseSensitive.SecretList).toEqual([]);
    const negated = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: "name", Values: ["!cupi"] }] }),
    );
    expect(negated.SecretList?.map((entry) => entry.Name)).toEqual(["other/d"]);

    const unsupported = await rejectionOf(
      client.send(new ListSecretsCommand({ Filters: [{ Key: "tag-key", Values: ["team"] }] })),
    );
    expect(unsupported).toBeInstanceOf(InvalidParameterException);
  });

  it("schedules a deletion: reads refused as marked for deletion, described, hidden from lists", async () => {
    const client = clientOf();
    const deleted = await client.send(
      new DeleteSecretCommand({ SecretId: SERVICE_ACCOUNT, RecoveryWindowInDays: 7 }),
    );
    expect(deleted.Name).toBe(SERVICE_ACCOUNT);
    expect(deleted.ARN).toMatch(ARN_PATTERN);
    expect(-secondsAgo(deleted.DeletionDate) / DAY_SECONDS).toBeCloseTo(7, 2);

    const read = await rejectionOf(
      client.send(new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT })),
    );
    expect(read).toBeInstanceOf(InvalidRequestException);
    expect(read.message).toMatch(/marked for deletion/);
    const refused: Array<() => Promise<unknown>> = [
      () =>
        client.send(new PutSecretValueCommand({ SecretId: SERVICE_ACCOUNT, SecretString: "x" })),
      () => client.send(new UpdateSecretCommand({ SecretId: SERVICE_ACCOUNT, SecretString: "x" })),
      () => client.send(new CreateSecretCommand({ Name: SERVICE_ACCOUNT, SecretString: "x" })),
      () => client.send(new DeleteSecretCommand({ SecretId: SERVICE_ACCOUNT })),
    ];
    for (const call of refused) {
      expect(await rejectionOf(call())).toBeInstanceOf(InvalidRequestException);
    }

    const described = await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));
    expect(secondsAgo(described.DeletedDate)).toBeLessThan(10);
    const listed = await client.send(new ListSecretsCommand({}));
    expect(listed.SecretList).toEqual([]);
    const withDeleted = await client.send(new ListSecretsCommand({ IncludePlannedDeletion: true }));
    expect(withDeleted.SecretList?.map((entry) => entry.Name)).toEqual([SERVICE_ACCOUNT]);
    expect(withDeleted.SecretList?.[0]?.DeletedDate).toBeInstanceOf(Date);
  });

  it("deletes without recovery by ARN, after which the name can be created afresh", async () => {
    const client = clientOf();
    const { ARN } = await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));
    const deleted = await client.send(
      new DeleteSecretCommand({ SecretId: ARN, ForceDeleteWithoutRecovery: true }),
    );
    expect(deleted).toMatchObject({ ARN, Name: SERVICE_ACCOUNT });
    expect(secondsAgo(deleted.DeletionDate)).toBeLessThan(10);
    for (const secretId of [SERVICE_ACCOUNT, ARN]) {
      const read = await rejectionOf(
        client.send(new GetSecretValueCommand({ SecretId: secretId })),
      );
      expect(read).toBeInstanceOf(ResourceNotFoundException);
    }
    expect(standIn.versionsOf(SERVICE_ACCOUNT)).toBe(0);

    const recreated = await client.send(
      new CreateSecretCommand({ Name: SERVICE_ACCOUNT, SecretString: "fresh" }),
    );
    expect(recreated.ARN).toMatch(ARN_PATTERN);
    expect(recreated.ARN).not.toBe(ARN);
  });

  it("fails the next calls of one operation as told, as typed SDK exceptions", async () => {
    const client = clientOf({ maxAttempts: 1 });
    const read = () => client.send(new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT }));
    standIn.failNext("GetSecretValue", "InternalServiceError");
    standIn.failNext("GetSecretValue", "ThrottlingException", 2);
    standIn.failNext("GetSecretValue", "AccessDeniedException");

    // Other operations are not affected.
    await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));

    const internal = await rejectionOf(read());
    expect(internal).toBeInstanceOf(InternalServiceError);
    expect(internal).toMatchObject({ $fault: "server", $metadata: { httpStatusCode: 500 } });
    for (let i = 0; i < 2; i += 1) {
      const throttled = await rejectionOf(read());
      expect(throttled).toMatchObject({
        name: "ThrottlingException",
        $metadata: { httpStatusCode: 400, attempts: 1 },
      });
    }
    const denied = await rejectionOf(read());
    expect(denied).toBeInstanceOf(SecretsManagerServiceException);
    expect(denied.name).toBe("AccessDeniedException");
    expect((await read()).SecretString).toContain("seed-1");

    standIn.failNext("GetSecretValue", "ResourceNotFoundException");
    expect(await rejectionOf(read())).toBeInstanceOf(ResourceNotFoundException);
    expect(() => standIn.failNext("GetSecretvalue", "ThrottlingException")).toThrow(RangeError);
  });

  it("shows why tests of injected failures set maxAttempts: the SDK retries a 500 itself", async () => {
    const client = clientOf();
    standIn.failNext("GetSecretValue", "InternalServiceError");
    const read = await client.send(new GetSecretValueCommand({ SecretId: SERVICE_ACCOUNT }));
    expect(read.$metadata.attempts).toBe(2);
    expect(standIn.requests.map((request) => request.operation)).toEqual([
      "GetSecretValue",
      "GetSecretValue",
    ]);
  });

  it("answers an operation it does not implement with UnknownOperationException", async () => {
    const client = clientOf({ maxAttempts: 1 });
    const error = await rejectionOf(client.send(new RestoreSecretCommand({ SecretId: "x" })));
    expect(error).toBeInstanceOf(SecretsManagerServiceException);
    expect(error).toMatchObject({
      name: "UnknownOperationException",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("speaks JSON 1.1 on the wire: epoch-second dates, __type errors, x-amzn-ErrorType", async () => {
    const call = (target: string, body: string) =>
      fetch(standIn.url, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.1",
          "x-amz-target": target,
          authorization:
            "AWS4-HMAC-SHA256 Credential=AKIDRAW/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=deadbeef",
        },
        body,
      });
    const ok = await call(
      "secretsmanager.GetSecretValue",
      JSON.stringify({ SecretId: SERVICE_ACCOUNT }),
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/x-amz-json-1.1");
    const body = (await ok.json()) as { CreatedDate: unknown; VersionStages: unknown };
    expect(typeof body.CreatedDate).toBe("number");
    expect(Math.abs(Date.now() / 1000 - (body.CreatedDate as number))).toBeLessThan(10);
    expect(body.VersionStages).toEqual(["AWSCURRENT"]);

    const unknown = await call("secretsmanager.RotateSecret", "{}");
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("x-amzn-errortype")).toBe("UnknownOperationException");
    expect(await unknown.json()).toMatchObject({ __type: "UnknownOperationException" });

    const inherited = await call("secretsmanager.constructor", "{}");
    expect(await inherited.json()).toMatchObject({ __type: "UnknownOperationException" });

    const otherService = await call("AmazonSQS.SendMessage", "{}");
    expect((await otherService.json()) as unknown).toMatchObject({
      __type: "UnknownOperationException",
    });

    const malformed = await call("secretsmanager.GetSecretValue", "{not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ __type: "SerializationException" });

    standIn.failNext("GetSecretValue", "InternalServiceError");
    const failed = await call("secretsmanager.GetSecretValue", "{}");
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({
      __type: "InternalServiceError",
      message: "InternalServiceError injected by the stand-in (failNext).",
    });
    expect(standIn.requests.map((request) => request.accessKeyId)).toEqual(
      Array(6).fill("AKIDRAW"),
    );
  });

  it("records operation, secret id and access key id, never a value or a signature", async () => {
    const client = clientOf();
    const other = clientOf({ credentials: { accessKeyId: "AKIDOTHER", secretAccessKey: "local" } });
    const secretValue = JSON.stringify({ password: AWKWARD_PASSWORD });
    const created = await client.send(
      new CreateSecretCommand({ Name: "recorded", SecretString: secretValue }),
    );
    await client.send(
      new PutSecretValueCommand({ SecretId: "recorded", SecretString: "v2-secret" }),
    );
    await other.send(new UpdateSecretCommand({ SecretId: created.ARN, SecretString: "v3-secret" }));
    await other.send(new GetSecretValueCommand({ SecretId: "recorded" }));
    await client.send(new ListSecretsCommand({}));

    expect(standIn.requests).toEqual([
      { operation: "CreateSecret", secretId: "recorded", accessKeyId: "AKIDLOCAL" },
      { operation: "PutSecretValue", secretId: "recorded", accessKeyId: "AKIDLOCAL" },
      { operation: "UpdateSecret", secretId: created.ARN, accessKeyId: "AKIDOTHER" },
      { operation: "GetSecretValue", secretId: "recorded", accessKeyId: "AKIDOTHER" },
      { operation: "ListSecrets", accessKeyId: "AKIDLOCAL" },
    ]);
    const recorded = JSON.stringify(standIn.requests);
    for (const leak of [
      "Pä$$wörd",
      "v2-secret",
      "v3-secret",
      "local",
      "Signature",
      "SecretString",
    ]) {
      expect(recorded).not.toContain(leak);
    }

    standIn.resetRequests();
    expect(standIn.requests).toEqual([]);
  });

  it("seeds and reads secrets directly for tests", async () => {
    const client = clientOf();
    expect(standIn.versionsOf(SERVICE_ACCOUNT)).toBe(1);
    const arn = standIn.putSecret("direct", "one");
    expect(arn).toMatch(ARN_PATTERN);
    expect(standIn.putSecret("direct", "two")).toBe(arn);
    expect(standIn.versionsOf("direct")).toBe(2);
    expect(standIn.secretValue("direct")).toBe("two");
    const read = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(read.SecretString).toBe("two");
    expect(standIn.secretValue("unknown")).toBeUndefined();
    expect(standIn.versionsOf("unknown")).toBe(0);
    // Direct access is not traffic.
    expect(standIn.requests).toHaveLength(1);
  });

  it("closes promptly despite a keep-alive SDK connection and a request half sent", async () => {
    const client = clientOf();
    await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));
    const { port } = new URL(standIn.url);
    const stalled = connect(Number(port), "127.0.0.1");
    await once(stalled, "connect");
    stalled.on("error", () => {});
    stalled.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
    // Let the server start reading the stalled request before it is asked to close.
    await client.send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT }));
    const started = Date.now();
    await standIn.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    stalled.destroy();
    await expect(
      clientOf({ maxAttempts: 1 }).send(new DescribeSecretCommand({ SecretId: SERVICE_ACCOUNT })),
    ).rejects.toThrow();
  }, 3_000);
});
