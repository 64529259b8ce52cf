import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDynamoDb, startLocalDynamoDb } from "../../dev/dynamodb/local-dynamodb.ts";
import type { ResetEvent } from "../../lib/events/contract.ts";
import { PermanentFailure, TransientFailure } from "../../lib/outcome/failures.ts";
import { OrderingGuard } from "../../lib/reset/ordering.ts";

let dynamodb: LocalDynamoDb;
let guard: OrderingGuard;

beforeAll(async () => {
  dynamodb = await startLocalDynamoDb("ordering-test");
  guard = new OrderingGuard({
    client: dynamodb.client,
    tableName: dynamodb.tableName,
    retentionSeconds: 3600,
  });
});

afterAll(async () => {
  await dynamodb?.close();
});

let users = 0;
function newUser(): string {
  users += 1;
  return `00000000-0000-4000-8000-${String(users).padStart(12, "0")}`;
}

function event(
  eventId: string,
  occurredAt: string,
  action: ResetEvent["action"] = "unlock-pin",
): ResetEvent {
  return { version: 1, eventId, occurredAt, source: "helpdesk", user: { alias: "x" }, action };
}

const soon = () => Date.now() + 10_000;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("OrderingGuard on a real DynamoDB implementation (dynalite)", () => {
  it("lets a newer event wait while an older one is being applied, then go", async () => {
    const user = newUser();
    const { release: releaseOlder } = await guard.claim(
      event("older", "2026-11-28T10:00:00Z"),
      user,
      ["pin"],
      soon(),
    );
    const blocked = await failure(
      guard.claim(event("newer", "2026-11-28T10:05:00Z"), user, ["pin"], soon()),
    );
    expect(blocked).toBeInstanceOf(TransientFailure);
    expect((blocked as Error).message).toMatch(
      /another event \(older\) is being applied to this user's pin/,
    );
    await releaseOlder(true);
    const { release: releaseNewer } = await guard.claim(
      event("newer", "2026-11-28T10:05:00Z"),
      user,
      ["pin"],
      soon(),
    );
    await releaseNewer(true);
  });

  it("refuses an older event while or after a newer one is applied", async () => {
    const user = newUser();
    const { release: releaseNewer } = await guard.claim(
      event("newer", "2026-11-28T10:05:00Z"),
      user,
      ["pin"],
      soon(),
    );
    const during = await failure(
      guard.claim(event("older", "2026-11-28T10:00:00Z"), user, ["pin"], soon()),
    );
    expect(during).toBeInstanceOf(PermanentFailure);
    expect(during).toMatchObject({ code: "STALE_EVENT" });
    await releaseNewer(true);
    const after = await failure(
      guard.claim(event("older", "2026-11-28T10:00:00Z"), user, ["pin"], soon()),
    );
    expect(after).toMatchObject({ code: "STALE_EVENT" });
  });

  it("takes over a lock whose invocation has ended, naming that event as a predecessor", async () => {
    const user = newUser();
    await guard.claim(event("crashed", "2026-11-28T10:00:00Z"), user, ["pin"], Date.now() + 50);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const next = await guard.claim(event("next", "2026-11-28T10:01:00Z"), user, ["pin"], soon());
    expect(next.predecessors).toEqual([{ eventId: "crashed", kind: "pin" }]);
    await next.release(true);
  });

  it("names as predecessors only the earlier events that did not complete", async () => {
    const user = newUser();
    const failed = await guard.claim(
      event("failed", "2026-11-28T10:00:00Z"),
      user,
      ["pin", "password"],
      soon(),
    );
    expect(failed.predecessors).toEqual([]);
    await failed.release(false);
    const retried = await guard.claim(
      event("failed", "2026-11-28T10:00:00Z"),
      user,
      ["pin"],
      soon(),
    );
    // Its own earlier delivery is not a predecessor: the event settles its attempts itself.
    expect(retried.predecessors).toEqual([]);
    await retried.release(false);
    const after = await guard.claim(
      event("after", "2026-11-28T10:01:00Z"),
      user,
      ["pin", "password"],
      soon(),
    );
    expect(after.predecessors).toEqual([
      { eventId: "failed", kind: "pin" },
      { eventId: "failed", kind: "password" },
    ]);
    // It settles the password's attempt, not the PIN's (failing first, say): the PIN's stays on
    // the watermark for the next event, though this one completed.
    after.settled({ eventId: "failed", kind: "password" });
    await after.release(true);
    const next = await guard.claim(
      event("next", "2026-11-28T10:02:00Z"),
      user,
      ["pin", "password"],
      soon(),
    );
    expect(next.predecessors).toEqual([{ eventId: "failed", kind: "pin" }]);
    for (const predecessor of next.predecessors) next.settled(predecessor);
    await next.release(true);
    const last = await guard.claim(event("last", "2026-11-28T10:03:00Z"), user, ["pin"], soon());
    expect(last.predecessors).toEqual([]);
    await last.release(true);
  });

  it("lets a retry of the same event and an event at the same instant through", async () => {
    const user = newUser();
    await (await guard.claim(event("same", "2026-11-28T10:00:00Z"), user, ["pin"], soon())).release(
      true,
    );
    await (await guard.claim(event("same", "2026-11-28T10:00:00Z"), user, ["pin"], soon())).release(
      true,
    );
    await (
      await guard.claim(event("twin", "2026-11-28T11:00:00+01:00"), user, ["pin"], soon())
    ).release(true);
  });

  it("makes an offboard final for every credential and every older event", async () => {
    const user = newUser();
    await (
      await guard.claim(
        event("off", "2026-11-28T15:00:00Z", "offboard"),
        user,
        ["pin", "password"],
        soon(),
      )
    ).release(true);
    for (const kind of ["pin", "password"] as const) {
      const refused = await failure(
        guard.claim(event(`hd-${kind}`, "2026-11-28T14:59:59Z"), user, [kind], soon()),
      );
      expect(refused).toMatchObject({ code: "STALE_EVENT" });
      expect((refused as Error).message).toMatch(
        /offboarded by an event that occurred at 2026-11-28T15:00:00.000Z/,
      );
    }
    // The offboard itself may be redelivered, and later events (a rehire) go through.
    await (
      await guard.claim(
        event("off", "2026-11-28T15:00:00Z", "offboard"),
        user,
        ["pin", "password"],
        soon(),
      )
    ).release(true);
    await (
      await guard.claim(event("rehire", "2026-12-01T09:00:00Z"), user, ["pin"], soon())
    ).release(true);
  });

  it("releases what it claimed when a later credential of the same event is refused", async () => {
    const user = newUser();
    await (
      await guard.claim(event("pw-new", "2026-11-28T12:00:00Z"), user, ["password"], soon())
    ).release(true);
    const refused = await failure(
      guard.claim(
        event("off-old", "2026-11-28T11:00:00Z", "offboard"),
        user,
        ["pin", "password"],
        soon(),
      ),
    );
    expect(refused).toMatchObject({ code: "STALE_EVENT" });
    // The PIN lock taken before the refusal was released: a newer PIN event is not blocked.
    await (
      await guard.claim(event("pin-later", "2026-11-28T13:00:00Z"), user, ["pin"], soon())
    ).release(true);
  });
});
