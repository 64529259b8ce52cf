// How many times SQS has handed a record out: one reading for logs, settling and outcome events.
import type { SQSRecord } from "aws-lambda";

/** The record's ApproximateReceiveCount: 1 on its first receive. */
export function receiveCountOf(record: SQSRecord): number {
  return Number(record.attributes.ApproximateReceiveCount) || 1;
}
