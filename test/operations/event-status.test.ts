// The status lookup over the local stack: events applied, dead-lettered, redriven, in progress,
// unknown — through the library and through `npm run cli -- status`.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import type { SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import {
  type EventStatus,
  formatEventStatus,
  statusOfEvents,
} from "../../lib/operations/event-status.ts";
import { listDeadLetters } from "../../lib/operations/queue-tools.ts";
import { AttemptLog } from "../../lib/reset/attempts.ts";
import { IDEMPOTENCY_KEY_PREFIX, idempotencyConfig } from "../../lib/reset/idempotency-key.ts";
import { drain, eventFactory, send, useLocalPipeline } from "../helpers/pipeline.ts";

const execFileAsync = promisify(execFile);

const JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";
const users: SimulatedUser[] = [
  { objectId: JSMITH, alias: "jsmith", dtmfAccessId: "1001", pin: "480916" },
];

const local = useLocalPipeline({ users, visibilityTimeoutSeconds: 1, maxReceiveCount: 3 });
const event = eventFactory("status", { action: "unlock-pin" });

async function run(...bodies: Record<string, unknown>[]): Promise<void> {
  for (const body of bodies) await send(local.stack.sqs, local.stack.queues.queueUrl, body);
  await drain(local.pipeline.poller, local.stack.sqs, local.stack.queues.queueUrl);
}

function lookUp(eventIds: string[]): Promise<EventStatus[]> {
  const { stack } = local;
  return statusOfEvents(eventIds, {
    dynamodb: stack.dynamodb.client,
    stateTable: stack.dynamodb.tableName,
    deadLetters: () => listDeadLetters(stack.sqs, stack.queues.dlqUrl),
    idempotencyExpirySeconds: 7 * 24 * 3600,
  });
}

describe("status: what became of an event", () => {
  it("tells applied, superseded, dead-lettered, redriven, in progress and unknown events apart", async () => {
    const first = event({ occurredAt: "2026-12-06T09:00:00Z" });
    const later = event({ occurredAt: "2026-12-06T09:05:00Z", settings: { mustChange: true } });
    const missing = event({ user: { alias: "nobody" } });
    // One after the other: sent together, the later one could land first and refuse the first.
    await run(first);
    await run(later, missing);

    // A message the queue's redrive policy moved: no attributes, the event in the body.
    const redriven = event();
    await local.stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: local.stack.queues.dlqUrl,
        MessageBody: JSON.stringify(redriven),
      }),
    );
    // One being applied now, one whose earlier delivery sent its PUT and was cut short.
    const inFlight = event();
    const persistence = new DynamoDBPersistenceLayer({
      tableName: local.stack.dynamodb.tableName,
      awsSdkV3Client: local.stack.dynamodb.client,
    });
    persistence.configure({ config: idempotencyConfig(), keyPrefix: IDEMPOTENCY_KEY_PREFIX });
    await persistence.saveInProgress(
      inFlight as Parameters<typeof persistence.saveInProgress>[0],
      60_000,
    );
    const cutShort = event();
    await new AttemptLog(local.stack.dynamodb.client, local.stack.dynamodb.tableName).begin(
      cutShort.eventId as string,
      "pin",
      { timeChangedBefore: "" },
    );

    const ids = [first, later, missing, redriven, inFlight, cutShort].map(
      (body) => body.eventId as string,
    );
    const statuses = await lookUp([...ids, "never-sent"]);
    expect(statuses.map((status) => [status.eventId, status.state])).toEqual([
      [ids[0], "applied"],
      [ids[1], "applied"],
      [ids[2], "not-applied"],
      [ids[3], "not-applied"],
      [ids[4], "in-progress"],
      [ids[5], "in-progress"],
      ["never-sent", "unknown"],
    ]);
    const [applied, latest, deadLettered, redrivenStatus, beingApplied, retrying, unknown] =
      statuses as [EventStatus, ...EventStatus[]];
    expect(applied.applied).toMatchObject({
      alias: "jsmith",
      objectId: JSMITH,
      fieldsChanged: [{ credential: "pin", fields: expect.arrayContaining(["HackCount"]) }],
    });
    expect(Date.now() - Date.parse(applied.applied?.appliedAt ?? "")).toBeLessThan(60_000);
    expect(applied.since).toMatchObject([
      { held: "pin", eventId: ids[1], occurredAt: "2026-12-06T09:05:00.000Z", inProgress: false },
    ]);
    expect(latest?.since).toBeUndefined();
    expect(deadLettered?.deadLetters).toMatchObject([
      {
        errorCode: "USER_NOT_FOUND",
        errorMessage: expect.stringMatching(/no user has this alias/),
      },
    ]);
    expect(redrivenStatus?.deadLetters).toMatchObject([
      { errorCode: "REDRIVEN_AFTER_RETRIES", eventId: ids[3], source: "helpdesk" },
    ]);
    expect(beingApplied?.detail).toMatch(/^being applied now \(this delivery ends by /);
    expect(retrying?.detail).toBe("an earlier delivery sent its PUT (pin); a retry settles it");
    expect(unknown?.detail).toMatch(/no record of it: .* more than 7 days ago$/);

    expect(formatEventStatus(applied)).toBe(
      [
        `${ids[0]}: applied at ${applied.applied?.appliedAt} to jsmith (${JSMITH}); pin: ${applied.applied?.fieldsChanged[0]?.fields.join(", ")}`,
        `  since: the pin was changed again by ${ids[1]} (occurred at 2026-12-06T09:05:00.000Z)`,
      ].join("\n"),
    );
    expect(formatEventStatus(deadLettered as EventStatus)).toMatch(
      new RegExp(`^${ids[2]}: not applied \\(dead-lettered\\)\n  DLQ: USER_NOT_FOUND at \\S+: `),
    );

    // The DLQ was read, not consumed: both messages are still there and visible.
    const after = await listDeadLetters(local.stack.sqs, local.stack.queues.dlqUrl);
    expect(after.map((entry) => entry.eventId).sort()).toEqual([ids[2], ids[3]].sort());
  });

  it("answers on the command line, one block per event, exit 1 unless every event was applied", async () => {
    const applied = event({ occurredAt: "2026-12-06T10:00:00Z" });
    const missing = event({ user: { alias: "nobody" } });
    await run(applied, missing);
    const cli = (args: string[]) =>
      execFileAsync(process.execPath, ["bin/cupi-reset.ts", "status", ...args], {
        env: { ...process.env, ...local.stack.environment },
      });

    const ok = await cli([applied.eventId as string]);
    expect(ok.stdout).toMatch(
      new RegExp(`^${applied.eventId}: applied at \\S+ to jsmith \\(${JSMITH}\\); pin: `),
    );

    const failed = await cli([missing.eventId as string, "never-sent", "--json"]).then(
      () => {
        throw new Error("expected exit code 1");
      },
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed.code).toBe(1);
    const [notApplied, unknown] = failed.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(notApplied).toMatchObject({
      eventId: missing.eventId,
      state: "not-applied",
      deadLetters: [{ errorCode: "USER_NOT_FOUND" }],
    });
    expect(unknown).toMatchObject({ eventId: "never-sent", state: "unknown" });
  });
});
