import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { listen } from "../listen.ts";

export interface LocalDynamoDb {
  /** For example http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly tableName: string;
  readonly client: DynamoDBClient;
  /** Requests served so far by operation (GetItem, UpdateItem …), the table's creation included. */
  operationCounts(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * dynalite (a DynamoDB implementation on npm) in memory, with the state table as serverless.yml
 * defines it: string key `id`, on-demand. dynalite has no TTL (UpdateTimeToLive is unknown to
 * it); nothing here runs long enough to need one, and Powertools checks expiry itself.
 */
export async function startLocalDynamoDb(
  tableName = "cupi-reset-state",
  region = "us-east-1",
): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const counts: Record<string, number> = {};
  server.on("request", (request) => {
    // X-Amz-Target: DynamoDB_20120810.GetItem
    const operation = String(request.headers["x-amz-target"] ?? "").split(".")[1] ?? "unknown";
    counts[operation] = (counts[operation] ?? 0) + 1;
  });
  const endpoint = `http://${await listen(server, "127.0.0.1", 0)}`;
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
    close: () =>
      new Promise((resolve) => {
        client.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
