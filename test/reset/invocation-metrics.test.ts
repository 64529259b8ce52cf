// An invocation's tallies as Powertools Metrics prints them: conflicts, retries, CUC's 503s and
// pauses under the cluster of their origin; nothing for a cluster that saw nothing.
import { Console } from "node:console";
import { Writable } from "node:stream";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/config.ts";
import { type LimiterReport, limiterReportsSince } from "../../lib/cupi/limiter.ts";
import type { ResetEvent } from "../../lib/events/contract.ts";
import { InvocationMetrics } from "../../lib/reset/invocation-metrics.ts";
import type { RecordOutcome } from "../../lib/reset/record-outcome.ts";

const config = loadConfig({
  CUPI_BASE_URL: "https://cuc-pub.example.com",
  CUPI_SECRET_ID: "cupi-reset/service-account",
  CUPI_CLUSTERS: JSON.stringify({
    emea: { baseUrl: "https://cuc-emea.example.com:8443", secretId: "cupi-reset/emea" },
  }),
  DLQ_URL: "https://sqs.eu-central-1.amazonaws.com/123456789012/cupi-reset-dlq",
});

/** A Metrics instance whose EMF lines are kept, not printed. */
function capturedMetrics(): { metrics: Metrics; documents: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const metrics = new Metrics({ namespace: "CupiReset", serviceName: "cupi-reset" });
  (metrics as unknown as { console: Console }).console = new Console({ stdout: sink });
  return { metrics, documents: () => lines.map((line) => JSON.parse(line)) };
}

const event = (cluster?: string) => ({ eventId: "e", cluster }) as unknown as ResetEvent;
const retry = (conflict?: "idempotency" | "ordering", cluster?: string): RecordOutcome => ({
  status: "retry",
  reason: "r",
  event: event(cluster),
  ...(conflict === undefined ? {} : { conflict }),
});

const report = (origin: string, stats: Partial<LimiterReport>): LimiterReport => ({
  origin,
  limit: 1,
  maxInFlight: 1,
  pausedUntil: 0,
  attempts: 0,
  served: 0,
  throttled: 0,
  decreases: 0,
  pauses: 0,
  ...stats,
});

describe("InvocationMetrics", () => {
  it("counts conflicts and retries, and CUC's answers under the cluster of their origin", () => {
    const tally = new InvocationMetrics(config);
    tally.noteRecord(retry("idempotency"), 12);
    tally.noteRecord(retry("ordering", "emea"), 30);
    tally.noteRecord(retry(undefined, "emea"), 31);
    tally.noteRecord(
      {
        status: "dead-lettered",
        code: "STALE_EVENT",
        reason: "r",
        event: event("emea"),
        eventId: "e",
      },
      5,
    );
    tally.noteCupi(
      limiterReportsSince(
        [
          report("https://cuc-emea.example.com:8443", { attempts: 10, throttled: 1, pauses: 1 }),
          report("https://cuc-pub.example.com", { attempts: 3 }),
        ],
        [
          report("https://cuc-emea.example.com:8443", { attempts: 17, throttled: 4, pauses: 2 }),
          // Nothing happened at the default cluster's CUC during this invocation.
          report("https://cuc-pub.example.com", { attempts: 3 }),
        ],
      ),
      new Map([["https://cuc-emea.example.com:8443", [20, 25]]]),
    );
    const { metrics, documents } = capturedMetrics();
    tally.publish(metrics);
    const [defaults, emea, stale, ...rest] = documents();
    expect(rest).toEqual([]);
    expect(defaults).toMatchObject({
      cluster: "default",
      EventsRetried: 1,
      IdempotencyConflicts: 1,
      OrderingConflicts: 0,
      CupiRequests: 0,
      RecordDuration: 12,
    });
    expect(defaults).not.toHaveProperty("CupiLatency");
    expect(emea).toMatchObject({
      cluster: "emea",
      service: "cupi-reset",
      EventsRetried: 2,
      EventsDeadLettered: 1,
      // The held credential, and the event found older than what was applied.
      OrderingConflicts: 2,
      CupiRequests: 7,
      CupiThrottled: 3,
      CupiPauses: 1,
      CupiLatency: [20, 25],
      RecordDuration: [30, 31, 5],
    });
    expect(stale).toMatchObject({
      cluster: "emea",
      errorCode: "STALE_EVENT",
      EventsDeadLettered: 1,
    });
    // Published once: the next invocation starts from nothing.
    tally.publish(metrics);
    expect(documents()).toHaveLength(3);
  });

  it("sends many latencies in several documents, each with both dimension sets", () => {
    const tally = new InvocationMetrics(config);
    const latencies = Array.from({ length: 230 }, (_, index) => index);
    tally.noteCupi(
      limiterReportsSince([], [report("https://cuc-pub.example.com", { attempts: 230 })]),
      new Map([["https://cuc-pub.example.com", latencies]]),
    );
    const { metrics, documents } = capturedMetrics();
    tally.publish(metrics);
    const published = documents() as {
      CupiLatency?: number[];
      CupiRequests?: number;
      cluster?: string;
      _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] };
    }[];
    expect(published.map((document) => document.CupiLatency?.length)).toEqual([99, 99, 32]);
    expect(published.flatMap((document) => document.CupiLatency ?? [])).toEqual(latencies);
    expect(published.map((document) => document.CupiRequests)).toEqual([230, undefined, undefined]);
    for (const document of published) {
      expect(document.cluster).toBe("default");
      expect(document._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
        ["service", "cluster"],
        ["service"],
      ]);
    }
  });
});
