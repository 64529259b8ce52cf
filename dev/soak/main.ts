// `npm run soak`: runSoak with the issue's 5,000 events, its tallies printed; exits 1 when an
// invariant fails. Options: --events N, --seed N, --fault-rate 0..1, --logs (the function's logs).
import { parseArgs } from "node:util";
import { runSoak, type SoakReport } from "./soak.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "5000" },
    seed: { type: "string" },
    "fault-rate": { type: "string" },
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
  line("duration", `${(report.durationMs / 1000).toFixed(1)} s`);
  line("events/s", report.eventsPerSecond.toFixed(1));
  for (const example of report.examples) console.log(`  e.g. ${example}`);
  if (report.failures.length === 0) console.log("\nsoak passed");
  else console.log(`\nsoak FAILED:\n${report.failures.map((f) => `  - ${f}`).join("\n")}`);
}

const report = await runSoak({
  events: numberOption("events", values.events),
  ...(values.seed === undefined ? {} : { seed: numberOption("seed", values.seed) }),
  ...(values["fault-rate"] === undefined
    ? {}
    : { faultRate: numberOption("fault-rate", values["fault-rate"]) }),
  logLevel: values.logs ? "INFO" : "SILENT",
});
print(report);
process.exitCode = report.failures.length === 0 ? 0 : 1;
