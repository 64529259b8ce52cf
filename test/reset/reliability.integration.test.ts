import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FaultSpec, SimulatedUser } from "../../dev/cupi-simulator/index.ts";
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import {
  captureOutput,
  type DeadLetterMessage,
  drain,
  isDeadLetterOf,
  lambdaContext,
  readDeadLetters,
  send,
  sqsRecord,
  startPipeline,
} from "../helpers/pipeline.ts";

const ids = {
  amira: "1a2b3c4d-0000-4000-8000-00000000a001",
  bruno: "1a2b3c4d-0000-4000-8000-00000000a002",
  chen: "1a2b3c4d-0000-4000-8000-00000000a003",
  dana: "1a2b3c4d-0000-4000-8000-00000000a004",
};
const users: SimulatedUser[] = [
  {
    objectId: ids.amira,
    alias: "amira",
    firstName: "Amira",
    lastName: "Haddad",
    dtmfAccessId: "5101",
    pin: "730419",
  },
  {
    objectId: ids.bruno,
    alias: "bruno",
    firstName: "Bruno",
    lastName: "Keller",
    dtmfAccessId: "5102",
    pin: "730419",
    password: "Qz8#mLw4Tp2x",
  },
  {
    objectId: ids.chen,
    alias: "chen",
    firstName: "Chen",
    lastName: "Wei",
    dtmfAccessId: "5103",
    pin: "730419",
  },
  {
    objectId: ids.dana,
    alias: "dana",
    firstName: "Dana",
    lastName: "Okafor",
    dtmfAccessId: "5104",
    pin: "730419",
    password: "Hv6$rKp3Ws9z",
  },
];

let stack: LocalStack;
let pipeline: ReturnType<typeof startPipeline>;
const output = captureOutput();

beforeAll(async () => {
  stack = await startLocalStack({
    users,
    secrets: { "cupi-reset/resets/amira-pin": JSON.stringify({ pin: "604729" }) },
    visibilityTimeoutSeconds: 1,
  });
  // Faults here are placed by request order: lookup, TimeChanged snapshot, PUT. The default
  // baseline (CUC's clock, no snapshot) has its own tests in lost-answer-clock.integration.test.ts.
  pipeline = startPipeline(stack, { CUPI_LOST_ANSWER_BASELINE: "timechanged" });
});

afterAll(async () => {
  await pipeline?.handler.close();
  await stack?.close();
});

beforeEach(() => stack.simulator.resetStats());

function event(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    version: 1,
    occurredAt: "2026-11-28T10:00:00Z",
    source: "helpdesk",
    action: "unlock-pin",
    ...overrides,
  };
}

async function deliver(...bodies: unknown[]): Promise<DeadLetterMessage[]> {
  const sent: string[] = [];
  for (const body of bodies) sent.push(await send(stack.sqs, stack.queues.queueUrl, body));
  await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
  const letters = await readDeadLetters(stack.sqs, stack.queues.dlqUrl);
  return letters.filter((letter) => isDeadLetterOf(letter, sent));
}

/**
 * A PUT that lands unseen: two requests served as usual, then the PUT lands but its answer is
 * lost, and every read that would tell fails (a GET is retried in the call: all four attempts).
 */
const LANDED_UNSEEN: FaultSpec[] = [
  "none",
  "none",
  "drop-after-apply",
  "drop",
  "drop",
  "drop",
  "drop",
];

const puts = (objectId: string) =>
  stack.simulator.requests.filter(
    (request) => request.method === "PUT" && request.path.includes(objectId),
  ).length;

describe("exactly-once effect per eventId", () => {
  it("applies an event delivered twice under new messageIds once", async () => {
    const body = event({
      eventId: "dup-1",
      user: { alias: "amira" },
      action: "reset-pin",
      newCredential: { secretId: "cupi-reset/resets/amira-pin", jsonKey: "pin" },
    });
    expect(await deliver(body, body)).toEqual([]);
    expect(await deliver(body)).toEqual([]);
    expect(stack.simulator.credentialOf(ids.amira, "pin")).toMatchObject({
      value: "604729",
      changes: 1,
    });
    expect(puts(ids.amira)).toBe(1);
    expect(output.text()).toContain('"duplicate":true');
  });

  it("refuses the same eventId with a different payload", async () => {
    await deliver(event({ eventId: "reuse-1", user: { alias: "bruno" } }));
    const letters = await deliver(event({ eventId: "reuse-1", user: { alias: "chen" } }));
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["INVALID_EVENT"]);
    expect(letters[0]?.attributes.errorMessage).toMatch(
      /eventId reuse-1 was already used for a different event/,
    );
    expect(puts(ids.chen)).toBe(0);
  });

  it("does not remember a dead-lettered event, so a replay after the fix applies it", async () => {
    const body = event({
      eventId: "fixed-later-1",
      user: { alias: "chen" },
      action: "reset-pin",
      newCredential: { secretId: "cupi-reset/resets/chen-pin", jsonKey: "pin" },
    });
    const first = await deliver(body);
    expect(first.map((letter) => letter.attributes.errorCode)).toEqual(["SECRET_NOT_FOUND"]);
    stack.secretsManager.putSecret("cupi-reset/resets/chen-pin", JSON.stringify({ pin: "815204" }));
    expect(await deliver(first[0]?.body)).toEqual([]);
    expect(stack.simulator.credentialOf(ids.chen, "pin").value).toBe("815204");
  });
});

describe("ordering and staleness", () => {
  it("refuses an event older than the last one applied to the same credential", async () => {
    await deliver(
      event({ eventId: "new-1", user: { alias: "bruno" }, occurredAt: "2026-11-28T12:00:00Z" }),
    );
    const letters = await deliver(
      event({ eventId: "old-1", user: { alias: "bruno" }, occurredAt: "2026-11-28T11:00:00Z" }),
    );
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["STALE_EVENT"]);
    expect(letters[0]?.attributes.errorMessage).toMatch(
      /newer event \(new-1, occurred at 2026-11-28T12:00:00.000Z\).*this event occurred at 2026-11-28T11:00:00Z/,
    );
    // Another credential of the same user has its own watermark.
    expect(
      await deliver(
        event({
          eventId: "old-pw-1",
          user: { alias: "bruno" },
          action: "unlock-password",
          occurredAt: "2026-11-28T11:00:00Z",
        }),
      ),
    ).toEqual([]);
  });

  it("never lets a helpdesk event from before an offboard reopen the mailbox", async () => {
    await deliver(
      event({
        eventId: "off-1",
        user: { alias: "dana" },
        action: "offboard",
        source: "hr-offboarding",
        occurredAt: "2026-11-28T15:00:00Z",
      }),
    );
    const lockedPin = stack.simulator.credentialOf(ids.dana, "pin");
    expect(lockedPin).toMatchObject({ Locked: true, CantChange: true });
    const replayed = await deliver(
      event({
        eventId: "hd-before-off",
        user: { alias: "dana" },
        action: "unlock-password",
        occurredAt: "2026-11-28T14:00:00Z",
      }),
    );
    expect(replayed.map((letter) => letter.attributes.errorCode)).toEqual(["STALE_EVENT"]);
    expect(replayed[0]?.attributes.errorMessage).toMatch(
      /offboarded by an event that occurred at 2026-11-28T15:00:00.000Z/,
    );
    expect(stack.simulator.credentialOf(ids.dana, "password").Locked).toBe(true);
    // After the offboard (a rehire), events apply again.
    expect(
      await deliver(
        event({ eventId: "rehire-1", user: { alias: "dana" }, occurredAt: "2026-12-01T09:00:00Z" }),
      ),
    ).toEqual([]);
    expect(stack.simulator.credentialOf(ids.dana, "pin").Locked).toBe(false);
  });
});

describe("FIFO deployment option", () => {
  it("fails only the rest of a failed record's message group", async () => {
    // Cache the service account first, so the throttling below hits only amira's secret.
    await deliver(event({ eventId: "fifo-warm", user: { alias: "chen" } }));
    stack.simulator.resetStats();
    stack.secretsManager.failNext("GetSecretValue", "ThrottlingException", 3);
    const fifoArn = `${stack.queues.queueArn}.fifo`;
    const input = {
      Records: [
        sqsRecord(
          "a1",
          event({
            eventId: "fifo-a1",
            user: { alias: "amira" },
            action: "reset-pin",
            newCredential: { secretId: "cupi-reset/resets/amira-pin", jsonKey: "pin" },
            occurredAt: "2026-11-29T10:00:00Z",
          }),
          fifoArn,
          1,
          ids.amira,
        ),
        sqsRecord(
          "a2",
          event({
            eventId: "fifo-a2",
            user: { alias: "amira" },
            occurredAt: "2026-11-29T10:01:00Z",
          }),
          fifoArn,
          1,
          ids.amira,
        ),
        sqsRecord(
          "c1",
          event({
            eventId: "fifo-c1",
            user: { alias: "chen" },
            occurredAt: "2026-11-29T10:00:00Z",
          }),
          fifoArn,
          1,
          ids.chen,
        ),
      ],
    };
    const response = await pipeline.handler(input, lambdaContext(60_000));
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      "a1",
      "a2",
    ]);
    expect(puts(ids.amira)).toBe(0);
    expect(puts(ids.chen)).toBe(1);
  });
});

describe("a reset whose answer was lost", () => {
  function resetBruno(eventId: string, pin: string, occurredAt: string) {
    stack.secretsManager.putSecret(`cupi-reset/resets/${eventId}`, JSON.stringify({ pin }));
    return event({
      eventId,
      user: { alias: "bruno" },
      action: "reset-pin",
      newCredential: { secretId: `cupi-reset/resets/${eventId}`, jsonKey: "pin" },
      occurredAt,
    });
  }

  it("counts a PUT as applied within the delivery when TimeChanged moved", async () => {
    const before = stack.simulator.credentialOf(ids.bruno, "pin").changes;
    // Lookup and TimeChanged snapshot go through; the PUT is applied, then its answer is lost.
    stack.simulator.injectFaults("none", "none", "drop-after-apply");
    expect(await deliver(resetBruno("lost-1", "518274", "2026-11-30T10:00:00Z"))).toEqual([]);
    expect(stack.simulator.credentialOf(ids.bruno, "pin")).toMatchObject({
      value: "518274",
      changes: before + 1,
    });
    expect(output.text()).not.toContain('"outcome":"retry"');
  });

  it("resends within the delivery when TimeChanged shows the value did not land", async () => {
    const before = stack.simulator.credentialOf(ids.bruno, "pin").changes;
    // The PUT's connection drops before CUC serves it.
    stack.simulator.injectFaults("none", "none", "drop");
    expect(await deliver(resetBruno("dropped-1", "640372", "2026-11-30T10:01:00Z"))).toEqual([]);
    expect(stack.simulator.credentialOf(ids.bruno, "pin")).toMatchObject({
      value: "640372",
      changes: before + 1,
    });
  });

  it("resolves an outcome left unknown by one delivery on the next one", async () => {
    const before = stack.simulator.credentialOf(ids.bruno, "pin").changes;
    // The PUT lands but its answer is lost, and the check after it fails too: retried via SQS;
    // the next delivery's PUT is refused as a repeat, and the moved TimeChanged explains it.
    // (The check is a GET, retried in the call: all four of its attempts must fail.)
    stack.simulator.injectFaults(...LANDED_UNSEEN);
    expect(await deliver(resetBruno("lost-2", "827150", "2026-11-30T10:02:00Z"))).toEqual([]);
    expect(stack.simulator.credentialOf(ids.bruno, "pin")).toMatchObject({
      value: "827150",
      changes: before + 1,
    });
    expect(output.text()).toContain('"receiveCount":2');
  });

  it("settles an older event's lost PUT even when the newer event that took over failed first", async () => {
    const before = stack.simulator.credentialOf(ids.bruno, "pin").changes;
    // The older event: its PUT lands, the answer is lost, and so is every read that would tell.
    stack.simulator.injectFaults(...LANDED_UNSEEN);
    const older = resetBruno("chain-older", "318264", "2026-11-30T10:03:00Z");
    const olderMessage = await send(stack.sqs, stack.queues.queueUrl, older);
    await pipeline.poller.pollOnce();
    // The newer event takes the credential over; its read to settle the older PUT fails too.
    stack.simulator.injectFaults("none", "drop", "drop", "drop", "drop");
    const newer = resetBruno("chain-newer", "471953", "2026-11-30T10:04:00Z");
    const newerMessage = await send(stack.sqs, stack.queues.queueUrl, newer);
    await pipeline.poller.pollOnce();
    // Both retried: the newer one settles the older PUT (kept on the watermark) and applies; the
    // older one is then told applied and superseded, not retried until it is dead-lettered.
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, [olderMessage, newerMessage]),
    );
    expect(letters).toEqual([]);
    expect(stack.simulator.credentialOf(ids.bruno, "pin")).toMatchObject({
      value: "471953",
      changes: before + 2,
    });
    expect(output.text()).toContain('"eventId":"chain-older"');
    expect(output.text()).toMatch(
      /"outcome":"applied"[^\n]*"eventId":"chain-older"|"eventId":"chain-older"[^\n]*"outcome":"applied"/,
    );
  });

  it("still dead-letters a value that really is in the history", async () => {
    stack.secretsManager.putSecret(
      "cupi-reset/resets/chen-again",
      JSON.stringify({ pin: "902713" }),
    );
    const reset = (eventId: string, occurredAt: string) =>
      event({
        eventId,
        user: { alias: "chen" },
        action: "reset-pin",
        newCredential: { secretId: "cupi-reset/resets/chen-again", jsonKey: "pin" },
        occurredAt,
      });
    expect(await deliver(reset("repeat-first-1", "2026-11-30T10:59:00Z"))).toEqual([]);
    const letters = await deliver(reset("repeat-for-real-1", "2026-11-30T11:00:00Z"));
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["CREDENTIAL_REJECTED"]);
    expect(letters[0]?.attributes.errorMessage).toMatch(/Repeat credentials prohibited/);
  });
});
