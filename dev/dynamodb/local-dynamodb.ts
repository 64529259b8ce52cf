import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { listen } from "../listen.ts";
import { transactionFront } from "./transactions.ts";

export interface LocalDynamoDb {
  /** For example http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly tableName: string;
  readonly client: DynamoDBClient;
  /**
   * Requests served so far by operation (GetItem, UpdateItem …), the table's creation included; a
   * TransactWriteItems counts once, whatever it does underneath.
   */
  operationCounts(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * dynalite (a DynamoDB implementation on npm) in memory, with the state table as serverless.yml
 * defines it: string key `id`, on-demand. dynalite has no TTL (UpdateTimeToLive is unknown to
 * it); nothing here runs long enough to need one, and Powertools checks expiry itself. dynalite
 * has no TransactWriteItems either: clients talk to a front (transactions.ts) that adds it.
 */
export async function startLocalDynamoDb(
  tableName = "cupi-reset-state",
  region = "us-east-1",
): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const counts: Record<string, number> = {};
  // X-Amz-Target: DynamoDB_20120810.GetItem; counted at the front, which hears each client request once
  const front = transactionFront(await listen(server, "127.0.0.1", 0), (operation) => {
    counts[operation] = (counts[operation] ?? 0) + 1;
  });
  const endpoint = `http://${await listen(front, "127.0.0.1", 0)}`;
  const client = new DynamoDBClient({
    region,
    endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  return {
    endpoint,
    tableName,
    client,
    operationCounts: () => ({ ...counts }),
    close: async () => {
      client.destroy();
      for (const each of [front, server]) {
        await new Promise<void>((resolve) => {
          each.closeAllConnections();
          each.close(() => resolve());
        });
      }
    },
  };
}
