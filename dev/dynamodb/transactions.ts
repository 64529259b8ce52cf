// An HTTP front for dynalite that adds the one operation it lacks, TransactWriteItems. Every other
// request goes to dynalite unchanged; a transaction is played as dynalite's own conditional
// single-item writes (so conditions and update expressions keep dynalite's exact semantics), undone
// from their old images when one item is refused, and nothing else reaches dynalite meanwhile.
import { randomUUID } from "node:crypto";
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import { crc32 } from "node:zlib";

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  body: Json;
}
interface Reason {
  Code: string;
  Message?: string;
  Item?: unknown;
}
/** An item written by the transaction and how to put it back. */
interface Written {
  table: string;
  key: Json;
  old: Json | undefined;
}

const KINDS = ["Put", "Update", "Delete", "ConditionCheck"] as const;
const API = "DynamoDB_20120810";
const VALIDATION = "com.amazon.coral.validate#ValidationException";
// Errors dynalite raises while applying an update to the stored item (not while parsing it): real
// DynamoDB reports these as the item's "ValidationError" cancellation reason, not as a refused call.
const ITEM_ERRORS = new Set([
  "The provided expression refers to an attribute that does not exist in the item",
  "An operand in the update expression has an incorrect data type",
  "The document path provided in the update expression is invalid for update",
  "Type mismatch for attribute to update",
  "Item size to update has exceeded the maximum allowed size",
]);

/**
 * Any number of plain requests at once, a transaction alone; first come, first served, so a
 * request that arrives during a transaction waits and is released after it, in arrival order.
 */
class Gate {
  #running = 0;
  #exclusive = false;
  readonly #waiting: { exclusive: boolean; start: () => void }[] = [];

  async run<T>(exclusive: boolean, work: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.#waiting.push({ exclusive, start });
      this.#admit();
    });
    try {
      return await work();
    } finally {
      this.#running -= 1;
      this.#exclusive = false; // only ever true while the one runner is the transaction
      this.#admit();
    }
  }

  #admit(): void {
    for (let next = this.#waiting[0]; next; next = this.#waiting[0]) {
      if (this.#exclusive || (next.exclusive && this.#running > 0)) return;
      this.#waiting.shift();
      this.#running += 1;
      this.#exclusive = next.exclusive;
      next.start();
    }
  }
}

/**
 * The front: serves on its own server, sends to dynalite at `dynalite` (host:port). `onRequest`
 * hears the operation of every request the front receives (a transaction once, its inner
 * single-item operations never, as they go to dynalite directly).
 */
export function transactionFront(dynalite: string, onRequest: (operation: string) => void): Server {
  const url = new URL(`http://${dynalite}`);
  const agent = new Agent({ keepAlive: true });
  const gate = new Gate();

  function send(method: string, path: string, headers: OutgoingHttpHeaders, body: Buffer) {
    return new Promise<{ status: number; headers: string[]; body: Buffer }>((resolve, reject) => {
      const options = { host: url.hostname, port: url.port, method, path, headers, agent };
      const outgoing = request(options, (incoming) => {
        readBody(incoming).then(
          (bytes) =>
            resolve({
              status: incoming.statusCode ?? 500,
              headers: incoming.rawHeaders,
              body: bytes,
            }),
          reject,
        );
      });
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  }

  /** One single-item (or DescribeTable) call to dynalite, signed as the transaction was. */
  async function call(incoming: IncomingHttpHeaders, operation: string, payload: Json) {
    const body = Buffer.from(JSON.stringify(payload));
    const headers: OutgoingHttpHeaders = {
      // dynalite checks that these are present, not what they sign (absent: it refuses, as AWS would)
      ...(incoming.authorization && { authorization: incoming.authorization }),
      ...(incoming["x-amz-date"] && { "x-amz-date": incoming["x-amz-date"] }),
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `${API}.${operation}`,
      "content-length": body.length,
    };
    const answer = await send("POST", "/", headers, body);
    return { status: answer.status, body: JSON.parse(answer.body.toString()) as Json };
  }

  async function transact(headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
    let input: Json;
    try {
      input = JSON.parse(body.toString()) as Json;
    } catch {
      return { status: 400, body: { __type: "com.amazon.coral.service#SerializationException" } };
    }
    const items = input.TransactItems;
    if (!Array.isArray(items) || items.length < 1 || items.length > 100) {
      const limit =
        Array.isArray(items) && items.length > 100
          ? "less than or equal to 100"
          : "greater than or equal to 1";
      return invalid(
        `1 validation error detected: Value '${JSON.stringify(items ?? null)}' at 'transactItems' failed to satisfy constraint: Member must have length ${limit}`,
      );
    }
    const operations: { kind: (typeof KINDS)[number]; op: Json }[] = [];
    for (const item of items as unknown[]) {
      const kinds = KINDS.filter((kind) => isObject(item) && isObject(item[kind]));
      const kind = kinds[0];
      const op = kind && isObject(item) ? item[kind] : undefined;
      if (kinds.length !== 1 || !kind || !isObject(op) || typeof op.TableName !== "string") {
        return invalid("TransactItems can only contain one of Check, Put, Update or Delete");
      }
      operations.push({ kind, op });
    }

    // The key of each item, from its table's key schema, to refuse two operations on one item as
    // DynamoDB does; that rule is also what makes playing the items one by one exact (below).
    const keyNames = new Map<string, string[]>();
    for (const table of new Set(operations.map(({ op }) => String(op.TableName)))) {
      const described = await call(headers, "DescribeTable", { TableName: table });
      if (described.status !== 200) return described;
      const schema = (described.body.Table as { KeySchema: { AttributeName: string }[] }).KeySchema;
      keyNames.set(
        table,
        schema.map((k) => k.AttributeName),
      );
    }
    const seen = new Set<string>();
    const keys = operations.map(({ kind, op }) => {
      const source = (kind === "Put" ? op.Item : op.Key) as Json | undefined;
      const names = keyNames.get(String(op.TableName)) ?? [];
      const key = Object.fromEntries(names.map((name) => [name, source?.[name]]));
      seen.add(JSON.stringify([op.TableName, names.map((name) => key[name])]));
      return key;
    });
    if (seen.size !== operations.length) {
      return invalid("Transaction request cannot include multiple operations on one item");
    }

    // Every item is played, even after one is refused, so that each refused condition is reported
    // as real DynamoDB does. No item can see another's write: they are all on different items.
    const written: Written[] = [];
    const reasons: Reason[] = [];
    let refused: Answer | undefined;
    try {
      for (const [i, { kind, op }] of operations.entries()) {
        const table = String(op.TableName);
        const key = keys[i] ?? {};
        const common = {
          TableName: table,
          ConditionExpression: op.ConditionExpression,
          ExpressionAttributeNames: op.ExpressionAttributeNames,
          ExpressionAttributeValues: op.ExpressionAttributeValues,
          ReturnValues: "ALL_OLD",
        };
        // A ConditionCheck is an UpdateItem that updates nothing: dynalite writes back a copy of
        // the item, or creates it from its key when absent, so it is put back at once.
        const done =
          kind === "Put"
            ? await call(headers, "PutItem", { ...common, Item: op.Item })
            : kind === "Delete"
              ? await call(headers, "DeleteItem", { ...common, Key: op.Key })
              : await call(headers, "UpdateItem", {
                  ...common,
                  Key: op.Key,
                  UpdateExpression: kind === "Update" ? op.UpdateExpression : undefined,
                });
        if (done.status === 200) {
          const change = { table, key, old: done.body.Attributes as Json | undefined };
          if (kind === "ConditionCheck") await restore(headers, change);
          else written.push(change);
          reasons.push({ Code: "None" });
          continue;
        }
        const type = String(done.body.__type ?? "");
        const message = String(done.body.message ?? done.body.Message ?? "");
        if (type.endsWith("#ConditionalCheckFailedException")) {
          const reason: Reason = { Code: "ConditionalCheckFailed", Message: message };
          if (op.ReturnValuesOnConditionCheckFailure === "ALL_OLD") {
            const read = await call(headers, "GetItem", {
              TableName: table,
              Key: key,
              ConsistentRead: true,
            });
            if (read.body.Item) reason.Item = read.body.Item;
          }
          reasons.push(reason);
        } else if (type.endsWith("#ValidationException") && ITEM_ERRORS.has(message)) {
          reasons.push({ Code: "ValidationError", Message: message });
        } else {
          // A malformed item or a missing table refuses the whole call, as in DynamoDB.
          refused = done;
          break;
        }
      }
    } catch (error) {
      await undo(headers, written);
      throw error;
    }
    if (refused) {
      await undo(headers, written);
      return refused;
    }
    if (reasons.every((reason) => reason.Code === "None")) return { status: 200, body: {} };
    await undo(headers, written);
    const codes = reasons.map((reason) => reason.Code).join(", ");
    return {
      status: 400,
      body: {
        __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        // "Message", as DynamoDB spells it: the SDK reads it into both error.message and error.Message
        Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
        CancellationReasons: reasons,
      },
    };
  }

  async function restore(headers: IncomingHttpHeaders, { table, key, old }: Written) {
    const done = old
      ? await call(headers, "PutItem", { TableName: table, Item: old })
      : await call(headers, "DeleteItem", { TableName: table, Key: key });
    if (done.status !== 200) throw new Error(`undo failed: ${JSON.stringify(done.body)}`);
  }

  async function undo(headers: IncomingHttpHeaders, written: Written[]) {
    for (const change of [...written].reverse()) await restore(headers, change);
  }

  return createServer((req, res) => {
    const operation = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "unknown";
    onRequest(operation);
    void readBody(req)
      .then(async (body) => {
        if (req.method === "POST" && operation === "TransactWriteItems") {
          reply(res, await gate.run(true, () => transact(req.headers, body)));
        } else {
          const path = req.url ?? "/";
          const answer = await gate.run(false, () =>
            send(req.method ?? "POST", path, req.headers, body),
          );
          res.writeHead(answer.status, withoutHopByHop(answer.headers)).end(answer.body);
        }
      })
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (!res.headersSent) {
          reply(res, {
            status: 500,
            body: { __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message },
          });
        }
      });
  }).on("close", () => agent.destroy());
}

function reply(res: ServerResponse, { status, body }: Answer): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.0",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": randomUUID(),
    "x-amz-crc32": crc32(text),
  });
  res.end(text);
}

function invalid(message: string): Answer {
  return { status: 400, body: { __type: VALIDATION, message } };
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** dynalite's answer headers, minus those that describe its own connection rather than the answer. */
function withoutHopByHop(raw: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (!/^(connection|keep-alive|transfer-encoding)$/i.test(name))
      kept.push(name, raw[i + 1] ?? "");
  }
  return kept;
}
