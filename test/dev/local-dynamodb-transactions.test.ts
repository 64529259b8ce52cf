import {
  type AttributeValue,
  BatchGetItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LocalDynamoDb, startLocalDynamoDb } from "../../dev/dynamodb/local-dynamodb.ts";

const table = "transactions-test";
let dynamodb: LocalDynamoDb;

beforeAll(async () => {
  dynamodb = await startLocalDynamoDb(table);
});

afterAll(async () => {
  await dynamodb?.close();
});

const key = (id: string) => ({ id: { S: id } });

async function put(item: Record<string, AttributeValue>): Promise<void> {
  await dynamodb.client.send(new PutItemCommand({ TableName: table, Item: item }));
}

async function get(id: string): Promise<Record<string, AttributeValue> | undefined> {
  const answer = await dynamodb.client.send(
    new GetItemCommand({ TableName: table, Key: key(id), ConsistentRead: true }),
  );
  return answer.Item;
}

function transact(items: TransactWriteItem[]): Promise<unknown> {
  return dynamodb.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail("the call succeeded"),
    (error: unknown) => (error instanceof Error ? error : expect.fail(String(error))),
  );
}

it("applies Put, Update, Delete and ConditionCheck together, counted as one operation", async () => {
  await put({ ...key("upd"), n: { N: "1" } });
  await put({ ...key("del") });
  await put({ ...key("chk"), state: { S: "open" } });
  const before = dynamodb.operationCounts();

  await transact([
    {
      Put: {
        TableName: table,
        Item: { ...key("new"), v: { S: "x" } },
        ConditionExpression: "attribute_not_exists(id)",
      },
    },
    {
      Update: {
        TableName: table,
        Key: key("upd"),
        UpdateExpression: "SET n = n + :one",
        ConditionExpression: "n = :one",
        ExpressionAttributeValues: { ":one": { N: "1" } },
      },
    },
    { Delete: { TableName: table, Key: key("del"), ConditionExpression: "attribute_exists(id)" } },
    {
      ConditionCheck: {
        TableName: table,
        Key: key("chk"),
        ConditionExpression: "#s = :open",
        ExpressionAttributeNames: { "#s": "state" },
        ExpressionAttributeValues: { ":open": { S: "open" } },
      },
    },
  ]);

  const after = dynamodb.operationCounts();
  expect(after.TransactWriteItems).toBe((before.TransactWriteItems ?? 0) + 1);
  expect({ ...after, TransactWriteItems: 0 }).toEqual({ ...before, TransactWriteItems: 0 });
  expect(await get("new")).toEqual({ ...key("new"), v: { S: "x" } });
  expect(await get("upd")).toEqual({ ...key("upd"), n: { N: "2" } });
  expect(await get("del")).toBeUndefined();
  expect(await get("chk")).toEqual({ ...key("chk"), state: { S: "open" } });
});

it("a ConditionCheck on an absent item leaves it absent", async () => {
  await transact([
    {
      ConditionCheck: {
        TableName: table,
        Key: key("ghost"),
        ConditionExpression: "attribute_not_exists(id)",
      },
    },
  ]);
  expect(await get("ghost")).toBeUndefined();
});

it("one refused condition cancels all, with a reason per item and the old image asked for", async () => {
  await put({ ...key("a1"), n: { N: "5" } });
  await put({ ...key("a2"), n: { N: "7" } });
  await put({ ...key("a3"), n: { N: "9" } });
  const before = await dynamodb.client.send(
    new ScanCommand({ TableName: table, ConsistentRead: true }),
  );

  const error = await refusal(
    transact([
      { Put: { TableName: table, Item: { ...key("fresh") } } }, // did not exist: must stay absent
      {
        Update: {
          TableName: table,
          Key: key("a2"),
          UpdateExpression: "SET n = :zero",
          ConditionExpression: "n = :zero",
          ExpressionAttributeValues: { ":zero": { N: "0" } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
      },
      { Delete: { TableName: table, Key: key("a3") } },
    ]),
  );

  expect(error).toBeInstanceOf(TransactionCanceledException);
  const canceled = error as TransactionCanceledException;
  expect(canceled.message).toBe(
    "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]",
  );
  // The SDK moves DynamoDB's "Message" into error.message (decorateServiceException deletes Message)
  expect(canceled.$metadata.httpStatusCode).toBe(400);
  expect(canceled.CancellationReasons).toEqual([
    { Code: "None" },
    {
      Code: "ConditionalCheckFailed",
      Message: "The conditional request failed",
      Item: { ...key("a2"), n: { N: "7" } },
    },
    { Code: "None" },
  ]);
  const after = await dynamodb.client.send(
    new ScanCommand({ TableName: table, ConsistentRead: true }),
  );
  expect(after.Items).toEqual(before.Items);
  expect(await get("fresh")).toBeUndefined();
  expect(await get("a1")).toEqual({ ...key("a1"), n: { N: "5" } });
  expect(await get("a3")).toEqual({ ...key("a3"), n: { N: "9" } });
});

it("reports every refused condition, the old image only when asked and present", async () => {
  await put({ ...key("b1"), n: { N: "1" } });
  const error = await refusal(
    transact([
      {
        ConditionCheck: {
          TableName: table,
          Key: key("b1"),
          ConditionExpression: "attribute_not_exists(id)",
        },
      },
      {
        ConditionCheck: {
          TableName: table,
          Key: key("b-absent"),
          ConditionExpression: "attribute_exists(id)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
      },
      { Put: { TableName: table, Item: { ...key("b3") } } },
    ]),
  );
  expect((error as TransactionCanceledException).CancellationReasons).toEqual([
    { Code: "ConditionalCheckFailed", Message: "The conditional request failed" },
    { Code: "ConditionalCheckFailed", Message: "The conditional request failed" },
    { Code: "None" },
  ]);
  expect(await get("b-absent")).toBeUndefined();
  expect(await get("b3")).toBeUndefined();
});

it("never lets another request see a transaction half done", async () => {
  await put({ ...key("left"), n: { N: "1000" } });
  await put({ ...key("right"), n: { N: "0" } });
  await put({ ...key("flag"), v: { S: "before" } });
  const move = (from: string, to: string): TransactWriteItem[] => [
    {
      Update: {
        TableName: table,
        Key: key(from),
        UpdateExpression: "SET n = n - :one",
        ConditionExpression: "n >= :one",
        ExpressionAttributeValues: { ":one": { N: "1" } },
      },
    },
    {
      Update: {
        TableName: table,
        Key: key(to),
        UpdateExpression: "SET n = n + :one",
        ExpressionAttributeValues: { ":one": { N: "1" } },
      },
    },
  ];
  // Writes the flag, then is refused by its last item: the flag must never be seen changed.
  const refused: TransactWriteItem[] = [
    { Put: { TableName: table, Item: { ...key("flag"), v: { S: "during" } } } },
    ...move("left", "right").slice(1),
    {
      ConditionCheck: {
        TableName: table,
        Key: key("nobody"),
        ConditionExpression: "attribute_exists(id)",
      },
    },
  ];

  let writing = true;
  // Four writers, each one transaction at a time, so that reads queue between transactions.
  const writer = async (w: number) => {
    for (let i = 0; i < 60; i++) {
      const items =
        i % 3 === 2 ? refused : (i + w) % 2 ? move("left", "right") : move("right", "left");
      await transact(items).catch(() => undefined);
    }
  };
  const writes = Promise.all([0, 1, 2, 3].map(writer)).finally(() => {
    writing = false;
  });
  const sums: number[] = [];
  const flags = new Set<string>();
  const reader = async () => {
    while (writing) {
      const [pair, flag] = await Promise.all([
        dynamodb.client.send(
          new BatchGetItemCommand({
            RequestItems: { [table]: { Keys: [key("left"), key("right")], ConsistentRead: true } },
          }),
        ),
        get("flag"),
      ]);
      const items = pair.Responses?.[table] ?? [];
      sums.push(items.reduce((sum, item) => sum + Number(item.n?.N), 0));
      flags.add(flag?.v?.S ?? "absent");
    }
  };
  await Promise.all([writes, reader(), reader(), reader()]);

  expect(sums.length).toBeGreaterThan(10);
  expect(new Set(sums)).toEqual(new Set([1000]));
  expect(flags).toEqual(new Set(["before"]));
  expect(Number((await get("left"))?.n?.N) + Number((await get("right"))?.n?.N)).toBe(1000);
});

it("refuses two operations on one item, and fewer than 1 or more than 100 items", async () => {
  const duplicate = await refusal(
    transact([
      { Put: { TableName: table, Item: { ...key("dup"), v: { S: "1" } } } },
      { Delete: { TableName: table, Key: key("dup") } },
    ]),
  );
  expect(duplicate.name).toBe("ValidationException");
  expect(duplicate.message).toBe(
    "Transaction request cannot include multiple operations on one item",
  );
  expect(await get("dup")).toBeUndefined();

  const none = await refusal(transact([]));
  expect(none.name).toBe("ValidationException");
  expect(none.message).toMatch(/at 'transactItems' .* length greater than or equal to 1/);

  const many = Array.from({ length: 101 }, (_, i) => ({
    Put: { TableName: table, Item: { ...key(`many-${i}`) } },
  }));
  const tooMany = await refusal(transact(many));
  expect(tooMany.name).toBe("ValidationException");
  expect(tooMany.message).toMatch(/length less than or equal to 100/);
  expect(await get("many-0")).toBeUndefined();

  await transact(many.slice(0, 100));
  expect(await get("many-99")).toEqual(key("many-99"));
});

it("refuses the whole call for a malformed item or a missing table, undoing what was written", async () => {
  const malformed = await refusal(
    transact([
      { Put: { TableName: table, Item: { ...key("before-malformed") } } },
      { Update: { TableName: table, Key: key("m"), UpdateExpression: "SET n = :undefined" } },
    ]),
  );
  expect(malformed.name).toBe("ValidationException");
  expect(await get("before-malformed")).toBeUndefined();

  const missing = await refusal(
    transact([
      { Put: { TableName: table, Item: { ...key("before-missing") } } },
      { Put: { TableName: "no-such-table", Item: { ...key("x") } } },
    ]),
  );
  expect(missing.name).toBe("ResourceNotFoundException");
  expect(await get("before-missing")).toBeUndefined();
});

it("reports an update that cannot apply to the stored item as a ValidationError reason", async () => {
  await put({ ...key("text"), n: { S: "not a number" } });
  const error = await refusal(
    transact([
      { Put: { TableName: table, Item: { ...key("before-type") } } },
      {
        Update: {
          TableName: table,
          Key: key("text"),
          UpdateExpression: "SET n = n + :one",
          ExpressionAttributeValues: { ":one": { N: "1" } },
        },
      },
    ]),
  );
  expect((error as TransactionCanceledException).CancellationReasons).toEqual([
    { Code: "None" },
    {
      Code: "ValidationError",
      Message: "An operand in the update expression has an incorrect data type",
    },
  ]);
  expect(await get("before-type")).toBeUndefined();
});
