// The blast-radius guard over the local stack: a source past its budget is held, nothing applied
// past it, and applied once an operator releases it; containers running at once never pass the
// budget together; one user's credentials change at most userLimit.perHour times an hour.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { loadAuthorizationPolicy } from "../../lib/authorization/policy.ts";
import { BlastRadiusGuard } from "../../lib/guard/blast-radius.ts";
import { createLogger } from "../../lib/logging/logger.ts";
import { createResetHandlerFromEnvironment } from "../../lib/reset/wiring.ts";
import {
  captureOutput,
  drain,
  eventFactory,
  isDeadLetterOf,
  lambdaContext,
  readDeadLetters,
  send,
  sqsRecord,
  useLocalPipeline,
} from "../helpers/pipeline.ts";

const users = Array.from({ length: 40 }, (_, index) => ({
  objectId: `d1b2c3d4-0000-4000-8000-0000000000${String(index).padStart(2, "0")}`,
  alias: `user${String(index).padStart(2, "0")}`,
  dtmfAccessId: `70${String(index).padStart(2, "0")}`,
  pin: "480916",
}));

const policyPath = join(mkdtempSync(join(tmpdir(), "cupi-reset-guard-")), "policy.json");
writeFileSync(
  policyPath,
  JSON.stringify({
    version: 1,
    sources: {
      helpdesk: ["unlock-pin"],
      "desk-b": ["unlock-pin"],
      "loop-test": ["unlock-pin"],
    },
    protectedAccounts: {},
    limits: { helpdesk: { perHour: 3 }, "desk-b": { perHour: 10 } },
    userLimit: { perHour: 2 },
  }),
);

const local = useLocalPipeline({
  users,
  // Held events come back every second or two: never exhausted within a test.
  maxReceiveCount: 100,
  environment: { AUTHORIZATION_POLICY_PATH: policyPath },
});
const output = captureOutput();
const event = eventFactory("guard");

const puts = () =>
  local.stack.simulator.requests.filter((request) => request.method === "PUT").length;

function guardOnStack(): BlastRadiusGuard {
  return new BlastRadiusGuard({
    client: new DynamoDBClient({}),
    tableName: local.stack.environment.STATE_TABLE as string,
    limits: loadAuthorizationPolicy(policyPath),
  });
}

describe("the blast-radius guard", () => {
  it("holds a burst past a source's budget, applies nothing past it, and applies it once released", async () => {
    const { stack, pipeline } = local;
    stack.simulator.resetStats();
    for (const user of users.slice(0, 5)) {
      await send(stack.sqs, stack.queues.queueUrl, event({ user: { alias: user.alias } }));
    }
    await pipeline.poller.pollOnce();
    expect(puts()).toBe(3);
    expect(output.text()).toContain("a source exceeded its budget of changes per hour");
    expect(output.text()).toContain('"heldBySource":[{"source":"helpdesk","records":2}]');
    // Held, not dead-lettered: they come back, and are held again while the hour is full.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await pipeline.poller.pollOnce();
    expect(puts()).toBe(3);
    expect(await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).toEqual([]);

    const guard = guardOnStack();
    expect(await guard.status("helpdesk")).toEqual({ changes: 3, releasedUntil: 0 });
    await guard.release("helpdesk", Date.now() + 3_600_000);
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    expect(puts()).toBe(5);
    expect((await guard.status("helpdesk")).changes).toBe(5);
  });

  it("never lets containers working at once pass a budget together", async () => {
    const { stack } = local;
    stack.simulator.resetStats();
    const containers = [1, 2, 3].map(() =>
      createResetHandlerFromEnvironment(process.env, createLogger({ logLevel: "ERROR" })),
    );
    try {
      const results = await Promise.all(
        containers.map((handler, container) =>
          handler(
            {
              Records: users
                .slice(10 + container * 10, 20 + container * 10)
                .map((user) =>
                  sqsRecord(
                    `concurrent-${user.alias}`,
                    event({ source: "desk-b", user: { alias: user.alias } }),
                    stack.queues.queueArn,
                  ),
                ),
            },
            lambdaContext(30_000),
          ),
        ),
      );
      // Ten applied in all, whichever containers got them; the other twenty held for later.
      expect(puts()).toBe(10);
      expect(results.flatMap((result) => result.batchItemFailures)).toHaveLength(20);
    } finally {
      await Promise.all(containers.map((handler) => handler.close()));
    }
  });

  it("refuses a user's third change within the hour (userLimit.perHour 2), naming the limit", async () => {
    const { stack, pipeline } = local;
    stack.simulator.resetStats();
    const target = { alias: users[39]?.alias };
    const sent: string[] = [];
    for (let change = 0; change < 3; change++) {
      sent.push(
        await send(stack.sqs, stack.queues.queueUrl, event({ source: "loop-test", user: target })),
      );
      await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    }
    expect(puts()).toBe(2);
    const letters = (await readDeadLetters(stack.sqs, stack.queues.dlqUrl)).filter((letter) =>
      isDeadLetterOf(letter, sent),
    );
    expect(letters.map((letter) => letter.attributes.errorCode)).toEqual(["ACTION_NOT_ALLOWED"]);
    expect(letters[0]?.attributes.errorMessage).toMatch(
      /credentials were already changed 2 times this hour \(the authorization policy's userLimit\.perHour\)/,
    );
  });
});
