// `npm run soak`: runSoak with the issue's events, its tallies printed; exits 1 when an invariant
// fails. Modes: random CUC faults (default, 5,000 events); --outage: CUC down for a simulated
// 4 hours (4 minutes: the soak's time constants are a sixtieth of AWS's) with 1,000 events
// queued; --crash: containers killed in 5% of invocations (2,000 events). Containers are child
// processes running the packaged bundle, as on AWS. Options: --events N, --seed N, --fault-rate
// 0..1, --outage-minutes N, --crash-rate 0..1, --sources (containers run the sources, not the
// bundle), --logs (the function's logs).
import { parseArgs } from "node:util";
import { runSoak, type SoakReport } from "./soak.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string" },
    seed: { type: "string" },
    "fault-rate": { type: "string" },
    outage: { type: "boolean", default: false },
    "outage-minutes": { type: "string", default: "4" },
    crash: { type: "boolean", default: false },
    "crash-rate": { type: "string", default: "0.05" },
    sources: { type: "boolean", default: false },
    logs: { type: "boolean", default: false },
  },
});

function numberOption(name: string, text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    console.error(`--${name} must be a number, not ${text}`);
    process.exit(2);
  }
  return value;
}

function print(report: SoakReport): void {
  const line = (label: string, value: string | number) =>
    console.log(`${`${label}:`.padEnd(34)} ${value}`);
  const { cuc } = report;
  line("seed", report.seed);
  line("events sent", report.events);
  line(
    "deliveries (incl. duplicates)",
    `${report.deliveries} (${report.duplicates} duplicates, then ${report.replayed} replayed)`,
  );
  line(
    "mix",
    `${report.outOfOrderPairs} out-of-order pairs, ${report.missingSecretEvents} missing secrets, ${report.unknownUserEvents} unknown users`,
  );
  line("SQS receives (retries incl.)", `${report.receives} in ${report.invocations} invocations`);
  line(
    "DLQ replay (SECRET_NOT_FOUND)",
    `${report.replayed} of ${report.expectedReplays}, with ${report.queuedAtReplay} messages still queued`,
  );
  line("applied exactly once", report.appliedExactlyOnce);
  const codes = Object.entries(report.deadLettered);
  line(
    "dead-lettered by code (permanent)",
    codes.length === 0
      ? "none"
      : codes
          .map(([code, { events, messages }]) => `${code} ${events} (${messages} messages)`)
          .join(", "),
  );
  const told = report.outcomeEvents;
  line(
    "outcome events published",
    `${told.published} (${told.duplicates} duplicates); ${told.untold} events untold, ${told.mistold} mistold`,
  );
  line("redriven after retries", report.redriven);
  line("RETRIES_EXHAUSTED", report.retriesExhausted);
  line("applied twice", report.appliedTwice);
  line("stale applied", report.staleApplied);
  line("unaccounted", report.unaccounted);
  line("unexpected outcome", report.unexpected);
  line("CUC requests", cuc.requests);
  line(
    "faults injected",
    Object.entries(cuc.faults)
      .filter(([, count]) => count > 0)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(", ") || "none",
  );
  line("peak CUC concurrency", `${cuc.peakConcurrency} (limit ${cuc.concurrencyLimit})`);
  line("throttled by CUC", cuc.throttled);
  if (report.recovery !== undefined) {
    const { drainMs, requests, throttled } = report.recovery;
    line(
      "after CUC came back",
      `drained in ${(drainMs / 1000).toFixed(1)} s; ${requests} requests, ${throttled} answered 503 (${((throttled / Math.max(1, requests)) * 100).toFixed(2)}%)`,
    );
  }
  if (report.crash !== undefined) {
    const { armed, killed, containersStarted, unaudited, auditedTwice } = report.crash;
    line(
      "containers killed (of armed)",
      Object.entries(killed)
        .map(([point, count]) => `${point} ${count} (of ${armed[point as keyof typeof armed]})`)
        .join(", "),
    );
    line("containers started", containersStarted);
    line("applied, not audited", unaudited);
    line("audited more than once", auditedTwice);
  }
  line("duration", `${(report.durationMs / 1000).toFixed(1)} s`);
  line("events/s", report.eventsPerSecond.toFixed(1));
  for (const example of report.examples) console.log(`  e.g. ${example}`);
  if (report.failures.length === 0) console.log("\nsoak passed");
  else console.log(`\nsoak FAILED:\n${report.failures.map((f) => `  - ${f}`).join("\n")}`);
}

if (values.outage && values.crash) {
  console.error("--outage and --crash are separate soaks: run one at a time");
  process.exit(2);
}
const defaultEvents = values.outage ? "1000" : values.crash ? "2000" : "5000";
const report = await runSoak({
  events: numberOption("events", values.events ?? defaultEvents),
  ...(values.seed === undefined ? {} : { seed: numberOption("seed", values.seed) }),
  ...(values["fault-rate"] === undefined
    ? {}
    : { faultRate: numberOption("fault-rate", values["fault-rate"]) }),
  ...(values.outage
    ? { outageMs: numberOption("outage-minutes", values["outage-minutes"]) * 60_000 }
    : {}),
  ...(values.crash ? { crashRate: numberOption("crash-rate", values["crash-rate"]) } : {}),
  packaged: !values.sources,
  logLevel: values.logs ? "INFO" : "SILENT",
});
print(report);
process.exitCode = report.failures.length === 0 ? 0 : 1;
