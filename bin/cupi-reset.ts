// Operator CLI. Works against AWS or the local stack (AWS_ENDPOINT_URL_SQS):
//   npm run cli -- send examples/ok-reset-pin-jsmith.json [more files]   (QUEUE_URL)
//   npm run cli -- check examples/*.json                                 (no AWS needed)
//   npm run cli -- dlq list [--max 1000]                                 (DLQ_URL)
//   npm run cli -- dlq replay --error-code SECRET_NOT_FOUND --dry-run     (DLQ_URL, QUEUE_URL)
//   npm run cli -- status hd-INC0042-1 [more eventIds]                     (STATE_TABLE, DLQ_URL)
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS } from "../lib/config/config.ts";
import { formatEventStatus, statusOfEvents } from "../lib/operations/event-status.ts";
import {
  checkEvent,
  groupByErrorCode,
  listDeadLetters,
  sendEvent,
} from "../lib/operations/queue-tools.ts";
import {
  isMoveTaskActive,
  moveTaskProgress,
  parseReplayRequest,
  queueArnOf,
  ReplayInputError,
  ReplayRefused,
  type ReplayReport,
  type ReplayRequest,
  refuseInvalidEvents,
  replaySelected,
  startMoveAll,
} from "../lib/operations/replay.ts";

const USAGE = `usage:
  cupi-reset send <event.json>... [--queue-url URL]   (default: $QUEUE_URL)
  cupi-reset check <event.json>...                    (validate without sending)
  cupi-reset dlq list [--dlq-url URL] [--max N]       (default: $DLQ_URL)
  cupi-reset dlq replay [--error-code C]... [--event-id E]... [--source S]
                        [--since ISO] [--until ISO] [--dry-run] [--rate N] [--max N] [--force]
  cupi-reset dlq replay --all [--rate N] [--force]    (a move task: everything, unfiltered)
  cupi-reset dlq replay --progress                    (follow the latest move task)
  cupi-reset status <eventId>... [--table T] [--dlq-url URL] [--max N] [--json]
                                    (default: $STATE_TABLE, $DLQ_URL; exit 0 when all applied)
      --dlq-url / $DLQ_URL, --queue-url / $QUEUE_URL; ARNs from $DLQ_ARN and $QUEUE_ARN, else
      looked up. INVALID_EVENT messages are replayed only with --force.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    "queue-url": { type: "string" },
    "dlq-url": { type: "string" },
    max: { type: "string" },
    all: { type: "boolean", default: false },
    "error-code": { type: "string", multiple: true },
    "event-id": { type: "string", multiple: true },
    source: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    rate: { type: "string" },
    force: { type: "boolean", default: false },
    progress: { type: "boolean", default: false },
    table: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

function required(name: string, value: string | undefined): string {
  if (value === undefined || value === "") {
    console.error(`${name} is not set\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

/**
 * An SQS client for the queue named: the region comes from AWS_REGION, or else from the queue
 * URL itself (sqs.<region>.amazonaws.com), so operators need not set it by hand.
 */
function sqsClientFor(queueUrl: string): SQSClient {
  const region = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(queueUrl)?.[1];
  return new SQSClient(process.env.AWS_REGION || region === undefined ? {} : { region });
}

function positiveNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    console.error(`${flag} must be a positive whole number, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return parsed;
}

const [command, ...rest] = positionals;
if (command === "send" && rest.length > 0) {
  const queueUrl = required(
    "--queue-url / QUEUE_URL",
    values["queue-url"] ?? process.env.QUEUE_URL,
  );
  const sqs = sqsClientFor(queueUrl);
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
  const entries = await listDeadLetters(
    sqsClientFor(dlqUrl),
    dlqUrl,
    positiveNumber("--max", values.max, 1000),
  );
  if (entries.length === 0) console.log("the DLQ is empty");
  for (const [errorCode, group] of groupByErrorCode(entries)) {
    console.log(`\n${errorCode} (${group.length})`);
    for (const entry of group) {
      const who = [entry.eventId, entry.source, entry.action].filter(Boolean).join(" ");
      console.log(`  ${entry.failedAt ?? "-"}  ${who || entry.messageId}  ${entry.errorMessage}`);
    }
  }
} else if (command === "dlq" && rest[0] === "replay") {
  const request = replayRequestFromFlags();
  const dlqUrl = required("--dlq-url / DLQ_URL", values["dlq-url"] ?? process.env.DLQ_URL);
  const sqs = sqsClientFor(dlqUrl);
  const queueUrl = () =>
    required("--queue-url / QUEUE_URL", values["queue-url"] ?? process.env.QUEUE_URL);
  const dlqArn = async () => process.env.DLQ_ARN || (await queueArnOf(sqs, dlqUrl));
  switch (request.mode) {
    case "selected":
      process.exitCode = await replaySome(sqs, request, dlqUrl, queueUrl());
      break;
    case "all": {
      const queueArn = process.env.QUEUE_ARN || (await queueArnOf(sqs, queueUrl()));
      process.exitCode = await moveAll(sqs, request, dlqUrl, await dlqArn(), queueArn);
      break;
    }
    case "progress":
      process.exitCode = await followMoveTask(sqs, await dlqArn());
      break;
  }
} else if (command === "status" && rest.length > 0) {
  const stateTable = required("--table / STATE_TABLE", values.table ?? process.env.STATE_TABLE);
  const dlqUrl = values["dlq-url"] ?? process.env.DLQ_URL;
  const sqs = dlqUrl ? sqsClientFor(dlqUrl) : undefined;
  const statuses = await statusOfEvents(rest, {
    // In the DLQ's region when AWS_REGION is not set, as the SQS client is.
    dynamodb: new DynamoDBClient(sqs === undefined ? {} : { region: await sqs.config.region() }),
    stateTable,
    ...(sqs === undefined || !dlqUrl
      ? {}
      : {
          deadLetters: () =>
            listDeadLetters(sqs, dlqUrl, positiveNumber("--max", values.max, 1000)),
        }),
    idempotencyExpirySeconds:
      Number(process.env.IDEMPOTENCY_EXPIRY_SECONDS) || DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS,
  });
  for (const status of statuses) {
    console.log(values.json ? JSON.stringify(status) : formatEventStatus(status));
  }
  process.exitCode = statuses.every((status) => status.state === "applied") ? 0 : 1;
} else {
  console.error(USAGE);
  process.exit(2);
}

/**
 * The flags as the request the replay Lambda takes, checked the same way: a flag that does not
 * belong to the mode is refused by name.
 */
function replayRequestFromFlags(): ReplayRequest {
  const mode = values.progress ? "progress" : values.all ? "all" : "selected";
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  const input = {
    mode,
    errorCodes: values["error-code"],
    eventIds: values["event-id"],
    source: values.source,
    since: values.since,
    until: values.until,
    dryRun: values["dry-run"] || undefined,
    max: values.max === undefined ? undefined : Number(values.max),
    force: values.force || undefined,
    [mode === "all" ? "maxVelocity" : "ratePerSecond"]: rate,
  };
  try {
    return parseReplayRequest(
      Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)),
    );
  } catch (error) {
    if (!(error instanceof ReplayInputError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
}

async function replaySome(
  sqs: SQSClient,
  request: Extract<ReplayRequest, { mode: "selected" }>,
  dlqUrl: string,
  queueUrl: string,
): Promise<number> {
  // Ctrl-C stops between messages; what is left on the DLQ becomes visible again at once.
  const interrupt = new AbortController();
  process.once("SIGINT", () => interrupt.abort());
  const bar = progressBar(process.stderr);
  const report = await replaySelected(sqs, {
    ...request,
    dlqUrl,
    queueUrl,
    signal: interrupt.signal,
    onProgress: (progress) =>
      bar.update(progress.examined, progress.dlqDepthAtStart, tally(progress)),
  });
  bar.update(report.examined, report.dlqDepthAtStart, tally(report), true);
  printReport(report);
  return report.failed > 0 ? 1 : 0;
}

async function moveAll(
  sqs: SQSClient,
  request: Extract<ReplayRequest, { mode: "all" }>,
  dlqUrl: string,
  dlqArn: string,
  queueArn: string,
): Promise<number> {
  try {
    if (!request.force) await refuseInvalidEvents(sqs, dlqUrl);
  } catch (error) {
    if (!(error instanceof ReplayRefused)) throw error;
    console.error(`refused: ${error.message} (--force)`);
    return 1;
  }
  await startMoveAll(sqs, { dlqArn, sourceArn: queueArn, maxVelocity: request.maxVelocity });
  return followMoveTask(sqs, dlqArn);
}

/** Shows the DLQ's latest move task until it ends; Ctrl-C stops watching, not the task. */
async function followMoveTask(sqs: SQSClient, dlqArn: string): Promise<number> {
  const bar = progressBar(process.stderr);
  for (;;) {
    const progress = await moveTaskProgress(sqs, dlqArn);
    if (progress === undefined) {
      console.log("no move task on this DLQ in the last 14 days");
      return 0;
    }
    const active = isMoveTaskActive(progress);
    bar.update(progress.moved, progress.total ?? 0, progress.status.toLowerCase(), !active);
    if (!active) {
      const reason = progress.failureReason === undefined ? "" : ` (${progress.failureReason})`;
      console.log(
        `move task ${progress.status}${reason}: ${progress.moved} of ${progress.total ?? "?"} moved to ${progress.destinationArn ?? "the source queues"}`,
      );
      return progress.status === "COMPLETED" ? 0 : 1;
    }
    await sleep(1_000);
  }
}

function tally(report: Readonly<ReplayReport>): string {
  const skipped = Object.values(report.skipped)
    .flatMap((byCode) => Object.values(byCode))
    .reduce((sum, count) => sum + count, 0);
  const verb = report.dryRun ? "would replay" : "replayed";
  return `examined, ${verb} ${report.replayed}, skipped ${skipped}, failed ${report.failed}`;
}

function printReport(report: ReplayReport): void {
  const byCode = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([code, count]) => `${code} ${count}`)
      .join(", ") || "none";
  console.log(
    report.dryRun
      ? `dry run: ${report.replayed} message(s) would be replayed; nothing was sent or deleted`
      : `replayed ${report.replayed} message(s) to the source queue`,
  );
  console.log(`examined ${report.examined}, matched ${report.matched}`);
  console.log(`skipped, not matching: ${byCode(report.skipped["not-matched"])}`);
  console.log(
    `skipped, INVALID_EVENT without --force: ${byCode(report.skipped["invalid-event-without-force"])}`,
  );
  if (report.dryRun) {
    for (const message of report.messages) {
      console.log(
        `  ${message.eventId ?? message.messageId}  ${message.errorCode}  replayCount ${message.replayCount}`,
      );
    }
  }
  if (report.failed > 0) {
    console.log(`failed ${report.failed} (left on the DLQ; run again to retry):`);
    for (const failure of report.failures) {
      console.log(`  ${failure.eventId ?? failure.messageId}  ${failure.stage}: ${failure.error}`);
    }
  }
  if (report.stoppedBy !== undefined) console.log(`stopped early: ${report.stoppedBy}`);
}

/** A bar redrawn in place on a terminal; elsewhere (a log), a plain line every few seconds. */
function progressBar(stream: NodeJS.WriteStream) {
  const width = 30;
  let lastDrawnAt = 0;
  return {
    update(done: number, total: number, detail: string, final = false): void {
      const now = Date.now();
      if (!final && now - lastDrawnAt < (stream.isTTY ? 100 : 5_000)) return;
      lastDrawnAt = now;
      const filled = Math.round((Math.min(done, total) / Math.max(total, 1)) * width);
      const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${detail}`;
      stream.write(stream.isTTY ? `\r${line}\x1b[K${final ? "\n" : ""}` : `${line}\n`);
    },
  };
}
