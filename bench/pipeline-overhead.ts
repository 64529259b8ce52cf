/**
 * Issue 6, benchmark 1: what the pipeline adds on top of its HTTP calls. The real reset handler,
 * invoked in-process with SQS events of 10 records (Secrets Manager stand-in, dynalite state
 * table, CUPI simulator over HTTPS), against a careful script of undici requests (issue 13: the alias
 * lookup, then the PUT of the same Credential XML) at the same concurrency to the same simulator;
 * at 0 ms and 20 ms simulated CUC latency.
 *
 * Two ratios: per event (events/s through the handler ÷ the script's resets/s: the issue's figure,
 * which also pays for every CUC request an event needs beyond the script's two) and per request
 * (CUC requests/s the handler got served ÷ the script's requests/s: what the pipeline itself costs
 * around its HTTP calls). Handler and script phases alternate in rounds, so a busy machine slows
 * both alike.
 */
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";
import { Pool } from "undici";
import { DEMO_ACCOUNT } from "../dev/cupi-simulator/demo-account.ts";
import {
  type LocalStack,
  SERVICE_ACCOUNT_SECRET,
  startLocalStack,
  useEnvironment,
} from "../dev/local-stack.ts";
import { lambdaContext, sqsRecord } from "../dev/sqs/lambda-event.ts";
import { buildCredentialXml } from "../lib/cupi/credential-xml.ts";
import { createResetHandlerFromEnvironment } from "../lib/reset/wiring.ts";
import { SecretValue } from "../lib/secrets/secret-value.ts";
import { atLeast, type BenchOptions, type BenchResult, round } from "./harness.ts";
import {
  BenchUsers,
  countServerRequests,
  inProcessLogger,
  resetEvent,
  type ServerName,
} from "./pipeline-support.ts";
import { shippedSettings } from "./shipped-settings.ts";

const LATENCIES_MS = [0, 20] as const;
const BATCH_SIZE = 10;
const TARGET_RATIO = 0.9;
/** Users per side; round-robin, so a user comes back only after this many events. */
const USERS = 400;

interface Sizes {
  readonly rounds: number;
  /** Each handler phase and each script phase. */
  readonly phaseMs: number;
  /** Connections, session, service-account secret, JIT: one of each phase before measuring. */
  readonly warmUpMs: number;
}

const FULL: Sizes = { rounds: 3, phaseMs: 3_000, warmUpMs: 1_000 };
const QUICK: Sizes = { rounds: 1, phaseMs: 250, warmUpMs: 100 };

interface PhaseTotals {
  /** Events through the handler, or resets of the script. */
  count: number;
  elapsedMs: number;
  requests: Record<ServerName, number>;
  busyMs: Record<ServerName, number>;
}

function emptyTotals(): PhaseTotals {
  const zeroes = () => ({ cupi: 0, secretsManager: 0, dynamodb: 0, sqs: 0 });
  return { count: 0, elapsedMs: 0, requests: zeroes(), busyMs: zeroes() };
}

function add(totals: PhaseTotals, phase: PhaseTotals): void {
  totals.count += phase.count;
  totals.elapsedMs += phase.elapsedMs;
  for (const name of Object.keys(totals.requests) as ServerName[]) {
    totals.requests[name] += phase.requests[name];
    totals.busyMs[name] += phase.busyMs[name];
  }
}

export interface LatencyFigures {
  readonly latencyMs: number;
  readonly handlerEvents: number;
  readonly handlerEventsPerSecond: number;
  readonly handlerCupiRequestsPerSecond: number;
  /** Resets done by the careful script (a lookup and a PUT each). */
  readonly scriptResets: number;
  readonly scriptResetsPerSecond: number;
  readonly scriptRequestsPerSecond: number;
  /** Events/s through the handler ÷ the script's resets/s: issue 13's ratio (≥ 0.90). */
  readonly eventRatio: number;
  /** CUC requests/s served to the handler ÷ the script's requests/s: the pipeline's own cost. */
  readonly requestRatio: number;
  readonly cupiRequestsPerEvent: number;
  readonly secretsManagerCallsPerEvent: number;
  readonly dynamodbCallsPerEvent: number;
  /** Handler time per event beyond its CUC requests at the script's pace, per slot. */
  readonly pipelineMsPerEvent: number;
  /** Wall time per event through the handler, and the local servers' share of it. */
  readonly handlerMsPerEvent: number;
  readonly serverMsPerEvent: Record<"cupi" | "secretsManager" | "dynamodb", number>;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const sizes = options.quick ? QUICK : FULL;
  const concurrency = shippedSettings().cupiMaxInFlight;
  options.log(
    `handler (batches of ${BATCH_SIZE}) vs a careful script (lookup, PUT), ${concurrency} CUC request(s) in flight (serverless.yml cupiMaxInFlight), ${sizes.rounds} round(s) of ${sizes.phaseMs} ms each`,
  );
  const measured: LatencyFigures[] = [];
  for (const latencyMs of LATENCIES_MS) {
    const figures = await measureAt(latencyMs, concurrency, sizes);
    options.log(
      `${latencyMs} ms: handler ${figures.handlerEventsPerSecond} events/s (${figures.handlerCupiRequestsPerSecond} CUC requests/s, ${figures.cupiRequestsPerEvent} per event), script ${figures.scriptResetsPerSecond} resets/s (${figures.scriptRequestsPerSecond} requests/s); ratio per event ${figures.eventRatio}, per request ${figures.requestRatio}`,
    );
    measured.push(figures);
  }
  return {
    figures: {
      concurrency,
      batchSize: BATCH_SIZE,
      event:
        "reset-pin, user by objectId, new PIN from a Secrets Manager secret (jsonKey), no settings; state table on (idempotency, ordering, attempt log), logs at INFO serialised but not printed",
      rounds: sizes.rounds,
      phaseMs: sizes.phaseMs,
      byLatency: Object.fromEntries(measured.map((figures) => [`${figures.latencyMs}ms`, figures])),
    },
    targets: measured.map((figures) =>
      atLeast(
        `events/s through the handler ÷ a careful script's resets/s at ${figures.latencyMs} ms`,
        TARGET_RATIO,
        figures.eventRatio,
      ),
    ),
  };
}

async function measureAt(
  latencyMs: number,
  concurrency: number,
  sizes: Sizes,
): Promise<LatencyFigures> {
  const handlerUsers = new BenchUsers(1, USERS);
  const scriptUsers = new BenchUsers(2, USERS);
  const stack = await startLocalStack({
    users: [...handlerUsers.users, ...scriptUsers.users],
    simulator: { latencyMs },
    environment: { CUPI_MAX_IN_FLIGHT: String(concurrency) },
  });
  const restoreEnvironment = useEnvironment(stack.environment);
  const counter = countServerRequests(stack);
  const recentLogLines: string[] = [];
  const handler = createResetHandlerFromEnvironment(
    stack.environment,
    inProcessLogger((line) => {
      recentLogLines.push(line);
      if (recentLogLines.length > 20) recentLogLines.shift();
    }),
  );
  const driver = new HandlerDriver(stack, handler, handlerUsers, `${latencyMs}ms`, () =>
    recentLogLines.join(""),
  );
  const script = new CarefulScript(stack, concurrency, scriptUsers);
  try {
    await driver.phase(sizes.warmUpMs, counter);
    await script.phase(sizes.warmUpMs, counter);
    const handlerTotals = emptyTotals();
    const scriptTotals = emptyTotals();
    for (let round = 0; round < sizes.rounds; round++) {
      add(handlerTotals, await driver.phase(sizes.phaseMs, counter));
      add(scriptTotals, await script.phase(sizes.phaseMs, counter));
    }
    driver.verifyApplied();
    const stats = stack.simulator.stats;
    if (stats.throttled > 0) throw new Error(`the simulator throttled ${stats.throttled} requests`);
    const perSecond = (count: number, elapsedMs: number) => count / (elapsedMs / 1000);
    const events = handlerTotals.count;
    const eventsPerSecond = perSecond(events, handlerTotals.elapsedMs);
    const cupiPerSecond = perSecond(handlerTotals.requests.cupi, handlerTotals.elapsedMs);
    const scriptPerSecond = perSecond(scriptTotals.count, scriptTotals.elapsedMs);
    const scriptRequestsPerSecond = perSecond(scriptTotals.requests.cupi, scriptTotals.elapsedMs);
    const requestsPerEvent = handlerTotals.requests.cupi / events;
    return {
      latencyMs,
      handlerEvents: events,
      handlerEventsPerSecond: round(eventsPerSecond),
      handlerCupiRequestsPerSecond: round(cupiPerSecond),
      scriptResets: scriptTotals.count,
      scriptResetsPerSecond: round(scriptPerSecond),
      scriptRequestsPerSecond: round(scriptRequestsPerSecond),
      eventRatio: round(eventsPerSecond / scriptPerSecond),
      requestRatio: round(cupiPerSecond / scriptRequestsPerSecond),
      cupiRequestsPerEvent: round(requestsPerEvent),
      secretsManagerCallsPerEvent: round(handlerTotals.requests.secretsManager / events),
      dynamodbCallsPerEvent: round(handlerTotals.requests.dynamodb / events),
      pipelineMsPerEvent: round(
        (1 / eventsPerSecond - requestsPerEvent / scriptRequestsPerSecond) * 1000 * concurrency,
      ),
      handlerMsPerEvent: round(handlerTotals.elapsedMs / events),
      serverMsPerEvent: {
        cupi: round(handlerTotals.busyMs.cupi / events),
        secretsManager: round(handlerTotals.busyMs.secretsManager / events),
        dynamodb: round(handlerTotals.busyMs.dynamodb / events),
      },
    };
  } finally {
    counter.stop();
    await Promise.all([handler.close(), script.close()]);
    await stack.close();
    restoreEnvironment();
  }
}

type Handler = ReturnType<typeof createResetHandlerFromEnvironment>;

/** Invokes the handler with batches of fresh reset events, one invocation at a time, as Lambda. */
class HandlerDriver {
  readonly #stack: LocalStack;
  readonly #handler: Handler;
  readonly #users: BenchUsers;
  readonly #runId: string;
  readonly #logTail: () => string;
  /** The PIN each user should hold now. */
  readonly #expected = new Map<string, string>();
  #sequence = 0;

  constructor(
    stack: LocalStack,
    handler: Handler,
    users: BenchUsers,
    runId: string,
    logTail: () => string,
  ) {
    this.#stack = stack;
    this.#handler = handler;
    this.#users = users;
    this.#runId = runId;
    this.#logTail = logTail;
  }

  /** Batches until `durationMs` of invocation time is spent; preparing them is not timed. */
  async phase(
    durationMs: number,
    counter: ReturnType<typeof countServerRequests>,
  ): Promise<PhaseTotals> {
    counter.take();
    this.#stack.simulator.resetStats();
    let elapsedMs = 0;
    let count = 0;
    while (elapsedMs < durationMs) {
      const records = this.#batch();
      const started = performance.now();
      const response = (await this.#handler(
        { Records: records },
        lambdaContext(60_000),
      )) as SQSBatchResponse;
      elapsedMs += performance.now() - started;
      if (response.batchItemFailures.length > 0) {
        throw new Error(
          `${response.batchItemFailures.length} record(s) failed; last log lines:\n${this.#logTail()}`,
        );
      }
      count += records.length;
    }
    const { requests, busyMs } = counter.take();
    const served = this.#stack.simulator.stats.requests;
    if (requests.cupi !== served)
      throw new Error(`counted ${requests.cupi} CUC requests, the simulator ${served}`);
    return { count, elapsedMs, requests, busyMs };
  }

  /** Every user holds the PIN of its last event: the handler really applied them. */
  verifyApplied(): void {
    for (const [objectId, pin] of this.#expected) {
      if (this.#stack.simulator.credentialOf(objectId, "pin").value !== pin)
        throw new Error(`user ${objectId} does not hold the PIN of its last event`);
    }
  }

  #batch(): SQSRecord[] {
    return Array.from({ length: BATCH_SIZE }, () => {
      const user = this.#users.nextUser();
      const pin = this.#users.freshPin(user);
      const event = resetEvent(this.#runId, ++this.#sequence, user);
      this.#stack.secretsManager.putSecret(event.secretId, JSON.stringify({ pin }));
      this.#expected.set(user.objectId, pin);
      return sqsRecord(`msg-${event.eventId}`, event.body, this.#stack.queues.queueArn);
    });
  }
}

/**
 * The floor, as a careful script does a reset (issue 13): look the user up by alias
 * (GET /vmrest/users?query=(alias is …)), then PUT /vmrest/users/{objectId}/credential/pin with the
 * Credential XML the client builds, over a keep-alive undici pool of `concurrency` connections,
 * with the headers the client sends (Basic and the session cookie), nothing else.
 */
class CarefulScript {
  readonly #pool: Pool;
  readonly #concurrency: number;
  readonly #users: BenchUsers;
  readonly #authorization =
    `Basic ${Buffer.from(`${DEMO_ACCOUNT.username}:${DEMO_ACCOUNT.password}`).toString("base64")}`;
  #cookie: string | undefined;
  /** PUTs per ms seen so far, to prepare enough bodies for the next phase. */
  #rate = 2;

  constructor(stack: LocalStack, concurrency: number, users: BenchUsers) {
    const secret = JSON.parse(stack.secretsManager.secretValue(SERVICE_ACCOUNT_SECRET) ?? "{}") as {
      caCertificate?: string;
    };
    this.#pool = new Pool(stack.simulator.url, {
      connections: concurrency,
      pipelining: 1,
      keepAliveTimeout: 15_000,
      connect: { rejectUnauthorized: true, ca: secret.caCertificate },
    });
    this.#concurrency = concurrency;
    this.#users = users;
  }

  async phase(
    durationMs: number,
    counter: ReturnType<typeof countServerRequests>,
  ): Promise<PhaseTotals> {
    // Bodies are built before the clock starts, as many as the pace so far needs, and then some.
    const puts = Array.from({ length: Math.ceil(this.#rate * durationMs * 1.5) + 20 }, () => {
      const user = this.#users.nextUser();
      const xml = buildCredentialXml({ Credentials: new SecretValue(this.#users.freshPin(user)) });
      return {
        lookup: `/vmrest/users?query=${encodeURIComponent(`(alias is ${user.alias})`)}`,
        path: `/vmrest/users/${user.objectId}/credential/pin`,
        xml,
      };
    });
    counter.take();
    let next = 0;
    const started = performance.now();
    const endAt = started + durationMs;
    const worker = async () => {
      while (performance.now() < endAt && next < puts.length) {
        const reset = puts[next++] as { lookup: string; path: string; xml: string };
        await this.#send("GET", reset.lookup, 200);
        await this.#send("PUT", reset.path, 204, reset.xml);
      }
    };
    await Promise.all(Array.from({ length: this.#concurrency }, worker));
    const elapsedMs = performance.now() - started;
    // Out of bodies before the time was up: the pace was higher than prepared for.
    const measured = next / elapsedMs;
    this.#rate = next === puts.length ? Math.max(this.#rate * 2, measured) : measured;
    return { count: next, elapsedMs, ...counter.take() };
  }

  async #send(method: "GET" | "PUT", path: string, expected: number, xml?: string): Promise<void> {
    const response = await this.#pool.request({
      method,
      path,
      headers: {
        authorization: this.#authorization,
        accept: "application/xml",
        ...(xml === undefined ? {} : { "content-type": "application/xml" }),
        ...(this.#cookie === undefined ? {} : { cookie: this.#cookie }),
      },
      body: xml ?? null,
    });
    const text = await response.body.text();
    if (response.statusCode !== expected)
      throw new Error(
        `the script's ${method} answered ${response.statusCode}: ${text.slice(0, 200)}`,
      );
    const setCookie = response.headers["set-cookie"];
    if (setCookie !== undefined) {
      this.#cookie = [setCookie]
        .flat()
        .map((line) => line.split(";")[0])
        .join("; ");
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
