import {
  ChangeMessageVisibilityBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { parseRecordBody } from "../events/parse.ts";
import { findCredentialFields } from "../events/plaintext.ts";

/**
 * Sends an event file's content to the queue. Bodies carrying a credential value are refused
 * here, before they reach a queue where they would sit in plain text.
 */
export async function sendEvent(sqs: SQSClient, queueUrl: string, body: string): Promise<string> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error("the event is not valid JSON");
  }
  const carried = findCredentialFields(json);
  if (carried.length > 0) {
    throw new Error(
      `the event carries a credential value (${carried.join(", ")}); refusing to send it`,
    );
  }
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  return sent.MessageId ?? "";
}

/** Whether the service would accept the body, with the reason when not (a dry run of parsing). */
export function checkEvent(body: string): { ok: true } | { ok: false; reason: string } {
  const parsed = parseRecordBody(body);
  return parsed.ok ? { ok: true } : { ok: false, reason: parsed.reason };
}

export interface DeadLetterEntry {
  readonly messageId: string;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly eventId: string | undefined;
  readonly source: string | undefined;
  readonly action: string | undefined;
  readonly failedAt: string | undefined;
  readonly sourceMessageId: string | undefined;
}

/** Messages that reached the DLQ through the redrive policy carry no reason of their own. */
export const REDRIVEN = "REDRIVEN_AFTER_RETRIES";

/**
 * Reads up to `max` DLQ messages without consuming them: each is hidden while the listing runs,
 * then made visible again at once.
 */
export async function listDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  max = 1_000,
): Promise<DeadLetterEntry[]> {
  const entries: DeadLetterEntry[] = [];
  const handles: Array<{ Id: string; ReceiptHandle: string }> = [];
  try {
    while (entries.length < max) {
      const { Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: Math.min(10, max - entries.length),
          VisibilityTimeout: 60,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ["All"],
        }),
      );
      if (messages.length === 0) break;
      for (const message of messages) {
        const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
        entries.push({
          messageId: message.MessageId ?? "",
          errorCode: attribute("errorCode") ?? REDRIVEN,
          errorMessage:
            attribute("errorMessage") ?? "failed transiently until the queue's maxReceiveCount",
          eventId: attribute("eventId"),
          source: attribute("source"),
          action: attribute("action"),
          failedAt: attribute("failedAt"),
          sourceMessageId: attribute("sourceMessageId"),
        });
        handles.push({ Id: String(handles.length), ReceiptHandle: message.ReceiptHandle ?? "" });
      }
    }
  } finally {
    for (let start = 0; start < handles.length; start += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: dlqUrl,
          Entries: handles
            .slice(start, start + 10)
            .map((handle) => ({ ...handle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return entries;
}

/** DLQ entries grouped by errorCode, largest group first. */
export function groupByErrorCode(
  entries: readonly DeadLetterEntry[],
): Map<string, DeadLetterEntry[]> {
  const groups = new Map<string, DeadLetterEntry[]>();
  for (const entry of entries) {
    groups.set(entry.errorCode, [...(groups.get(entry.errorCode) ?? []), entry]);
  }
  return new Map([...groups].sort(([, a], [, b]) => b.length - a.length));
}
