// Lambda entry point: wiring only. The product is in lib/reset/.

import { Logger } from "@aws-lambda-powertools/logger";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { loadConfig } from "../lib/config/config.ts";
import { DeadLetterQueue } from "../lib/deadletter/dead-letter-queue.ts";
import { createResetHandler } from "../lib/reset/batch-handler.ts";
import { CupiConnections } from "../lib/reset/cupi-connections.ts";
import { SecretStore } from "../lib/secrets/secret-store.ts";

const config = loadConfig(process.env);
// Short SDK timeouts: a stuck AWS call must not eat the invocation; SQS redelivers instead.
const awsClientOptions = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
};
const secrets = new SecretStore({
  client: new SecretsManagerClient(awsClientOptions),
  cacheSeconds: config.serviceSecretCacheSeconds,
});

export const handler = createResetHandler({
  config,
  secrets,
  connections: new CupiConnections(secrets, {
    maxInFlight: config.cupiMaxInFlight,
    allowInsecureHttp: config.allowInsecureHttp,
  }),
  deadLetters: new DeadLetterQueue(new SQSClient(awsClientOptions), config.dlqUrl),
  logger: new Logger({ serviceName: "cupi-reset" }),
});
