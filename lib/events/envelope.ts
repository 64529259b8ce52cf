/** How a reset event reached the queue. */
export type Envelope = "sqs" | "sns" | "eventbridge";

export type Unwrapped =
  | { ok: true; envelope: Envelope; payload: unknown }
  | { ok: false; envelope: Envelope; reason: string };

/**
 * Finds the reset event in an SQS body: the body itself, an SNS notification's `Message` (raw
 * message delivery off), or an EventBridge event's `detail`.
 */
export function unwrapEnvelope(body: unknown): Unwrapped {
  if (!isObject(body)) return { ok: true, envelope: "sqs", payload: body };
  if (body.Type === "Notification" && typeof body.TopicArn === "string" && "Message" in body) {
    if (typeof body.Message !== "string") {
      return { ok: false, envelope: "sns", reason: "SNS Message must be a string" };
    }
    try {
      return { ok: true, envelope: "sns", payload: JSON.parse(body.Message) };
    } catch {
      return { ok: false, envelope: "sns", reason: "SNS Message is not valid JSON" };
    }
  }
  if ("detail-type" in body && "detail" in body) {
    return { ok: true, envelope: "eventbridge", payload: body.detail };
  }
  return { ok: true, envelope: "sqs", payload: body };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
