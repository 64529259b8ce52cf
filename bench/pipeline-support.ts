/**
 * What the pipeline-overhead and latency benchmarks share: simulated users with fresh valid PINs,
 * reset events that cost the fewest CUC requests, the handler's logger with its output kept in
 * the process, counts of the requests each local server answered, and the shipped settings.
 */
import { Console } from "node:console";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SimulatedUser } from "../dev/cupi-simulator/index.ts";
import { cupiUserOf, numberedUser } from "../dev/cupi-simulator/numbered-users.ts";
import type { LocalStack } from "../dev/local-stack.ts";
import { createLogger } from "../lib/logging/logger.ts";
import { generatePin, policyContextFor } from "../lib/policy/index.ts";

/** Users the simulator knows, each with the PINs it was given so far (CUC keeps a history). */
export class BenchUsers {
  readonly users: SimulatedUser[];
  readonly #recent = new Map<string, string[]>();
  #next = 0;

  constructor(prefix: number, count: number) {
    this.users = Array.from({ length: count }, (_, index) => {
      const number = index + 1;
      return numberedUser(
        {
          objectIdPrefix: `be0c${prefix.toString(16).padStart(4, "0")}`,
          aliasPrefix: `bench.user${prefix}.`,
          firstName: "Bench",
          extensionBase: 500_000,
        },
        number,
      );
    });
  }

  /** The users round-robin: one comes back only after all the others. */
  nextUser(): SimulatedUser {
    const user = this.users[this.#next % this.users.length] as SimulatedUser;
    this.#next += 1;
    return user;
  }

  /** A PIN CUC takes for this user: not trivial for it, not among its last ones. */
  freshPin(user: SimulatedUser): string {
    const recent = this.#recent.get(user.objectId) ?? [];
    const cupiUser = cupiUserOf(user);
    for (;;) {
      const pin = generatePin(policyContextFor(cupiUser));
      if (recent.includes(pin)) continue;
      // CUC's default rule remembers 5; 10 leaves room for a rule that remembers more.
      this.#recent.set(user.objectId, [pin, ...recent].slice(0, 10));
      return pin;
    }
  }
}

export const RESET_SECRET_PREFIX = "cupi-reset/resets/bench/";

/**
 * A reset-pin event that costs the fewest CUC requests: the user by objectId (no alias search),
 * the new value from a secret (no rule or alternate-extension reads for a generated one).
 * `occurredAt` grows with `sequence`, so the ordering guard never refuses a user's later event.
 */
export function resetEvent(
  runId: string,
  sequence: number,
  user: SimulatedUser,
): { eventId: string; secretId: string; body: string } {
  const eventId = `bench-${runId}-${sequence}`;
  const secretId = `${RESET_SECRET_PREFIX}${eventId}`;
  const body = JSON.stringify({
    version: 1,
    eventId,
    occurredAt: new Date(Date.parse("2026-11-28T08:00:00Z") + sequence * 1000).toISOString(),
    source: "helpdesk",
    requestedBy: "bench@example.com",
    ticketId: `BENCH-${sequence}`,
    user: { objectId: user.objectId },
    action: "reset-pin",
    newCredential: { secretId, jsonKey: "pin" },
  });
  return { eventId, secretId, body };
}

/**
 * The service's logger at INFO, as deployed, serialising every line as in Lambda but handing it
 * to `onLine` (with the time it was written) instead of stdout.
 */
export function inProcessLogger(onLine: (line: string, writtenAt: number) => void): Logger {
  const logger = createLogger({ logLevel: "INFO" });
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      onLine(chunk.toString(), Date.now());
      done();
    },
  });
  // Powertools keeps its Console private; Lambda's runtime would write these lines to stdout.
  (logger as unknown as { console: Console }).console = new Console({
    stdout: sink,
    stderr: sink,
  });
  return logger;
}

/** The local servers a handler talks to, by the names used in reports. */
export type ServerName = "cupi" | "secretsManager" | "dynamodb" | "sqs";

export interface ServerLoad {
  readonly requests: Record<ServerName, number>;
  /** From a request's arrival to its response's end, summed: each server's share of the time. */
  readonly busyMs: Record<ServerName, number>;
}

function zeroes(): Record<ServerName, number> {
  return { cupi: 0, secretsManager: 0, dynamodb: 0, sqs: 0 };
}

/**
 * Counts the HTTP requests each local server of the stack received, and the time it spent on
 * them, by listening port (Node's http.server diagnostics channels: no change to the servers).
 */
export function countServerRequests(stack: LocalStack) {
  const ports = new Map<number, ServerName>([
    [Number(new URL(stack.simulator.url).port), "cupi"],
    [Number(new URL(stack.secretsManager.url).port), "secretsManager"],
    [Number(new URL(stack.dynamodb.endpoint).port), "dynamodb"],
    [Number(new URL(stack.queues.endpoint).port), "sqs"],
  ]);
  let requests = zeroes();
  let busyMs = zeroes();
  const started = new WeakMap<IncomingMessage, { name: ServerName; at: number }>();
  const nameOf = (server: Server) =>
    ports.get((server.address() as AddressInfo | null)?.port ?? -1);
  const onStart = (message: unknown): void => {
    const { request, server } = message as { request: IncomingMessage; server: Server };
    const name = nameOf(server);
    if (name === undefined) return;
    requests[name] += 1;
    started.set(request, { name, at: performance.now() });
  };
  const onFinish = (message: unknown): void => {
    const { request } = message as { request: IncomingMessage };
    const start = started.get(request);
    if (start !== undefined) busyMs[start.name] += performance.now() - start.at;
  };
  subscribe("http.server.request.start", onStart);
  subscribe("http.server.response.finish", onFinish);
  return {
    /** The counts so far, and zeroes them. */
    take(): ServerLoad {
      const taken = { requests, busyMs };
      requests = zeroes();
      busyMs = zeroes();
      return taken;
    },
    stop(): void {
      unsubscribe("http.server.request.start", onStart);
      unsubscribe("http.server.response.finish", onFinish);
    },
  };
}
