// The SQS side of settling records — the DLQ and the event source queues — on one SQS client.
// The reset function loads this module on the first record that fails, not at cold start.
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { DeadLetterQueue } from "../deadletter/dead-letter-queue.ts";
import { SourceQueues } from "./source-queue.ts";

export interface SettlingQueues {
  readonly deadLetters: DeadLetterQueue;
  readonly sourceQueues: SourceQueues;
}

/**
 * With named imports only, the bundle keeps the SQS client and the commands used, not all of
 * client-sqs's (a dynamic `import("@aws-sdk/client-sqs")` cannot be tree-shaken).
 */
export function connectSettlingQueues(
  dlqUrl: string,
  clientOptions: SQSClientConfig,
): SettlingQueues {
  const client = new SQSClient(clientOptions);
  return {
    deadLetters: new DeadLetterQueue(client, dlqUrl),
    sourceQueues: new SourceQueues(client),
  };
}
