import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
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
 * What the DLQ message says about its failure. Redriven messages say nothing themselves, so the
 * event's own eventId, source and action are read from the body where it has them.
 */
export function deadLetterEntry(message: Message): DeadLetterEntry {
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const eventId = attribute("eventId");
  const source = attribute("source");
  const action = attribute("action");
  // Parsed only when an attribute is missing: listing and replay read every message.
  const fromBody =
    eventId === undefined || source === undefined || action === undefined
      ? eventFieldsOf(message.Body ?? "")
      : {};
  return {
    messageId: message.MessageId ?? "",
    errorCode: attribute("errorCode") ?? REDRIVEN,
    errorMessage:
      attribute("errorMessage") ?? "failed transiently until the queue's maxReceiveCount",
    eventId: eventId ?? fromBody.eventId,
    source: source ?? fromBody.source,
    action: action ?? fromBody.action,
    failedAt: attribute("failedAt"),
    sourceMessageId: attribute("sourceMessageId"),
  };
}

/** The eventId, source and action a body has, as far as it can be parsed. */
function eventFieldsOf(
  body: string,
): Partial<Pick<DeadLetterEntry, "eventId" | "source" | "action">> {
  const parsed = parseRecordBody(body);
  if (!parsed.ok) return { eventId: parsed.eventId };
  return {
    eventId: parsed.event.eventId,
    source: parsed.event.source,
    action: parsed.event.action,
  };
}

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
  const receiptHandles: string[] = [];
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
        entries.push(deadLetterEntry(message));
        receiptHandles.push(message.ReceiptHandle ?? "");
      }
    }
  } finally {
    await makeVisible(sqs, dlqUrl, receiptHandles);
  }
  return entries;
}

/**
 * Ends the hiding of received messages at once. A handle that no longer works (the message was
 * received again since) is left alone: its message reappears when that hiding ends.
 */
export async function makeVisible(
  sqs: SQSClient,
  queueUrl: string,
  receiptHandles: readonly string[],
): Promise<void> {
  for (let start = 0; start < receiptHandles.length; start += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: receiptHandles.slice(start, start + 10).map((receiptHandle, index) => ({
          Id: String(start + index),
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
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
