// The EventBridge stand-in driven by the real SDK over real sockets, delivering to local-aws-sqs.
import { once } from "node:events";
import { connect } from "node:net";
import {
  CreateEventBusCommand,
  DeleteRuleCommand,
  DescribeEventBusCommand,
  EventBridgeClient,
  type EventBridgeClientConfig,
  EventBridgeServiceException,
  InternalException,
  InvalidEventPatternException,
  LimitExceededException,
  ListEventBusesCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  type Target,
  TestEventPatternCommand,
  ThrottlingException,
} from "@aws-sdk/client-eventbridge";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ACCOUNT_ID,
  type EventBridgeStandIn,
  type EventBridgeStandInOptions,
  startEventBridgeStandIn,
} from "../../dev/eventbridge/index.ts";
import {
  createLocalSqsClient,
  type LocalQueues,
  startLocalQueues,
} from "../../dev/sqs/local-queues.ts";
import { rejectionOf, standInClientConfig, withServiceEndpoint } from "../helpers/aws-stand-ins.ts";

const BUS_ARN = `arn:aws:events:us-east-1:${ACCOUNT_ID}:event-bus`;
const ENTRY = {
  Source: "cupi-reset",
  DetailType: "Credential Reset Applied",
  Detail: JSON.stringify({ eventId: "e-1", outcome: "applied" }),
} satisfies PutEventsRequestEntry;

let standIn: EventBridgeStandIn;
const clients: EventBridgeClient[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

async function startStandIn(options: EventBridgeStandInOptions = {}): Promise<void> {
  standIn = await startEventBridgeStandIn(options);
  cleanups.push(() => standIn.close());
}

function clientOf(config: Partial<EventBridgeClientConfig> = {}): EventBridgeClient {
  const client = new EventBridgeClient({ ...standInClientConfig(standIn.url), ...config });
  clients.push(client);
  return client;
}

function putEvents(entries: PutEventsRequestEntry[], client = clientOf()) {
  return client.send(new PutEventsCommand({ Entries: entries }));
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.restoreAllMocks();
});

describe("EventBridge stand-in: PutEvents", () => {
  beforeEach(() => startStandIn({ eventBuses: ["outcomes"] }));

  it("is found through AWS_ENDPOINT_URL_EVENTBRIDGE, with no endpoint option", async () => {
    await withServiceEndpoint("AWS_ENDPOINT_URL_EVENTBRIDGE", standIn.url, async () => {
      const client = new EventBridgeClient({ ...standInClientConfig(), maxAttempts: 1 });
      clients.push(client);
      expect((await putEvents([ENTRY], client)).FailedEntryCount).toBe(0);
      expect(standIn.requests).toEqual(["PutEvents"]);
    });
  });

  it("accepts entries on the default bus and on a custom one by name and by ARN, and records them", async () => {
    const answer = await putEvents([
      ENTRY,
      {
        ...ENTRY,
        EventBusName: "outcomes",
        Time: new Date("2026-03-01T12:34:56.789Z"),
        Resources: ["arn:aws:sqs:us-east-1:123456789012:q"],
      },
      { ...ENTRY, EventBusName: `${BUS_ARN}/outcomes`, Detail: '{"nested":{"a":[1,"☃"]}}' },
    ]);
    expect(answer.FailedEntryCount).toBe(0);
    const ids = answer.Entries?.map((entry) => entry.EventId) ?? [];
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(3);
    expect(answer.Entries?.every((entry) => entry.ErrorCode === undefined)).toBe(true);

    const [first, second, third] = standIn.published;
    expect(first).toMatchObject({
      id: ids[0],
      bus: "default",
      source: "cupi-reset",
      detailType: "Credential Reset Applied",
      detail: { eventId: "e-1", outcome: "applied" },
      resources: [],
    });
    expect(first?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(first?.time ?? "") - Date.now())).toBeLessThan(10_000);
    expect(second).toMatchObject({
      id: ids[1],
      bus: "outcomes",
      time: "2026-03-01T12:34:56Z",
      resources: ["arn:aws:sqs:us-east-1:123456789012:q"],
    });
    expect(third).toMatchObject({
      bus: `${BUS_ARN}/outcomes`,
      detail: { nested: { a: [1, "☃"] } },
    });
    expect(standIn.dropped).toEqual([]);
  });

  it("refuses a call with no entries, more than 10, or over 256 KiB in all, as ValidationException", async () => {
    const client = clientOf({ maxAttempts: 1 });
    const none = await rejectionOf(putEvents([], client));
    expect(none).toBeInstanceOf(EventBridgeServiceException);
    expect(none).toMatchObject({ name: "ValidationException", $metadata: { httpStatusCode: 400 } });
    expect(none.message).toMatch(/at 'entries' .* length greater than or equal to 1$/);

    const eleven = await rejectionOf(putEvents(Array(11).fill(ENTRY), client));
    expect(eleven.name).toBe("ValidationException");
    expect(eleven.message).toMatch(/length less than or equal to 10$/);
    expect((await putEvents(Array(10).fill(ENTRY), client)).FailedEntryCount).toBe(0);

    // Source, DetailType, Detail and Time (14 bytes) count; exactly 256 KiB is still accepted.
    const overhead =
      "cupi-reset".length + "Credential Reset Applied".length + '{"p":""}'.length + 14;
    const fits = {
      ...ENTRY,
      Time: new Date(),
      Detail: JSON.stringify({ p: "x".repeat(262_144 - overhead) }),
    };
    expect((await putEvents([fits], client)).FailedEntryCount).toBe(0);
    const over = await rejectionOf(putEvents([{ ...fits, Detail: `${fits.Detail} ` }], client));
    expect(over).toMatchObject({
      name: "ValidationException",
      message: "Total size of the entries in the request is over the limit.",
    });
    const split = Array(2).fill({ ...ENTRY, Detail: JSON.stringify({ p: "é".repeat(65_536) }) });
    expect((await rejectionOf(putEvents(split, client))).name).toBe("ValidationException");
    expect(standIn.published).toHaveLength(11);
  });

  it("fails each bad entry on its own, inside a 200 answer, as AWS does", async () => {
    const { Detail: _, ...noDetail } = ENTRY;
    const answer = await putEvents([
      { DetailType: ENTRY.DetailType, Detail: ENTRY.Detail },
      { ...ENTRY, DetailType: "" },
      noDetail,
      ENTRY,
      { ...ENTRY, Detail: "[1, 2]" },
      { ...ENTRY, Detail: '"a string"' },
      { ...ENTRY, Detail: "{not json" },
    ]);
    expect(answer.FailedEntryCount).toBe(6);
    expect(answer.Entries).toEqual([
      {
        ErrorCode: "InvalidArgument",
        ErrorMessage: "Parameter Source is not valid. Reason: Source is a required argument.",
      },
      {
        ErrorCode: "InvalidArgument",
        ErrorMessage:
          "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
      },
      {
        ErrorCode: "InvalidArgument",
        ErrorMessage: "Parameter Detail is not valid. Reason: Detail is a required argument.",
      },
      { EventId: standIn.published[0]?.id },
      { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
      { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
      { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
    ]);
    expect(standIn.published).toHaveLength(1);
  });

  it("answers an entry for a bus that does not exist with an EventId, drops it and lists it", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const answer = await putEvents([
      { ...ENTRY, EventBusName: "no-such-bus" },
      { ...ENTRY, EventBusName: "arn:aws:events:us-east-1:111122223333:event-bus/outcomes" },
      { ...ENTRY, EventBusName: "outcomes" },
    ]);
    // AWS documents this: the event is dropped, not failed, and FailedEntryCount stays 0.
    expect(answer.FailedEntryCount).toBe(0);
    expect(answer.Entries?.every((entry) => entry.EventId !== undefined)).toBe(true);
    expect(standIn.published.map((event) => event.bus)).toEqual([
      "no-such-bus",
      "arn:aws:events:us-east-1:111122223333:event-bus/outcomes",
      "outcomes",
    ]);
    expect(standIn.dropped.map((event) => event.id)).toEqual(
      answer.Entries?.slice(0, 2).map((entry) => entry.EventId),
    );
    expect(warn).toHaveBeenCalledTimes(2);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/event bus no-such-bus does not exist/);
  });

  it("fails whole calls as told, as the SDK's typed exceptions, other operations untouched", async () => {
    const client = clientOf({ maxAttempts: 1 });
    standIn.failNext("PutEvents", "ThrottlingException");
    standIn.failNext("PutEvents", "InternalException");

    await client.send(new DescribeEventBusCommand({}));
    const throttled = await rejectionOf(putEvents([ENTRY], client));
    expect(throttled).toBeInstanceOf(ThrottlingException);
    expect(throttled).toMatchObject({ $fault: "client", $metadata: { httpStatusCode: 400 } });
    const internal = await rejectionOf(putEvents([ENTRY], client));
    expect(internal).toBeInstanceOf(InternalException);
    expect(internal).toMatchObject({ $fault: "server", $metadata: { httpStatusCode: 500 } });
    expect((await putEvents([ENTRY], client)).FailedEntryCount).toBe(0);
    expect(standIn.published).toHaveLength(1);
    expect(standIn.requests).toEqual(["DescribeEventBus", "PutEvents", "PutEvents", "PutEvents"]);

    expect(() => standIn.failNext("PutEvent", "ThrottlingException")).toThrow(RangeError);
  });

  it("fails the next entries it would accept, inside a 200 answer with FailedEntryCount", async () => {
    standIn.failEntriesNext(2);
    standIn.failEntriesNext(1, "ThrottlingException");
    const answer = await putEvents([{ ...ENTRY, Source: "" }, ENTRY, ENTRY, ENTRY, ENTRY]);
    expect(answer.FailedEntryCount).toBe(4);
    expect(answer.Entries?.map((entry) => entry.ErrorCode)).toEqual([
      "InvalidArgument",
      "InternalFailure",
      "InternalFailure",
      "ThrottlingException",
      undefined,
    ]);
    expect(answer.Entries?.[1]?.ErrorMessage).toMatch(/failEntriesNext/);
    expect(standIn.published.map((event) => event.id)).toEqual([answer.Entries?.[4]?.EventId]);
    expect((await putEvents([ENTRY])).FailedEntryCount).toBe(0);
    expect(() => standIn.failEntriesNext(0)).toThrow(RangeError);
  });

  it("speaks JSON 1.1 under AWSEvents.*: __type errors with their status, unknown operations refused", async () => {
    const call = (target: string, body: string) =>
      fetch(standIn.url, {
        method: "POST",
        headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": target },
        body,
      });
    const ok = await call("AWSEvents.PutEvents", JSON.stringify({ Entries: [ENTRY] }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/x-amz-json-1.1");
    expect(await ok.json()).toMatchObject({
      FailedEntryCount: 0,
      Entries: [{ EventId: expect.any(String) }],
    });

    standIn.failNext("PutEvents", "InternalException");
    const failed = await call("AWSEvents.PutEvents", JSON.stringify({ Entries: [ENTRY] }));
    expect(failed.status).toBe(500);
    expect(failed.headers.get("x-amzn-errortype")).toBe("InternalException");
    expect(await failed.json()).toEqual({
      __type: "InternalException",
      message: "InternalException injected by the stand-in (failNext).",
    });

    const malformed = await call("AWSEvents.PutEvents", "{not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ __type: "SerializationException" });
    for (const target of [
      "AWSEvents.ListEventBuses",
      "AWSEvents.constructor",
      "secretsmanager.PutEvents",
    ]) {
      expect(await (await call(target, "{}")).json()).toMatchObject({
        __type: "UnknownOperationException",
      });
    }
    const unknown = await rejectionOf(
      clientOf({ maxAttempts: 1 }).send(new ListEventBusesCommand({})),
    );
    expect(unknown).toMatchObject({
      name: "UnknownOperationException",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("closes promptly despite a keep-alive SDK connection and a request half sent", async () => {
    await putEvents([ENTRY]);
    const stalled = connect(Number(new URL(standIn.url).port), "127.0.0.1");
    await once(stalled, "connect");
    stalled.on("error", () => {});
    stalled.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
    await putEvents([ENTRY]);
    const started = Date.now();
    await standIn.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    stalled.destroy();
    await expect(putEvents([ENTRY], clientOf({ maxAttempts: 1 }))).rejects.toThrow();
  }, 3_000);
});

describe("EventBridge stand-in: buses and rules", () => {
  beforeEach(() => startStandIn());

  it("creates and describes buses by name and by ARN; refuses a duplicate or an unknown one", async () => {
    const client = clientOf();
    const created = await client.send(
      new CreateEventBusCommand({ Name: "outcomes", Description: "reset outcomes" }),
    );
    expect(created).toMatchObject({
      EventBusArn: `${BUS_ARN}/outcomes`,
      Description: "reset outcomes",
    });
    for (const name of ["outcomes", `${BUS_ARN}/outcomes`]) {
      const described = await client.send(new DescribeEventBusCommand({ Name: name }));
      expect(described).toMatchObject({
        Name: "outcomes",
        Arn: `${BUS_ARN}/outcomes`,
        Description: "reset outcomes",
      });
      expect(described.CreationTime).toBeInstanceOf(Date);
      expect(Math.abs((described.CreationTime?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);
    }
    expect(await client.send(new DescribeEventBusCommand({}))).toMatchObject({
      Name: "default",
      Arn: `${BUS_ARN}/default`,
    });
    for (const name of ["outcomes", "default"]) {
      const duplicate = await rejectionOf(client.send(new CreateEventBusCommand({ Name: name })));
      expect(duplicate).toBeInstanceOf(ResourceAlreadyExistsException);
      expect(duplicate.message).toBe(`Event bus ${name} already exists.`);
    }
    const unknown = await rejectionOf(client.send(new DescribeEventBusCommand({ Name: "nope" })));
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
    expect(unknown.message).toBe("Event bus nope does not exist.");
    const partner = await rejectionOf(
      client.send(new CreateEventBusCommand({ Name: "p", EventSourceName: "aws.partner/x" })),
    );
    expect(partner).toMatchObject({ name: "ValidationException" });
    expect(partner.message).toMatch(/does not support EventSourceName/);
  });

  it("puts, lists (by prefix, page by page), replaces and deletes rules", async () => {
    const client = clientOf();
    await client.send(new CreateEventBusCommand({ Name: "outcomes" }));
    const pattern = JSON.stringify({ source: ["cupi-reset"] });
    const arns: string[] = [];
    for (const name of ["reset-applied", "reset-failed", "other"]) {
      const put = await client.send(
        new PutRuleCommand({ Name: name, EventBusName: "outcomes", EventPattern: pattern }),
      );
      arns.push(put.RuleArn ?? "");
    }
    expect(arns[0]).toBe(`arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/outcomes/reset-applied`);
    const onDefault = await client.send(new PutRuleCommand({ Name: "r", EventPattern: pattern }));
    expect(onDefault.RuleArn).toBe(`arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/r`);

    const first = await client.send(
      new ListRulesCommand({ EventBusName: "outcomes", NamePrefix: "reset-", Limit: 1 }),
    );
    expect(first.Rules).toEqual([
      {
        Name: "reset-applied",
        Arn: arns[0],
        EventPattern: pattern,
        State: "ENABLED",
        EventBusName: "outcomes",
      },
    ]);
    const second = await client.send(
      new ListRulesCommand({
        EventBusName: "outcomes",
        NamePrefix: "reset-",
        NextToken: first.NextToken,
      }),
    );
    expect(second.Rules?.map((rule) => rule.Name)).toEqual(["reset-failed"]);
    expect(second.NextToken).toBeUndefined();

    await client.send(
      new PutRuleCommand({
        Name: "other",
        EventBusName: "outcomes",
        EventPattern: pattern,
        State: "DISABLED",
      }),
    );
    await client.send(
      new DeleteRuleCommand({ Name: "reset-failed", EventBusName: `${BUS_ARN}/outcomes` }),
    );
    // Deleting what is not there succeeds, as it does on AWS.
    await client.send(new DeleteRuleCommand({ Name: "reset-failed", EventBusName: "outcomes" }));
    const listed = await client.send(new ListRulesCommand({ EventBusName: "outcomes" }));
    expect(listed.Rules?.map((rule) => [rule.Name, rule.State])).toEqual([
      ["reset-applied", "ENABLED"],
      ["other", "DISABLED"],
    ]);
  });

  it("refuses a rule on an unknown bus, without a pattern, with a schedule, a bad name or state", async () => {
    const client = clientOf();
    const pattern = JSON.stringify({ source: ["x"] });
    const unknownBus = await rejectionOf(
      client.send(new PutRuleCommand({ Name: "r", EventBusName: "nope", EventPattern: pattern })),
    );
    expect(unknownBus).toBeInstanceOf(ResourceNotFoundException);
    const noPattern = await rejectionOf(client.send(new PutRuleCommand({ Name: "r" })));
    expect(noPattern).toMatchObject({
      name: "ValidationException",
      message: "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    });
    const scheduled = await rejectionOf(
      client.send(new PutRuleCommand({ Name: "r", ScheduleExpression: "rate(5 minutes)" })),
    );
    expect(scheduled.message).toMatch(/stand-in does not support ScheduleExpression/);
    const badName = await rejectionOf(
      client.send(new PutRuleCommand({ Name: "a b", EventPattern: pattern })),
    );
    expect(badName.name).toBe("ValidationException");
    const badState = await rejectionOf(
      client.send(
        new PutRuleCommand({ Name: "r", EventPattern: pattern, State: "ON" as "ENABLED" }),
      ),
    );
    expect(badState.message).toMatch(/at 'state' failed to satisfy constraint/);
    const listed = await client.send(new ListRulesCommand({}));
    expect(listed.Rules).toEqual([]);
  });

  it("refuses targets when started without an SQS endpoint", async () => {
    const client = clientOf();
    await client.send(
      new PutRuleCommand({ Name: "r", EventPattern: JSON.stringify({ source: ["x"] }) }),
    );
    const refused = await rejectionOf(
      client.send(
        new PutTargetsCommand({
          Rule: "r",
          Targets: [{ Id: "q", Arn: "arn:aws:sqs:us-east-1:123456789012:q" }],
        }),
      ),
    );
    expect(refused.name).toBe("ValidationException");
    expect(refused.message).toMatch(/without sqsEndpoint/);
  });
});

describe("EventBridge stand-in: event patterns (TestEventPattern)", () => {
  beforeEach(() => startStandIn());

  const event = {
    version: "0",
    id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Credential Reset Applied",
    source: "cupi-reset",
    account: "123456789012",
    time: "2026-03-01T12:34:56Z",
    region: "us-east-1",
    resources: ["arn:aws:sqs:us-east-1:123456789012:q"],
    detail: {
      outcome: "applied",
      errorCode: null,
      user: { alias: "jdoe", objectId: "a1" },
      fieldsChanged: [{ credential: "pin", fields: ["Credentials"] }, { credential: "password" }],
      attempts: 3,
      "dotted.key": "yes",
    },
  };

  const cases: Array<[string, object, boolean]> = [
    ["exact source", { source: ["cupi-reset"] }, true],
    ["exact source, another", { source: ["other", "cupi"] }, false],
    [
      "exact source and detail-type",
      { source: ["cupi-reset"], "detail-type": ["Credential Reset Applied"] },
      true,
    ],
    [
      "exact detail-type mismatch",
      { source: ["cupi-reset"], "detail-type": ["Credential Reset Failed"] },
      false,
    ],
    ["nested detail", { detail: { user: { alias: ["jdoe"] } } }, true],
    ["nested detail mismatch", { detail: { user: { alias: ["jdo"] } } }, false],
    ["a number", { detail: { attempts: [3] } }, true],
    ["a number is not its string", { detail: { attempts: ["3"] } }, false],
    ["null matches null", { detail: { errorCode: [null] } }, true],
    [
      "within an array of objects",
      { detail: { fieldsChanged: { credential: ["password"] } } },
      true,
    ],
    [
      "within an array of objects, absent",
      { detail: { fieldsChanged: { credential: ["web"] } } },
      false,
    ],
    [
      "an array field matches any element",
      { resources: ["x", "arn:aws:sqs:us-east-1:123456789012:q"] },
      true,
    ],
    ["a dotted key is a path", { detail: { dotted: { key: ["yes"] } } }, true],
    ["prefix", { source: [{ prefix: "cupi-" }] }, true],
    ["prefix mismatch", { source: [{ prefix: "cupi-resets" }] }, false],
    ["prefix found later, not at the start", { source: [{ prefix: "reset" }] }, false],
    ["prefix on a number", { detail: { attempts: [{ prefix: "3" }] } }, false],
    ["anything-but a value", { detail: { outcome: [{ "anything-but": "failed" }] } }, true],
    ["anything-but the value", { detail: { outcome: [{ "anything-but": "applied" }] } }, false],
    [
      "anything-but a list",
      { detail: { outcome: [{ "anything-but": ["failed", "refused"] }] } },
      true,
    ],
    [
      "anything-but a list with it",
      { detail: { outcome: [{ "anything-but": ["failed", "applied"] }] } },
      false,
    ],
    ["anything-but on an absent field", { detail: { missing: [{ "anything-but": "x" }] } }, false],
    ["exists true", { detail: { user: { objectId: [{ exists: true }] } } }, true],
    ["exists true, absent", { detail: { user: { cluster: [{ exists: true }] } } }, false],
    ["exists true on an object", { detail: { user: [{ exists: true }] } }, false],
    ["exists false, absent", { detail: { reason: [{ exists: false }] } }, true],
    ["exists false, present", { detail: { outcome: [{ exists: false }] } }, false],
    ["numeric range", { detail: { attempts: [{ numeric: [">", 0, "<=", 3] }] } }, true],
    ["numeric range, outside", { detail: { attempts: [{ numeric: [">=", 4] }] } }, false],
    ["any condition of a field", { detail: { outcome: ["failed", { prefix: "app" }] } }, true],
    ["every field", { source: ["cupi-reset"], detail: { outcome: ["failed"] } }, false],
  ];

  it.each(cases)("%s", async (_, pattern, expected) => {
    const answer = await clientOf().send(
      new TestEventPatternCommand({
        EventPattern: JSON.stringify(pattern),
        Event: JSON.stringify(event),
      }),
    );
    expect(answer.Result).toBe(expected);
  });

  it("refuses an event that is not a whole event", async () => {
    const { account: _, ...partial } = event;
    const refused = await rejectionOf(
      clientOf().send(
        new TestEventPatternCommand({
          EventPattern: '{"source":["x"]}',
          Event: JSON.stringify(partial),
        }),
      ),
    );
    expect(refused).toMatchObject({
      name: "ValidationException",
      message: "Parameter Event is not valid.",
    });
  });

  const invalid: Array<[string, string, RegExp]> = [
    ["not JSON", "{source: [x]}", /Filter is not valid JSON/],
    ["not an object", '["source"]', /Filter is not an object/],
    [
      "a value that is not a list",
      '{"source": "cupi-reset"}',
      /"source" must be an object or an array/,
    ],
    ["an empty list", '{"source": []}', /Empty arrays are not allowed/],
    ["a nested list", '{"source": [["a"]]}', /Match value must be String/],
    [
      "two operators in one",
      '{"source": [{"prefix": "a", "exists": true}]}',
      /Only one key allowed/,
    ],
    [
      "an unknown operator",
      '{"source": [{"begins-with": "a"}]}',
      /Unrecognized match type begins-with/,
    ],
    ["a numeric prefix", '{"source": [{"prefix": 1}]}', /prefix match pattern must be a string/],
    ["exists that is not a boolean", '{"source": [{"exists": "yes"}]}', /either true or false/],
    ["anything-but null", '{"source": [{"anything-but": null}]}', /single string\/number value/],
    [
      "a reversed numeric range",
      '{"n": [{"numeric": [">", 5, "<", 1]}]}',
      /Bottom must be less than top/,
    ],
    [
      "suffix",
      '{"source": [{"suffix": "-reset"}]}',
      /stand-in does not support the "suffix" operator/,
    ],
    [
      "wildcard",
      '{"source": [{"wildcard": "cupi-*"}]}',
      /stand-in does not support the "wildcard" operator/,
    ],
    [
      "equals-ignore-case",
      '{"source": [{"equals-ignore-case": "CUPI"}]}',
      /stand-in does not support/,
    ],
    ["$or", '{"$or": [{"source": ["a"]}, {"source": ["b"]}]}', /stand-in does not support "\$or"/],
    [
      "anything-but prefix",
      '{"source": [{"anything-but": {"prefix": "a"}}]}',
      /stand-in does not support "anything-but" with prefix/,
    ],
  ];

  it.each(invalid)(
    "refuses %s with InvalidEventPatternException, in PutRule too",
    async (_, text, message) => {
      const client = clientOf();
      for (const call of [
        () =>
          client.send(
            new TestEventPatternCommand({ EventPattern: text, Event: JSON.stringify(event) }),
          ),
        () => client.send(new PutRuleCommand({ Name: "r", EventPattern: text })),
      ]) {
        const refused = await rejectionOf(call());
        expect(refused).toBeInstanceOf(InvalidEventPatternException);
        expect(refused.message).toMatch(/^Event pattern is not valid\. Reason: /);
        expect(refused.message).toMatch(message);
      }
      expect((await client.send(new ListRulesCommand({}))).Rules).toEqual([]);
    },
  );
});

describe("EventBridge stand-in: delivery to SQS targets", () => {
  let queues: LocalQueues;
  let sqs: SQSClient;

  beforeEach(async () => {
    queues = await startLocalQueues();
    cleanups.push(() => queues.close());
    sqs = createLocalSqsClient(queues.endpoint);
    cleanups.push(() => sqs.destroy());
    await startStandIn({ sqsEndpoint: queues.endpoint, eventBuses: ["outcomes"] });
  });

  async function bodiesOn(queueUrl: string): Promise<unknown[]> {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    return (received.Messages ?? []).map((message) => JSON.parse(message.Body ?? ""));
  }

  async function routeTo(targets: Target[], pattern: object, state?: "DISABLED"): Promise<void> {
    const client = clientOf();
    await client.send(
      new PutRuleCommand({
        Name: "outcomes-to-queue",
        EventBusName: "outcomes",
        EventPattern: JSON.stringify(pattern),
        ...(state === undefined ? {} : { State: state }),
      }),
    );
    const put = await client.send(
      new PutTargetsCommand({
        Rule: "outcomes-to-queue",
        EventBusName: "outcomes",
        Targets: targets,
      }),
    );
    expect(put).toMatchObject({ FailedEntryCount: 0, FailedEntries: [] });
  }

  it("delivers a matching event to the queue in EventBridge's envelope, and nothing else", async () => {
    await routeTo([{ Id: "queue", Arn: queues.queueArn }], {
      source: ["cupi-reset"],
      detail: { outcome: ["applied"] },
    });
    const answer = await putEvents([
      {
        ...ENTRY,
        EventBusName: "outcomes",
        Time: new Date("2026-03-01T12:34:56Z"),
        Resources: ["r1"],
      },
      { ...ENTRY, EventBusName: "outcomes", Detail: JSON.stringify({ outcome: "failed" }) },
      { ...ENTRY, EventBusName: "outcomes", Source: "someone-else" },
      // The same event on another bus: that bus's rules, not these, see it.
      ENTRY,
    ]);
    expect(answer.FailedEntryCount).toBe(0);
    await standIn.settled();

    expect(await bodiesOn(queues.queueUrl)).toEqual([
      {
        version: "0",
        id: answer.Entries?.[0]?.EventId,
        "detail-type": "Credential Reset Applied",
        source: "cupi-reset",
        account: ACCOUNT_ID,
        time: "2026-03-01T12:34:56Z",
        region: "us-east-1",
        resources: ["r1"],
        detail: { eventId: "e-1", outcome: "applied" },
      },
    ]);
    expect(standIn.delivered).toEqual([
      {
        eventId: answer.Entries?.[0]?.EventId,
        rule: "outcomes-to-queue",
        targetId: "queue",
        targetArn: queues.queueArn,
        messageId: expect.any(String),
      },
    ]);
    expect(standIn.deliveryFailures).toEqual([]);
  });

  it("sends a target's Input or the part of the event its InputPath names, to each target", async () => {
    await routeTo(
      [
        { Id: "detail", Arn: queues.queueArn, InputPath: "$.detail" },
        { Id: "constant", Arn: queues.dlqArn, Input: '{"kind":"constant"}' },
      ],
      { source: ["cupi-reset"] },
    );
    await putEvents([{ ...ENTRY, EventBusName: "outcomes" }]);
    await standIn.settled();
    expect(await bodiesOn(queues.queueUrl)).toEqual([{ eventId: "e-1", outcome: "applied" }]);
    expect(await bodiesOn(queues.dlqUrl)).toEqual([{ kind: "constant" }]);

    const listed = await clientOf().send(
      new ListTargetsByRuleCommand({ Rule: "outcomes-to-queue", EventBusName: "outcomes" }),
    );
    expect(listed.Targets).toEqual([
      { Id: "detail", Arn: queues.queueArn, InputPath: "$.detail" },
      { Id: "constant", Arn: queues.dlqArn, Input: '{"kind":"constant"}' },
    ]);
  });

  it("delivers nothing through a disabled rule, or after its targets are removed", async () => {
    await routeTo([{ Id: "queue", Arn: queues.queueArn }], { source: ["cupi-reset"] }, "DISABLED");
    await putEvents([{ ...ENTRY, EventBusName: "outcomes" }]);
    await standIn.settled();
    expect(await bodiesOn(queues.queueUrl)).toEqual([]);

    const client = clientOf();
    await routeTo([{ Id: "queue", Arn: queues.queueArn }], { source: ["cupi-reset"] });
    const busy = await rejectionOf(
      client.send(new DeleteRuleCommand({ Name: "outcomes-to-queue", EventBusName: "outcomes" })),
    );
    expect(busy).toMatchObject({
      name: "ValidationException",
      message: "Rule can't be deleted since it has targets.",
    });
    const removed = await client.send(
      new RemoveTargetsCommand({
        Rule: "outcomes-to-queue",
        EventBusName: "outcomes",
        Ids: ["queue", "nope"],
      }),
    );
    expect(removed.FailedEntryCount).toBe(1);
    expect(removed.FailedEntries?.[0]).toMatchObject({
      TargetId: "nope",
      ErrorCode: "ResourceNotFoundException",
    });
    await putEvents([{ ...ENTRY, EventBusName: "outcomes" }]);
    await standIn.settled();
    expect(await bodiesOn(queues.queueUrl)).toEqual([]);
    expect(standIn.delivered).toEqual([]);
    await client.send(
      new DeleteRuleCommand({ Name: "outcomes-to-queue", EventBusName: "outcomes" }),
    );
  });

  it("records and logs a delivery that fails, while PutEvents still succeeds", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue";
    await routeTo(
      [
        { Id: "missing", Arn: missing },
        { Id: "selects-nothing", Arn: queues.queueArn, InputPath: "$.detail.absent" },
      ],
      { source: ["cupi-reset"] },
    );
    const answer = await putEvents([{ ...ENTRY, EventBusName: "outcomes" }]);
    expect(answer.FailedEntryCount).toBe(0);
    await standIn.settled();
    const eventId = answer.Entries?.[0]?.EventId;
    // The two sends run side by side: their order is not the targets' order.
    const failures = standIn.deliveryFailures.sort((a, b) => a.targetId.localeCompare(b.targetId));
    expect(failures).toEqual([
      {
        eventId,
        rule: "outcomes-to-queue",
        targetId: "missing",
        targetArn: missing,
        error: "QueueDoesNotExist: The specified queue does not exist.",
      },
      {
        eventId,
        rule: "outcomes-to-queue",
        targetId: "selects-nothing",
        targetArn: queues.queueArn,
        error: expect.stringMatching(/^Error: InputPath \$\.detail\.absent selects nothing/),
      },
    ]);
    const lines = logged.mock.calls.map(([line]) => String(line));
    expect(lines).toHaveLength(2);
    expect(lines).toContainEqual(
      expect.stringMatching(/^EventBridge stand-in: event \S+ not delivered to \S+:no-such-queue /),
    );
    expect(standIn.delivered).toEqual([]);
  });

  it("refuses targets it cannot deliver as AWS would, naming what it does not support", async () => {
    // The SDK retries LimitExceededException as throttling; one attempt shows it at once.
    const client = clientOf({ maxAttempts: 1 });
    await client.send(
      new PutRuleCommand({ Name: "r", EventPattern: JSON.stringify({ source: ["x"] }) }),
    );
    const put = (targets: Target[]) =>
      rejectionOf(client.send(new PutTargetsCommand({ Rule: "r", Targets: targets })));
    const refusals: Array<[Target[], RegExp]> = [
      [
        [{ Id: "l", Arn: "arn:aws:lambda:us-east-1:123456789012:function:f" }],
        /cannot deliver to .*lambda/,
      ],
      [[{ Id: "f", Arn: `${queues.queueArn}.fifo` }], /cannot deliver to .*\.fifo/],
      [
        [
          {
            Id: "t",
            Arn: queues.queueArn,
            InputTransformer: { InputTemplate: '"<x>"', InputPathsMap: { x: "$.id" } },
          },
        ],
        /does not support InputTransformer/,
      ],
      [
        [{ Id: "p", Arn: queues.queueArn, InputPath: "$.detail[0]" }],
        /does not support the InputPath \$\.detail\[0\]/,
      ],
      [
        [{ Id: "b", Arn: queues.queueArn, Input: "{not json" }],
        /Input of target b is not valid JSON/,
      ],
      [
        [{ Id: "b", Arn: queues.queueArn, Input: "{}", InputPath: "$" }],
        /Only one of Input, InputPath/,
      ],
      [[{ Id: "a b", Arn: queues.queueArn }], /at 'targets\.1\.member\.id'/],
    ];
    for (const [targets, message] of refusals) {
      const refused = await put(targets);
      expect(refused.name).toBe("ValidationException");
      expect(refused.message).toMatch(message);
    }
    const unknownRule = await rejectionOf(
      client.send(
        new PutTargetsCommand({ Rule: "nope", Targets: [{ Id: "q", Arn: queues.queueArn }] }),
      ),
    );
    expect(unknownRule).toBeInstanceOf(ResourceNotFoundException);
    expect(unknownRule.message).toBe("Rule nope does not exist on EventBus default.");

    const five = Array.from({ length: 5 }, (_, i) => ({ Id: `q${i}`, Arn: queues.queueArn }));
    await client.send(new PutTargetsCommand({ Rule: "r", Targets: five }));
    const sixth = await put([{ Id: "q5", Arn: queues.queueArn }]);
    expect(sixth).toBeInstanceOf(LimitExceededException);
    const listed = await client.send(new ListTargetsByRuleCommand({ Rule: "r", Limit: 3 }));
    expect(listed.Targets?.map((target) => target.Id)).toEqual(["q0", "q1", "q2"]);
    expect(listed.NextToken).toBeDefined();
  });
});
