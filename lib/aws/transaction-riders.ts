// Conditional writes of one concern that ride in another's DynamoDB transaction, and how to read
// which of them a cancelled transaction refused.
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";

/** Why each item of a cancelled transaction failed, in the order of its items. */
export type CancellationReasons = readonly ({ readonly Code?: string } | undefined)[];

/**
 * Conditional writes that ride in another's transaction (the blast-radius guard's counts in the
 * ordering claim): if one is refused, the carrier fails with `refusal`'s error; when the carrier
 * makes its writes one by one instead, they are written alone first.
 */
export interface TransactionRider {
  readonly items: readonly TransactWriteItem[];
  /** The error for a refusal among the riders' cancellation reasons (in `items` order), if any. */
  refusal(reasons: CancellationReasons): Error | undefined;
  writeAlone(): Promise<void>;
}

/** The cancellation reasons of a cancelled transaction; undefined for any other error. */
export function cancellationReasons(error: unknown): CancellationReasons | undefined {
  if ((error as Error | undefined)?.name !== "TransactionCanceledException") return undefined;
  return (error as { CancellationReasons?: CancellationReasons }).CancellationReasons ?? [];
}
