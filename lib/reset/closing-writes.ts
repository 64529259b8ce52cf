// A record's closing writes to the state table (its watermarks released, its attempts marked
// applied) wait for its idempotency record to be completed or deleted, and go in the same
// DynamoDB call: one transaction instead of one call each.
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type DynamoDBClient,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";

/** A write that can ride in a transaction, or be sent alone (with its own error handling). */
export interface ClosingWrite {
  readonly item: TransactWriteItem;
  readonly alone: () => Promise<void>;
}

const currentRecord = new AsyncLocalStorage<ClosingWrites>();

/**
 * The closing writes of one record. Written inside `collect`, they are held; `flush` sends them
 * with the idempotency record's own write in one transaction. A transaction that fails (cancelled
 * by a release whose lock another event has since taken, a conflict, a timeout) is sent again one
 * write at a time, each with its own handling, so that no write's refusal costs the others theirs.
 * Held writes are those the service can do without (see `flush`): what must not be lost is
 * written at once.
 */
export class ClosingWrites {
  readonly #client: DynamoDBClient;
  readonly #held: ClosingWrite[] = [];
  #flushed = false;

  constructor(client: DynamoDBClient) {
    this.#client = client;
  }

  /** The closing writes of the record whose work is running, if they are being held. */
  static current(): ClosingWrites | undefined {
    const writes = currentRecord.getStore();
    return writes === undefined || writes.#flushed ? undefined : writes;
  }

  /** Holds the write for the running record's flush, or sends it now outside one. */
  static async write(write: ClosingWrite): Promise<void> {
    const writes = ClosingWrites.current();
    if (writes === undefined) return write.alone();
    writes.#held.push(write);
  }

  /** Runs a record's work, holding its closing writes. */
  collect<T>(work: () => Promise<T>): Promise<T> {
    return currentRecord.run(this, work);
  }

  /**
   * Sends the held writes, and `own` with them; later writes are sent at once. Should the
   * transaction fail, the held writes are sent one by one, each failure ignored (a release that
   * does not happen leaves its lock to expire with the invocation; an applied mark that does not,
   * an attempt the next delivery settles from TimeChanged), then `own`, whose failure is thrown.
   */
  async flush(own?: ClosingWrite): Promise<void> {
    this.#flushed = true;
    const held = [...this.#held];
    this.#held.length = 0;
    const writes = own === undefined ? held : [...held, own];
    if (writes.length === 0) return;
    if (writes.length > 1) {
      try {
        await this.#client.send(
          new TransactWriteItemsCommand({ TransactItems: writes.map((write) => write.item) }),
        );
        return;
      } catch {
        // Each write is idempotent: sending it again is safe even if the transaction committed.
      }
    }
    for (const write of held) await write.alone().catch(() => undefined);
    await own?.alone();
  }
}
