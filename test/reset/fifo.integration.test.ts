// Issue 12 §2: the FIFO deployment end to end on the local stack — FIFO queue and DLQ, events sent
// by the CLI (grouped by user), the poller with Lambda's FIFO semantics, the real handler.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { takeOutcomeEvents } from "../../dev/outcome-route.ts";
import {
  drain,
  eventFactory,
  isDeadLetterOf,
  readDeadLetters,
  useLocalPipeline,
} from "../helpers/pipeline.ts";

const run = promisify(execFile);

const JSMITH = "0b4e934c-dd78-4fc9-9e64-69acf166123e";
const MROSSI = "73aa24b9-7d93-4376-add9-bf39198d0c76";

const local = useLocalPipeline({
  users: [
    { objectId: JSMITH, alias: "jsmith", dtmfAccessId: "1001", pin: "480916" },
    { objectId: MROSSI, alias: "mrossi", dtmfAccessId: "2002", pin: "739451" },
  ],
  secrets: { "cupi-reset/resets/jsmith-pin": JSON.stringify({ pin: "739164" }) },
  fifo: true,
  // Long enough for a FIFO batch's records, run one after another, to keep their receipt handles.
  visibilityTimeoutSeconds: 10,
  maxReceiveCount: 5,
});

const event = eventFactory("fifo-run");
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "cupi-reset-fifo-"));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** `npm run cli -- send` with the pasted local environment: the CLI sets the FIFO fields. */
async function sendWithCli(events: Record<string, unknown>[]): Promise<string[]> {
  const files = await Promise.all(
    events.map(async (body) => {
      const file = join(work, `${String(body.eventId)}.json`);
      await writeFile(file, JSON.stringify(body));
      return file;
    }),
  );
  const { stdout } = await run(process.execPath, ["bin/cupi-reset.ts", "send", ...files], {
    env: { ...process.env, ...local.stack.environment },
    timeout: 30_000,
  });
  return [...stdout.matchAll(/: sent as (\S+)/g)].map(([, messageId]) => messageId as string);
}

describe("a FIFO deployment on the local stack", () => {
  it("applies each user's events in the order sent, even when the first fails transiently", async () => {
    const { stack, pipeline } = local;
    expect(stack.queues.queueUrl).toMatch(/\.fifo$/);
    const jsmith = [
      event({ user: { alias: "jsmith" }, occurredAt: "2026-12-06T09:00:00Z" }),
      event({
        user: { alias: "jsmith" },
        action: "reset-pin",
        newCredential: { secretId: "cupi-reset/resets/jsmith-pin", jsonKey: "pin" },
        occurredAt: "2026-12-06T09:01:00Z",
      }),
      event({
        user: { alias: "jsmith" },
        action: "update-pin-settings",
        settings: { mustChange: true },
        occurredAt: "2026-12-06T09:02:00Z",
      }),
    ];
    const mrossi = event({ user: { alias: "mrossi" }, occurredAt: "2026-12-06T09:00:30Z" });
    // The first requests fail: jsmith's first event is retried, and the two behind it wait for
    // it instead of overtaking it (which, on a standard queue, makes it STALE_EVENT).
    stack.simulator.injectFaults(...Array<"500-html">(8).fill("500-html"));
    const messageIds = await sendWithCli([...jsmith, mrossi]);
    expect(messageIds).toHaveLength(4);
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl, 60_000);

    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, messageIds),
    );
    expect(letters).toEqual([]);
    await stack.eventBridge.settled();
    const outcomes = await takeOutcomeEvents(stack.sqs, stack.ticketingQueueUrl);
    const applied = (eventId: unknown) =>
      outcomes.find(
        (outcome) =>
          outcome.detail.eventId === eventId &&
          outcome["detail-type"] === "Credential Reset Applied",
      );
    for (const body of [...jsmith, mrossi])
      expect(applied(body.eventId), String(body.eventId)).toBeDefined();
    // The first event did fail and come back: the others waited behind it.
    expect(Number(applied(jsmith[0]?.eventId)?.detail.receiveCount)).toBeGreaterThanOrEqual(2);
    const appliedAt = jsmith.map((body) => String(applied(body.eventId)?.detail.appliedAt));
    expect([...appliedAt].sort()).toEqual(appliedAt);
    expect(stack.simulator.credentialOf(JSMITH, "pin").CredMustChange).toBe(true);
  });

  it("dead-letters a permanent failure on the FIFO DLQ with its reason, and the group goes on", async () => {
    const { stack, pipeline } = local;
    const missing = event({
      user: { alias: "mrossi" },
      action: "reset-pin",
      newCredential: { secretId: "cupi-reset/resets/never-written", jsonKey: "pin" },
      occurredAt: "2026-12-06T10:00:00Z",
    });
    const after = event({ user: { alias: "mrossi" }, occurredAt: "2026-12-06T10:01:00Z" });
    const messageIds = await sendWithCli([missing, after]);
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl, 60_000);
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, messageIds),
    );
    expect(stack.queues.dlqUrl).toMatch(/\.fifo$/);
    expect(
      letters.map((letter) => [letter.attributes.eventId, letter.attributes.errorCode]),
    ).toEqual([[missing.eventId, "SECRET_NOT_FOUND"]]);
    await stack.eventBridge.settled();
    const outcomes = await takeOutcomeEvents(stack.sqs, stack.ticketingQueueUrl);
    expect(
      outcomes.find((outcome) => outcome.detail.eventId === after.eventId)?.["detail-type"],
    ).toBe("Credential Reset Applied");
  });
});
