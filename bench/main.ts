/**
 * `npm run bench [-- name …] [--quick]`: runs the benchmarks of issue 6 (all by default), prints each
 * target with its figure, and merges the results into bench/results.json (other benchmarks' entries
 * are kept, so one can be re-run alone).
 */
import { readFile, writeFile } from "node:fs/promises";
import { type BenchModule, type BenchResult, machineInfo } from "./harness.ts";

export const BENCHES: Record<string, () => Promise<BenchModule>> = {
  "pipeline-overhead": () => import("./pipeline-overhead.ts"),
  "cold-start": () => import("./cold-start.ts"),
  "round-trips": () => import("./round-trips.ts"),
  throttle: () => import("./throttle.ts"),
  "offboard-wave": () => import("./offboard-wave.ts"),
  memory: () => import("./memory.ts"),
  latency: () => import("./latency.ts"),
};

const RESULTS_FILE = new URL("results.json", import.meta.url);

interface ResultsFile {
  machine: ReturnType<typeof machineInfo>;
  benches: Record<string, BenchResult & { measuredAt: string; durationMs: number }>;
}

async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const names = argv.filter((argument) => !argument.startsWith("--"));
  const unknown = names.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark: ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`,
    );
    return 2;
  }
  const selected = names.length > 0 ? names : Object.keys(BENCHES);
  const results: ResultsFile = quick
    ? { machine: machineInfo(), benches: {} }
    : await readResults();
  results.machine = machineInfo();
  let missed = 0;
  for (const name of selected) {
    const log = (line: string): void => console.log(`[${name}] ${line}`);
    const started = performance.now();
    const module = await (BENCHES[name] as () => Promise<BenchModule>)();
    const result = await module.run({ quick, log });
    const durationMs = Math.round(performance.now() - started);
    results.benches[name] = { ...result, measuredAt: new Date().toISOString(), durationMs };
    for (const target of result.targets) {
      if (!target.met) missed += 1;
      log(
        `${target.met ? "met   " : "MISSED"} ${target.name}: ${target.actual} (target ${target.target})`,
      );
    }
  }
  // A quick run proves the harness works; its tiny figures must not overwrite real ones.
  if (!quick) await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`${missed === 0 ? "all targets met" : `${missed} target(s) missed`}`);
  return 0;
}

async function readResults(): Promise<ResultsFile> {
  try {
    return JSON.parse(await readFile(RESULTS_FILE, "utf8")) as ResultsFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      return { machine: machineInfo(), benches: {} };
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
