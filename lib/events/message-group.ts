// The FIFO message group of an event: its user, as the README tells producers to set it.

import type { UserRef } from "./contract.ts";
import { parseRecordBody } from "./parse.ts";

/**
 * The user as the event names them, alias or objectId, in lower case (CUC compares both without
 * case), as producers group their events ("Exactly once, in order"): the CLI and DLQ replays must
 * land in the producers' groups, or a user's events from both would no longer be kept in order.
 */
export function userMessageGroup(user: UserRef): string {
  return ("alias" in user ? user.alias : user.objectId).toLowerCase();
}

/** The group of a message body, or undefined when it is not a valid event (no user to name). */
export function messageGroupOfBody(body: string): string | undefined {
  const parsed = parseRecordBody(body);
  return parsed.ok ? userMessageGroup(parsed.event.user) : undefined;
}
