/**
 * Issue 6, item 5: memory. 20,000 events through the real handler in one container (a child
 * process of its own, so neither the bench runner nor the local stack counts), the simulator at
 * 0 ms latency; RSS and heap sampled after a full GC after 1,000 events and then every 2,000.
 * What grows with the events a container has seen (caches, logs kept, listeners) shows as growth.
 * The container runs the packaged bundle from `npm run package`'s reset.zip, as Lambda does.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HANDLER_MODULE, packagedResetHandler } from "../dev/container/packaged.ts";
import { startLocalStack } from "../dev/local-stack.ts";
import { deadLetterCount, type MemorySample, planWorkload, startContainer } from "./container.ts";
import { type BenchOptions, type BenchResult, lessThan, round } from "./harness.ts";
import { shippedSettings } from "./shipped-settings.ts";

const FULL = { events: 20_000, baselineAt: 1_000, sampleEvery: 2_000 };
const QUICK = { events: 200, baselineAt: 20, sampleEvery: 60 };
/** Events share users, dozens each over the run. */
const USERS = 500;
const MB = 2 ** 20;
/**
 * The most a container can hold at once, rather than the deployed 5 and 1: Lambda's largest
 * window-less batch and CUC's whole throttle. Memory is judged at the worst case (and the run is
 * about twice as fast as one request at a time).
 */
const BATCH_SIZE = 10;
const CUPI_MAX_IN_FLIGHT = 5;
/**
 * V8 sizes its young generation from the machine's memory (two 64 MB semi-spaces on a 24 GB
 * host) and grows it with the allocation rate over the first thousands of events, well past the
 * 1,000-event baseline: RSS then climbs by tens of MB while the heap in use stays flat. Pinned
 * (min = max, the size V8 gives a small machine), the young generation is all in use before the
 * baseline, and RSS growth shows what the container keeps.
 */
const SEMI_SPACE_MB = 16;
/** serverless.yml's reset handler, as serverless-esbuild names it in the zip. */

interface Sample {
  readonly events: number;
  readonly rssMB: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly externalMB: number;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { events, baselineAt, sampleEvery } = options.quick ? QUICK : FULL;
  const deployed = shippedSettings();
  const batchSize = BATCH_SIZE;
  const workload = planWorkload(events, Math.min(USERS, events));
  const work = await mkdtemp(join(tmpdir(), "cupi-reset-memory-"));
  const stack = await startLocalStack({ users: workload.users, secrets: workload.secrets });
  try {
    options.log("packaging (osls package, offline) in a copy of the project");
    const handlerModule = await packagedResetHandler(work);
    const container = await startContainer(stack, {
      environment: { CUPI_MAX_IN_FLIGHT: String(CUPI_MAX_IN_FLIGHT) },
      handlerModule,
      timeoutMs: deployed.timeoutSeconds * 1000,
      nodeFlags: [
        `--min-semi-space-size=${SEMI_SPACE_MB}`,
        `--max-semi-space-size=${SEMI_SPACE_MB}`,
      ],
    });
    const samples: Sample[] = [];
    const take = async (done: number): Promise<MemorySample> => {
      const memory = await container.sample();
      samples.push({
        events: done,
        rssMB: round(memory.rssBytes / MB),
        heapUsedMB: round(memory.heapUsedBytes / MB),
        heapTotalMB: round(memory.heapTotalBytes / MB),
        externalMB: round(memory.externalBytes / MB),
      });
      return memory;
    };
    let failedRecords = 0;
    let baseline: MemorySample | undefined;
    let final: MemorySample | undefined;
    const started = performance.now();
    try {
      const loaded = await take(0);
      let done = 0;
      while (done < events) {
        // Batches end on the sampling points, so a sample sees exactly that many events.
        const nextStop =
          done < baselineAt ? baselineAt : (Math.floor(done / sampleEvery) + 1) * sampleEvery;
        const size = Math.min(batchSize, nextStop - done, events - done);
        const failed = await container.invoke(workload.bodies.slice(done, done + size));
        failedRecords += failed.length;
        done += size;
        if (done === baselineAt) baseline = await take(done);
        else if (done % sampleEvery === 0 || done === events) {
          const memory = await take(done);
          if (done === events) final = memory;
          options.log(
            `${done}/${events} events: RSS ${round(memory.rssBytes / MB)} MB, heap ${round(memory.heapUsedBytes / MB)} MB`,
          );
        }
      }
      if (baseline === undefined || final === undefined) throw new Error("samples missing");
      const durationMs = performance.now() - started;
      const rssGrowthMB = round((final.rssBytes - baseline.rssBytes) / MB);
      const heapGrowthMB = round((final.heapUsedBytes - baseline.heapUsedBytes) / MB);
      const puts = stack.simulator.requests.filter((request) => request.method === "PUT").length;
      return {
        figures: {
          events,
          baselineAtEvents: baselineAt,
          batchSize,
          cupiMaxInFlight: CUPI_MAX_IN_FLIGHT,
          semiSpaceMB: SEMI_SPACE_MB,
          handler: `reset.zip's ${HANDLER_MODULE}`,
          deployed: { batchSize: deployed.batchSize, cupiMaxInFlight: deployed.cupiMaxInFlight },
          actions: workload.actions,
          afterGc: final.afterGc,
          durationMs: Math.round(durationMs),
          eventsPerSecond: round(events / (durationMs / 1000)),
          failedRecords,
          deadLettered: await deadLetterCount(stack),
          puts: { expected: workload.expected.puts, actual: puts },
          rssAfterLoadMB: round(loaded.rssBytes / MB),
          rssAtBaselineMB: round(baseline.rssBytes / MB),
          rssAtEndMB: round(final.rssBytes / MB),
          rssGrowthMB,
          heapUsedAtBaselineMB: round(baseline.heapUsedBytes / MB),
          heapUsedAtEndMB: round(final.heapUsedBytes / MB),
          heapUsedGrowthMB: heapGrowthMB,
          heapTotalAtEndMB: round(final.heapTotalBytes / MB),
          // V8 sizes its young generation from the machine's memory and grows it under load up
          // to that size; it is most of the RSS above the heap in use, and not a leak.
          heapSpacesAtEndMB: Object.fromEntries(
            Object.entries(final.heapSpaceBytes)
              .filter(([, bytes]) => bytes > 0)
              .map(([space, bytes]) => [space, round(bytes / MB)]),
          ),
          heapUsedGrowthBytesPerEvent: Math.round(
            (final.heapUsedBytes - baseline.heapUsedBytes) / (events - baselineAt),
          ),
          samples,
        },
        targets: [
          lessThan(
            `RSS growth from ${baselineAt.toLocaleString("en")} to ${events.toLocaleString("en")} events`,
            20,
            rssGrowthMB,
            " MB",
          ),
        ],
      };
    } finally {
      await container.close();
    }
  } finally {
    await stack.close();
    await rm(work, { recursive: true, force: true });
  }
}
