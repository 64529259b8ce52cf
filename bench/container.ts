// Shared by the round-trip and memory benchmarks: a workload of reset events, and one Lambda
// "container" (dev/container/) in a child process that the local stack, in this process, serves.
import { type MemorySample, startProcessContainer } from "../dev/container/process-container.ts";
import { seededRandom } from "../dev/cupi-simulator/faults.ts";
import type { SimulatedUser } from "../dev/cupi-simulator/index.ts";
import { cupiUserOf, numberedUser } from "../dev/cupi-simulator/numbered-users.ts";
import { DELIVERY_PREFIX, type LocalStack } from "../dev/local-stack.ts";
import { sqsRecord } from "../dev/sqs/lambda-event.ts";
import { messagesOnQueue } from "../dev/sqs/queue-depth.ts";
import type { CupiUser } from "../lib/cupi/types.ts";
import { generatePassword, generatePin, policyContextFor } from "../lib/policy/index.ts";
import type { BatchEvent } from "./requests-by-action.ts";

export type { MemorySample } from "../dev/container/process-container.ts";

export type WorkloadAction =
  | "reset-pin"
  | "reset-password"
  | "reset-pin-generated"
  | "unlock-pin"
  | "update-pin-settings"
  | "offboard";

/** Helpdesk traffic as it might come: mostly resets from a secret, some generated, a few leavers. */
const MIX: readonly (readonly [WorkloadAction, number])[] = [
  ["reset-pin", 0.5],
  ["reset-password", 0.15],
  ["reset-pin-generated", 0.15],
  ["unlock-pin", 0.1],
  ["update-pin-settings", 0.05],
  ["offboard", 0.05],
];

export interface Workload {
  readonly users: SimulatedUser[];
  /** To seed the Secrets Manager stand-in with: the reset values and the delivery secrets. */
  readonly secrets: Record<string, string>;
  /** Message bodies in send order; each event's occurredAt is later than the one before. */
  readonly bodies: readonly string[];
  /** Each body's action and user, in the same order. */
  readonly events: readonly BatchEvent[];
  readonly actions: Readonly<Record<WorkloadAction, number>>;
  /** What the events must cost if every one is applied once. */
  readonly expected: {
    readonly puts: number;
    /** GetSecretValue of reset values (one-time, never cached). */
    readonly resetSecretReads: number;
    /** PutSecretValue into delivery secrets: each generated value is written pending, then applied. */
    readonly deliveryWrites: number;
  };
}

export const RESET_SECRET_PREFIX = "cupi-reset/resets/bench/";

/**
 * `events` events over `userCount` users (each user's events in time order, so none is stale).
 * Every value a secret holds is distinct, so no reset meets CUC's credential history.
 */
export function planWorkload(events: number, userCount: number, seed = 6): Workload {
  const random = seededRandom(seed);
  const usedValues = new Set<string>();
  const distinct = (next: () => string): string => {
    for (;;) {
      const value = next();
      if (!usedValues.has(value)) {
        usedValues.add(value);
        return value;
      }
    }
  };
  const users: SimulatedUser[] = [];
  const cupiUsers: CupiUser[] = [];
  const secrets: Record<string, string> = {};
  for (let number = 1; number <= userCount; number++) {
    const user = numberedUser(
      {
        objectIdPrefix: "be7c0000",
        aliasPrefix: "bench.user",
        firstName: "Bench",
        extensionBase: 200_000,
      },
      number,
    );
    const cupiUser = cupiUserOf(user);
    user.pin = distinct(() => generatePin(policyContextFor(cupiUser)));
    user.password = distinct(() => generatePassword(policyContextFor(cupiUser)));
    secrets[deliverySecret(user)] = "{}";
    users.push(user);
    cupiUsers.push(cupiUser);
  }

  const actions = Object.fromEntries(MIX.map(([action]) => [action, 0])) as Record<
    WorkloadAction,
    number
  >;
  const expected = { puts: 0, resetSecretReads: 0, deliveryWrites: 0 };
  const bodies: string[] = [];
  const planned: BatchEvent[] = [];
  const firstOccurredAt = Date.parse("2026-11-28T08:00:00Z");
  for (let index = 0; index < events; index++) {
    const user = users[index % userCount] as SimulatedUser;
    const cupiUser = cupiUsers[index % userCount] as CupiUser;
    const action = draw(random());
    actions[action] += 1;
    const eventId = `bench-${seed}-${index + 1}`;
    const event: Record<string, unknown> = {
      version: 1,
      eventId,
      occurredAt: new Date(firstOccurredAt + index * 1000).toISOString(),
      source: action === "offboard" ? "hr-offboarding" : "helpdesk",
      requestedBy: "bench@example.com",
      ticketId: `INC-${eventId}`,
      user: { alias: user.alias },
      action: action === "reset-pin-generated" ? "reset-pin" : action,
    };
    switch (action) {
      case "reset-pin":
      case "reset-password": {
        const kind = action === "reset-pin" ? "pin" : "password";
        const secretId = `${RESET_SECRET_PREFIX}${eventId}`;
        const value = distinct(() =>
          kind === "pin"
            ? generatePin(policyContextFor(cupiUser))
            : generatePassword(policyContextFor(cupiUser)),
        );
        secrets[secretId] = JSON.stringify({ [kind]: value });
        event.newCredential = { secretId, jsonKey: kind };
        event.settings = { mustChange: true };
        expected.resetSecretReads += 1;
        expected.puts += 1;
        break;
      }
      case "reset-pin-generated":
        event.newCredential = { generate: true, deliverTo: { secretId: deliverySecret(user) } };
        event.settings = { mustChange: true };
        expected.deliveryWrites += 2;
        expected.puts += 1;
        break;
      case "unlock-pin":
        expected.puts += 1;
        break;
      case "update-pin-settings":
        event.settings = { mustChange: true };
        expected.puts += 1;
        break;
      case "offboard":
        expected.puts += 2;
        break;
    }
    bodies.push(JSON.stringify(event));
    planned.push({ action, alias: user.alias, objectId: user.objectId });
  }
  return { users, secrets, bodies, events: planned, actions, expected };
}

function draw(roll: number): WorkloadAction {
  let cumulative = 0;
  for (const [action, share] of MIX) {
    cumulative += share;
    if (roll < cumulative) return action;
  }
  return MIX[0]?.[0] ?? "reset-pin";
}

function deliverySecret(user: SimulatedUser): string {
  return `${DELIVERY_PREFIX}bench-${user.alias}`;
}

/** One Lambda container fed with message bodies, batches of fresh records. */
export interface Container {
  /** Invokes the handler with these bodies as one SQS batch; resolves to the failed messageIds. */
  invoke(bodies: readonly string[]): Promise<string[]>;
  /** The container's memory, after a full GC when it has one. */
  sample(): Promise<MemorySample>;
  close(): Promise<void>;
}

/**
 * Starts a container in a child process on `stack`, with the stack's environment and `extra`
 * (CUPI_MAX_IN_FLIGHT …); stdout (the function's logs) is discarded, as CloudWatch would take it.
 */
export async function startContainer(
  stack: LocalStack,
  options: {
    readonly environment?: Record<string, string>;
    readonly timeoutMs: number;
    /** The packaged bundle's handler module; unset: the sources. */
    readonly handlerModule?: string;
    /** Node.js and V8 flags for the container process (besides --expose-gc). */
    readonly nodeFlags?: readonly string[];
  },
): Promise<Container> {
  const container = await startProcessContainer({
    environment: {
      ...process.env,
      POWERTOOLS_LOG_LEVEL: "INFO",
      ...stack.environment,
      ...options.environment,
    },
    ...(options.handlerModule === undefined ? {} : { handlerModule: options.handlerModule }),
    ...(options.nodeFlags === undefined ? {} : { nodeFlags: options.nodeFlags }),
  });
  let messages = 0;
  return {
    invoke: async (bodies) => {
      const records = bodies.map((body) => {
        messages += 1;
        return sqsRecord(`bench-message-${messages}`, body, stack.queues.queueArn);
      });
      const response = await container.invoke({ Records: records }, options.timeoutMs);
      return response.batchItemFailures.map((failure) => failure.itemIdentifier);
    },
    sample: () => container.sample(),
    close: () => container.close(),
  };
}

/** Messages the function put on the DLQ (permanent failures). */
export async function deadLetterCount(stack: LocalStack): Promise<number> {
  return messagesOnQueue(stack.sqs, stack.queues.dlqUrl);
}
