// Operator CLI: parses flags and prints; the work is done in lib/operations/. Works against AWS or
// the local stack (AWS_ENDPOINT_URL_SQS, …); `--help` on any command says more.
//   npm run cli -- check examples/*.json                     (offline: contract and authorization)
//   npm run cli -- send examples/ok-reset-pin-jsmith.json [more files]        ($QUEUE_URL)
//   npm run cli -- dlq list [--max 1000]                                       ($DLQ_URL)
//   npm run cli -- dlq replay --error-code SECRET_NOT_FOUND --dry-run           ($DLQ_URL, $QUEUE_URL)
//   npm run cli -- status hd-INC0042-1 [more eventIds]                    ($STATE_TABLE, $DLQ_URL)
//   printf '%s' "$PIN" | npm run cli -- seed-secret cupi-reset/resets/INC0042 --pin -
//   npm run cli -- guard status helpdesk | guard release helpdesk --for 2h      ($STATE_TABLE)
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import {
  Command,
  type CommandUnknownOpts,
  InvalidArgumentError,
  Option,
} from "@commander-js/extra-typings";
import { DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS } from "../lib/config/config.ts";
import { BlastRadiusGuard, type BlastRadiusLimits } from "../lib/guard/blast-radius.ts";
import {
  checkEventFiles,
  type FileOutcome,
  formatFileOutcome,
  sendEventFiles,
} from "../lib/operations/event-files.ts";
import { formatEventStatus, statusOfEvents } from "../lib/operations/event-status.ts";
import { failureSentence } from "../lib/operations/failure-sentence.ts";
import { describeSourceHour, parseReleaseDuration } from "../lib/operations/guard-tools.ts";
import { offlineRulesFromEnvironment } from "../lib/operations/offline-check.ts";
import { groupByErrorCode, listDeadLetters, sendEvent } from "../lib/operations/queue-tools.ts";
import {
  isMoveTaskActive,
  moveTaskProgress,
  parseReplayRequest,
  queueArnOf,
  type ReplayInputNames,
  ReplayRefused,
  type ReplayReport,
  type ReplayRequest,
  refuseInvalidEvents,
  replaySelected,
  startMoveAll,
} from "../lib/operations/replay.ts";
import {
  describeSeeded,
  readPipedValue,
  refuseSeedName,
  SeedRefused,
  seedSecret,
} from "../lib/operations/seed-secret.ts";
import packageJson from "../package.json" with { type: "json" };

/** A refusal of what was asked, before anything was done: printed as it is. */
class UsageError extends Error {}

/** The replay flags in an error's words: --rate, not ratePerSecond; errorCodes.0 is --error-code. */
const FLAG_NAMES: ReplayInputNames = {
  field: (path) => flagOf(path.split(".")[0] ?? path),
  mode: (mode) =>
    ({ selected: "a selective replay", all: "--all", progress: "--progress" })[mode] ?? mode,
  separator: " ",
};

function flagOf(name: string): string {
  return (
    (
      {
        errorCodes: "--error-code",
        eventIds: "--event-id",
        dryRun: "--dry-run",
        ratePerSecond: "--rate",
        maxVelocity: "--rate",
      } as Record<string, string>
    )[name] ?? `--${name}`
  );
}

const OFFLINE_RULES = `Checked offline as the function would check it with this shell's
ALLOWED_ACTIONS, RESET_SECRET_PREFIX, DELIVERY_SECRET_PREFIX, CUPI_CLUSTERS and
AUTHORIZATION_POLICY_PATH (default: the built-in config/authorization-policy.json):
the contract, allowed actions, sources and secret prefixes, and protected accounts
as the event names the user. Exit 1 when any file is refused or unreadable.`;

const program = new Command("cupi-reset")
  .description(
    "Operate cupi-reset: send and check events, read and replay the DLQ, look events up.",
  )
  // An unknown command: the error, then the commands there are.
  .showHelpAfterError();

program
  .command("check")
  .description("Say whether the function would take each event file, without AWS.")
  .argument("<files...>", "event files (JSON)")
  .addHelpText("after", `\n${OFFLINE_RULES}`)
  .action(async (files) => {
    process.exitCode = await printEach(checkEventFiles(files, offlineRules()), "valid");
  });

program
  .command("send")
  .description("Check each event file as `check` does, and send those that pass.")
  .argument("<files...>", "event files (JSON)")
  .addOption(new Option("--queue-url <url>", "the queue").env("QUEUE_URL"))
  .addHelpText(
    "after",
    `\n${OFFLINE_RULES}
To a FIFO queue (.fifo): MessageGroupId is the user (alias or objectId, as the
event names them) and MessageDeduplicationId the eventId, as producers send them.`,
  )
  .action(async (files, options) => {
    const queueUrl = required("--queue-url", "QUEUE_URL", options.queueUrl);
    const rules = offlineRules();
    const sqs = sqsClientFor(queueUrl);
    const outcomes = sendEventFiles(files, rules, (body) => sendEvent(sqs, queueUrl, body));
    process.exitCode = await printEach(outcomes, "sent");
  });

const dlq = program.command("dlq").description("Read and replay the dead-letter queue.");

dlq
  .command("list")
  .description("List DLQ messages by errorCode, without consuming them.")
  .addOption(new Option("--dlq-url <url>", "the DLQ").env("DLQ_URL"))
  .option("--max <n>", "read at most this many", wholeNumber, 1000)
  .addHelpText(
    "after",
    `
Each message read is hidden while the listing runs and made visible again at
once when it ends (if the listing is killed, after 60 s). Reading stops at --max,
once the messages visible at the start were read, or after two empty long polls.`,
  )
  .action(async (options) => {
    const dlqUrl = required("--dlq-url", "DLQ_URL", options.dlqUrl);
    const entries = await listDeadLetters(sqsClientFor(dlqUrl), dlqUrl, options.max);
    if (entries.length === 0) console.log("the DLQ is empty");
    for (const [errorCode, group] of groupByErrorCode(entries)) {
      console.log(`\n${errorCode} (${group.length})`);
      for (const entry of group) {
        const who = [entry.eventId, entry.source, entry.action].filter(Boolean).join(" ");
        console.log(`  ${entry.failedAt ?? "-"}  ${who || entry.messageId}  ${entry.errorMessage}`);
      }
    }
  });

dlq
  .command("replay")
  .description("Send DLQ messages back to the queue: those matching the filters, or --all.")
  .addOption(new Option("--dlq-url <url>", "the DLQ").env("DLQ_URL"))
  .addOption(new Option("--queue-url <url>", "where replays go").env("QUEUE_URL"))
  .option("--error-code <code...>", "only these errorCodes (repeatable)")
  .option("--event-id <id...>", "only these eventIds (repeatable)")
  .option("--source <source>", "only events of this source")
  .option("--since <iso>", "failed at or after, e.g. 2026-11-28T10:00:00Z")
  .option("--until <iso>", "failed before")
  .option("--dry-run", "say what would be replayed; send and delete nothing")
  .option("--rate <n>", "messages per second (with --all: 1 to 500)")
  .option("--max <n>", "replay at most this many")
  .option("--force", "replay INVALID_EVENT messages too")
  .option("--all", "move everything with an SQS move task (no filters)")
  .option("--progress", "follow the latest move task")
  .addHelpText(
    "after",
    `
ARNs come from $DLQ_ARN and $QUEUE_ARN, else are looked up. A replay is sent
before its DLQ copy is deleted; Ctrl-C stops between messages and leaves the rest
on the DLQ. INVALID_EVENT messages are replayed only with --force.`,
  )
  .action(async (options) => {
    const request = replayRequestFrom(options);
    const dlqUrl = required("--dlq-url", "DLQ_URL", options.dlqUrl);
    const sqs = sqsClientFor(dlqUrl);
    const queueUrl = () => required("--queue-url", "QUEUE_URL", options.queueUrl);
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
  });

program
  .command("status")
  .description("What became of each event: applied, in progress, dead-lettered or unknown.")
  .argument("<eventIds...>")
  .addOption(new Option("--table <name>", "the state table").env("STATE_TABLE"))
  .addOption(new Option("--dlq-url <url>", "the DLQ (not read without it)").env("DLQ_URL"))
  .option("--max <n>", "read at most this many DLQ messages", wholeNumber, 1000)
  .option("--json", "one JSON object per event")
  .addHelpText("after", "\nExit 0 only when every event was applied.")
  .action(async (eventIds, options) => {
    const stateTable = required("--table", "STATE_TABLE", options.table);
    const dlqUrl = options.dlqUrl;
    const sqs = dlqUrl ? sqsClientFor(dlqUrl) : undefined;
    const statuses = await statusOfEvents(eventIds, {
      // In the DLQ's region when AWS_REGION is not set, as the SQS client is.
      dynamodb: new DynamoDBClient(sqs === undefined ? {} : { region: await sqs.config.region() }),
      stateTable,
      ...(sqs === undefined || !dlqUrl
        ? {}
        : { deadLetters: () => listDeadLetters(sqs, dlqUrl, options.max) }),
      idempotencyExpirySeconds:
        Number(process.env.IDEMPOTENCY_EXPIRY_SECONDS) || DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS,
    });
    for (const status of statuses) {
      console.log(options.json ? JSON.stringify(status) : formatEventStatus(status));
    }
    process.exitCode = statuses.every((status) => status.state === "applied") ? 0 : 1;
  });

program
  .command("seed-secret")
  .description('Write the secret an event\'s newCredential names: {"pin"} or {"password"}.')
  .argument("<secret-id>", "e.g. cupi-reset/resets/INC0042")
  .option("--pin [-]", "the PIN, read from standard input")
  .option("--password [-]", "the password, read from standard input")
  .addHelpText(
    "after",
    `
The value is piped in, never given on the command line (npm, the shell history
and ps would show it), and never printed:
  read -rs PIN; printf '%s' "$PIN" |
    npm run cli -- seed-secret cupi-reset/resets/INC0042 --pin -
Creates the secret, or gives an existing one a new version. Names outside
$RESET_SECRET_PREFIX and the CUPI service-account secrets ($CUPI_SECRET_ID,
$CUPI_CLUSTERS) are refused.`,
  )
  .action(async (secretId, options) => {
    const kind = credentialKindFrom(options);
    refuseSeedName(secretId, offlineRules().config);
    const request = { secretId, kind, value: await readPipedValue(process.stdin) };
    const outcome = await seedSecret(new SecretsManagerClient({}), request);
    console.log(describeSeeded(request, outcome));
  });

const guard = program
  .command("guard")
  .description("The blast-radius guard: a source's changes this hour; lifting its budget.");
guard
  .command("status")
  .description("A source's changes in the last hour, its budget, and whether it is lifted.")
  .argument("<source>")
  .addOption(new Option("--table <name>", "the state table").env("STATE_TABLE"))
  .action(async (source, options) => {
    const { policy } = offlineRules();
    const table = required("--table", "STATE_TABLE", options.table);
    const hour = await guardOn(table, policy).status(source);
    const budget = policy.budgetOf(source);
    console.log(describeSourceHour({ source, budget, ...hour }, Date.now()));
  });
guard
  .command("release")
  .description("Lift a source's budget for a while: its held events are applied at their next try.")
  .argument("<source>")
  .addOption(new Option("--table <name>", "the state table").env("STATE_TABLE"))
  .option(
    "--for <duration>",
    "how long: 30m, 2h … (1 minute to 24 hours)",
    releaseDuration,
    3_600_000,
  )
  .addHelpText(
    "after",
    `
Every container sees it within a minute (a held event at its next try, which
the retry backoff puts up to retryMaxDelaySeconds away). Changes are still
counted. To keep it lifted, raise limits.<source>.perHour in the authorization
policy instead.`,
  )
  .action(async (source, options) => {
    const until = Date.now() + options.for;
    const table = required("--table", "STATE_TABLE", options.table);
    await guardOn(table, offlineRules().policy).release(source, until);
    console.log(`source ${source}: budget lifted until ${new Date(until).toISOString()}`);
  });

// --help and -h are on every command already; --version too, so none of them is an unknown flag.
// Below the root, a flag error is followed by a pointer to that command's help, not all of it.
program.version(packageJson.version, "-V, --version");
for (const command of allSubcommands(program)) {
  command.version(packageJson.version, "-V, --version");
  command.showHelpAfterError(`(${commandPath(command)} --help for usage)`);
}

try {
  await program.parseAsync();
} catch (error) {
  const known = error instanceof UsageError || error instanceof SeedRefused;
  console.error(`cupi-reset: ${known ? error.message : failureSentence(error)}`);
  process.exitCode = 1;
}

function allSubcommands(command: CommandUnknownOpts): CommandUnknownOpts[] {
  return command.commands.flatMap((sub) => [sub, ...allSubcommands(sub)]);
}

function commandPath(command: CommandUnknownOpts): string {
  return command.parent === null
    ? command.name()
    : `${commandPath(command.parent)} ${command.name()}`;
}

function required(flag: string, variable: string, value: string | undefined): string {
  if (value === undefined || value === "") {
    throw new UsageError(`${variable} is not set: set it, or pass ${flag}`);
  }
  return value;
}

/** The guard on the state table, with this shell's authorization policy for its limits. */
function guardOn(tableName: string, limits: BlastRadiusLimits): BlastRadiusGuard {
  return new BlastRadiusGuard({ client: new DynamoDBClient({}), tableName, limits });
}

function releaseDuration(value: string): number {
  const ms = parseReleaseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError("must be 1m to 24h, as 30m or 2h");
  return ms;
}

function wholeNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError("must be a whole number, 1 or more");
  }
  return parsed;
}

function offlineRules() {
  return offlineRulesFromEnvironment(process.env);
}

/** Prints each file's outcome as it comes; 1 when any file did not reach `wanted`. */
async function printEach(
  outcomes: AsyncIterable<FileOutcome>,
  wanted: FileOutcome["status"],
): Promise<number> {
  let missed = 0;
  for await (const outcome of outcomes) {
    if (outcome.status !== wanted) missed++;
    console.log(formatFileOutcome(outcome));
  }
  return missed > 0 ? 1 : 0;
}

/** Which credential, from --pin - or --password -: one of them, its value piped in. */
function credentialKindFrom(options: { pin?: string | true; password?: string | true }) {
  const given = (["pin", "password"] as const).filter((kind) => options[kind] !== undefined);
  const [kind] = given;
  if (given.length !== 1 || kind === undefined) {
    throw new UsageError("give one of --pin - or --password -");
  }
  const source = options[kind];
  if (source !== true && source !== "-") {
    // The value itself is not repeated: it is already in the shell's history, not in our output.
    throw new UsageError(
      `--${kind} takes the value from standard input (--${kind} -), never from the command line`,
    );
  }
  return kind;
}

/**
 * An SQS client for the queue named: the region comes from AWS_REGION, or else from the queue
 * URL itself (sqs.<region>.amazonaws.com), so operators need not set it by hand.
 */
function sqsClientFor(queueUrl: string): SQSClient {
  const region = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(queueUrl)?.[1];
  return new SQSClient(process.env.AWS_REGION || region === undefined ? {} : { region });
}

/**
 * The flags as the request the replay Lambda takes, checked the same way: a flag that does not
 * belong to the mode is refused by name.
 */
function replayRequestFrom(flags: {
  progress?: true;
  all?: true;
  errorCode?: string[];
  eventId?: string[];
  source?: string;
  since?: string;
  until?: string;
  dryRun?: true;
  rate?: string;
  max?: string;
  force?: true;
}): ReplayRequest {
  const mode = flags.progress ? "progress" : flags.all ? "all" : "selected";
  const input = {
    mode,
    errorCodes: flags.errorCode,
    eventIds: flags.eventId,
    source: flags.source,
    since: flags.since,
    until: flags.until,
    dryRun: flags.dryRun,
    max: flags.max === undefined ? undefined : Number(flags.max),
    force: flags.force,
    [mode === "all" ? "maxVelocity" : "ratePerSecond"]:
      flags.rate === undefined ? undefined : Number(flags.rate),
  };
  return parseReplayRequest(
    Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)),
    FLAG_NAMES,
  );
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
