// `npm start`: the whole pipeline on this machine, no AWS account and no CUC needed.
//   local-aws-sqs (queue + DLQ with the production redrive policy), the Secrets Manager stand-in,
//   the CUPI simulator over HTTPS, the EventBridge stand-in routing outcome events to a local
//   "ticketing" queue, and a poller with Lambda's event-source semantics invoking the real handler.
//   Sends every event in examples/, prints what became of each and the outcome event a ticketing
//   system received for it, keeps polling.
// Options: --once (exit after the examples), --logs (show the function's JSON logs),
//   --no-examples (start the stack and poll, sending nothing). With CUPI_BASE_URL and --service-account <file> (the secret's JSON:
//   {"username","password","caCertificate"?}) it talks to a real CUC instead of the simulator,
//   and sends no examples.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { createLogger } from "../lib/logging/logger.ts";
import { listDeadLetters, REDRIVEN } from "../lib/operations/queue-tools.ts";
import { createResetHandlerFromEnvironment } from "../lib/reset/wiring.ts";
import type { SimulatedUser } from "./cupi-simulator/index.ts";
import type { EventEnvelope } from "./eventbridge/put-events.ts";
import { startLocalStack } from "./local-stack.ts";
import { takeOutcomeEvents } from "./outcome-route.ts";
import { createEventSourcePoller } from "./sqs/event-source-poller.ts";
import { messagesOnQueue } from "./sqs/queue-depth.ts";

const { values } = parseArgs({
  options: {
    once: { type: "boolean", default: false },
    logs: { type: "boolean", default: false },
    "no-examples": { type: "boolean", default: false },
    "service-account": { type: "string" },
  },
});

const realCupi = process.env.CUPI_BASE_URL;
if (realCupi !== undefined && values["service-account"] === undefined) {
  console.error("CUPI_BASE_URL is set: also pass --service-account <file with the secret's JSON>");
  process.exit(2);
}
const examplesDir = new URL("../examples/", import.meta.url);
const readJson = async (url: URL) => JSON.parse(await readFile(url, "utf8"));
const users: SimulatedUser[] = await readJson(
  new URL("./cupi-simulator/users.json", import.meta.url),
);
const secrets: Record<string, string> = await readJson(
  new URL("./demo-secrets.json", import.meta.url),
);

const stack = await startLocalStack({
  users,
  secrets,
  visibilityTimeoutSeconds: 2,
  // As deployed (serverless.yml's cupiMaxInFlight): one CUPI request in flight per container.
  environment: {
    CUPI_MAX_IN_FLIGHT: "1",
    ...(realCupi === undefined ? {} : { CUPI_BASE_URL: realCupi }),
  },
  ...(values["service-account"] === undefined
    ? {}
    : { serviceAccountSecret: await readFile(values["service-account"], "utf8") }),
});
Object.assign(process.env, stack.environment);
const handler = createResetHandlerFromEnvironment(
  process.env,
  createLogger({ logLevel: values.logs ? "INFO" : "SILENT" }),
);

const retries = new Map<string, number>();
const deleted = new Set<string>();
/** After the examples: every settled event is printed as it comes, retries too. */
let followLive = false;
const poller = createEventSourcePoller({
  sqs: stack.sqs,
  queueUrl: stack.queues.queueUrl,
  queueArn: stack.queues.queueArn,
  handler,
  maximumBatchingWindowSeconds: 0,
  onInvocation: (report) => {
    for (const id of report.failedMessageIds) {
      retries.set(id, (retries.get(id) ?? 0) + 1);
      if (followLive) {
        console.log(
          `${timeOfDay()}  message ${id}: failed transiently, will be retried (--logs shows why)`,
        );
      }
    }
    for (const id of report.deletedMessageIds) deleted.add(id);
  },
});

console.log(`CUPI:            ${realCupi ?? `${stack.simulator.url} (simulator)`}`);
console.log(`SQS:             ${stack.queues.queueUrl} (DLQ ${stack.queues.dlqUrl})`);
console.log(`Secrets Manager: ${stack.secretsManager.url}`);
console.log(
  `EventBridge:     ${stack.eventBridge.url} (bus ${stack.environment.OUTCOME_EVENT_BUS}; a rule sends every outcome to ${stack.ticketingQueueUrl})`,
);

const sent = new Map<string, string>();
if (realCupi === undefined && !values["no-examples"]) {
  const files = (await readdir(examplesDir)).filter((name) => name.endsWith(".json")).sort();
  for (const file of files) {
    // Sent as they are (the CLI would refuse the plaintext-PIN example), to show what the
    // service itself does with each.
    const body = await readFile(join(fileURLToPath(examplesDir), file), "utf8");
    const { MessageId } = await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: body }),
    );
    sent.set(MessageId ?? file, file);
  }
  // CUC fails for a moment: of the two records started first, one at least exhausts its 4
  // in-call attempts and comes back. (503s would not show this: the adaptive limit waits them out
  // within the delivery.)
  stack.simulator.injectFaults(...Array<"500-html">(8).fill("500-html"));
  console.log(`\nSent ${sent.size} example events (CUC answers the first 8 requests 500)…`);
  await drainQueue();
  await printOutcomes();
  await printOutcomeEvents();
}

if (values.once) {
  await handler.close();
  await stack.close();
} else {
  followLive = true;
  poller.start();
  const following = followOutcomeEvents();
  printNextSteps();
  process.once("SIGINT", () => {
    void (async () => {
      followLive = false;
      await following;
      await poller.stop();
      await handler.close();
      await stack.close();
    })();
  });
}

/** What to paste into another terminal, and what to try there. */
function printNextSteps(): void {
  const environment = {
    AWS_REGION: stack.environment.AWS_REGION,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_SQS: stack.environment.AWS_ENDPOINT_URL_SQS,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: stack.environment.AWS_ENDPOINT_URL_SECRETS_MANAGER,
    AWS_ENDPOINT_URL_DYNAMODB: stack.environment.AWS_ENDPOINT_URL_DYNAMODB,
    AWS_ENDPOINT_URL_EVENTBRIDGE: stack.environment.AWS_ENDPOINT_URL_EVENTBRIDGE,
    QUEUE_URL: stack.queues.queueUrl,
    DLQ_URL: stack.queues.dlqUrl,
    STATE_TABLE: stack.environment.STATE_TABLE,
    // As the function has it, so that `check` judges deliverTo as the function would.
    DELIVERY_SECRET_PREFIX: stack.environment.DELIVERY_SECRET_PREFIX,
  };
  console.log("\nStill polling; each event's outcome is printed here as it settles.");
  console.log("In another terminal, paste:\n");
  for (const [name, value] of Object.entries(environment)) console.log(`export ${name}=${value}`);
  console.log("\nthen, for example:");
  if (realCupi === undefined) {
    console.log("  npm run cli -- send examples/ok-unlock-pin-mrossi.json");
  } else {
    // A demo event would change a real user's PIN: the operator writes one for a test user.
    console.log(
      "  (a real CUC: write an event for a test user of yours, as in examples/README.md)\n" +
        "  npm run cli -- seed-secret cupi-reset/resets/<ticket> --pin -   # the new PIN, from stdin\n" +
        "  npm run cli -- send <your-event.json>",
    );
  }
  console.log("  npm run cli -- dlq list");
  console.log("  npm run cli -- status <eventId>");
  console.log("Ctrl+C stops everything.");
}

/** HH:MM:SS (UTC), the start of each live line. */
function timeOfDay(): string {
  return new Date().toISOString().slice(11, 19);
}

/** Prints each outcome event the ticketing queue receives, one readable line each. */
async function followOutcomeEvents(): Promise<void> {
  while (followLive) {
    for (const event of await takeOutcomeEvents(stack.sqs, stack.ticketingQueueUrl)) {
      console.log(`${timeOfDay()}  ${summary(event)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Polls like the event source mapping until nothing is left, retries included. */
async function drainQueue(): Promise<void> {
  for (;;) {
    if ((await poller.pollOnce()) !== undefined) continue;
    if ((await messagesOnQueue(stack.sqs, stack.queues.queueUrl)) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function printOutcomes(): Promise<void> {
  const deadLetters = await listDeadLetters(stack.sqs, stack.queues.dlqUrl);
  const rows = [...sent].map(([messageId, file]) => {
    const letter = deadLetters.find(
      (entry) => entry.sourceMessageId === messageId || entry.messageId === messageId,
    );
    const retried = retries.get(messageId) ?? 0;
    if (letter === undefined) {
      return {
        file,
        // Deleted by the poller and not on the DLQ: the function reported success.
        outcome: deleted.has(messageId) ? "applied" : "unaccounted for",
        retries: retried,
        errorCode: "-",
        detail: "",
      };
    }
    return {
      file,
      outcome: letter.errorCode === REDRIVEN ? "dead-lettered by redrive" : "dead-lettered",
      retries: retried,
      errorCode: letter.errorCode,
      detail:
        letter.errorMessage.length > 70
          ? `${letter.errorMessage.slice(0, 69)}…`
          : letter.errorMessage,
    };
  });
  console.table(rows);
  console.log(
    "retries: deliveries that failed transiently (CUC busy) and came back through SQS after the\n" +
      "function's backoff (1-2 s here; 15 s to 15 min on AWS, growing with each retry).",
  );
  const stats = stack.simulator.stats;
  console.log(
    `CUC saw ${stats.requests} requests, ${stats.freshAuthentications} fresh authentication(s), ` +
      `at most ${stats.peakConcurrency} at once. \`npm run cli -- dlq list\` groups the DLQ by errorCode.`,
  );
}

/** What a ticketing system reading the outcome queue received, one line per example. */
async function printOutcomeEvents(): Promise<void> {
  await stack.eventBridge.settled();
  const received = await takeOutcomeEvents(stack.sqs, stack.ticketingQueueUrl);
  const bySourceMessage = new Map<string, EventEnvelope[]>();
  for (const event of received) {
    const messageId = String(event.detail.sourceMessageId);
    bySourceMessage.set(messageId, [...(bySourceMessage.get(messageId) ?? []), event]);
  }
  console.log(
    `\nOutcome events on the ticketing queue (${received.length}), as a ticketing or HR system receives them:`,
  );
  for (const [messageId, file] of sent) {
    const events = bySourceMessage.get(messageId) ?? [];
    if (events.length === 0) console.log(`  ${file}: none`);
    for (const event of events) console.log(`  ${file}: ${summary(event)}`);
  }
  const sample = received.find((event) => event.detail.outcome === "applied") ?? received[0];
  if (sample !== undefined) {
    console.log("\nOne of them in full (the contract: schemas/reset-outcome.v1.schema.json):");
    console.log(JSON.stringify(sample, null, 2));
  }
}

function summary(event: EventEnvelope): string {
  const detail = event.detail as Record<string, unknown> & {
    user?: { alias?: string; objectId?: string };
    fieldsChanged?: { credential: string; fields: string[] }[];
  };
  const parts = [
    event["detail-type"],
    detail.eventId === undefined ? "no eventId" : `eventId ${String(detail.eventId)}`,
    detail.ticketId === undefined ? "" : `ticket ${String(detail.ticketId)}`,
    detail.user?.alias ?? detail.user?.objectId ?? "",
    detail.errorCode === undefined ? "" : String(detail.errorCode),
    (detail.fieldsChanged ?? [])
      .map((changed) => `${changed.credential}: ${changed.fields.join(",")}`)
      .join("; "),
    detail.deliveredTo === undefined ? "" : `value in ${String(detail.deliveredTo)}`,
    detail.duplicate === true ? "duplicate" : "",
  ];
  return parts.filter((part) => part !== "").join(" | ");
}
