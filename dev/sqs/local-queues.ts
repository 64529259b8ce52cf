import { createServer } from "node:http";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { createRequestHandler } from "local-aws-sqs";
import { listen } from "../listen.ts";

export const LOCAL_REGION = "us-east-1";
export const DEFAULT_QUEUE_NAME = "cupi-reset-events";
export const DEFAULT_DLQ_NAME = "cupi-reset-events-dlq";
export const DEFAULT_MAX_RECEIVE_COUNT = 5;
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;
/** The longest SQS keeps a message: the DLQ must outlive any incident investigation. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 60 * 60;

const HOST = "127.0.0.1";

export interface LocalQueuesOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default "cupi-reset-events"; ".fifo" is appended for a FIFO queue. */
  queueName?: string;
  /** Default "cupi-reset-events-dlq"; ".fifo" is appended for a FIFO queue. */
  dlqName?: string;
  /** Receives before a message moves to the DLQ; default 5. */
  maxReceiveCount?: number;
  /** Of the main queue; default 30. */
  visibilityTimeoutSeconds?: number;
  /** Default false. Both queues are FIFO or neither: SQS refuses a mixed redrive. */
  fifo?: boolean;
}

export interface LocalQueues {
  /** For example http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly queueArn: string;
  readonly dlqArn: string;
  close(): Promise<void>;
}

/** An SQS client for a local endpoint: the region the queues' ARNs use, dummy credentials. */
export function createLocalSqsClient(endpoint: string): SQSClient {
  return new SQSClient({
    region: LOCAL_REGION,
    endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

function fifoName(name: string, fifo: boolean): string {
  return fifo && !name.endsWith(".fifo") ? `${name}.fifo` : name;
}

/** Creates a queue through the real SQS client; returns its URL and ARN. */
export async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Partial<Record<QueueAttributeName, string>>,
): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  const url = created.QueueUrl;
  if (url === undefined) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const described = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  const arn = described.Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`GetQueueAttributes ${name} returned no QueueArn`);
  return { url, arn };
}

/**
 * Starts local-aws-sqs on 127.0.0.1 and creates the DLQ, then the main queue redriving to it,
 * through the real SQS client, as the production stack defines them.
 */
export async function startLocalQueues(options: LocalQueuesOptions = {}): Promise<LocalQueues> {
  const fifo = options.fifo ?? false;
  // createSqsServer never rejects (a taken port would be an unhandled 'error'), so listen here.
  const { service, requestHandler } = createRequestHandler({
    port: options.port ?? 0,
    hostname: HOST,
    region: LOCAL_REGION,
  });
  const server = createServer((request, response) => {
    // It parses the request outside its own error handling: answer rather than leave a rejection.
    requestHandler(request, response).catch(() => {
      if (!response.headersSent) response.statusCode = 400;
      response.end();
    });
  });
  const hostAndPort = await listen(server, HOST, options.port ?? 0);
  // Queue URLs are built from this; local-aws-sqs only learns an ephemeral port here.
  service.PORT = Number(hostAndPort.slice(hostAndPort.lastIndexOf(":") + 1));
  const endpoint = `http://${hostAndPort}`;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error === undefined ? resolve() : reject(error)));
      // Keep-alive sockets and pending long polls would otherwise hold close() open.
      server.closeAllConnections();
      service.resetAll();
    });
    return closed;
  };

  const sqs = createLocalSqsClient(endpoint);
  try {
    const fifoAttributes = fifo ? { FifoQueue: "true" } : {};
    const dlq = await createQueue(sqs, fifoName(options.dlqName ?? DEFAULT_DLQ_NAME, fifo), {
      ...fifoAttributes,
      MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS),
    });
    const redrivePolicy = {
      deadLetterTargetArn: dlq.arn,
      maxReceiveCount: options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT,
    };
    const queue = await createQueue(sqs, fifoName(options.queueName ?? DEFAULT_QUEUE_NAME, fifo), {
      ...fifoAttributes,
      VisibilityTimeout: String(
        options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
      ),
      RedrivePolicy: JSON.stringify(redrivePolicy),
    });
    return {
      endpoint,
      queueUrl: queue.url,
      dlqUrl: dlq.url,
      queueArn: queue.arn,
      dlqArn: dlq.arn,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  } finally {
    sqs.destroy();
  }
}
