/**
 * Issue 6, item 3: round-trip economy. 1,000 events through the real handler in one container, in
 * SQS batches of the deployed size, one invocation after another; what each kind of round trip
 * costs, counted by the servers of the local stack: Secrets Manager calls by secret, fresh CUC
 * authentications (no valid session cookie), TLS handshakes, CUC requests, DynamoDB calls.
 */

import { writeFile } from "node:fs/promises";
import { startLocalStack } from "../dev/local-stack.ts";
import { DEFAULT_SECRET_CACHE_SECONDS } from "../lib/secrets/secret-store.ts";
import {
  deadLetterCount,
  planWorkload,
  RESET_SECRET_PREFIX,
  startContainer,
  type WorkloadAction,
} from "./container.ts";
import { atMost, type BenchOptions, type BenchResult, round } from "./harness.ts";
import { requestsByAction } from "./requests-by-action.ts";
import { renderRequestsChart } from "./requests-chart.ts";
import { shippedSettings } from "./shipped-settings.ts";

/** Issue 13: CUC requests per applied event on the helpdesk mix. */
const MIX_REQUESTS_TARGET = 2.1;
/** Issue 13: DynamoDB calls per event (idempotency, ordering claim and attempt log folded). */
const DYNAMODB_CALLS_TARGET = 3;

const FULL_EVENTS = 1_000;
const QUICK_EVENTS = 20;
/** Events share users, several each, as a helpdesk's do over a day. */
const USERS = 250;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const events = options.quick ? QUICK_EVENTS : FULL_EVENTS;
  const deployed = shippedSettings();
  const workload = planWorkload(events, Math.min(USERS, events));
  const stack = await startLocalStack({ users: workload.users, secrets: workload.secrets });
  try {
    const serviceSecretId = stack.environment.CUPI_SECRET_ID ?? "";
    const dynamodbBefore = stack.dynamodb.operationCounts();
    const container = await startContainer(stack, {
      environment: { CUPI_MAX_IN_FLIGHT: String(deployed.cupiMaxInFlight) },
      timeoutMs: deployed.timeoutSeconds * 1000,
    });
    let failedRecords = 0;
    let invocations = 0;
    const requestsOf = new Map<WorkloadAction, number>();
    const started = performance.now();
    try {
      for (let offset = 0; offset < events; offset += deployed.batchSize) {
        const requestsBefore = stack.simulator.requests.length;
        const failed = await container.invoke(
          workload.bodies.slice(offset, offset + deployed.batchSize),
        );
        const batchRequests = requestsByAction(
          stack.simulator.requests.slice(requestsBefore),
          workload.events.slice(offset, offset + deployed.batchSize),
        );
        for (const [action, count] of batchRequests) {
          requestsOf.set(action, (requestsOf.get(action) ?? 0) + count);
        }
        invocations += 1;
        failedRecords += failed.length;
        if (invocations % 40 === 0) {
          options.log(`${Math.min(events, offset + deployed.batchSize)}/${events} events`);
        }
      }
    } finally {
      await container.close();
    }
    const durationMs = performance.now() - started;
    const minutes = durationMs / 60_000;

    const cuc = stack.simulator.stats;
    const cucRequests = stack.simulator.requests;
    const byMethod: Record<string, number> = {};
    for (const request of cucRequests)
      byMethod[request.method] = (byMethod[request.method] ?? 0) + 1;
    const secretCalls = stack.secretsManager.requests;
    const count = (operation: string, match: (secretId: string) => boolean) =>
      secretCalls.filter((call) => call.operation === operation && match(call.secretId ?? ""))
        .length;
    const serviceAccountReads = count("GetSecretValue", (id) => id === serviceSecretId);
    const resetSecretReads = count("GetSecretValue", (id) => id.startsWith(RESET_SECRET_PREFIX));
    const deliveryWrites = count("PutSecretValue", () => true);
    const dynamodbByOperation: Record<string, number> = {};
    for (const [operation, calls] of Object.entries(stack.dynamodb.operationCounts())) {
      const delta = calls - (dynamodbBefore[operation] ?? 0);
      if (delta > 0) dynamodbByOperation[operation] = delta;
    }
    const dynamodbCalls = Object.values(dynamodbByOperation).reduce((sum, n) => sum + n, 0);
    const outcomePublishes = stack.eventBridge.requests.filter(
      (operation) => operation === "PutEvents",
    ).length;
    const deadLettered = await deadLetterCount(stack);
    const per1000 = (n: number) => round((n * 1000) / events);
    // A run shorter than a minute (or than the cache window) is judged as one whole one.
    const serviceAccountReadBound = Math.max(
      1,
      Math.ceil(durationMs / 1000 / DEFAULT_SECRET_CACHE_SECONDS),
    );

    const byAction = Object.fromEntries(
      Object.entries(workload.actions)
        .filter(([, count]) => count > 0)
        .map(([action, count]) => [
          action,
          {
            events: count,
            requestsPerEvent: round((requestsOf.get(action as WorkloadAction) ?? 0) / count),
          },
        ]),
    );
    if (!options.quick) {
      await writeFile(
        new URL("../docs/performance-cuc-requests.svg", import.meta.url),
        renderRequestsChart(
          Object.entries(byAction).map(([label, { requestsPerEvent }]) => ({
            label,
            requestsPerEvent,
          })),
          { label: "helpdesk mix", requestsPerEvent: round(cuc.requests / events) },
          MIX_REQUESTS_TARGET,
        ),
      );
    }
    const figures = {
      events,
      invocations,
      batchSize: deployed.batchSize,
      cupiMaxInFlight: deployed.cupiMaxInFlight,
      actions: workload.actions,
      durationMs: Math.round(durationMs),
      eventsPerSecond: round(events / (durationMs / 1000)),
      failedRecords,
      deadLettered,
      puts: { expected: workload.expected.puts, actual: byMethod.PUT ?? 0 },
      serviceAccount: {
        secretCacheSeconds: DEFAULT_SECRET_CACHE_SECONDS,
        getSecretValue: serviceAccountReads,
        getSecretValuePer1000Events: per1000(serviceAccountReads),
      },
      secretsManager: {
        calls: secretCalls.length,
        callsPerEvent: round(secretCalls.length / events),
        resetValueReads: { expected: workload.expected.resetSecretReads, actual: resetSecretReads },
        deliveryWrites: { expected: workload.expected.deliveryWrites, actual: deliveryWrites },
      },
      cuc: {
        requests: cuc.requests,
        requestsPerEvent: round(cuc.requests / events),
        requestsPer1000Events: per1000(cuc.requests),
        // Requests that name no user (authentication rules) shared among the batch's generating events.
        requestsPerEventByAction: byAction,
        byMethod,
        freshAuthentications: cuc.freshAuthentications,
        freshAuthenticationsPer1000Events: per1000(cuc.freshAuthentications),
        // A run shorter than a minute counts as one minute, as the target does.
        freshAuthenticationsPerMinute: round(cuc.freshAuthentications / Math.max(1, minutes)),
        tlsHandshakes: cuc.tlsHandshakes,
        tlsHandshakesPer1000Events: per1000(cuc.tlsHandshakes),
        peakConcurrency: cuc.peakConcurrency,
        throttled: cuc.throttled,
      },
      dynamodb: {
        calls: dynamodbCalls,
        callsPerEvent: round(dynamodbCalls / events),
        byOperation: dynamodbByOperation,
      },
      // One outcome event per settled record, one PutEvents each.
      eventBridge: {
        putEvents: outcomePublishes,
        putEventsPerEvent: round(outcomePublishes / events),
      },
    };
    return {
      figures,
      targets: [
        atMost(
          "CUC requests per applied event, helpdesk mix (issue 13)",
          MIX_REQUESTS_TARGET,
          round(cuc.requests / events),
        ),
        // A single-credential reset from a secret: the lookup and the PUT, as a careful script.
        ...(["reset-pin", "reset-password"] as const).flatMap((action) => {
          const figure = byAction[action];
          return figure === undefined
            ? []
            : [atMost(`CUC requests per ${action} (issue 13)`, 2, figure.requestsPerEvent)];
        }),
        atMost(
          "DynamoDB calls per event (issue 13)",
          DYNAMODB_CALLS_TARGET,
          round(dynamodbCalls / events),
        ),
        atMost(
          `GetSecretValue for the service account in a ${Math.round(durationMs / 1000)} s run (cache ${DEFAULT_SECRET_CACHE_SECONDS} s)`,
          serviceAccountReadBound,
          serviceAccountReads,
        ),
        atMost(
          "fresh CUC authentications per minute per container",
          1,
          round(cuc.freshAuthentications / Math.max(1, minutes)),
        ),
        atMost(
          `TLS handshakes (CUPI_MAX_IN_FLIGHT ${deployed.cupiMaxInFlight})`,
          deployed.cupiMaxInFlight,
          cuc.tlsHandshakes,
        ),
      ],
    };
  } finally {
    await stack.close();
  }
}
