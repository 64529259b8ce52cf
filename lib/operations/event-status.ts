// What became of an event: read from the state table and the DLQ, changing neither.
import { IdempotencyItemNotFoundError } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { IdempotencyRecord } from "@aws-lambda-powertools/idempotency/persistence";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { CredentialKind } from "../cupi/types.ts";
import type { FieldsChanged } from "../outcome/outcome-event.ts";
import { AttemptLog } from "../reset/attempts.ts";
import { IDEMPOTENCY_KEY_PREFIX, idempotencyConfig } from "../reset/idempotency-key.ts";
import { type Holder, OrderingGuard } from "../reset/ordering.ts";
import type { AppliedReset } from "../reset/record-outcome.ts";
import type { DeadLetterEntry } from "./queue-tools.ts";

export type EventState = "applied" | "in-progress" | "not-applied" | "unknown";

export interface EventStatus {
  readonly eventId: string;
  readonly state: EventState;
  /** For an applied event: when, to whom, which fields (never values). */
  readonly applied?: {
    readonly appliedAt: string;
    readonly alias: string;
    readonly objectId: string;
    readonly fieldsChanged: readonly FieldsChanged[];
  };
  /** Later events that now hold what this one set (or offboarded the user). */
  readonly since?: readonly Holder[];
  /** For an event in progress or unknown: what is known, in a sentence. */
  readonly detail?: string;
  /** DLQ messages of this event; an event applied after a replay may still have an old copy. */
  readonly deadLetters: readonly DeadLetterEntry[];
}

export interface EventStatusSources {
  readonly dynamodb: DynamoDBClient;
  readonly stateTable: string;
  /** Reads the DLQ without consuming it; absent when no DLQ is named. */
  readonly deadLetters?: () => Promise<readonly DeadLetterEntry[]>;
  /** How long applied events are remembered, for the "unknown" sentence. */
  readonly idempotencyExpirySeconds: number;
}

const CREDENTIALS: readonly CredentialKind[] = ["pin", "password"];

/**
 * Looks events up the way the reset function keyed them: the idempotency record (applied or being
 * applied), the attempt log (a PUT tried on an earlier delivery), the ordering records (a later
 * event since), and the DLQ (dead-lettered, with its code and reason).
 */
export async function statusOfEvents(
  eventIds: readonly string[],
  sources: EventStatusSources,
): Promise<EventStatus[]> {
  const idempotency = new DynamoDBPersistenceLayer({
    tableName: sources.stateTable,
    awsSdkV3Client: sources.dynamodb,
  });
  idempotency.configure({ config: idempotencyConfig(), keyPrefix: IDEMPOTENCY_KEY_PREFIX });
  const attempts = new AttemptLog(sources.dynamodb, sources.stateTable);
  // Only read here: the retention applies to writes.
  const ordering = new OrderingGuard({
    client: sources.dynamodb,
    tableName: sources.stateTable,
    retentionSeconds: 0,
  });
  const letters = (await sources.deadLetters?.()) ?? [];

  const statuses: EventStatus[] = [];
  for (const eventId of eventIds) {
    const deadLetters = letters.filter((letter) => letter.eventId === eventId);
    const record = await idempotencyRecordOf(idempotency, eventId);
    if (record?.getStatus() === "COMPLETED") {
      const applied = record.responseData as unknown as AppliedReset;
      const fieldsChanged = applied.fieldsChanged ?? [];
      const holders = await ordering.holders(
        applied.objectId,
        fieldsChanged.map((changed) => changed.credential),
      );
      const since = holders.filter((holder) => holder.eventId !== eventId);
      statuses.push({
        eventId,
        state: "applied",
        applied: {
          appliedAt: applied.appliedAt,
          alias: applied.alias,
          objectId: applied.objectId,
          fieldsChanged,
        },
        ...(since.length > 0 ? { since } : {}),
        deadLetters,
      });
      continue;
    }
    if (deadLetters.length > 0) {
      statuses.push({ eventId, state: "not-applied", deadLetters });
      continue;
    }
    const progress = await progressOf(record, eventId, attempts);
    statuses.push(
      progress === undefined
        ? {
            eventId,
            state: "unknown",
            detail: `no record of it: not received yet, waiting in the queue for a retry, or settled more than ${days(sources.idempotencyExpirySeconds)} ago${sources.deadLetters === undefined ? " (the DLQ was not read: no DLQ URL)" : ""}`,
            deadLetters,
          }
        : { eventId, state: "in-progress", detail: progress, deadLetters },
    );
  }
  return statuses;
}

async function idempotencyRecordOf(
  idempotency: DynamoDBPersistenceLayer,
  eventId: string,
): Promise<IdempotencyRecord | undefined> {
  try {
    return await idempotency.getRecord({ eventId });
  } catch (error) {
    if (error instanceof IdempotencyItemNotFoundError) return undefined;
    throw error;
  }
}

/** What an event not applied and not dead-lettered is doing, if the state table knows. */
async function progressOf(
  record: IdempotencyRecord | undefined,
  eventId: string,
  attempts: AttemptLog,
): Promise<string | undefined> {
  if (record?.getStatus() === "INPROGRESS") {
    const until = record.inProgressExpiryTimestamp;
    return until !== undefined && until < Date.now()
      ? "its last delivery ended before it settled; SQS delivers it again"
      : `being applied now${until === undefined ? "" : ` (this delivery ends by ${new Date(until).toISOString()})`}`;
  }
  const tried: string[] = [];
  for (const kind of CREDENTIALS) {
    const attempt = await attempts.read(eventId, kind);
    if (attempt !== undefined) tried.push(`${kind}${attempt.applied ? " (landed)" : ""}`);
  }
  return tried.length === 0
    ? undefined
    : `an earlier delivery sent its PUT (${tried.join(", ")}); a retry settles it`;
}

function days(seconds: number): string {
  const whole = Math.round(seconds / 86_400);
  return whole >= 1 ? `${whole} day${whole === 1 ? "" : "s"}` : `${Math.round(seconds / 3600)} h`;
}

/** One line per event for the CLI, then one per DLQ message and later holder. */
export function formatEventStatus(status: EventStatus): string {
  const lines: string[] = [];
  if (status.state === "applied" && status.applied !== undefined) {
    const { appliedAt, alias, objectId, fieldsChanged } = status.applied;
    const fields = fieldsChanged.map(
      (changed) => `${changed.credential}: ${changed.fields.join(", ")}`,
    );
    lines.push(
      `${status.eventId}: applied at ${appliedAt} to ${alias} (${objectId})${fields.length > 0 ? `; ${fields.join("; ")}` : ""}`,
    );
    for (const holder of status.since ?? []) {
      const what =
        holder.held === "offboard"
          ? "the user was offboarded"
          : `the ${holder.held} was changed again`;
      lines.push(
        `  since: ${what} by ${holder.eventId} (occurred at ${holder.occurredAt}${holder.inProgress ? ", being applied now" : ""})`,
      );
    }
  } else if (status.state === "not-applied") {
    lines.push(`${status.eventId}: not applied (dead-lettered)`);
  } else {
    lines.push(
      `${status.eventId}: ${status.state === "in-progress" ? "in progress" : "unknown"}: ${status.detail ?? ""}`,
    );
  }
  for (const letter of status.deadLetters) {
    lines.push(
      `  DLQ: ${letter.errorCode} at ${letter.failedAt ?? "an unknown time"}: ${letter.errorMessage} (message ${letter.messageId})`,
    );
  }
  return lines.join("\n");
}
