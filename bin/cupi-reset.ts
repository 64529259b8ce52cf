// Operator CLI. Works against AWS or the local stack (AWS_ENDPOINT_URL_SQS):
//   npm run cli -- send examples/ok-reset-pin-jsmith.json [more files]   (QUEUE_URL)
//   npm run cli -- check examples/*.json                                 (no AWS needed)
//   npm run cli -- dlq list [--max 1000]                                 (DLQ_URL)
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { SQSClient } from "@aws-sdk/client-sqs";
import {
  checkEvent,
  groupByErrorCode,
  listDeadLetters,
  sendEvent,
} from "../lib/operations/queue-tools.ts";

const USAGE = `usage:
  cupi-reset send <event.json>... [--queue-url URL]   (default: $QUEUE_URL)
  cupi-reset check <event.json>...                    (validate without sending)
  cupi-reset dlq list [--dlq-url URL] [--max N]       (default: $DLQ_URL)`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    "queue-url": { type: "string" },
    "dlq-url": { type: "string" },
    max: { type: "string", default: "1000" },
  },
});

function required(name: string, value: string | undefined): string {
  if (value === undefined || value === "") {
    console.error(`${name} is not set\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

const [command, ...rest] = positionals;
if (command === "send" && rest.length > 0) {
  const queueUrl = required(
    "--queue-url / QUEUE_URL",
    values["queue-url"] ?? process.env.QUEUE_URL,
  );
  const sqs = new SQSClient({});
  for (const file of rest) {
    const messageId = await sendEvent(sqs, queueUrl, await readFile(file, "utf8"));
    console.log(`${file}: sent as ${messageId}`);
  }
} else if (command === "check" && rest.length > 0) {
  let invalid = 0;
  for (const file of rest) {
    const verdict = checkEvent(await readFile(file, "utf8"));
    if (!verdict.ok) invalid++;
    console.log(`${file}: ${verdict.ok ? "valid" : `INVALID_EVENT: ${verdict.reason}`}`);
  }
  process.exitCode = invalid > 0 ? 1 : 0;
} else if (command === "dlq" && rest[0] === "list") {
  const dlqUrl = required("--dlq-url / DLQ_URL", values["dlq-url"] ?? process.env.DLQ_URL);
  const entries = await listDeadLetters(new SQSClient({}), dlqUrl, Number(values.max));
  if (entries.length === 0) console.log("the DLQ is empty");
  for (const [errorCode, group] of groupByErrorCode(entries)) {
    console.log(`\n${errorCode} (${group.length})`);
    for (const entry of group) {
      const who = [entry.eventId, entry.source, entry.action].filter(Boolean).join(" ");
      console.log(`  ${entry.failedAt ?? "-"}  ${who || entry.messageId}  ${entry.errorMessage}`);
    }
  }
} else {
  console.error(USAGE);
  process.exit(2);
}
