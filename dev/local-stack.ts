import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import shippedPolicy from "../config/authorization-policy.json" with { type: "json" };
import { MAX_USER_CHANGES_PER_HOUR } from "../lib/authorization/policy.ts";
import { DEMO_ACCOUNT } from "./cupi-simulator/demo-account.ts";
import {
  type CupiSimulator,
  type CupiSimulatorOptions,
  createCupiSimulator,
  type SimulatedUser,
} from "./cupi-simulator/index.ts";
import { type LocalDynamoDb, startLocalDynamoDb } from "./dynamodb/local-dynamodb.ts";
import type { EventBridgeStandIn } from "./eventbridge/index.ts";
import { LOCAL_OUTCOME_BUS, startOutcomeRoute } from "./outcome-route.ts";
import { type SecretsManagerStandIn, startSecretsManagerStandIn } from "./secrets-manager/index.ts";
import {
  createLocalSqsClient,
  LOCAL_REGION,
  type LocalQueues,
  startLocalQueues,
} from "./sqs/local-queues.ts";
import { createDevCertificates } from "./tls.ts";

export const SERVICE_ACCOUNT_SECRET = "cupi-reset/service-account";
export const DELIVERY_PREFIX = "cupi-reset/delivery/";

export interface LocalStackOptions {
  readonly users: SimulatedUser[];
  /** Secrets to seed besides the service account: name -> SecretString. */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  /** FIFO queue and DLQ (serverless.yml's `fifo=true`); default false. */
  readonly fifo?: boolean;
  readonly staleSessionPolicy?: "reauthenticate" | "reject";
  /** Extra environment for the handler (ALLOWED_ACTIONS, CUPI_CLUSTERS, …). */
  readonly environment?: Readonly<Record<string, string>>;
  /** The service account's password as the secret holds it; default the simulator's. */
  readonly servicePassword?: string;
  /**
   * The service-account secret's whole content, for a real CUC (with CUPI_BASE_URL in
   * `environment`); default: the simulator's account and development CA.
   */
  readonly serviceAccountSecret?: string;
  /** Passed on to the simulator: faults, latency, seed. */
  readonly simulator?: Partial<CupiSimulatorOptions>;
}

export interface LocalStack {
  readonly simulator: CupiSimulator;
  readonly secretsManager: SecretsManagerStandIn;
  readonly queues: LocalQueues;
  readonly dynamodb: LocalDynamoDb;
  /** Takes the outcome events; a rule delivers each to the ticketing queue. */
  readonly eventBridge: EventBridgeStandIn;
  /** The queue a ticketing or HR system would read outcome events from. */
  readonly ticketingQueueUrl: string;
  readonly sqs: SQSClient;
  /** The environment the reset function runs with, endpoints included. */
  readonly environment: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/**
 * The whole pipeline's surroundings on this machine: local-aws-sqs with the production redrive
 * policy, dynalite with the state table, the Secrets Manager stand-in, the EventBridge stand-in
 * routing outcome events to a "ticketing" queue, and the CUPI simulator over HTTPS with a private
 * CA that the service-account secret carries, as a real deployment's would.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const certificates = await createDevCertificates();
  const simulator = await createCupiSimulator({
    users: options.users,
    tls: certificates.server,
    account: DEMO_ACCOUNT,
    ...(options.staleSessionPolicy === undefined
      ? {}
      : { staleSessionPolicy: options.staleSessionPolicy }),
    ...options.simulator,
  });
  const secretsManager = await startSecretsManagerStandIn({
    region: LOCAL_REGION,
    secrets: {
      [SERVICE_ACCOUNT_SECRET]:
        options.serviceAccountSecret ??
        JSON.stringify({
          username: DEMO_ACCOUNT.username,
          password: options.servicePassword ?? DEMO_ACCOUNT.password,
          caCertificate: certificates.ca.cert,
        }),
      ...options.secrets,
    },
  });
  const queues = await startLocalQueues({
    ...(options.visibilityTimeoutSeconds === undefined
      ? {}
      : { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }),
    ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
    fifo: options.fifo ?? false,
  });
  const dynamodb = await startLocalDynamoDb();
  const policy = await writeLocalAuthorizationPolicy();
  const sqs = createLocalSqsClient(queues.endpoint);
  const outcomes = await startOutcomeRoute(sqs, queues.endpoint);
  const environment = {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_SQS: queues.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: outcomes.eventBridge.url,
    OUTCOME_EVENT_BUS: LOCAL_OUTCOME_BUS,
    STATE_TABLE: dynamodb.tableName,
    CUPI_BASE_URL: simulator.url,
    CUPI_SECRET_ID: SERVICE_ACCOUNT_SECRET,
    DLQ_URL: queues.dlqUrl,
    QUEUE_URL: queues.queueUrl,
    DELIVERY_SECRET_PREFIX: DELIVERY_PREFIX,
    AUTHORIZATION_POLICY_PATH: policy.path,
    // A busy simulator should show the breaker open and close again, not stall a demo for 30 s;
    // and a few injected 503s should show the adaptive limit pausing, not stop it for 20 s.
    CIRCUIT_BREAKER_COOLDOWN_MS: "1000",
    CUPI_MAX_PAUSE_MS: "1000",
    // Retries a second or two apart, not 30 s to 15 minutes: the demo and tests show them.
    RETRY_BASE_DELAY_SECONDS: "1",
    RETRY_MAX_DELAY_SECONDS: "2",
    ...options.environment,
  };
  return {
    simulator,
    secretsManager,
    queues,
    dynamodb,
    eventBridge: outcomes.eventBridge,
    ticketingQueueUrl: outcomes.ticketingQueueUrl,
    sqs,
    environment,
    close: async () => {
      // The stand-in first: its close waits for deliveries under way to the local queues.
      await outcomes.eventBridge.close();
      await Promise.all([
        simulator.close(),
        secretsManager.close(),
        queues.close(),
        dynamodb.close(),
        policy.remove(),
      ]);
      sqs.destroy();
    },
  };
}

/**
 * Puts the stack's environment into process.env, where the AWS SDK reads its endpoints from, for
 * a handler run in this process; returns the undo.
 */
export function useEnvironment(environment: Readonly<Record<string, string>>): () => void {
  const previous = Object.keys(environment).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, environment);
  return () => {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * The shipped authorization policy without its sources' budgets and with the highest user limit
 * (100 an hour): the demo, the tests and the soaks send thousands of events to few users within
 * minutes, which the shipped limits would hold or refuse (the guard's own tests give the stack a
 * policy with limits).
 */
async function writeLocalAuthorizationPolicy(): Promise<{
  path: string;
  remove: () => Promise<void>;
}> {
  const directory = await mkdtemp(join(tmpdir(), "cupi-reset-policy-"));
  const path = join(directory, "authorization-policy.json");
  const { limits: _limits, ...shipped } = shippedPolicy as Record<string, unknown>;
  await writeFile(
    path,
    JSON.stringify({ ...shipped, userLimit: { perHour: MAX_USER_CHANGES_PER_HOUR } }),
  );
  return { path, remove: () => rm(directory, { recursive: true, force: true }) };
}
