// Sends a new credential value so that a lost answer, an aborted or a killed delivery never turns
// into a second change or a dead letter: what an attempt did is settled by the attempt log.
import type { CupiClient } from "../cupi/client.ts";
import { type CucClock, readTimeChanged } from "../cupi/cuc-clock.ts";
import { CupiError } from "../cupi/errors.ts";
import type { CredentialKind } from "../cupi/types.ts";
import { TransientFailure } from "../outcome/failures.ts";
import {
  type AttemptLog,
  type AttemptStart,
  type Baseline,
  type ClockBaseline,
  isHistoryRejection,
} from "./attempts.ts";
import type { LastChange } from "./ordering.ts";

/** Resends within one delivery after answers that were lost, once CUC shows the value did not land. */
const MAX_UNCERTAIN_RESENDS = 2;

export interface NewValueSend {
  readonly attempts: AttemptLog;
  readonly eventId: string;
  readonly objectId: string;
  readonly kind: CredentialKind;
  /** Runs a CUPI call (with a re-read service account after a 401). */
  readonly cupi: <T>(operation: (client: CupiClient) => Promise<T>) => Promise<T>;
  readonly call: { readonly deadline: number; readonly signal?: AbortSignal };
  /** The credential's last change by this service, from its ordering watermark. */
  readonly lastChange: LastChange;
  /** Whether CUC's clock may be the baseline (CUPI_LOST_ANSWER_BASELINE=clock). */
  readonly clockBaseline: boolean;
  /** The credential's TimeChanged, when it was read after this event's claim (settling another). */
  readonly timeChangedAfterClaim: string | undefined;
  /** The attempt, when the claim began it (`clockBaselineForClaim`). */
  readonly begun: ClockBaseline | undefined;
  /**
   * Whether the event sends more after this PUT: then its landing is logged at once, as what
   * follows may outlast the record's deadline; else with the record's closing writes.
   */
  readonly morePutsFollow: boolean;
  /** Just before the first PUT of this delivery (a generated value is delivered here). */
  readonly beforeSending: () => Promise<void>;
  /** The PUT itself. */
  readonly put: () => Promise<void>;
}

/**
 * A PUT of a new value whose answer may be lost after CUC applied it. Resending blindly would
 * bounce off the credential history ("Repeat credentials prohibited") and dead-letter a reset
 * that worked. So each attempt has a baseline (kept in the attempt log across deliveries), and
 * after an uncertain failure, or a history rejection following an earlier uncertain delivery, the
 * credential's TimeChanged read against it tells whether the value landed (then nothing is sent
 * again) or not (a resend is safe). A PUT that landed is marked applied in the log, so a later
 * delivery of the event sends nothing for it. An attempt cut by its delivery's deadline stays in
 * the log as unknown. Resolves to when CUC answered the PUT (its `Date`), when it did.
 *
 * The baseline costs no request when it can be CUC's clock (`chooseBaseline`); otherwise it is
 * TimeChanged read before the first attempt, as it was always done.
 */
export async function sendNewValue(send: NewValueSend): Promise<number | undefined> {
  const { attempts, eventId, kind } = send;
  const readCredential = () =>
    send.cupi((client) => client.getCredential(send.objectId, kind, send.call));
  const clock = await send.cupi(async (client) => client.clock);
  const start: AttemptStart =
    send.begun === undefined
      ? await attempts.begin(
          eventId,
          kind,
          chooseBaseline(
            send.clockBaseline ? clock.latestAnswer : undefined,
            clock.offsetMs,
            send.lastChange,
            send.timeChangedAfterClaim,
          ) ?? { timeChangedBefore: (await readCredential()).timeChanged ?? "" },
        )
      : { alreadyApplied: false, baseline: send.begun, earlierAttemptUnknown: false };
  if (start.alreadyApplied) return undefined;
  await send.beforeSending();
  let answered = false;
  for (let resends = 0; ; resends++) {
    try {
      await send.put();
      answered = true;
      break;
    } catch (error) {
      if (!(error instanceof CupiError)) throw error;
      const uncertain = error.mayHaveTakenEffect;
      const historyAfterUnknown =
        (start.earlierAttemptUnknown || resends > 0) &&
        error.kind === "rejected" &&
        isHistoryRejection(error.cupiMessage);
      if (uncertain || historyAfterUnknown) {
        const landing = hasLanded(start.baseline, (await readCredential()).timeChanged, clock);
        if (landing === "unsure") throw zoneMoved(clock);
        if (landing === "landed") break;
        if (uncertain && resends < MAX_UNCERTAIN_RESENDS) continue;
      }
      // This delivery's own resend met the history: its first PUT may have landed after all. Left
      // unknown for the next delivery (and a person, if it keeps happening), never dead-lettered.
      if (historyAfterUnknown && resends > 0) {
        throw new TransientFailure(
          `CUC refused the resent value as a repeat after an answer was lost (${error.message}); whether the first PUT landed is left to the next delivery`,
        );
      }
      // An uncertain outcome stays in the log for the next delivery to resolve.
      if (!uncertain) await attempts.forget(eventId, kind);
      throw error;
    }
  }
  // At or after the change: CUC answered (or was asked about) it no sooner.
  const answeredAt = clock.latestAnswer;
  await (send.morePutsFollow
    ? attempts.applied(eventId, kind)
    : attempts.appliedAtClose(eventId, kind));
  if (send.clockBaseline && answered && answeredAt !== undefined && clock.offsetMs === undefined) {
    // Once in a while (an hour, and at start): one read to learn TimeChanged's time zone, which
    // the next baselines need. A failure here changes nothing of this event's outcome.
    await clock.learnOffsetBy(answeredAt, async () => (await readCredential()).timeChanged);
  }
  return answeredAt;
}

/**
 * How far a `Date` header may lag behind the change its answer reports: the header is in whole
 * seconds, and servers (Tomcat, under CUPI) reuse a formatted date for up to a second, not aligned
 * with the second's start. A change answered with `Date` D happened before D + 1 s + this.
 */
const DATE_HEADER_SLACK_MS = 2_000;

/**
 * CUC's clock as the baseline, when it is sound: every value this service set before this
 * event's claim was answered (so set) long enough before CUC's latest answer before this PUT
 * (DATE_HEADER_SLACK_MS) that its TimeChanged is earlier, so a TimeChanged at or after that answer
 * can only be this PUT's (nothing of this service changes the credential while the claim is
 * held). Otherwise a TimeChanged read after the claim, if one was; otherwise none (the caller
 * reads TimeChanged).
 */
export function chooseBaseline(
  latestAnswer: number | undefined,
  offsetMs: number | undefined,
  lastChange: LastChange,
  timeChangedAfterClaim: string | undefined,
): Baseline | undefined {
  if (timeChangedAfterClaim !== undefined) return { timeChangedBefore: timeChangedAfterClaim };
  const clock = clockBaselineForClaim(latestAnswer, offsetMs);
  if (clock === undefined) return undefined;
  const longBefore =
    lastChange === "none" || (typeof lastChange === "number" && lastChange <= clock.changedBefore);
  return longBefore ? clock.baseline : undefined;
}

/**
 * CUC's clock as a baseline known before the claim, so that the claim can begin the attempt in
 * its own call: sound if every earlier change of this service was answered by `changedBefore`,
 * which the claim's condition checks on the watermark.
 */
export function clockBaselineForClaim(
  latestAnswer: number | undefined,
  offsetMs: number | undefined,
): { readonly baseline: ClockBaseline; readonly changedBefore: number } | undefined {
  if (latestAnswer === undefined || offsetMs === undefined) return undefined;
  return {
    baseline: { answeredAfter: latestAnswer, timeChangedOffsetMs: offsetMs },
    changedBefore: latestAnswer - DATE_HEADER_SLACK_MS,
  };
}

/** What a TimeChanged read after an attempt says of it. */
export type Landing = "landed" | "not-landed" | "unsure";

/**
 * Whether a TimeChanged read now (CUC's `clock` has seen its answer) shows the attempt's value
 * landed, against its baseline. Against CUC's clock, "unsure" when TimeChanged no longer reads in
 * the baseline's time zone, unless an offset learned since settles it (`landingByClock`).
 */
export function hasLanded(
  baseline: Baseline,
  timeChanged: string | undefined,
  clock: CucClock,
): Landing {
  if ("timeChangedBefore" in baseline) {
    return (timeChanged ?? "") !== baseline.timeChangedBefore ? "landed" : "not-landed";
  }
  const { answeredAfter, timeChangedOffsetMs } = baseline;
  const landing = landingByClock(
    answeredAfter,
    timeChangedOffsetMs,
    timeChanged,
    clock.latestAnswer,
  );
  // An offset learned after the PUT is the zone its TimeChanged was written in.
  const since = clock.offsetLearnedSince(answeredAfter);
  if (landing !== "unsure" || since === undefined || since === timeChangedOffsetMs) return landing;
  return landingByClock(answeredAfter, since, timeChanged, clock.latestAnswer);
}

/** How far daylight saving time moves a time zone: an hour, or half an hour (Lord Howe). */
const ZONE_MOVES_MS = [-60, -30, 30, 60].map((minutes) => minutes * 60_000);

/**
 * A TimeChanged in CUC's clock (less the zone offset) at or after the answer before the PUT, and
 * no later than CUC's answer to the read (`answeredBy`), is the PUT's. One later than that answer
 * cannot be a change at all: the zone moved. One earlier is an older change, unless moving the
 * zone by daylight saving time would make it the PUT's: then it is unsure, never guessed (a wrong
 * "landed" reports a value CUC never took; a wrong "not landed" resends into the history).
 */
function landingByClock(
  answeredAfter: number,
  offsetMs: number,
  timeChanged: string | undefined,
  answeredBy: number | undefined,
): Landing {
  const changedAt = readTimeChanged(timeChanged);
  if (changedAt === undefined) return "not-landed";
  if (answeredBy === undefined) return "unsure";
  const latest = answeredBy + DATE_HEADER_SLACK_MS;
  const changed = changedAt - offsetMs;
  if (changed > latest) return "unsure";
  if (changed >= answeredAfter) return "landed";
  const movedInto = ZONE_MOVES_MS.some(
    (move) => changed - move >= answeredAfter && changed - move <= latest,
  );
  return movedInto ? "unsure" : "not-landed";
}

/**
 * TimeChanged reads in another zone than the one learned (daylight saving time began or ended):
 * the offset is learned again by the next answered PUT, and the attempt, left unknown, is judged
 * again by the next delivery.
 */
function zoneMoved(clock: CucClock): TransientFailure {
  clock.forgetOffset();
  return new TransientFailure(
    "CUC's TimeChanged no longer reads in the time zone learned from its answers (daylight saving time?); whether the PUT landed is left to the next delivery",
  );
}

/**
 * Settles another event's attempt left unknown (its delivery was killed or cut short mid-PUT),
 * now that this event holds the credential and nothing else can change it: its baseline, checked
 * against TimeChanged, tells whether its value landed, and it is marked applied, so that its own
 * later delivery reports it applied rather than stale; otherwise it is forgotten. Resolves to the
 * TimeChanged it read, if it read one: a snapshot taken after this event's claim.
 */
export async function settleEarlierAttempt(settle: {
  readonly attempts: AttemptLog;
  readonly eventId: string;
  readonly objectId: string;
  readonly kind: CredentialKind;
  readonly cupi: NewValueSend["cupi"];
  readonly call: NewValueSend["call"];
}): Promise<string | undefined> {
  const { attempts, eventId, kind } = settle;
  const attempt = await attempts.read(eventId, kind);
  if (attempt === undefined || attempt.applied) return undefined;
  const now = await settle.cupi((client) =>
    client.getCredential(settle.objectId, kind, settle.call),
  );
  const clock = await settle.cupi(async (client) => client.clock);
  const landing = hasLanded(attempt.baseline, now.timeChanged, clock);
  if (landing === "unsure") throw zoneMoved(clock);
  if (landing === "landed") await attempts.applied(eventId, kind);
  else await attempts.forget(eventId, kind);
  return now.timeChanged ?? "";
}
