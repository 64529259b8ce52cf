/**
 * Issue 6, benchmark 2: cold start. The reset function is packaged as `npm run package` does it
 * (osls package, offline, in a copy of the project so that serverless-esbuild's `.esbuild` work
 * folder and `.serverless` are not shared with anything else running), `reset.zip` is unzipped,
 * and a fresh Node.js process imports the handler as Lambda does: load time includes everything the
 * module does at import (configuration, AWS clients, logger). The floor is bench/floor/index.ts,
 * bundled with the same esbuild options (read from the packaged service, so they cannot drift) and
 * imported the same way. Both run with the function's deployed environment, NODE_OPTIONS included,
 * alternating, one process per load; the figures are medians.
 *
 * The handler then takes two invocations of one malformed record, which it dead-letters to a local
 * SQS stand-in after publishing its outcome to a local EventBridge stand-in (the deployed default
 * bus): the first pays for what the handler loads lazily (the DLQ and outcome paths), the second
 * does not, so "load + first dead letter" shows what deferring moved rather than removed.
 *
 * Last, what the metrics cost (issue 14): the handler built twice with the same options, once with
 * Powertools Metrics and once with bench/floor/metrics-stub.ts in its place, each imported in
 * fresh processes, alternating; the difference of the medians.
 */
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { packageProject, unzipInto } from "../dev/container/packaged.ts";
import { startEventBridgeStandIn } from "../dev/eventbridge/index.ts";
import {
  atMost,
  type BenchOptions,
  type BenchResult,
  median,
  percentile,
  round,
} from "./harness.ts";

const execFileAsync = promisify(execFile);
const FLOOR_ENTRY = "bench/floor/index.ts";
const HANDLER_ENTRY = "functions/reset.ts";
const METRICS_STUB = "bench/floor/metrics-stub.ts";

export const TARGET_RATIO = 1.15;
/** Issue 6: "bundle ≤ 1.2 MB", in decimal megabytes. */
export const TARGET_BUNDLE_BYTES = 1_200_000;
/** Issue 13: the handler's load at most 10 ms more than the floor's (medians). */
export const TARGET_GAP_MS = 10;
/** Issue 13: "bundle ≤ 1.0 MB", in decimal megabytes. */
export const TARGET_BUNDLE_BYTES_13 = 1_000_000;

const FULL = { repetitions: 20 };
const QUICK = { repetitions: 2 };

/** serverless-esbuild options that are its own, not esbuild's (it strips them the same way). */
const PLUGIN_OPTIONS = new Set([
  "concurrency",
  "zipConcurrency",
  "exclude",
  "nativeZip",
  "packager",
  "packagePath",
  "watch",
  "keepOutputDirectory",
  "packagerOptions",
  "installExtraArgs",
  "outputFileExtension",
  "outputBuildFolder",
  "outputWorkFolder",
  "nodeExternals",
  "skipBuild",
  "skipRebuild",
  "skipBuildExcludeFns",
  "stripEntryResolveExtensions",
  "disposeContext",
]);

/**
 * The esbuild options serverless-esbuild 1.x derives from `custom.esbuild` (its defaults, minus its
 * own keys, `exclude` appended to `external`, `outputFileExtension` as `outExtension`).
 */
export function esbuildOptionsOf(
  custom: Record<string, unknown>,
  runtime: string,
  serviceDir = ".",
): BuildOptions {
  if ("config" in custom) {
    throw new Error("custom.esbuild.config is not supported by the cold-start bench");
  }
  const pluginsFile = custom.plugins;
  if (pluginsFile !== undefined && typeof pluginsFile !== "string") {
    throw new Error("custom.esbuild.plugins must be a file for the cold-start bench");
  }
  // serverless-esbuild requires the file relative to the service, as here.
  const plugins =
    pluginsFile === undefined
      ? []
      : (createRequire(import.meta.url)(resolve(serviceDir, pluginsFile)) as Plugin[]);
  const exclude = (custom.exclude as string[] | undefined) ?? ["aws-sdk"];
  const external = (custom.external as string[] | undefined) ?? [];
  const extension = (custom.outputFileExtension as string | undefined) ?? ".js";
  const runtimeTarget = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  const own = Object.fromEntries(
    Object.entries(custom).filter(([key]) => !PLUGIN_OPTIONS.has(key) && key !== "plugins"),
  );
  return {
    bundle: true,
    platform: "node",
    ...(runtimeTarget === undefined ? {} : { target: `node${runtimeTarget}` }),
    ...own,
    ...(plugins.length === 0 ? {} : { plugins }),
    external: [...external, ...(exclude.includes("*") ? [] : exclude)],
    ...(extension === ".js" ? {} : { outExtension: { ".js": extension } }),
  };
}

interface PackagedService {
  readonly service: {
    readonly custom?: { readonly esbuild?: Record<string, unknown> };
    readonly provider: { readonly runtime: string; readonly environment?: Environment };
    readonly functions: Record<string, { handler: string; environment?: Environment }>;
  };
}
type Environment = Record<string, unknown>;

interface ChildResult {
  readonly loadMs: number;
  readonly loadCpuMs: number;
  readonly firstDeadLetterMs?: number;
  readonly secondDeadLetterMs?: number;
  readonly responses?: unknown[];
}

/** Runs in a fresh Node.js process per load: `node runner.mjs floor|handler <module URL>`. */
const RUNNER = `const [kind, url] = process.argv.slice(2);
const cpu = process.cpuUsage();
const started = performance.now();
const module = await import(url);
const loadMs = performance.now() - started;
const used = process.cpuUsage(cpu);
const result = { loadMs, loadCpuMs: (used.user + used.system) / 1000 };
if (kind === "handler") {
  const event = JSON.parse(process.env.COLD_START_EVENT);
  const context = {
    getRemainingTimeInMillis: () => 60000,
    awsRequestId: "cold-start",
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  };
  result.responses = [];
  for (const key of ["firstDeadLetterMs", "secondDeadLetterMs"]) {
    const invoked = performance.now();
    result.responses.push(await module.handler(event, context));
    result[key] = performance.now() - invoked;
  }
}
process.stdout.write("COLD-START " + JSON.stringify(result) + "\\n", () => process.exit(0));
`;

export interface ColdStartOptions extends BenchOptions {
  /**
   * An empty directory to build in and leave the artifacts in (`package/reset.zip`, `reset/` the
   * unzipped function, `floor/` the floor bundle), for tests; by default a temporary one, removed.
   */
  readonly workDir?: string;
}

export async function run(options: ColdStartOptions): Promise<BenchResult> {
  const sizes = options.quick ? QUICK : FULL;
  if (process.versions.node.split(".")[0] !== "24") {
    throw new Error(
      `cold start is measured on Node.js 24 (Lambda's nodejs24.x), not ${process.version}: run it through npm (npm run bench)`,
    );
  }
  const work = options.workDir ?? (await mkdtemp(join(tmpdir(), "cupi-reset-cold-start-")));
  const sqs = await startSqsStandIn();
  const eventBridge = await startEventBridgeStandIn({ region: "eu-west-1" });
  try {
    options.log("packaging (osls package, offline) in a copy of the project");
    const packageStarted = performance.now();
    const { project, output } = await packageProject(work);
    const packageMs = performance.now() - packageStarted;
    const state = JSON.parse(
      await readFile(join(output, "serverless-state.json"), "utf8"),
    ) as PackagedService;
    const reset = state.service.functions.reset;
    if (reset === undefined) throw new Error("the packaged service has no reset function");
    const custom = state.service.custom?.esbuild ?? {};
    const esbuildOptions = esbuildOptionsOf(custom, state.service.provider.runtime, project);
    const extension = (esbuildOptions.outExtension?.[".js"] as string | undefined) ?? ".js";

    const zipPath = join(output, "reset.zip");
    const zipBytes = (await stat(zipPath)).size;
    const unzipped = join(work, "reset");
    const entries = await unzipInto(zipPath, unzipped);
    const sizeOf = (pattern: RegExp): number =>
      Object.entries(entries)
        .filter(([name]) => pattern.test(name))
        .reduce((sum, [, content]) => sum + content.byteLength, 0);
    const bundleBytes = sizeOf(/\.(m|c)?js$/);
    const sourceMapBytes = sizeOf(/\.map$/);
    const handlerModule = join(
      unzipped,
      reset.handler.slice(0, reset.handler.lastIndexOf(".")) + extension,
    );
    if (!(handlerModule.slice(unzipped.length + 1) in entries)) {
      throw new Error(`reset.zip has no ${handlerModule.slice(unzipped.length + 1)}`);
    }

    options.log("bundling the floor with the same esbuild options");
    const floorDir = join(work, "floor");
    await build({
      ...esbuildOptions,
      absWorkingDir: project,
      entryPoints: [join(project, FLOOR_ENTRY)],
      outdir: floorDir,
      logLevel: "silent",
    });
    const floorModule = join(floorDir, `index${extension}`);
    const floorBundleBytes = (await stat(floorModule)).size;

    const environment = childEnvironment(
      { ...state.service.provider.environment, ...reset.environment },
      { sqs: sqs.url, eventBridge: eventBridge.url },
    );
    const nodeOptions = environment.NODE_OPTIONS ?? "";
    const runner = join(work, "runner.mjs");
    await writeFile(runner, RUNNER);
    const load = async (kind: "floor" | "handler"): Promise<ChildResult> => {
      const module = pathToFileURL(kind === "floor" ? floorModule : handlerModule).href;
      const { stdout } = await execFileAsync(process.execPath, [runner, kind, module], {
        cwd: kind === "floor" ? floorDir : unzipped,
        env: environment,
        timeout: 60_000,
      });
      const line = stdout.split("\n").find((candidate) => candidate.startsWith("COLD-START "));
      if (line === undefined) throw new Error(`${kind} load printed no result:\n${stdout}`);
      return JSON.parse(line.slice("COLD-START ".length)) as ChildResult;
    };

    options.log(
      `${sizes.repetitions} fresh processes each, alternating (NODE_OPTIONS=${nodeOptions || "(none)"})`,
    );
    // One pair first, not counted: the first process after a build reads cold files.
    await load("floor");
    await load("handler");
    const floor: ChildResult[] = [];
    const handler: ChildResult[] = [];
    for (let index = 0; index < sizes.repetitions; index += 1) {
      // Alternating who goes first, so neither always follows the other.
      if (index % 2 === 0) {
        floor.push(await load("floor"));
        handler.push(await load("handler"));
      } else {
        handler.push(await load("handler"));
        floor.push(await load("floor"));
      }
    }
    for (const result of handler) {
      for (const response of result.responses ?? []) {
        if (JSON.stringify(response) !== '{"batchItemFailures":[]}') {
          throw new Error(
            `the handler did not dead-letter the record: ${JSON.stringify(response)}`,
          );
        }
      }
    }
    const expectedSends = 2 * (sizes.repetitions + 1);
    if (sqs.sendMessageCalls() !== expectedSends) {
      throw new Error(`SQS stand-in got ${sqs.sendMessageCalls()} sends, not ${expectedSends}`);
    }
    // As deployed, each dead-lettered record's outcome is published first (OUTCOME_EVENT_BUS).
    if (eventBridge.published.length !== expectedSends) {
      throw new Error(
        `EventBridge stand-in got ${eventBridge.published.length} outcome events, not ${expectedSends}`,
      );
    }

    const medianOf = (results: ChildResult[], pick: (result: ChildResult) => number): number =>
      median(results.map(pick));
    const floorLoadMs = medianOf(floor, (result) => result.loadMs);
    const handlerLoadMs = medianOf(handler, (result) => result.loadMs);
    const coldStartRatio = handlerLoadMs / floorLoadMs;
    const floorCpuMs = medianOf(floor, (result) => result.loadCpuMs);
    const handlerCpuMs = medianOf(handler, (result) => result.loadCpuMs);
    const firstDeadLetterMs = medianOf(handler, (result) => result.firstDeadLetterMs ?? NaN);
    const secondDeadLetterMs = medianOf(handler, (result) => result.secondDeadLetterMs ?? NaN);
    const loadPlusFirstDeadLetterMs = medianOf(
      handler,
      (result) => result.loadMs + (result.firstDeadLetterMs ?? NaN),
    );
    const metrics = await weighMetrics(
      esbuildOptions,
      project,
      work,
      sizes.repetitions,
      extension,
      async (module) => {
        const { stdout } = await execFileAsync(process.execPath, [runner, "module", module], {
          env: environment,
          timeout: 60_000,
        });
        const line = stdout.split("\n").find((candidate) => candidate.startsWith("COLD-START "));
        if (line === undefined) throw new Error(`module load printed no result:\n${stdout}`);
        return (JSON.parse(line.slice("COLD-START ".length)) as ChildResult).loadMs;
      },
    );
    options.log(
      `metrics: the handler loads in ${round(metrics.withMs)} ms with them, ${round(metrics.withoutMs)} ms without (medians): ${round(metrics.withMs - metrics.withoutMs)} ms; bundle +${metrics.bundleBytes} bytes`,
    );
    const p90 = (results: ChildResult[]): number =>
      percentile(
        results.map((result) => result.loadMs).sort((a, b) => a - b),
        0.9,
      );
    options.log(
      `floor ${round(floorLoadMs)} ms, handler ${round(handlerLoadMs)} ms: ${round(coldStartRatio)}x; bundle ${bundleBytes} bytes, zip ${zipBytes} bytes`,
    );
    return {
      figures: {
        repetitions: sizes.repetitions,
        nodeVersion: process.version,
        nodeOptions,
        floorLoadMs: round(floorLoadMs),
        handlerLoadMs: round(handlerLoadMs),
        coldStartRatio: round(coldStartRatio),
        coldStartGapMs: round(handlerLoadMs - floorLoadMs),
        floorLoadP90Ms: round(p90(floor)),
        handlerLoadP90Ms: round(p90(handler)),
        floorLoadCpuMs: round(floorCpuMs),
        handlerLoadCpuMs: round(handlerCpuMs),
        cpuRatio: round(handlerCpuMs / floorCpuMs),
        handlerFirstDeadLetterMs: round(firstDeadLetterMs),
        handlerSecondDeadLetterMs: round(secondDeadLetterMs),
        handlerLoadPlusFirstDeadLetterMs: round(loadPlusFirstDeadLetterMs),
        metricsLoadMs: round(metrics.withMs - metrics.withoutMs),
        metricsBundleBytes: metrics.bundleBytes,
        zipBytes,
        bundleBytes,
        sourceMapBytes,
        floorBundleBytes,
        zipEntries: Object.keys(entries).sort(),
        packageMs: Math.round(packageMs),
        // The plugins by name: their code is not a figure.
        esbuildOptions: {
          ...esbuildOptions,
          plugins: (esbuildOptions.plugins ?? []).map((plugin) => plugin.name),
        },
      },
      targets: [
        atMost(
          "cold start: handler load ÷ floor load (medians)",
          TARGET_RATIO,
          round(coldStartRatio),
        ),
        atMost(
          "bundle: JavaScript in reset.zip (1.2 MB = 1,200,000 bytes, source map excluded)",
          TARGET_BUNDLE_BYTES,
          bundleBytes,
          " bytes",
        ),
        atMost(
          "cold start: handler load − floor load (medians, issue 13)",
          TARGET_GAP_MS,
          round(handlerLoadMs - floorLoadMs),
          " ms",
        ),
        atMost(
          "bundle: JavaScript in reset.zip (1.0 MB, issue 13)",
          TARGET_BUNDLE_BYTES_13,
          bundleBytes,
          " bytes",
        ),
      ],
    };
  } finally {
    await Promise.all([sqs.close(), eventBridge.close()]);
    if (options.workDir === undefined) await rm(work, { recursive: true, force: true });
  }
}

/** Extracts a zip into `destination`; returns its entries by name. */
/**
 * What Lambda gives the function: its deployed environment (CloudFormation references replaced
 * by plausible values; the DLQ is the local stand-in) and the runtime's own variables. Nothing is
 * inherited from this process but PATH.
 */
function childEnvironment(
  deployed: Environment,
  endpoints: { sqs: string; eventBridge: string },
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(deployed)) {
    resolved[name] = typeof value === "string" ? value : `cold-start-${name.toLowerCase()}`;
  }
  return {
    PATH: process.env.PATH ?? "",
    TZ: ":UTC",
    AWS_REGION: "eu-west-1",
    AWS_DEFAULT_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIDCOLDSTART",
    AWS_SECRET_ACCESS_KEY: "cold-start",
    AWS_SESSION_TOKEN: "cold-start",
    AWS_LAMBDA_FUNCTION_NAME: "cupi-reset-dev-reset",
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    ...resolved,
    DLQ_URL: `${endpoints.sqs}/123456789012/cupi-reset-dev-events-dlq`,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventBridge,
    COLD_START_EVENT: JSON.stringify(malformedRecordEvent()),
  };
}

/** One record the handler cannot parse: it goes straight to the DLQ, touching nothing else. */
function malformedRecordEvent(): unknown {
  const now = String(Date.now());
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: "cold-start",
        body: "{ not JSON",
        attributes: {
          ApproximateReceiveCount: "1",
          SentTimestamp: now,
          SenderId: "AIDACOLDSTART",
          ApproximateFirstReceiveTimestamp: now,
        },
        messageAttributes: {},
        md5OfBody: createHash("md5").update("{ not JSON").digest("hex"),
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:cupi-reset-dev-events",
        awsRegion: "eu-west-1",
      },
    ],
  };
}

/** Answers SQS SendMessage (JSON protocol) as SQS does, checksum included; nothing else. */
async function startSqsStandIn(): Promise<{
  url: string;
  sendMessageCalls: () => number;
  close: () => Promise<void>;
}> {
  let sends = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const target = request.headers["x-amz-target"];
      if (target !== "AmazonSQS.SendMessage") {
        response.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
        response.end(
          JSON.stringify({ __type: "com.amazon.coral.service#UnknownOperationException" }),
        );
        return;
      }
      sends += 1;
      const { MessageBody } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        MessageBody: string;
      };
      response.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      response.end(
        JSON.stringify({
          MessageId: randomUUID(),
          MD5OfMessageBody: createHash("md5").update(MessageBody).digest("hex"),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sendMessageCalls: () => sends,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What Powertools Metrics adds to the handler's load: the handler bundled twice with the
 * deployment's esbuild options, with the module and with a stub of it, each imported
 * `repetitions` times in fresh processes, alternating; medians.
 */
async function weighMetrics(
  esbuildOptions: BuildOptions,
  project: string,
  work: string,
  repetitions: number,
  extension: string,
  loadMs: (moduleUrl: string) => Promise<number>,
): Promise<{ withMs: number; withoutMs: number; bundleBytes: number }> {
  const bundles: Record<"with" | "without", string> = { with: "", without: "" };
  for (const variant of ["with", "without"] as const) {
    const outdir = join(work, `metrics-${variant}`);
    await build({
      ...esbuildOptions,
      absWorkingDir: project,
      entryPoints: [join(project, HANDLER_ENTRY)],
      outdir,
      logLevel: "silent",
      ...(variant === "without"
        ? {
            alias: {
              ...esbuildOptions.alias,
              "@aws-lambda-powertools/metrics": join(project, METRICS_STUB),
            },
          }
        : {}),
    });
    bundles[variant] = join(outdir, `reset${extension}`);
  }
  const times: Record<"with" | "without", number[]> = { with: [], without: [] };
  for (let index = 0; index < repetitions; index += 1) {
    const order = index % 2 === 0 ? (["with", "without"] as const) : (["without", "with"] as const);
    for (const variant of order) {
      times[variant].push(await loadMs(pathToFileURL(bundles[variant]).href));
    }
  }
  const withBytes = (await stat(bundles.with)).size;
  const withoutBytes = (await stat(bundles.without)).size;
  return {
    withMs: median(times.with),
    withoutMs: median(times.without),
    bundleBytes: withBytes - withoutBytes,
  };
}
