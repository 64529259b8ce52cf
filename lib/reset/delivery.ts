// Delivering a generated value: which secret an event names, and the document written there.
import type { ResetEvent } from "../events/contract.ts";
import { SecretValue } from "../secrets/secret-value.ts";

export function deliveryTarget(event: ResetEvent): string | undefined {
  const source = event.newCredential;
  return source !== undefined && "generate" in source ? source.deliverTo?.secretId : undefined;
}

export function deliveryDocument(event: ResetEvent, content: Record<string, string>): SecretValue {
  return new SecretValue(
    JSON.stringify({
      ...content,
      eventId: event.eventId,
      ...(event.ticketId === undefined ? {} : { ticketId: event.ticketId }),
      writtenAt: new Date().toISOString(),
    }),
  );
}
