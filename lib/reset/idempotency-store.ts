// The idempotency records of the state table, written by Powertools, except that completing or
// deleting one carries the record's closing writes in the same call (ClosingWrites).
import { PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { IdempotencyRecord } from "@aws-lambda-powertools/idempotency/persistence";
import type { DynamoDBClient, Update } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { ClosingWrites } from "./closing-writes.ts";

const { statusAttr, expiryAttr, dataAttr, validationKeyAttr } = PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS;

/**
 * Powertools' DynamoDB persistence with its default attribute names (the status lookup reads the
 * same records with a plain DynamoDBPersistenceLayer). Completing a record is the same update as
 * Powertools' own `_updateRecord`, written as a transaction item.
 */
export class StateTableIdempotency extends DynamoDBPersistenceLayer {
  readonly #tableName: string;

  constructor(options: { readonly tableName: string; readonly client: DynamoDBClient }) {
    super({ tableName: options.tableName, awsSdkV3Client: options.client });
    this.#tableName = options.tableName;
  }

  protected override async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const closing = ClosingWrites.current();
    if (closing === undefined) return super._updateRecord(record);
    await closing.flush({
      item: { Update: this.#completion(record) },
      alone: () => super._updateRecord(record),
    });
  }

  protected override async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const closing = ClosingWrites.current();
    if (closing === undefined) return super._deleteRecord(record);
    await closing.flush({
      item: { Delete: { TableName: this.#tableName, Key: this.getKey(record.idempotencyKey) } },
      alone: () => super._deleteRecord(record),
    });
  }

  #completion(record: IdempotencyRecord): Update {
    const names: Record<string, string> = { "#expiry": expiryAttr, "#status": statusAttr };
    const values: Record<string, unknown> = {
      ":expiry": record.expiryTimestamp,
      ":status": record.getStatus(),
    };
    if (record.responseData !== undefined) {
      names["#response_data"] = dataAttr;
      values[":response_data"] = record.responseData;
    }
    if (this.isPayloadValidationEnabled()) {
      names["#validation_key"] = validationKeyAttr;
      values[":validation_key"] = record.payloadHash;
    }
    const fields = Object.keys(names).map((name) => `${name} = :${name.slice(1)}`);
    return {
      TableName: this.#tableName,
      Key: this.getKey(record.idempotencyKey),
      UpdateExpression: `SET ${fields.join(", ")}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: marshall(values),
    };
  }
}
