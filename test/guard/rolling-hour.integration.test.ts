// The guard's hour over the local DynamoDB, with its clock in the test's hands: a budget spent at
// the end of a window holds until 60 minutes have passed, never less; an event is counted once.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDynamoDb, startLocalDynamoDb } from "../../dev/dynamodb/local-dynamodb.ts";
import { BlastRadiusGuard } from "../../lib/guard/blast-radius.ts";
import { PermanentFailure, TransientFailure } from "../../lib/outcome/failures.ts";

let dynamodb: LocalDynamoDb;
let client: DynamoDBClient;
beforeAll(async () => {
  dynamodb = await startLocalDynamoDb();
  client = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: "eu-west-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
});
afterAll(async () => {
  client.destroy();
  await dynamodb.close();
});

/** A guard whose clock reads `clock.now`; a budget of 3 for "desk", 2 changes per user-hour. */
function guardAt(clock: { now: number }): BlastRadiusGuard {
  return new BlastRadiusGuard({
    client,
    tableName: dynamodb.tableName,
    limits: { budgetOf: (source) => (source === "desk" ? 3 : undefined), userChangesPerHour: 2 },
    now: () => clock.now,
  });
}

/** The guard's writes for one change, in a call of their own (as before a step-by-step claim). */
const admit = async (guard: BlastRadiusGuard, eventId: string, source: string, objectId: string) =>
  (await guard.writesFor(eventId, source, objectId)).writeAlone();

const outcome = (admission: Promise<void>) =>
  admission.then(
    () => "admitted",
    (error: unknown) =>
      error instanceof TransientFailure && error.heldBy !== undefined
        ? "held"
        : error instanceof PermanentFailure
          ? error.code
          : error,
  );

describe("the blast-radius guard's hour", () => {
  it("holds a budget spent at a window's end for 60 minutes, not 50", async () => {
    const clock = { now: Date.parse("2026-12-07T10:59:59Z") };
    const guard = guardAt(clock);
    const user = (n: number) => `e1b2c3d4-0000-4000-8000-0000000000${String(n).padStart(2, "0")}`;
    for (let n = 0; n < 3; n++) {
      expect(await outcome(admit(guard, `early-${n}`, "desk", user(n)))).toBe("admitted");
    }
    expect(await outcome(admit(guard, "early-3", "desk", user(3)))).toBe("held");
    // 50 minutes and a second later: the windows of the last hour still hold the three.
    clock.now = Date.parse("2026-12-07T11:50:00Z");
    expect(await outcome(admit(guard, "late-0", "desk", user(4)))).toBe("held");
    clock.now = Date.parse("2026-12-07T11:59:59Z");
    expect(await outcome(admit(guard, "late-0", "desk", user(4)))).toBe("held");
    // An hour after the first window closed, the budget is free again.
    clock.now = Date.parse("2026-12-07T12:00:00Z");
    expect(await outcome(admit(guard, "late-0", "desk", user(4)))).toBe("admitted");
    expect((await guard.status("desk")).changes).toBe(1);
  });

  it("counts an event once, however often it comes, in the budget and the user's hour", async () => {
    const clock = { now: Date.parse("2026-12-07T14:05:00Z") };
    const guard = guardAt(clock);
    const user = "e1b2c3d4-0000-4000-8000-0000000000aa";
    for (let delivery = 0; delivery < 4; delivery++) {
      expect(await outcome(admit(guard, "again", "desk", user))).toBe("admitted");
    }
    // In a later window of the hour: found in the past one, not counted again.
    clock.now = Date.parse("2026-12-07T14:25:00Z");
    expect(await outcome(admit(guard, "again", "desk", user))).toBe("admitted");
    expect((await guard.status("desk")).changes).toBe(1);
    expect(await outcome(admit(guard, "second", "desk", user))).toBe("admitted");
    expect(await outcome(admit(guard, "third", "desk", user))).toBe("ACTION_NOT_ALLOWED");
    // The refused change was not counted against the source.
    expect((await guard.status("desk")).changes).toBe(2);
  });
});
