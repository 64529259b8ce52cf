// A record's closing writes against the local DynamoDB: held inside the record's work, sent in one
// transaction, and one by one when the transaction is cancelled.
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDynamoDb, startLocalDynamoDb } from "../../dev/dynamodb/local-dynamodb.ts";
import { type ClosingWrite, ClosingWrites } from "../../lib/reset/closing-writes.ts";

const TABLE = "closing-writes";
let dynamodb: LocalDynamoDb;

beforeAll(async () => {
  dynamodb = await startLocalDynamoDb(TABLE);
});

afterAll(async () => {
  await dynamodb?.close();
});

/** Sets `value` on item `id`, on condition that its holder is `holder` when one is given. */
function setValue(id: string, value: string, holder?: string): ClosingWrite {
  const update = {
    TableName: TABLE,
    Key: { id: { S: id } },
    UpdateExpression: "SET #value = :value",
    ExpressionAttributeNames: { "#value": "value" },
    ExpressionAttributeValues: {
      ":value": { S: value },
      ...(holder === undefined ? {} : { ":holder": { S: holder } }),
    },
    ...(holder === undefined ? {} : { ConditionExpression: "holder = :holder" }),
  };
  return {
    item: { Update: update },
    alone: async () => {
      try {
        await dynamodb.client.send(new UpdateItemCommand(update));
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },
  };
}

async function storedValue(id: string): Promise<string | undefined> {
  const { Item } = await dynamodb.client.send(
    new GetItemCommand({ TableName: TABLE, Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return Item?.value?.S;
}

const transactions = () => dynamodb.operationCounts().TransactWriteItems ?? 0;
const updates = () => dynamodb.operationCounts().UpdateItem ?? 0;

describe("ClosingWrites", () => {
  it("holds the writes made inside a record's work and sends them with its own in one call", async () => {
    const closing = new ClosingWrites(dynamodb.client);
    const [transactionsBefore, updatesBefore] = [transactions(), updates()];
    await closing.collect(async () => {
      await ClosingWrites.write(setValue("a", "1"));
      await ClosingWrites.write(setValue("b", "1"));
      expect(await storedValue("a")).toBeUndefined();
    });
    await closing.flush(setValue("own", "1"));
    expect([await storedValue("a"), await storedValue("b"), await storedValue("own")]).toEqual([
      "1",
      "1",
      "1",
    ]);
    expect([transactions() - transactionsBefore, updates() - updatesBefore]).toEqual([1, 0]);
    // Once flushed, a later write is sent at once.
    await closing.collect(() => ClosingWrites.write(setValue("a", "2")));
    expect(await storedValue("a")).toBe("2");
  });

  it("outside a record's work, sends a write at once", async () => {
    await ClosingWrites.write(setValue("c", "1"));
    expect(await storedValue("c")).toBe("1");
  });

  it("after a failed transaction, a held write's failure is shrugged off and the record's own is thrown", async () => {
    const failing = (write: ClosingWrite, message: string): ClosingWrite => ({
      item: write.item,
      alone: () => Promise.reject(new Error(message)),
    });
    // Two operations on one item: DynamoDB refuses the whole transaction.
    const closing = new ClosingWrites(dynamodb.client);
    await closing.collect(async () => {
      await ClosingWrites.write(failing(setValue("twice", "1"), "held write failed"));
      await ClosingWrites.write(setValue("held-ok", "1"));
    });
    await expect(
      closing.flush(failing(setValue("twice", "2"), "own write failed")),
    ).rejects.toThrow("own write failed");
    expect(await storedValue("held-ok")).toBe("1");
  });

  it("a write refused by its condition does not cost the others theirs: one by one after the cancel", async () => {
    await dynamodb.client.send(
      new PutItemCommand({ TableName: TABLE, Item: { id: { S: "lock" }, holder: { S: "newer" } } }),
    );
    const closing = new ClosingWrites(dynamodb.client);
    await closing.collect(() => ClosingWrites.write(setValue("lock", "released", "older")));
    await closing.flush(setValue("completion", "done"));
    expect(await storedValue("completion")).toBe("done");
    expect(await storedValue("lock")).toBeUndefined();
  });
});
