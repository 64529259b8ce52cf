// What went wrong, in one plain sentence for an operator: the AWS SDK's usual failures (no region,
// no credentials, an endpoint out of reach, a queue or table that does not exist) and any other.

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "ECONNRESET",
]);

export function failureSentence(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { name, message } = error;
  const code = (error as NodeJS.ErrnoException).code;
  if (message === "Region is missing") {
    return "no AWS region: set AWS_REGION (or AWS_PROFILE with a region)";
  }
  if (name === "CredentialsProviderError") {
    return "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
  }
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return `cannot reach AWS (${message}): check the network, the region and any AWS_ENDPOINT_URL_* variables`;
  }
  if (name === "QueueDoesNotExist" || name === "AWS.SimpleQueueService.NonExistentQueue") {
    return "the queue does not exist: check QUEUE_URL / DLQ_URL (or --queue-url / --dlq-url) and the region";
  }
  if (name === "ResourceNotFoundException") return `not found: ${message}`;
  if (name === "AccessDeniedException" || name === "AccessDenied") {
    return `AWS refused the request: ${message}`;
  }
  return message;
}
