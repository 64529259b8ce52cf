import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { userMessageGroup } from "../events/message-group.ts";
import { parseRecordBody } from "../events/parse.ts";
import { findCredentialFields } from "../events/plaintext.ts";

/**
 * Sends a message body to the queue. Bodies carrying a credential value are refused here, before
 * they reach a queue where they would sit in plain text. A FIFO queue takes the event's user as
 * its MessageGroupId and its eventId as MessageDeduplicationId, as producers send them.
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
  const sent = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      ...(queueUrl.endsWith(".fifo") ? fifoIdentifiers(body) : {}),
    }),
  );
  return sent.MessageId ?? "";
}

function fifoIdentifiers(body: string): { MessageGroupId: string; MessageDeduplicationId: string } {
  const parsed = parseRecordBody(body);
  if (!parsed.ok) {
    throw new Error(`a FIFO queue takes valid events only, grouped by user: ${parsed.reason}`);
  }
  return {
    MessageGroupId: userMessageGroup(parsed.event.user),
    MessageDeduplicationId: parsed.event.eventId,
  };
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
  if (!parsed.ok) return { eventId: parsed.eventId, source: parsed.source, action: parsed.action };
  return {
    eventId: parsed.event.eventId,
    source: parsed.event.source,
    action: parsed.event.action,
  };
}

/** How long each listed message stays hidden if the listing dies before showing them again. */
const LISTING_HIDE_SECONDS = 60;
/** A long poll asks every SQS server, where a short one asks a sample and can miss messages. */
const LONG_POLL_SECONDS = 1;
/** Empty long polls in a row after which nothing more is visible to read. */
const EMPTY_POLLS_TO_STOP = 2;

/**
 * Reads up to `max` DLQ messages without consuming them. Each message read is hidden, so that
 * the next receive returns others, and all are made visible again at once when the listing
 * ends, however it ends (if the process dies: after LISTING_HIDE_SECONDS). Reading stops at
 * `max`, or after EMPTY_POLLS_TO_STOP empty long polls in a row. Messages hidden by someone else
 * at the time (a replay under way) are not seen.
 */
export async function listDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  max = 1_000,
): Promise<DeadLetterEntry[]> {
  // By messageId: a message whose hiding ran out before the listing ended comes back again.
  const entries = new Map<string, DeadLetterEntry>();
  const receiptHandles: string[] = [];
  let emptyPolls = 0;
  // Not at SQS's visible count: it is approximate, and lags just after a dead letter.
  const done = () => entries.size >= max || emptyPolls >= EMPTY_POLLS_TO_STOP;
  try {
    while (!done()) {
      const { Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: Math.min(10, max - entries.size),
          VisibilityTimeout: LISTING_HIDE_SECONDS,
          WaitTimeSeconds: LONG_POLL_SECONDS,
          MessageAttributeNames: ["All"],
        }),
      );
      receiptHandles.push(...messages.map((message) => message.ReceiptHandle ?? ""));
      const unseen = messages.filter((message) => !entries.has(message.MessageId ?? ""));
      emptyPolls = unseen.length === 0 ? emptyPolls + 1 : 0;
      for (const message of unseen) entries.set(message.MessageId ?? "", deadLetterEntry(message));
    }
  } finally {
    await makeVisible(sqs, dlqUrl, receiptHandles);
  }
  return [...entries.values()];
}

/** Visible messages on the queue, as SQS counts them (approximately). */
export async function visibleMessageCount(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages"],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
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
