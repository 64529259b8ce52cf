import {
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { scrubBody } from "../events/plaintext.ts";
import type { ErrorCode } from "../outcome/failures.ts";

export interface DeadLetter {
  /** The original SQS body; credential values are removed before it is sent. */
  readonly body: string;
  readonly errorCode: ErrorCode;
  /** Human readable and free of secrets. */
  readonly errorMessage: string;
  readonly sourceMessageId: string;
  readonly receiveCount: number;
  readonly eventId?: string | undefined;
  readonly source?: string | undefined;
  readonly action?: string | undefined;
  /** Carried over from a replayed message, so a second replay counts on from it. */
  readonly replayCount?: string | undefined;
}

/** SQS allows 256 KiB per message; a reason longer than this helps nobody. */
const MAX_ERROR_MESSAGE = 1_000;

/** Sends permanent failures to the DLQ with the reason as String message attributes. */
export class DeadLetterQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  /** `abortSignal` bounds the send: past the invocation's end it must not land unseen. */
  async send(letter: DeadLetter, abortSignal?: AbortSignal, failedAt = new Date()): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {};
    const set = (name: string, value: string | undefined): void => {
      if (value !== undefined && value !== "") {
        attributes[name] = { DataType: "String", StringValue: sqsText(value) };
      }
    };
    set("errorCode", letter.errorCode);
    set("errorMessage", clip(letter.errorMessage));
    set("eventId", letter.eventId);
    set("sourceMessageId", letter.sourceMessageId);
    set("failedAt", failedAt.toISOString());
    set("receiveCount", String(letter.receiveCount));
    set("source", letter.source);
    set("action", letter.action);
    set("replayCount", letter.replayCount);
    const fifo = this.#queueUrl.endsWith(".fifo");
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: scrubBody(letter.body),
        MessageAttributes: attributes,
        ...(fifo
          ? {
              MessageGroupId: letter.eventId ?? letter.sourceMessageId,
              MessageDeduplicationId: letter.sourceMessageId,
            }
          : {}),
      }),
      abortSignal === undefined ? {} : { abortSignal },
    );
  }
}

// The characters SQS accepts in a message or attribute (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF); anything else, a lone surrogate included, makes SendMessage fail.
const NOT_SQS_TEXT = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function sqsText(value: string): string {
  return value.replace(NOT_SQS_TEXT, "\uFFFD");
}

/** Clips by code points, so no surrogate pair is cut in half. */
function clip(message: string): string {
  const characters = [...message];
  return characters.length > MAX_ERROR_MESSAGE
    ? `${characters.slice(0, MAX_ERROR_MESSAGE - 1).join("")}…`
    : message;
}
