// The reset processor: applies each eventId once (Powertools idempotency) and turns what happened
// into a record's outcome.
import { type IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context } from "aws-lambda";
import type { ResetEvent } from "../events/contract.ts";
import { type ParsedRecord, parseRecordBody } from "../events/parse.ts";
import { PermanentFailure } from "../outcome/failures.ts";
import { applyEvent, type RecordCall, type ResetDependencies } from "./apply-event.ts";
import { classify } from "./classify-failure.ts";
import { ClosingWrites } from "./closing-writes.ts";
import { IDEMPOTENCY_KEY_PREFIX, idempotencyConfig } from "./idempotency-key.ts";
import type { AppliedReset, AttemptEffects, OnApplied, RecordOutcome } from "./record-outcome.ts";

/**
 * Applies SQS message bodies: validate, authorize against configuration and the authorization
 * policy (protected accounts before and right after the user lookup), resolve the user, check
 * ordering, fetch or generate the new values, and PUT them to CUPI — once per eventId. Permanent
 * failures come back as `dead-lettered` (and are not remembered, so a replay after a fix runs
 * again), transient ones as `retry`; it only throws on a bug.
 */
export class ResetProcessor {
  readonly #apply: (
    event: ResetEvent,
    call: RecordCall,
    effects: AttemptEffects,
    onApplied: OnApplied | undefined,
  ) => Promise<AppliedReset>;
  readonly #idempotencyConfig: IdempotencyConfig | undefined;
  /** Where each record's closing writes go; undefined without a state table. */
  readonly #stateTable: DynamoDBClient | undefined;

  constructor(dependencies: ResetDependencies) {
    this.#stateTable = dependencies.stateTable;
    const apply = async (
      event: ResetEvent,
      call: RecordCall,
      effects: AttemptEffects,
      onApplied: OnApplied | undefined,
    ): Promise<AppliedReset> => {
      const user = await applyEvent(event, call, dependencies, effects);
      const applied = {
        objectId: user.objectId,
        alias: user.alias,
        appliedAt: new Date().toISOString(),
        fieldsChanged: effects.changed,
        duplicate: false,
      };
      // Before the event is remembered as applied: a container killed in between leaves it to be
      // applied (and so reported) again, never remembered and unreported.
      onApplied?.({ status: "applied", event, applied, effects });
      return applied;
    };
    const idempotency = dependencies.idempotency;
    if (idempotency === undefined) {
      this.#apply = apply;
      this.#idempotencyConfig = undefined;
      return;
    }
    this.#idempotencyConfig = idempotencyConfig({
      // The same eventId with another payload is a producer bug, not a duplicate.
      payloadValidationJmesPath: "@",
      expiresAfterSeconds: dependencies.config.idempotencyExpirySeconds,
      // The stored AppliedReset, marked as found rather than made by this delivery.
      responseHook: (response) => ({
        ...(response as Record<string, typeof response>),
        duplicate: true,
      }),
    });
    this.#apply = makeIdempotent(apply, {
      persistenceStore: idempotency.persistenceStore,
      config: this.#idempotencyConfig,
      keyPrefix: IDEMPOTENCY_KEY_PREFIX,
      dataIndexArgument: 0,
    });
  }

  /** In-progress idempotency records then expire with the invocation that wrote them. */
  registerLambdaContext(context: Context): void {
    this.#idempotencyConfig?.registerLambdaContext(context);
  }

  process(body: string, deadline: number, signal?: AbortSignal): Promise<RecordOutcome> {
    return this.processParsed(parseRecordBody(body), deadline, signal);
  }

  /**
   * `deadline` (epoch ms) bounds the record's CUPI calls; `signal` cuts every CUPI call of the
   * record when it aborts (its AWS calls are cut by the caller's abort scope). `onApplied` hears
   * of an event this delivery applied before the event is remembered as applied.
   */
  async processParsed(
    parsed: ParsedRecord,
    deadline: number,
    signal?: AbortSignal,
    onApplied?: OnApplied,
  ): Promise<RecordOutcome> {
    if (!parsed.ok) {
      return {
        status: "dead-lettered",
        code: "INVALID_EVENT",
        reason: parsed.reason,
        event: undefined,
        eventId: parsed.eventId,
      };
    }
    const { event } = parsed;
    const effects: AttemptEffects = { user: undefined, changed: [], recorded: true };
    const closing =
      this.#stateTable === undefined ? undefined : new ClosingWrites(this.#stateTable);
    try {
      const call = signal === undefined ? { deadline } : { deadline, signal };
      const apply = () => this.#apply(event, call, effects, onApplied);
      const applied = await (closing === undefined ? apply() : closing.collect(apply));
      // Sent with the idempotency record's completion; here only if none was written.
      await closing?.flush();
      return { status: "applied", event, applied, effects };
    } catch (error) {
      await closing?.flush().catch(() => undefined);
      const failure = classify(error, event, signal);
      return failure instanceof PermanentFailure
        ? {
            status: "dead-lettered",
            code: failure.code,
            reason: failure.message,
            event,
            eventId: event.eventId,
            effects,
          }
        : {
            status: "retry",
            reason: failure.message,
            event,
            effects,
            cucUnavailable: failure.cucUnavailable,
            deploymentFault: failure.deploymentFault,
            ...(failure.conflict === undefined ? {} : { conflict: failure.conflict }),
            ...(failure.heldBy === undefined ? {} : { heldBy: failure.heldBy }),
          };
    }
  }
}
