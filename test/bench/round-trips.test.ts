import { describe, expect, it } from "vitest";
import { planWorkload } from "../../bench/container.ts";
import { run } from "../../bench/round-trips.ts";
import { shippedSettings } from "../../bench/shipped-settings.ts";

interface Figures {
  events: number;
  invocations: number;
  batchSize: number;
  cupiMaxInFlight: number;
  actions: Record<string, number>;
  durationMs: number;
  failedRecords: number;
  deadLettered: number;
  puts: { expected: number; actual: number };
  serviceAccount: { getSecretValue: number; getSecretValuePer1000Events: number };
  secretsManager: {
    calls: number;
    resetValueReads: { expected: number; actual: number };
    deliveryWrites: { expected: number; actual: number };
  };
  cuc: {
    requests: number;
    requestsPerEvent: number;
    requestsPerEventByAction: Record<string, { events: number; requestsPerEvent: number }>;
    byMethod: Record<string, number>;
    freshAuthentications: number;
    tlsHandshakes: number;
    peakConcurrency: number;
  };
  dynamodb: { calls: number; byOperation: Record<string, number> };
  eventBridge: { putEvents: number };
}

describe("bench: round trips, quick", () => {
  it("counts every round trip of a small run through one container", async () => {
    const result = await run({ quick: true, log: () => {} });
    const figures = result.figures as unknown as Figures;
    const deployed = shippedSettings();

    expect(figures.events).toBe(20);
    expect(Object.values(figures.actions).reduce((sum, n) => sum + n, 0)).toBe(figures.events);
    expect(figures.batchSize).toBe(deployed.batchSize);
    expect(figures.cupiMaxInFlight).toBe(deployed.cupiMaxInFlight);
    expect(figures.invocations).toBe(Math.ceil(figures.events / figures.batchSize));
    // Every event applied, once: as many PUTs as the plan needs, no failure, no dead letter.
    expect(figures.failedRecords).toBe(0);
    expect(figures.deadLettered).toBe(0);
    expect(figures.puts.actual).toBe(figures.puts.expected);
    expect(figures.puts.expected).toBeGreaterThanOrEqual(figures.events);
    expect(figures.secretsManager.resetValueReads.actual).toBe(
      figures.secretsManager.resetValueReads.expected,
    );
    expect(figures.secretsManager.deliveryWrites.actual).toBe(
      figures.secretsManager.deliveryWrites.expected,
    );
    // One container, one cached service account, one session, at most a connection per slot.
    expect(figures.serviceAccount.getSecretValue).toBe(1);
    expect(figures.serviceAccount.getSecretValuePer1000Events).toBe(1000 / figures.events);
    expect(figures.secretsManager.calls).toBe(
      1 +
        figures.secretsManager.resetValueReads.expected +
        figures.secretsManager.deliveryWrites.expected,
    );
    expect(figures.eventBridge.putEvents).toBe(figures.events);
    expect(figures.cuc.freshAuthentications).toBe(1);
    expect(figures.cuc.tlsHandshakes).toBeGreaterThanOrEqual(1);
    expect(figures.cuc.tlsHandshakes).toBeLessThanOrEqual(figures.cupiMaxInFlight);
    expect(figures.cuc.peakConcurrency).toBeLessThanOrEqual(figures.cupiMaxInFlight);
    // A lookup and a PUT at least per event; the methods add up to the total.
    expect(figures.cuc.byMethod.PUT).toBe(figures.puts.actual);
    expect((figures.cuc.byMethod.GET ?? 0) + (figures.cuc.byMethod.PUT ?? 0)).toBe(
      figures.cuc.requests,
    );
    expect(figures.cuc.requests).toBeGreaterThanOrEqual(2 * figures.events);
    expect(figures.cuc.requestsPerEvent).toBeCloseTo(figures.cuc.requests / figures.events, 2);
    // Every request is counted against one action: by action, they add up to the total.
    const byAction = Object.entries(figures.cuc.requestsPerEventByAction);
    expect(byAction.map(([action, { events }]) => [action, events])).toEqual(
      Object.entries(figures.actions).filter(([, events]) => events > 0),
    );
    const attributed = byAction.reduce(
      (sum, [, { events, requestsPerEvent }]) => sum + events * requestsPerEvent,
      0,
    );
    expect(attributed).toBeCloseTo(figures.cuc.requests, 0);
    // Idempotency, ordering and the attempt log: a few state-table calls per event.
    expect(figures.dynamodb.calls).toBe(
      Object.values(figures.dynamodb.byOperation).reduce((sum, n) => sum + n, 0),
    );
    expect(figures.dynamodb.calls).toBeGreaterThanOrEqual(2 * figures.events);
    expect(figures.dynamodb.byOperation).not.toHaveProperty("CreateTable");

    // The single-credential reset targets, for the reset actions the small workload holds.
    const resets = (["reset-pin", "reset-password"] as const).filter(
      (action) => action in figures.cuc.requestsPerEventByAction,
    );
    expect(result.targets.map((target) => target.target)).toEqual([
      "≤ 2.1",
      ...resets.map(() => "≤ 2"),
      "≤ 3",
      "≤ 1",
      "≤ 1",
      `≤ ${deployed.cupiMaxInFlight}`,
    ]);
    for (const target of result.targets) {
      expect(target.met).toBe(target.actual <= Number(target.target.replace("≤ ", "")));
    }
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  }, 30_000);

  it("plans a workload whose expectations follow from its events", () => {
    const workload = planWorkload(200, 20, 3);
    const events = workload.bodies.map((body) => JSON.parse(body));
    expect(events).toHaveLength(200);
    expect(new Set(events.map((event) => event.eventId)).size).toBe(200);
    const times = events.map((event) => Date.parse(event.occurredAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const fromSecret = events.filter((event) => event.newCredential?.secretId !== undefined);
    const generated = events.filter((event) => event.newCredential?.generate === true);
    const offboards = events.filter((event) => event.action === "offboard");
    expect(workload.expected.resetSecretReads).toBe(fromSecret.length);
    expect(workload.expected.deliveryWrites).toBe(2 * generated.length);
    expect(workload.expected.puts).toBe(events.length + offboards.length);
    for (const event of fromSecret) {
      expect(workload.secrets).toHaveProperty(event.newCredential.secretId);
    }
    // Every value is new: no reset meets the credential history.
    const values = fromSecret.map((event) => workload.secrets[event.newCredential.secretId]);
    expect(new Set(values).size).toBe(values.length);
    expect(Object.values(workload.actions).reduce((sum, n) => sum + n, 0)).toBe(200);
    expect(workload.actions.offboard).toBe(offboards.length);
  });
});
