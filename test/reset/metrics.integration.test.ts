// The metrics the handler prints (CloudWatch embedded metric format) for a known batch on the
// local stack: so many applied, duplicated, dead-lettered by code, refused; as many CUPI requests
// as CUC saw; a record duration per record.
import { describe, expect, it } from "vitest";
import { captureOutput, drain, eventFactory, send, useLocalPipeline } from "../helpers/pipeline.ts";

const users = ["ana", "ben"].map((alias, index) => ({
  objectId: `c1b2c3d4-0000-4000-8000-00000000000${index + 1}`,
  alias,
  dtmfAccessId: `600${index + 1}`,
  pin: "480916",
}));

const local = useLocalPipeline({ users });
const output = captureOutput();
const event = eventFactory("metrics");

interface EmfDocument {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [field: string]: unknown;
}

/** The EMF documents printed so far (one JSON object per line, with an `_aws` member). */
function emfDocuments(): EmfDocument[] {
  return output
    .text()
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfDocument);
}

/** The sum of a metric's values over the documents whose dimensions are exactly `dimensions`. */
function total(name: string, dimensions: Record<string, string>): number {
  const names = ["service", ...Object.keys(dimensions)].sort();
  return emfDocuments()
    .filter((document) =>
      document._aws.CloudWatchMetrics.some(
        (directive) =>
          directive.Namespace === "CupiReset" &&
          directive.Dimensions.some((set) => [...set].sort().join() === names.join()) &&
          directive.Metrics.some((metric) => metric.Name === name),
      ),
    )
    .filter((document) =>
      Object.entries({ service: "cupi-reset", ...dimensions }).every(
        ([key, value]) => document[key] === value,
      ),
    )
    .reduce((sum, document) => {
      const value = document[name] as number | number[];
      return sum + (Array.isArray(value) ? value.length : value);
    }, 0);
}

function values(name: string, cluster: string): number[] {
  return emfDocuments()
    .filter((document) => document.cluster === cluster && document[name] !== undefined)
    .flatMap((document) => {
      const value = document[name] as number | number[];
      return Array.isArray(value) ? value : [value];
    });
}

describe("metrics (embedded metric format)", () => {
  it("count what happened to a known batch, per cluster and per dead-letter code", async () => {
    const { stack, pipeline } = local;
    stack.simulator.resetStats();
    const first = event({ user: { alias: "ana" } });
    const bodies = [
      first,
      event({ user: { alias: "ben" } }),
      event({ user: { alias: "nobody" } }),
      event({ user: { alias: "ghost" } }),
      // The helpdesk may not offboard: refused by the authorization policy.
      event({ user: { alias: "ben" }, action: "offboard" }),
      // A cluster that does not exist must not become a metric dimension of its own.
      event({ user: { alias: "ben" }, cluster: "nowhere" }),
      "not json",
    ];
    for (const body of bodies) await send(stack.sqs, stack.queues.queueUrl, body);
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);
    // The first event again: a duplicate, found applied.
    await send(stack.sqs, stack.queues.queueUrl, first);
    await drain(pipeline.poller, stack.sqs, stack.queues.queueUrl);

    const cluster = { cluster: "default" };
    expect(total("EventsApplied", cluster)).toBe(2);
    expect(total("EventsDuplicate", cluster)).toBe(1);
    expect(total("EventsDeadLettered", cluster)).toBe(3);
    expect(total("EventsRefused", cluster)).toBe(1);
    expect(total("EventsRetried", cluster)).toBe(0);
    expect(total("EventsDeadLettered", { ...cluster, errorCode: "USER_NOT_FOUND" })).toBe(2);
    expect(total("EventsDeadLettered", { ...cluster, errorCode: "ACTION_NOT_ALLOWED" })).toBe(1);
    const unknown = { cluster: "unknown" };
    expect(total("EventsDeadLettered", unknown)).toBe(2);
    expect(total("EventsDeadLettered", { ...unknown, errorCode: "INVALID_EVENT" })).toBe(1);
    expect(total("EventsDeadLettered", { ...unknown, errorCode: "ACTION_NOT_ALLOWED" })).toBe(1);
    expect(emfDocuments().some((document) => document.cluster === "nowhere")).toBe(false);
    // The deployment's totals, every cluster together (what the alarms watch).
    expect(total("EventsApplied", {})).toBe(2);
    expect(total("EventsDeadLettered", {})).toBe(5);

    // Every request CUC saw, counted under the cluster it went to, each with its latency.
    expect(total("CupiRequests", cluster)).toBe(stack.simulator.stats.requests);
    expect(total("CupiThrottled", cluster)).toBe(0);
    expect(values("CupiLatency", "default")).toHaveLength(stack.simulator.stats.requests);
    // One duration per record, each at least as long as nothing.
    const durations = [
      ...values("RecordDuration", "default"),
      ...values("RecordDuration", "unknown"),
    ];
    expect(durations).toHaveLength(bodies.length + 1);
    expect(durations.every((ms) => ms >= 0)).toBe(true);
  });
});
