// Kills Lambda containers at chosen points of their work, as Lambda does on a timeout or out of
// memory: a share of invocations is picked, and the simulated CUC says when the point is reached.
import type { SQSEvent } from "aws-lambda";
import type { ExchangeStage, RecordedRequest } from "../cupi-simulator/index.ts";
import type { ProcessContainers } from "./containers.ts";

export const CRASH_POINTS = [
  /** Before its credential PUT is sent: at the GET that precedes it. */
  "before-put",
  /** CUC applied the PUT; its answer is not yet sent. */
  "put-unanswered",
  /** Just after the PUT's answer: the attempt log and idempotency writes that follow it. */
  "after-answer",
  /** Just after CUC said an alias is unknown: the DLQ send that follows. */
  "dlq-send",
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

interface Armed {
  readonly point: CrashPoint;
  readonly messageIds: ReadonlySet<string>;
  readonly aliases: ReadonlySet<string>;
  readonly objectIds: ReadonlySet<string>;
}

/** After an answer, the kill comes within this long: inside the writes that follow it. */
const MAX_KILL_DELAY_MS = 20;
const CREDENTIAL_PATH = /^\/vmrest\/users\/([^/]+)\/credential\/(pin|password)$/;

export interface CrashReport {
  /** Invocations picked, and then killed, by point. */
  readonly armed: Readonly<Record<CrashPoint, number>>;
  readonly killed: Readonly<Record<CrashPoint, number>>;
}

/**
 * Picks `rate` of the invocations, each with a point its batch can reach (a DLQ send when it
 * holds an unknown alias, else one of the others), and kills the container running it when the simulated CUC sees the
 * point reached. An invocation that ends before that is not killed.
 */
export class CrashPlan {
  readonly #rate: number;
  readonly #random: () => number;
  readonly #containers: () => ProcessContainers;
  readonly #objectIdOf: (alias: string) => string | undefined;
  readonly #isUnknownAlias: (alias: string) => boolean;
  readonly #armed = new Set<Armed>();
  readonly #counts = {
    armed: zeroes(),
    killed: zeroes(),
  };

  constructor(options: {
    readonly rate: number;
    readonly random: () => number;
    readonly containers: () => ProcessContainers;
    readonly objectIdOf: (alias: string) => string | undefined;
    readonly isUnknownAlias: (alias: string) => boolean;
  }) {
    this.#rate = options.rate;
    this.#random = options.random;
    this.#containers = options.containers;
    this.#objectIdOf = options.objectIdOf;
    this.#isUnknownAlias = options.isUnknownAlias;
  }

  get report(): CrashReport {
    return { armed: { ...this.#counts.armed }, killed: { ...this.#counts.killed } };
  }

  /** Called as an invocation starts; the returned function, when it ends. */
  arm(event: SQSEvent): () => void {
    if (this.#random() >= this.#rate) return () => undefined;
    const aliases = new Set(event.Records.map((record) => aliasOf(record.body)));
    // A DLQ send is the rarest point (few batches hold an unknown alias): taken whenever it can be.
    const point = [...aliases].some(this.#isUnknownAlias)
      ? "dlq-send"
      : (CRASH_POINTS.slice(0, 3)[Math.floor(this.#random() * 3)] ?? "before-put");
    const armed: Armed = {
      point,
      messageIds: new Set(event.Records.map((record) => record.messageId)),
      aliases,
      objectIds: new Set(
        [...aliases].map(this.#objectIdOf).filter((id): id is string => id !== undefined),
      ),
    };
    this.#counts.armed[point] += 1;
    this.#armed.add(armed);
    return () => this.#armed.delete(armed);
  }

  /** The simulator's onExchange. */
  readonly observe = (request: RecordedRequest, stage: ExchangeStage): void => {
    for (const armed of this.#armed) {
      if (!reaches(armed, request, stage)) continue;
      this.#armed.delete(armed);
      const kill = (): void => {
        if (this.#containers().killWhere((id) => armed.messageIds.has(id))) {
          this.#counts.killed[armed.point] += 1;
        }
      };
      if (stage === "answered") setTimeout(kill, this.#random() * MAX_KILL_DELAY_MS);
      else kill();
    }
  };
}

function reaches(armed: Armed, request: RecordedRequest, stage: ExchangeStage): boolean {
  const credential = CREDENTIAL_PATH.exec(request.path);
  const ofArmedUser = credential !== null && armed.objectIds.has(credential[1] ?? "");
  switch (armed.point) {
    case "before-put":
      return stage === "received" && request.method === "GET" && ofArmedUser;
    case "put-unanswered":
      return stage === "served" && request.method === "PUT" && ofArmedUser;
    case "after-answer":
      return stage === "answered" && request.method === "PUT" && ofArmedUser;
    case "dlq-send":
      return (
        stage === "answered" &&
        request.path === "/vmrest/users" &&
        [...armed.aliases].some((alias) => request.query.query === `(alias is ${alias})`)
      );
  }
}

function aliasOf(body: string): string {
  try {
    const alias = (JSON.parse(body) as { user?: { alias?: unknown } }).user?.alias;
    return typeof alias === "string" ? alias : "";
  } catch {
    return "";
  }
}

function zeroes(): Record<CrashPoint, number> {
  return Object.fromEntries(CRASH_POINTS.map((point) => [point, 0])) as Record<CrashPoint, number>;
}
