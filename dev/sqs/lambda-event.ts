import type { Context, SQSRecord } from "aws-lambda";

/** An SQS record as Lambda delivers it, for calling the handler directly. */
export function sqsRecord(
  messageId: string,
  body: unknown,
  queueArn: string,
  receiveCount = 1,
  messageGroupId?: string,
): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      ...(messageGroupId === undefined ? {} : { MessageGroupId: messageGroupId }),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(":")[3] ?? "us-east-1",
  };
}

/** A Lambda context with a fixed amount of time left. */
export function lambdaContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    getRemainingTimeInMillis: () => deadline - Date.now(),
    awsRequestId: "test-request",
    functionName: "cupi-reset-reset",
  } as unknown as Context;
}
