import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LocalDynamoDb, startLocalDynamoDb } from "../../dev/dynamodb/local-dynamodb.ts";

let dynamodb: LocalDynamoDb;

beforeAll(async () => {
  dynamodb = await startLocalDynamoDb("count-test");
});

afterAll(async () => {
  await dynamodb?.close();
});

it("counts the requests it serves by operation", async () => {
  expect(dynamodb.operationCounts()).toEqual({ CreateTable: 1 });
  const key = { id: { S: "k" } };
  await dynamodb.client.send(new PutItemCommand({ TableName: "count-test", Item: key }));
  for (let i = 0; i < 2; i++) {
    await dynamodb.client.send(new GetItemCommand({ TableName: "count-test", Key: key }));
  }
  expect(dynamodb.operationCounts()).toEqual({ CreateTable: 1, PutItem: 1, GetItem: 2 });
});
