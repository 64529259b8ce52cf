// How many messages a queue holds: those waiting plus those in flight (received, not yet deleted
// or back), the figure a drain waits to reach zero.
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";

export async function messagesOnQueue(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}
