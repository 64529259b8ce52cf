/**
 * The cold-start floor (issue 6, benchmark 2): what any implementation of this service has to load
 * at start, and nothing else. It loads and constructs the SQS and Secrets Manager clients (with the
 * reset function's client options), an undici pool and a fast-xml-parser parser. bench/cold-start.ts
 * bundles it with the esbuild options of serverless.yml, so it gets the same minification, module
 * resolution and aliases as the packaged handler.
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { XMLParser } from "fast-xml-parser";
import { Pool } from "undici";

const clientOptions = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
};

export const floor = {
  sqs: new SQSClient(clientOptions),
  secrets: new SecretsManagerClient(clientOptions),
  // Constructing a pool opens no connection.
  pool: new Pool("https://cuc-publisher.example.com"),
  parser: new XMLParser(),
};
