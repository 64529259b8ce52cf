import { Metrics } from "@aws-lambda-powertools/metrics";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EventBridgeClientConfig } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SQSClientConfig } from "@aws-sdk/client-sqs";
import { loadAuthorizationPolicy } from "../authorization/policy.ts";
import { AbortScopedHttpHandler } from "../aws/abort-scope.ts";
import { lazily } from "../aws/lazily.ts";
import { loadConfig } from "../config/config.ts";
import type { DeadLetter } from "../deadletter/dead-letter-queue.ts";
import { BlastRadiusGuard } from "../guard/blast-radius.ts";
import { createLogger } from "../logging/logger.ts";
import { SecretStore } from "../secrets/secret-store.ts";
import { AttemptLog } from "./attempts.ts";
import { AuthenticationRuleCache } from "./authentication-rules.ts";
import { createResetHandler, type ResetHandlerDependencies } from "./batch-handler.ts";
import { CupiConnections } from "./cupi-connections.ts";
import { StateTableIdempotency } from "./idempotency-store.ts";
import { METRICS_NAMESPACE } from "./invocation-metrics.ts";
import { DEFAULT_WATERMARK_RETENTION_SECONDS, OrderingGuard } from "./ordering.ts";
import { ResetProcessor } from "./process-record.ts";

/**
 * Builds the reset handler from the environment: the configuration, then AWS clients that find
 * their endpoints the standard way (AWS_REGION, AWS_ENDPOINT_URL_SQS,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER …), so the same code runs in Lambda and on the local stack.
 */
export function createResetHandlerFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
  logger = createLogger(),
) {
  const config = loadConfig(env);
  const authorization = loadAuthorizationPolicy(config.authorizationPolicyPath);
  const secrets = new SecretStore({
    client: new SecretsManagerClient(awsClientOptions()),
    cacheSeconds: config.serviceSecretCacheSeconds,
  });
  const connections = new CupiConnections(secrets, {
    maxInFlight: config.cupiMaxInFlight,
    adaptiveLimit: config.cupiAdaptiveLimit,
    allowInsecureHttp: config.allowInsecureHttp,
    circuitBreaker: config.circuitBreaker,
    timeouts: config.cupiTimeouts,
  });
  const dynamodb =
    config.stateTable === undefined ? undefined : new DynamoDBClient(awsClientOptions());
  if (config.stateTable === undefined) {
    logger.warn("STATE_TABLE is not set: idempotency and ordering checks are off");
  }
  const processor = new ResetProcessor({
    config,
    authorization,
    secrets,
    connections,
    authenticationRules: new AuthenticationRuleCache(),
    ...(dynamodb === undefined || config.stateTable === undefined
      ? {}
      : {
          idempotency: {
            persistenceStore: new StateTableIdempotency({
              tableName: config.stateTable,
              client: dynamodb,
            }),
          },
          stateTable: dynamodb,
          guard: new BlastRadiusGuard({
            client: dynamodb,
            tableName: config.stateTable,
            limits: authorization,
          }),
          attempts: new AttemptLog(dynamodb, config.stateTable),
          ordering: new OrderingGuard({
            client: dynamodb,
            tableName: config.stateTable,
            retentionSeconds: DEFAULT_WATERMARK_RETENTION_SECONDS,
          }),
        }),
  });
  const handler = createResetHandler({
    config,
    processor,
    ...lazySettlingQueues(config.dlqUrl, awsClientOptions()),
    outcomes: lazyOutcomePublisher(config.outcomeEventBus, awsClientOptions()),
    logger,
    // The `service` dimension: the stack's name (serverless.yml), so stages sharing an account keep
    // their metrics apart. POWERTOOLS_METRICS_DISABLED=true turns them off.
    metrics: new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: env.POWERTOOLS_SERVICE_NAME ?? "cupi-reset",
    }),
  });
  return Object.assign(handler, { close: () => connections.close() });
}

/**
 * Short SDK timeouts: a stuck AWS call must not eat the invocation; SQS redelivers instead. The
 * request handler ends each call at the deadline of the record (or settling) that made it.
 */
function awsClientOptions() {
  return {
    maxAttempts: 3,
    requestHandler: new AbortScopedHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000 }),
  };
}

/**
 * Failed records are rare: the SQS client and its commands are loaded on the first one, not at
 * cold start (where they cost about a tenth of the load time).
 */
function lazySettlingQueues(
  dlqUrl: string,
  clientOptions: SQSClientConfig,
): Pick<ResetHandlerDependencies, "deadLetters" | "sourceQueues"> {
  const queues = lazily(async () =>
    (await import("../redelivery/settling-queues.ts")).connectSettlingQueues(dlqUrl, clientOptions),
  );
  return {
    deadLetters: {
      send: async (letter: DeadLetter) => (await queues()).deadLetters.send(letter),
    },
    sourceQueues: {
      maxReceiveCount: async (queueArn) => (await queues()).sourceQueues.maxReceiveCount(queueArn),
      hide: async (message, seconds) => (await queues()).sourceQueues.hide(message, seconds),
    },
  };
}

/** The EventBridge client is loaded with the first outcome, and not at all without a bus. */
function lazyOutcomePublisher(
  eventBus: string | undefined,
  clientOptions: EventBridgeClientConfig,
): ResetHandlerDependencies["outcomes"] {
  if (eventBus === undefined) return undefined;
  const publisher = lazily(async () =>
    (await import("../eventbridge/outcome-publisher.ts")).connectOutcomePublisher(
      eventBus,
      clientOptions,
    ),
  );
  return { publish: async (outcome) => (await publisher()).publish(outcome) };
}
